/* Host side of the kernels: pick the pipeline variant, check the views
 * against the shapes, fill the push constants (shaders/push.h) and record
 * the dispatches. Weight matrices larger than the storage-buffer range are
 * bound in row ranges. */
#include "ops/ops.h"

#include <errno.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>

#include "push.h" /* shaders/: the push constants shared with GLSL */
#include "gguf/gguf.h"

#define WG_BIG 256   /* elementwise, rope, topk */
#define WG_ROW 128   /* one workgroup per row: norm, softmax, argmax, get_rows */
#define WG_MATMUL 64 /* matmul.comp's tiling assumes it */

/* The shader variant of each weight type the kernels read (shaders/
 * meson.build's weight_types); NULL for any other. */
static const char *type_suffix(uint32_t type) {
        static const char *const suffix[GGML_TYPE_COUNT_] = {
                [GGML_TYPE_F32] = "f32",       [GGML_TYPE_F16] = "f16",       [GGML_TYPE_BF16] = "bf16",
                [GGML_TYPE_Q4_0] = "q4_0",     [GGML_TYPE_Q4_1] = "q4_1",     [GGML_TYPE_Q5_0] = "q5_0",
                [GGML_TYPE_Q5_1] = "q5_1",     [GGML_TYPE_Q8_0] = "q8_0",     [GGML_TYPE_Q2_K] = "q2_k",
                [GGML_TYPE_Q3_K] = "q3_k",     [GGML_TYPE_Q4_K] = "q4_k",     [GGML_TYPE_Q5_K] = "q5_k",
                [GGML_TYPE_Q6_K] = "q6_k",     [GGML_TYPE_IQ1_S] = "iq1_s",   [GGML_TYPE_IQ1_M] = "iq1_m",
                [GGML_TYPE_IQ2_XXS] = "iq2_xxs", [GGML_TYPE_IQ2_XS] = "iq2_xs", [GGML_TYPE_IQ2_S] = "iq2_s",
                [GGML_TYPE_IQ3_XXS] = "iq3_xxs", [GGML_TYPE_IQ3_S] = "iq3_s", [GGML_TYPE_IQ4_NL] = "iq4_nl",
                [GGML_TYPE_IQ4_XS] = "iq4_xs", [GGML_TYPE_TQ1_0] = "tq1_0",   [GGML_TYPE_TQ2_0] = "tq2_0",
        };
        return type < GGML_TYPE_COUNT_ ? suffix[type] : NULL;
}

bool op_weight_type_supported(uint32_t type) {
        return type_suffix(type) != NULL;
}

/* The matvec workgroup: one subgroup where it is wide enough. */
static uint32_t wg_matvec(const struct vk_ctx *ctx) {
        uint32_t sg = vk_ctx_info(ctx)->subgroup_size;
        return sg < 16 ? 16 : sg > 128 ? 128 : sg;
}

/* Subgroups in a matvec workgroup. */
static uint32_t matvec_subgroups(const struct vk_ctx *ctx) {
        uint32_t sg = vk_ctx_info(ctx)->subgroup_size ? vk_ctx_info(ctx)->subgroup_size : 1;
        return (wg_matvec(ctx) + sg - 1) / sg;
}

static int pipeline(struct vk_seq *s, const char *name, uint32_t n_bindings, uint32_t push_size, uint32_t wg,
                    struct vk_pipeline **ret, struct vkinfer_err *err) {
        return vk_pipeline_get(vk_seq_ctx(s), name, n_bindings, push_size, &wg, 1, ret, err);
}

/* Rows per matvec workgroup (matvec.comp's NR). A CPU implementation such as
 * lavapipe pays for each workgroup it starts, more than for the few blocks of
 * a short row, so there a workgroup takes 4 rows of up to 2048 columns
 * (measured on llvmpipe: x1.8 for 256 columns, the same at 4096, x0.66 at
 * 7168); GPUs keep one row per workgroup. VKINFER_MATVEC_ROWS overrides
 * (1..16). NR never depends on the number of vectors: a row's code, and so
 * its rounding, must be the same for a batch as for one vector (lavapipe's
 * compiler contracts a row's sum differently at another NR). */
