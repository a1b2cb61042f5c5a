/* The CPU reference forward pass: plain C, weights dequantized row by row
 * with ggml_dequantize_row, every dot product and softmax accumulated in
 * double, activations kept as float between steps (as the GPU keeps them).
 * Slow and simple on purpose: it is what the Vulkan forward pass is tested
 * against, so it follows llama.cpp's graphs step by step.
 *
 * Usage:
 *     struct ref_state *s;
 *     ref_state_new(m, n_ctx, REF_MLA_ABSORBED, &s, &err);
 *     ref_forward(m, prompt, n_prompt, 0, s, logits, &err);          // prefill
 *     ref_forward(m, &next, 1, n_prompt, s, logits, &err);           // decode
 *
 * The state holds the KV cache: for llama/qwen2 the roped keys and the
 * values of every head_count_kv head; for deepseek2 only what MLA caches,
 * the normed latent (kv_lora_rank values) and the roped k_pe (qk_rope
 * values) per token. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* How deepseek2 attention is computed; both read the same cache.
 *   EXPANDED: decompress each cached latent into per-head k_nope and v with
 *             attn_k_b/attn_v_b (or attn_kv_b), then ordinary attention.
 *   ABSORBED: project q_nope into the latent space with k_b, attend over the
 *             latents directly, project the result out with v_b. */
enum ref_mla_form {
        REF_MLA_ABSORBED,
        REF_MLA_EXPANDED,
};

struct ref_state;

/* Called after each named step with its output: n_tokens rows of width
 * floats. Names follow llama.cpp's graph callbacks: "inp_embd",
 * "attn_norm", "q", "kv_cmpr", "k_pe", "q_pe", "kqv_out", "attn_out",
 * "ffn_inp", "ffn_norm", "ffn_moe_logits", "ffn_out", "l_out", "result_norm",
 * "result_output"; layer is -1 outside the layers. */
typedef void (*ref_trace_fn)(void *userdata, const char *name, int layer, const float *data,
                             size_t n_tokens, size_t width);

/* A cache for positions [0, n_ctx) of model m (which must outlive it). */
int ref_state_new(const struct model *m, uint32_t n_ctx, enum ref_mla_form form, struct ref_state **ret,
                  struct vkinfer_err *err);
/* Accepts NULL; returns NULL. */
struct ref_state *ref_state_free(struct ref_state *s);
void ref_state_set_trace(struct ref_state *s, ref_trace_fn fn, void *userdata);

/* Runs n_tokens tokens at positions start_pos.. and writes their logits,
 * n_tokens rows of n_vocab floats, to ret_logits. Positions below start_pos
 * must have been run before with the same state (they are read from its
 * cache); later positions are overwritten. Fails (-EINVAL) on a token out of
 * the vocabulary or positions past n_ctx. */
int ref_forward(const struct model *m, const int32_t *tokens, size_t n_tokens, uint32_t start_pos,
                struct ref_state *s, float *ret_logits, struct vkinfer_err *err);

/* ---- Building blocks, for kernel tests ---- */

/* y = x / sqrt(mean(x^2) + eps) * w over rows of n values; w may be NULL. */
void ref_rmsnorm(const float *x, const float *w, float eps, size_t n_rows, size_t n, float *y);

/* Rotates the first r->n_dims values of each of n_heads heads of x (head h
 * starts at x + h*head_stride) for position pos; freq_factors (n_dims/2
 * values) may be NULL. */
void ref_rope(const struct model_rope *r, const float *freq_factors, float *x, uint32_t n_heads,
              size_t head_stride, uint32_t pos);

/* MoE routing of one token as llama.cpp's build_moe_ffn does it: probs =
 * softmax or sigmoid of the router logits; selection scores = probs + bias
 * (bias may be NULL: it only steers selection); with expert groups, only
 * the n_expert_groups_used groups with the largest sum of their two best
 * scores stay eligible; the n_expert_used best eligible experts are chosen
 * (ties: lower index first); their weights are their unbiased probs,
 * divided by their sum (at least 6.1e-5) when expert_weights_norm, then
 * multiplied by expert_weights_scale (unless 0 or 1). Writes n_expert_used
 * expert ids, best first, and their weights. */
int ref_moe_route(const struct model_hparams *hp, const float *router_logits, const float *bias,
                  uint32_t *ret_experts, float *ret_weights);
