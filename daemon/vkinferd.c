/* vkinferd: serves models over an OpenAI-compatible HTTP API on a Unix
 * socket. main is: parse → Manager new → startup → READY=1 → run → exit. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "vkinfer/vkinfer.h"

#define SYSTEM_CONFIG "/etc/vkinfer/vkinferd.conf"

static void help(void) {
        printf("Usage: vkinferd [OPTIONS]\n\n"
               "Serves GGUF models over an OpenAI-compatible HTTP API on a Unix socket.\n\n"
               "Options:\n"
               "  --config PATH        configuration file (default " SYSTEM_CONFIG ",\n"
               "                       or $XDG_CONFIG_HOME/vkinfer/vkinferd.conf with --user)\n"
               "  --user               run as a user instance (socket in $XDG_RUNTIME_DIR)\n"
               "  --socket PATH        Unix socket path                      [server] socket\n"
               "  --socket-group NAME  group of the socket file              [server] socket-group\n"
               "  --tcp ADDR:PORT      also listen on loopback TCP           [server] tcp\n"
               "  --model FILE         serve FILE (repeatable; the first is the default;\n"
               "                       named after the file without .gguf)   [model NAME] path\n"
               "  --context N          context length of the --model models  [model NAME] context\n"
               "  --device DEV         Vulkan device index or name           [device] device\n"
               "  --queue-size N       waiting requests at most              [scheduler] queue-size\n"
               "  --max-sequences N    sequences batched together            [scheduler] max-sequences\n"
 "  --no-dbus            do not offer the D-Bus interface      [server] dbus\n"
               "  -h, --help           this help\n"
               "  --version            print the version\n\n"
               "%s",
               config_help);
}

static char *model_name_from_path(const char *path) {
        char *copy = strdup(path);
        if (!copy)
                return NULL;
        char *name = strdup(basename(copy));
        free(copy);
        if (name) {
                size_t n = strlen(name);
                if (n > 5 && strcmp(name + n - 5, ".gguf") == 0)
                        name[n - 5] = 0;
        }
        return name;
}

int main(int argc, char **argv) {
        enum { OPT_CONFIG = 256, OPT_USER, OPT_SOCKET, OPT_SOCKET_GROUP, OPT_TCP, OPT_MODEL, OPT_CONTEXT,
               OPT_DEVICE, OPT_QUEUE, OPT_MAXSEQ, OPT_VERSION, OPT_NO_DBUS };
        static const struct option options[] = {
                {"config", required_argument, NULL, OPT_CONFIG},
                {"user", no_argument, NULL, OPT_USER},
                {"socket", required_argument, NULL, OPT_SOCKET},
                {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
                {"tcp", required_argument, NULL, OPT_TCP},
                {"model", required_argument, NULL, OPT_MODEL},
                {"context", required_argument, NULL, OPT_CONTEXT},
                {"device", required_argument, NULL, OPT_DEVICE},
                {"queue-size", required_argument, NULL, OPT_QUEUE},
                {"max-sequences", required_argument, NULL, OPT_MAXSEQ},
                {"no-dbus", no_argument, NULL, OPT_NO_DBUS},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {},
        };
        /* Flags are applied after the file, so collect them first. */
        struct flag {
                const char *section, *key, *value;
        } flags[64];
        size_t n_flags = 0;
        const char *models[16], *config_path = NULL, *context = NULL;
        size_t n_models = 0;
        bool user = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                const char *section = NULL, *key = NULL;
                switch (c) {
                case 'h': help(); return 0;
                case OPT_VERSION: printf("vkinferd %s\n", vkinfer_version()); return 0;
                case OPT_CONFIG: config_path = optarg; break;
                case OPT_USER: user = true; break;
                case OPT_SOCKET: section = "server"; key = "socket"; break;
                case OPT_SOCKET_GROUP: section = "server"; key = "socket-group"; break;
                case OPT_TCP: section = "server"; key = "tcp"; break;
                case OPT_DEVICE: section = "device"; key = "device"; break;
                case OPT_QUEUE: section = "scheduler"; key = "queue-size"; break;
                case OPT_MAXSEQ: section = "scheduler"; key = "max-sequences"; break;
                case OPT_CONTEXT: context = optarg; break;
                case OPT_NO_DBUS: section = "server"; key = "dbus"; optarg = (char *) "no"; break;
                case OPT_MODEL:
                        if (n_models >= 16) {
                                fprintf(stderr, "vkinferd: too many --model\n");
                                return 2;
                        }
                        models[n_models++] = optarg;
                        break;
                default: return 2;
                }
                if (section && n_flags < 64)
                        flags[n_flags++] = (struct flag){section, key, optarg};
        }
        if (optind < argc) {
                fprintf(stderr, "vkinferd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        struct manager *m;
        int r = manager_new(&m);
        if (r < 0) {
                log_error("cannot set up the event loop: %s", strerror(-r));
                return 1;
        }
        struct config *cfg = &m->config;
        cfg->user_instance = user;
        char err[512] = "", user_path[4096];
        const char *path = config_path;
        if (!path && user) {
                const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
                if (xdg && *xdg)
                        snprintf(user_path, sizeof(user_path), "%s/vkinfer/vkinferd.conf", xdg);
                else
                        snprintf(user_path, sizeof(user_path), "%s/.config/vkinfer/vkinferd.conf", home ? home : "");
                path = user_path;
        } else if (!path) {
                path = SYSTEM_CONFIG;
        }
        r = config_load_file(cfg, path, err, sizeof(err));
        if (r == -ENOENT && !config_path) {
                r = 0; /* the default file is optional */
        } else if (r < 0) {
                log_error("%s", err);
                goto out;
        }
        for (size_t i = 0; i < n_flags && r >= 0; i++)
                r = config_set(cfg, flags[i].section, flags[i].key, flags[i].value, err, sizeof(err));
        for (size_t i = 0; i < n_models && r >= 0; i++) {
                char *name = model_name_from_path(models[i]);
                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                char section[300];
                snprintf(section, sizeof(section), "model %s", name);
                r = config_set(cfg, section, "path", models[i], err, sizeof(err));
                if (r >= 0 && context)
                        r = config_set(cfg, section, "context", context, err, sizeof(err));
                free(name);
        }
        if (r >= 0 && n_models > 0) {
                /* --model given: those are the models, the first the default. */
                size_t keep = 0;
                for (size_t i = 0; i < cfg->n_models; i++) {
                        bool named = false;
                        for (size_t j = 0; j < n_models; j++)
                                named |= strcmp(cfg->models[i].path, models[j]) == 0;
                        if (named)
                                cfg->models[keep++] = cfg->models[i];
                        else {
                                free(cfg->models[i].name);
                                free(cfg->models[i].path);
                        }
                }
                cfg->n_models = keep;
        }
        if (r >= 0)
                r = config_finish(cfg, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err[0] ? err : strerror(-r));
                goto out;
        }
        r = manager_startup(m);
        if (r < 0)
                goto out;
        r = manager_run(m);
        if (r < 0)
                log_error("event loop failed: %s", strerror(-r));
out:
        manager_free(m);
        return r < 0 ? 1 : 0;
}