static uint32_t matvec_rows(const struct vk_ctx *ctx, uint32_t ncols) {
        const struct vk_device_info *info = vk_ctx_info(ctx);
        uint32_t nr = info->type == VK_PHYSICAL_DEVICE_TYPE_CPU && ncols <= 2048 ? 4 : 1;
        const char *env = getenv("VKINFER_MATVEC_ROWS");
        if (env && atoi(env) >= 1 && atoi(env) <= 16)
                nr = (uint32_t) atoi(env);
        uint32_t wg = wg_matvec(ctx);
        while (nr > 1 && (nr * matvec_subgroups(ctx) > MATVEC_RED / MATVEC_TPG || nr > wg))
                nr--;
        return nr;
}

/* Vectors per pass over the weight rows (matvec.comp's TT): one for a
 * single vector (decode), else MATVEC_TPG, so each weight block is decoded
 * once for all the vectors of a workgroup. A vector's sum is the same
 * expression in both, so results do not depend on the batch.
 * VKINFER_MATVEC_PASS overrides (1, 2, 4 or 8: a divisor of MATVEC_TPG),
 * to measure one against the other. matvec_rows keeps NR * TT *
 * subgroups-per-workgroup within the shader's MATVEC_RED partial sums. */
static uint32_t matvec_pass(uint32_t nvec) {
        const char *env = getenv("VKINFER_MATVEC_PASS");
        if (env && nvec > 1 && atoi(env) >= 1 && MATVEC_TPG % atoi(env) == 0)
                return (uint32_t) atoi(env);
        return nvec == 1 ? 1 : MATVEC_TPG;
}

static int pipeline_matvec(struct vk_seq *s, const char *name, uint32_t n_bindings, uint32_t push_size,
                           uint32_t rows, uint32_t tt, struct vk_pipeline **ret, struct vkinfer_err *err) {
        const struct vk_ctx *ctx = vk_seq_ctx(s);
        uint32_t spec[3] = {wg_matvec(ctx), rows, tt};
        return vk_pipeline_get(vk_seq_ctx(s), name, n_bindings, push_size, spec, 3, ret, err);
}

int op_need(const char *op, const char *what, struct vk_view v, uint64_t bytes, struct vk_view *ret,
                 struct vkinfer_err *err) {
        if (bytes == 0)
                return err_set(err, -EINVAL, "%s: %s is empty", op, what);
        if (v.size < bytes)
                return err_set(err, -EINVAL, "%s: %s holds %llu bytes, the shape needs %llu", op, what,
                               (unsigned long long) v.size, (unsigned long long) bytes);
        *ret = vk_view_sub(v, 0, bytes);
        return 0;
}

static uint64_t gcd64(uint64_t a, uint64_t b) {
        while (b) {
                uint64_t t = a % b;
                a = b;
                b = t;
        }
        return a;
}

/* Rows per binding of a weight matrix: as many as fit the storage range,
 * a multiple of what keeps every range's offset aligned. */
static int rows_per_chunk(const struct vk_ctx *ctx, const char *op, const struct op_weight *w, uint64_t row_bytes,
                          uint32_t *ret, struct vkinfer_err *err) {
        uint64_t range = vk_ctx_max_range(ctx), align = vk_ctx_info(ctx)->min_storage_align;
        if (w->view.offset % align)
                return err_set(err, -EINVAL, "%s: weight view offset %llu is not a multiple of %llu", op,
                               (unsigned long long) w->view.offset, (unsigned long long) align);
        uint64_t step = align / gcd64(row_bytes, align);
        uint64_t rows = (range - 4) / row_bytes; /* room to round the range up to a word */
        rows -= rows % step;
        if (rows == 0)
                return err_set(err, -E2BIG, "%s: a weight row of %llu bytes does not fit the %llu-byte storage range",
                               op, (unsigned long long) row_bytes, (unsigned long long) range);
        *ret = rows >= w->nrows ? w->nrows : (uint32_t) rows;
        return 0;
}

static int weight_check(const char *op, const struct op_weight *w, uint64_t *ret_row_bytes, struct vkinfer_err *err) {
        if (!type_suffix(w->type))
                return err_set(err, -EOPNOTSUPP, "%s: weight type %s is not supported", op, ggml_type_name(w->type));
        uint64_t rb, total;
        if (w->ncols == 0 || w->nrows == 0 || ggml_row_bytes(w->type, w->ncols, &rb) < 0)
                return err_set(err, -EINVAL, "%s: %u x %u is not a valid %s matrix", op, w->nrows, w->ncols,
                               ggml_type_name(w->type));
        if (rb > UINT32_MAX || mul_overflows(rb, w->nrows, &total) || w->view.size < align_up(total, 4))
                return err_set(err, -EINVAL, "%s: the weight view holds %llu bytes, %u x %u %s needs %llu", op,
                               (unsigned long long) w->view.size, w->nrows, w->ncols, ggml_type_name(w->type),
                               (unsigned long long) align_up(rb * w->nrows, 4));
        *ret_row_bytes = rb;
        return 0;
}

