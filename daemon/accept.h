/* Accepting connections for an HTTP listener. libmicrohttpd drops a
 * connection whose request line it cannot parse without a word, so each new
 * connection waits here until its first line has arrived (peeked, not
 * read): a well-formed one is handed over untouched, anything else gets a
 * 400 with the OpenAI error body. The connections of every listener share
 * one budget, kept below the file descriptor limit: past it a connection is
 * answered 503 and closed at once, so the daemon never runs out of
 * descriptors (accepting also pauses, instead of spinning, if it does). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

struct acceptor;

/* Connections open (screened here or handed over) and the most allowed;
 * shared by the listeners. The HTTP side counts the ones handed to it. */
struct acceptor_budget {
        unsigned open, max;
};

/* max lowered to leave descriptors for everything else (model files, the
 * device, D-Bus) below RLIMIT_NOFILE, whose soft limit is raised towards
 * the hard one first where max needs it. */
unsigned acceptor_connection_cap(unsigned max);

/* Takes fd (a connected, non-blocking socket), accepted at accepted_usec
 * (CLOCK_MONOTONIC). */
typedef void (*acceptor_handoff_fn)(void *userdata, int fd, const struct sockaddr *sa, socklen_t len,
                                    uint64_t accepted_usec);

/* Accepts on listen_fd (which it owns from then on); a connection whose
 * request line does not come within timeout_sec is answered 408. */
int acceptor_new(sd_event *event, int listen_fd, uint32_t timeout_sec, struct acceptor_budget *budget,
                 acceptor_handoff_fn handoff, void *userdata, struct acceptor **ret);
/* Stops accepting and closes the listening socket; connections already
 * accepted are still screened and handed over. */
void acceptor_quiesce(struct acceptor *a);
struct acceptor *acceptor_free(struct acceptor *a);

/* Whether line (without its CRLF) is METHOD SP TARGET SP HTTP/D.D. */
bool acceptor_request_line_ok(const char *line, size_t len);
