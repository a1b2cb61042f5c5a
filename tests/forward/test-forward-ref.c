/* The Vulkan forward pass against the CPU reference (ref_forward) on every
 * tiny model variant: a prefill longer than one KV block, then decode steps
 * that cross block boundaries; prompts of 1, 16 and 45 tokens on some.
 *
 * Bounds (relative L2 of each logits row):
 *   F32 weights, every variant:                          1e-3 (measured <= 3e-6)
 *   F16, Q8_0, Q4_0 (n_embd 64), Q4_K, Q5_K, Q6_K
 *   (n_embd 256), vs the reference on the same file:     1e-4 (measured <= 2e-6)
 * The reference reads the same quantized weights, so the bounds cover only
 * float accumulation and activations. With an f16 KV cache (the default
 * where the device has 16-bit storage), every variant:  1e-2 (measured
 * <= 1.5e-3 on lavapipe). Also: the absorbed GPU MLA against
 * the reference's expanded form, weights bound in row ranges (a 32 KiB
 * storage range), the memory budget check and the upload progress. */
#include "fwd-test.h"

#include "gguf/gguf.h"
#include "kv/kv.h"

#include <string.h>

#define N_CTX 64
#define PREFILL 19 /* more than one block of KV_BLOCK_TOKENS */
#define DECODE 15  /* to position 33: crosses the blocks at 32 */
#define MAX_TOKENS 48

static double worst;
static enum ref_mla_form mla_form = REF_MLA_ABSORBED;
static uint32_t n_embd; /* 0: the variant's */
static enum runner_kv_type kv_type = RUNNER_KV_F32;

static void run_lengths(struct vk_ctx *ctx, const char *variant, uint32_t type, double tol, uint32_t prefill,
                        uint32_t decode) {
        struct tiny_model tm;
        if (fwd_test_model_embd(variant, type, n_embd, &tm) < 0)
                return;
        const struct model *m = tm.model;
        const uint32_t V = m->hp.n_vocab;
        int32_t tokens[MAX_TOKENS];
        tiny_tokens(42, V, tokens, prefill + decode);

        struct ref_state *rs = NULL;
        float *ref = malloc(sizeof(float) * V * prefill), *got = malloc(sizeof(float) * V);
        struct runner *rn = fwd_test_runner(ctx, m, N_CTX, 2, kv_type);
        int r = ref_state_new(m, N_CTX, mla_form, &rs, &test_err);
        CHECK_OK(r, test_err);
        uint32_t seq = 0;
        if (rn && rs && ref && got) {
                r = rn->ops->seq_open(rn, N_CTX, &seq, &test_err);
                CHECK_OK(r, test_err);
                /* prefill */
                r = ref_forward(m, tokens, prefill, 0, rs, ref, &test_err);
                CHECK_OK(r, test_err);
                if (fwd_test_step1(rn, seq, tokens, prefill, 0, got) >= 0) {
                        double e = rel_l2(got, ref + (size_t) (prefill - 1) * V, V);
                        CHECK(e < tol, "%s %s prefill of %u: rel L2 %.3g >= %.3g", variant, ggml_type_name(type),
                              prefill, e, tol);
                        worst = e > worst ? e : worst;
                }
                /* decode */
                for (uint32_t i = prefill; i < prefill + decode; i++) {
                        r = ref_forward(m, tokens + i, 1, i, rs, ref, &test_err);
                        CHECK_OK(r, test_err);
                        if (fwd_test_step1(rn, seq, tokens + i, 1, i, got) < 0)
                                break;
                        double e = rel_l2(got, ref, V);
                        CHECK(e < tol, "%s %s decode at %u: rel L2 %.3g >= %.3g", variant, ggml_type_name(type), i, e,
                              tol);
                        worst = e > worst ? e : worst;
                }
        }
        if (rn)
                rn->ops->destroy(rn);
        ref_state_free(rs);
        free(ref);
        free(got);
        tiny_model_unload(&tm);
}

