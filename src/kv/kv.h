/* The paged KV cache's bookkeeping, host side: a pool of fixed-size blocks
 * (KV_BLOCK_TOKENS positions each), a free list, and a block table per
 * sequence. No Vulkan here: the forward pass keeps the cache memory (one
 * buffer per layer, row r = position r % KV_BLOCK_TOKENS of block
 * r / KV_BLOCK_TOKENS) and a GPU-readable copy of the block tables, which
 * it refreshes from kv_block_table() when a sequence is opened.
 *
 * Blocks are reserved at kv_seq_open for every position the sequence may
 * reach, so a step never runs out of cache half way; kv_seq_close returns
 * them at once. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define KV_BLOCK_TOKENS 16u

struct kv_pool;

/* A pool of n_blocks blocks shared by at most max_seqs sequences of at most
 * max_blocks_per_seq blocks each. */
int kv_pool_new(uint32_t n_blocks, uint32_t max_seqs, uint32_t max_blocks_per_seq, struct kv_pool **ret,
                struct vkinfer_err *err);
/* Accepts NULL; returns NULL. */
struct kv_pool *kv_pool_free(struct kv_pool *p);

/* Opens a sequence able to hold n_tokens positions: reserves
 * ceil(n_tokens / KV_BLOCK_TOKENS) blocks. -ENOSPC when no sequence slot or
 * not enough free blocks are left now; -EINVAL when n_tokens is 0 or more
 * than one sequence may ever hold. *ret_seq is in [0, max_seqs). */
int kv_seq_open(struct kv_pool *p, uint32_t n_tokens, uint32_t *ret_seq, struct vkinfer_err *err);
/* Frees the sequence's blocks. Ignores a sequence that is not open. */
void kv_seq_close(struct kv_pool *p, uint32_t seq);
/* True when seq is open. */
bool kv_seq_is_open(const struct kv_pool *p, uint32_t seq);
/* Positions the sequence may hold (its blocks times KV_BLOCK_TOKENS). */
uint32_t kv_seq_capacity(const struct kv_pool *p, uint32_t seq);
/* The sequence's block table: max_blocks_per_seq entries, the unused ones
 * 0 (never read: positions beyond the capacity are refused). NULL when not
 * open. */
const uint32_t *kv_block_table(const struct kv_pool *p, uint32_t seq);
/* The cache row (block * KV_BLOCK_TOKENS + offset) of position pos of seq;
 * pos must be below kv_seq_capacity. */
uint32_t kv_row(const struct kv_pool *p, uint32_t seq, uint32_t pos);
/* Blocks in use and in all. */
void kv_usage(const struct kv_pool *p, uint64_t *ret_used, uint64_t *ret_total);
uint32_t kv_max_blocks_per_seq(const struct kv_pool *p);
