/* Configuration file parsing with inih. Every key is documented in config_help
 * (printed by `vkinferd --help`) and in packaging/vkinferd.conf. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char config_help[] =
        "Configuration file keys (INI; command-line flags override them):\n"
        "  [server]\n"
        "  socket = PATH          Unix socket (default /run/vkinfer/vkinfer.sock,\n"
        "                         or $XDG_RUNTIME_DIR/vkinfer/vkinfer.sock with --user)\n"
        "  socket-mode = 0660     permissions of the socket file\n"
        "  socket-group = GROUP   group owning the socket file\n"
        "  allow-users = U...     only these users (names or uids) may connect; empty = all\n"
        "  allow-groups = G...    only members of these groups may connect; empty = all\n"
        "  tcp = ADDR:PORT        also listen on TCP, loopback addresses only (default off)\n"
        "  max-body = BYTES       largest request body accepted (default 1048576)\n"
        "  request-timeout = SEC  idle connection timeout (default 60)\n"
        "  request-deadline = SEC the whole request (headers and body) must arrive within\n"
        "                         SEC, else 408 (default 30)\n"
        "  max-connections = N    connections open at once, past which they get 503\n"
        "                         (default 1024; lowered to fit the file descriptor limit)\n"
        "  dbus = yes|no          offer org.vkinfer.Inference1 on the system bus (session bus\n"
        "                         with --user); default yes\n"
        "  models-dir = PATH      also serve every *.gguf file in PATH, named after the file\n"
        "                         (after the [model NAME] sections; rescanned on reload)\n"
        "  [scheduler]\n"
        "  queue-size = N         requests waiting at most before 429 (default 64)\n"
        "  max-sequences = N      sequences decoded together (default 16)\n"
        "  max-batch-tokens = N   tokens per batch step (default 512)\n"
        "  drain-timeout = SEC    on SIGTERM, how long running requests may finish (default 30)\n"
        "  [device]\n"
        "  device = INDEX|NAME    Vulkan device (default: discrete, integrated, then CPU);\n"
        "                         cpu-reference: the plain-C reference (slow; debugging)\n"
        "  cache-dir = PATH       pipeline cache (default $XDG_CACHE_HOME/vkinfer)\n"
        "  kv-cache-type = TYPE   KV cache values: auto (f16 where the device has 16-bit\n"
        "                         storage, else f32), f16 or f32 (default auto)\n"
        "  [model NAME]           one section per model; the first is the default\n"
        "  path = FILE.gguf\n"
        "  context = N            context length (default: the model's, capped)\n";

void config_init(struct config *c) {
        memset(c, 0, sizeof(*c));
        c->socket_mode = 0660;
        c->max_body_bytes = 1 << 20;
        c->request_timeout_sec = 60;
        c->max_connections = 1024;
        c->request_deadline_sec = 30;
        c->dbus = true;
        c->queue_size = 64;
        c->max_sequences = 16;
        c->max_batch_tokens = 512;
        c->drain_timeout_sec = 30;
}

void config_free(struct config *c) {
        free(c->socket_path);
        free(c->socket_group);
        free(c->tcp_listen);
        free(c->device);
        free(c->cache_dir);
        free(c->kv_cache_type);
        free(c->models_dir);
        for (size_t i = 0; i < c->n_models; i++) {
                free(c->models[i].name);
                free(c->models[i].path);
        }
        memset(c, 0, sizeof(*c));
}

static int set_string(char **dst, const char *v) {
        char *s = *v ? strdup(v) : NULL;
        if (*v && !s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

static int parse_u64(const char *v, uint64_t min, uint64_t max, int base, uint64_t *ret) {
        char *end;
        errno = 0;
        if (!*v || *v == '-')
                return -EINVAL;
        unsigned long long x = strtoull(v, &end, base);
        if (errno || *end || x < min || x > max)
                return -EINVAL;
        *ret = x;
        return 0;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *ret) {
        uint64_t x;
        int r = parse_u64(v, min, max, 10, &x);
        if (r == 0)
                *ret = (uint32_t) x;
        return r;
}

/* A space- or comma-separated list of user or group names/ids. */
static int parse_ids(const char *v, bool groups, uint32_t *ids, size_t *n, char *err, size_t err_size) {
        char *copy = strdup(v), *save = NULL;
        if (!copy)
                return -ENOMEM;
        *n = 0;
        for (char *tok = strtok_r(copy, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
                uint64_t id;
                if (parse_u64(tok, 0, UINT32_MAX - 1, 10, &id) < 0) {
                        if (groups) {
                                struct group *g = getgrnam(tok);
                                if (!g)
                                        goto unknown;
                                id = g->gr_gid;
                        } else {
                                struct passwd *p = getpwnam(tok);
                                if (!p)
                                        goto unknown;
                                id = p->pw_uid;
                        }
                }
                if (*n >= CONFIG_MAX_IDS) {
                        snprintf(err, err_size, "more than %d %s listed", CONFIG_MAX_IDS, groups ? "groups" : "users");
                        free(copy);
                        return -E2BIG;
                }
                ids[(*n)++] = (uint32_t) id;
                continue;
        unknown:
                snprintf(err, err_size, "unknown %s '%s'", groups ? "group" : "user", tok);
                free(copy);
                return -ENOENT;
        }
        free(copy);
        return 0;
}

int config_add_model(struct config *c, const char *name, const char *path, char *err, size_t err_size) {
        for (size_t i = 0; i < c->n_models; i++)
                if (strcmp(c->models[i].name, name) == 0) {
                        if (path)
                                return set_string(&c->models[i].path, path);
                        return 0;
                }
        if (c->n_models >= CONFIG_MAX_MODELS) {
                snprintf(err, err_size, "more than %d models configured", CONFIG_MAX_MODELS);
                return -E2BIG;
        }
        struct config_model *m = &c->models[c->n_models];
        m->name = strdup(name);
        m->path = path ? strdup(path) : NULL;
        if (!m->name || (path && !m->path)) {
                free(m->name);
                free(m->path);
                return -ENOMEM;
        }
        m->context = 0;
        c->n_models++;
        return 0;
}

int config_set(struct config *c, const char *section, const char *key, const char *value, char *err, size_t err_size) {
        int r = -EINVAL;
        uint64_t x;
        if (strcmp(section, "server") == 0) {
                if (strcmp(key, "socket") == 0)
                        return set_string(&c->socket_path, value);
                if (strcmp(key, "socket-mode") == 0) {
                        if (parse_u64(value, 0, 0777, 8, &x) == 0) {
                                c->socket_mode = (uint32_t) x;
                                return 0;
                        }
                        goto bad;
                }
                if (strcmp(key, "socket-group") == 0)
                        return set_string(&c->socket_group, value);
                if (strcmp(key, "allow-users") == 0)
                        return parse_ids(value, false, c->allow_users, &c->n_allow_users, err, err_size);
                if (strcmp(key, "allow-groups") == 0)
                        return parse_ids(value, true, c->allow_groups, &c->n_allow_groups, err, err_size);
                if (strcmp(key, "tcp") == 0)
                        return set_string(&c->tcp_listen, strcasecmp(value, "off") == 0 ? "" : value);
                if (strcmp(key, "max-body") == 0) {
                        if (parse_u64(value, 1024, 1ull << 30, 10, &c->max_body_bytes) == 0)
                                return 0;
                        goto bad;
                }
                if (strcmp(key, "dbus") == 0) {
                        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
                                c->dbus = true;
                        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
                                c->dbus = false;
                        else
                                goto bad;
                        return 0;
                }
                if (strcmp(key, "models-dir") == 0)
                        return set_string(&c->models_dir, value);
                if (strcmp(key, "request-timeout") == 0)
                        r = parse_u32(value, 1, 86400, &c->request_timeout_sec);
                else if (strcmp(key, "request-deadline") == 0)
                        r = parse_u32(value, 1, 86400, &c->request_deadline_sec);
                else if (strcmp(key, "max-connections") == 0)
                        r = parse_u32(value, 1, CONFIG_MAX_CONNECTIONS, &c->max_connections);
                else
                        goto unknown;
        } else if (strcmp(section, "scheduler") == 0) {
                if (strcmp(key, "queue-size") == 0)
                        r = parse_u32(value, 1, 65536, &c->queue_size);
                else if (strcmp(key, "max-sequences") == 0)
                        r = parse_u32(value, 1, 1024, &c->max_sequences);
                else if (strcmp(key, "max-batch-tokens") == 0)
                        r = parse_u32(value, 1, 65536, &c->max_batch_tokens);
                else if (strcmp(key, "drain-timeout") == 0)
                        r = parse_u32(value, 0, 86400, &c->drain_timeout_sec);
                else
                        goto unknown;
        } else if (strcmp(section, "device") == 0) {
                if (strcmp(key, "device") == 0)
                        return set_string(&c->device, value);
                if (strcmp(key, "cache-dir") == 0)
                        return set_string(&c->cache_dir, value);
                if (strcmp(key, "kv-cache-type") == 0) {
                        if (strcmp(value, "auto") && strcmp(value, "f16") && strcmp(value, "f32")) {
                                snprintf(err, err_size, "[device] kv-cache-type = %s: use auto, f16 or f32", value);
                                return -EINVAL;
                        }
                        return set_string(&c->kv_cache_type, value);
                }
                goto unknown;
        } else if (strncmp(section, "model ", 6) == 0 && section[6]) {
                const char *name = section + 6;
                r = config_add_model(c, name, NULL, err, err_size);
                if (r < 0)
                        return r;
                struct config_model *m = NULL;
                for (size_t i = 0; i < c->n_models; i++)
                        if (strcmp(c->models[i].name, name) == 0)
                                m = &c->models[i];
                if (strcmp(key, "path") == 0)
                        return set_string(&m->path, value);
                if (strcmp(key, "context") == 0)
                        r = parse_u32(value, 16, 1u << 24, &m->context);
                else
                        goto unknown;
        } else {
                snprintf(err, err_size, "unknown section [%s]", section);
                return -EINVAL;
        }
        if (r == 0)
                return 0;
bad:
        snprintf(err, err_size, "[%s] %s: invalid value '%s'", section, key, value);
        return -EINVAL;
unknown:
        snprintf(err, err_size, "[%s]: unknown key '%s'", section, key);
        return -EINVAL;
}

struct ini_ctx {
        struct config *c;
        char *err;
        size_t err_size;
        int r;
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value) {
        struct ini_ctx *ctx = user;
        if (ctx->r < 0)
                return 0;
        ctx->r = config_set(ctx->c, section, name, value, ctx->err, ctx->err_size);
        return ctx->r == 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t err_size) {
        FILE *f = fopen(path, "re");
        if (!f) {
                int e = errno;
                snprintf(err, err_size, "cannot open %s: %s", path, strerror(e));
                return -e;
        }
        char inner[256] = "";
        struct ini_ctx ctx = {c, inner, sizeof(inner), 0};
        int line = ini_parse_file(f, on_ini_line, &ctx);
        fclose(f);
        if (line != 0) {
                if (line > 0)
                        snprintf(err, err_size, "%s:%d: %s", path, line, inner[0] ? inner : "syntax error");
                else
                        snprintf(err, err_size, "%s: cannot parse", path);
                return ctx.r < 0 ? ctx.r : -EINVAL;
        }
        return 0;
}

int config_finish(struct config *c, char *err, size_t err_size) {
        if (!c->socket_path) {
                char buf[PATH_MAX];
                if (c->user_instance) {
                        const char *rt = getenv("XDG_RUNTIME_DIR");
                        if (!rt || rt[0] != '/') {
                                snprintf(err, err_size, "--user needs XDG_RUNTIME_DIR (or pass --socket)");
                                return -EINVAL;
                        }
                        snprintf(buf, sizeof(buf), "%s/vkinfer/vkinfer.sock", rt);
                } else {
                        snprintf(buf, sizeof(buf), "/run/vkinfer/vkinfer.sock");
                }
                c->socket_path = strdup(buf);
                if (!c->socket_path)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_models; i++)
                if (!c->models[i].path) {
                        snprintf(err, err_size, "[model %s] has no path", c->models[i].name);
                        return -EINVAL;
                }
        return 0;
}

static char *model_name_from_path(const char *path) {
        const char *base = strrchr(path, '/');
        char *name = strdup(base ? base + 1 : path);
        if (name) {
                size_t n = strlen(name);
                if (n > 5 && strcmp(name + n - 5, ".gguf") == 0)
                        name[n - 5] = 0;
        }
        return name;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* [server] models-dir: every regular *.gguf file in it, in name order, named
 * after the file; a name a [model NAME] section already uses stays the
 * section's. A folder that does not exist holds no models. */
static int config_scan_models_dir(struct config *c, char *err, size_t err_size) {
        DIR *d = opendir(c->models_dir);
        if (!d) {
                int e = errno;
                if (e == ENOENT)
                        return 0;
                snprintf(err, err_size, "models-dir %s: %s", c->models_dir, strerror(e));
                return -e;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".gguf") != 0)
                        continue;
                if (n == cap) {
                        char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*nn));
                        if (!nn) {
                                r = -ENOMEM;
                                break;
                        }
                        names = nn;
                }
                if (!(names[n] = strdup(de->d_name)))
                        r = -ENOMEM;
                else
                        n++;
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), cmp_names);
        for (size_t i = 0; i < n && r == 0; i++) {
                char path[PATH_MAX];
                struct stat st;
                snprintf(path, sizeof(path), "%s/%s", c->models_dir, names[i]);
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                char *name = model_name_from_path(path);
                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                bool taken = false;
                for (size_t k = 0; k < c->n_models; k++)
                        taken |= strcmp(c->models[k].name, name) == 0;
                if (!taken && c->n_models >= CONFIG_MAX_MODELS) {
                        snprintf(err, err_size, "models-dir %s: more than %d models in all", c->models_dir,
                                 CONFIG_MAX_MODELS);
                        r = -E2BIG;
                } else if (!taken) {
                        r = config_add_model(c, name, path, err, err_size);
                }
                free(name);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

/* The bundled demo model: installed, or in the source tree of this build. */
static const char *demo_model_path(void) {
        static const char *const candidates[] = {VKINFER_DEMO_MODEL, VKINFER_SOURCE_DEMO_MODEL};
        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
                if (access(candidates[i], R_OK) == 0)
                        return candidates[i];
        return NULL;
}

int config_build(struct config *c, const struct config_source *src, char *err, size_t err_size) {
        char user_path[4096];
        const char *path = src->path;
        c->user_instance = src->user_instance;
        if (!path && src->user_instance) {
                const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
                if (xdg && *xdg)
                        snprintf(user_path, sizeof(user_path), "%s/vkinfer/vkinferd.conf", xdg);
                else
                        snprintf(user_path, sizeof(user_path), "%s/.config/vkinfer/vkinferd.conf", home ? home : "");
                path = user_path;
        } else if (!path) {
                path = "/etc/vkinfer/vkinferd.conf";
        }
        int r = config_load_file(c, path, err, err_size);
        if (r == -ENOENT && !src->path)
                r = 0; /* the default file is optional */
        if (r < 0)
                return r;
        for (size_t i = 0; i < src->n_flags; i++)
                if ((r = config_set(c, src->flags[i].section, src->flags[i].key, src->flags[i].value, err, err_size)) < 0)
                        return r;
        if (src->n_models > 0) {
                /* --model given: those are the models, the first the default. */
                for (size_t i = 0; i < c->n_models; i++) {
                        free(c->models[i].name);
                        free(c->models[i].path);
                }
                c->n_models = 0;
        }
        for (size_t i = 0; i < src->n_models; i++) {
                char *name = model_name_from_path(src->models[i]);
                if (!name)
                        return -ENOMEM;
                char section[300];
                snprintf(section, sizeof(section), "model %s", name);
                free(name);
                r = config_set(c, section, "path", src->models[i], err, err_size);
                if (r >= 0 && src->context)
                        r = config_set(c, section, "context", src->context, err, err_size);
                if (r < 0)
                        return r;
        }
        if (src->n_models == 0 && c->models_dir && *c->models_dir &&
            (r = config_scan_models_dir(c, err, err_size)) < 0)
                return r;
        if (c->n_models == 0) {
                const char *demo = demo_model_path();
                if (!demo) {
                        snprintf(err, err_size, "no model configured (--model FILE or a [model NAME] section), "
                                                "and the bundled demo model is not installed");
                        return -ENOENT;
                }
                if ((r = config_add_model(c, "vkinfer-demo", demo, err, err_size)) < 0)
                        return r;
        }
        return config_finish(c, err, err_size);
}
