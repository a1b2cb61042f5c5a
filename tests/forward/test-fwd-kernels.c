/* The forward pass's kernels against their CPU references, at odd shapes:
 *   op_matvec_batch: every weight type, vs opref_matmul (rel L2 1e-5) and
 *     BITWISE equal, vector by vector, to op_matvec of that vector alone;
 *   op_matvec_id: stacked matrices chosen by id, row offsets, strides, vs
 *     opref_matvec_id (1e-5), also with the storage range forced to 64 KiB
 *     so the matrices are bound in several dispatches;
 *   attn_paged: GQA and MLA cache layouts, scattered blocks, positions past
 *     one workgroup tile, value widths over the workgroup size, vs
 *     fwdref_attn (1e-5);
 *   kv_store: into table rows and strided, exact;
 *   moe_route: softmax and sigmoid gating, bias, groups, normalisation and
 *     scale, vs ref_moe_route (ids exact, weights 1e-5);
 *   moe_combine: vs fwdref_moe_combine (1e-6). */
#include <math.h>
#include <string.h>

#include "forward/fwd-kernels.h"
#include "push.h"
#include "gguf/quant.h"
#include "model/ref.h"
#include "vk/vk-test.h"

#define TOL 1e-5

static void *qweights(struct test_rng *rng, uint32_t type, uint32_t ncols, uint32_t nrows, uint64_t *ret_bytes) {
        uint64_t rb;
        if (ggml_row_bytes(type, ncols, &rb) < 0)
                abort();
        float *f = malloc((size_t) ncols * nrows * sizeof(float));
        uint8_t *q = malloc(rb * nrows);
        test_fill(rng, f, (size_t) ncols * nrows, 1.0f);
        for (uint32_t r = 0; r < nrows; r++)
                if (ggml_quantize_row(type, f + (size_t) r * ncols, q + r * rb, ncols) < 0)
                        abort();
        free(f);
        *ret_bytes = rb * nrows;
        return q;
}

static void test_matvec_batch(struct vk_ctx *ctx, struct test_rng *rng) {
        static const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                         GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
        static const uint32_t shapes[][3] = {{256, 37, 1}, {512, 5, 7}, {256, 130, 19}};
        for (size_t ti = 0; ti < ELEMENTSOF(types); ti++)
                for (size_t si = 0; si < ELEMENTSOF(shapes); si++) {
                        uint32_t nc = shapes[si][0], nr = shapes[si][1], nv = shapes[si][2];
                        uint64_t wb;
                        void *wq = qweights(rng, types[ti], nc, nr, &wb);
                        float *x = malloc(sizeof(float) * nc * nv), *y = malloc(sizeof(float) * nr * nv);
                        float *yr = malloc(sizeof(float) * nr * nv), *y1 = malloc(sizeof(float) * nr);
                        test_fill(rng, x, (size_t) nc * nv, 1.0f);
                        struct vk_buf *bw = test_buf(ctx, wq, wb), *bx = test_buf(ctx, x, 4ull * nc * nv);
                        struct vk_buf *by = test_buf(ctx, NULL, 4ull * nr * nv), *by1 = test_buf(ctx, NULL, 4ull * nr);
                        struct op_weight w = {.view = bw->view, .type = types[ti], .ncols = nc, .nrows = nr};
                        struct vk_seq *s = test_seq(ctx);
                        CHECK_OK(op_matvec_batch(s, &w, bx->view, by->view, nv, &test_err), test_err);
                        test_seq_run(s);
                        test_read(ctx, by, y, 4ull * nr * nv);
                        CHECK_OK(opref_matmul(types[ti], wq, nc, nr, x, nv, yr), test_err);
                        char what[64];
                        snprintf(what, sizeof(what), "matvec_batch %s %ux%u x%u", ggml_type_name(types[ti]), nr, nc, nv);
                        test_close(what, y, yr, (size_t) nr * nv, TOL);
                        /* each vector alone through op_matvec: the same bits */
                        for (uint32_t v = 0; v < nv; v++) {
                                struct vk_seq *s1 = test_seq(ctx);
                                CHECK_OK(op_matvec(s1, &w, vk_view_sub(bx->view, 0, bx->view.size), by1->view, &test_err),
                                         test_err);
                                if (v > 0) {
                                        /* vector v moved to the front */
                                        vk_upload(ctx, bx->view, x + (size_t) v * nc, 4ull * nc, &test_err);
                                }
                                test_seq_run(s1);
                                test_read(ctx, by1, y1, 4ull * nr);
                                CHECK(memcmp(y1, y + (size_t) v * nr, 4ull * nr) == 0, "%s: vector %u differs from op_matvec",
                                      what, v);
                                vk_seq_destroy(s1);
                        }
                        vk_seq_destroy(s);
                        vk_buf_free(ctx, bw);
                        vk_buf_free(ctx, bx);
                        vk_buf_free(ctx, by);
                        vk_buf_free(ctx, by1);
                        free(wq);
                        free(x);
                        free(y);
                        free(yr);
                        free(y1);
                }
}

