/* libFuzzer target: the HTTP front end as a client meets it. The input is
 * the raw bytes a client sends on one connection; they go through the
 * daemon's own path: the acceptor's request-line screen (daemon/accept.c),
 * libmicrohttpd's parser, the handler and routes (daemon/http.c), the JSON
 * request parser, the submission thread and a real engine, on the demo
 * model with a 16-token context on the CPU reference (so that a generation
 * is short and needs no GPU). The client half-closes after its bytes, reads
 * whatever comes back, and the connection must be gone before the next
 * input: nothing may crash, leak, or keep a connection or request open.
 * What comes back must be an HTTP answer, never a 500; and the process
 * first checks that a valid chat request gets a 200 with a completion, so a
 * harness that only ever reaches the refusals fails at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "manager.h"
#include "submit.h"

/* Each input's time in the event loop at most. With ASan and coverage on
 * the engine too, a token of the demo model takes tens of milliseconds
 * (about 70 on a busy 2-core machine): a whole 16-token context fits. */
#define INPUT_USEC 2000000ull

static struct manager *m;
static struct sockaddr_un addr;
static socklen_t addr_len;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ull + (uint64_t) ts.tv_nsec / 1000;
}

/* The daemon logs every request: here only with VKINFER_FUZZ_LOG set
 * (daemon/log.c is not linked; libFuzzer's own report is on stderr too). */
void log_print(int priority, const char *fmt, ...) {
        static int on = -1;
        if (on < 0)
                on = getenv("VKINFER_FUZZ_LOG") != NULL;
        if (!on)
                return;
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void setup(void) {
        if (manager_new(&m) < 0)
                abort();
        m->config.request_timeout_sec = 2;
        m->config.request_deadline_sec = 2;
        m->config.queue_size = 4;
        m->config.max_body_bytes = 64 * 1024;
        struct vkinfer_engine_config ec = {.device = "cpu-reference", .queue_size = 4, .max_sequences = 2};
        struct vkinfer_error err = {{0}};
        if (vkinfer_engine_new(&ec, &m->engine, &err) < 0 ||
            vkinfer_engine_add_model(m->engine, "demo", VKINFER_DEMO_MODEL, 16, &err) < 0) {
                fprintf(stdout, "fuzz-http: %s\n", err.message);
                abort();
        }
        if (submitter_new(m->engine, m->notify_fd, &m->submitter) < 0)
                abort();
        m->connections.max = 64;
        /* An abstract socket: no file to clean up. */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        addr.sun_family = AF_UNIX;
        int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "vkinfer-fuzz-http-%d", (int) getpid());
        addr_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
        if (fd < 0 || bind(fd, (struct sockaddr *) &addr, addr_len) < 0 || listen(fd, 16) < 0 ||
            http_server_new(m, fd, true, &m->unix_server) < 0)
                abort();
}

/* Sends data on a fresh connection, half-closes, and reads the answer (its
 * first bytes kept in resp) until the daemon closes or the time is up; then
 * waits for the daemon side to wind down (a cancelled generation ends at its
 * next token). Returns whether the daemon closed the connection. */
static bool exchange(const uint8_t *data, size_t size, char *resp, size_t cap, size_t *ret_len) {
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int buf = 256 * 1024;
        setsockopt(c, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        if (c < 0 || connect(c, (struct sockaddr *) &addr, addr_len) < 0)
                abort();
        fcntl(c, F_SETFL, O_NONBLOCK);
        size_t sent = 0, len = 0;
        bool closed = false, gone = false;
        char sink[16384];
        uint64_t end = now_usec() + INPUT_USEC;
        while (now_usec() < end) {
                if (sent < size) {
                        ssize_t k = send(c, data + sent, size - sent, MSG_NOSIGNAL);
                        if (k > 0)
                                sent += (size_t) k;
                        else if (k < 0 && errno != EAGAIN)
                                sent = size; /* the daemon closed: what it took is the input */
                }
                if (sent == size && !closed) {
                        shutdown(c, SHUT_WR); /* legal, and it ends a kept-alive connection */
                        closed = true;
                }
                ssize_t k;
                while ((k = recv(c, sink, sizeof(sink), 0)) > 0) {
                        size_t n = (size_t) k < cap - 1 - len ? (size_t) k : cap - 1 - len;
                        memcpy(resp + len, sink, n);
                        len += n;
                }
                if (k == 0 || (k < 0 && errno != EAGAIN)) {
                        gone = true;
                        break;
                }
                sd_event_run(m->event, 1000); /* 1 ms at most */
        }
        close(c);
        resp[len] = 0;
        *ret_len = len;
        end = now_usec() + INPUT_USEC;
        while ((m->connections.open || m->n_exchanges) && now_usec() < end)
                sd_event_run(m->event, 1000);
        if (m->connections.open || m->n_exchanges) {
                fprintf(stdout, "fuzz-http: %u connection(s), %u request(s) still open after the client left (%s)\n",
                        m->connections.open, m->n_exchanges, gone ? "answered" : "no answer in time");
                abort();
        }
        return gone;
}

/* Once per process: a well-formed chat request must get a 200 with a chat
 * completion, or every input would only exercise the refusals. */
static void self_check(void) {
        static const char body[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"Who begat Enos?\"}],\"max_tokens\":2}";
        char req[512];
        int n = snprintf(req, sizeof(req),
                         "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         sizeof(body) - 1, body);
        char resp[4096];
        size_t len;
        bool gone = exchange((const uint8_t *) req, (size_t) n, resp, sizeof(resp), &len);
        if (!gone || strncmp(resp, "HTTP/1.1 200 ", 13) != 0 || !strstr(resp, "\"object\":\"chat.completion\"")) {
                fprintf(stdout, "fuzz-http: a valid chat request was not answered 200 with a completion:\n%s\n", resp);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!m) {
                setup();
                self_check();
        }
        char resp[256];
        size_t len;
        bool gone = exchange(data, size, resp, sizeof(resp), &len);
        /* Whatever the daemon writes is an HTTP answer (the acceptor's or
         * MHD's); a 500 is a server bug on any input (no OOM here). A short
         * one counts only once the daemon closed (not cut by the time). */
        bool bad = len < 13 ? len && gone
                            : strncmp(resp, "HTTP/1.", 7) != 0 || resp[8] != ' ' || !(resp[9] >= '1' && resp[9] <= '5') ||
                                      strncmp(resp + 9, "500", 3) == 0;
        if (bad) {
                fprintf(stdout, "fuzz-http: not a valid answer, or a 500:\n%s\n", resp);
                abort();
        }
        return 0;
}
