/* Plain-C references of every kernel in ops.h, written for clarity, not
 * speed: what the GPU results are tested against (tests/vk, `vkinfer
 * selftest`). Same shapes and conventions as the ops; return 0 or -errno. */
#pragma once

#include <stdint.h>

#include "ops/ops.h"

/* w: nrows rows of ggml type `type`, ncols each. Accumulates in double. */
int ref_matvec(uint32_t type, const void *w, uint32_t ncols, uint32_t nrows, const float *x, float *y);
int opref_matmul(uint32_t type, const void *w, uint32_t ncols, uint32_t nrows, const float *x, uint32_t nvec,
               float *y);
/* op_matvec_id's reference; w holds p->n_mats matrices. */
int opref_matvec_id(uint32_t type, const void *w, uint32_t ncols, const struct op_matvec_id *p,
                    const uint32_t *ids, const float *x, float *y);
int ref_get_rows(uint32_t type, const void *w, uint32_t ncols, uint32_t nrows, const int32_t *ids,
                 uint32_t n_ids, float *out);
void opref_rmsnorm(const float *x, const float *w, float *y, uint32_t ncols, uint32_t nrows, float eps);
/* x and y use p's offsets and strides; freq_factors may be NULL. */
void opref_rope(const struct op_rope *p, const float *x, const int32_t *pos, const float *freq_factors, float *y);
void opref_softmax(const float *x, const float *mask, float *y, uint32_t ncols, uint32_t nrows, float scale,
                 uint32_t mask_stride, uint32_t n_valid);
void ref_add(const float *a, const float *b, float *y, uint32_t n, uint32_t nb);
void ref_mul(const float *a, const float *b, float *y, uint32_t n, uint32_t nb);
void ref_scale(const float *a, float *y, uint32_t n, float scale);
void ref_swiglu(const float *a, const float *b, float *y, uint32_t n);
void ref_argmax(const float *x, uint32_t *out, uint32_t ncols, uint32_t nrows);
void ref_topk(const float *x, float *out_val, uint32_t *out_idx, uint32_t n, uint32_t k, uint32_t nrows);
