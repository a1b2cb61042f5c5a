#include "access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>

bool access_restricted(const struct config *c) {
        return c->n_allow_users > 0 || c->n_allow_groups > 0;
}

bool access_allowed(const struct config *c, uid_t uid, const gid_t *gids, size_t n_gids) {
        if (!access_restricted(c))
                return true;
        for (size_t i = 0; i < c->n_allow_users; i++)
                if (c->allow_users[i] == uid)
                        return true;
        for (size_t i = 0; i < c->n_allow_groups; i++)
                for (size_t k = 0; k < n_gids; k++)
                        if (c->allow_groups[i] == gids[k])
                                return true;
        return false;
}

int access_socket_groups(int fd, gid_t **ret, size_t *ret_n) {
#ifdef SO_PEERGROUPS
        socklen_t len = 64 * sizeof(gid_t);
        for (int tries = 0; tries < 3; tries++) {
                gid_t *g = malloc(len ? len : sizeof(gid_t));
                if (!g)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
                        *ret = g;
                        *ret_n = len / sizeof(gid_t);
                        return 0;
                }
                int r = -errno;
                free(g);
                if (r != -ERANGE) /* ERANGE: len now says how much is needed */
                        return r;
        }
        return -ERANGE;
#else
        return -ENOPROTOOPT;
#endif
}

int access_user_groups(uid_t uid, gid_t gid, gid_t **ret, size_t *ret_n) {
        struct passwd *pw = getpwuid(uid);
        gid_t probe;
        int n = 1;
        /* A first call with room for one says how many there are. */
        if (!pw || (getgrouplist(pw->pw_name, pw->pw_gid, &probe, &n) < 0 && n < 1))
                n = 0;
        gid_t *g = malloc((size_t) (n + 1) * sizeof(gid_t));
        if (!g)
                return -ENOMEM;
        g[0] = gid;
        if (n > 0 && getgrouplist(pw->pw_name, pw->pw_gid, g + 1, &n) < 0)
                n = 0; /* changed meanwhile: the process's group only */
        *ret = g;
        *ret_n = (size_t) n + 1;
        return 0;
}