static void test_matvec_id(struct vk_ctx *ctx, struct test_rng *rng, const char *tag) {
        static const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q6_K};
        for (size_t ti = 0; ti < ELEMENTSOF(types); ti++) {
                const uint32_t nc = 256, n_mats = 9, mat_rows = 11;
                struct op_matvec_id p = {
                        .n_mats = n_mats, .mat_rows = mat_rows, .row0 = 3, .nrows = 7, .n_tokens = 3, .n_slots = 2,
                        .id_ts = 3, .x_off = 5, .x_ss = nc + 1, .x_ts = 2 * nc + 9, .y_ss = 8, .y_ts = 21,
                };
                uint64_t wb;
                void *wq = qweights(rng, types[ti], nc, n_mats * mat_rows, &wb);
                uint32_t ids[9] = {8, 0, 99, 4, 4, 99, 2, 7, 99};
                size_t nx = p.x_off + 2 * p.x_ts + p.x_ss + nc, ny = 2 * p.y_ts + p.y_ss + p.nrows;
                float *x = malloc(sizeof(float) * nx), *y = calloc(ny, sizeof(float)), *yr = calloc(ny, sizeof(float));
                test_fill(rng, x, nx, 1.0f);
                struct vk_buf *bw = test_buf(ctx, wq, wb), *bx = test_buf(ctx, x, 4 * nx), *by = test_buf(ctx, NULL, 4 * ny);
                struct vk_buf *bi = test_buf(ctx, ids, sizeof(ids));
                struct op_weight w = {.view = bw->view, .type = types[ti], .ncols = nc, .nrows = n_mats * mat_rows};
                struct vk_seq *s = test_seq(ctx);
                CHECK_OK(op_matvec_id(s, &w, &p, bi->view, bx->view, by->view, &test_err), test_err);
                test_seq_run(s);
                test_read(ctx, by, y, 4 * ny);
                CHECK_OK(opref_matvec_id(types[ti], wq, nc, &p, ids, x, yr), test_err);
                char what[64];
                snprintf(what, sizeof(what), "matvec_id %s %s (%u dispatches)", ggml_type_name(types[ti]), tag,
                         vk_seq_n_dispatches(s));
                test_close(what, y, yr, ny, TOL);
                /* an id out of range is refused by the reference */
                ids[1] = n_mats;
                CHECK(opref_matvec_id(types[ti], wq, nc, &p, ids, x, yr) == -EINVAL, "bad id refused");
                p.row0 = 5; /* rows past the matrix */
                CHECK(op_matvec_id(s, &w, &p, bi->view, bx->view, by->view, &test_err) == -EINVAL, "rows past the matrix");
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
}

/* op_matvec_id_grouped over op_id_group's chunks: the same bits as
 * op_matvec_id, for ids that leave matrices unused, send more than a chunk
 * of pairs to one, and fall out of range (left alone by both). */
