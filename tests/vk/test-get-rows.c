/* get_rows (embedding gather) for every weight type against ref_get_rows,
 * including repeated and out-of-range ids, odd row lengths for the float
 * types, and a table bound in several row ranges (64 KiB storage range).
 * Tolerance (relative L2): 0 for every type: dequantization is exact. */
#include "gguf/quant.h"
#include "vk-test.h"

static const uint32_t types[] = {GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                 GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};

static void run_case(struct vk_ctx *ctx, struct test_rng *rng, uint32_t type, uint32_t ncols, uint32_t nrows,
                     uint32_t n_ids, bool expect_split) {
        uint64_t rb;
        if (ggml_row_bytes(type, ncols, &rb) < 0)
                return; /* not a whole number of blocks: not a shape of this type */
        float *f = malloc((size_t) ncols * nrows * 4);
        uint8_t *q = malloc(rb * nrows);
        test_fill(rng, f, (size_t) ncols * nrows, 2.0f);
        for (uint32_t r = 0; r < nrows; r++)
                ggml_quantize_row(type, f + (size_t) r * ncols, q + r * rb, ncols);
        int32_t *ids = malloc(n_ids * 4);
        for (uint32_t i = 0; i < n_ids; i++)
                ids[i] = (int32_t) (test_rng_next(rng) % nrows);
        ids[0] = (int32_t) nrows - 1; /* the last row */
        if (n_ids > 2) {
                ids[1] = ids[2];        /* a repeat */
                ids[n_ids - 1] = -1;    /* out of range: row left as it was (zeros) */
        }
        size_t nout = (size_t) n_ids * ncols;
        float *out = malloc(nout * 4), *ref = calloc(nout, 4);
        struct vk_buf *bw = test_buf(ctx, q, rb * nrows), *bi = test_buf(ctx, ids, n_ids * 4ull);
        struct vk_buf *bo = test_buf(ctx, NULL, nout * 4);
        struct op_weight w = {bw->view, type, ncols, nrows};
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_get_rows(s, &w, bi->view, n_ids, bo->view, &test_err), test_err);
        if (expect_split)
                CHECK(vk_seq_n_dispatches(s) > 1, "split path not taken");
        test_seq_run(s);
        test_read(ctx, bo, out, nout * 4);
        CHECK(ref_get_rows(type, q, ncols, nrows, ids, n_ids, ref) == 0, "ref_get_rows");
        char what[96];
        snprintf(what, sizeof(what), "get_rows %s %u of %ux%u", ggml_type_name(type), n_ids, nrows, ncols);
        test_close(what, out, ref, nout, 0.0);
        if (nrows > 1) { /* the neighbouring row must not pass */
                float *other = malloc(nout * 4);
                int32_t *ids2 = malloc(n_ids * 4);
                for (uint32_t i = 0; i < n_ids; i++)
                        ids2[i] = ids[i] < 0 ? ids[i] : (ids[i] + 1) % (int32_t) nrows;
                memset(other, 0, nout * 4);
                ref_get_rows(type, q, ncols, nrows, ids2, n_ids, other);
                CHECK(rel_l2(out, other, nout) > 0, "%s: the wrong rows pass", what);
                free(other);
                free(ids2);
        }
        vk_seq_destroy(s);
        vk_buf_free(ctx, bw);
        vk_buf_free(ctx, bi);
        vk_buf_free(ctx, bo);
        free(f);
        free(q);
        free(ids);
        free(out);
        free(ref);
}

int main(void) {
        struct test_rng rng = {0x6e7};
        struct vk_ctx *ctx = test_ctx(NULL);
        for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                bool quant = ggml_type_info(types[t])->block_size > 1;
                run_case(ctx, &rng, types[t], 32, 1, 1, false);
                run_case(ctx, &rng, types[t], 160, 37, 9, false);
                run_case(ctx, &rng, types[t], 512, 1000, 130, false);
                run_case(ctx, &rng, types[t], 256, 3, 4, false);
                if (!quant) {
                        run_case(ctx, &rng, types[t], 7, 13, 5, false);
                        run_case(ctx, &rng, types[t], 129, 300, 257, false);
                }
        }
        test_ctx_done(ctx);
        struct vk_opts o = {.max_storage_range = 64 << 10};
        ctx = test_ctx(&o);
        for (size_t t = 0; t < ELEMENTSOF(types); t++)
                run_case(ctx, &rng, types[t], 1024, 500, 12, true); /* output within 64 KiB */
        test_ctx_done(ctx);
        return test_exit("test-get-rows");
}