/* Rows r0..r0+n-1 of w, rounded up to whole words (reading into the next
 * row, or the padding weight_check asked for, is harmless). */
static struct vk_view weight_range(const struct op_weight *w, uint32_t r0, uint32_t n, uint64_t rb) {
        return vk_view_sub(w->view, (uint64_t) r0 * rb, align_up((uint64_t) n * rb, 4));
}

/* ---- Matrix products ---- */

/* One vector: the batch path with nvec = 1 (its loop over vectors stops
 * after the first). */
int op_matvec(struct vk_seq *s, const struct op_weight *w, struct vk_view x, struct vk_view y,
              struct vkinfer_err *err) {
        return op_matvec_batch(s, w, x, y, 1, err);
}

int op_matvec_batch(struct vk_seq *s, const struct op_weight *w, struct vk_view x, struct vk_view y, uint32_t nvec,
                    struct vkinfer_err *err) {
        struct vk_ctx *ctx = vk_seq_ctx(s);
        uint64_t rb;
        uint32_t chunk;
        struct vk_pipeline *p;
        char name[32];
        int r = weight_check("matvec", w, &rb, err);
        if (r < 0)
                return r;
        if (nvec == 0 || (nvec + MATVEC_TPG - 1) / MATVEC_TPG > vk_ctx_info(ctx)->max_wg_count[2])
                return err_set(err, -EINVAL, "matvec: %u vectors (1..%u)", nvec,
                               vk_ctx_info(ctx)->max_wg_count[2] * MATVEC_TPG);
        if ((r = op_need("matvec", "x", x, (uint64_t) w->ncols * nvec * 4, &x, err)) < 0 ||
            (r = op_need("matvec", "y", y, (uint64_t) w->nrows * nvec * 4, &y, err)) < 0 ||
            (r = rows_per_chunk(ctx, "matvec", w, rb, &chunk, err)) < 0)
                return r;
        snprintf(name, sizeof(name), "matvec_%s", type_suffix(w->type));
        const uint32_t nr = matvec_rows(ctx, w->ncols), tt = matvec_pass(nvec);
        if ((r = pipeline_matvec(s, name, 3, sizeof(struct push_matvec), nr, tt, &p, err)) < 0)
                return r;
        for (uint32_t r0 = 0; r0 < w->nrows; r0 += chunk) {
                uint32_t n = w->nrows - r0 < chunk ? w->nrows - r0 : chunk;
                struct push_matvec pc = {
                        .ncols = w->ncols, .nrows = n, .row_bytes = (uint32_t) rb, .y_off = r0,
                        .x_ts = w->ncols, .y_ts = w->nrows, .nvec = nvec, .tpg = MATVEC_TPG,
                };
                struct vk_view v[3] = {weight_range(w, r0, n, rb), x, y};
                uint32_t g[3];
                vk_groups_linear(ctx, (n + nr - 1) / nr, g);
                g[2] = (nvec + MATVEC_TPG - 1) / MATVEC_TPG;
                if ((r = vk_seq_dispatch(s, p, v, 3, &pc, sizeof(pc), g, err)) < 0)
                        return r;
        }
        return 0;
}

uint32_t op_id_group_chunks(uint32_t n_tokens, uint32_t n_slots, uint32_t n_mats) {
        return (uint32_t) (((uint64_t) n_tokens * n_slots + MATVEC_TPG - 1) / MATVEC_TPG) + n_mats;
}

uint64_t op_id_group_bytes(uint32_t n_tokens, uint32_t n_slots, uint32_t n_mats) {
        return 4ull * (3ull * op_id_group_chunks(n_tokens, n_slots, n_mats) + (uint64_t) n_tokens * n_slots);
}