static void test_matvec_id_grouped(struct vk_ctx *ctx, struct test_rng *rng, const char *tag) {
        static const uint32_t types[] = {GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K};
        for (size_t ti = 0; ti < ELEMENTSOF(types); ti++) {
                const uint32_t nc = 256, n_mats = 9, mat_rows = 11, T = 13, K = 3, id_ts = 4;
                struct op_matvec_id p = {
                        .n_mats = n_mats, .mat_rows = mat_rows, .row0 = 2, .nrows = 9, .n_tokens = T, .n_slots = K,
                        .id_ts = id_ts, .x_off = 3, .x_ss = nc + 1, .x_ts = K * nc + 5, .y_ss = 10, .y_ts = 31,
                };
                uint64_t wb;
                void *wq = qweights(rng, types[ti], nc, n_mats * mat_rows, &wb);
                uint32_t ids[13 * 4];
                for (uint32_t i = 0; i < T * id_ts; i++) {
                        uint32_t r = test_rng_next(rng) % 16;
                        /* matrix 2 half the time (several chunks), 99 (no matrix) sometimes, 5 and 6 never */
                        ids[i] = r < 8 ? 2 : r < 10 ? 99 : r < 13 ? r - 10 : r - 6;
                }
                size_t nx = p.x_off + (T - 1) * p.x_ts + (K - 1) * p.x_ss + nc, ny = (T - 1) * p.y_ts + (K - 1) * p.y_ss + p.nrows;
                float *x = malloc(sizeof(float) * nx), *y0 = malloc(4 * ny), *y = malloc(4 * ny), *yg = malloc(4 * ny);
                test_fill(rng, x, nx, 1.0f);
                for (size_t i = 0; i < ny; i++)
                        y0[i] = -7.0f; /* what no pair writes stays */
                uint64_t gb = op_id_group_bytes(T, K, n_mats);
                struct vk_buf *bw = test_buf(ctx, wq, wb), *bx = test_buf(ctx, x, 4 * nx), *by = test_buf(ctx, y0, 4 * ny);
                struct vk_buf *byg = test_buf(ctx, y0, 4 * ny), *bi = test_buf(ctx, ids, sizeof(ids));
                struct vk_buf *bg = test_buf(ctx, NULL, gb);
                struct op_weight w = {.view = bw->view, .type = types[ti], .ncols = nc, .nrows = n_mats * mat_rows};
                struct vk_seq *s = test_seq(ctx);
                CHECK_OK(op_matvec_id(s, &w, &p, bi->view, bx->view, by->view, &test_err), test_err);
                CHECK_OK(op_id_group(s, &p, bi->view, bg->view, &test_err), test_err);
                CHECK_OK(op_matvec_id_grouped(s, &w, &p, bg->view, bx->view, byg->view, &test_err), test_err);
                test_seq_run(s);
                test_read(ctx, by, y, 4 * ny);
                test_read(ctx, byg, yg, 4 * ny);
                char what[80];
                snprintf(what, sizeof(what), "matvec_id grouped %s %s", ggml_type_name(types[ti]), tag);
                size_t bad = 0, kept = 0;
                for (size_t i = 0; i < ny; i++) {
                        bad += memcmp(&y[i], &yg[i], 4) != 0;
                        kept += yg[i] == -7.0f;
                }
                CHECK(bad == 0, "%s: %zu of %zu values differ from op_matvec_id's", what, bad, ny);
                CHECK(kept > 0 && kept < ny, "%s: %zu of %zu values untouched", what, kept, ny);
                /* the chunks: matrix 2's pairs in order, in chunks of at most 8 */
                uint32_t *g = malloc(gb);
                test_read(ctx, bg, g, gb);
                uint32_t nch = op_id_group_chunks(T, K, n_mats), seen = 0, want = 0;
                for (uint32_t q = 0; q < T * K; q++)
                        want += ids[(q / K) * id_ts + q % K] == 2;
                for (uint32_t c = 0; c < nch; c++) {
                        if (g[3 * c] != 2)
                                continue;
                        CHECK(g[3 * c + 2] >= 1 && g[3 * c + 2] <= MATVEC_TPG, "%s: chunk of %u", what, g[3 * c + 2]);
                        for (uint32_t j = 0; j < g[3 * c + 2]; j++) {
                                uint32_t q = g[3 * nch + g[3 * c + 1] + j];
                                CHECK(ids[(q / K) * id_ts + q % K] == 2, "%s: pair %u is not matrix 2's", what, q);
                                seen++;
                        }
                }
                CHECK(want > MATVEC_TPG && seen == want, "%s: matrix 2 has %u pairs in its chunks, %u chose it", what,
                      seen, want);
                free(g);
                /* more matrices than the grouping holds are refused */
                struct op_matvec_id big = p;
                big.n_mats = ID_GROUP_MAX_MATS + 1;
                CHECK(op_id_group(s, &big, bi->view, bg->view, &test_err) == -EINVAL, "too many matrices refused");
                vk_seq_destroy(s);
                vk_buf_free(ctx, bw);
                vk_buf_free(ctx, bx);
                vk_buf_free(ctx, by);
                vk_buf_free(ctx, byg);
                vk_buf_free(ctx, bi);
                vk_buf_free(ctx, bg);
                free(wq);
                free(x);
                free(y0);
                free(y);
                free(yg);
        }
}

