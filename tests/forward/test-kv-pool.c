/* The paged KV cache's block allocator: reservations by whole blocks,
 * -ENOSPC when full, blocks back at once on close, block tables and rows. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "kv/kv.h"

int main(void) {
        struct vkinfer_err err;
        struct kv_pool *p = NULL;
        uint64_t used, total;
        uint32_t a, b, c;
        int r;

        CHECK(kv_pool_new(0, 1, 1, &p, &err) == -EINVAL, "empty pool refused");
        r = kv_pool_new(6, 3, 4, &p, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return test_exit("kv-pool");
        kv_usage(p, &used, &total);
        CHECK(used == 0 && total == 6, "fresh pool: %llu/%llu", (unsigned long long) used, (unsigned long long) total);

        /* 17 tokens take two blocks, 16 one */
        CHECK_OK(kv_seq_open(p, 17, &a, &err), err);
        CHECK(kv_seq_capacity(p, a) == 2 * KV_BLOCK_TOKENS, "capacity %u", kv_seq_capacity(p, a));
        CHECK_OK(kv_seq_open(p, 16, &b, &err), err);
        CHECK(a != b, "two sequences, two slots");
        kv_usage(p, &used, &total);
        CHECK(used == 3, "used %llu", (unsigned long long) used);

        /* more than one sequence may hold, then more than is free */
        CHECK(kv_seq_open(p, 4 * KV_BLOCK_TOKENS + 1, &c, &err) == -EINVAL, "over a sequence's maximum");
        CHECK(kv_seq_open(p, 4 * KV_BLOCK_TOKENS, &c, &err) == -ENOSPC, "4 blocks of 3 free: %s", err.msg);
        CHECK_OK(kv_seq_open(p, 3 * KV_BLOCK_TOKENS, &c, &err), err);
        kv_usage(p, &used, &total);
        CHECK(used == 6, "full: used %llu", (unsigned long long) used);
        uint32_t d;
        CHECK(kv_seq_open(p, 1, &d, &err) == -ENOSPC, "no block and no slot left");

        /* tables: distinct blocks, rows follow them */
        const uint32_t *ta = kv_block_table(p, a), *tc = kv_block_table(p, c);
        bool seen[6] = {0};
        bool distinct = true;
        for (uint32_t i = 0; i < 2; i++)
                distinct &= !seen[ta[i]], seen[ta[i]] = true;
        distinct &= !seen[kv_block_table(p, b)[0]], seen[kv_block_table(p, b)[0]] = true;
        for (uint32_t i = 0; i < 3; i++)
                distinct &= tc[i] < 6 && !seen[tc[i]], seen[tc[i] < 6 ? tc[i] : 0] = true;
        CHECK(distinct, "every block belongs to one sequence");
        CHECK(kv_row(p, a, 17) == ta[1] * KV_BLOCK_TOKENS + 1, "row of position 17");
        CHECK(kv_row(p, c, 40) == tc[2] * KV_BLOCK_TOKENS + 8, "row of position 40");

        /* close frees at once; a closed sequence has no table */
        kv_seq_close(p, c);
        kv_seq_close(p, c); /* twice is harmless */
        kv_usage(p, &used, &total);
        CHECK(used == 3, "after close: used %llu", (unsigned long long) used);
        CHECK(kv_block_table(p, c) == NULL && !kv_seq_is_open(p, c), "closed");
        CHECK_OK(kv_seq_open(p, 3 * KV_BLOCK_TOKENS, &c, &err), err);
        kv_seq_close(p, a);
        kv_seq_close(p, b);
        kv_seq_close(p, c);
        kv_usage(p, &used, &total);
        CHECK(used == 0, "all closed: used %llu", (unsigned long long) used);
        kv_pool_free(p);
        kv_pool_free(NULL);
        return test_exit("kv-pool");
}