int op_id_group(struct vk_seq *s, const struct op_matvec_id *mp, struct vk_view ids, struct vk_view groups,
                struct vkinfer_err *err) {
        struct vk_pipeline *p;
        uint64_t nz = (uint64_t) mp->n_tokens * mp->n_slots;
        if (mp->n_mats == 0 || mp->n_mats > ID_GROUP_MAX_MATS || nz == 0 || nz > UINT32_MAX / 4)
                return err_set(err, -EINVAL, "id_group: %u matrices (at most %u), %u x %u pairs", mp->n_mats,
                               ID_GROUP_MAX_MATS, mp->n_tokens, mp->n_slots);
        uint64_t il = (uint64_t) (mp->n_tokens - 1) * mp->id_ts + mp->n_slots;
        int r;
        if ((r = op_need("id_group", "ids", ids, il * 4, &ids, err)) < 0 ||
            (r = op_need("id_group", "groups", groups, op_id_group_bytes(mp->n_tokens, mp->n_slots, mp->n_mats),
                         &groups, err)) < 0 ||
            (r = pipeline(s, "id_group", 2, sizeof(struct push_id_group), 64, &p, err)) < 0)
                return r;
        struct push_id_group pc = {
                .n_tokens = mp->n_tokens, .n_slots = mp->n_slots, .id_ts = mp->id_ts, .n_mats = mp->n_mats,
                .n_chunks = op_id_group_chunks(mp->n_tokens, mp->n_slots, mp->n_mats),
        };
        struct vk_view v[2] = {ids, groups};
        uint32_t g[3] = {1, 1, 1};
        return vk_seq_dispatch(s, p, v, 2, &pc, sizeof(pc), g, err);
}

/* op_matvec_id, or with a groups view from op_id_group (grouped: the ids
 * are not read) its grouped form. */
static int matvec_id(struct vk_seq *s, const struct op_weight *w, const struct op_matvec_id *mp, struct vk_view ids,
                     bool grouped, struct vk_view x, struct vk_view y, struct vkinfer_err *err) {
        struct vk_ctx *ctx = vk_seq_ctx(s);
        uint64_t rb;
        struct vk_pipeline *p;
        char name[32];
        int r = weight_check("matvec_id", w, &rb, err);
        if (r < 0)
                return r;
        uint64_t nz = (uint64_t) mp->n_tokens * mp->n_slots;
        if (mp->n_mats == 0 || mp->mat_rows == 0 || (uint64_t) mp->n_mats * mp->mat_rows != w->nrows ||
            mp->nrows == 0 || mp->row0 + (uint64_t) mp->nrows > mp->mat_rows || nz == 0 ||
            nz > vk_ctx_info(ctx)->max_wg_count[2])
                return err_set(err, -EINVAL, "matvec_id: rows %u..%u of %u matrices of %u rows (weight has %u), %u x %u vectors",
                               mp->row0, mp->row0 + mp->nrows, mp->n_mats, mp->mat_rows, w->nrows, mp->n_tokens,
                               mp->n_slots);
        /* The last element each operand is read or written at. */
        uint64_t tl = mp->n_tokens - 1, sl = mp->n_slots - 1;
        uint64_t xl = mp->x_off + tl * mp->x_ts + sl * mp->x_ss + w->ncols;
        uint64_t yl = tl * mp->y_ts + sl * mp->y_ss + mp->nrows;
        uint64_t il = tl * mp->id_ts + sl + 1;
        const uint32_t n_chunks = op_id_group_chunks(mp->n_tokens, mp->n_slots, mp->n_mats);
        if (grouped)
                il = op_id_group_bytes(mp->n_tokens, mp->n_slots, mp->n_mats) / 4;
        if ((r = op_need("matvec_id", "x", x, xl * 4, &x, err)) < 0 ||
            (r = op_need("matvec_id", "y", y, yl * 4, &y, err)) < 0 ||
            (r = op_need("matvec_id", grouped ? "groups" : "ids", ids, il * 4, &ids, err)) < 0)
                return r;
        if (grouped && n_chunks > vk_ctx_info(ctx)->max_wg_count[2])
                return err_set(err, -EINVAL, "matvec_id: %u chunks", n_chunks);
        /* Bind whole matrices, as many as fit the storage range, each range
         * starting aligned. */
        uint64_t mat_bytes = (uint64_t) mp->mat_rows * rb, range = vk_ctx_max_range(ctx);
        uint64_t align = vk_ctx_info(ctx)->min_storage_align;
        if (w->view.offset % align)
                return err_set(err, -EINVAL, "matvec_id: weight view offset %llu is not a multiple of %llu",
                               (unsigned long long) w->view.offset, (unsigned long long) align);
        uint64_t step = align / gcd64(mat_bytes, align);
        uint64_t per = (range - 4) / mat_bytes;
        per -= per % step;
        if (per == 0)
                return err_set(err, -E2BIG, "matvec_id: a matrix of %llu bytes does not fit the %llu-byte storage range",
                               (unsigned long long) mat_bytes, (unsigned long long) range);
        if (per > mp->n_mats)
                per = mp->n_mats;
        snprintf(name, sizeof(name), "matvec_id%s_%s", grouped ? "g" : "", type_suffix(w->type));
        const uint32_t nr = matvec_rows(ctx, w->ncols), tt = grouped ? MATVEC_TPG : 1;
        if ((r = pipeline_matvec(s, name, 4, sizeof(struct push_matvec_id), nr, tt, &p, err)) < 0)
                return r;
        for (uint32_t e0 = 0; e0 < mp->n_mats; e0 += (uint32_t) per) {
                uint32_t n = mp->n_mats - e0 < per ? mp->n_mats - e0 : (uint32_t) per;
                struct push_matvec_id pc = {
                        .ncols = w->ncols, .nrows = mp->nrows, .row_bytes = (uint32_t) rb, .n_slots = mp->n_slots,
                        .id_ts = mp->id_ts, .mat_rows = mp->mat_rows, .row0 = mp->row0, .id_begin = e0,
                        .id_end = e0 + n, .x_off = mp->x_off, .x_ss = mp->x_ss, .x_ts = mp->x_ts,
                        .y_ss = mp->y_ss, .y_ts = mp->y_ts, .n_chunks = n_chunks,
                };
                struct vk_view v[4] = {
                        vk_view_sub(w->view, e0 * mat_bytes, align_up(n * mat_bytes, 4)), x, y, ids,
                };
                uint32_t g[3];
                vk_groups_linear(ctx, (mp->nrows + nr - 1) / nr, g);
                g[2] = grouped ? n_chunks : (uint32_t) nz;
                if ((r = vk_seq_dispatch(s, p, v, 4, &pc, sizeof(pc), g, err)) < 0)
                        return r;
        }
        return 0;
}

