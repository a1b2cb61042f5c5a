/* allow-users / allow-groups, one rule for both front ends: a caller is
 * allowed when its uid is listed, or one of its groups (the process's own:
 * primary and supplementary) is. Empty lists allow everyone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

bool access_restricted(const struct config *c);
bool access_allowed(const struct config *c, uid_t uid, const gid_t *gids, size_t n_gids);

/* The groups of a Unix socket's peer, as the kernel took them when it
 * connected (SO_PEERGROUPS); -ENOPROTOOPT on kernels without it. *ret is
 * malloc'd. */
int access_socket_groups(int fd, gid_t **ret, size_t *ret_n);
/* Fallback without SO_PEERGROUPS: gid and the groups the group database
 * gives uid's user. */
int access_user_groups(uid_t uid, gid_t gid, gid_t **ret, size_t *ret_n);
