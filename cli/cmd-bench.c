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
#include "ops/bench.h"
#include "ops/ops.h"
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
                     "       vkinfer bench --matvec TYPES [--shape COLSxROWS] [--vectors N] [-r R] [--device DEV]\n"
                     "  -p N   prompt tokens for the prefill figure (default 512)\n"
                     "  -n N   tokens decoded for the decode figure (default 128)\n"
                     "  -r R   repetitions; the median is reported (default 3)\n"
                     "  --kv-cache-type T   KV cache values: auto (f16 where supported), f16 or f32\n"
                     "  --matvec TYPES      the matvec kernel of each weight type (comma-separated names,\n"
                     "                      or all), per byte of weights against Q4_0's\n"
                     "  --shape COLSxROWS   the matrix of --matvec (default 2048x1408)\n"
                     "  --vectors N         vectors per --matvec call, as a prompt's tokens (default 1)\n");
}

/* The matvec kernel of each type on one matrix shape: 50 calls per
 * submission, the types alternated within each repetition (so a noisy
 * moment hits all of them), the median per type. Reported per byte of
 * weights, against Q4_0, which decoding is judged by. */
static int bench_matvec(const char *device, const char *types, const char *shape, long nvec, long reps) {
        unsigned ncols = 2048, nrows = 1408;
        if (shape && (sscanf(shape, "%ux%u", &ncols, &nrows) != 2 || !ncols || !nrows)) {
                fprintf(stderr, "vkinfer: --shape %s: expected COLSxROWS, e.g. 2048x1408\n", shape);
                return 2;
        }
        uint32_t list[GGML_TYPE_COUNT_ + 1];
        size_t n = 0;
        list[n++] = GGML_TYPE_Q4_0; /* the reference, always first */
        for (uint32_t t = 0; t < GGML_TYPE_COUNT_; t++) {
                const char *name = ggml_type_info(t) ? ggml_type_info(t)->name : NULL;
                size_t len = name ? strlen(name) : 0;
                bool want = false;
                for (const char *p = types; name && (p = strcasestr(p, name)); p += len)
                        want = want || ((p == types || p[-1] == ',') && (p[len] == ',' || !p[len]));
                if (t != GGML_TYPE_Q4_0 && op_weight_type_supported(t) && (want || !strcmp(types, "all")))
                        list[n++] = t;
        }
        if (n == 1 && strcasecmp(types, "Q4_0") && strcasecmp(types, "all")) {
                fprintf(stderr, "vkinfer: --matvec %s: no weight type the kernels read\n", types);
                return 2;
        }
        struct vkinfer_err err = {{0}};
        struct vk_ctx *ctx = NULL;
        struct vk_opts vo = {.device = device};
        double *sec = calloc(n * (size_t) reps, sizeof(double));
        int rc = 1;
        if (!sec || vk_ctx_create(&vo, &ctx, &err) < 0)
                goto fail;
        for (long rep = 0; rep < reps; rep++)
                for (size_t i = 0; i < n; i++) {
                        struct ops_bench_result br;
                        if (ggml_type_info(list[i])->block_size > ncols || ncols % ggml_type_info(list[i])->block_size) {
                                sec[i * (size_t) reps + (size_t) rep] = -1;
                                continue;
                        }
                        if (ops_bench_matvec(ctx, list[i], ncols, nrows, (uint32_t) nvec, 50, &br, &err) < 0)
                                goto fail;
                        sec[i * (size_t) reps + (size_t) rep] = br.seconds;
                }
        printf("device: %s (%s); matvec %u columns x %u rows, %ld vector(s), median of %ld\n", vk_ctx_info(ctx)->name,
               vk_device_type_string(vk_ctx_info(ctx)->type), ncols, nrows, nvec, reps);
        printf("%-8s %12s %10s %12s %12s %14s\n", "type", "bits/weight", "us/call", "us/vector", "weight GB/s",
               "time/byte vs Q4_0");
        double q4_per_byte = 0;
        for (size_t i = 0; i < n; i++) {
                const struct ggml_type_info *ti = ggml_type_info(list[i]);
                if (sec[i * (size_t) reps] < 0) {
                        printf("%-8s (rows of %u columns are not whole %u-element blocks)\n", ti->name, ncols,
                               ti->block_size);
                        continue;
                }
                double t = median(sec + i * (size_t) reps, (size_t) reps);
                double bytes = (double) ncols / ti->block_size * ti->type_size * nrows;
                if (i == 0)
                        q4_per_byte = t / bytes;
                printf("%-8s %12.3f %10.1f %12.1f %12.2f %13.2fx\n", ti->name, 8.0 * ti->type_size / ti->block_size,
                       t * 1e6, t * 1e6 / (double) nvec, bytes / t / 1e9, t / bytes / q4_per_byte);
        }
        rc = vk_ctx_validation_count(ctx) > 0 ? 1 : 0;
        if (rc)
                fprintf(stderr, "vkinfer: %llu Vulkan validation message(s)\n",
                        (unsigned long long) vk_ctx_validation_count(ctx));
        goto out;
fail:
        fprintf(stderr, "vkinfer: %s\n", err.msg);
out:
        free(sec);
        vk_ctx_destroy(ctx);
        return rc;
}

int cmd_bench(int argc, char **argv) {
        static const struct option opts[] = {
                {"model", required_argument, NULL, 'm'}, {"device", required_argument, NULL, 'd'},
                {"kv-cache-type", required_argument, NULL, 'K'}, {"matvec", required_argument, NULL, 'M'},
                {"shape", required_argument, NULL, 'S'}, {"vectors", required_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},        {},
        };
        const char *path = NULL, *device = NULL, *kv_name = NULL, *matvec = NULL, *shape = NULL;
        long n_prompt = 512, n_decode = 128, reps = 3, nvec = 1;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "hp:n:r:", opts, NULL)) >= 0) {
                switch (c) {
                case 'm': path = optarg; break;
                case 'd': device = optarg; break;
                case 'K': kv_name = optarg; break;
                case 'M': matvec = optarg; break;
                case 'S': shape = optarg; break;
                case 'V': nvec = strtol(optarg, NULL, 10); break;
                case 'p': n_prompt = strtol(optarg, NULL, 10); break;
                case 'n': n_decode = strtol(optarg, NULL, 10); break;
                case 'r': reps = strtol(optarg, NULL, 10); break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (matvec && !path && optind == argc && reps >= 1 && reps <= 100 && nvec >= 1 && nvec <= 4096)
                return bench_matvec(device, matvec, shape, nvec, reps);
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
        /* The last step recorded was a decode step: what a GPU pays for
         * besides the bytes (each barrier drains the device). */
        uint32_t n_disp, n_barr;
        runner_vk_step_counts(run, &n_disp, &n_barr);
        printf("decode step:       %u dispatches, %u barriers (%.1f dispatches per layer of %u)\n", n_disp, n_barr,
               (double) n_disp / m->hp.n_layer, m->hp.n_layer);
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
