/* Push-constant structs: the ONE definition, included by C (src/ops) and by
 * GLSL (the .comp files here). Every member is a 4-byte scalar, so C's natural
 * layout and GLSL's push-constant (std430) layout agree; PUSH_SIZE checks the
 * size on the C side. Each struct stays within 128 bytes, the minimum
 * maxPushConstantsSize every Vulkan device has. */
#ifndef VKINFER_PUSH_H
#define VKINFER_PUSH_H

#ifdef GL_core_profile
#define PC_U32 uint
#define PC_I32 int
#define PC_F32 float
#define PUSH_SIZE(name, size)
#else
#include <stdint.h>
#define PC_U32 uint32_t
#define PC_I32 int32_t
#define PC_F32 float
#define PUSH_SIZE(name, size) \
        _Static_assert(sizeof(struct name) == (size) && (size) <= 128,                  \
                       #name " must be " #size " bytes of 4-byte scalars");
#endif

/* y[y_off + r] = sum_k W[r][k] * x[k] for r < nrows (matvec_*.comp). */
struct push_matvec {
        PC_U32 ncols;     /* elements per weight row */
        PC_U32 nrows;     /* rows in this dispatch */
        PC_U32 row_bytes; /* bytes per weight row */
        PC_U32 y_off;     /* first output element (row splitting) */
};
PUSH_SIZE(push_matvec, 16)

/* Y[n][y_off + m] = sum_k W[m][k] * X[n][k], m < nrows, n < nvec (matmul_*.comp). */
struct push_matmul {
        PC_U32 ncols;     /* K */
        PC_U32 nrows;     /* M in this dispatch */
        PC_U32 nvec;      /* N */
        PC_U32 row_bytes; /* bytes per weight row */
        PC_U32 y_off;     /* first output column (row splitting) */
        PC_U32 y_stride;  /* elements per output row (M of the whole weight) */
};
PUSH_SIZE(push_matmul, 24)

/* out[i][c] = table[ids[i] - row_begin][c] for ids in [row_begin, row_end) (get_rows_*.comp). */
struct push_get_rows {
        PC_U32 ncols;
        PC_U32 n_ids;
        PC_U32 row_bytes;
        PC_U32 row_begin; /* rows of the table bound in this dispatch */
        PC_U32 row_end;
};
PUSH_SIZE(push_get_rows, 20)

/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w (rmsnorm.comp). */
struct push_rmsnorm {
        PC_U32 ncols;
        PC_U32 nrows;
        PC_F32 eps;
};
PUSH_SIZE(push_rmsnorm, 12)

/* RoPE with YaRN, ggml's rope_yarn (rope.comp). Element (t, h, d) of x is
 * x[x_off + t * x_ts + h * x_hs + d]; likewise y. */
#define ROPE_MODE_NORMAL 0 /* rotate pairs (2i, 2i+1) */
#define ROPE_MODE_NEOX 2   /* rotate pairs (i, i + n_dims/2) */
struct push_rope {
        PC_U32 n_dims;   /* rotated dims from the start of each head; the rest are copied */
        PC_U32 head_dim; /* even */
        PC_U32 n_heads;
        PC_U32 n_tokens;
        PC_U32 mode;
        PC_U32 x_off, x_hs, x_ts;
        PC_U32 y_off, y_hs, y_ts;
        PC_F32 theta_scale; /* freq_base ^ (-2 / n_dims) */
        PC_F32 freq_scale;
        PC_F32 ext_factor;
        PC_F32 attn_factor;
        PC_F32 corr_lo, corr_hi; /* YaRN correction dims */
        PC_U32 has_ff;           /* divide each pair's frequency by freq_factors[i] */
};
PUSH_SIZE(push_rope, 72)

/* y[r][c] = softmax_c(x[r][c] * scale + mask[r * mask_stride + c]) over
 * c < n_valid; y is 0 for c >= n_valid (softmax.comp). */
struct push_softmax {
        PC_U32 ncols;
        PC_U32 nrows;
        PC_F32 scale;
        PC_U32 has_mask;
        PC_U32 mask_stride; /* 0 broadcasts one mask row */
        PC_U32 n_valid;
};
PUSH_SIZE(push_softmax, 24)

/* Elementwise (elementwise.comp): y[i] = op(a[i], b[i % nb]). */
#define EW_OP_ADD 0
#define EW_OP_MUL 1
#define EW_OP_SCALE 2  /* y = a * scale */
#define EW_OP_SWIGLU 3 /* y = silu(a) * b */
struct push_elementwise {
        PC_U32 n;
        PC_U32 nb;
        PC_U32 op;
        PC_F32 scale;
};
PUSH_SIZE(push_elementwise, 16)

/* out[r] = index of the largest x[r][c], lowest index on ties (argmax.comp). */
struct push_argmax {
        PC_U32 ncols;
        PC_U32 nrows;
};
PUSH_SIZE(push_argmax, 8)

/* One pass of top-k (topk.comp): each chunk of `chunk` candidates of a row
 * yields its k best (value descending, index ascending). */
struct push_topk {
        PC_U32 n;              /* candidates per row */
        PC_U32 k;
        PC_U32 chunk;
        PC_U32 in_row_stride;
        PC_U32 out_row_stride; /* nchunks * k */
        PC_U32 has_idx;        /* candidates carry indices (later passes) */
};
PUSH_SIZE(push_topk, 24)

#define TOPK_CHUNK 1024 /* candidates per workgroup; matches the shader's shared arrays */
#define TOPK_MAX_K 64

#endif
