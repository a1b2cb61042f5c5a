/* matvec, matmul and get_rows of every quantized type on real quantizer
 * output: the blocks of tests/data/quants/quant-vectors.gguf (rows of real
 * tensors written by llama.cpp's llama-quantize) laid out again as weight
 * matrices of odd shapes (blocks taken in turn, wrapping around), against
 * the CPU reference (src/ops/ref.c over quant.c's bit-exact dequantization).
 * Tolerance (relative L2): 1e-5 for the dot products (only the float
 * summation order differs), 0 for get_rows (both dequantize exactly).
 * matvec_id (experts chosen by id) reads x at odd offsets and strides, as
 * MLA's per-head matrices do. Then again with 64 KiB of storage range, every matrix bound in several row
 * ranges. The test data itself is checked by test-quant-vectors. */
#include <stdio.h>
#include <stdlib.h>

#include "gguf/gguf.h"
#include "gguf/quant.h"
#include "vk-test.h"

#define KERNEL_TOL 1e-5

static const uint32_t types[] = {
        GGML_TYPE_Q4_0,    GGML_TYPE_Q4_1,   GGML_TYPE_Q5_0,   GGML_TYPE_Q5_1,    GGML_TYPE_Q8_0,   GGML_TYPE_Q2_K,
        GGML_TYPE_Q3_K,    GGML_TYPE_Q4_K,   GGML_TYPE_Q5_K,   GGML_TYPE_Q6_K,    GGML_TYPE_IQ1_S,  GGML_TYPE_IQ1_M,
        GGML_TYPE_IQ2_XXS, GGML_TYPE_IQ2_XS, GGML_TYPE_IQ2_S,  GGML_TYPE_IQ3_XXS, GGML_TYPE_IQ3_S,  GGML_TYPE_IQ4_NL,
        GGML_TYPE_IQ4_XS,  GGML_TYPE_TQ1_0,  GGML_TYPE_TQ2_0,
};

/* Shapes in blocks per row: odd row counts, rows of one block and rows of
 * many, batches that are not multiples of matmul's 32 x 32 tile. */
static const struct {
        uint32_t nrows, blocks, nvec;
} shapes[] = {{1, 1, 1}, {7, 3, 5}, {37, 9, 33}, {130, 1, 2}, {3, 28, 3}};

/* QUANT_TYPES=Q4_1,IQ2_S (while working on some types) runs only those. */
static bool selected(uint32_t type) {
        const char *only = getenv("QUANT_TYPES");
        if (!only)
                return true;
        size_t n = strlen(ggml_type_name(type));
        for (const char *p = only; (p = strstr(p, ggml_type_name(type))); p += n)
                if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
                        return true;
        return false;
}

/* The real blocks of `type` from the vector file. */
struct pool {
        const uint8_t *data;
        uint64_t n_blocks, block_bytes;
};

