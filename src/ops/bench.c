/* ops_bench_matvec (see bench.h). */
#include "ops/bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf/quant.h"
#include "ops/ops.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

int ops_bench_matvec(struct vk_ctx *ctx, uint32_t type, uint32_t ncols, uint32_t nrows, uint32_t nvec,
                     uint32_t reps, struct ops_bench_result *ret, struct vkinfer_err *err) {
        uint64_t rb, total;
        if (!op_weight_type_supported(type) || ggml_row_bytes(type, ncols, &rb) < 0 || nrows == 0 || reps == 0 ||
            nvec == 0 || nvec > 4096 || mul_overflows(rb, nrows, &total))
                return err_set(err, -EINVAL, "bench: %u x %u of %s is not a matvec shape", nrows, ncols,
                               ggml_type_name(type));
        struct vk_buf *w = NULL, *x = NULL, *y = NULL;
        struct vk_seq *s = NULL;
        float *row = malloc((size_t) ncols * sizeof(float));
        uint8_t *q = malloc(rb);
        int r = row && q ? 0 : err_set(err, -ENOMEM, "out of memory");
        /* One quantized row, repeated: the content does not change the time. */
        uint32_t state = 1;
        for (uint32_t i = 0; r >= 0 && i < ncols; i++) {
                state = state * 1664525u + 1013904223u;
                row[i] = (float) (state >> 8) / (float) (1u << 24) - 0.5f;
        }
        uint64_t seed = 0x9e3779b97f4a7c15u;
        if (r >= 0)
                r = (ggml_can_quantize(type) ? ggml_quantize_row(type, row, q, ncols) : ggml_random_row(type, &seed, q, ncols)) < 0
                            ? err_set(err, -EINVAL, "bench: cannot make %s data", ggml_type_name(type))
                            : 0;
        if (r >= 0)
                r = vk_buf_alloc(ctx, VK_MEM_DEVICE, total, &w, err);
        if (r >= 0)
                r = vk_buf_alloc(ctx, VK_MEM_DEVICE, (uint64_t) ncols * nvec * 4, &x, err);
        if (r >= 0)
                r = vk_buf_alloc(ctx, VK_MEM_DEVICE, (uint64_t) nrows * nvec * 4, &y, err);
        for (uint32_t i = 0; r >= 0 && i < nrows; i++)
                r = vk_upload(ctx, vk_view_sub(w->view, (uint64_t) i * rb, rb), q, rb, err);
        for (uint32_t t = 0; r >= 0 && t < nvec; t++)
                r = vk_upload(ctx, vk_view_sub(x->view, (uint64_t) t * ncols * 4, (uint64_t) ncols * 4), row,
                              (uint64_t) ncols * 4, err);
        if (r >= 0)
                r = vk_seq_create(ctx, &s, err);
        if (r >= 0)
                r = vk_seq_begin(s, err);
        struct op_weight wt = {w ? w->view : (struct vk_view){0}, type, ncols, nrows};
        for (uint32_t i = 0; r >= 0 && i < reps; i++)
                r = op_matvec_batch(s, &wt, x->view, y->view, nvec, err);
        if (r >= 0)
                r = vk_seq_end(s, err);
        if (r >= 0)
                r = vk_seq_run(s, err);
        double t0 = now_s();
        if (r >= 0)
                r = vk_seq_run(s, err);
        double dt = now_s() - t0;
        vk_seq_destroy(s);
        vk_buf_free(ctx, w);
        vk_buf_free(ctx, x);
        vk_buf_free(ctx, y);
        free(row);
        free(q);
        if (r < 0)
                return r;
        ret->seconds = dt / reps;
        ret->weight_gbps = dt > 0 ? (double) total * reps / dt / 1e9 : 0;
        return 0;
}
