/* One listening socket served as HTTP/1.1 by libmicrohttpd, driven from the
 * Manager's sd-event loop (MHD's epoll fd is an io source; its timeout a
 * timer), the way systemd-journal-remote does it. */
#pragma once

#include <stdbool.h>

struct manager;
struct http_server;

/* Serves listen_fd, which it owns from then on (closed on failure too). */
int http_server_new(struct manager *m, int listen_fd, bool is_unix, struct http_server **ret);
struct http_server *http_server_free(struct http_server *s);
/* Stops accepting new connections (draining). */
void http_server_quiesce(struct http_server *s);
/* Resumes the connections whose requests produced output; called when the
 * scheduler thread signalled the Manager's eventfd. */
void http_server_dispatch_notifications(struct manager *m);
/* Cancels the requests whose clients hung up while suspended. */
void http_server_reap_vanished(struct manager *m);
/* Cancels every request in flight (end of the drain timeout): each ends
 * with an error saying that vkinferd is shutting down (503). */
void http_server_cancel_all(struct manager *m);