static bool find_pool(const struct gguf_file *f, uint32_t type, struct pool *p) {
        char name[64];
        snprintf(name, sizeof(name), "%s.q", ggml_type_name(type));
        for (char *c = name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
        const struct gguf_tensor *t = gguf_find_tensor(f, name);
        if (!t || t->type != type)
                return false;
        const struct ggml_type_info *ti = ggml_type_info(type);
        p->data = t->data;
        p->block_bytes = ti->type_size;
        p->n_blocks = t->n_elements / ti->block_size;
        return true;
}

/* nrows x blocks blocks, taken from the pool in turn from `start`. */
static uint8_t *make_matrix(const struct pool *p, uint32_t nrows, uint32_t blocks, uint64_t start) {
        uint64_t n = (uint64_t) nrows * blocks;
        uint8_t *w = malloc(n * p->block_bytes);
        for (uint64_t i = 0; i < n; i++)
                memcpy(w + i * p->block_bytes, p->data + ((start + i) % p->n_blocks) * p->block_bytes, p->block_bytes);
        return w;
}

static uint32_t run_case(struct vk_ctx *ctx, struct test_rng *rng, uint32_t type, const struct pool *p,
                         uint32_t nrows, uint32_t blocks, uint32_t nvec, const char *tag) {
        char what[128];
        uint32_t ncols = blocks * ggml_type_info(type)->block_size;
        uint64_t wbytes = (uint64_t) nrows * blocks * p->block_bytes;
        /* Starting where the last case stopped varies the blocks' order. */
        uint8_t *wq = make_matrix(p, nrows, blocks, test_rng_next(rng) % p->n_blocks);
        float *x = malloc((size_t) ncols * nvec * 4);
        float *y = malloc((size_t) nrows * nvec * 4), *yref = malloc((size_t) nrows * nvec * 4);
        test_fill(rng, x, (size_t) ncols * nvec, 1.0f);
        uint32_t n_ids = nrows < 10 ? nrows + 2 : 12; /* the output must fit in a binding */
        int32_t *ids = malloc(n_ids * 4);
        for (uint32_t i = 0; i < n_ids; i++)
                ids[i] = (int32_t) (test_rng_next(rng) % nrows);
        ids[0] = (int32_t) nrows - 1;
        size_t nout = (size_t) n_ids * ncols;
        float *g = malloc(nout * 4), *gref = calloc(nout, 4);

        struct vk_buf *bw = test_buf(ctx, wq, wbytes), *bx = test_buf(ctx, x, (uint64_t) ncols * nvec * 4);
        struct vk_buf *bv = test_buf(ctx, NULL, (uint64_t) nrows * 4), *bm = test_buf(ctx, NULL, (uint64_t) nrows * nvec * 4);
        struct vk_buf *bi = test_buf(ctx, ids, n_ids * 4ull), *bg = test_buf(ctx, NULL, nout * 4);
        struct op_weight w = {bw->view, type, ncols, nrows};
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_matvec(s, &w, bx->view, bv->view, &test_err), test_err);
        CHECK_OK(op_matmul(s, &w, bx->view, bm->view, nvec, &test_err), test_err);
        CHECK_OK(op_get_rows(s, &w, bi->view, n_ids, bg->view, &test_err), test_err);
        uint32_t n_disp = vk_seq_n_dispatches(s);
        test_seq_run(s);

        snprintf(what, sizeof(what), "%s matvec %s %ux%u", tag, ggml_type_name(type), nrows, ncols);
        test_read(ctx, bv, y, (uint64_t) nrows * 4);
        CHECK(ref_matvec(type, wq, ncols, nrows, x, yref) == 0, "ref_matvec %s", what);
        test_close(what, y, yref, nrows, KERNEL_TOL);

        snprintf(what, sizeof(what), "%s matmul %s %ux%u x %u", tag, ggml_type_name(type), nrows, ncols, nvec);
        test_read(ctx, bm, y, (uint64_t) nrows * nvec * 4);
        CHECK(opref_matmul(type, wq, ncols, nrows, x, nvec, yref) == 0, "opref_matmul %s", what);
        test_close(what, y, yref, (size_t) nrows * nvec, KERNEL_TOL);

        snprintf(what, sizeof(what), "%s get_rows %s %ux%u", tag, ggml_type_name(type), nrows, ncols);
        test_read(ctx, bg, g, nout * 4);
        CHECK(ref_get_rows(type, wq, ncols, nrows, ids, n_ids, gref) == 0, "ref_get_rows %s", what);
        size_t bad = 0;
        for (size_t i = 0; i < nout; i++)
                bad += memcmp(&g[i], &gref[i], 4) != 0;
        CHECK(bad == 0, "%s: %zu of %zu values differ from the CPU's", what, bad, nout);

        vk_seq_destroy(s);
        vk_buf_free(ctx, bw);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, bv);
        vk_buf_free(ctx, bm);
        vk_buf_free(ctx, bi);
        vk_buf_free(ctx, bg);
        free(wq);
        free(x);
        free(y);
        free(yref);
        free(ids);
        free(g);
        free(gref);
        return n_disp;
}

