/* The forward pass's own kernels (shaders/attn_paged.comp, kv_store.comp,
 * moe_route.comp, moe_combine.comp): host dispatch, recorded into a vk_seq
 * like the ops in src/ops, and their plain-C references (fwd-ref.c), which
 * tests/forward/test-fwd-kernels.c compares them with. The push-constant
 * structs in shaders/push.h say exactly what each computes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ops/ops.h"
#include "push.h" /* shaders/ */

/* Attention over the paged cache: p as push_attn (push.h). q, cache (f16
 * values when f16, else float), block_table (uint32), tok_seq (uint32 per
 * token), tok_pos (int32 per token), out (float). The cache view must hold
 * every row the block table names. */
int fwd_attn(struct vk_seq *s, const struct push_attn *p, bool f16, struct vk_view q, struct vk_view cache,
             struct vk_view block_table, struct vk_view tok_seq, struct vk_view tok_pos, struct vk_view out,
             struct vkinfer_err *err);
/* Rows into the cache (rows: uint32 per token) or, with rows.size == 0, a
 * strided copy into dst; p as push_kv_store (has_rows is set here). With
 * f16, dst holds f16 values (an f16 cache). */
int fwd_kv_store(struct vk_seq *s, const struct push_kv_store *p, bool f16, struct vk_view src, struct vk_view rows,
                 struct vk_view dst, struct vkinfer_err *err);
/* Routing: logits n_tokens x n_expert, bias n_expert floats (size 0: none),
 * out ids (uint32) and weights n_tokens x k; p as push_moe_route. */
int fwd_moe_route(struct vk_seq *s, const struct push_moe_route *p, struct vk_view logits, struct vk_view bias,
                  struct vk_view out_ids, struct vk_view out_w, struct vkinfer_err *err);
/* Weighted sum of expert outputs y (n_tokens x k x width) plus add (size 0:
 * none) into out (n_tokens x width). */
int fwd_moe_combine(struct vk_seq *s, const struct push_moe_combine *p, struct vk_view y, struct vk_view w,
                    struct vk_view add, struct vk_view out, struct vkinfer_err *err);

/* ---- References (fwd-ref.c): same arguments as host arrays ---- */

/* Scores and sums in double; the softmax as ref_softmax does it. */
void fwdref_attn(const struct push_attn *p, const float *q, const float *cache, const uint32_t *block_table,
                 const uint32_t *tok_seq, const int32_t *tok_pos, float *out);
void fwdref_kv_store(const struct push_kv_store *p, const float *src, const uint32_t *rows, float *dst);
void fwdref_moe_combine(const struct push_moe_combine *p, const float *y, const float *w, const float *add,
                        float *out);
