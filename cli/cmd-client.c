/* The CLI's daemon commands: vkinfer models, vkinfer status and vkinfer
 * chat, all over vkinferd's socket (--socket, VKINFER_SOCKET). */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"

/* Prints the OpenAI-style error of a failed answer. */
static int print_http_error(int status, const char *body) {
        json_t *j = json_loads(body, 0, NULL);
        const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        fprintf(stderr, "vkinfer: vkinferd answered %d: %s\n", status, msg ? msg : body);
        json_decref(j);
        return 1;
}

/* Options of the chat request (vkinfer chat only). */
struct chat_opts {
        long max_tokens;   /* 0: the server's default */
        double temperature; /* < 0: the server's default */
};

static int parse_socket_opt(int argc, char **argv, const char **sock, const char *usage, const char **model,
                            int *first_arg, struct chat_opts *co) {
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"model", required_argument, NULL, 'm'},
                {"max-tokens", required_argument, NULL, 'n'},
                {"temperature", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        *sock = client_default_socket();
        optind = 1;
        while ((c = getopt_long(argc, argv, "hm:", opts, NULL)) >= 0) {
                switch (c) {
                case 's': *sock = optarg; break;
                case 'm':
                        if (!model)
                                goto bad;
                        *model = optarg;
                        break;
                case 'n':
                        if (!co || (co->max_tokens = strtol(optarg, NULL, 10)) < 1)
                                goto bad;
                        break;
                case 't':
                        if (!co || (co->temperature = strtod(optarg, NULL)) < 0)
                                goto bad;
                        break;
                case 'h': printf("%s", usage); return 0;
                default: goto bad;
                }
        }
        *first_arg = optind;
        return -1;
bad:
        fprintf(stderr, "%s", usage);
        return 2;
}

int cmd_models(int argc, char **argv) {
        const char *sock;
        int first, r = parse_socket_opt(argc, argv, &sock, "Usage: vkinfer models [--socket PATH]\n", NULL, &first, NULL);
        if (r >= 0)
                return r;
        int status;
        char *body;
        if (client_request(sock, "GET", "/v1/models", NULL, &status, &body) < 0)
                return 1;
        if (status != 200) {
                r = print_http_error(status, body);
                free(body);
                return r;
        }
        json_t *j = json_loads(body, 0, NULL), *m;
        size_t i;
        json_array_foreach(json_object_get(j, "data"), i, m) {
                json_t *meta = json_object_get(m, "meta");
                printf("%s%s\t%s\tcontext %lld\t%.1fM parameters\n", json_string_value(json_object_get(m, "id")),
                       i == 0 ? " (default)" : "", json_string_value(json_object_get(meta, "architecture")),
                       (long long) json_integer_value(json_object_get(meta, "context_length")),
                       (double) json_integer_value(json_object_get(meta, "parameters")) / 1e6);
        }
        json_decref(j);
        free(body);
        return 0;
}

int cmd_status(int argc, char **argv) {
        const char *sock;
        int first, r = parse_socket_opt(argc, argv, &sock, "Usage: vkinfer status [--socket PATH]\n", NULL, &first, NULL);
        if (r >= 0)
                return r;
        int status;
        char *body;
        if (client_request(sock, "GET", "/status", NULL, &status, &body) < 0)
                return 1;
        if (status != 200) {
                r = print_http_error(status, body);
                free(body);
                return r;
        }
        json_t *j = json_loads(body, 0, NULL), *m, *kv = json_object_get(j, "kv_cache");
        printf("vkinferd %s (%s) on %s\n", json_string_value(json_object_get(j, "version")),
               json_string_value(json_object_get(j, "state")), json_string_value(json_object_get(j, "device")));
        size_t i;
        json_array_foreach(json_object_get(j, "models"), i, m)
                printf("model:    %s (%s, context %lld, %s KV cache)\n", json_string_value(json_object_get(m, "name")),
                       json_string_value(json_object_get(m, "architecture")),
                       (long long) json_integer_value(json_object_get(m, "context_length")),
                       json_string_value(json_object_get(m, "kv_cache_type")));
        printf("queued:   %lld\nrunning:  %lld\nkv cache: %lld of %lld blocks in use\n",
               (long long) json_integer_value(json_object_get(j, "queued")),
               (long long) json_integer_value(json_object_get(j, "running")),
               (long long) json_integer_value(json_object_get(kv, "blocks_used")),
               (long long) json_integer_value(json_object_get(kv, "blocks_total")));
        json_decref(j);
        free(body);
        return 0;
}