int op_matvec_id(struct vk_seq *s, const struct op_weight *w, const struct op_matvec_id *mp, struct vk_view ids,
                 struct vk_view x, struct vk_view y, struct vkinfer_err *err) {
        return matvec_id(s, w, mp, ids, false, x, y, err);
}

int op_matvec_id_grouped(struct vk_seq *s, const struct op_weight *w, const struct op_matvec_id *mp,
                         struct vk_view groups, struct vk_view x, struct vk_view y, struct vkinfer_err *err) {
        return matvec_id(s, w, mp, groups, true, x, y, err);
}

int op_matmul(struct vk_seq *s, const struct op_weight *w, struct vk_view x, struct vk_view y, uint32_t nvec,
              struct vkinfer_err *err) {
        struct vk_ctx *ctx = vk_seq_ctx(s);
        uint64_t rb;
        uint32_t chunk;
        struct vk_pipeline *p;
        char name[32];
        int r = weight_check("matmul", w, &rb, err);
        if (r < 0)
                return r;
        if ((r = op_need("matmul", "x", x, (uint64_t) w->ncols * nvec * 4, &x, err)) < 0 ||
            (r = op_need("matmul", "y", y, (uint64_t) w->nrows * nvec * 4, &y, err)) < 0 ||
            (r = rows_per_chunk(ctx, "matmul", w, rb, &chunk, err)) < 0)
                return r;
        snprintf(name, sizeof(name), "matmul_%s", type_suffix(w->type));
        if ((r = pipeline(s, name, 3, sizeof(struct push_matmul), WG_MATMUL, &p, err)) < 0)
                return r;
        for (uint32_t r0 = 0; r0 < w->nrows; r0 += chunk) {
                uint32_t n = w->nrows - r0 < chunk ? w->nrows - r0 : chunk;
                struct push_matmul pc = {
                        .ncols = w->ncols, .nrows = n, .nvec = nvec, .row_bytes = (uint32_t) rb,
                        .y_off = r0, .y_stride = w->nrows,
                };
                struct vk_view v[3] = {weight_range(w, r0, n, rb), x, y};
                uint32_t g[3] = {(n + 31) / 32, (nvec + 31) / 32, 1};
                if ((r = vk_seq_dispatch(s, p, v, 3, &pc, sizeof(pc), g, err)) < 0)
                        return r;
        }
        return 0;
}

