/* deepseek2: DeepSeek V2, V2-Lite, V3, R1. Multi-head latent attention
 * (MLA) and a mixture of experts after leading_dense_block_count dense
 * layers. Keys, tensor names and the YaRN rules are llama.cpp's
 * (src/llama-model.cpp, src/models/deepseek2.cpp, src/llama-context.cpp). */
#include "model/arch.h"

#include <errno.h>
#include <math.h>

/* HF's yarn_get_mscale. */
static double yarn_get_mscale(double scale, double mscale) {
        return scale <= 1.0 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

/* DeepSeek's YaRN: the attention-score scale grows with the context
 * extension as mscale^2, mscale = 1 + 0.1 * mscale_all_dim * ln(factor),
 * while the rotated q_pe/k_pe keep unit magnitude. The file stores
 * yarn_log_multiplier = 0.1 * mscale_all_dim (convert_hf_to_gguf.py). What
 * llama.cpp does with it, step by step:
 *   llama-model.cpp:   rope_yarn_log_mul = stored / 0.1   (= mscale_all_dim)
 *   llama-context.cpp: yarn_attn_factor = get_mscale(f, m) / get_mscale(f, mscale_all_dim)
 *                      (m = mscale_all_dim for deepseek2, so 1), then
 *                      *= 1 / (1 + 0.1 ln f) to cancel ggml's own YaRN
 *                      magnitude factor, then *= rope.scaling.attn_factor
 *   deepseek2.cpp:     attn_factor_org = attn_factor * (1 + 0.1 ln f)
 *                      mscale = attn_factor_org * (1 + 0.1 * rope_yarn_log_mul * ln f)
 *                      kq_scale = mscale^2 / sqrt(head_dim_k)
 * With no YaRN every factor is 1 and kq_scale = 1/sqrt(head_dim_k). */
static void deepseek2_scales(struct model_hparams *hp) {
        struct model_rope *rope = &hp->rope;
        const double log_mul = rope->yarn_log_mul / 0.1; /* mscale_all_dim */
        const double ln_f = log(1.0 / rope->freq_scale);
        double yarn_attn_factor = 1.0;

        if (rope->ext_factor != 0.0f) {
                const double factor = 1.0 / rope->freq_scale;
                if (log_mul != 0.0) {
                        double mscale = log_mul != 1.0 ? log_mul : 1.0;
                        yarn_attn_factor = yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, log_mul);
                } else {
                        yarn_attn_factor = yarn_get_mscale(factor, 1.0);
                }
                yarn_attn_factor /= 1.0 + 0.1 * log(factor);
        }
        yarn_attn_factor *= rope->attn_factor_file;

        rope->attn_factor = (float) yarn_attn_factor;
        rope->mscale = (float) (rope->ext_factor != 0.0f ? yarn_attn_factor * (1.0 + 0.1 * ln_f) : yarn_attn_factor);

        double attn_factor_org = yarn_attn_factor * (1.0 + 0.1 * ln_f);
        double mscale = attn_factor_org * (1.0 + 0.1 * log_mul * ln_f);
        hp->kq_scale = (float) (mscale * mscale / sqrt((double) hp->head_dim_k));
}

