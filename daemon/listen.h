/* Listening sockets: the Unix socket (from systemd socket activation, or
 * created at the configured path with its mode and group) and the optional
 * loopback-only TCP socket. */
#pragma once

#include <stdbool.h>

#include "config.h"

/* Returns a listening fd in *ret_fd; *ret_activated tells whether systemd
 * passed it (then we must not unlink it at exit). */
int listen_unix(const struct config *c, int *ret_fd, bool *ret_activated, char *err, size_t err_size);
int listen_tcp(const char *addr_port, int *ret_fd, char *err, size_t err_size);
