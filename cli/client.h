/* A small HTTP/1.1 client over vkinferd's Unix socket for the CLI's daemon
 * commands. The socket is --socket, else $VKINFER_SOCKET, else the user
 * instance's ($XDG_RUNTIME_DIR/vkinfer/vkinfer.sock) when it exists, else
 * the system one (/run/vkinfer/vkinfer.sock). */
#pragma once

#include <stddef.h>

const char *client_default_socket(void);

/* Sends one request; *ret_status and the malloc'd body come back. On
 * failure prints why (naming the socket) and returns a negative errno. */
int client_request(const char *socket_path, const char *method, const char *path, const char *body,
                   int *ret_status, char **ret_body);

/* Streams a POST whose answer is server-sent events: on_event is called
 * with each event's data ("[DONE]" included). A non-200 answer comes back
 * in *ret_status / *ret_body instead. */
int client_stream(const char *socket_path, const char *path, const char *body,
                  void (*on_event)(const char *data, void *userdata), void *userdata, int *ret_status,
                  char **ret_body);