/* op_matvec_id over stacked matrices of real blocks, x at odd offsets. */
static void run_matvec_id(struct vk_ctx *ctx, struct test_rng *rng, uint32_t type, const struct pool *p,
                          uint32_t blocks) {
        const uint32_t n_mats = 5, mat_rows = 6;
        uint32_t nc = blocks * ggml_type_info(type)->block_size;
        struct op_matvec_id mp = {
                .n_mats = n_mats, .mat_rows = mat_rows, .row0 = 1, .nrows = 5, .n_tokens = 3, .n_slots = 2,
                .id_ts = 3, .x_off = 5, .x_ss = nc + 1, .x_ts = 2 * nc + 7, .y_ss = 8, .y_ts = 21,
        };
        uint8_t *wq = make_matrix(p, n_mats * mat_rows, blocks, test_rng_next(rng) % p->n_blocks);
        uint32_t ids[9] = {4, 0, 99, 2, 2, 99, 1, 3, 99};
        size_t nx = mp.x_off + 2 * mp.x_ts + mp.x_ss + nc, ny = 2 * mp.y_ts + mp.y_ss + mp.nrows;
        float *x = malloc(sizeof(float) * nx), *y = calloc(ny, sizeof(float)), *yr = calloc(ny, sizeof(float));
        test_fill(rng, x, nx, 1.0f);
        uint64_t wb = (uint64_t) n_mats * mat_rows * blocks * p->block_bytes;
        struct vk_buf *bw = test_buf(ctx, wq, wb), *bx = test_buf(ctx, x, 4 * nx), *by = test_buf(ctx, y, 4 * ny);
        struct vk_buf *bi = test_buf(ctx, ids, sizeof(ids));
        struct op_weight w = {.view = bw->view, .type = type, .ncols = nc, .nrows = n_mats * mat_rows};
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_matvec_id(s, &w, &mp, bi->view, bx->view, by->view, &test_err), test_err);
        test_seq_run(s);
        test_read(ctx, by, y, 4 * ny);
        CHECK(opref_matvec_id(type, wq, nc, &mp, ids, x, yr) == 0, "opref_matvec_id");
        char what[64];
        snprintf(what, sizeof(what), "matvec_id %s x %u blocks", ggml_type_name(type), blocks);
        test_close(what, y, yr, ny, KERNEL_TOL);
        vk_seq_destroy(s);
        vk_buf_free(ctx, bw);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, by);
        vk_buf_free(ctx, bi);
        free(wq);
        free(x);
        free(y);
        free(yr);
}

/* Arguments NAME=VALUE are put in the environment before the device is
 * opened (VKINFER_MATVEC_ROWS: rows per matvec workgroup). */
int main(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                putenv(argv[i]);
        const char *data = getenv("VKINFER_TEST_DATA");
        char path[1024];
        snprintf(path, sizeof(path), "%s/quants/quant-vectors.gguf", data ? data : ".");
        struct gguf_file *f = NULL;
        struct vkinfer_err err = {{0}};
        int r = gguf_open(path, &f, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return test_exit("test-quant-kernels");
        struct test_rng rng = {0x5eed0011};
        struct vk_ctx *ctx = test_ctx(NULL);
        for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                struct pool p;
                if (!selected(types[t]))
                        continue;
                CHECK(find_pool(f, types[t], &p), "%s: no vectors", ggml_type_name(types[t]));
                CHECK(op_weight_type_supported(types[t]), "%s: no kernels", ggml_type_name(types[t]));
                for (size_t i = 0; i < ELEMENTSOF(shapes); i++)
                        run_case(ctx, &rng, types[t], &p, shapes[i].nrows, shapes[i].blocks, shapes[i].nvec, "");
                run_matvec_id(ctx, &rng, types[t], &p, 1);
                run_matvec_id(ctx, &rng, types[t], &p, 3);
        }
        test_ctx_done(ctx);

        /* The split path: 64 KiB of storage range. */
        struct vk_opts o = {.max_storage_range = 64 << 10};
        ctx = test_ctx(&o);
        for (size_t t = 0; t < ELEMENTSOF(types); t++) {
                struct pool p;
                if (!selected(types[t]) || !find_pool(f, types[t], &p))
                        continue;
                /* Enough rows that the matrix spans more than 64 KiB. */
                uint32_t blocks = ggml_type_info(types[t])->block_size == 32 ? 32 : 4;
                uint32_t nrows = (uint32_t) ((3 * (64 << 10)) / (blocks * p.block_bytes)) | 1;
                uint32_t n = run_case(ctx, &rng, types[t], &p, nrows, blocks, 3, "split");
                CHECK(n > 3, "%s: %u dispatches: the split path was not taken", ggml_type_name(types[t]), n);
        }
        test_ctx_done(ctx);
        gguf_close(f);
        return test_exit("test-quant-kernels");
}
