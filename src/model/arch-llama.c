/* llama and qwen2 (the DeepSeek-R1 distills): grouped-query attention with
 * rope, SwiGLU FFN. They differ in three things: qwen2 rotates NEOX pairs,
 * has q/k/v biases, and never has llama 3's rope_freqs tensor. */
#include "model/arch.h"

#include <errno.h>
#include <math.h>

static int load_hparams(struct model *m, const struct gguf_file *f, struct vkinfer_err *err) {
        struct model_hparams *hp = &m->hp;
        const char *arch = m->arch->name;
        uint32_t n_expert;
        int r;

        if ((r = model_key_u32(f, arch, "context_length", false, 4096, &hp->n_ctx_train, err)) < 0 ||
            (r = model_key_u32(f, arch, "embedding_length", true, 0, &hp->n_embd, err)) < 0 ||
            (r = model_key_u32(f, arch, "block_count", true, 0, &hp->n_layer_all, err)) < 0 ||
            (r = model_key_u32(f, arch, "feed_forward_length", true, 0, &hp->n_ff, err)) < 0 ||
            (r = model_key_u32(f, arch, "attention.head_count", true, 0, &hp->n_head, err)) < 0 ||
            (r = model_key_f32(f, arch, "attention.layer_norm_rms_epsilon", true, 0, &hp->rms_eps, err)) < 0 ||
            (r = model_key_u32(f, arch, "expert_count", false, 0, &n_expert, err)) < 0)
                return r;
        if (hp->n_embd == 0 || hp->n_layer_all == 0 || hp->n_head == 0 || hp->n_ff == 0)
                return err_set(err, -EINVAL, "%s: embedding_length, block_count, head_count and feed_forward_length must be > 0",
                               arch);
        if (n_expert > 0)
                return err_set(err, -EOPNOTSUPP, "%s with experts (%s.expert_count = %u) is not supported", arch, arch,
                               n_expert);
        hp->n_layer = hp->n_layer_all;

        if ((r = model_key_u32(f, arch, "attention.head_count_kv", false, hp->n_head, &hp->n_head_kv, err)) < 0)
                return r;
        if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0)
                return err_set(err, -EINVAL, "%s: head_count %u is not a multiple of head_count_kv %u", arch,
                               hp->n_head, hp->n_head_kv);
        /* The head size is n_embd / n_head unless the file says otherwise. */
        const uint32_t head_dim = hp->n_embd % hp->n_head == 0 ? hp->n_embd / hp->n_head : 0;
        if ((r = model_key_u32(f, arch, "attention.key_length", false, head_dim, &hp->head_dim_k, err)) < 0 ||
            (r = model_key_u32(f, arch, "attention.value_length", false, head_dim, &hp->head_dim_v, err)) < 0)
                return r;
        if (hp->head_dim_k == 0 || hp->head_dim_v == 0)
                return err_set(err, -EINVAL, "%s: no attention.key_length/value_length and embedding_length %u is not a multiple of head_count %u",
                               arch, hp->n_embd, hp->n_head);

        hp->rope.type = hp->arch == MODEL_ARCH_QWEN2 ? ROPE_TYPE_NEOX : ROPE_TYPE_NORM;
        if ((r = model_key_u32(f, arch, "rope.dimension_count", false, hp->head_dim_k, &hp->rope.n_dims, err)) < 0)
                return r;
        if (hp->rope.n_dims == 0 || hp->rope.n_dims % 2 || hp->rope.n_dims > hp->head_dim_k)
                return err_set(err, -EINVAL, "%s.rope.dimension_count is %u: must be even and at most the head size %u",
                               arch, hp->rope.n_dims, hp->head_dim_k);
        if ((r = model_load_rope(hp, f, arch, err)) < 0)
                return r;
        hp->kq_scale = 1.0f / sqrtf((float) hp->head_dim_k);

        return model_vocab_from_embd(m, f, arch, err);
}

static int bind_tensors(struct model *m, const struct gguf_file *f, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const bool qwen2 = hp->arch == MODEL_ARCH_QWEN2;
        const uint64_t n_embd = hp->n_embd;
        const uint64_t n_q = (uint64_t) hp->n_head * hp->head_dim_k;
        const uint64_t n_k = (uint64_t) hp->n_head_kv * hp->head_dim_k;
        const uint64_t n_v = (uint64_t) hp->n_head_kv * hp->head_dim_v;
        const uint64_t n_o = (uint64_t) hp->n_head * hp->head_dim_v;
        /* qwen2 always has the q/k/v biases; llama may have them. */
        const unsigned bias = qwen2 ? BIND_REQUIRED : BIND_OPTIONAL;
        int r;

        if ((r = model_bind_io(m, f, err)) < 0)
                return r;
        if (!qwen2 && (r = model_bind(m, f, "rope_freqs.weight", BIND_OPTIONAL, hp->rope.n_dims / 2, 1, 1,
                                      &m->rope_freqs, err)) < 0)
                return r;

        for (uint32_t il = 0; il < hp->n_layer_all; il++) {
                struct model_layer *l = &m->layers[il];
                if ((r = model_bind_blk(m, f, il, "attn_norm.weight", 0, n_embd, 1, 1, &l->attn_norm, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_q.weight", 0, n_embd, n_q, 1, &l->wq, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_k.weight", 0, n_embd, n_k, 1, &l->wk, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_v.weight", 0, n_embd, n_v, 1, &l->wv, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_q.bias", bias, n_q, 1, 1, &l->bq, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_k.bias", bias, n_k, 1, 1, &l->bk, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_v.bias", bias, n_v, 1, 1, &l->bv, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "attn_output.weight", 0, n_o, n_embd, 1, &l->wo, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "ffn_norm.weight", 0, n_embd, 1, 1, &l->ffn_norm, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "ffn_gate.weight", 0, n_embd, hp->n_ff, 1, &l->ffn_gate, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "ffn_up.weight", 0, n_embd, hp->n_ff, 1, &l->ffn_up, err)) < 0 ||
                    (r = model_bind_blk(m, f, il, "ffn_down.weight", 0, hp->n_ff, n_embd, 1, &l->ffn_down, err)) < 0)
                        return r;
                if (!qwen2 &&
                    (r = model_bind_blk(m, f, il, "attn_output.bias", BIND_OPTIONAL, n_embd, 1, 1, &l->bo, err)) < 0)
                        return r;
        }
        return 0;
}

const struct model_arch model_arch_llama = {
        .name = "llama",
        .id = MODEL_ARCH_LLAMA,
        .load_hparams = load_hparams,
        .bind_tensors = bind_tensors,
};

const struct model_arch model_arch_qwen2 = {
        .name = "qwen2",
        .id = MODEL_ARCH_QWEN2,
        .load_hparams = load_hparams,
        .bind_tensors = bind_tensors,
};
