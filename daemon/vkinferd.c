/* vkinferd: serves models over an OpenAI-compatible HTTP API on a Unix
 * socket. main is: parse → Manager new → startup → READY=1 → run → exit. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "vkinfer/vkinfer.h"

#define SYSTEM_CONFIG "/etc/vkinfer/vkinferd.conf"
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

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
               "  --kv-cache-type T    auto, f16 or f32                      [device] kv-cache-type\n"
               "  --queue-size N       waiting requests at most              [scheduler] queue-size\n"
               "  --max-sequences N    sequences batched together            [scheduler] max-sequences\n"
 "  --no-dbus            do not offer the D-Bus interface      [server] dbus\n"
               "  -h, --help           this help\n"
               "  --version            print the version\n\n"
               "%s",
               config_help);
}

int main(int argc, char **argv) {
        enum { OPT_CONFIG = 256, OPT_USER, OPT_SOCKET, OPT_SOCKET_GROUP, OPT_TCP, OPT_MODEL, OPT_CONTEXT,
               OPT_DEVICE, OPT_KV, OPT_QUEUE, OPT_MAXSEQ, OPT_VERSION, OPT_NO_DBUS };
        static const struct option options[] = {
                {"config", required_argument, NULL, OPT_CONFIG},
                {"user", no_argument, NULL, OPT_USER},
                {"socket", required_argument, NULL, OPT_SOCKET},
                {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
                {"tcp", required_argument, NULL, OPT_TCP},
                {"model", required_argument, NULL, OPT_MODEL},
                {"context", required_argument, NULL, OPT_CONTEXT},
                {"device", required_argument, NULL, OPT_DEVICE},
                {"kv-cache-type", required_argument, NULL, OPT_KV},
                {"queue-size", required_argument, NULL, OPT_QUEUE},
                {"max-sequences", required_argument, NULL, OPT_MAXSEQ},
                {"no-dbus", no_argument, NULL, OPT_NO_DBUS},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {},
        };
        /* Flags are applied after the file, so collect them first. */
        static struct config_source src;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                const char *section = NULL, *key = NULL;
                switch (c) {
                case 'h': help(); return 0;
                case OPT_VERSION: printf("vkinferd %s\n", vkinfer_version()); return 0;
                case OPT_CONFIG: src.path = optarg; break;
                case OPT_USER: src.user_instance = true; break;
                case OPT_SOCKET: section = "server"; key = "socket"; break;
                case OPT_SOCKET_GROUP: section = "server"; key = "socket-group"; break;
                case OPT_TCP: section = "server"; key = "tcp"; break;
                case OPT_DEVICE: section = "device"; key = "device"; break;
                case OPT_KV: section = "device"; key = "kv-cache-type"; break;
                case OPT_QUEUE: section = "scheduler"; key = "queue-size"; break;
                case OPT_MAXSEQ: section = "scheduler"; key = "max-sequences"; break;
                case OPT_CONTEXT: src.context = optarg; break;
                case OPT_NO_DBUS: section = "server"; key = "dbus"; optarg = (char *) "no"; break;
                case OPT_MODEL:
                        if (src.n_models >= CONFIG_MAX_MODELS) {
                                fprintf(stderr, "vkinferd: at most %d --model\n", CONFIG_MAX_MODELS);
                                return 2;
                        }
                        src.models[src.n_models++] = optarg;
                        break;
                default: return 2;
                }
                if (section && src.n_flags < ELEMENTSOF(src.flags))
                        src.flags[src.n_flags++] = (struct config_flag){section, key, optarg};
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
        m->source = &src;
        char err[512] = "";
        r = config_build(&m->config, &src, err, sizeof(err));
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
        if (m->engine && vkinfer_engine_validation_messages(m->engine) > 0) {
                log_error("%llu Vulkan validation message(s) were reported",
                          (unsigned long long) vkinfer_engine_validation_messages(m->engine));
                r = -EPROTO;
        }
        manager_free(m);
        return r < 0 ? 1 : 0;
}
