/* Every named tiny variant in every weight type loads and runs; the logits
 * of a quantized model stay within a loose bound of the same seed's F32
 * model (a quantizer or dequantizer that scrambles blocks would not), and
 * the figures are printed: they tell what a GPU-vs-CPU comparison on a
 * quantized model may not blame on quantization. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "model/ref.h"
#include "tiny-models.h"

#define N_TOKENS 12

/* Bounds on the rel L2 of the logits against F32 weights. Loose: a tiny
 * random MoE flips a routing decision now and then when its weights move
 * (deepseek2-v3 in BF16 and Q8_0 measures 8.7e-2 that way), and Q4_0 moves
 * them a lot; logits of unrelated weights measure about 1.4. */
static const struct {
        uint32_t type;
        double bound;
} types[] = {
        {GGML_TYPE_F16, 5e-3},
        {GGML_TYPE_BF16, 0.15},
        {GGML_TYPE_Q8_0, 0.15},
        {GGML_TYPE_Q4_0, 0.8},
};

int main(void) {
        for (size_t v = 0; tiny_model_variants[v]; v++) {
                struct tiny_model_opts o;
                struct vkinfer_err err = {0};
                int32_t tokens[N_TOKENS];
                float *base = NULL;

                CHECK(tiny_model_variant(tiny_model_variants[v], &o) == 0, "variant");
                tiny_tokens(v + 1, o.n_vocab, tokens, N_TOKENS);
                int r = tiny_model_ref_logits(&o, REF_MLA_ABSORBED, tokens, N_TOKENS, &base, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                fprintf(stderr, "%-28s", tiny_model_variants[v]);
                for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                        float *q = NULL;
                        o.type = types[i].type;
                        r = tiny_model_ref_logits(&o, REF_MLA_ABSORBED, tokens, N_TOKENS, &q, &err);
                        CHECK_OK(r, err);
                        if (r < 0)
                                continue;
                        double e = rel_l2(q, base, (size_t) N_TOKENS * o.n_vocab);
                        /* nonzero: the weights really are quantized (the odd
                         * variants have no rows that fit 32-value blocks) */
                        bool all_f32 = strstr(tiny_model_variants[v], "odd") && types[i].type != GGML_TYPE_F16 &&
                                       types[i].type != GGML_TYPE_BF16;
                        CHECK((e > 0 || all_f32) && e < types[i].bound, "%s %s: rel L2 %.3g vs F32 (bound %.g)",
                              tiny_model_variants[v], ggml_type_name(types[i].type), e, types[i].bound);
                        fprintf(stderr, "  %s %.2e", ggml_type_name(types[i].type), e);
                        free(q);
                }
                fputc('\n', stderr);
                free(base);
        }
        return test_exit("test-ref-quant");
}