struct chat_state {
        bool tty;
        bool in_reasoning;
        char *answer; /* the assistant's reply, for the history */
        size_t len;
        char error[512];
};

static void on_chat_event(const char *data, void *userdata) {
        struct chat_state *s = userdata;
        if (strcmp(data, "[DONE]") == 0)
                return;
        json_t *j = json_loads(data, 0, NULL);
        json_t *err = json_object_get(j, "error");
        if (err) {
                snprintf(s->error, sizeof(s->error), "%s", json_string_value(json_object_get(err, "message")));
                json_decref(j);
                return;
        }
        json_t *delta = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta");
        const char *reasoning = json_string_value(json_object_get(delta, "reasoning_content"));
        const char *content = json_string_value(json_object_get(delta, "content"));
        if (reasoning && *reasoning) {
                if (!s->in_reasoning && s->tty)
                        fputs("\033[2m", stdout); /* reasoning shown dimmed */
                s->in_reasoning = true;
                fputs(reasoning, stdout);
        }
        if (content && *content) {
                if (s->in_reasoning) {
                        if (s->tty)
                                fputs("\033[0m", stdout);
                        fputs("\n", stdout);
                        s->in_reasoning = false;
                }
                fputs(content, stdout);
                size_t n = strlen(content);
                s->answer = realloc(s->answer, s->len + n + 1);
                memcpy(s->answer + s->len, content, n + 1);
                s->len += n;
        }
        fflush(stdout);
        json_decref(j);
}

/* Sends the conversation so far; appends the answer to it. */
static int chat_turn(const char *sock, const char *model, json_t *messages, bool tty, const struct chat_opts *co) {
        json_t *req = json_pack("{s:O, s:b}", "messages", messages, "stream", true);
        if (co->max_tokens > 0)
                json_object_set_new(req, "max_tokens", json_integer(co->max_tokens));
        if (co->temperature >= 0)
                json_object_set_new(req, "temperature", json_real(co->temperature));
        if (model)
                json_object_set_new(req, "model", json_string(model));
        char *body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        struct chat_state s = {.tty = tty};
        int status;
        char *resp = NULL;
        int r = client_stream(sock, "/v1/chat/completions", body, on_chat_event, &s, &status, &resp);
        free(body);
        if (s.in_reasoning && tty)
                fputs("\033[0m", stdout);
        fputs("\n", stdout);
        if (r < 0) {
                free(s.answer);
                return 1;
        }
        if (status != 200)
                r = print_http_error(status, resp);
        else if (s.error[0]) {
                fprintf(stderr, "vkinfer: %s\n", s.error);
                r = 1;
        } else {
                json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "assistant", "content",
                                                          s.answer ? s.answer : ""));
        }
        free(resp);
        free(s.answer);
        return r;
}

int cmd_chat(int argc, char **argv) {
        const char *sock, *model = NULL;
        struct chat_opts co = {.max_tokens = 0, .temperature = -1};
        int first, r = parse_socket_opt(argc, argv, &sock,
                                        "Usage: vkinfer chat [--model M] [--socket PATH] [--max-tokens N]\n"
                                        "                    [--temperature T] [TEXT]\n"
                                        "Streams the answer of vkinferd; interactive when TEXT is not given.\n"
                                        "Reasoning (<think>) is shown dimmed.\n",
                                        &model, &first, &co);
        if (r >= 0)
                return r;
        bool tty = isatty(STDOUT_FILENO);
        json_t *messages = json_array();
        if (first < argc) {
                size_t n = 0;
                for (int i = first; i < argc; i++)
                        n += strlen(argv[i]) + 1;
                char *text = calloc(1, n + 1);
                for (int i = first; i < argc; i++) {
                        if (i > first)
                                strcat(text, " ");
                        strcat(text, argv[i]);
                }
                json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "user", "content", text));
                free(text);
                r = chat_turn(sock, model, messages, tty, &co);
                json_decref(messages);
                return r;
        }
        char *line = NULL;
        size_t cap = 0;
        bool failed = false; /* a failed turn is left out, and the exit status says so */
        for (;;) {
                if (isatty(STDIN_FILENO)) {
                        fputs("> ", stdout);
                        fflush(stdout);
                }
                ssize_t n = getline(&line, &cap, stdin);
                if (n < 0)
                        break;
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = 0;
                if (n == 0)
                        continue;
                json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "user", "content", line));
                if (chat_turn(sock, model, messages, tty, &co) != 0) {
                        json_array_remove(messages, json_array_size(messages) - 1);
                        failed = true;
                }
        }
        free(line);
        json_decref(messages);
        return failed ? 1 : 0;
}
