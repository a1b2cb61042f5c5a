/* A quick check of every kernel on the current device against its CPU
 * reference, on small random data (fixed seed): what `vkinfer selftest`
 * runs. Tests in tests/vk go much further. */
#pragma once

#include <stdbool.h>

#include "vk/vk.h"

struct ops_selftest_result {
        const char *kernel; /* "matvec_q4_0" */
        const char *shape;  /* "37 x 96" */
        double error;       /* relative L2 (mismatches for selections) */
        double tolerance;
        bool ok;
        const char *failure; /* set when the kernel could not run */
};

typedef void (*ops_selftest_cb)(const struct ops_selftest_result *r, void *userdata);

/* Runs every kernel once, calling cb after each. Returns the number of
 * failed kernels, or a negative errno when the check itself could not run
 * (allocation, submission). */
int ops_selftest(struct vk_ctx *ctx, ops_selftest_cb cb, void *userdata, struct vkinfer_err *err);