static void test_attn(struct vk_ctx *ctx, struct test_rng *rng) {
        const uint32_t BS = 16, n_blocks = 16, max_blocks = 8;
        /* two sequences over scattered blocks */
        uint32_t table[2 * 8] = {5, 2, 11, 0, 7, 9, 13, 1, 3, 14, 6, 12, 4, 8, 10, 15};
        static const struct {
                const char *name;
                uint32_t n_head, group, dk, dv, k_off, k_hs, v_off, v_hs, row_width;
        } layouts[] = {
                {"gqa", 4, 2, 16, 24, 0, 16, 32, 24, 80},
                {"gqa-wide-v", 2, 1, 8, 80, 0, 8, 16, 80, 176},
                {"mla", 3, 3, 40, 32, 0, 0, 0, 0, 40},
        };
        uint32_t tok_seq[5] = {0, 1, 0, 1, 1};
        int32_t tok_pos[5] = {0, 15, 16, 100, 127};
        for (size_t lf = 0; lf < 2 * ELEMENTSOF(layouts); lf++) {
                /* each layout over an f32 cache, then over an f16 one (the
                 * reference reads the same f16-rounded values) */
                size_t li = lf % ELEMENTSOF(layouts);
                bool f16 = lf >= ELEMENTSOF(layouts);
                struct push_attn p = {
                        .n_tokens = 5, .n_head = layouts[li].n_head, .group = layouts[li].group, .dk = layouts[li].dk,
                        .dv = layouts[li].dv, .k_off = layouts[li].k_off, .k_hs = layouts[li].k_hs,
                        .v_off = layouts[li].v_off, .v_hs = layouts[li].v_hs, .row_width = layouts[li].row_width,
                        .block_size = BS, .max_blocks = max_blocks, .scale = 0.3f,
                };
                p.q_hs = p.dk + 1;
                p.q_ts = p.n_head * p.q_hs + 2;
                p.o_hs = p.dv;
                p.o_ts = p.n_head * p.dv;
                size_t nq = (size_t) p.n_tokens * p.q_ts, nc = (size_t) n_blocks * BS * p.row_width;
                size_t no = (size_t) p.n_tokens * p.o_ts;
                float *q = malloc(4 * nq), *cache = malloc(4 * nc), *o = malloc(4 * no), *or_ = malloc(4 * no);
                test_fill(rng, q, nq, 2.0f);
                test_fill(rng, cache, nc, 1.0f);
                uint16_t *cache16 = malloc(2 * nc);
                for (size_t i = 0; i < nc && f16; i++) {
                        cache16[i] = fp32_to_fp16(cache[i]);
                        cache[i] = fp16_to_fp32(cache16[i]);
                }
                struct vk_buf *bq = test_buf(ctx, q, 4 * nq);
                struct vk_buf *bc = f16 ? test_buf(ctx, cache16, 2 * nc) : test_buf(ctx, cache, 4 * nc);
                struct vk_buf *bt = test_buf(ctx, table, sizeof(table)), *bs = test_buf(ctx, tok_seq, sizeof(tok_seq));
                struct vk_buf *bp = test_buf(ctx, tok_pos, sizeof(tok_pos)), *bo = test_buf(ctx, NULL, 4 * no);
                struct vk_seq *s = test_seq(ctx);
                CHECK_OK(fwd_attn(s, &p, f16, bq->view, bc->view, bt->view, bs->view, bp->view, bo->view, &test_err),
                         test_err);
                test_seq_run(s);
                test_read(ctx, bo, o, 4 * no);
                fwdref_attn(&p, q, cache, table, tok_seq, tok_pos, or_);
                char what[64];
                snprintf(what, sizeof(what), "attn %s%s", layouts[li].name, f16 ? " f16 cache" : "");
                test_close(what, o, or_, no, TOL);
                vk_seq_destroy(s);
                vk_buf_free(ctx, bq);
                vk_buf_free(ctx, bc);
                vk_buf_free(ctx, bt);
                vk_buf_free(ctx, bs);
                vk_buf_free(ctx, bp);
                vk_buf_free(ctx, bo);
                free(q);
                free(cache);
                free(cache16);
                free(o);
                free(or_);
        }
}

