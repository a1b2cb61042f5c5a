/* matvec and matmul for every weight type against ref_matvec/opref_matmul on
 * the same quantized bytes, at shapes including odd row counts, odd column
 * counts (float types) and batches that are not multiples of the 32 x 32
 * tile; then again with the storage range forced down to 64 KiB, so every
 * weight is bound in several row ranges.
 *
 * Tolerances (relative L2):
 *   GPU vs CPU on the same weights: 1e-5 for every type (both dequantize
 *   exactly; only the float summation order differs).
 *   Quantized weights vs the f32 originals (checks the test data):
 *   F32 1e-6, F16 1e-3, BF16 5e-3, Q8_0 1e-2, Q4_0 0.15, Q4_K 0.1, Q5_K 0.05,
 *   Q6_K 0.03. */
#include "gguf/quant.h"
#include "vk-test.h"

#define KERNEL_TOL 1e-5

static const struct {
        uint32_t type;
        double quant_tol;
} types[] = {
        {GGML_TYPE_F32, 1e-6}, {GGML_TYPE_F16, 1e-3}, {GGML_TYPE_BF16, 5e-3},
        {GGML_TYPE_Q8_0, 1e-2}, {GGML_TYPE_Q4_0, 0.15}, {GGML_TYPE_Q4_K, 0.1},
        {GGML_TYPE_Q5_K, 0.05}, {GGML_TYPE_Q6_K, 0.03},
};

static const struct {
        uint32_t ncols, nrows, nvec;
        bool float_only; /* ncols not a multiple of 32 */
} shapes[] = {
        {64, 1, 1, false},  {96, 37, 5, false}, {256, 130, 33, false}, {1024, 67, 2, false},
        {67, 45, 3, true},  {1, 3, 2, true},    {253, 9, 40, true},   {512, 19, 6, false},
};

/* W as `type` bytes (malloc'd) from random f32 weights; *ret_f32 keeps those. */
static uint8_t *make_weights(struct test_rng *rng, uint32_t type, uint32_t ncols, uint32_t nrows, float **ret_f32,
                             uint64_t *ret_bytes) {
        uint64_t rb;
        if (ggml_row_bytes(type, ncols, &rb) < 0)
                abort();
        float *f = malloc((size_t) ncols * nrows * sizeof(float));
        uint8_t *q = malloc(rb * nrows);
        test_fill(rng, f, (size_t) ncols * nrows, 1.0f);
        for (uint32_t r = 0; r < nrows; r++)
                if (ggml_quantize_row(type, f + (size_t) r * ncols, q + r * rb, ncols) < 0)
                        abort();
        *ret_f32 = f;
        *ret_bytes = rb * nrows;
        return q;
}

