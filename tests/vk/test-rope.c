/* RoPE against opref_rope (ggml's rope_yarn in double): normal and NeoX
 * layouts, YaRN scaling (DeepSeek's factor 40), rotation of only the first
 * n_dims of each head, and MLA's layout: the rope part at the end of each
 * head of a wider row, rotated in place while the rest stays untouched;
 * Llama 3's per-pair frequency factors.
 * Tolerance (relative L2): 1e-4 (float sin/cos of angles up to ~4000 rad
 * after range reduction). */
#include "vk-test.h"

#define TOL 1e-4

static void run_case(struct vk_ctx *ctx, struct test_rng *rng, struct op_rope p, uint32_t x_len, bool in_place,
                     int32_t max_pos, bool freq_factors) {
        float ff[256];
        for (uint32_t i = 0; i < p.n_dims / 2; i++) /* Llama 3 style: 1 for high frequencies, up to 8 */
                ff[i] = i < p.n_dims / 8 ? 1.0f : 1.0f + 7.0f * (float) i / (float) (p.n_dims / 2);
        int32_t *pos = malloc(p.n_tokens * 4);
        for (uint32_t t = 0; t < p.n_tokens; t++)
                pos[t] = (int32_t) (test_rng_next(rng) % (uint64_t) max_pos);
        pos[0] = 0;
        float *x = malloc(x_len * 4), *y = malloc(x_len * 4), *ref = malloc(x_len * 4);
        test_fill(rng, x, x_len, 1.0f);
        memcpy(ref, x, x_len * 4); /* elements the rope does not touch keep x's value */
        struct vk_buf *bx = test_buf(ctx, x, x_len * 4ull), *bp = test_buf(ctx, pos, p.n_tokens * 4ull);
        struct vk_buf *by = in_place ? bx : test_buf(ctx, x, x_len * 4ull), *bf = test_buf(ctx, ff, sizeof(ff));
        struct vk_view none = {VK_NULL_HANDLE, 0, 0};
        struct vk_seq *s = test_seq(ctx);
        CHECK_OK(op_rope(s, &p, bx->view, bp->view, freq_factors ? bf->view : none, by->view, &test_err), test_err);
        test_seq_run(s);
        test_read(ctx, by, y, x_len * 4ull);
        opref_rope(&p, x, pos, freq_factors ? ff : NULL, ref);
        char what[128];
        snprintf(what, sizeof(what), "rope %s n_dims %u head_dim %u heads %u tokens %u ext %g%s%s",
                 p.mode == OP_ROPE_NEOX ? "neox" : "normal", p.n_dims, p.head_dim, p.n_heads, p.n_tokens,
                 p.ext_factor, in_place ? " in place" : "", freq_factors ? " freq factors" : "");
        test_close(what, y, ref, x_len, TOL);
        /* The other layout, or no YaRN, or no freq factors, must not pass. */
        struct op_rope q = p;
        q.mode = p.mode == OP_ROPE_NEOX ? OP_ROPE_NORMAL : OP_ROPE_NEOX;
        if (p.ext_factor != 0)
                q = p, q.ext_factor = 0;
        if (freq_factors)
                q = p;
        memcpy(ref, x, x_len * 4);
        opref_rope(&q, x, pos, NULL, ref);
        CHECK(rel_l2(y, ref, x_len) > TOL, "%s: passes as a different rope", what);
        vk_seq_destroy(s);
        vk_buf_free(ctx, bx);
        vk_buf_free(ctx, bp);
        vk_buf_free(ctx, bf);
        if (!in_place)
                vk_buf_free(ctx, by);
        free(pos);
        free(x);
        free(y);
        free(ref);
}

static struct op_rope basic(enum op_rope_mode mode, uint32_t n_dims, uint32_t head_dim, uint32_t n_heads,
                            uint32_t n_tokens, float base) {
        return (struct op_rope){
                .n_dims = n_dims, .head_dim = head_dim, .n_heads = n_heads, .n_tokens = n_tokens, .mode = mode,
                .freq_base = base, .freq_scale = 1.0f, .ext_factor = 0.0f, .attn_factor = 1.0f,
                .beta_fast = 32.0f, .beta_slow = 1.0f, .n_ctx_orig = 4096,
        };
}

int main(void) {
        struct test_rng rng = {0x0e0e};
        struct vk_ctx *ctx = test_ctx(NULL);
        struct op_rope p;

        p = basic(OP_ROPE_NORMAL, 64, 64, 4, 5, 10000.0f);
        run_case(ctx, &rng, p, 64 * 4 * 5, false, 4096, false);
        p = basic(OP_ROPE_NEOX, 128, 128, 3, 7, 1e6f);
        run_case(ctx, &rng, p, 128 * 3 * 7, false, 4096, false);
        p = basic(OP_ROPE_NORMAL, 6, 6, 1, 3, 10000.0f);
        run_case(ctx, &rng, p, 6 * 3, true, 50, false);
        /* Part of each head rotated, the rest copied. */
        p = basic(OP_ROPE_NEOX, 32, 48, 5, 3, 10000.0f);
        run_case(ctx, &rng, p, 48 * 5 * 3, false, 1000, false);
        p = basic(OP_ROPE_NORMAL, 32, 48, 5, 3, 10000.0f);
        run_case(ctx, &rng, p, 48 * 5 * 3, true, 1000, false);
        /* YaRN as DeepSeek V2 uses it (factor 40, original context 4096). */
        p = basic(OP_ROPE_NORMAL, 64, 64, 16, 9, 10000.0f);
        p.freq_scale = 1.0f / 40;
        p.ext_factor = 1.0f;
        p.attn_factor = 1.0f / (1.0f + 0.1f * logf(40.0f));
        run_case(ctx, &rng, p, 64 * 16 * 9, false, 4000, false);
        p.mode = OP_ROPE_NEOX;
        run_case(ctx, &rng, p, 64 * 16 * 9, false, 4000, false);
        /* MLA: 3 heads of 192 = 128 without rope + 64 with, in place. */
        p = basic(OP_ROPE_NORMAL, 64, 64, 3, 4, 10000.0f);
        p.freq_scale = 1.0f / 40;
        p.ext_factor = 1.0f;
        p.x_off = p.y_off = 128;
        p.x_hs = p.y_hs = 192;
        p.x_ts = p.y_ts = 192 * 3;
        run_case(ctx, &rng, p, 192 * 3 * 4, true, 3000, false);

        /* Llama 3 frequency factors, both layouts. */
        p = basic(OP_ROPE_NORMAL, 128, 128, 2, 5, 500000.0f);
        run_case(ctx, &rng, p, 128 * 2 * 5, false, 4000, true);
        p.mode = OP_ROPE_NEOX;
        run_case(ctx, &rng, p, 128 * 2 * 5, true, 4000, true);

        /* Invalid shapes are refused. */
        struct vk_seq *s = test_seq(ctx);
        struct vk_buf *b = test_buf(ctx, NULL, 1024);
        p = basic(OP_ROPE_NORMAL, 66, 64, 1, 1, 10000.0f);
        struct vk_view none = {VK_NULL_HANDLE, 0, 0};
        CHECK(op_rope(s, &p, b->view, b->view, none, b->view, &test_err) == -EINVAL, "n_dims > head_dim accepted");
        p = basic(OP_ROPE_NORMAL, 64, 64, 8, 1, 10000.0f);
        CHECK(op_rope(s, &p, b->view, b->view, none, b->view, &test_err) == -EINVAL, "x too small accepted");
        vk_seq_destroy(s);
        vk_buf_free(ctx, b);
        test_ctx_done(ctx);
        return test_exit("test-rope");
}
