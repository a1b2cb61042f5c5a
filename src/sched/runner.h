/* A runner computes batches of tokens for one loaded model and owns its KV
 * cache. The scheduler thread is its only caller. Two implementations:
 * the Vulkan forward pass (the product) and the CPU reference forward
 * (slow; for tests and debugging, `device = cpu-reference`).
 *
 * Contract every runner keeps, which makes seeded sampling reproducible
 * whatever else is in the batch: the logits of an item depend only on that
 * sequence's tokens, never on the other items of the batch. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct runner_item {
        uint32_t seq;          /* from seq_open */
        const int32_t *tokens; /* n_tokens tokens at positions pos.. */
        uint32_t n_tokens;
        uint32_t pos;          /* tokens already in the sequence's cache */
        bool want_logits;      /* logits of the last token */
        bool all_logits;       /* with want_logits: logits of every token (perplexity) */
};

struct runner;

struct runner_ops {
        /* Opens a sequence able to hold n_tokens in all; -ENOSPC when the
         * cache cannot hold that many more now (the caller retries later). */
        int (*seq_open)(struct runner *r, uint32_t n_tokens, uint32_t *ret_seq, struct vkinfer_err *err);
        /* Frees the sequence's cache at once. */
        void (*seq_close)(struct runner *r, uint32_t seq);
        /* Runs the items; writes one row of n_vocab logits per item that
         * wants them (n_tokens rows for all_logits), in item order. */
        int (*step)(struct runner *r, const struct runner_item *items, size_t n_items, float *logits,
                    struct vkinfer_err *err);
        /* Cache blocks in use and in all. */
        void (*kv_usage)(struct runner *r, uint64_t *ret_used, uint64_t *ret_total);
        const char *(*device_name)(struct runner *r);
        /* Vulkan validation messages seen so far (VKINFER_VALIDATION=1);
         * NULL for runners without a device. Tests fail on any. */
        uint64_t (*validation_messages)(struct runner *r);
        void (*destroy)(struct runner *r);
};

/* The values of the KV cache. AUTO: f16 where the device has 16-bit
 * storage (half the memory and the attention's reads), else f32. */
enum runner_kv_type { RUNNER_KV_AUTO, RUNNER_KV_F32, RUNNER_KV_F16 };
/* "auto", "f16" or "f32" (NULL or "": auto); -EINVAL for anything else. */
int runner_kv_type_parse(const char *s, enum runner_kv_type *ret);

struct runner {
        const struct runner_ops *ops;
        uint32_t kv_value_bytes; /* 2 (f16) or 4 (f32) per cached value */
        uint32_t n_vocab;
        uint32_t n_ctx;       /* positions per sequence at most */
        uint32_t max_tokens;  /* tokens per step at most */
        uint32_t max_logit_rows; /* rows of logits per step at most */
};

struct model;

/* Rows of logits the items produce. */
size_t runner_logit_rows(const struct runner_item *items, size_t n_items);

/* Runs tokens as a new sequence, in as many steps as the runner's limits
 * need, and writes the logits of every position (n rows). */
int runner_logits_all(struct runner *r, const int32_t *tokens, uint32_t n, float *logits, struct vkinfer_err *err);

/* The runner for a device: "cpu-reference" selects the CPU reference; any
 * other value (NULL: automatic) a Vulkan device by index or name. */
int runner_open(const char *device, enum runner_kv_type kv, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                struct runner **ret, struct vkinfer_err *err);
/* The same, with the pipeline cache folder (NULL: $XDG_CACHE_HOME/vkinfer),
 * reporting the weights' upload: progress(userdata, done, total). */
int runner_open_progress(const char *device, const char *cache_dir, enum runner_kv_type kv, const struct model *m, uint32_t n_ctx, uint32_t max_seqs,
                         void (*progress)(void *userdata, uint64_t done, uint64_t total), void *userdata,
                         struct runner **ret, struct vkinfer_err *err);

/* The CPU reference runner: every sequence gets a full n_ctx cache. */
int runner_cpu_new(const struct model *m, uint32_t n_ctx, uint32_t max_seqs, struct runner **ret,
                   struct vkinfer_err *err);
