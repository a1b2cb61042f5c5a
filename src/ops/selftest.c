/* ops_selftest: each kernel once against its reference (see selftest.h). */
#include "ops/selftest.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/quant.h"
#include "ops/ops.h"
#include "ops/ref.h"

struct st {
        struct vk_ctx *ctx;
        uint64_t rng;
        ops_selftest_cb cb;
        void *userdata;
        int failed;
        struct vkinfer_err *err;
};

static float rnd(struct st *st) {
        st->rng ^= st->rng << 13;
        st->rng ^= st->rng >> 7;
        st->rng ^= st->rng << 17;
        return (float) ((st->rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static float *rnd_array(struct st *st, size_t n, float scale) {
        float *x = malloc(n * sizeof(float) + 4);
        if (x)
                for (size_t i = 0; i < n; i++)
                        x[i] = rnd(st) * scale;
        return x;
}

static double rel_err(const float *a, const float *b, size_t n) {
        double num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
                double d = (double) a[i] - b[i];
                num += d * d;
                den += (double) b[i] * b[i];
        }
        return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void report(struct st *st, const char *kernel, const char *shape, double e, double tol, const char *failure) {
        struct ops_selftest_result r = {
                .kernel = kernel, .shape = shape, .error = e, .tolerance = tol,
                .ok = !failure && e <= tol, .failure = failure,
        };
        if (!r.ok)
                st->failed++;
        if (st->cb)
                st->cb(&r, st->userdata);
}

/* Device buffers for up to 6 operands, uploaded from host arrays (NULL:
 * zeros), then one sequence; reads back operand `out`. */
struct job {
        struct vk_buf *b[6];
        struct vk_seq *seq;
};

static int job_begin(struct st *st, struct job *j, const void *const *data, const uint64_t *bytes, int n) {
        memset(j, 0, sizeof(*j));
        for (int i = 0; i < n; i++) {
                int r = vk_buf_alloc(st->ctx, VK_MEM_DEVICE, bytes[i] ? bytes[i] : 4, &j->b[i], st->err);
                if (r < 0)
                        return r;
                void *zeros = NULL;
                if (!data[i] && !(zeros = calloc(1, bytes[i] + 4)))
                        return err_set(st->err, -ENOMEM, "out of memory");
                r = vk_upload(st->ctx, j->b[i]->view, data[i] ? data[i] : zeros, bytes[i] ? bytes[i] : 4, st->err);
                free(zeros);
                if (r < 0)
                        return r;
        }
        int r = vk_seq_create(st->ctx, &j->seq, st->err);
        return r < 0 ? r : vk_seq_begin(j->seq, st->err);
}

static int job_finish(struct st *st, struct job *j, int out, void *dst, uint64_t bytes) {
        int r = vk_seq_end(j->seq, st->err);
        if (r >= 0)
                r = vk_seq_run(j->seq, st->err);
        if (r >= 0 && dst)
                r = vk_download(st->ctx, j->b[out]->view, dst, bytes, st->err);
        return r;
}

static void job_free(struct st *st, struct job *j) {
        vk_seq_destroy(j->seq);
        for (int i = 0; i < 6; i++)
                vk_buf_free(st->ctx, j->b[i]);
}

static const uint32_t wtypes[] = {
        GGML_TYPE_F32,    GGML_TYPE_F16,     GGML_TYPE_BF16,   GGML_TYPE_Q4_0,   GGML_TYPE_Q4_1,    GGML_TYPE_Q5_0,
        GGML_TYPE_Q5_1,   GGML_TYPE_Q8_0,    GGML_TYPE_Q2_K,   GGML_TYPE_Q3_K,   GGML_TYPE_Q4_K,    GGML_TYPE_Q5_K,
        GGML_TYPE_Q6_K,   GGML_TYPE_IQ1_S,   GGML_TYPE_IQ1_M,  GGML_TYPE_IQ2_XXS, GGML_TYPE_IQ2_XS, GGML_TYPE_IQ2_S,
        GGML_TYPE_IQ3_XXS, GGML_TYPE_IQ3_S,  GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS, GGML_TYPE_TQ1_0,   GGML_TYPE_TQ2_0,
};

/* One row of `type`: wf quantized where vkinfer has a quantizer, else
 * random valid blocks. */
static int make_row(struct st *st, uint32_t type, const float *wf, uint8_t *q, uint32_t ncols) {
        if (ggml_can_quantize(type))
                return ggml_quantize_row(type, wf, q, ncols);
        return ggml_random_row(type, &st->rng, q, ncols);
}

/* matvec, matmul and get_rows of one weight type. */
static int weights(struct st *st, uint32_t type) {
        const uint32_t ncols = 256, nrows = 37, nvec = 5, nids = 6;
        uint64_t rb;
        ggml_row_bytes(type, ncols, &rb);
        float *wf = rnd_array(st, (size_t) ncols * nrows, 1.0f), *x = rnd_array(st, (size_t) ncols * nvec, 1.0f);
        uint8_t *wq = malloc(rb * nrows);
        float *y = malloc((size_t) nrows * nvec * 4), *ref = malloc((size_t) nrows * nvec * 4);
        float *g = calloc((size_t) nids * ncols, 4), *gref = calloc((size_t) nids * ncols, 4);
        int32_t ids[6] = {0, 36, 5, 5, 17, 2};
        int r = 0;
        if (!wf || !x || !wq || !y || !ref || !g || !gref) {
                r = err_set(st->err, -ENOMEM, "out of memory");
                goto out;
        }
        for (uint32_t i = 0; r >= 0 && i < nrows; i++)
                if (make_row(st, type, wf + (size_t) i * ncols, wq + i * rb, ncols) < 0)
                        r = err_set(st->err, -EINVAL, "selftest: no valid %s blocks", ggml_type_name(type));
        if (r < 0)
                goto out;
        const char *suffix = ggml_type_name(type);
        char name[3][32];
        snprintf(name[0], 32, "matvec_%s", suffix);
        snprintf(name[1], 32, "matmul_%s", suffix);
        snprintf(name[2], 32, "get_rows_%s", suffix);
        for (int op = 0; op < 3; op++) {
                struct job j;
                const void *data[3] = {wq, op == 2 ? (const void *) ids : x, NULL};
                uint64_t bytes[3] = {rb * nrows, op == 2 ? sizeof(ids) : (uint64_t) ncols * nvec * 4,
                                     op == 2 ? (uint64_t) nids * ncols * 4 : (uint64_t) nrows * nvec * 4};
                if ((r = job_begin(st, &j, data, bytes, 3)) < 0) {
                        job_free(st, &j);
                        goto out;
                }
                struct op_weight w = {j.b[0]->view, type, ncols, nrows};
                struct vkinfer_err oe = {{0}};
                int rr = op == 0 ? op_matvec(j.seq, &w, j.b[1]->view, j.b[2]->view, &oe)
                       : op == 1 ? op_matmul(j.seq, &w, j.b[1]->view, j.b[2]->view, nvec, &oe)
                                 : op_get_rows(j.seq, &w, j.b[1]->view, nids, j.b[2]->view, &oe);
                if (rr < 0) {
                        job_free(st, &j);
                        report(st, name[op], "", 0, 0, oe.msg);
                        continue;
                }
                r = job_finish(st, &j, 2, op == 2 ? g : y, bytes[2]);
                job_free(st, &j);
                if (r < 0)
                        goto out;
                double e;
                char shape[48];
                if (op == 0) {
                        ref_matvec(type, wq, ncols, nrows, x, ref);
                        e = rel_err(y, ref, nrows);
                        snprintf(shape, sizeof(shape), "%u x %u", nrows, ncols);
                } else if (op == 1) {
                        opref_matmul(type, wq, ncols, nrows, x, nvec, ref);
                        e = rel_err(y, ref, (size_t) nrows * nvec);
                        snprintf(shape, sizeof(shape), "%u x %u, %u vectors", nrows, ncols, nvec);
                } else {
                        ref_get_rows(type, wq, ncols, nrows, ids, nids, gref);
                        e = rel_err(g, gref, (size_t) nids * ncols);
                        snprintf(shape, sizeof(shape), "%u of %u x %u", nids, nrows, ncols);
                }
                report(st, name[op], shape, e, op == 2 ? 0 : 1e-5, NULL);
        }
out:
        free(wf);
        free(x);
        free(wq);
        free(y);
        free(ref);
        free(g);
        free(gref);
        return r;
}

enum simple { RMSNORM, ROPE, ROPE_YARN, SOFTMAX, ADD, MUL, SCALE, SWIGLU, N_SIMPLE };

/* The f32 kernels: two inputs of n (b of nb), one output of n. */
static int simple(struct st *st, enum simple k) {
        static const char *names[] = {"rmsnorm", "rope", "rope_neox_yarn", "softmax", "add", "mul", "scale", "swiglu"};
        const uint32_t ncols = 130, nrows = 3, n = ncols * nrows;
        struct op_rope rp = {
                .n_dims = 20, .head_dim = 26, .n_heads = 5, .n_tokens = 3, .mode = OP_ROPE_NORMAL,
                .freq_base = 10000, .freq_scale = 1, .attn_factor = 1, .beta_fast = 32, .beta_slow = 1,
                .n_ctx_orig = 4096,
        };
        if (k == ROPE_YARN) {
                rp.mode = OP_ROPE_NEOX;
                rp.freq_scale = 1.0f / 40;
                rp.ext_factor = 1;
        }
        int32_t pos[3] = {0, 7, 1234};
        uint32_t nb = k == RMSNORM ? ncols : k == ROPE || k == ROPE_YARN ? 3 : n;
        float *a = rnd_array(st, n, 3), *b = rnd_array(st, nb, 1), *y = malloc(n * 4), *ref = malloc(n * 4);
        int r = 0;
        if (!a || !b || !y || !ref) {
                r = err_set(st->err, -ENOMEM, "out of memory");
                goto out;
        }
        struct job j;
        const void *data[3] = {a, k == ROPE || k == ROPE_YARN ? (const void *) pos : b, NULL};
        uint64_t bytes[3] = {n * 4, nb * 4, n * 4};
        if ((r = job_begin(st, &j, data, bytes, 3)) < 0) {
                job_free(st, &j);
                goto out;
        }
        struct vk_view va = j.b[0]->view, vb = j.b[1]->view, vy = j.b[2]->view, none = {VK_NULL_HANDLE, 0, 0};
        struct vkinfer_err oe = {{0}};
        int rr = 0;
        switch (k) {
        case RMSNORM: rr = op_rmsnorm(j.seq, va, vb, vy, ncols, nrows, 1e-6f, &oe); opref_rmsnorm(a, b, ref, ncols, nrows, 1e-6f); break;
        case ROPE:
        case ROPE_YARN: rr = op_rope(j.seq, &rp, va, vb, none, vy, &oe); opref_rope(&rp, a, pos, NULL, ref); break;
        case SOFTMAX: rr = op_softmax(j.seq, va, none, vy, ncols, nrows, 0.5f, 0, 0, &oe); opref_softmax(a, NULL, ref, ncols, nrows, 0.5f, 0, 0); break;
        case ADD: rr = op_add(j.seq, va, vb, vy, n, nb, &oe); ref_add(a, b, ref, n, nb); break;
        case MUL: rr = op_mul(j.seq, va, vb, vy, n, nb, &oe); ref_mul(a, b, ref, n, nb); break;
        case SCALE: rr = op_scale(j.seq, va, vy, n, 0.3f, &oe); ref_scale(a, ref, n, 0.3f); break;
        case SWIGLU: rr = op_swiglu(j.seq, va, vb, vy, n, &oe); ref_swiglu(a, b, ref, n); break;
        default: break;
        }
        if (rr < 0) {
                job_free(st, &j);
                report(st, names[k], "", 0, 0, oe.msg);
                goto out;
        }
        r = job_finish(st, &j, 2, y, n * 4);
        job_free(st, &j);
        if (r < 0)
                goto out;
        char shape[48];
        if (k == ROPE || k == ROPE_YARN)
                snprintf(shape, sizeof(shape), "%u x %u x %u, %u rotated", rp.n_tokens, rp.n_heads, rp.head_dim,
                         rp.n_dims);
        else
                snprintf(shape, sizeof(shape), "%u x %u", nrows, ncols);
        report(st, names[k], shape, rel_err(y, ref, n), k == ROPE || k == ROPE_YARN ? 1e-4 : 1e-5, NULL);
out:
        free(a);
        free(b);
        free(y);
        free(ref);
        return r;
}

/* argmax and top-k over a vocabulary-sized row. */
static int selection(struct st *st) {
        const uint32_t n = 50000, k = 40;
        float *x = rnd_array(st, n, 10), *val = malloc(k * 4), *rval = malloc(k * 4);
        uint32_t *idx = malloc(k * 4), *ridx = malloc(k * 4), am = 0, ram = 0;
        int r = 0;
        if (!x || !val || !rval || !idx || !ridx) {
                r = err_set(st->err, -ENOMEM, "out of memory");
                goto out;
        }
        for (uint32_t i = 0; i < n; i++)
                x[i] = roundf(x[i] * 8); /* ties */
        struct job j;
        uint64_t sb = op_topk_scratch_bytes(n, k, 1);
        const void *data[5] = {x, NULL, NULL, NULL, NULL};
        uint64_t bytes[5] = {n * 4, 4, sb, k * 4, k * 4};
        if ((r = job_begin(st, &j, data, bytes, 5)) < 0) {
                job_free(st, &j);
                goto out;
        }
        struct vkinfer_err oe = {{0}};
        int rr = op_argmax(j.seq, j.b[0]->view, j.b[1]->view, n, 1, &oe);
        if (rr >= 0)
                rr = op_topk(j.seq, j.b[0]->view, j.b[2]->view, j.b[3]->view, j.b[4]->view, n, k, 1, &oe);
        if (rr < 0) {
                job_free(st, &j);
                report(st, "argmax+topk", "", 0, 0, oe.msg);
                goto out;
        }
        r = job_finish(st, &j, 1, &am, 4);
        if (r >= 0)
                r = vk_download(st->ctx, j.b[3]->view, val, k * 4, st->err);
        if (r >= 0)
                r = vk_download(st->ctx, j.b[4]->view, idx, k * 4, st->err);
        job_free(st, &j);
        if (r < 0)
                goto out;
        ref_argmax(x, &ram, n, 1);
        ref_topk(x, rval, ridx, n, k, 1);
        uint32_t bad = 0;
        for (uint32_t i = 0; i < k; i++)
                bad += idx[i] != ridx[i] || val[i] != rval[i];
        report(st, "argmax", "50000", am != ram, 0, NULL);
        report(st, "topk", "40 of 50000", bad, 0, NULL);
out:
        free(x);
        free(val);
        free(rval);
        free(idx);
        free(ridx);
        return r;
}

int ops_selftest(struct vk_ctx *ctx, ops_selftest_cb cb, void *userdata, struct vkinfer_err *err) {
        struct st st = {.ctx = ctx, .rng = 0x5e1f7e57, .cb = cb, .userdata = userdata, .err = err};
        int r = 0;
        for (size_t i = 0; r >= 0 && i < sizeof(wtypes) / sizeof(wtypes[0]); i++)
                r = weights(&st, wtypes[i]);
        for (int k = 0; r >= 0 && k < N_SIMPLE; k++)
                r = simple(&st, (enum simple) k);
        if (r >= 0)
                r = selection(&st);
        return r < 0 ? r : st.failed;
}
