/* Helpers for the gpu suite: a context (exit 77 when there is no Vulkan
 * device), buffers from host arrays, and comparisons that also prove their
 * tolerance would catch a wrong element. */
#pragma once

#include <errno.h>
#include <string.h>

#include "harness.h"
#include "ops/ops.h"
#include "ops/ref.h"
#include "vk/vk.h"

static struct vkinfer_err test_err;

/* Exits 77 when no device exists, 1 on any other failure. */
static inline struct vk_ctx *test_ctx(const struct vk_opts *opts) {
        struct vk_ctx *ctx = NULL;
        int r = vk_ctx_create(opts, &ctx, &test_err);
        if (r == -ENODEV) {
                fprintf(stderr, "skip: %s\n", test_err.msg);
                exit(TEST_SKIP);
        }
        if (r < 0) {
                fprintf(stderr, "vk_ctx_create: %s\n", test_err.msg);
                exit(1);
        }
        return ctx;
}

/* Fails the test on any validation message, then destroys ctx. */
static inline void test_ctx_done(struct vk_ctx *ctx) {
        if (!ctx)
                return;
        uint64_t n = vk_ctx_validation_count(ctx);
        CHECK(n == 0, "%llu validation message(s)", (unsigned long long) n);
        vk_ctx_destroy(ctx);
}

/* A device buffer holding a copy of data (or zeros). */
static inline struct vk_buf *test_buf(struct vk_ctx *ctx, const void *data, uint64_t bytes) {
        struct vk_buf *b = NULL;
        int r = vk_buf_alloc(ctx, VK_MEM_DEVICE, bytes ? bytes : 4, &b, &test_err);
        if (r < 0) {
                fprintf(stderr, "vk_buf_alloc: %s\n", test_err.msg);
                exit(1);
        }
        if (data)
                r = vk_upload(ctx, b->view, data, bytes, &test_err);
        else {
                void *z = calloc(1, bytes ? bytes : 4);
                r = vk_upload(ctx, b->view, z, bytes ? bytes : 4, &test_err);
                free(z);
        }
        if (r < 0) {
                fprintf(stderr, "vk_upload: %s\n", test_err.msg);
                exit(1);
        }
        return b;
}

static inline void test_read(struct vk_ctx *ctx, struct vk_buf *b, void *dst, uint64_t bytes) {
        int r = vk_download(ctx, b->view, dst, bytes, &test_err);
        CHECK_OK(r, test_err);
}

/* A new recording sequence. */
static inline struct vk_seq *test_seq(struct vk_ctx *ctx) {
        struct vk_seq *s = NULL;
        int r = vk_seq_create(ctx, &s, &test_err);
        if (r >= 0)
                r = vk_seq_begin(s, &test_err);
        if (r < 0) {
                fprintf(stderr, "vk_seq: %s\n", test_err.msg);
                exit(1);
        }
        return s;
}

static inline int test_seq_run(struct vk_seq *s) {
        int r = vk_seq_end(s, &test_err);
        if (r >= 0)
                r = vk_seq_run(s, &test_err);
        CHECK_OK(r, test_err);
        return r;
}

static inline void test_fill(struct test_rng *rng, float *x, size_t n, float scale) {
        for (size_t i = 0; i < n; i++)
                x[i] = test_rng_float(rng) * scale;
}

/* rel_l2(got, ref) <= tol, and the same comparison with one element of got
 * made wrong by a few tolerances' worth fails: the tolerance is tight enough
 * to catch a single wrong output. */
static inline double test_close(const char *what, const float *got, const float *ref, size_t n, double tol) {
        double e = rel_l2(got, ref, n);
        CHECK(e <= tol, "%s: rel L2 %.3g > %.3g", what, e, tol);
        float *bad = malloc(n * sizeof(float));
        if (bad) {
                memcpy(bad, got, n * sizeof(float));
                double norm = 0;
                for (size_t i = 0; i < n; i++)
                        norm += (double) ref[i] * ref[i];
                norm = sqrt(norm);
                bad[n / 2] += (float) (4 * (tol > 1e-6 ? tol : 1e-6) * (norm > 0 ? norm : 1));
                double eb = rel_l2(bad, ref, n);
                CHECK(eb > tol, "%s: a wrong element (rel L2 %.3g) passes tolerance %.3g", what, eb, tol);
                free(bad);
        }
        return e;
}