static void test_kv_store(struct vk_ctx *ctx, struct test_rng *rng) {
        const uint32_t T = 5, row_width = 13, n_rows = 40;
        uint32_t rows[5] = {39, 0, 17, 16, 3};
        struct push_kv_store p = {.n_tokens = T, .width = 6, .src_off = 2, .src_ts = 9, .row_width = row_width, .dst_off = 7};
        float src[2 + 5 * 9], *dst = calloc(n_rows * row_width, 4), *dr = calloc(n_rows * row_width, 4);
        test_fill(rng, src, ELEMENTSOF(src), 1.0f);
        struct vk_buf *bs = test_buf(ctx, src, sizeof(src)), *br = test_buf(ctx, rows, sizeof(rows));
        struct vk_buf *bd = test_buf(ctx, NULL, 4ull * n_rows * row_width);
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(fwd_kv_store(s, &p, false, bs->view, br->view, bd->view, &test_err), test_err);
        test_seq_run(s);
        test_read(ctx, bd, dst, 4ull * n_rows * row_width);
        fwdref_kv_store(&p, src, rows, dr);
        CHECK(memcmp(dst, dr, 4ull * n_rows * row_width) == 0, "kv_store into rows");
        /* into an f16 cache: the same values, rounded to f16 (to nearest; a
         * driver may round toward zero: one f16 ulp either way) */
        {
                struct vk_buf *bh = test_buf(ctx, NULL, 2ull * n_rows * row_width);
                uint16_t *h = calloc(n_rows * row_width, 2);
                vk_upload(ctx, bh->view, h, 2ull * n_rows * row_width, &test_err);
                vk_seq_begin(s, &test_err);
                CHECK_OK(fwd_kv_store(s, &p, true, bs->view, br->view, bh->view, &test_err), test_err);
                test_seq_run(s);
                test_read(ctx, bh, h, 2ull * n_rows * row_width);
                bool close = true;
                for (uint32_t i = 0; i < n_rows * row_width; i++)
                        close &= fabsf(fp16_to_fp32(h[i]) - dr[i]) <= fabsf(dr[i]) / 1024.0f;
                CHECK(close, "kv_store into rows of an f16 cache");
                vk_buf_free(ctx, bh);
                free(h);
        }
        /* strided, no rows */
        memset(dr, 0, 4ull * n_rows * row_width);
        vk_upload(ctx, bd->view, dr, 4ull * n_rows * row_width, &test_err);
        vk_seq_begin(s, &test_err);
        CHECK_OK(fwd_kv_store(s, &p, false, bs->view, (struct vk_view) {0}, bd->view, &test_err), test_err);
        test_seq_run(s);
        test_read(ctx, bd, dst, 4ull * n_rows * row_width);
        fwdref_kv_store(&p, src, NULL, dr);
        CHECK(memcmp(dst, dr, 4ull * n_rows * row_width) == 0, "kv_store strided");
        p.dst_off = 8; /* past the row */
        CHECK(fwd_kv_store(s, &p, false, bs->view, br->view, bd->view, &test_err) == -EINVAL, "values past the row refused");
        vk_seq_destroy(s);
        vk_buf_free(ctx, bs);
        vk_buf_free(ctx, br);
        vk_buf_free(ctx, bd);
        free(dst);
        free(dr);
}

