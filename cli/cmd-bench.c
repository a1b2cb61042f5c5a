/* vkinfer bench: prefill and decode speed of the Vulkan forward pass on a
 * model file, with each figure's effective bandwidth (bytes of weights and
 * KV cache read per decoded token × tokens/s) against the device's copy
 * bandwidth, measured by the same command in the same run. Decode at batch
 * 1 cannot beat bandwidth / bytes per token; that ratio is the figure that
 * says how close the kernels are to the hardware. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "forward/forward.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "vk/vk.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *out) {
        fprintf(out, "Usage: vkinfer bench --model FILE [-p N] [-n N] [-r R] [--device DEV] [--kv-cache-type T]\n"
                     "  -p N   prompt tokens for the prefill figure (default 512)\n"
                     "  -n N   tokens decoded for the decode figure (default 128)\n"
                     "  -r R   repetitions; the median is reported (default 3)\n"
                     "  --kv-cache-type T   KV cache values: auto (f16 where supported), f16 or f32\n");
}

int cmd_bench(int argc, char **argv) {
        static const struct option opts[] = {
                {"model", required_argument, NULL, 'm'}, {"device", required_argument, NULL, 'd'},
                {"kv-cache-type", required_argument, NULL, 'K'},
                {"help", no_argument, NULL, 'h'},        {},
        };
        const char *path = NULL, *device = NULL, *kv_name = NULL;
        long n_prompt = 512, n_decode = 128, reps = 3;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "hp:n:r:", opts, NULL)) >= 0) {
                switch (c) {
                case 'm': path = optarg; break;
                case 'd': device = optarg; break;
                case 'K': kv_name = optarg; break;
                case 'p': n_prompt = strtol(optarg, NULL, 10); break;
                case 'n': n_decode = strtol(optarg, NULL, 10); break;
                case 'r': reps = strtol(optarg, NULL, 10); break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        enum runner_kv_type kv;
        if (!path || optind < argc || n_prompt < 1 || n_decode < 1 || reps < 1 || reps > 100 ||
            runner_kv_type_parse(kv_name, &kv) < 0) {
                usage(stderr);
                return 2;
        }
        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        struct model *m = NULL;
        struct vk_ctx *ctx = NULL;
        struct runner *run = NULL;
        int32_t *tokens = NULL;
        float *logits = NULL;
        double *pre = calloc((size_t) reps, sizeof(double)), *dec = calloc((size_t) reps, sizeof(double));
        int rc = 1;
        struct vk_opts vo = {.device = device};
        double bw = 0;
        if (gguf_open(path, &f, &err) < 0 || model_load(f, &m, &err) < 0 || vk_ctx_create(&vo, &ctx, &err) < 0 ||
            vk_measure_copy_bandwidth(ctx, 64ull << 20, 8, &bw, &err) < 0 ||
            runner_vk_new_opts(ctx, m, (uint32_t) (n_prompt + n_decode + 1), 1, &(struct runner_vk_opts){.kv_type = kv},
                               &run, &err) < 0) {
                fprintf(stderr, "vkinfer: %s\n", err.msg);
                goto out;
        }
        tokens = malloc((size_t) (n_prompt + n_decode + 1) * sizeof(*tokens));
        logits = malloc((size_t) run->n_vocab * sizeof(float));
        if (!tokens || !logits || !pre || !dec)
                goto out;
        for (long i = 0; i < n_prompt; i++)
                tokens[i] = (int32_t) ((i * 7919 + 13) % run->n_vocab); /* any fixed prompt */
        for (long rep = 0; rep < reps; rep++) {
                uint32_t seq;
                if (run->ops->seq_open(run, (uint32_t) (n_prompt + n_decode + 1), &seq, &err) < 0)
                        goto fail;
                double t0 = now_s();
                for (long done = 0; done < n_prompt;) {
                        uint32_t k = (uint32_t) (n_prompt - done < run->max_tokens ? n_prompt - done : run->max_tokens);
                        struct runner_item it = {seq, tokens + done, k, (uint32_t) done, done + k == n_prompt, false};
                        if (run->ops->step(run, &it, 1, logits, &err) < 0)
                                goto fail;
                        done += k;
                }
                double t1 = now_s();
                for (long i = 0; i < n_decode; i++) {
                        uint32_t best = 0; /* greedy: a real stream of tokens */
                        for (uint32_t v = 1; v < run->n_vocab; v++)
                                if (logits[v] > logits[best])
                                        best = v;
                        tokens[n_prompt + i] = (int32_t) best;
                        struct runner_item it = {seq, tokens + n_prompt + i, 1, (uint32_t) (n_prompt + i), true, false};
                        if (run->ops->step(run, &it, 1, logits, &err) < 0)
                                goto fail;
                }
                double t2 = now_s();
                run->ops->seq_close(run, seq);
                pre[rep] = (double) n_prompt / (t1 - t0);
                dec[rep] = (double) n_decode / (t2 - t1);
                fprintf(stderr, "run %ld: prefill %.1f tokens/s, decode %.2f tokens/s\n", rep + 1, pre[rep], dec[rep]);
        }
        double p_tps = median(pre, (size_t) reps), d_tps = median(dec, (size_t) reps);
        uint64_t wbytes, kvbytes; /* at the middle of the decoded tokens */
        runner_vk_decode_bytes(m, (uint32_t) (n_prompt + n_decode / 2), run->kv_value_bytes, &wbytes, &kvbytes);
        double per_token = (double) (wbytes + kvbytes);
        const struct vk_device_info *di = vk_ctx_info(ctx);
        printf("device:            %s (%s)\n", di->name, vk_device_type_string(di->type));
        printf("model:             %s (%s, %.1f MiB of weights, %.2f MiB read per decoded token)\n", path,
               model_arch_name(m->hp.arch), (double) m->weight_bytes / 1048576.0, per_token / 1048576.0);
        printf("KV cache:          %s\n", run->kv_value_bytes == 2 ? "f16" : "f32");
        printf("copy bandwidth:    %.2f GB/s (device to device, measured now)\n", bw / 1e9);
        printf("prefill %-5ld     %.1f tokens/s (median of %ld)\n", n_prompt, p_tps, reps);
        printf("decode  %-5ld     %.2f tokens/s (median of %ld): %.2f GB/s effective, %.1f%% of copy bandwidth\n",
               n_decode, d_tps, reps, per_token * d_tps / 1e9, 100.0 * per_token * d_tps / bw);
        rc = 0;
        if (vk_ctx_validation_count(ctx) > 0) {
                fprintf(stderr, "vkinfer: %llu Vulkan validation message(s)\n",
                        (unsigned long long) vk_ctx_validation_count(ctx));
                rc = 1;
        }
        goto out;
fail:
        fprintf(stderr, "vkinfer: %s\n", err.msg);
out:
        free(pre);
        free(dec);
        free(tokens);
        free(logits);
        if (run)
                run->ops->destroy(run);
        vk_ctx_destroy(ctx);
        model_free(m);
        gguf_close(f);
        return rc;
}
