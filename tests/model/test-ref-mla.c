/* deepseek2 MLA in the CPU reference: the absorbed form (attention in the
 * latent space) equals the expanded form (decompressed keys and values),
 * and a file with split attn_k_b/attn_v_b computes the same logits as one
 * with the combined attn_kv_b, for every variant and some odd shapes. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "model/ref.h"
#include "tiny-models.h"

#define N_TOKENS 24

struct variant {
        const char *name;
        void (*setup)(struct tiny_model_opts *o);
};

static void v3(struct tiny_model_opts *o) {
        o->sigmoid = true;
        o->weights_norm = true;
        o->weights_scale = 2.5f;
        o->n_groups = 4;
        o->n_groups_used = 2;
}
static void v3_yarn(struct tiny_model_opts *o) {
        v3(o);
        o->yarn = true;
        o->yarn_factor = 40.0f;
        o->yarn_orig_ctx = 16;
}
static void v2_lite(struct tiny_model_opts *o) {
        o->q_lora_rank = 0;
        o->weights_scale = 1.0f;
}
static void v2_yarn_old_keys(struct tiny_model_opts *o) {
        o->q_lora_rank = 0;
        o->weights_scale = 16.0f;
        o->mla_keys = false;
        o->yarn = true;
        o->yarn_log_mul = 0.0707f;
}
static void odd_shapes(struct tiny_model_opts *o) {
        v3(o);
        o->n_vocab = 101;
        o->n_embd = 40;
        o->n_head = 3;
        o->q_lora_rank = 28;
        o->kv_lora_rank = 24;
        o->qk_nope = 12;
        o->qk_rope = 6;
        o->v_head = 20;
        o->n_ff = 52;
        o->n_expert = 6;
        o->n_expert_used = 3;
        o->n_groups = 3;
        o->n_groups_used = 2;
        o->n_ff_exp = 20;
        o->n_expert_shared = 2;
        o->n_dense_lead = 2;
        o->n_layer = 4;
}

static const struct variant variants[] = {
        {"v3", v3},
        {"v3-yarn", v3_yarn},
        {"v2-lite", v2_lite},
        {"v2-yarn-old-keys", v2_yarn_old_keys},
        {"odd-shapes", odd_shapes},
};

static float *logits_of(const struct tiny_model_opts *o, enum ref_mla_form form, const int32_t *tokens) {
        struct vkinfer_err err = {0};
        float *logits = NULL;
        int r = tiny_model_ref_logits(o, form, tokens, N_TOKENS, &logits, &err);
        CHECK_OK(r, err);
        return logits;
}

static bool all_finite(const float *x, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isfinite(x[i]))
                        return false;
        return true;
}

static void test_absorbed_equals_expanded(const struct variant *v) {
        struct tiny_model_opts o;
        int32_t tokens[N_TOKENS];
        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        v->setup(&o);
        tiny_tokens(11, o.n_vocab, tokens, N_TOKENS);

        float *a = logits_of(&o, REF_MLA_ABSORBED, tokens);
        float *e = logits_of(&o, REF_MLA_EXPANDED, tokens);
        o.seed = 2;
        float *other = logits_of(&o, REF_MLA_ABSORBED, tokens);
        if (a && e && other) {
                size_t n = (size_t) N_TOKENS * o.n_vocab;
                double err = rel_l2(a, e, n);
                CHECK(all_finite(a, n) && all_finite(e, n), "%s: non-finite logits", v->name);
                CHECK(err < 1e-5, "%s: absorbed vs expanded rel L2 %.3g", v->name, err);
                /* and the comparison can tell two models apart */
                CHECK(rel_l2(other, e, n) > 0.1, "%s: another seed gives the same logits", v->name);
                fprintf(stderr, "%s: absorbed vs expanded rel L2 %.3g\n", v->name, err);
        }
        free(a);
        free(e);
        free(other);
}

static void test_split_equals_combined(const struct variant *v, uint32_t type) {
        struct tiny_model_opts o;
        int32_t tokens[N_TOKENS];
        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        v->setup(&o);
        o.type = type;
        tiny_tokens(5, o.n_vocab, tokens, N_TOKENS);

        for (int form = REF_MLA_ABSORBED; form <= REF_MLA_EXPANDED; form++) {
                o.kv_b = TINY_KV_B_SPLIT;
                float *split = logits_of(&o, form, tokens);
                o.kv_b = TINY_KV_B_COMBINED;
                float *combined = logits_of(&o, form, tokens);
                o.kv_b = TINY_KV_B_BOTH;
                float *both = logits_of(&o, form, tokens);
                if (split && combined && both) {
                        size_t n = (size_t) N_TOKENS * o.n_vocab;
                        /* the same numbers reach the same arithmetic */
                        CHECK(rel_l2(combined, split, n) < 1e-7, "%s %s form %d: split vs combined rel L2 %.3g", v->name,
                              ggml_type_name(type), form, rel_l2(combined, split, n));
                        CHECK(rel_l2(both, split, n) < 1e-7, "%s: both vs split", v->name);
                }
                free(split);
                free(combined);
                free(both);
        }
}

/* A model that computes something else must not pass: the tests above are
 * only meaningful if YaRN, the correction bias and the kv_b layout matter. */
static void test_sensitivity(void) {
        struct tiny_model_opts o;
        int32_t tokens[N_TOKENS];
        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        v3(&o);
        tiny_tokens(3, o.n_vocab, tokens, N_TOKENS);
        size_t n = (size_t) N_TOKENS * o.n_vocab;

        float *base = logits_of(&o, REF_MLA_ABSORBED, tokens);
        v3_yarn(&o);
        float *yarn = logits_of(&o, REF_MLA_ABSORBED, tokens);
        tiny_model_defaults(&o, TINY_DEEPSEEK2);
        v3(&o);
        o.n_groups = 0;
        float *no_groups = logits_of(&o, REF_MLA_ABSORBED, tokens);
        if (base && yarn && no_groups) {
                CHECK(rel_l2(yarn, base, n) > 1e-3, "YaRN changes nothing: %.3g", rel_l2(yarn, base, n));
                CHECK(rel_l2(no_groups, base, n) > 1e-4, "groups change nothing: %.3g", rel_l2(no_groups, base, n));
        }
        free(base);
        free(yarn);
        free(no_groups);
}

int main(void) {
        for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
                test_absorbed_equals_expanded(&variants[i]);
                test_split_equals_combined(&variants[i], GGML_TYPE_F32);
        }
        test_split_equals_combined(&variants[0], GGML_TYPE_F16);
        test_sensitivity();
        return test_exit("test-ref-mla");
}
