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

/* y[t * y_ts + y_off + r] = sum_k W[r][k] * x[t * x_ts + k] for r < nrows,
 * t < nvec; workgroup z takes vectors z * tpg .. z * tpg + tpg - 1
 * (matvec_*.comp). Each (r, t) is reduced the same way whatever the number
 * of vectors and wherever t sits: batch invariance. */
struct push_matvec {
        PC_U32 ncols;     /* elements per weight row */
        PC_U32 nrows;     /* rows in this dispatch */
        PC_U32 row_bytes; /* bytes per weight row */
        PC_U32 y_off;     /* first output element (row splitting) */
        PC_U32 x_ts;      /* elements between vectors of x */
        PC_U32 y_ts;      /* elements between vectors of y */
        PC_U32 nvec;
        PC_U32 tpg;       /* vectors per workgroup */
};
PUSH_SIZE(push_matvec, 32)
#define MATVEC_TPG 8 /* vectors per workgroup in op_matvec_batch */
#define MATVEC_RED 256 /* matvec.comp's partial sums: rows x vectors x subgroups */

/* Matrix x vector by id (matvec_id_*.comp): for token t and slot s (the
 * workgroup's z = t * n_slots + s), matrix e = ids[t * id_ts + s] of a 3D
 * weight (matrices of mat_rows rows, one after another):
 *   y[t * y_ts + s * y_ss + r] = sum_k W[e][row0 + r][k] * x[x_off + t * x_ts + s * x_ss + k]
 * for r < nrows. Only matrices id_begin..id_end-1 are bound (the binding
 * starts at matrix id_begin); other ids are left to other dispatches. */
struct push_matvec_id {
        PC_U32 ncols;
        PC_U32 nrows;
        PC_U32 row_bytes;
        PC_U32 n_slots;
        PC_U32 id_ts;
        PC_U32 mat_rows;
        PC_U32 row0;
        PC_U32 id_begin;
        PC_U32 id_end;
        PC_U32 x_off, x_ss, x_ts;
        PC_U32 y_ss, y_ts;
        PC_U32 n_chunks; /* matvec_idg_*: workgroup z is chunk z of id_group's n_chunks */
};
PUSH_SIZE(push_matvec_id, 60)

/* The (token, slot) pairs of a matvec by id grouped by matrix
 * (id_group.comp, one workgroup), so that matvec_idg_* reads each matrix
 * once for up to MATVEC_TPG pairs. Pair p = t * n_slots + s has id
 * ids[t * id_ts + s]; ids >= n_mats are left out. Output, in uints:
 * n_chunks chunks of 3 (matrix or ID_GROUP_NONE, first, count) then the
 * pairs, by matrix and in pair order within one; chunk c holds the count
 * <= MATVEC_TPG pairs from pairs[first]. n_chunks = ceil(pairs /
 * MATVEC_TPG) + n_mats bounds the chunks any ids need; the unused ones
 * are ID_GROUP_NONE. */
#define ID_GROUP_NONE 0xffffffffu
#define ID_GROUP_MAX_MATS 1024
struct push_id_group {
        PC_U32 n_tokens;
        PC_U32 n_slots;
        PC_U32 id_ts;
        PC_U32 n_mats;
        PC_U32 n_chunks;
};
PUSH_SIZE(push_id_group, 20)

/* Causal attention over a paged cache (attn_paged.comp), one workgroup per
 * (token, query head). Token t of sequence slot tok_seq[t] at position
 * tok_pos[t] attends to positions 0..tok_pos[t]; position p lives in cache
 * row block_table[tok_seq[t] * max_blocks + p / block_size] * block_size +
 * p % block_size. Query head h reads kv head h / group:
 *   k = cache[row * row_width + k_off + kvh * k_hs + 0..dk)
 *   v = cache[row * row_width + v_off + kvh * v_hs + 0..dv)
 *   out[t * o_ts + h * o_hs + d] = sum_p softmax_p(q . k_p * scale) v_p[d]
 * with q = q[t * q_ts + h * q_hs + 0..dk). Positions are reduced in a fixed
 * order (tiles of the workgroup size, online softmax), so the result never
 * depends on the other tokens of the batch. */
struct push_attn {
        PC_U32 n_tokens;
        PC_U32 n_head;
        PC_U32 group;
        PC_U32 dk, dv;
        PC_U32 q_ts, q_hs;
        PC_U32 k_off, k_hs;
        PC_U32 v_off, v_hs;
        PC_U32 row_width;
        PC_U32 block_size;
        PC_U32 max_blocks;
        PC_U32 o_ts, o_hs;
        PC_F32 scale;
};
PUSH_SIZE(push_attn, 68)
#define ATTN_MAX_DK 1024 /* attn_paged.comp's shared query */
#define ATTN_MAX_DV_PER_INV 16 /* accumulators per invocation: dv <= 16 * WG */
#define ATTN_WG 64 /* the workgroup size fwd_attn dispatches with */

/* Row copy into the cache (kv_store.comp): for t < n_tokens, c < width,
 *   dst[row(t) * row_width + dst_off + c] = src[src_off + t * src_ts + c]
 * with row(t) = rows[t] when has_rows, else t (a strided copy). */
struct push_kv_store {
        PC_U32 n_tokens;
        PC_U32 width;
        PC_U32 src_off, src_ts;
        PC_U32 row_width, dst_off;
        PC_U32 has_rows;
};
PUSH_SIZE(push_kv_store, 28)

/* MoE routing (moe_route.comp), one workgroup per token, as ref_moe_route:
 * probs = softmax (gating 1) or sigmoid (gating 2) of the router logits;
 * selection = probs + bias; with n_groups > 1 only the n_groups_used groups
 * with the best sum of their two best scores stay; top k by selection
 * (ties: lower index); weights = probs, / max(sum, 6.1035e-5) when norm,
 * * scale unless scale is 0 or 1. */
struct push_moe_route {
        PC_U32 n_tokens;
        PC_U32 n_expert;
        PC_U32 k;
        PC_U32 n_groups, n_groups_used;
        PC_U32 gating;
        PC_U32 has_bias;
        PC_U32 norm;
        PC_F32 scale;
};
PUSH_SIZE(push_moe_route, 36)
#define MOE_MAX_EXPERT 256
#define MOE_MAX_USED 16

/* out[t][c] = sum_j w[t][j] * y[t][j][c] (j < k, in order) + add[t][c]
 * when has_add (moe_combine.comp). */
struct push_moe_combine {
        PC_U32 n_tokens;
        PC_U32 k;
        PC_U32 width;
        PC_U32 has_add;
};
PUSH_SIZE(push_moe_combine, 16)

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
