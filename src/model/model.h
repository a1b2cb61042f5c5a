/* Models: hyperparameters and weight tensors of the supported architectures,
 * read from a GGUF file laid out as llama.cpp's converter writes it (the
 * keys "<arch>.embedding_length", ..., the tensors "blk.N.attn_q.weight", ...).
 * No Vulkan here, and no copies of the weights: every tensor pointer points
 * into the gguf_file, which must outlive the model.
 *
 * Conventions (the same as ggml's, so a reader of llama.cpp feels at home):
 *
 *  - Shapes are written ne=[ne0, ne1, ne2]: ne0 is the contiguous dimension.
 *    A weight of ne=[n_in, n_out] stores n_out rows of n_in values and
 *    computes y[o] = sum_i W[o*n_in + i] * x[i]. A 3D expert tensor of
 *    ne=[n_in, n_out, n_expert] is n_expert such matrices one after another.
 *  - Activations are row-major too: x[t*n_embd + i] for token t.
 *  - Per-head vectors are concatenated head after head: q[h*head_dim + d].
 *    In deepseek2 each q head is [qk_nope | qk_rope] (no-position part
 *    first, then the part that gets rope), and the output of
 *    attn_kv_a_mqa is [kv_lora_rank | qk_rope] (latent first).
 *  - Rope rotates pairs of values by angle theta_i = pos * base^(-2i/n_dims)
 *    for pair i < n_dims/2; values at index >= n_dims are not touched.
 *      ROPE_TYPE_NORM (llama, deepseek2): the pair is (x[2i], x[2i+1]).
 *      ROPE_TYPE_NEOX (qwen2):            the pair is (x[i], x[i + n_dims/2]).
 *    Rotation: x0' = x0*cos - x1*sin, x1' = x0*sin + x1*cos, with cos and sin
 *    multiplied by rope.mscale. YaRN blends interpolated and extrapolated
 *    angles per pair, exactly as ggml_rope_ext does (see model_rope_theta).
 *  - MLA (deepseek2): attn_k_b has ne=[qk_nope, kv_lora_rank, n_head], so
 *    k_nope[h][d] = sum_l k_b[h][l][d] * latent[l]; attn_v_b has
 *    ne=[kv_lora_rank, v_head, n_head], so v[h][d] = sum_l v_b[h][d][l] *
 *    latent[l]. The older combined attn_kv_b has ne=[kv_lora_rank,
 *    n_head*(qk_nope+v_head)]: row h*(qk_nope+v_head)+d is k_b's column d
 *    for d < qk_nope, and v_b's row d-qk_nope after that.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gguf.h"
#include "util/util.h"

enum model_arch_id {
        MODEL_ARCH_LLAMA,
        MODEL_ARCH_QWEN2,
        MODEL_ARCH_DEEPSEEK2,
};

/* Numbered as ggml numbers its rope modes. */
enum rope_type {
        ROPE_TYPE_NORM = 0,
        ROPE_TYPE_NEOX = 2,
};

enum rope_scaling {
        ROPE_SCALING_NONE,
        ROPE_SCALING_LINEAR,
        ROPE_SCALING_YARN,
};

/* Numbered as llama.cpp's "<arch>.expert_gating_func" values. */
enum moe_gating {
        MOE_GATING_SOFTMAX = 1, /* DeepSeek V2 (also when the key is absent) */
        MOE_GATING_SIGMOID = 2, /* DeepSeek V3 / R1 */
};

/* Rope as the file describes it, and the numbers derived from it that every
 * implementation (the CPU reference, the shaders) must use. */
struct model_rope {
        enum rope_type type;
        uint32_t n_dims;          /* rotated values per head (rope.dimension_count) */
        float freq_base;          /* rope.freq_base */
        enum rope_scaling scaling; /* rope.scaling.type (absent: linear, by the factor if any) */
        float scaling_factor;     /* rope.scaling.factor (or rope.scale_linear); 1 when none */
        uint32_t orig_ctx;        /* rope.scaling.original_context_length (else context_length) */
        float yarn_log_mul;       /* rope.scaling.yarn_log_multiplier as stored (= 0.1 * mscale_all_dim) */
        float beta_fast;          /* rope.scaling.yarn_beta_fast, default 32 */
        float beta_slow;          /* rope.scaling.yarn_beta_slow, default 1 */
        float attn_factor_file;   /* rope.scaling.attn_factor, default 1 */

