/* vkinfer run: generate from a model file directly (no daemon), streaming
 * the text as it comes; prefill and decode speed go to standard error. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "vkinfer/engine.h"

struct waiter {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool signalled;
};

static void on_notify(void *userdata) {
        struct waiter *w = userdata;
        pthread_mutex_lock(&w->lock);
        w->signalled = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

/* A progress bar on a terminal's standard error while the weights upload. */
static void on_load_progress(void *userdata, const char *model, uint64_t done, uint64_t total) {
        static int last = -1;
        if (!isatty(STDERR_FILENO) || total == 0)
                return;
        int pct = (int) (done * 100 / total);
        if (pct == last)
                return;
        last = pct;
        char bar[41];
        for (int i = 0; i < 40; i++)
                bar[i] = i < pct * 40 / 100 ? '#' : '.';
        bar[40] = 0;
        fprintf(stderr, "\rloading weights [%s] %3d%% of %.0f MiB%s", bar, pct, (double) total / 1048576.0,
                done >= total ? "\n" : "");
}

static void usage(FILE *out) {
        fprintf(out, "Usage: vkinfer run --model FILE (--prompt TEXT | --chat TEXT) [OPTIONS]\n"
                     "Generates text and streams it; --chat applies the model's chat template.\n\n"
                     "  --max-tokens N      tokens to generate at most (default 256)\n"
                     "  --temperature T     0 is greedy (default 0.8)\n"
                     "  --top-p P           nucleus sampling (default 0.95)\n"
                     "  --top-k K           (default 40; 0 = off)\n"
                     "  --min-p P           (default 0.05)\n"
                     "  --seed S            random seed (default: random)\n"
                     "  --ctx N             context length (default: the model's, at most 4096)\n"
                     "  --device DEV        Vulkan device index or name, or cpu-reference\n"
                     "  --kv-cache-type T   KV cache values: auto (f16 where supported), f16 or f32\n"
                     "  --ignore-eos        keep going past end-of-generation tokens\n");
}

int cmd_run(int argc, char **argv) {
        static const struct option opts[] = {
                {"model", required_argument, NULL, 'm'},  {"prompt", required_argument, NULL, 'p'},
                {"chat", required_argument, NULL, 'c'},   {"max-tokens", required_argument, NULL, 'n'},
                {"temperature", required_argument, NULL, 't'}, {"top-p", required_argument, NULL, 'P'},
                {"top-k", required_argument, NULL, 'k'},  {"min-p", required_argument, NULL, 'M'},
                {"seed", required_argument, NULL, 's'},   {"ctx", required_argument, NULL, 'x'},
                {"device", required_argument, NULL, 'd'}, {"ignore-eos", no_argument, NULL, 'i'},
                {"kv-cache-type", required_argument, NULL, 'K'},
                {"help", no_argument, NULL, 'h'},         {},
        };
        const char *model = NULL, *prompt = NULL, *chat = NULL, *device = NULL, *kv = NULL;
        struct vkinfer_gen_params p = {
                .max_tokens = 256,
                .top_logprobs = -1,
                .sampling = {.temperature = 0.8f, .top_p = 0.95f, .top_k = 40, .min_p = 0.05f, .repeat_penalty = 1.0f},
        };
        unsigned long ctx = 0;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case 'm': model = optarg; break;
                case 'p': prompt = optarg; break;
                case 'c': chat = optarg; break;
                case 'n': p.max_tokens = atoll(optarg); break;
                case 't': p.sampling.temperature = strtof(optarg, NULL); break;
                case 'P': p.sampling.top_p = strtof(optarg, NULL); break;
                case 'k': p.sampling.top_k = atoi(optarg); break;
                case 'M': p.sampling.min_p = strtof(optarg, NULL); break;
                case 's':
                        p.sampling.seed = strtoull(optarg, NULL, 0);
                        p.sampling.has_seed = true;
                        break;
                case 'x': ctx = strtoul(optarg, NULL, 10); break;
                case 'd': device = optarg; break;
                case 'i': p.ignore_eos = true; break;
                case 'K': kv = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (!model || (!prompt == !chat) || optind < argc || p.max_tokens < 1 || p.sampling.temperature < 0) {
                usage(stderr);
                return 2;
        }
        struct vkinfer_engine_config cfg = {.device = device, .kv_cache_type = kv, .max_sequences = 1,
                                            .load_progress = on_load_progress};
        struct vkinfer_engine *e = NULL;
        struct vkinfer_error err = {{0}};
        if (vkinfer_engine_new(&cfg, &e, &err) < 0 ||
            vkinfer_engine_add_model(e, "model", model, (uint32_t) ctx, &err) < 0) {
                fprintf(stderr, "vkinfer: %s\n", err.message);
                vkinfer_engine_free(e);
                return 1;
        }
        struct vkinfer_message msg = {"user", chat, NULL};
        if (chat) {
                p.messages = &msg;
                p.n_messages = 1;
        } else {
                p.prompt = prompt;
        }
        struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
        struct vkinfer_request *req = NULL;
        if (vkinfer_engine_submit(e, &p, on_notify, &w, &req, &err) < 0) {
                fprintf(stderr, "vkinfer: %s\n", err.message);
                vkinfer_engine_free(e);
                return 1;
        }
        bool tty = isatty(STDOUT_FILENO), in_reasoning = false;
        struct vkinfer_output o = {0};
        for (;;) {
                pthread_mutex_lock(&w.lock);
                while (!w.signalled)
                        pthread_cond_wait(&w.cond, &w.lock);
                w.signalled = false;
                pthread_mutex_unlock(&w.lock);
                vkinfer_request_take(req, &o);
                if (*o.reasoning) {
                        if (!in_reasoning && tty)
                                fputs("\033[2m", stdout);
                        in_reasoning = true;
                        fputs(o.reasoning, stdout);
                }
                if (*o.content) {
                        if (in_reasoning && tty)
                                fputs("\033[0m", stdout);
                        in_reasoning = false;
                        fputs(o.content, stdout);
                }
                fflush(stdout);
                free(o.content);
                free(o.reasoning);
                free(o.logprobs);
                if (o.finish != VKINFER_RUNNING)
                        break;
        }
        if (in_reasoning && tty)
                fputs("\033[0m", stdout);
        fputs("\n", stdout);
        int rc = 0;
        if (o.finish == VKINFER_FINISH_ERROR) {
                fprintf(stderr, "vkinfer: %s\n", o.error);
                rc = 1;
        }
        fprintf(stderr, "prefill: %u tokens in %.1f ms (%.1f tokens/s); decode: %u tokens in %.1f ms (%.1f tokens/s)\n",
                o.prompt_tokens, o.prompt_ms, o.prompt_ms > 0 ? o.prompt_tokens * 1e3 / o.prompt_ms : 0.0,
                o.completion_tokens, o.decode_ms,
                o.decode_ms > 0 && o.completion_tokens > 1 ? (o.completion_tokens - 1) * 1e3 / o.decode_ms : 0.0);
        vkinfer_request_free(req);
        if (vkinfer_engine_validation_messages(e) > 0) {
                fprintf(stderr, "vkinfer: %llu Vulkan validation message(s)\n",
                        (unsigned long long) vkinfer_engine_validation_messages(e));
                rc = 1;
        }
        vkinfer_engine_free(e);
        return rc;
}
