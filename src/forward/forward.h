/* The Vulkan forward pass: a struct runner (src/sched/runner.h) that keeps
 * a model's weights in device memory, a paged KV cache (src/kv) and runs
 * each step's batch entirely on the GPU, one submission per step.
 * See src/forward/README.md for the data flow and the cache layout. */
#pragma once

#include <stdint.h>

#include "sched/runner.h"
#include "vk/vk.h"

struct model;

/* Called while the weights upload: bytes done of total. */
typedef void (*runner_vk_progress_fn)(void *userdata, uint64_t done, uint64_t total);

struct runner_vk_opts {
        runner_vk_progress_fn progress; /* may be NULL */
        void *progress_data;
        uint32_t max_tokens;            /* tokens per step at most; 0: 256 (or fewer when the context is smaller) */
        uint64_t device_memory;         /* bytes to budget against; 0: what the device reports free */
        uint32_t kv_tokens;             /* cache positions shared by all sequences; 0: n_ctx * max_seqs
                                         * (fewer lets more sequences wait on -ENOSPC than fit at full length) */
        enum runner_kv_type kv_type;    /* f16 needs storageBuffer16BitAccess; AUTO picks it where present */
};

/* Per step the runner takes at most runner.max_tokens tokens, and at most
 * max(max_seqs, 64) items wanting logits (fewer when max_tokens is
 * smaller); more is refused with -E2BIG.
 *
 * Uploads m's weights to ctx's device (through the staging buffer, a
 * bounded piece at a time) and sizes a KV cache for max_seqs sequences of
 * n_ctx positions. Checks first that weights, cache and activations fit the
 * device's memory: -ENOMEM with "needs X MiB, Y MiB free" otherwise;
 * -EOPNOTSUPP naming a tensor type or a shape the kernels do not handle;
 * -E2BIG when one layer's cache exceeds the storage-buffer range. ctx and m
 * must outlive the runner; ctx is used from the caller's thread only.
 * opts may be NULL.
 *
 * Steps keep runner.h's contract bitwise: an item's logits do not depend on
 * the other items of the step nor on how its prompt was cut into chunks
 * (tests/forward/test-forward-batch.c). */
int runner_vk_new_opts(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                       const struct runner_vk_opts *opts, struct runner **ret, struct vkinfer_err *err);
/* runner_vk_new_opts with default options. */
int runner_vk_new(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx, uint32_t max_seqs, struct runner **ret,
                  struct vkinfer_err *err);

/* Bytes the runner would need on the device: weights (as uploaded), KV
 * cache, activations. For the budget check and `vkinfer run` messages. */
int runner_vk_estimate(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                       const struct runner_vk_opts *opts, uint64_t *ret_weights, uint64_t *ret_kv,
                       uint64_t *ret_act, struct vkinfer_err *err);

/* Bytes one decode step of one sequence reads, for bandwidth figures
 * (`vkinfer bench`): weights as stored (one row of the embedding table;
 * of each routed-expert tensor only the n_expert_used experts a token
 * picks) and the KV cache for n_keys positions of kv_value_bytes per value
 * (rows: llama/qwen2 K and V of every kv head, deepseek2 the latent and
 * k_pe). */
/* Dispatches and pipeline barriers in the step the runner recorded last
 * (a decode step's after a decode step). */
void runner_vk_step_counts(const struct runner *rn, uint32_t *ret_dispatches, uint32_t *ret_barriers);
void runner_vk_decode_bytes(const struct model *m, uint32_t n_keys, uint32_t kv_value_bytes, uint64_t *ret_weights,
                            uint64_t *ret_kv);
