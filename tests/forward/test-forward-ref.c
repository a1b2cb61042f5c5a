/* The Vulkan forward pass against the CPU reference (ref_forward, absorbed
 * MLA) on every tiny model variant: a prefill longer than one KV block,
 * then decode steps that cross block boundaries; relative L2 of each
 * logits row < 1e-3 with F32 weights. Then F16, Q8_0 and Q4_0 files on a
 * deepseek2 and a qwen2 variant against the reference on the same file. */
#include "fwd-test.h"

#include "gguf/gguf.h"
#include "kv/kv.h"

#define N_CTX 64
#define PREFILL 19 /* more than one block of KV_BLOCK_TOKENS */
#define DECODE 15  /* to position 33: crosses the blocks at 32 */

static double worst;

static void run_variant(struct vk_ctx *ctx, const char *variant, uint32_t type, double tol) {
        struct tiny_model tm;
        if (fwd_test_model(variant, type, &tm) < 0)
                return;
        const struct model *m = tm.model;
        const uint32_t V = m->hp.n_vocab;
        int32_t tokens[PREFILL + DECODE];
        tiny_tokens(42, V, tokens, PREFILL + DECODE);

        struct ref_state *rs = NULL;
        float *ref = malloc(sizeof(float) * V * PREFILL), *got = malloc(sizeof(float) * V);
        struct runner *rn = fwd_test_runner(ctx, m, N_CTX, 2);
        int r = ref_state_new(m, N_CTX, REF_MLA_ABSORBED, &rs, &test_err);
        CHECK_OK(r, test_err);
        uint32_t seq = 0;
        if (rn && rs && ref && got) {
                r = rn->ops->seq_open(rn, N_CTX, &seq, &test_err);
                CHECK_OK(r, test_err);
                /* prefill */
                r = ref_forward(m, tokens, PREFILL, 0, rs, ref, &test_err);
                CHECK_OK(r, test_err);
                if (fwd_test_step1(rn, seq, tokens, PREFILL, 0, got) >= 0) {
                        double e = rel_l2(got, ref + (size_t) (PREFILL - 1) * V, V);
                        CHECK(e < tol, "%s %s prefill: rel L2 %.3g >= %.3g", variant, ggml_type_name(type), e, tol);
                        worst = e > worst ? e : worst;
                }
                /* decode */
                for (uint32_t i = PREFILL; i < PREFILL + DECODE; i++) {
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
        static const char *const qvariants[] = {"deepseek2-v3", "qwen2"};
        for (size_t q = 0; q < ELEMENTSOF(quants); q++)
                for (size_t v = 0; v < ELEMENTSOF(qvariants); v++) {
                        worst = 0;
                        run_variant(ctx, qvariants[v], quants[q].type, quants[q].tol);
                        fprintf(stderr, "%-28s %-5s worst rel L2 %.3g\n", qvariants[v], ggml_type_name(quants[q].type),
                                worst);
                }
        test_ctx_done(ctx);
        return test_exit("forward-ref");
}
