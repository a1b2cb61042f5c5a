/* The compute kernels, host side: each op RECORDS its dispatches into a
 * vk_seq (nothing is submitted here), taking buffer views, so the forward
 * pass chains them and replays the sequence. All tensors are f32 unless a
 * weight type says otherwise; rows are contiguous (ne[0] = row length, as in
 * GGUF). Views must be at least as large as the shapes need (-EINVAL
 * otherwise); only what the shapes need is bound.
 *
 * Where each kernel lives: see src/vk/README.md. CPU references: ref.h. */
#pragma once

#include <stdint.h>

#include "vk/vk.h"

/* A weight matrix: nrows rows of ncols elements of a GGUF type (F32, F16,
 * BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K). A matrix larger than the storage-buffer range is bound
 * in row ranges, one dispatch each; its view must start aligned and hold its
 * bytes rounded up to 4 (shaders read words; a vk_buf does both). */
struct op_weight {
        struct vk_view view;
        uint32_t type; /* enum ggml_type */
        uint32_t ncols, nrows;
};

/* True when matvec/matmul/get_rows handle the type. */
bool op_weight_type_supported(uint32_t type);

/* The first `bytes` of v in *ret, or -EINVAL naming op and the operand
 * (what) when v is smaller or bytes is 0: how every op checks its views. */
int op_need(const char *op, const char *what, struct vk_view v, uint64_t bytes, struct vk_view *ret,
                 struct vkinfer_err *err);

/* y[r] = sum_k W[r][k] * x[k]: x has ncols floats, y nrows. */
int op_matvec(struct vk_seq *s, const struct op_weight *w, struct vk_view x, struct vk_view y,
              struct vkinfer_err *err);
/* Y[n][r] = sum_k W[r][k] * X[n][k] for n < nvec, each (r, n) reduced
 * exactly as op_matvec reduces it: bitwise the same whatever nvec is and
 * wherever the vector sits in X (the forward pass's batch invariance). */
int op_matvec_batch(struct vk_seq *s, const struct op_weight *w, struct vk_view x, struct vk_view y, uint32_t nvec,
                    struct vkinfer_err *err);

/* Matrix x vector by id over a stack of matrices (a 3D weight: n_mats
 * matrices of mat_rows rows of w->ncols, w->nrows = n_mats * mat_rows):
 * for t < n_tokens, s < n_slots, e = ids[t * id_ts + s] (< n_mats), r < nrows
 *   y[t * y_ts + s * y_ss + r] = sum_k W[e][row0 + r][k] * x[x_off + t * x_ts + s * x_ss + k]
 * with the same reduction as op_matvec. MoE experts chosen on the GPU, or
 * per-head matrices (ids 0..n_head-1, id_ts 0). */
struct op_matvec_id {
        uint32_t n_mats, mat_rows, row0, nrows;
        uint32_t n_tokens, n_slots, id_ts;
        uint32_t x_off, x_ss, x_ts;
        uint32_t y_ss, y_ts;
};
int op_matvec_id(struct vk_seq *s, const struct op_weight *w, const struct op_matvec_id *p, struct vk_view ids,
                 struct vk_view x, struct vk_view y, struct vkinfer_err *err);
/* The same product with each matrix read once for up to MATVEC_TPG of the
 * (token, slot) pairs that chose it (prompts, batches: the weights' bytes
 * per token drop by up to that much), bit for bit the same result. groups
 * is op_id_group's output for the same ids, n_tokens, n_slots, id_ts and
 * n_mats; op_id_group_bytes(n_tokens, n_slots, n_mats) long. */
uint32_t op_id_group_chunks(uint32_t n_tokens, uint32_t n_slots, uint32_t n_mats);
uint64_t op_id_group_bytes(uint32_t n_tokens, uint32_t n_slots, uint32_t n_mats);
int op_id_group(struct vk_seq *s, const struct op_matvec_id *p, struct vk_view ids, struct vk_view groups,
                struct vkinfer_err *err);
int op_matvec_id_grouped(struct vk_seq *s, const struct op_weight *w, const struct op_matvec_id *p,
                         struct vk_view groups, struct vk_view x, struct vk_view y, struct vkinfer_err *err);