int op_get_rows(struct vk_seq *s, const struct op_weight *w, struct vk_view ids, uint32_t n_ids,
                struct vk_view out, struct vkinfer_err *err) {
        struct vk_ctx *ctx = vk_seq_ctx(s);
        uint64_t rb;
        uint32_t chunk;
        struct vk_pipeline *p;
        char name[32];
        int r = weight_check("get_rows", w, &rb, err);
        if (r < 0)
                return r;
        if ((r = op_need("get_rows", "ids", ids, (uint64_t) n_ids * 4, &ids, err)) < 0 ||
            (r = op_need("get_rows", "out", out, (uint64_t) n_ids * w->ncols * 4, &out, err)) < 0 ||
            (r = rows_per_chunk(ctx, "get_rows", w, rb, &chunk, err)) < 0)
                return r;
        snprintf(name, sizeof(name), "get_rows_%s", type_suffix(w->type));
        if ((r = pipeline(s, name, 3, sizeof(struct push_get_rows), WG_ROW, &p, err)) < 0)
                return r;
        /* Every range sees every id and gathers those it holds. */
        for (uint32_t r0 = 0; r0 < w->nrows; r0 += chunk) {
                uint32_t n = w->nrows - r0 < chunk ? w->nrows - r0 : chunk;
                struct push_get_rows pc = {
                        .ncols = w->ncols, .n_ids = n_ids, .row_bytes = (uint32_t) rb,
                        .row_begin = r0, .row_end = r0 + n,
                };
                struct vk_view v[3] = {weight_range(w, r0, n, rb), ids, out};
                uint32_t g[3];
                vk_groups_linear(ctx, n_ids, g);
                if ((r = vk_seq_dispatch(s, p, v, 3, &pc, sizeof(pc), g, err)) < 0)
                        return r;
        }
        return 0;
}

/* ---- Row-wise ---- */

int op_rmsnorm(struct vk_seq *s, struct vk_view x, struct vk_view w, struct vk_view y, uint32_t ncols,
               uint32_t nrows, float eps, struct vkinfer_err *err) {
        struct vk_pipeline *p;
        uint64_t n = (uint64_t) ncols * nrows * 4;
        int r;
        if ((r = op_need("rmsnorm", "x", x, n, &x, err)) < 0 ||
            (r = op_need("rmsnorm", "w", w, ncols * 4ull, &w, err)) < 0 ||
            (r = op_need("rmsnorm", "y", y, n, &y, err)) < 0 ||
            (r = pipeline(s, "rmsnorm", 3, sizeof(struct push_rmsnorm), WG_ROW, &p, err)) < 0)
                return r;
        struct push_rmsnorm pc = {.ncols = ncols, .nrows = nrows, .eps = eps};
        struct vk_view v[3] = {x, w, y};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), nrows, g);
        return vk_seq_dispatch(s, p, v, 3, &pc, sizeof(pc), g, err);
}

int op_rope(struct vk_seq *s, const struct op_rope *rp, struct vk_view x, struct vk_view pos,
            struct vk_view freq_factors, struct vk_view y, struct vkinfer_err *err) {
        struct vk_pipeline *p;
        int r;
        if (rp->head_dim % 2 || rp->n_dims % 2 || rp->n_dims > rp->head_dim || rp->n_dims == 0 ||
            (rp->mode != OP_ROPE_NORMAL && rp->mode != OP_ROPE_NEOX) || rp->freq_base <= 0 || rp->freq_scale <= 0)
                return err_set(err, -EINVAL, "rope: n_dims %u, head_dim %u, mode %d: not a valid rope", rp->n_dims,
                               rp->head_dim, (int) rp->mode);
        struct push_rope pc = {
                .n_dims = rp->n_dims, .head_dim = rp->head_dim, .n_heads = rp->n_heads, .n_tokens = rp->n_tokens,
                .mode = rp->mode == OP_ROPE_NEOX ? ROPE_MODE_NEOX : ROPE_MODE_NORMAL,
                .x_off = rp->x_off, .x_hs = rp->x_hs ? rp->x_hs : rp->head_dim,
                .x_ts = rp->x_ts ? rp->x_ts : rp->head_dim * rp->n_heads,
                .y_off = rp->y_off, .y_hs = rp->y_hs ? rp->y_hs : rp->head_dim,
                .y_ts = rp->y_ts ? rp->y_ts : rp->head_dim * rp->n_heads,
                .theta_scale = powf(rp->freq_base, -2.0f / (float) rp->n_dims),
                .freq_scale = rp->freq_scale, .ext_factor = rp->ext_factor, .attn_factor = rp->attn_factor,
        };
        float corr[2] = {0, 0};
        if (rp->ext_factor != 0.0f)
                op_rope_corr_dims(rp, corr);
        pc.corr_lo = corr[0];
        pc.corr_hi = corr[1];
        if (rp->n_tokens == 0 || rp->n_heads == 0)
                return err_set(err, -EINVAL, "rope: no tokens or heads");
        /* The last element each side touches. */
        uint64_t xl = pc.x_off + (uint64_t) (rp->n_tokens - 1) * pc.x_ts + (uint64_t) (rp->n_heads - 1) * pc.x_hs + rp->head_dim;
        uint64_t yl = pc.y_off + (uint64_t) (rp->n_tokens - 1) * pc.y_ts + (uint64_t) (rp->n_heads - 1) * pc.y_hs + rp->head_dim;
        if ((r = op_need("rope", "x", x, xl * 4, &x, err)) < 0 || (r = op_need("rope", "y", y, yl * 4, &y, err)) < 0 ||
            (r = op_need("rope", "pos", pos, rp->n_tokens * 4ull, &pos, err)) < 0)
                return r;
        pc.has_ff = freq_factors.size > 0;
        if (pc.has_ff &&
            (r = op_need("rope", "freq_factors", freq_factors, rp->n_dims / 2 * 4ull, &freq_factors, err)) < 0)
                return r;
        if ((r = pipeline(s, "rope", 4, sizeof(pc), WG_BIG, &p, err)) < 0)
                return r;
        struct vk_view v[4] = {x, pos, y, pc.has_ff ? freq_factors : pos};
        uint64_t pairs = (uint64_t) rp->n_tokens * rp->n_heads * (rp->head_dim / 2);
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), (pairs + WG_BIG - 1) / WG_BIG, g);
        return vk_seq_dispatch(s, p, v, 4, &pc, sizeof(pc), g, err);
}