static int load_hparams(struct model *m, const struct gguf_file *f, struct vkinfer_err *err) {
        struct model_hparams *hp = &m->hp;
        const char *arch = m->arch->name;
        uint32_t key_mla, value_mla, gating;
        int r;

        if ((r = model_key_u32(f, arch, "context_length", false, 4096, &hp->n_ctx_train, err)) < 0 ||
            (r = model_key_u32(f, arch, "embedding_length", true, 0, &hp->n_embd, err)) < 0 ||
            (r = model_key_u32(f, arch, "block_count", true, 0, &hp->n_layer_all, err)) < 0 ||
            (r = model_key_u32(f, arch, "feed_forward_length", false, 0, &hp->n_ff, err)) < 0 ||
            (r = model_key_u32(f, arch, "attention.head_count", true, 0, &hp->n_head, err)) < 0 ||
            (r = model_key_f32(f, arch, "attention.layer_norm_rms_epsilon", true, 0, &hp->rms_eps, err)) < 0 ||
            (r = model_key_u32(f, arch, "attention.q_lora_rank", false, 0, &hp->q_lora_rank, err)) < 0 ||
            (r = model_key_u32(f, arch, "attention.kv_lora_rank", true, 0, &hp->kv_lora_rank, err)) < 0 ||
            (r = model_key_u32(f, arch, "rope.dimension_count", true, 0, &hp->qk_rope, err)) < 0 ||
            (r = model_key_u32(f, arch, "attention.key_length_mla", false, 0, &key_mla, err)) < 0 ||
            (r = model_key_u32(f, arch, "attention.value_length_mla", false, 0, &value_mla, err)) < 0 ||
            (r = model_key_u32(f, arch, "leading_dense_block_count", false, 0, &hp->n_layer_dense_lead, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_count", true, 0, &hp->n_expert, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_used_count", true, 0, &hp->n_expert_used, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_feed_forward_length", true, 0, &hp->n_ff_exp, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_shared_count", true, 0, &hp->n_expert_shared, err)) < 0 ||
            (r = model_key_f32(f, arch, "expert_weights_scale", true, 0, &hp->expert_weights_scale, err)) < 0 ||
            (r = model_key_bool(f, arch, "expert_weights_norm", false, false, &hp->expert_weights_norm, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_gating_func", false, 0, &gating, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_group_count", false, 0, &hp->n_expert_groups, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_group_used_count", false, 0, &hp->n_expert_groups_used, err)) < 0 ||
            (r = model_key_u32(f, arch, "nextn_predict_layers", false, 0, &hp->nextn_predict_layers, err)) < 0)
                return r;

        if (hp->n_embd == 0 || hp->n_layer_all == 0 || hp->n_head == 0 || hp->kv_lora_rank == 0)
                return err_set(err, -EINVAL, "%s: embedding_length, block_count, head_count and kv_lora_rank must be > 0",
                               arch);
        if (hp->nextn_predict_layers >= hp->n_layer_all)
                return err_set(err, -EINVAL, "%s.nextn_predict_layers %u leaves no layers of %u", arch,
                               hp->nextn_predict_layers, hp->n_layer_all);
        hp->n_layer = hp->n_layer_all - hp->nextn_predict_layers;

        /* Head sizes: files converted for MLA (llama.cpp >= b5400) write
         * key/value_length_mla and head_count_kv 1 with key_length =
         * kv_lora_rank + rope; older ones the plain per-head sizes. */
        if (key_mla || value_mla) {
                if (!key_mla || !value_mla)
                        return err_set(err, -EINVAL, "%s: attention.key_length_mla and value_length_mla must come together", arch);
                hp->head_dim_k = key_mla;
                hp->head_dim_v = value_mla;
        } else {
                if (hp->n_embd % hp->n_head != 0)
                        return err_set(err, -EINVAL, "%s: no attention.key_length and embedding_length %u is not a multiple of head_count %u",
                                       arch, hp->n_embd, hp->n_head);
                if ((r = model_key_u32(f, arch, "attention.key_length", false, hp->n_embd / hp->n_head, &hp->head_dim_k, err)) < 0 ||
                    (r = model_key_u32(f, arch, "attention.value_length", false, hp->n_embd / hp->n_head, &hp->head_dim_v, err)) < 0)
                        return r;
        }
        if (hp->qk_rope == 0 || hp->qk_rope % 2 || hp->qk_rope >= hp->head_dim_k)
                return err_set(err, -EINVAL, "%s.rope.dimension_count %u must be even and below the key head size %u", arch,
                               hp->qk_rope, hp->head_dim_k);
        if (hp->head_dim_v == 0)
                return err_set(err, -EINVAL, "%s: the value head size is 0", arch);
        hp->qk_nope = hp->head_dim_k - hp->qk_rope;
        hp->v_head = hp->head_dim_v;
        /* After decompression every head has its own key and value. */
        hp->n_head_kv = hp->n_head;

        /* Experts and routing. */
        if (hp->n_layer_dense_lead > hp->n_layer)
                return err_set(err, -EINVAL, "%s.leading_dense_block_count %u exceeds the %u layers", arch,
                               hp->n_layer_dense_lead, hp->n_layer);
        if (hp->n_layer_dense_lead > 0 && hp->n_ff == 0)
                return err_set(err, -EINVAL, "missing key %s.feed_forward_length (needed by the dense layers)", arch);
        if (hp->n_expert == 0 || hp->n_expert_used == 0 || hp->n_expert_used > hp->n_expert || hp->n_ff_exp == 0)
                return err_set(err, -EINVAL, "%s: expert_used_count %u of expert_count %u (ffn %u) is not a valid MoE",
                               arch, hp->n_expert_used, hp->n_expert, hp->n_ff_exp);
        if (gating == 0) /* V2 and V2.5 files have no key: softmax */
                gating = MOE_GATING_SOFTMAX;
        if (gating != MOE_GATING_SOFTMAX && gating != MOE_GATING_SIGMOID)
                return err_set(err, -EOPNOTSUPP, "%s.expert_gating_func %u is not supported (1 softmax, 2 sigmoid)", arch,
                               gating);
        hp->gating = gating;
        if (hp->n_expert_groups > 1) {
                uint32_t per_group = hp->n_expert / hp->n_expert_groups;
                if (hp->n_expert % hp->n_expert_groups != 0 || per_group < 2)
                        return err_set(err, -EINVAL, "%s: %u experts cannot form %u groups of at least 2", arch,
                                       hp->n_expert, hp->n_expert_groups);
                if (hp->n_expert_groups_used == 0 || hp->n_expert_groups_used > hp->n_expert_groups)
                        return err_set(err, -EINVAL, "%s.expert_group_used_count %u must be 1 to %u", arch,
                                       hp->n_expert_groups_used, hp->n_expert_groups);
                if (hp->n_expert_used > hp->n_expert_groups_used * per_group)
                        return err_set(err, -EINVAL, "%s: top %u experts cannot come from %u groups of %u", arch,
                                       hp->n_expert_used, hp->n_expert_groups_used, per_group);
        }

        hp->rope.type = ROPE_TYPE_NORM;
        hp->rope.n_dims = hp->qk_rope;
        if ((r = model_load_rope(hp, f, arch, err)) < 0)
                return r;
        deepseek2_scales(hp);

        return model_vocab_from_embd(m, f, arch, err);
}

/* attn_k_b + attn_v_b (split, what the converter writes today) or the
 * older combined attn_kv_b; files may have both. */
static int bind_kv_b(struct model *m, const struct gguf_file *f, uint32_t il, unsigned flags,
                     struct model_layer *l, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        int r;

        if ((r = model_bind_blk(m, f, il, "attn_k_b.weight", BIND_OPTIONAL, hp->qk_nope, hp->kv_lora_rank, hp->n_head,
                                &l->wk_b, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "attn_v_b.weight", BIND_OPTIONAL, hp->kv_lora_rank, hp->v_head, hp->n_head,
                                &l->wv_b, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "attn_kv_b.weight", BIND_OPTIONAL, hp->kv_lora_rank,
                                (uint64_t) hp->n_head * (hp->qk_nope + hp->v_head), 1, &l->wkv_b, err)) < 0)
                return r;
        if (!l->wk_b != !l->wv_b)
                return err_set(err, -ENOENT, "missing tensor blk.%u.%s (its partner %s is there)", il,
                               l->wk_b ? "attn_v_b.weight" : "attn_k_b.weight",
                               l->wk_b ? "attn_k_b.weight" : "attn_v_b.weight");
        if (!l->wk_b && !l->wkv_b && !(flags & BIND_OPTIONAL))
                return err_set(err, -ENOENT, "missing tensor blk.%u.attn_k_b.weight (or the older blk.%u.attn_kv_b.weight)",
                               il, il);
        return 0;
}

static int bind_ffn(struct model *m, const struct gguf_file *f, uint32_t il, unsigned flags,
                    struct model_layer *l, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const uint64_t n_embd = hp->n_embd;
        int r;

        if ((r = model_bind_blk(m, f, il, "ffn_norm.weight", flags, n_embd, 1, 1, &l->ffn_norm, err)) < 0)
                return r;
        if (il < hp->n_layer_dense_lead) {
                l->is_moe = false;
                if ((r = model_bind_blk(m, f, il, "ffn_gate.weight", flags, n_embd, hp->n_ff, 1, &l->ffn_gate, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "ffn_up.weight", flags, n_embd, hp->n_ff, 1, &l->ffn_up, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "ffn_down.weight", flags, hp->n_ff, n_embd, 1, &l->ffn_down, err)) < 0)
                        return r;
                return 0;
        }

        l->is_moe = true;
        const uint64_t n_ff_sh = (uint64_t) hp->n_ff_exp * hp->n_expert_shared;
        if ((r = model_bind_blk(m, f, il, "ffn_gate_inp.weight", flags, n_embd, hp->n_expert, 1, &l->ffn_gate_inp, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "exp_probs_b.bias", BIND_OPTIONAL, hp->n_expert, 1, 1, &l->exp_probs_b, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "ffn_gate_exps.weight", flags, n_embd, hp->n_ff_exp, hp->n_expert,
                                &l->ffn_gate_exps, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "ffn_up_exps.weight", flags, n_embd, hp->n_ff_exp, hp->n_expert,
                                &l->ffn_up_exps, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "ffn_down_exps.weight", flags, hp->n_ff_exp, n_embd, hp->n_expert,
                                &l->ffn_down_exps, err)) < 0)
                return r;
        if (n_ff_sh > 0 &&
            ((r = model_bind_blk(m, f, il, "ffn_gate_shexp.weight", flags, n_embd, n_ff_sh, 1, &l->ffn_gate_shexp, err)) < 0 ||
             (r = model_bind_blk(m, f, il, "ffn_up_shexp.weight", flags, n_embd, n_ff_sh, 1, &l->ffn_up_shexp, err)) < 0 ||
             (r = model_bind_blk(m, f, il, "ffn_down_shexp.weight", flags, n_ff_sh, n_embd, 1, &l->ffn_down_shexp, err)) < 0))
                return r;
        return 0;
}

/* NextN / MTP extras: optional everywhere, checked when present. */
static int bind_nextn(struct model *m, const struct gguf_file *f, uint32_t il, struct model_layer *l,
                      struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const uint64_t n_embd = hp->n_embd;
        int r;

        if ((r = model_bind_blk(m, f, il, "nextn.eh_proj.weight", BIND_OPTIONAL, 2 * n_embd, n_embd, 1,
                                &l->nextn_eh_proj, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "nextn.enorm.weight", BIND_OPTIONAL, n_embd, 1, 1, &l->nextn_enorm, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "nextn.hnorm.weight", BIND_OPTIONAL, n_embd, 1, 1, &l->nextn_hnorm, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "nextn.embed_tokens.weight", BIND_OPTIONAL, n_embd, hp->n_vocab, 1,
                                &l->nextn_embed_tokens, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "nextn.shared_head_norm.weight", BIND_OPTIONAL, n_embd, 1, 1,
                                &l->nextn_head_norm, err)) < 0 ||
            (r = model_bind_blk(m, f, il, "nextn.shared_head_head.weight", BIND_OPTIONAL, n_embd, hp->n_vocab, 1,
                                &l->nextn_head, err)) < 0)
                return r;
        return 0;
}

static int bind_tensors(struct model *m, const struct gguf_file *f, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const uint64_t n_embd = hp->n_embd;
        const uint64_t n_q = (uint64_t) hp->n_head * hp->head_dim_k;
        int r;

        if ((r = model_bind_io(m, f, err)) < 0)
                return r;

        for (uint32_t il = 0; il < hp->n_layer_all; il++) {
                struct model_layer *l = &m->layers[il];
                /* MTP layers are not run: whatever of them is there must be
                 * well-formed, but nothing is required. */
                l->is_nextn = il >= hp->n_layer;
                const unsigned flags = l->is_nextn ? BIND_OPTIONAL : BIND_REQUIRED;

                if ((r = model_bind_blk(m, f, il, "attn_norm.weight", flags, n_embd, 1, 1, &l->attn_norm, err)) < 0)
                        return r;
                if (hp->q_lora_rank) {
                        if ((r = model_bind_blk(m, f, il, "attn_q_a.weight", flags, n_embd, hp->q_lora_rank, 1, &l->wq_a, err)) < 0 ||
                            (r = model_bind_blk(m, f, il, "attn_q_a_norm.weight", flags, hp->q_lora_rank, 1, 1, &l->q_a_norm, err)) < 0 ||
                            (r = model_bind_blk(m, f, il, "attn_q_b.weight", flags, hp->q_lora_rank, n_q, 1, &l->wq_b, err)) < 0)
                                return r;
                } else {
                        if ((r = model_bind_blk(m, f, il, "attn_q.weight", flags, n_embd, n_q, 1, &l->wq, err)) < 0)
                                return r;
                }
                if ((r = model_bind_blk(m, f, il, "attn_kv_a_mqa.weight", flags, n_embd, hp->kv_lora_rank + hp->qk_rope, 1,
                                        &l->wkv_a_mqa, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_kv_a_norm.weight", flags, hp->kv_lora_rank, 1, 1, &l->kv_a_norm, err)) < 0 ||
                    (r = bind_kv_b(m, f, il, flags, l, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_output.weight", flags, (uint64_t) hp->n_head * hp->v_head, n_embd, 1,
                                        &l->wo, err)) < 0 ||
                    (r = bind_ffn(m, f, il, flags, l, err)) < 0)
                        return r;
                if (l->is_nextn && (r = bind_nextn(m, f, il, l, err)) < 0)
                        return r;
        }
        return 0;
}

const struct model_arch model_arch_deepseek2 = {
        .name = "deepseek2",
        .id = MODEL_ARCH_DEEPSEEK2,
        .load_hparams = load_hparams,
        .bind_tensors = bind_tensors,
};
