#include "accept.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api.h"
#include "log.h"

/* Longer request lines are refused (our URLs are short; MHD's own limit
 * is its connection memory). */
#define LINE_MAX_BYTES 8192
/* Retry accepting this long after running out of file descriptors. */
#define RETRY_USEC 250000
/* Descriptors kept for other uses than connections: at most this many, at
 * least half the limit (a GPU driver opens a few per device and fence). */
#define FD_RESERVE 128

struct pending {
        struct acceptor *a;
        int fd;
        struct sockaddr_storage sa;
        socklen_t sa_len;
        uint64_t accepted_usec;
        sd_event_source *io, *timer;
        struct pending *prev, *next;
};

struct acceptor {
        sd_event *event;
        int listen_fd;
        uint32_t timeout_sec;
        sd_event_source *io, *retry;
        struct acceptor_budget *budget;
        acceptor_handoff_fn handoff;
        void *userdata;
        struct pending *pending;
};

static void pending_free(struct pending *p, bool close_fd) {
        struct acceptor *a = p->a;
        if (p->prev)
                p->prev->next = p->next;
        else
                a->pending = p->next;
        if (p->next)
                p->next->prev = p->prev;
        sd_event_source_disable_unref(p->io);
        sd_event_source_disable_unref(p->timer);
        if (close_fd && p->fd >= 0) {
                close(p->fd);
                a->budget->open--;
        }
        free(p);
}

unsigned acceptor_connection_cap(unsigned max) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return max;
        rlim_t want = (rlim_t) max + FD_RESERVE;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
                struct rlimit up = {rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max,
                                    rl.rlim_max};
                if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                        rl.rlim_cur = up.rlim_cur;
        }
        if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
                return max;
        rlim_t reserve = rl.rlim_cur / 2 < FD_RESERVE ? rl.rlim_cur / 2 : FD_RESERVE;
        unsigned cap = (unsigned) (rl.rlim_cur - reserve);
        cap = cap ? cap : 1;
        log_warning("max-connections lowered from %u to %u: the file descriptor limit is %llu (LimitNOFILE=)", max,
                    cap, (unsigned long long) rl.rlim_cur);
        return cap;
}

static const char *reason_phrase(unsigned status) {
        switch (status) {
        case 408: return "Request Timeout";
        case 414: return "URI Too Long";
        case 503: return "Service Unavailable";
        default: return "Bad Request";
        }
}

/* Writes a whole error answer (the OpenAI error body) on a fresh socket,
 * without blocking: it fits in the socket buffer. */
static void send_error(int fd, unsigned status, const char *msg) {
        char *body = api_error_json((int) status, msg, NULL);
        char head[256];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n",
                         status, reason_phrase(status), body ? strlen(body) : 0);
        if (send(fd, head, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) == n && body)
                (void) send(fd, body, strlen(body), MSG_NOSIGNAL | MSG_DONTWAIT);
        free(body);
        shutdown(fd, SHUT_WR);
}

static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool acceptor_request_line_ok(const char *line, size_t len) {
        size_t i = 0;
        while (i < len && is_tchar(line[i]))
                i++;
        if (i == 0 || i >= len || line[i] != ' ')
                return false;
        size_t target = ++i;
        while (i < len && line[i] > ' ' && line[i] < 0x7f)
                i++;
        if (i == target || i >= len || line[i] != ' ')
                return false;
        i++;
        return len - i == 8 && memcmp(line + i, "HTTP/", 5) == 0 && line[i + 5] >= '0' && line[i + 5] <= '9' &&
               line[i + 6] == '.' && line[i + 7] >= '0' && line[i + 7] <= '9';
}

/* Answers 400 (or 414) with the OpenAI error body and closes. What the
 * client sent is read first: closing a socket with unread data would reset
 * the connection and lose the answer. */
static void refuse(struct pending *p, unsigned status, const char *msg) {
        log_info("-> %u %s", status, msg);
        char sink[4096];
        for (int k = 0; k < 64 && recv(p->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; k++)
                ;
        send_error(p->fd, status, msg);
        pending_free(p, true);
}

static int on_pending_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct pending *p = userdata;
        char buf[LINE_MAX_BYTES];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) { /* gone (or closed without a word) */
                pending_free(p, true);
                return 0;
        }
        /* Empty lines before the request line are allowed (RFC 9112 2.2). */
        size_t start = 0;
        while (start < (size_t) n && (buf[start] == '\r' || buf[start] == '\n'))
                start++;
        const char *nl = memchr(buf + start, '\n', (size_t) n - start);
        if (!nl) {
                if ((size_t) n == sizeof(buf))
                        refuse(p, 414, "the request line is too long");
                else if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                        refuse(p, 400, "malformed request line");
                return 0; /* wait for the rest */
        }
        size_t len = (size_t) (nl - buf) - start;
        if (len > 0 && buf[start + len - 1] == '\r')
                len--;
        if (!acceptor_request_line_ok(buf + start, len)) {
                refuse(p, 400, "malformed request line");
                return 0;
        }
        int cfd = p->fd;
        p->fd = -1;
        struct sockaddr_storage sa = p->sa;
        socklen_t sa_len = p->sa_len;
        uint64_t accepted = p->accepted_usec;
        struct acceptor *a = p->a;
        pending_free(p, false);
        a->handoff(a->userdata, cfd, (struct sockaddr *) &sa, sa_len, accepted);
        return 0;
}

