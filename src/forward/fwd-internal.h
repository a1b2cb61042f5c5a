/* Shared by the files of the Vulkan forward pass. Internal. */
#pragma once

#include "forward/forward.h"
#include "forward/fwd-kernels.h"
#include "kv/kv.h"
#include "model/model.h"
#include "ops/ops.h"

/* A weight on the device: the op view plus, for 3D tensors, the matrix
 * count (ne2). */
struct fwd_weight {
        struct op_weight w;
        uint32_t n_mats;
};

struct fwd_layer {
        /* f32 vectors (NULL view size 0 when absent) */
        struct vk_view attn_norm, ffn_norm, q_a_norm, kv_a_norm, bq, bk, bv, bo, exp_probs_b;
        struct fwd_weight wq, wk, wv, wo, wq_a, wq_b, wkv_a;
        /* MLA: k_b as [qk_nope cols, rank rows] per head (split, or
         * transposed to F32 from a combined kv_b at load); v_b as rank cols,
         * v_head rows per head at row vb_row0 of matrices of vb_mat_rows */
        struct fwd_weight wk_b, wv_b;
        uint32_t vb_mat_rows, vb_row0;
        struct fwd_weight ffn_gate, ffn_up, ffn_down;
        struct fwd_weight gate_inp, gate_exps, up_exps, down_exps, gate_sh, up_sh, down_sh;
        struct vk_buf *cache; /* n_blocks * KV_BLOCK_TOKENS rows of row_width values (f16 or f32) */
};

/* Activations, each max_tokens rows (logits: max_logits rows). */
struct fwd_act {
        struct vk_buf *x, *h, *o;           /* n_embd: residual, normed, block output */
        struct vk_buf *q;                   /* n_head * head_dim_k */
        struct vk_buf *k, *v;               /* llama/qwen2: n_head_kv * head_dim_k / _v */
        struct vk_buf *q_lo, *kv, *lat, *kpe, *qa; /* MLA: q_lora, rank + rope, rank, rope, n_head * (rank + rope) */
        struct vk_buf *att, *kqv;           /* attention output per head (dv or rank), MLA: after v_b */
        struct vk_buf *g, *u;               /* FFN width (dense or shared experts) */
        struct vk_buf *rl, *ids, *rw;       /* router logits, chosen ids and weights */
        struct vk_buf *eg, *eu, *ed, *sh;   /* per chosen expert: gate, up, down; shared out */
        struct vk_buf *xl;                  /* rows wanting logits */
        struct vk_buf *head_ids;            /* 0..n_head-1: per-head matrices for op_matvec_id */
        struct vk_buf *head_groups, *exp_groups; /* op_id_group of head_ids / ids, for steps of several
                                                  * tokens (NULL: one token a step, or not grouped) */
        /* host-visible, rewritten every step */
        struct vk_buf *in;                  /* tokens, pos, seq, rows, logit rows (views below) */
        struct vk_view in_tokens, in_pos, in_seq, in_rows, in_lrows;
        struct vk_buf *table;               /* block tables: max_seqs x max_blocks */
        struct vk_buf *logits;              /* max_logits x n_vocab */
};

struct fwd {
        struct runner runner;
        struct vk_ctx *ctx;
        const struct model *m;
        char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE + 16];
        uint32_t max_seqs, max_logits, max_blocks, n_blocks, row_width;
        bool kv_f16; /* the cache holds f16 values (else f32) */
        uint32_t cache_dk, cache_dv;  /* attention key and value widths */

        struct vk_buf **bufs;         /* every weight buffer, to free */
        size_t n_bufs, cap_bufs;
        struct fwd_weight tok_embd, output;
        struct vk_view output_norm, rope_freqs;
        struct fwd_layer *layers;     /* n_layer */
        struct fwd_act a;
        struct kv_pool *kv;
        struct vk_seq *seq;
        uint32_t rec_tokens, rec_logits; /* the shape seq holds a recording of (0: none) */
};

/* fwd-load.c: weights and buffers. */
int fwd_weights_bytes(const struct model *m, uint64_t *ret, struct vkinfer_err *err);
int fwd_upload_weights(struct fwd *f, const struct runner_vk_opts *opts, struct vkinfer_err *err);
void fwd_free_weights(struct fwd *f);
/* Sizes of the activations for max_tokens rows (all, and the largest
 * buffer); allocates them when f is set. */
int fwd_activations(struct fwd *f, const struct model *m, uint32_t max_tokens, uint32_t max_logits,
                    uint64_t *ret_bytes, uint64_t *ret_largest, struct vkinfer_err *err);
void fwd_free_activations(struct fwd *f);

/* fwd-step.c: records one step of n_tokens tokens, n_logits of them wanting logits. */
int fwd_record(struct fwd *f, uint32_t n_tokens, uint32_t n_logits, struct vkinfer_err *err);