static void run_variant(struct vk_ctx *ctx, const char *variant, uint32_t type, double tol) {
        run_lengths(ctx, variant, type, tol, PREFILL, DECODE);
}

struct progress {
        uint64_t last, total;
        unsigned calls;
        bool backwards;
};

static void on_progress(void *userdata, uint64_t done, uint64_t total) {
        struct progress *p = userdata;
        p->backwards |= done < p->last || done > total;
        p->last = done;
        p->total = total;
        p->calls++;
}

/* The budget check refuses a model that does not fit, naming the sizes;
 * the progress callback runs up to its total. */
static void check_budget_progress(struct vk_ctx *ctx) {
        struct tiny_model tm;
        if (fwd_test_model("deepseek2-v3", GGML_TYPE_Q8_0, &tm) < 0)
                return;
        struct runner *rn = NULL;
        struct runner_vk_opts opts = {.device_memory = 1 << 20};
        int r = runner_vk_new_opts(ctx, tm.model, N_CTX, 2, &opts, &rn, &test_err);
        CHECK(r == -ENOMEM && strstr(test_err.msg, "MiB free") && strstr(test_err.msg, "needs"),
              "1 MiB budget: %d %s", r, test_err.msg);
        uint64_t w, kv, act;
        r = runner_vk_estimate(ctx, tm.model, N_CTX, 2, &(struct runner_vk_opts){.kv_type = RUNNER_KV_F32}, &w, &kv,
                               &act, &test_err);
        CHECK_OK(r, test_err);
        CHECK(w >= tm.model->weight_bytes && kv == 2ull * N_CTX * (32 + 16) * 4 * tm.model->hp.n_layer,
              "estimate: weights %llu (file %llu), kv %llu", (unsigned long long) w,
              (unsigned long long) tm.model->weight_bytes, (unsigned long long) kv);
        uint64_t w16, kv16, act16; /* an f16 cache takes half */
        r = runner_vk_estimate(ctx, tm.model, N_CTX, 2, &(struct runner_vk_opts){.kv_type = RUNNER_KV_F16}, &w16,
                               &kv16, &act16, &test_err);
        CHECK(vk_ctx_info(ctx)->storage16 ? r == 0 && kv16 * 2 == kv : r == -EOPNOTSUPP, "f16 estimate: %d, kv %llu",
              r, (unsigned long long) kv16);
        struct progress pr = {0};
        opts = (struct runner_vk_opts) {.progress = on_progress, .progress_data = &pr, .device_memory = w + kv + act};
        r = runner_vk_new_opts(ctx, tm.model, N_CTX, 2, &opts, &rn, &test_err);
        CHECK_OK(r, test_err);
        CHECK(pr.calls > 10 && !pr.backwards && pr.last == pr.total && pr.total == w,
              "progress: %u calls, last %llu of %llu", pr.calls, (unsigned long long) pr.last,
              (unsigned long long) pr.total);
        if (rn)
                rn->ops->destroy(rn);
        tiny_model_unload(&tm);
}

