/* Golden greedy continuations of every named tiny variant (F32, seed 1):
 * a refactor of the reference or of the tiny-model writer that changes
 * what they compute shows up here. Run with VKINFER_GOLDEN_PRINT=1 to
 * print the table anew (only after checking why it changed). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/ref.h"
#include "tiny-models.h"

#define N_PROMPT 6
#define N_GEN 10

static const struct {
        const char *variant;
        int32_t tokens[N_GEN];
} golden[] = {
#include "golden-tokens.inc"
};

/* Greedy decoding: prefill the prompt, then one token at a time. */
static int generate(const struct model *m, int form, const int32_t *prompt, int32_t *out) {
        struct ref_state *s = NULL;
        struct vkinfer_err err = {0};
        const uint32_t n_vocab = m->hp.n_vocab;
        float *logits = calloc((size_t) N_PROMPT * n_vocab, sizeof(float));
        int r = logits ? ref_state_new(m, N_PROMPT + N_GEN, form, &s, &err) : -1;
        if (r >= 0)
                r = ref_forward(m, prompt, N_PROMPT, 0, s, logits, &err);
        const float *last = logits + (size_t) (N_PROMPT - 1) * n_vocab;
        for (int i = 0; r >= 0 && i < N_GEN; i++) {
                int32_t best = 0;
                for (uint32_t v = 1; v < n_vocab; v++)
                        if (last[v] > last[best])
                                best = (int32_t) v;
                out[i] = best;
                if (i + 1 < N_GEN)
                        r = ref_forward(m, &best, 1, N_PROMPT + i, s, logits, &err);
                last = logits;
        }
        CHECK_OK(r, err);
        ref_state_free(s);
        free(logits);
        return r;
}

int main(void) {
        const bool print = getenv("VKINFER_GOLDEN_PRINT") != NULL;
        for (size_t v = 0; tiny_model_variants[v]; v++) {
                const char *name = tiny_model_variants[v];
                struct tiny_model_opts o;
                struct tiny_model t;
                struct vkinfer_err err = {0};
                int32_t prompt[N_PROMPT], out[N_GEN], out_expanded[N_GEN];

                tiny_model_variant(name, &o);
                tiny_tokens(100 + v, o.n_vocab, prompt, N_PROMPT);
                int r = tiny_model_load(&o, &t, &err);
                CHECK_OK(r, err);
                if (r < 0)
                        continue;
                if (generate(t.model, REF_MLA_ABSORBED, prompt, out) < 0 ||
                    generate(t.model, REF_MLA_EXPANDED, prompt, out_expanded) < 0) {
                        tiny_model_unload(&t);
                        continue;
                }
                CHECK(memcmp(out, out_expanded, sizeof(out)) == 0, "%s: MLA forms generate differently", name);

                if (print) {
                        printf("        {\"%s\", {", name);
                        for (int i = 0; i < N_GEN; i++)
                                printf("%s%d", i ? ", " : "", out[i]);
                        printf("}},\n");
                }
                size_t g;
                for (g = 0; g < ELEMENTSOF(golden); g++)
                        if (strcmp(golden[g].variant, name) == 0)
                                break;
                CHECK(g < ELEMENTSOF(golden), "%s: no golden tokens", name);
                if (g < ELEMENTSOF(golden) && !print)
                        CHECK(memcmp(out, golden[g].tokens, sizeof(out)) == 0, "%s: generated tokens changed", name);
                tiny_model_unload(&t);
        }
        return test_exit("test-ref-golden");
}