        /* Derived, as llama.cpp passes them to ggml_rope_ext: */
        float freq_scale;         /* 1/scaling_factor for linear and yarn, else 1 */
        float ext_factor;         /* 1 for yarn, else 0 */
        float attn_factor;        /* ggml_rope_ext's attn_factor argument */
        float corr_dims[2];       /* YaRN ramp: pair i keeps its original angle (extrapolates)
                                   * for i <= corr_dims[0], is interpolated (angle * freq_scale)
                                   * for i >= corr_dims[1], blends linearly in between */
        float mscale;             /* what cos and sin are multiplied by (1 for DeepSeek's YaRN) */
};

struct model_hparams {
        enum model_arch_id arch;
        uint32_t n_vocab;         /* rows of token_embd */
        uint32_t n_ctx_train;     /* context_length */
        uint32_t n_embd;          /* embedding_length */
        uint32_t n_layer;         /* layers the forward pass runs: block_count - nextn_predict_layers */
        uint32_t n_layer_all;     /* block_count, NextN/MTP layers included */
        uint32_t n_head;          /* attention.head_count */
        uint32_t n_head_kv;       /* llama/qwen2: attention.head_count_kv (GQA); deepseek2: n_head
                                   * (each head has its own key after decompression) */
        uint32_t head_dim_k;      /* per head q/k size (deepseek2: qk_nope + qk_rope) */
        uint32_t head_dim_v;      /* per head v size (deepseek2: v_head) */
        uint32_t n_ff;            /* feed_forward_length: dense FFN width */
        float rms_eps;            /* attention.layer_norm_rms_epsilon */
        struct model_rope rope;
        float kq_scale;           /* attention scores are (q . k) * kq_scale */

        /* deepseek2 (zero elsewhere) */
        uint32_t q_lora_rank;     /* attention.q_lora_rank; 0: attn_q instead of attn_q_a/attn_q_b */
        uint32_t kv_lora_rank;    /* attention.kv_lora_rank: the cached latent's size */
        uint32_t qk_nope;         /* head_dim_k - qk_rope */
        uint32_t qk_rope;         /* rope.dimension_count */
        uint32_t v_head;          /* = head_dim_v */
        uint32_t n_layer_dense_lead; /* leading_dense_block_count: layers before the MoE ones */
        uint32_t n_expert;        /* expert_count: routed experts */
        uint32_t n_expert_shared; /* expert_shared_count */
        uint32_t n_expert_used;   /* expert_used_count: top-k */
        uint32_t n_ff_exp;        /* expert_feed_forward_length: width of one expert */
        enum moe_gating gating;   /* expert_gating_func */
        bool expert_weights_norm; /* expert_weights_norm: divide the top-k weights by their sum */
        float expert_weights_scale; /* expert_weights_scale: then multiply them by this */
        uint32_t n_expert_groups; /* expert_group_count; <= 1: no group-limited routing */
        uint32_t n_expert_groups_used; /* expert_group_used_count */
        uint32_t nextn_predict_layers; /* nextn_predict_layers: trailing MTP layers */
};

/* Tensors of one layer; NULL where the architecture or variant has none. */
struct model_layer {
        const struct gguf_tensor *attn_norm;   /* [n_embd] */

        /* llama / qwen2 attention */
        const struct gguf_tensor *wq;          /* [n_embd, n_head*head_dim_k] (also deepseek2 without q_lora) */
        const struct gguf_tensor *wk;          /* [n_embd, n_head_kv*head_dim_k] */
        const struct gguf_tensor *wv;          /* [n_embd, n_head_kv*head_dim_v] */
        const struct gguf_tensor *bq, *bk, *bv; /* biases (qwen2; optional in llama) */
        const struct gguf_tensor *wo;          /* [n_head*head_dim_v, n_embd] (all archs) */
        const struct gguf_tensor *bo;          /* optional (llama) */

        /* deepseek2 MLA */
        const struct gguf_tensor *wq_a;        /* [n_embd, q_lora_rank] */
        const struct gguf_tensor *q_a_norm;    /* [q_lora_rank] */
        const struct gguf_tensor *wq_b;        /* [q_lora_rank, n_head*head_dim_k] */
        const struct gguf_tensor *wkv_a_mqa;   /* [n_embd, kv_lora_rank + qk_rope] */
        const struct gguf_tensor *kv_a_norm;   /* [kv_lora_rank] */
        const struct gguf_tensor *wk_b;        /* [qk_nope, kv_lora_rank, n_head] */
        const struct gguf_tensor *wv_b;        /* [kv_lora_rank, v_head, n_head] */
        const struct gguf_tensor *wkv_b;       /* [kv_lora_rank, n_head*(qk_nope+v_head)] (older files) */