int main(void) {
        struct vk_ctx *ctx = test_ctx(NULL);
        for (size_t i = 0; tiny_model_variants[i]; i++) {
                worst = 0;
                run_variant(ctx, tiny_model_variants[i], GGML_TYPE_F32, 1e-3);
                fprintf(stderr, "%-28s f32  worst rel L2 %.3g\n", tiny_model_variants[i], worst);
        }
        /* Quantized files: the reference reads the same quantized weights,
         * so the bound covers only float accumulation and activations. */
        static const struct {
                uint32_t type;
                double tol;
        } quants[] = {
                {GGML_TYPE_F16, 1e-4},
                {GGML_TYPE_Q8_0, 1e-4},
                {GGML_TYPE_Q4_0, 1e-4},
        };
        static const char *const qvariants[] = {"deepseek2-v3", "deepseek2-v2-yarn-combined", "qwen2"};
        for (size_t q = 0; q < ELEMENTSOF(quants); q++)
                for (size_t v = 0; v < ELEMENTSOF(qvariants); v++) {
                        worst = 0;
                        run_variant(ctx, qvariants[v], quants[q].type, quants[q].tol);
                        fprintf(stderr, "%-28s %-5s worst rel L2 %.3g\n", qvariants[v], ggml_type_name(quants[q].type),
                                worst);
                }
        /* K-quants: rows of 256 (n_embd 256) */
        static const uint32_t kquants[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
        n_embd = 256;
        for (size_t q = 0; q < ELEMENTSOF(kquants); q++)
                for (size_t v = 0; v < ELEMENTSOF(qvariants); v++) {
                        worst = 0;
                        run_variant(ctx, qvariants[v], kquants[q], 1e-4);
                        fprintf(stderr, "%-28s %-5s n_embd 256: worst rel L2 %.3g\n", qvariants[v],
                                ggml_type_name(kquants[q]), worst);
                }
        n_embd = 0;

        /* an f16 cache, where the device has 16-bit storage */
        if (vk_ctx_info(ctx)->storage16) {
                kv_type = RUNNER_KV_F16;
                for (size_t i = 0; tiny_model_variants[i]; i++) {
                        worst = 0;
                        run_variant(ctx, tiny_model_variants[i], GGML_TYPE_F32, 1e-2);
                        fprintf(stderr, "%-28s f32, f16 cache: worst rel L2 %.3g\n", tiny_model_variants[i], worst);
                }
                kv_type = RUNNER_KV_F32;
        }

        /* other prompt lengths: one token, exactly one block, many blocks */
        static const uint32_t lengths[][2] = {{1, 3}, {16, 2}, {45, 3}};
        static const char *const lvariants[] = {"deepseek2-v2-lite", "deepseek2-odd", "llama-mqa-rope-freqs", "qwen2"};
        for (size_t v = 0; v < ELEMENTSOF(lvariants); v++)
                for (size_t i = 0; i < ELEMENTSOF(lengths); i++) {
                        worst = 0;
                        run_lengths(ctx, lvariants[v], GGML_TYPE_F32, 1e-3, lengths[i][0], lengths[i][1]);
                        fprintf(stderr, "%-28s f32 prefill %2u: worst rel L2 %.3g\n", lvariants[v], lengths[i][0], worst);
                }
        /* the reference's expanded MLA computes the same function */
        mla_form = REF_MLA_EXPANDED;
        for (size_t i = 0; tiny_model_variants[i]; i++)
                if (!strncmp(tiny_model_variants[i], "deepseek2", 9)) {
                        worst = 0;
                        run_variant(ctx, tiny_model_variants[i], GGML_TYPE_F32, 1e-3);
                        fprintf(stderr, "%-28s f32 vs expanded MLA: worst rel L2 %.3g\n", tiny_model_variants[i], worst);
                }
        mla_form = REF_MLA_ABSORBED;
        check_budget_progress(ctx);
        test_ctx_done(ctx);

        /* Weights larger than the storage range: bound in row ranges (the
         * tiny models' 64 KiB embeddings with a 32 KiB range). */
        struct vk_opts small = {.max_storage_range = 32 << 10};
        ctx = test_ctx(&small);
        static const char *const svariants[] = {"deepseek2-v3", "deepseek2-v2-yarn-combined", "qwen2-odd-tied"};
        for (size_t v = 0; v < ELEMENTSOF(svariants); v++) {
                worst = 0;
                run_variant(ctx, svariants[v], GGML_TYPE_F32, 1e-3);
                fprintf(stderr, "%-28s f32 in a 32 KiB range: worst rel L2 %.3g\n", svariants[v], worst);
        }
        test_ctx_done(ctx);
        return test_exit("forward-ref");
}
