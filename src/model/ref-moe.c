/* deepseek2's mixture of experts on the CPU, as llama.cpp's build_moe_ffn
 * computes it: route each token to n_expert_used experts, run their SwiGLU
 * FFNs, sum them weighted, add the shared experts. */
#include "model/ref-internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Index of the largest of n scores not yet taken (ties: lowest index);
 * -1 when all are taken or -inf. */
static int argmax_free(const double *score, const bool *taken, uint32_t n) {
        int best = -1;
        for (uint32_t i = 0; i < n; i++) {
                if (taken[i] || score[i] == -INFINITY)
                        continue;
                if (best < 0 || score[i] > score[best])
                        best = (int) i;
        }
        return best;
}

int ref_moe_route(const struct model_hparams *hp, const float *router_logits, const float *bias,
                  uint32_t *ret_experts, float *ret_weights) {
        const uint32_t n_expert = hp->n_expert, k = hp->n_expert_used;
        _cleanup_free_ double *probs = calloc(n_expert, sizeof(double));
        _cleanup_free_ double *select = calloc(n_expert, sizeof(double));
        _cleanup_free_ bool *taken = calloc(n_expert, sizeof(bool));
        if (!probs || !select || !taken)
                return -ENOMEM;
        if (k == 0 || k > n_expert)
                return -EINVAL;

        /* 1. gating: softmax (V2) or sigmoid (V3) of the router logits */
        for (uint32_t e = 0; e < n_expert; e++)
                probs[e] = router_logits[e];
        if (hp->gating == MOE_GATING_SIGMOID)
                for (uint32_t e = 0; e < n_expert; e++)
                        probs[e] = 1.0 / (1.0 + exp(-probs[e]));
        else
                ref_softmax(probs, n_expert);

        /* 2. selection scores: probs plus the correction bias (V3). The bias
         * only decides who is chosen; weights use the unbiased probs. */
        for (uint32_t e = 0; e < n_expert; e++)
                select[e] = probs[e] + (bias ? (double) bias[e] : 0.0);

        /* 3. group-limited routing: keep the n_expert_groups_used groups whose
         * two best selection scores sum highest, mask the others out */
        if (hp->n_expert_groups > 1) {
                const uint32_t n_group = hp->n_expert_groups, per = n_expert / n_group;
                _cleanup_free_ double *group_score = calloc(n_group, sizeof(double));
                _cleanup_free_ bool *group_kept = calloc(n_group, sizeof(bool));
                if (!group_score || !group_kept)
                        return -ENOMEM;
                for (uint32_t g = 0; g < n_group; g++) {
                        const double *s = select + (size_t) g * per;
                        double best = -INFINITY, second = -INFINITY;
                        for (uint32_t i = 0; i < per; i++) {
                                if (s[i] > best) {
                                        second = best;
                                        best = s[i];
                                } else if (s[i] > second)
                                        second = s[i];
                        }
                        group_score[g] = best + second;
                }
                for (uint32_t n = 0; n < hp->n_expert_groups_used; n++) {
                        int g = argmax_free(group_score, group_kept, n_group);
                        if (g < 0)
                                return -EINVAL;
                        group_kept[g] = true;
                }
                for (uint32_t e = 0; e < n_expert; e++)
                        if (!group_kept[e / per])
                                select[e] = -INFINITY;
        }

        /* 4. top-k by selection score; weights are the unbiased probs */
        double sum = 0;
        for (uint32_t i = 0; i < k; i++) {
                int e = argmax_free(select, taken, n_expert);
                if (e < 0)
                        return -EINVAL;
                taken[e] = true;
                ret_experts[i] = (uint32_t) e;
                sum += probs[e];
        }

        /* 5. optional normalisation (the sum clamped away from 0 as
         * llama.cpp does), then the routed scaling factor */
        const double scale = hp->expert_weights_scale;
        for (uint32_t i = 0; i < k; i++) {
                double w = probs[ret_experts[i]];
                if (hp->expert_weights_norm)
                        w /= fmax(sum, 6.103515625e-5);
                if (scale != 0.0 && scale != 1.0)
                        w *= scale;
                ret_weights[i] = (float) w;
        }
        return 0;
}

int ref_moe(const struct model *m, const struct ref_state *s, uint32_t il, const float *h, size_t n_tok,
            float *out, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const struct model_layer *l = &m->layers[il];
        const size_t n_embd = hp->n_embd;
        const uint32_t k = hp->n_expert_used;
        int r;

        _cleanup_free_ float *logits = ref_alloc(n_tok * hp->n_expert);
        _cleanup_free_ float *bias = NULL;
        _cleanup_free_ float *y = ref_alloc(n_embd);
        _cleanup_free_ float *shared = ref_alloc(n_tok * n_embd);
        _cleanup_free_ uint32_t *experts = calloc(k, sizeof(uint32_t));
        _cleanup_free_ float *weights = ref_alloc(k);
        if (!logits || !y || !shared || !experts || !weights)
                return err_set(err, -ENOMEM, "out of memory");

        /* router logits for every token */
        if ((r = ref_matmul(l->ffn_gate_inp, 0, h, n_tok, logits, err)) < 0)
                return r;
        ref_trace(s, "ffn_moe_logits", il, logits, n_tok, hp->n_expert);
        if (l->exp_probs_b && (r = ref_tensor(l->exp_probs_b, &bias, err)) < 0)
                return r;

        for (size_t t = 0; t < n_tok; t++) {
                const float *ht = h + t * n_embd;
                float *ot = out + t * n_embd;
                _cleanup_free_ double *acc = calloc(n_embd, sizeof(double));
                if (!acc)
                        return err_set(err, -ENOMEM, "out of memory");

                r = ref_moe_route(hp, logits + t * hp->n_expert, bias, experts, weights);
                if (r < 0)
                        return err_set(err, r, "layer %u: routing token %zu failed", il, t);

                /* the chosen experts' FFNs, weighted */
                for (uint32_t i = 0; i < k; i++) {
                        if ((r = ref_ffn(l->ffn_gate_exps, l->ffn_up_exps, l->ffn_down_exps, experts[i], ht, 1, y,
                                         err)) < 0)
                                return r;
                        for (size_t j = 0; j < n_embd; j++)
                                acc[j] += (double) weights[i] * y[j];
                }
                for (size_t j = 0; j < n_embd; j++)
                        ot[j] = (float) acc[j];
        }

        /* shared experts: one wider FFN every token goes through */
        if (l->ffn_gate_shexp) {
                if ((r = ref_ffn(l->ffn_gate_shexp, l->ffn_up_shexp, l->ffn_down_shexp, 0, h, n_tok, shared, err)) < 0)
                        return r;
                for (size_t i = 0; i < n_tok * n_embd; i++)
                        out[i] += shared[i];
        }
        return 0;
}
