/* MoE routing by hand-built cases: V3's correction bias picks experts but
 * does not weigh them, group-limited selection by the sum of each group's
 * two best scores, V2 softmax with scaling, the normalisation clamp. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "model/ref.h"

static double sigmoid(double x) {
        return 1.0 / (1.0 + exp(-x));
}

static void softmax(const float *x, double *p, size_t n) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += exp(x[i]);
        for (size_t i = 0; i < n; i++)
                p[i] = exp(x[i]) / sum;
}

static void check_route(const char *what, const struct model_hparams *hp, const float *logits, const float *bias,
                        const uint32_t *want_e, const double *want_w) {
        uint32_t e[8] = {0};
        float w[8] = {0};
        int r = ref_moe_route(hp, logits, bias, e, w);
        CHECK(r == 0, "%s: returned %d", what, r);
        for (uint32_t i = 0; i < hp->n_expert_used; i++) {
                CHECK(e[i] == want_e[i], "%s: pick %u is expert %u, want %u", what, i, e[i], want_e[i]);
                CHECK(fabs(w[i] - want_w[i]) < 1e-6 * fabs(want_w[i]) + 1e-9, "%s: weight %u is %.9g, want %.9g", what,
                      i, (double) w[i], want_w[i]);
        }
}

/* V3: sigmoid gating; the bias lifts expert 2 over expert 1 for selection,
 * but its weight is its unbiased probability. */
static void test_v3_bias(void) {
        struct model_hparams hp = {
                .n_expert = 4, .n_expert_used = 2, .gating = MOE_GATING_SIGMOID,
                .expert_weights_norm = true, .expert_weights_scale = 2.5f,
        };
        const float logits[4] = {2.0f, 1.0f, 0.0f, -1.0f};
        const float bias[4] = {0.0f, 0.0f, 0.5f, 0.0f};
        double p0 = sigmoid(2.0), p1 = sigmoid(1.0), p2 = sigmoid(0.0);

        /* selection scores 0.881, 0.731, 1.0, 0.269: experts 2 then 0 */
        uint32_t want_e[2] = {2, 0};
        double want_w[2] = {p2 / (p2 + p0) * 2.5, p0 / (p2 + p0) * 2.5};
        check_route("v3 with bias", &hp, logits, bias, want_e, want_w);

        /* without the bias: experts 0 and 1 */
        uint32_t want_e2[2] = {0, 1};
        double want_w2[2] = {p0 / (p0 + p1) * 2.5, p1 / (p0 + p1) * 2.5};
        check_route("v3 without bias", &hp, logits, NULL, want_e2, want_w2);

        /* no normalisation: raw sigmoid probabilities times the scale */
        hp.expert_weights_norm = false;
        double want_w3[2] = {p2 * 2.5, p0 * 2.5};
        check_route("v3 unnormalised", &hp, logits, bias, want_e, want_w3);
}

/* Groups of two: group 0 holds the single best expert but the smallest sum
 * of two; groups 1 and 2 win, and the top 3 come from them only. */
static void test_groups(void) {
        struct model_hparams hp = {
                .n_expert = 8, .n_expert_used = 3, .gating = MOE_GATING_SOFTMAX,
                .expert_weights_norm = false, .expert_weights_scale = 1.0f,
                .n_expert_groups = 4, .n_expert_groups_used = 2,
        };
        const float logits[8] = {4.0f, -10.0f, 3.8f, 3.7f, 3.5f, 3.45f, 0.0f, 0.1f};
        double p[8];
        softmax(logits, p, 8);
        uint32_t want_e[3] = {2, 3, 4};
        double want_w[3] = {p[2], p[3], p[4]};
        check_route("groups", &hp, logits, NULL, want_e, want_w);

        /* without groups expert 0 is first */
        hp.n_expert_groups = 0;
        uint32_t want_e2[3] = {0, 2, 3};
        double want_w2[3] = {p[0], p[2], p[3]};
        check_route("no groups", &hp, logits, NULL, want_e2, want_w2);

        /* one group used: only group 1 (experts 2, 3) is eligible; biases on
         * experts 6 and 7 make group 3 the winner, yet their weights stay
         * their tiny unbiased probabilities */
        hp.n_expert_groups = 4;
        hp.n_expert_groups_used = 1;
        hp.n_expert_used = 2;
        uint32_t want_e3[2] = {2, 3};
        double want_w3[2] = {p[2], p[3]};
        check_route("one group", &hp, logits, NULL, want_e3, want_w3);
        const float bias[8] = {0, 0, 0, 0, 0, 0, 0.5f, 0.6f};
        uint32_t want_e4[2] = {7, 6};
        double want_w4[2] = {p[7], p[6]};
        check_route("group chosen by biased scores", &hp, logits, bias, want_e4, want_w4);
}

/* V2: softmax over all experts, top-k weights not renormalised, scaled. */
static void test_v2_softmax(void) {
        struct model_hparams hp = {
                .n_expert = 6, .n_expert_used = 2, .gating = MOE_GATING_SOFTMAX,
                .expert_weights_norm = false, .expert_weights_scale = 16.0f,
        };
        const float logits[6] = {0.1f, 0.9f, -0.3f, 1.7f, 0.0f, 0.2f};
        double p[6];
        softmax(logits, p, 6);
        uint32_t want_e[2] = {3, 1};
        double want_w[2] = {p[3] * 16, p[1] * 16};
        check_route("v2", &hp, logits, NULL, want_e, want_w);

        /* llama.cpp leaves the weights alone for a scale of 0 (and 1) */
        hp.expert_weights_scale = 0.0f;
        double want_w0[2] = {p[3], p[1]};
        check_route("scale 0", &hp, logits, NULL, want_e, want_w0);

        /* normalised top-k of softmax */
        hp.expert_weights_norm = true;
        double want_wn[2] = {p[3] / (p[3] + p[1]), p[1] / (p[3] + p[1])};
        check_route("v2 normalised", &hp, logits, NULL, want_e, want_wn);
}

/* Sigmoid probabilities that sum below 6.1e-5 are divided by the clamp. */
static void test_norm_clamp(void) {
        struct model_hparams hp = {
                .n_expert = 3, .n_expert_used = 2, .gating = MOE_GATING_SIGMOID,
                .expert_weights_norm = true, .expert_weights_scale = 1.0f,
        };
        const float logits[3] = {-20.0f, -21.0f, -30.0f};
        uint32_t want_e[2] = {0, 1};
        double want_w[2] = {sigmoid(-20) / 6.103515625e-5, sigmoid(-21) / 6.103515625e-5};
        check_route("clamped sum", &hp, logits, NULL, want_e, want_w);
}

int main(void) {
        test_v3_bias();
        test_groups();
        test_v2_softmax();
        test_norm_clamp();
        return test_exit("test-ref-moe");
}