int op_softmax(struct vk_seq *s, struct vk_view x, struct vk_view mask, struct vk_view y, uint32_t ncols,
               uint32_t nrows, float scale, uint32_t mask_stride, uint32_t n_valid, struct vkinfer_err *err) {
        struct vk_pipeline *p;
        uint64_t n = (uint64_t) ncols * nrows * 4;
        int r;
        if ((r = op_need("softmax", "x", x, n, &x, err)) < 0 || (r = op_need("softmax", "y", y, n, &y, err)) < 0)
                return r;
        bool has_mask = mask.size > 0;
        if (has_mask &&
            (r = op_need("softmax", "mask", mask, ((uint64_t) (nrows - 1) * mask_stride + ncols) * 4, &mask, err)) < 0)
                return r;
        if ((r = pipeline(s, "softmax", 3, sizeof(struct push_softmax), WG_ROW, &p, err)) < 0)
                return r;
        struct push_softmax pc = {
                .ncols = ncols, .nrows = nrows, .scale = scale, .has_mask = has_mask,
                .mask_stride = mask_stride, .n_valid = n_valid ? n_valid : ncols,
        };
        struct vk_view v[3] = {x, has_mask ? mask : x, y};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), nrows, g);
        return vk_seq_dispatch(s, p, v, 3, &pc, sizeof(pc), g, err);
}

/* ---- Elementwise ---- */

static int elementwise(struct vk_seq *s, const char *op, uint32_t code, struct vk_view a, struct vk_view b,
                       struct vk_view y, uint32_t n, uint32_t nb, float scale, struct vkinfer_err *err) {
        struct vk_pipeline *p;
        int r;
        if ((r = op_need(op, "a", a, n * 4ull, &a, err)) < 0 || (r = op_need(op, "y", y, n * 4ull, &y, err)) < 0 ||
            (r = op_need(op, "b", b, nb * 4ull, &b, err)) < 0 ||
            (r = pipeline(s, "elementwise", 3, sizeof(struct push_elementwise), WG_BIG, &p, err)) < 0)
                return r;
        struct push_elementwise pc = {.n = n, .nb = nb, .op = code, .scale = scale};
        struct vk_view v[3] = {a, b, y};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), (n + WG_BIG - 1) / WG_BIG, g);
        return vk_seq_dispatch(s, p, v, 3, &pc, sizeof(pc), g, err);
}

int op_add(struct vk_seq *s, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n, uint32_t nb,
           struct vkinfer_err *err) {
        return elementwise(s, "add", EW_OP_ADD, a, b, y, n, nb, 0, err);
}

int op_mul(struct vk_seq *s, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n, uint32_t nb,
           struct vkinfer_err *err) {
        return elementwise(s, "mul", EW_OP_MUL, a, b, y, n, nb, 0, err);
}

