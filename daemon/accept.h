/* Accepting connections for an HTTP listener. libmicrohttpd drops a
 * connection whose request line it cannot parse without a word, so each new
 * connection waits here until its first line has arrived (peeked, not
 * read): a well-formed one is handed over untouched, anything else gets a
 * 400 with the OpenAI error body. Accepting also pauses, instead of
 * spinning, while the process is out of file descriptors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

struct acceptor;

/* Takes fd (a connected, non-blocking socket). */
typedef void (*acceptor_handoff_fn)(void *userdata, int fd, const struct sockaddr *sa, socklen_t len);

/* Accepts on listen_fd (which it owns from then on); a connection whose
 * request line does not come within timeout_sec is closed. */
int acceptor_new(sd_event *event, int listen_fd, uint32_t timeout_sec, acceptor_handoff_fn handoff, void *userdata,
                 struct acceptor **ret);
/* Stops accepting and closes the listening socket; connections already
 * accepted are still screened and handed over. */
void acceptor_quiesce(struct acceptor *a);
struct acceptor *acceptor_free(struct acceptor *a);

/* Whether line (without its CRLF) is METHOD SP TARGET SP HTTP/D.D. */
bool acceptor_request_line_ok(const char *line, size_t len);