static int on_pending_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        refuse(userdata, 408, "the request did not arrive in time (request-timeout, request-deadline)");
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct acceptor *a = userdata;
        if (a->io)
                sd_event_source_set_enabled(a->io, SD_EVENT_ON);
        return 0;
}

static void add_pending(struct acceptor *a, int fd, const struct sockaddr_storage *sa, socklen_t sa_len) {
        struct pending *p = calloc(1, sizeof(*p));
        if (!p) {
                close(fd);
                return;
        }
        a->budget->open++;
        *p = (struct pending){.a = a, .fd = fd, .sa = *sa, .sa_len = sa_len, .next = a->pending};
        if (a->pending)
                a->pending->prev = p;
        a->pending = p;
        uint64_t now;
        sd_event_now(a->event, CLOCK_MONOTONIC, &now);
        p->accepted_usec = now;
        /* Edge-triggered: the data is only peeked, so level-triggered would
         * fire again at once. */
        if (sd_event_add_io(a->event, &p->io, fd, EPOLLIN | EPOLLRDHUP | EPOLLET, on_pending_io, p) < 0 ||
            sd_event_add_time(a->event, &p->timer, CLOCK_MONOTONIC, now + (uint64_t) a->timeout_sec * 1000000ull, 0,
                              on_pending_timeout, p) < 0)
                pending_free(p, true);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct acceptor *a = userdata;
        unsigned refused = 0;
        for (int k = 0; k < 64; k++) {
                struct sockaddr_storage sa;
                socklen_t len = sizeof(sa);
                int cfd = accept4(fd, (struct sockaddr *) &sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd >= 0 && a->budget->open >= a->budget->max) {
                        /* Refused at once: a descriptor spent only for the answer. */
                        char msg[96];
                        snprintf(msg, sizeof(msg), "too many connections (max-connections = %u); retry later",
                                 a->budget->max);
                        send_error(cfd, 503, msg);
                        close(cfd);
                        refused++;
                        continue;
                }
                if (cfd >= 0) {
                        add_pending(a, cfd, &sa, len);
                        continue;
                }
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        /* The connection stays in the backlog: pause rather than spin. */
                        log_warning("cannot accept a connection: %s; retrying shortly", strerror(errno));
                        uint64_t now;
                        sd_event_now(a->event, CLOCK_MONOTONIC, &now);
                        sd_event_source_set_enabled(a->io, SD_EVENT_OFF);
                        sd_event_source_set_time(a->retry, now + RETRY_USEC);
                        sd_event_source_set_enabled(a->retry, SD_EVENT_ONESHOT);
                }
                break; /* EAGAIN, or a connection that failed before we took it */
        }
        if (refused) /* one line per burst, not one per connection */
                log_warning("-> 503 to %u connection(s): %u open, max-connections = %u", refused, a->budget->open,
                            a->budget->max);
        return 0;
}

int acceptor_new(sd_event *event, int listen_fd, uint32_t timeout_sec, struct acceptor_budget *budget,
                 acceptor_handoff_fn handoff, void *userdata, struct acceptor **ret) {
        struct acceptor *a = calloc(1, sizeof(*a));
        if (!a) {
                close(listen_fd);
                return -ENOMEM;
        }
        *a = (struct acceptor){.event = event, .listen_fd = listen_fd, .timeout_sec = timeout_sec,
                               .budget = budget, .handoff = handoff, .userdata = userdata};
        /* A socket passed by systemd may be blocking. */
        int fl = fcntl(listen_fd, F_GETFL);
        int r = fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
        if (r >= 0)
                r = sd_event_add_io(event, &a->io, listen_fd, EPOLLIN, on_accept, a);
        if (r >= 0)
                r = sd_event_add_time(event, &a->retry, CLOCK_MONOTONIC, UINT64_MAX, 0, on_retry, a);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->retry, SD_EVENT_OFF);
        if (r < 0) {
                acceptor_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

void acceptor_quiesce(struct acceptor *a) {
        if (!a)
                return;
        a->io = sd_event_source_disable_unref(a->io);
        a->retry = sd_event_source_disable_unref(a->retry);
        if (a->listen_fd >= 0)
                close(a->listen_fd);
        a->listen_fd = -1;
}

struct acceptor *acceptor_free(struct acceptor *a) {
        if (!a)
                return NULL;
        acceptor_quiesce(a);
        while (a->pending)
                pending_free(a->pending, true);
        free(a);
        return NULL;
}
