/* What a decode step reads, for bandwidth figures (forward.h). */
#include "forward/fwd-internal.h"

static uint64_t bytes(const struct gguf_tensor *t) {
        return t ? t->n_bytes : 0;
}

void runner_vk_decode_bytes(const struct model *m, uint32_t n_keys, uint32_t kv_value_bytes, uint64_t *ret_weights,
                            uint64_t *ret_kv) {
        const struct model_hparams *hp = &m->hp;
        uint64_t w = 0;
        /* one embedding row; the output head whole */
        w += m->tok_embd->n_bytes / m->tok_embd->ne[1];
        w += bytes(m->output) + bytes(m->output_norm) + bytes(m->rope_freqs);
        for (uint32_t il = 0; il < hp->n_layer; il++) {
                const struct model_layer *l = &m->layers[il];
                const struct gguf_tensor *whole[] = {
                        l->attn_norm, l->wq, l->wk, l->wv, l->bq, l->bk, l->bv, l->wo, l->bo, l->wq_a, l->q_a_norm,
                        l->wq_b, l->wkv_a_mqa, l->kv_a_norm, l->wk_b, l->wv_b, l->wkv_b, l->ffn_norm, l->ffn_gate,
                        l->ffn_up, l->ffn_down, l->ffn_gate_inp, l->exp_probs_b, l->ffn_gate_shexp, l->ffn_up_shexp,
                        l->ffn_down_shexp,
                };
                for (size_t i = 0; i < ELEMENTSOF(whole); i++)
                        w += bytes(whole[i]);
                if (l->is_moe && hp->n_expert) {
                        const struct gguf_tensor *exps[] = {l->ffn_gate_exps, l->ffn_up_exps, l->ffn_down_exps};
                        for (size_t i = 0; i < ELEMENTSOF(exps); i++)
                                w += bytes(exps[i]) / hp->n_expert * hp->n_expert_used;
                }
        }
        uint64_t row = hp->arch == MODEL_ARCH_DEEPSEEK2 ? hp->kv_lora_rank + hp->qk_rope
                                                         : (uint64_t) hp->n_head_kv * (hp->head_dim_k + hp->head_dim_v);
        *ret_weights = w;
        *ret_kv = (uint64_t) hp->n_layer * n_keys * row * kv_value_bytes;
}