/* Runs matvec (first vector) and matmul (all); returns the dispatch count. */
static uint32_t run_case(struct vk_ctx *ctx, struct test_rng *rng, uint32_t type, double quant_tol, uint32_t ncols,
                         uint32_t nrows, uint32_t nvec, const char *tag) {
        char what[128];
        float *wf;
        uint64_t wbytes;
        uint8_t *wq = make_weights(rng, type, ncols, nrows, &wf, &wbytes);
        float *x = malloc((size_t) ncols * nvec * sizeof(float));
        float *y = malloc((size_t) nrows * nvec * sizeof(float)), *yref = malloc((size_t) nrows * nvec * sizeof(float));
        float *yf = malloc((size_t) nrows * nvec * sizeof(float));
        test_fill(rng, x, (size_t) ncols * nvec, 1.0f);

        struct vk_buf *bw = test_buf(ctx, wq, wbytes), *bx = test_buf(ctx, x, (uint64_t) ncols * nvec * 4);
        struct vk_buf *bv = test_buf(ctx, NULL, (uint64_t) nrows * 4), *bm = test_buf(ctx, NULL, (uint64_t) nrows * nvec * 4);
        struct op_weight w = {bw->view, type, ncols, nrows};
        struct vk_seq *s = test_seq(ctx);
        int r = op_matvec(s, &w, bx->view, bv->view, &test_err);
        CHECK_OK(r, test_err);
        r = op_matmul(s, &w, bx->view, bm->view, nvec, &test_err);
        CHECK_OK(r, test_err);
        uint32_t n_disp = vk_seq_n_dispatches(s);
        test_seq_run(s);

        /* matvec */
        snprintf(what, sizeof(what), "%s matvec %s %ux%u", tag, ggml_type_name(type), nrows, ncols);
        test_read(ctx, bv, y, (uint64_t) nrows * 4);
        CHECK(ref_matvec(type, wq, ncols, nrows, x, yref) == 0, "ref_matvec");
        test_close(what, y, yref, nrows, KERNEL_TOL);
        if (nrows > 1) { /* a result for the wrong rows must fail */
                float *shifted = malloc(nrows * sizeof(float));
                for (uint32_t i = 0; i < nrows; i++)
                        shifted[i] = yref[(i + 1) % nrows];
                CHECK(rel_l2(y, shifted, nrows) > KERNEL_TOL, "%s: shifted rows pass", what);
                free(shifted);
        }
        CHECK(ref_matvec(GGML_TYPE_F32, wf, ncols, nrows, x, yf) == 0, "ref_matvec f32");
        double qe = rel_l2(yref, yf, nrows);
        /* A handful of outputs is too noisy for a statistical bound. */
        CHECK(nrows < 16 || qe <= quant_tol, "%s: quantization error %.3g > %.3g", what, qe, quant_tol);

        /* matmul */
        snprintf(what, sizeof(what), "%s matmul %s %ux%u x %u", tag, ggml_type_name(type), nrows, ncols, nvec);
        test_read(ctx, bm, y, (uint64_t) nrows * nvec * 4);
        CHECK(opref_matmul(type, wq, ncols, nrows, x, nvec, yref) == 0, "opref_matmul");
        test_close(what, y, yref, (size_t) nrows * nvec, KERNEL_TOL);

        vk_seq_destroy(s);
        vk_buf_free(ctx, bw);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, bv);
        vk_buf_free(ctx, bm);
        free(wq);
        free(wf);
        free(x);
        free(y);
        free(yref);
        free(yf);
        return n_disp;
}

/* Arguments NAME=VALUE are put in the environment before the device is
 * opened (VKINFER_MATVEC_ROWS: rows per matvec workgroup). */
int main(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                putenv(argv[i]);
        struct test_rng rng = {0x5eed0001};
        struct vk_ctx *ctx = test_ctx(NULL);
        for (size_t t = 0; t < ELEMENTSOF(types); t++)
                for (size_t i = 0; i < ELEMENTSOF(shapes); i++) {
                        uint32_t block = ggml_type_info(types[t].type)->block_size;
                        if (shapes[i].ncols % block)
                                continue;
                        run_case(ctx, &rng, types[t].type, types[t].quant_tol, shapes[i].ncols, shapes[i].nrows,
                                 shapes[i].nvec, "");
                }

        /* A type the kernels do not handle is refused by name. */
        struct vk_seq *s = test_seq(ctx);
        struct op_weight bad = {{VK_NULL_HANDLE, 0, 1 << 20}, GGML_TYPE_MXFP4, 256, 4};
        struct vk_view none = {VK_NULL_HANDLE, 0, 0};
        int r = op_matvec(s, &bad, none, none, &test_err);
        CHECK(r == -EOPNOTSUPP && strstr(test_err.msg, "MXFP4"), "MXFP4: %d %s", r, test_err.msg);
        vk_seq_destroy(s);
        test_ctx_done(ctx);

        /* The split path: 64 KiB of storage range. */
        struct vk_opts o = {.max_storage_range = 64 << 10};
        ctx = test_ctx(&o);
        CHECK(vk_ctx_max_range(ctx) <= 64 << 10, "override ignored: %llu", (unsigned long long) vk_ctx_max_range(ctx));
        for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                uint32_t n = run_case(ctx, &rng, types[t].type, types[t].quant_tol, 1024, 301, 3, "split");
                CHECK(n > 2, "%s: %u dispatches: the split path was not taken", ggml_type_name(types[t].type), n);
        }
        test_ctx_done(ctx);
        return test_exit("test-matmul");
}