static void test_moe_route(struct vk_ctx *ctx, struct test_rng *rng) {
        static const struct {
                uint32_t n_expert, k, groups, groups_used;
                enum moe_gating gating;
                bool bias, norm;
                float scale;
        } cases[] = {
                {16, 2, 0, 0, MOE_GATING_SOFTMAX, false, false, 1.0f},
                {64, 6, 8, 3, MOE_GATING_SIGMOID, true, true, 2.5f},
                {256, 8, 8, 4, MOE_GATING_SIGMOID, true, true, 2.5f},
                {60, 4, 0, 0, MOE_GATING_SOFTMAX, false, true, 16.0f},
        };
        const uint32_t T = 7;
        for (size_t ci = 0; ci < ELEMENTSOF(cases); ci++) {
                struct model_hparams hp = {
                        .n_expert = cases[ci].n_expert, .n_expert_used = cases[ci].k, .gating = cases[ci].gating,
                        .expert_weights_norm = cases[ci].norm, .expert_weights_scale = cases[ci].scale,
                        .n_expert_groups = cases[ci].groups, .n_expert_groups_used = cases[ci].groups_used,
                };
                const uint32_t n = hp.n_expert, k = hp.n_expert_used;
                float *lg = malloc(4ull * T * n), *bias = malloc(4ull * n), *w = malloc(4ull * T * k), *wr = malloc(4ull * T * k);
                uint32_t *ids = malloc(4ull * T * k), *idr = malloc(4ull * T * k);
                test_fill(rng, lg, (size_t) T * n, 3.0f);
                test_fill(rng, bias, n, 0.1f);
                struct vk_buf *bl = test_buf(ctx, lg, 4ull * T * n), *bb = test_buf(ctx, bias, 4ull * n);
                struct vk_buf *bi = test_buf(ctx, NULL, 4ull * T * k), *bw = test_buf(ctx, NULL, 4ull * T * k);
                struct push_moe_route p = {
                        .n_tokens = T, .n_expert = n, .k = k, .n_groups = hp.n_expert_groups,
                        .n_groups_used = hp.n_expert_groups_used, .gating = hp.gating == MOE_GATING_SIGMOID ? 2 : 1,
                        .norm = hp.expert_weights_norm, .scale = hp.expert_weights_scale,
                };
                struct vk_seq *s = test_seq(ctx);
                CHECK_OK(fwd_moe_route(s, &p, bl->view, cases[ci].bias ? bb->view : (struct vk_view) {0}, bi->view,
                                       bw->view, &test_err),
                         test_err);
                test_seq_run(s);
                test_read(ctx, bi, ids, 4ull * T * k);
                test_read(ctx, bw, w, 4ull * T * k);
                for (uint32_t t = 0; t < T; t++) {
                        int r = ref_moe_route(&hp, lg + (size_t) t * n, cases[ci].bias ? bias : NULL, idr + t * k, wr + t * k);
                        CHECK(r == 0, "ref_moe_route: %d", r);
                }
                CHECK(memcmp(ids, idr, 4ull * T * k) == 0, "moe_route case %zu: the chosen experts differ", ci);
                char what[64];
                snprintf(what, sizeof(what), "moe_route case %zu weights", ci);
                test_close(what, w, wr, (size_t) T * k, TOL);
                vk_seq_destroy(s);
                vk_buf_free(ctx, bl);
                vk_buf_free(ctx, bb);
                vk_buf_free(ctx, bi);
                vk_buf_free(ctx, bw);
                free(lg);
                free(bias);
                free(w);
                free(wr);
                free(ids);
                free(idr);
        }
        struct push_moe_route bad = {.n_tokens = 1, .n_expert = MOE_MAX_EXPERT + 1, .k = 2};
        struct vk_seq *s = test_seq(ctx);
        struct vk_buf *b = test_buf(ctx, NULL, 4096);
        CHECK(fwd_moe_route(s, &bad, b->view, (struct vk_view) {0}, b->view, b->view, &test_err) == -EINVAL,
              "too many experts refused");
        vk_seq_destroy(s);
        vk_buf_free(ctx, b);
}