/* Y[n][r] = sum_k W[r][k] * X[n][k] for n < nvec: X is nvec x ncols, Y nvec x nrows. */
int op_matmul(struct vk_seq *s, const struct op_weight *w, struct vk_view x, struct vk_view y, uint32_t nvec,
              struct vkinfer_err *err);
/* out[i] = row ids[i] of the table, dequantized: ids are n_ids int32 (each
 * < nrows, else the output row is left untouched), out n_ids x ncols. */
int op_get_rows(struct vk_seq *s, const struct op_weight *table, struct vk_view ids, uint32_t n_ids,
                struct vk_view out, struct vkinfer_err *err);

/* y[r][c] = x[r][c] / sqrt(mean_c(x[r]^2) + eps) * w[c]. y may be x. */
int op_rmsnorm(struct vk_seq *s, struct vk_view x, struct vk_view w, struct vk_view y, uint32_t ncols,
               uint32_t nrows, float eps, struct vkinfer_err *err);

/* RoPE, as ggml's ggml_rope_ext: normal rotates (2i, 2i+1), NeoX rotates
 * (i, i + n_dims/2); dims n_dims..head_dim-1 are copied. YaRN scaling with
 * ext_factor != 0. Strides and offsets are in elements; zero strides mean
 * contiguous [n_tokens][n_heads][head_dim]. y may be x. */
enum op_rope_mode {
        OP_ROPE_NORMAL = 0,
        OP_ROPE_NEOX = 2, /* ggml's GGML_ROPE_TYPE_NEOX */
};
struct op_rope {
        uint32_t n_dims, head_dim, n_heads, n_tokens;
        enum op_rope_mode mode;
        uint32_t x_off, x_hs, x_ts; /* element offset, head stride, token stride */
        uint32_t y_off, y_hs, y_ts;
        float freq_base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow;
        uint32_t n_ctx_orig;
};
/* pos: n_tokens int32 positions. freq_factors: n_dims/2 floats dividing
 * each pair's frequency (a GGUF's rope_freqs.weight, Llama 3 scaling), or a
 * view of size 0 for none. */
int op_rope(struct vk_seq *s, const struct op_rope *p, struct vk_view x, struct vk_view pos,
            struct vk_view freq_factors, struct vk_view y, struct vkinfer_err *err);
/* ggml_rope_yarn_corr_dims: the dims where YaRN ramps between interpolation
 * and extrapolation. */
void op_rope_corr_dims(const struct op_rope *p, float ret_dims[2]);

/* y[r] = softmax(x[r] * scale + mask[r * mask_stride]) over the first
 * n_valid columns (0 = all), zeros after. mask: a view of size 0 for none. */
int op_softmax(struct vk_seq *s, struct vk_view x, struct vk_view mask, struct vk_view y, uint32_t ncols,
               uint32_t nrows, float scale, uint32_t mask_stride, uint32_t n_valid, struct vkinfer_err *err);

/* y[i] = a[i] + b[i % nb], a[i] * b[i % nb], a[i] * scale, silu(a[i]) * b[i]
 * for i < n. y may be a. */
int op_add(struct vk_seq *s, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n, uint32_t nb,
           struct vkinfer_err *err);
int op_mul(struct vk_seq *s, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n, uint32_t nb,
           struct vkinfer_err *err);
int op_scale(struct vk_seq *s, struct vk_view a, struct vk_view y, uint32_t n, float scale, struct vkinfer_err *err);
int op_swiglu(struct vk_seq *s, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n,
              struct vkinfer_err *err);

/* out[r] (uint32) = the column of the largest x[r][c], lowest on ties. */
int op_argmax(struct vk_seq *s, struct vk_view x, struct vk_view out, uint32_t ncols, uint32_t nrows,
              struct vkinfer_err *err);

/* The k (<= 64) largest of each row of x (nrows x n), value descending,
 * lower index first on ties: out_val nrows x k floats, out_idx nrows x k
 * uint32. When k > n the tail is (-inf, 0xffffffff). scratch must hold
 * op_topk_scratch_bytes(); it is unused (may be empty) when n <= 1024. */
int op_topk(struct vk_seq *s, struct vk_view x, struct vk_view scratch, struct vk_view out_val,
            struct vk_view out_idx, uint32_t n, uint32_t k, uint32_t nrows, struct vkinfer_err *err);
uint64_t op_topk_scratch_bytes(uint32_t n, uint32_t k, uint32_t nrows);
