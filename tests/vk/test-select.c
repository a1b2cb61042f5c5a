/* argmax and top-k against their references, exactly (indices and values
 * are selected, not computed: tolerance 0): several rows, sizes around the
 * 1024-candidate chunk, a vocabulary-sized row that takes three top-k
 * passes, many ties (lower index first), and k > n. */
#include <math.h>

#include "vk-test.h"

/* Values on a coarse grid when `ties`, so that many are equal. */
static void fill(struct test_rng *rng, float *x, size_t n, bool ties) {
        test_fill(rng, x, n, 10.0f);
        if (ties)
                for (size_t i = 0; i < n; i++)
                        x[i] = roundf(x[i]);
}

static void argmax_case(struct vk_ctx *ctx, struct test_rng *rng, uint32_t ncols, uint32_t nrows, bool ties) {
        size_t n = (size_t) ncols * nrows;
        float *x = malloc(n * 4);
        uint32_t *out = malloc(nrows * 4), *ref = malloc(nrows * 4);
        fill(rng, x, n, ties);
        struct vk_buf *bx = test_buf(ctx, x, n * 4), *bo = test_buf(ctx, NULL, nrows * 4);
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_argmax(s, bx->view, bo->view, ncols, nrows, &test_err), test_err);
        test_seq_run(s);
        test_read(ctx, bo, out, nrows * 4);
        ref_argmax(x, ref, ncols, nrows);
        for (uint32_t r = 0; r < nrows; r++)
                CHECK(out[r] == ref[r], "argmax %ux%u%s row %u: %u, expected %u", nrows, ncols, ties ? " ties" : "", r,
                      out[r], ref[r]);
        /* With ties, the highest index holding the maximum must differ from the answer. */
        if (ties && ncols > 100) {
                uint32_t last = 0;
                for (uint32_t c = 0; c < ncols; c++)
                        if (x[c] == x[ref[0]])
                                last = c;
                CHECK(last != out[0], "argmax: no tie to break (test data too easy)");
        }
        vk_seq_destroy(s);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, bo);
        free(x);
        free(out);
        free(ref);
}

static void topk_case(struct vk_ctx *ctx, struct test_rng *rng, uint32_t n, uint32_t k, uint32_t nrows, bool ties) {
        size_t nx = (size_t) n * nrows, nk = (size_t) k * nrows;
        float *x = malloc(nx * 4), *val = malloc(nk * 4), *rval = malloc(nk * 4);
        uint32_t *idx = malloc(nk * 4), *ridx = malloc(nk * 4);
        fill(rng, x, nx, ties);
        uint64_t sb = op_topk_scratch_bytes(n, k, nrows);
        struct vk_buf *bx = test_buf(ctx, x, nx * 4), *bs = test_buf(ctx, NULL, sb ? sb : 4);
        struct vk_buf *bv = test_buf(ctx, NULL, nk * 4), *bi = test_buf(ctx, NULL, nk * 4);
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_topk(s, bx->view, bs->view, bv->view, bi->view, n, k, nrows, &test_err), test_err);
        uint32_t passes = vk_seq_n_dispatches(s);
        test_seq_run(s);
        test_read(ctx, bv, val, nk * 4);
        test_read(ctx, bi, idx, nk * 4);
        ref_topk(x, rval, ridx, n, k, nrows);
        int bad = 0;
        for (size_t i = 0; i < nk; i++)
                bad += idx[i] != ridx[i] || !(val[i] == rval[i] || (isinf(val[i]) && isinf(rval[i])));
        CHECK(bad == 0, "topk n %u k %u rows %u%s (%u passes): %d of %zu differ (first: %u %g vs %u %g)", n, k, nrows,
              ties ? " ties" : "", passes, bad, nk, idx[0], val[0], ridx[0], rval[0]);
        uint32_t want = n <= 1024 ? 1 : (n + 1023) / 1024 * k <= 1024 ? 2 : 3;
        CHECK(passes >= want, "topk n %u k %u: %u passes, expected %u", n, k, passes, want);
        /* Sorted the other way round on ties must not pass. */
        if (ties && k > 1 && n > 100) {
                int swapped = 0;
                for (size_t i = 0; i + 1 < nk; i++)
                        swapped += rval[i] == rval[i + 1] && (i + 1) % k != 0;
                CHECK(swapped > 0, "topk: no ties among the winners (test data too easy)");
        }
        vk_seq_destroy(s);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, bs);
        vk_buf_free(ctx, bv);
        vk_buf_free(ctx, bi);
        free(x);
        free(val);
        free(rval);
        free(idx);
        free(ridx);
}

int main(void) {
        struct test_rng rng = {0x70b};
        struct vk_ctx *ctx = test_ctx(NULL);
        argmax_case(ctx, &rng, 1, 1, false);
        argmax_case(ctx, &rng, 7, 3, false);
        argmax_case(ctx, &rng, 1000, 5, true);
        argmax_case(ctx, &rng, 129280, 2, true);
        argmax_case(ctx, &rng, 5, 66000, false); /* more rows than workgroups in x */
        topk_case(ctx, &rng, 1, 1, 1, false);
        topk_case(ctx, &rng, 10, 5, 2, false);
        topk_case(ctx, &rng, 10, 16, 1, false); /* k > n */
        topk_case(ctx, &rng, 1000, 40, 3, true);
        topk_case(ctx, &rng, 1025, 64, 2, true);
        topk_case(ctx, &rng, 5000, 7, 1, false);
        topk_case(ctx, &rng, 129280, 64, 1, true);
        topk_case(ctx, &rng, 129280, 1, 2, false);

        struct vk_seq *s = test_seq(ctx);
        struct vk_buf *b = test_buf(ctx, NULL, 4096);
        CHECK(op_topk(s, b->view, b->view, b->view, b->view, 100, 65, 1, &test_err) == -EINVAL, "k 65 accepted");
        CHECK(op_topk(s, b->view, b->view, b->view, b->view, 5000, 8, 1, &test_err) == -EINVAL, "small scratch accepted");
        vk_seq_destroy(s);
        vk_buf_free(ctx, b);
        test_ctx_done(ctx);
        return test_exit("test-select");
}