static void test_moe_combine(struct vk_ctx *ctx, struct test_rng *rng) {
        for (int with_add = 0; with_add < 2; with_add++) {
                struct push_moe_combine p = {.n_tokens = 3, .k = 5, .width = 77};
                size_t ny = (size_t) p.n_tokens * p.k * p.width, nw = (size_t) p.n_tokens * p.k, no = (size_t) p.n_tokens * p.width;
                float *y = malloc(4 * ny), *w = malloc(4 * nw), *add = malloc(4 * no), *o = malloc(4 * no), *or_ = malloc(4 * no);
                test_fill(rng, y, ny, 1.0f);
                test_fill(rng, w, nw, 1.0f);
                test_fill(rng, add, no, 1.0f);
                struct vk_buf *by = test_buf(ctx, y, 4 * ny), *bw = test_buf(ctx, w, 4 * nw), *ba = test_buf(ctx, add, 4 * no);
                struct vk_buf *bo = test_buf(ctx, NULL, 4 * no);
                struct vk_seq *s = test_seq(ctx);
                CHECK_OK(fwd_moe_combine(s, &p, by->view, bw->view, with_add ? ba->view : (struct vk_view) {0}, bo->view,
                                         &test_err),
                         test_err);
                test_seq_run(s);
                test_read(ctx, bo, o, 4 * no);
                fwdref_moe_combine(&p, y, w, with_add ? add : NULL, or_);
                test_close(with_add ? "moe_combine + shared" : "moe_combine", o, or_, no, 1e-6);
                vk_seq_destroy(s);
                vk_buf_free(ctx, by);
                vk_buf_free(ctx, bw);
                vk_buf_free(ctx, ba);
                vk_buf_free(ctx, bo);
                free(y);
                free(w);
                free(add);
                free(o);
                free(or_);
        }
}

/* Arguments NAME=VALUE go into the environment before the device is
 * opened (LP_NATIVE_VECTOR_WIDTH=128: lavapipe with subgroups of 4). */
int main(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                putenv(argv[i]);
        struct test_rng rng = {0x5eed};
        struct vk_ctx *ctx = test_ctx(NULL);
        test_matvec_batch(ctx, &rng);
        test_matvec_id(ctx, &rng, "whole");
        test_matvec_id_grouped(ctx, &rng, "whole");
        test_attn(ctx, &rng);
        test_kv_store(ctx, &rng);
        test_moe_route(ctx, &rng);
        test_moe_combine(ctx, &rng);
        test_ctx_done(ctx);
        /* matrices bound a few at a time */
        struct vk_opts small = {.max_storage_range = 64 << 10};
        ctx = test_ctx(&small);
        test_matvec_id(ctx, &rng, "64 KiB range");
        test_matvec_id_grouped(ctx, &rng, "64 KiB range");
        test_ctx_done(ctx);
        return test_exit("fwd-kernels");
}
