/* Helpers of the forward-pass tests: a Vulkan runner over a tiny model and
 * the CPU reference beside it. */
#pragma once

#include "forward/forward.h"
#include "model/ref.h"
#include "tiny-models.h"
#include "vk/vk-test.h"

/* Loads a variant (type: weight type; n_embd: 0 or a width to use instead,
 * e.g. 256 so that K-quant blocks fit the rows) or fails the test. */
static inline int fwd_test_model_embd(const char *variant, uint32_t type, uint32_t n_embd, struct tiny_model *tm) {
        struct tiny_model_opts o;
        int r = tiny_model_variant(variant, &o);
        if (r < 0) {
                CHECK(0, "unknown variant %s", variant);
                return r;
        }
        o.type = type;
        if (n_embd)
                o.n_embd = n_embd;
        r = tiny_model_load(&o, tm, &test_err);
        CHECK_OK(r, test_err);
        return r;
}

static inline int fwd_test_model(const char *variant, uint32_t type, struct tiny_model *tm) {
        return fwd_test_model_embd(variant, type, 0, tm);
}

/* kv: RUNNER_KV_F32 where the forward must match the reference closely. */
static inline struct runner *fwd_test_runner(struct vk_ctx *ctx, const struct model *m, uint32_t n_ctx,
                                             uint32_t max_seqs, enum runner_kv_type kv) {
        struct runner *rn = NULL;
        int r = runner_vk_new_opts(ctx, m, n_ctx, max_seqs, &(struct runner_vk_opts){.kv_type = kv}, &rn, &test_err);
        CHECK_OK(r, test_err);
        return r < 0 ? NULL : rn;
}

static inline int fwd_test_step1(struct runner *rn, uint32_t seq, const int32_t *tokens, uint32_t n, uint32_t pos,
                                 float *logits) {
        struct runner_item it = {.seq = seq, .tokens = tokens, .n_tokens = n, .pos = pos, .want_logits = logits != NULL};
        int r = rn->ops->step(rn, &it, 1, logits, &test_err);
        CHECK_OK(r, test_err);
        return r;
}
