#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static int mkdir_parents(const char *path, mode_t mode) {
        char buf[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

int listen_unix(const struct config *c, int *ret_fd, bool *ret_activated, char *err, size_t err_size) {
        int n = sd_listen_fds(1);
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
                        *ret_fd = fd;
                        *ret_activated = true;
                        return 0;
                }
        }

        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(c->socket_path) >= sizeof(sa.sun_path)) {
                snprintf(err, err_size, "socket path too long: %s", c->socket_path);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, c->socket_path);
        int r = mkdir_parents(c->socket_path, 0755);
        if (r < 0) {
                snprintf(err, err_size, "cannot create the folder of %s: %s", c->socket_path, strerror(-r));
                return r;
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A socket file left by a crashed instance: replace it, but never a
         * live one (another daemon answering there). */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
                close(fd);
                snprintf(err, err_size, "another daemon is already listening on %s", c->socket_path);
                return -EADDRINUSE;
        }
        close(fd);
        unlink(c->socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        mode_t old = umask(0777 & ~c->socket_mode);
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0) {
                r = -errno;
                snprintf(err, err_size, "cannot bind %s: %s", c->socket_path, strerror(errno));
                close(fd);
                return r;
        }
        if (chmod(c->socket_path, c->socket_mode) < 0) {
                r = -errno;
                snprintf(err, err_size, "cannot chmod %s: %s", c->socket_path, strerror(errno));
                close(fd);
                return r;
        }
        if (c->socket_group) {
                struct group *g = getgrnam(c->socket_group);
                if (!g || chown(c->socket_path, (uid_t) -1, g->gr_gid) < 0) {
                        r = g ? -errno : -ENOENT;
                        snprintf(err, err_size, "cannot give %s to group '%s': %s", c->socket_path,
                                 c->socket_group, g ? strerror(errno) : "no such group");
                        close(fd);
                        return r;
                }
        }
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        *ret_fd = fd;
        *ret_activated = false;
        return 0;
}

int listen_tcp(const char *addr_port, int *ret_fd, char *err, size_t err_size) {
        char host[128];
        const char *colon = strrchr(addr_port, ':');
        if (!colon || (size_t) (colon - addr_port) >= sizeof(host) || !colon[1]) {
                snprintf(err, err_size, "tcp = %s: expected ADDRESS:PORT", addr_port);
                return -EINVAL;
        }
        memcpy(host, addr_port, colon - addr_port);
        host[colon - addr_port] = 0;
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port <= 0 || port > 65535) {
                snprintf(err, err_size, "tcp = %s: bad port", addr_port);
                return -EINVAL;
        }
        struct sockaddr_storage ss = {0};
        socklen_t len;
        char *h = host;
        if (h[0] == '[' && h[strlen(h) - 1] == ']') {
                h[strlen(h) - 1] = 0;
                h++;
        }
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
                /* Loopback only: the API has no authentication beyond the socket's. */
                if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
                        snprintf(err, err_size, "tcp = %s: only loopback addresses (127.0.0.0/8, ::1) are allowed", addr_port);
                        return -EPERM;
                }
                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t) port);
                len = sizeof(*sin);
        } else if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
                if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
                        snprintf(err, err_size, "tcp = %s: only loopback addresses (127.0.0.0/8, ::1) are allowed", addr_port);
                        return -EPERM;
                }
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t) port);
                len = sizeof(*sin6);
        } else {
                snprintf(err, err_size, "tcp = %s: not a numeric address", addr_port);
                return -EINVAL;
        }
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
                int r = -errno;
                snprintf(err, err_size, "cannot listen on %s: %s", addr_port, strerror(errno));
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}
