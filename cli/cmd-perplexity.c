/* vkinfer perplexity, with the conventions of llama.cpp's perplexity tool so
 * the figures compare: the whole text tokenized with BOS first (when the
 * model adds one); chunk k is tokens [kN, (k+1)N), an incomplete last chunk
 * dropped; each chunk's first token replaced by BOS; the predictions made at
 * positions N/2 .. N-2 scored; PPL = exp(mean negative log-likelihood). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "sched/runner.h"
#include "tokenizer/tokenizer.h"

static void usage(FILE *out) {
        fprintf(out, "Usage: vkinfer perplexity --model FILE --file TEXT [--ctx N] [--device DEV]\n"
                     "Prints the running estimate per chunk, then 'PPL = <value>' last.\n"
                     "  --ctx N       chunk length (default 512)\n"
                     "  --chunks N    score only the first N chunks\n"
                     "  --device DEV  Vulkan device index or name, or cpu-reference\n"
                     "  --kv-cache-type T  KV cache values: auto (f16 where supported), f16 or f32\n");
}

int cmd_perplexity(int argc, char **argv) {
        static const struct option opts[] = {
                {"model", required_argument, NULL, 'm'}, {"file", required_argument, NULL, 'f'},
                {"ctx", required_argument, NULL, 'c'},   {"device", required_argument, NULL, 'd'},
                {"chunks", required_argument, NULL, 'k'}, {"kv-cache-type", required_argument, NULL, 'K'},
                {"help", no_argument, NULL, 'h'},        {},
        };
        const char *path = NULL, *text_path = NULL, *device = NULL, *kv_name = NULL;
        unsigned long n_ctx = 512, max_chunks = 0;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
                switch (c) {
                case 'm': path = optarg; break;
                case 'f': text_path = optarg; break;
                case 'c': n_ctx = strtoul(optarg, NULL, 10); break;
                case 'd': device = optarg; break;
                case 'k': max_chunks = strtoul(optarg, NULL, 10); break;
                case 'K': kv_name = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        enum runner_kv_type kv;
        if (!path || !text_path || optind < argc || n_ctx < 4 || runner_kv_type_parse(kv_name, &kv) < 0) {
                usage(stderr);
                return 2;
        }
        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        struct model *m = NULL;
        struct tokenizer *tok = NULL;
        struct runner *run = NULL;
        char *text = NULL;
        int32_t *ids = NULL;
        float *logits = NULL;
        size_t n_ids = 0, text_len = 0;
        int rc = 1;
        if (gguf_open(path, &f, &err) < 0 || model_load(f, &m, &err) < 0 || tokenizer_new_from_gguf(f, &tok, &err) < 0 ||
            read_file(text_path, &text, &text_len, &err) < 0 ||
            tokenizer_encode(tok, text, text_len, tokenizer_add_bos(tok), false, &ids, &n_ids, &err) < 0 ||
            runner_open(device, kv, m, (uint32_t) n_ctx, 1, &run, &err) < 0) {
                fprintf(stderr, "vkinfer: %s\n", err.msg);
                goto out;
        }
        size_t n_chunks = n_ids / n_ctx;
        if (max_chunks && n_chunks > max_chunks)
                n_chunks = max_chunks;
        if (n_chunks == 0) {
                fprintf(stderr, "vkinfer: the text has %zu tokens, fewer than one chunk of %lu\n", n_ids, n_ctx);
                goto out;
        }
        logits = malloc(n_ctx * (size_t) run->n_vocab * sizeof(float));
        int32_t *chunk = malloc(n_ctx * sizeof(int32_t));
        if (!logits || !chunk) {
                free(chunk);
                fprintf(stderr, "vkinfer: out of memory\n");
                goto out;
        }
        fprintf(stderr, "perplexity: %zu tokens, %zu chunks of %lu, scoring positions %lu..%lu\n", n_ids, n_chunks,
                n_ctx, n_ctx / 2, n_ctx - 2);
        double nll = 0;
        size_t count = 0;
        int32_t bos = tokenizer_bos(tok);
        for (size_t k = 0; k < n_chunks; k++) {
                memcpy(chunk, ids + k * n_ctx, n_ctx * sizeof(int32_t));
                if (tokenizer_add_bos(tok) && bos >= 0)
                        chunk[0] = bos;
                if (runner_logits_all(run, chunk, (uint32_t) n_ctx, logits, &err) < 0) {
                        fprintf(stderr, "vkinfer: %s\n", err.msg);
                        free(chunk);
                        goto out;
                }
                for (size_t j = n_ctx / 2; j + 1 < n_ctx; j++) {
                        const float *row = logits + j * run->n_vocab;
                        double max = row[0], sum = 0;
                        for (uint32_t v = 1; v < run->n_vocab; v++)
                                if (row[v] > max)
                                        max = row[v];
                        for (uint32_t v = 0; v < run->n_vocab; v++)
                                sum += exp((double) row[v] - max);
                        nll += -((double) row[ids[k * n_ctx + j + 1]] - max - log(sum));
                        count++;
                }
                printf("[%zu]%.4f%s", k + 1, exp(nll / (double) count), k + 1 < n_chunks ? "," : "\n");
                fflush(stdout);
        }
        free(chunk);
        printf("PPL = %.4f\n", exp(nll / (double) count));
        rc = 0;
        if (run->ops->validation_messages && run->ops->validation_messages(run) > 0) {
                fprintf(stderr, "vkinfer: %llu Vulkan validation message(s)\n",
                        (unsigned long long) run->ops->validation_messages(run));
                rc = 1;
        }
out:
        free(logits);
        free(ids);
        free(text);
        if (run)
                run->ops->destroy(run);
        tokenizer_free(tok);
        model_free(m);
        gguf_close(f);
        return rc;
}