int op_scale(struct vk_seq *s, struct vk_view a, struct vk_view y, uint32_t n, float scale, struct vkinfer_err *err) {
        return elementwise(s, "scale", EW_OP_SCALE, a, a, y, n, n, scale, err);
}

int op_swiglu(struct vk_seq *s, struct vk_view a, struct vk_view b, struct vk_view y, uint32_t n,
              struct vkinfer_err *err) {
        return elementwise(s, "swiglu", EW_OP_SWIGLU, a, b, y, n, n, 0, err);
}

/* ---- Selection ---- */

int op_argmax(struct vk_seq *s, struct vk_view x, struct vk_view out, uint32_t ncols, uint32_t nrows,
              struct vkinfer_err *err) {
        struct vk_pipeline *p;
        int r;
        if ((r = op_need("argmax", "x", x, (uint64_t) ncols * nrows * 4, &x, err)) < 0 ||
            (r = op_need("argmax", "out", out, nrows * 4ull, &out, err)) < 0 ||
            (r = pipeline(s, "argmax", 2, sizeof(struct push_argmax), WG_ROW, &p, err)) < 0)
                return r;
        struct push_argmax pc = {.ncols = ncols, .nrows = nrows};
        struct vk_view v[2] = {x, out};
        uint32_t g[3];
        vk_groups_linear(vk_seq_ctx(s), nrows, g);
        return vk_seq_dispatch(s, p, v, 2, &pc, sizeof(pc), g, err);
}

static uint64_t topk_slot_bytes(uint32_t n, uint32_t k, uint32_t nrows) {
        uint64_t nch = (n + TOPK_CHUNK - 1) / TOPK_CHUNK;
        return align_up(nch * k * nrows * 4, 256);
}

uint64_t op_topk_scratch_bytes(uint32_t n, uint32_t k, uint32_t nrows) {
        if (n <= TOPK_CHUNK)
                return 0;
        return 4 * topk_slot_bytes(n, k, nrows); /* two (values, indices) pairs, ping-pong */
}

int op_topk(struct vk_seq *s, struct vk_view x, struct vk_view scratch, struct vk_view out_val,
            struct vk_view out_idx, uint32_t n, uint32_t k, uint32_t nrows, struct vkinfer_err *err) {
        struct vk_pipeline *p;
        int r;
        if (k == 0 || k > TOPK_MAX_K || n == 0 || nrows == 0)
                return err_set(err, -EINVAL, "topk: k = %u of n = %u (k must be 1..%u)", k, n, TOPK_MAX_K);
        if ((r = op_need("topk", "x", x, (uint64_t) n * nrows * 4, &x, err)) < 0 ||
            (r = op_need("topk", "out_val", out_val, (uint64_t) k * nrows * 4, &out_val, err)) < 0 ||
            (r = op_need("topk", "out_idx", out_idx, (uint64_t) k * nrows * 4, &out_idx, err)) < 0)
                return r;
        uint64_t slot = topk_slot_bytes(n, k, nrows);
        if (n > TOPK_CHUNK && scratch.size < 4 * slot)
                return err_set(err, -EINVAL, "topk: scratch holds %llu bytes, needs %llu",
                               (unsigned long long) scratch.size, (unsigned long long) (4 * slot));
        if ((r = pipeline(s, "topk", 4, sizeof(struct push_topk), WG_BIG, &p, err)) < 0)
                return r;
        struct vk_view in_val = x, in_idx = x;
        uint32_t cur = n, has_idx = 0;
        for (int pass = 0;; pass++) {
                uint32_t nch = (cur + TOPK_CHUNK - 1) / TOPK_CHUNK;
                struct vk_view ov = out_val, oi = out_idx;
                if (nch > 1) {
                        uint64_t base = (uint64_t) (pass % 2) * 2 * slot, bytes = (uint64_t) nch * k * nrows * 4;
                        ov = vk_view_sub(scratch, base, bytes);
                        oi = vk_view_sub(scratch, base + slot, bytes);
                }
                struct push_topk pc = {
                        .n = cur, .k = k, .chunk = TOPK_CHUNK, .in_row_stride = cur,
                        .out_row_stride = nch * k, .has_idx = has_idx,
                };
                struct vk_view v[4] = {in_val, in_idx, ov, oi};
                uint32_t g[3] = {nch, nrows, 1};
                if ((r = vk_seq_dispatch(s, p, v, 4, &pc, sizeof(pc), g, err)) < 0)
                        return r;
                if (nch == 1)
                        return 0;
                in_val = ov;
                in_idx = oi;
                cur = nch * k;
                has_idx = 1;
        }
}
