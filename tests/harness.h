/* A tiny test library: each test program runs its cases, counts the failed
 * checks, and exits 0 (pass), 1 (fail) or 77 (skip, e.g. no Vulkan device).
 * meson counts the programs; tests/run-tests.sh prints "N passed, M failed". */
#pragma once

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures;

#define CHECK(cond, ...)                                                          \
        do {                                                                      \
                if (!(cond)) {                                                    \
                        test_failures++;                                          \
                        fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,    \
                                __LINE__, #cond);                                 \
                        fprintf(stderr, __VA_ARGS__);                             \
                        fputc('\n', stderr);                                      \
                }                                                                 \
        } while (0)

#define CHECK_OK(r, err)                                                          \
        CHECK((r) >= 0, "returned %d: %s", (int) (r), (err).msg)

#define TEST_SKIP 77

/* Relative L2 error ||a-b|| / ||b|| (b is the reference). */
static inline double rel_l2(const float *a, const float *b, size_t n) {
        double num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
                double d = (double) a[i] - (double) b[i];
                num += d * d;
                den += (double) b[i] * (double) b[i];
        }
        if (den == 0)
                return sqrt(num);
        return sqrt(num / den);
}

/* Deterministic xorshift random numbers for fixed-seed tests. */
struct test_rng {
        unsigned long long s;
};
static inline unsigned long long test_rng_next(struct test_rng *r) {
        r->s ^= r->s << 13;
        r->s ^= r->s >> 7;
        r->s ^= r->s << 17;
        return r->s;
}
/* Uniform in [-1, 1). */
static inline float test_rng_float(struct test_rng *r) {
        return (float) ((test_rng_next(r) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static inline int test_exit(const char *name) {
        if (test_failures) {
                fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
                return 1;
        }
        fprintf(stderr, "%s: ok\n", name);
        return 0;
}
