#include "client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char *client_default_socket(void) {
        static char buf[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        const char *env = getenv("VKINFER_SOCKET");
        if (env && *env)
                return env;
        const char *rt = getenv("XDG_RUNTIME_DIR");
        if (rt && *rt) {
                snprintf(buf, sizeof(buf), "%s/vkinfer/vkinfer.sock", rt);
                if (access(buf, F_OK) == 0)
                        return buf;
        }
        return "/run/vkinfer/vkinfer.sock";
}

static int connect_socket(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "vkinfer: socket path too long: %s\n", path);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                fprintf(stderr, "vkinfer: cannot reach vkinferd at %s: %s\n", path, strerror(e));
                if (e == ENOENT || e == ECONNREFUSED)
                        fprintf(stderr, "vkinfer: is it running? (systemctl status vkinferd.socket, or --socket PATH)\n");
                close(fd);
                return -e;
        }
        return fd;
}

static int send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t) w;
        }
        return 0;
}

/* Reads the response incrementally: headers first, then the body, undoing
 * chunked transfer encoding. */
struct reader {
        int fd;
        char buf[8192];
        size_t pos, len;
        bool eof;
};

static int rd_byte(struct reader *r) {
        if (r->pos == r->len) {
                if (r->eof)
                        return -1;
                ssize_t n;
                do
                        n = recv(r->fd, r->buf, sizeof(r->buf), 0);
                while (n < 0 && errno == EINTR);
                if (n <= 0) {
                        r->eof = true;
                        return -1;
                }
                r->pos = 0;
                r->len = (size_t) n;
        }
        return (unsigned char) r->buf[r->pos++];
}

/* One line without its CRLF into line (truncated to size); -1 at EOF. */
static int rd_line(struct reader *r, char *line, size_t size) {
        size_t n = 0;
        int c;
        while ((c = rd_byte(r)) >= 0 && c != '\n')
                if (n + 1 < size)
                        line[n++] = (char) c;
        if (c < 0 && n == 0)
                return -1;
        if (n && line[n - 1] == '\r')
                n--;
        line[n] = 0;
        return (int) n;
}

struct body_sink {
        char *p;
        size_t len, cap;
        void (*on_event)(const char *data, void *userdata);
        void *userdata;
        char *event_line; /* partial SSE line */
        size_t el_len, el_cap;
};

static void sink_put(struct body_sink *s, const char *p, size_t n) {
        if (!s->on_event) {
                if (s->len + n + 1 > s->cap) {
                        s->cap = (s->len + n + 1) * 2;
                        s->p = realloc(s->p, s->cap);
                }
                memcpy(s->p + s->len, p, n);
                s->len += n;
                s->p[s->len] = 0;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n') {
                        if (s->el_len >= 6 && strncmp(s->event_line, "data: ", 6) == 0) {
                                s->event_line[s->el_len] = 0;
                                s->on_event(s->event_line + 6, s->userdata);
                        }
                        s->el_len = 0;
                        continue;
                }
                if (s->el_len + 2 > s->el_cap) {
                        s->el_cap = s->el_cap ? s->el_cap * 2 : 256;
                        s->event_line = realloc(s->event_line, s->el_cap);
                }
                s->event_line[s->el_len++] = p[i];
        }
}

static int exchange(const char *socket_path, const char *method, const char *path, const char *body,
                    struct body_sink *sink, int *ret_status) {
        int fd = connect_socket(socket_path);
        if (fd < 0)
                return fd;
        char head[512];
        size_t blen = body ? strlen(body) : 0;
        snprintf(head, sizeof(head),
                 "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 method, path, blen);
        int r = send_all(fd, head, strlen(head));
        if (r >= 0 && blen)
                r = send_all(fd, body, blen);
        if (r < 0) {
                fprintf(stderr, "vkinfer: sending to %s: %s\n", socket_path, strerror(-r));
                close(fd);
                return r;
        }
        struct reader rd = {.fd = fd};
        char line[4096];
        if (rd_line(&rd, line, sizeof(line)) < 0 || sscanf(line, "HTTP/1.%*d %d", ret_status) != 1) {
                fprintf(stderr, "vkinfer: no HTTP answer from %s\n", socket_path);
                close(fd);
                return -EPROTO;
        }
        bool chunked = false;
        long long length = -1;
        while (rd_line(&rd, line, sizeof(line)) > 0) {
                if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line, "chunked"))
                        chunked = true;
                if (strncasecmp(line, "Content-Length:", 15) == 0)
                        length = atoll(line + 15);
        }
        if (*ret_status != 200)
                sink->on_event = NULL; /* errors come back whole */
        if (chunked) {
                for (;;) {
                        if (rd_line(&rd, line, sizeof(line)) < 0)
                                break;
                        unsigned long n = strtoul(line, NULL, 16);
                        if (n == 0)
                                break;
                        for (unsigned long i = 0; i < n; i++) {
                                int c = rd_byte(&rd);
                                if (c < 0)
                                        break;
                                char ch = (char) c;
                                sink_put(sink, &ch, 1);
                        }
                        rd_line(&rd, line, sizeof(line)); /* CRLF after the chunk */
                }
        } else {
                int c;
                for (long long i = 0; (length < 0 || i < length) && (c = rd_byte(&rd)) >= 0; i++) {
                        char ch = (char) c;
                        sink_put(sink, &ch, 1);
                }
        }
        close(fd);
        return 0;
}

int client_request(const char *socket_path, const char *method, const char *path, const char *body,
                   int *ret_status, char **ret_body) {
        struct body_sink s = {0};
        int r = exchange(socket_path, method, path, body, &s, ret_status);
        if (r < 0) {
                free(s.p);
                return r;
        }
        *ret_body = s.p ? s.p : strdup("");
        return 0;
}

int client_stream(const char *socket_path, const char *path, const char *body,
                  void (*on_event)(const char *data, void *userdata), void *userdata, int *ret_status,
                  char **ret_body) {
        struct body_sink s = {.on_event = on_event, .userdata = userdata};
        int r = exchange(socket_path, "POST", path, body, &s, ret_status);
        free(s.event_line);
        if (r < 0) {
                free(s.p);
                return r;
        }
        *ret_body = s.p ? s.p : strdup("");
        return 0;
}
