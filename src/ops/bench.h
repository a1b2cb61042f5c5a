/* Kernel timings for `vkinfer bench` (later): never used by tests to judge
 * speed, only to check the measurement runs. */
#pragma once

#include <stdint.h>

#include "vk/vk.h"

struct ops_bench_result {
        double seconds;     /* per call */
        double weight_gbps; /* weight bytes read per second, 1e9 */
};

/* Records `reps` matvecs of an nrows x ncols matrix of `type` with nvec
 * vectors (op_matvec_batch) into one sequence, runs it once to warm up and
 * once timed. */
int ops_bench_matvec(struct vk_ctx *ctx, uint32_t type, uint32_t ncols, uint32_t nrows, uint32_t nvec,
                     uint32_t reps, struct ops_bench_result *ret, struct vkinfer_err *err);
