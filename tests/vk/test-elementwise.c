/* add, mul (with and without broadcast), scale and SwiGLU against their
 * references at sizes around the 256-wide workgroup. Tolerances (relative
 * L2): add, mul, scale 1e-6; swiglu 1e-5 (exp). */
#include "vk-test.h"

enum kind { ADD, MUL, SCALE, SWIGLU };
static const char *names[] = {"add", "mul", "scale", "swiglu"};

static void run_case(struct vk_ctx *ctx, struct test_rng *rng, enum kind k, uint32_t n, uint32_t nb) {
        float *a = malloc(n * 4), *b = malloc(nb * 4), *y = malloc(n * 4), *ref = malloc(n * 4);
        test_fill(rng, a, n, 6.0f);
        test_fill(rng, b, nb, 2.0f);
        struct vk_buf *ba = test_buf(ctx, a, n * 4), *bb = test_buf(ctx, b, nb * 4), *by = test_buf(ctx, NULL, n * 4);
        struct vk_seq *s = test_seq(ctx);
        int r = -1;
        double tol = 1e-6;
        switch (k) {
        case ADD:
                r = op_add(s, ba->view, bb->view, by->view, n, nb, &test_err);
                ref_add(a, b, ref, n, nb);
                break;
        case MUL:
                r = op_mul(s, ba->view, bb->view, by->view, n, nb, &test_err);
                ref_mul(a, b, ref, n, nb);
                break;
        case SCALE:
                r = op_scale(s, ba->view, by->view, n, -0.37f, &test_err);
                ref_scale(a, ref, n, -0.37f);
                break;
        case SWIGLU:
                r = op_swiglu(s, ba->view, bb->view, by->view, n, &test_err);
                ref_swiglu(a, b, ref, n);
                tol = 1e-5;
                break;
        }
        CHECK_OK(r, test_err);
        test_seq_run(s);
        test_read(ctx, by, y, n * 4);
        char what[64];
        snprintf(what, sizeof(what), "%s n %u nb %u", names[k], n, nb);
        test_close(what, y, ref, n, tol);
        /* Another op's result must not pass. */
        float *other = malloc(n * 4);
        if (k == ADD)
                ref_mul(a, b, other, n, nb);
        else
                ref_add(a, b, other, n, nb);
        CHECK(rel_l2(y, other, n) > tol, "%s: passes as another op", what);
        free(other);
        vk_seq_destroy(s);
        vk_buf_free(ctx, ba);
        vk_buf_free(ctx, bb);
        vk_buf_free(ctx, by);
        free(a);
        free(b);
        free(y);
        free(ref);
}

int main(void) {
        struct test_rng rng = {0xe1e};
        struct vk_ctx *ctx = test_ctx(NULL);
        static const uint32_t sizes[] = {1, 255, 256, 257, 10007};
        for (int k = ADD; k <= SWIGLU; k++)
                for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                        run_case(ctx, &rng, (enum kind) k, sizes[i], k == ADD || k == MUL ? sizes[i] : sizes[i]);
        /* Broadcast of a row over many (bias, per-channel scale). */
        run_case(ctx, &rng, ADD, 7 * 129, 129);
        run_case(ctx, &rng, MUL, 5 * 64, 64);
        run_case(ctx, &rng, MUL, 1000, 1);
        test_ctx_done(ctx);
        return test_exit("test-elementwise");
}
