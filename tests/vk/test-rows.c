/* Row-wise kernels against their references: RMSNorm (with weight) and
 * softmax (scale, mask with a row stride or broadcast, valid length, large
 * logits that overflow exp() without the max subtraction, fully masked rows).
 * Tolerances (relative L2): rmsnorm 1e-5, softmax 1e-5. */
#include <math.h>

#include "vk-test.h"

static void rmsnorm_case(struct vk_ctx *ctx, struct test_rng *rng, uint32_t ncols, uint32_t nrows) {
        size_t n = (size_t) ncols * nrows;
        float *x = malloc(n * 4), *w = malloc(ncols * 4), *y = malloc(n * 4), *ref = malloc(n * 4);
        test_fill(rng, x, n, 3.0f);
        test_fill(rng, w, ncols, 1.0f);
        struct vk_buf *bx = test_buf(ctx, x, n * 4), *bw = test_buf(ctx, w, ncols * 4), *by = test_buf(ctx, NULL, n * 4);
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_rmsnorm(s, bx->view, bw->view, by->view, ncols, nrows, 1e-6f, &test_err), test_err);
        CHECK_OK(op_rmsnorm(s, bx->view, bw->view, bx->view, ncols, nrows, 1e-6f, &test_err), test_err); /* in place */
        test_seq_run(s);
        opref_rmsnorm(x, w, ref, ncols, nrows, 1e-6f);
        char what[64];
        snprintf(what, sizeof(what), "rmsnorm %ux%u", nrows, ncols);
        test_read(ctx, by, y, n * 4);
        test_close(what, y, ref, n, 1e-5);
        test_read(ctx, bx, y, n * 4);
        test_close("rmsnorm in place", y, ref, n, 1e-5);
        /* Without the weight the result must differ. */
        float *ones = malloc(ncols * 4), *plain = malloc(n * 4);
        for (uint32_t i = 0; i < ncols; i++)
                ones[i] = 1.0f;
        opref_rmsnorm(x, ones, plain, ncols, nrows, 1e-6f);
        CHECK(rel_l2(y, plain, n) > 1e-5, "%s: the weight is ignored", what);
        free(ones);
        free(plain);
        vk_seq_destroy(s);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, bw);
        vk_buf_free(ctx, by);
        free(x);
        free(w);
        free(y);
        free(ref);
}

static void softmax_case(struct vk_ctx *ctx, struct test_rng *rng, uint32_t ncols, uint32_t nrows, float scale,
                         bool mask, uint32_t mask_stride, uint32_t n_valid, float big) {
        size_t n = (size_t) ncols * nrows;
        size_t nm = mask ? (size_t) (nrows - 1) * mask_stride + ncols : 1;
        float *x = malloc(n * 4), *m = malloc(nm * 4), *y = malloc(n * 4), *ref = malloc(n * 4);
        test_fill(rng, x, n, 4.0f);
        if (big != 0)
                for (size_t i = 0; i < n; i++)
                        x[i] += big; /* exp(x) alone would overflow */
        for (size_t i = 0; i < nm; i++)
                m[i] = test_rng_next(rng) % 4 == 0 ? -INFINITY : test_rng_float(rng);
        if (mask && nrows > 1) /* one fully masked row: zeros, not NaN */
                for (uint32_t c = 0; c < ncols; c++)
                        m[(size_t) mask_stride + c] = -INFINITY;
        struct vk_buf *bx = test_buf(ctx, x, n * 4), *bm = test_buf(ctx, m, nm * 4), *by = test_buf(ctx, NULL, n * 4);
        struct vk_view none = {VK_NULL_HANDLE, 0, 0};
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_softmax(s, bx->view, mask ? bm->view : none, by->view, ncols, nrows, scale, mask_stride, n_valid,
                            &test_err), test_err);
        test_seq_run(s);
        test_read(ctx, by, y, n * 4);
        opref_softmax(x, mask ? m : NULL, ref, ncols, nrows, scale, mask_stride, n_valid);
        char what[96];
        snprintf(what, sizeof(what), "softmax %ux%u scale %g mask %d/%u valid %u", nrows, ncols, scale, mask,
                 mask_stride, n_valid);
        bool finite = true;
        for (size_t i = 0; i < n; i++)
                finite &= isfinite(y[i]);
        CHECK(finite, "%s: non-finite output", what);
        test_close(what, y, ref, n, 1e-5);
        if (mask || scale != 1.0f) { /* ignoring mask and scale must fail */
                float *plain = malloc(n * 4);
                opref_softmax(x, NULL, plain, ncols, nrows, 1.0f, 0, n_valid);
                CHECK(rel_l2(y, plain, n) > 1e-5, "%s: mask/scale ignored", what);
                free(plain);
        }
        vk_seq_destroy(s);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, bm);
        vk_buf_free(ctx, by);
        free(x);
        free(m);
        free(y);
        free(ref);
}

int main(void) {
        struct test_rng rng = {0x4040};
        struct vk_ctx *ctx = test_ctx(NULL);
        rmsnorm_case(ctx, &rng, 1, 1);
        rmsnorm_case(ctx, &rng, 4096, 3);
        rmsnorm_case(ctx, &rng, 129, 17);
        rmsnorm_case(ctx, &rng, 7168, 2);
        rmsnorm_case(ctx, &rng, 3, 70001); /* more rows than workgroups in x: spread over y */
        softmax_case(ctx, &rng, 1, 1, 1.0f, false, 0, 0, 0);
        softmax_case(ctx, &rng, 100, 7, 0.125f, false, 0, 0, 0);
        softmax_case(ctx, &rng, 1000, 3, 1.0f, false, 0, 0, 300.0f);
        softmax_case(ctx, &rng, 257, 5, 0.5f, true, 257, 0, 0);
        softmax_case(ctx, &rng, 64, 9, 1.0f, true, 0, 0, 0);
        softmax_case(ctx, &rng, 129280, 1, 1.0f, false, 0, 0, 0);
        softmax_case(ctx, &rng, 333, 4, 2.0f, false, 0, 45, 0);
        softmax_case(ctx, &rng, 70, 6, 1.0f, true, 80, 33, 0);
        test_ctx_done(ctx);
        return test_exit("test-rows");
}