        const struct gguf_tensor *ffn_norm;    /* [n_embd] */
        /* dense SwiGLU FFN: down(silu(gate x) * up x) */
        const struct gguf_tensor *ffn_gate;    /* [n_embd, n_ff] */
        const struct gguf_tensor *ffn_up;      /* [n_embd, n_ff] */
        const struct gguf_tensor *ffn_down;    /* [n_ff, n_embd] */
        /* MoE */
        const struct gguf_tensor *ffn_gate_inp;   /* [n_embd, n_expert]: router */
        const struct gguf_tensor *exp_probs_b;    /* [n_expert]: selection bias (V3), optional */
        const struct gguf_tensor *ffn_gate_exps;  /* [n_embd, n_ff_exp, n_expert] */
        const struct gguf_tensor *ffn_up_exps;    /* [n_embd, n_ff_exp, n_expert] */
        const struct gguf_tensor *ffn_down_exps;  /* [n_ff_exp, n_embd, n_expert] */
        const struct gguf_tensor *ffn_gate_shexp; /* [n_embd, n_ff_exp*n_expert_shared] */
        const struct gguf_tensor *ffn_up_shexp;   /* [n_embd, n_ff_exp*n_expert_shared] */
        const struct gguf_tensor *ffn_down_shexp; /* [n_ff_exp*n_expert_shared, n_embd] */

        /* NextN / MTP (layers >= n_layer), all optional; unused by the forward pass */
        const struct gguf_tensor *nextn_eh_proj;      /* [2*n_embd, n_embd] */
        const struct gguf_tensor *nextn_enorm;        /* [n_embd] */
        const struct gguf_tensor *nextn_hnorm;        /* [n_embd] */
        const struct gguf_tensor *nextn_embed_tokens; /* [n_embd, n_vocab] */
        const struct gguf_tensor *nextn_head_norm;    /* shared_head_norm [n_embd] */
        const struct gguf_tensor *nextn_head;         /* shared_head_head [n_embd, n_vocab] */

        bool is_moe;   /* routed experts instead of the dense FFN */
        bool is_nextn; /* an MTP layer the forward pass skips */
};

struct model_arch;

struct model {
        const struct gguf_file *file;  /* not owned */
        const struct model_arch *arch;
        struct model_hparams hp;

        const struct gguf_tensor *tok_embd;    /* [n_embd, n_vocab] */
        const struct gguf_tensor *output_norm; /* [n_embd] */
        const struct gguf_tensor *output;      /* [n_embd, n_vocab]; == tok_embd when tied */
        const struct gguf_tensor *rope_freqs;  /* [n_rot/2] llama 3 frequency factors, optional */
        struct model_layer *layers;            /* n_layer_all entries */

        /* Every tensor bound above, each once, in binding order: what an
         * uploader copies to the device. */
        const struct gguf_tensor **tensors;
        size_t n_tensors;
        uint64_t weight_bytes;                 /* their bytes together */
};

/* Reads the hyperparameters of f's architecture and binds every tensor the
 * forward pass uses, checking each one's shape and type. On failure *ret is
 * untouched and err names the key or tensor that was wrong (with expected
 * and actual shape, or the type that is not supported). f must outlive the
 * model. */
int model_load(const struct gguf_file *f, struct model **ret, struct vkinfer_err *err);
/* Accepts NULL; returns NULL. Does not close the file. */
struct model *model_free(struct model *m);

/* "deepseek2", "llama", "qwen2". */
const char *model_arch_name(enum model_arch_id id);

/* True for the tensor types a model may hold: F32, F16, BF16, Q8_0, Q4_0,
 * Q4_K, Q5_K, Q6_K, as far as the CPU can dequantize them today. */
bool model_type_supported(uint32_t type);

/* Writes a human-readable summary (hyperparameters, tensor counts, bytes)
 * into buf, truncated to size; returns the length it wanted, like snprintf. */
size_t model_describe(const struct model *m, char *buf, size_t size);

/* Angle multiplier and magnitude for rope pair i (0 <= i < n_dims/2) at
 * position pos, exactly as ggml_rope_ext computes them (YaRN included);
 * freq_factor is 1 unless the model has rope_freqs. The rotation uses
 * cos(*ret_theta) * *ret_mscale and sin(*ret_theta) * *ret_mscale. */
void model_rope_theta(const struct model_rope *r, uint32_t pos, uint32_t i, float freq_factor,
                      double *ret_theta, double *ret_mscale);
