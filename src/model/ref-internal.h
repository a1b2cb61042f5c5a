/* Shared by the files of the CPU reference forward pass. Internal. */
#pragma once

#include "model/ref.h"

struct ref_state {
        const struct model *m;      /* the model the cache belongs to */
        uint32_t n_ctx;             /* positions the cache holds */
        enum ref_mla_form mla_form; /* deepseek2 only */
        float *freq_factors;        /* (n_dims/2) from rope_freqs, or NULL */

        /* llama / qwen2: per layer (n_layer) */
        float **k;                  /* (n_ctx, n_head_kv*head_dim_k): keys after rope */
        float **v;                  /* (n_ctx, n_head_kv*head_dim_v) */
        /* deepseek2: per layer (n_layer) */
        float **kv_cmpr;            /* (n_ctx, kv_lora_rank): latent after kv_a_norm */
        float **k_pe;               /* (n_ctx, qk_rope): shared rope key after rope */

        ref_trace_fn trace;
        void *trace_data;
};

/* Calls the trace callback if one is set. */
void ref_trace(const struct ref_state *s, const char *name, int layer, const float *data, size_t n_tokens,
               size_t width);

/* calloc of n floats (NULL when out of memory). */
float *ref_alloc(size_t n);

/* Row `row` of t (rows counted over ne1*ne2) dequantized into dst (ne0). */
int ref_row(const struct gguf_tensor *t, uint64_t row, float *dst, struct vkinfer_err *err);
/* The whole of a small tensor as floats (malloc'd), e.g. a norm weight. */
int ref_tensor(const struct gguf_tensor *t, float **ret, struct vkinfer_err *err);

/* y[t][o] = sum_i W[o][i] * x[t][i] for matrix `slice` of w (0 for 2D
 * tensors, the expert for 3D ones): x is (n_tok, ne0), y is (n_tok, ne1). */
int ref_matmul(const struct gguf_tensor *w, uint64_t slice, const float *x, size_t n_tok, float *y,
               struct vkinfer_err *err);
/* y[t] += b for each of n_tok rows; b may be NULL (then nothing). */
int ref_add_bias(const struct gguf_tensor *b, float *y, size_t n_tok, struct vkinfer_err *err);
/* y = rmsnorm(x) * w with w a tensor of n values. */
int ref_norm(const struct gguf_tensor *w, float eps, const float *x, size_t n_tok, size_t n, float *y,
             struct vkinfer_err *err);

/* SwiGLU feed-forward: y = down(silu(gate x) * up x), matrices `slice`. */
int ref_ffn(const struct gguf_tensor *gate, const struct gguf_tensor *up, const struct gguf_tensor *down,
            uint64_t slice, const float *x, size_t n_tok, float *y, struct vkinfer_err *err);

/* In place over n scores: exp(x - max) / sum. */
void ref_softmax(double *x, size_t n);

/* The attention blocks: h (n_tok, n_embd) normed input, out (n_tok, n_embd)
 * after attn_output. They store this step's keys in the cache. */
int ref_attn_gqa(const struct model *m, struct ref_state *s, uint32_t il, const float *h, size_t n_tok,
                 uint32_t pos0, float *out, struct vkinfer_err *err);
int ref_attn_mla(const struct model *m, struct ref_state *s, uint32_t il, const float *h, size_t n_tok,
                 uint32_t pos0, float *out, struct vkinfer_err *err);
/* Routed experts plus shared experts for n_tok rows. */
int ref_moe(const struct model *m, const struct ref_state *s, uint32_t il, const float *h, size_t n_tok,
            float *out, struct vkinfer_err *err);
