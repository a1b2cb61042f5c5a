/* The paged KV cache's block allocator: a stack of free blocks and one
 * block table per sequence slot. */
#include "kv/kv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct kv_pool {
        uint32_t n_blocks, max_seqs, max_blocks_per_seq;
        uint32_t *free_list; /* n_free entries used */
        uint32_t n_free;
        uint32_t *tables;    /* max_seqs x max_blocks_per_seq */
        uint32_t *n_seq_blocks; /* per sequence; 0 = closed */
};

int kv_pool_new(uint32_t n_blocks, uint32_t max_seqs, uint32_t max_blocks_per_seq, struct kv_pool **ret,
                struct vkinfer_err *err) {
        uint64_t table_entries;
        if (n_blocks == 0 || max_seqs == 0 || max_blocks_per_seq == 0)
                return err_set(err, -EINVAL, "kv pool: %u blocks, %u sequences, %u blocks per sequence: none may be 0",
                               n_blocks, max_seqs, max_blocks_per_seq);
        if (mul_overflows(max_seqs, max_blocks_per_seq, &table_entries) || table_entries > UINT32_MAX ||
            (uint64_t) n_blocks * KV_BLOCK_TOKENS > UINT32_MAX)
                return err_set(err, -E2BIG, "kv pool: %u sequences of %u blocks is too many", max_seqs,
                               max_blocks_per_seq);
        struct kv_pool *p = calloc(1, sizeof(*p));
        if (!p)
                return err_set(err, -ENOMEM, "out of memory");
        p->n_blocks = n_blocks;
        p->max_seqs = max_seqs;
        p->max_blocks_per_seq = max_blocks_per_seq;
        p->free_list = calloc(n_blocks, sizeof(uint32_t));
        p->tables = calloc(table_entries, sizeof(uint32_t));
        p->n_seq_blocks = calloc(max_seqs, sizeof(uint32_t));
        if (!p->free_list || !p->tables || !p->n_seq_blocks) {
                kv_pool_free(p);
                return err_set(err, -ENOMEM, "out of memory");
        }
        /* Pushed in reverse so that a fresh pool hands out 0, 1, 2, ... */
        for (uint32_t i = 0; i < n_blocks; i++)
                p->free_list[i] = n_blocks - 1 - i;
        p->n_free = n_blocks;
        *ret = p;
        return 0;
}

struct kv_pool *kv_pool_free(struct kv_pool *p) {
        if (!p)
                return NULL;
        free(p->free_list);
        free(p->tables);
        free(p->n_seq_blocks);
        free(p);
        return NULL;
}

int kv_seq_open(struct kv_pool *p, uint32_t n_tokens, uint32_t *ret_seq, struct vkinfer_err *err) {
        uint32_t need = (uint32_t) (((uint64_t) n_tokens + KV_BLOCK_TOKENS - 1) / KV_BLOCK_TOKENS);
        if (n_tokens == 0 || need > p->max_blocks_per_seq)
                return err_set(err, -EINVAL, "a sequence of %u tokens: one holds 1..%u", n_tokens,
                               p->max_blocks_per_seq * KV_BLOCK_TOKENS);
        uint32_t seq = p->max_seqs;
        for (uint32_t s = 0; s < p->max_seqs; s++)
                if (p->n_seq_blocks[s] == 0) {
                        seq = s;
                        break;
                }
        if (seq == p->max_seqs)
                return err_set(err, -ENOSPC, "all %u sequences are open", p->max_seqs);
        if (need > p->n_free)
                return err_set(err, -ENOSPC, "the KV cache has %u free blocks, %u tokens need %u", p->n_free,
                               n_tokens, need);
        uint32_t *table = p->tables + (size_t) seq * p->max_blocks_per_seq;
        for (uint32_t i = 0; i < need; i++)
                table[i] = p->free_list[--p->n_free];
        p->n_seq_blocks[seq] = need;
        *ret_seq = seq;
        return 0;
}

void kv_seq_close(struct kv_pool *p, uint32_t seq) {
        if (!p || seq >= p->max_seqs || p->n_seq_blocks[seq] == 0)
                return;
        uint32_t *table = p->tables + (size_t) seq * p->max_blocks_per_seq;
        /* Freed in reverse so that reopening gets the same blocks in order. */
        for (uint32_t i = p->n_seq_blocks[seq]; i-- > 0;)
                p->free_list[p->n_free++] = table[i];
        memset(table, 0, (size_t) p->max_blocks_per_seq * sizeof(uint32_t));
        p->n_seq_blocks[seq] = 0;
}

bool kv_seq_is_open(const struct kv_pool *p, uint32_t seq) {
        return seq < p->max_seqs && p->n_seq_blocks[seq] > 0;
}

uint32_t kv_seq_capacity(const struct kv_pool *p, uint32_t seq) {
        return kv_seq_is_open(p, seq) ? p->n_seq_blocks[seq] * KV_BLOCK_TOKENS : 0;
}

const uint32_t *kv_block_table(const struct kv_pool *p, uint32_t seq) {
        return kv_seq_is_open(p, seq) ? p->tables + (size_t) seq * p->max_blocks_per_seq : NULL;
}

uint32_t kv_row(const struct kv_pool *p, uint32_t seq, uint32_t pos) {
        const uint32_t *table = p->tables + (size_t) seq * p->max_blocks_per_seq;
        return table[pos / KV_BLOCK_TOKENS] * KV_BLOCK_TOKENS + pos % KV_BLOCK_TOKENS;
}

void kv_usage(const struct kv_pool *p, uint64_t *ret_used, uint64_t *ret_total) {
        *ret_used = p->n_blocks - p->n_free;
        *ret_total = p->n_blocks;
}

uint32_t kv_max_blocks_per_seq(const struct kv_pool *p) {
        return p->max_blocks_per_seq;
}
