/* Timing of the Vulkan forward pass on a tiny model or a GGUF file (not a
 * test): fwd-bench VARIANT|FILE.gguf [PROMPT_TOKENS [DECODE_TOKENS]].
 * Prints prefill and decode tokens/s and the dispatches per step. */
#include <time.h>

#include "forward/forward.h"
#include "forward/fwd-internal.h"
#include "gguf/gguf.h"
#include "tiny-models.h"
#include "vk/vk-test.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
        const char *what = argc > 1 ? argv[1] : "deepseek2-v3";
        uint32_t n_prompt = argc > 2 ? (uint32_t) atoi(argv[2]) : 128, n_decode = argc > 3 ? (uint32_t) atoi(argv[3]) : 64;
        struct vk_ctx *ctx = test_ctx(NULL);
        struct tiny_model tm = {0};
        struct gguf_file *gf = NULL;
        const struct model *m = NULL;
        struct model *lm = NULL;
        int r;
        struct tiny_model_opts o;
        if (tiny_model_variant(what, &o) == 0) {
                if ((r = tiny_model_load(&o, &tm, &test_err)) < 0)
                        goto fail;
                m = tm.model;
        } else {
                if ((r = gguf_open(what, &gf, &test_err)) < 0 || (r = model_load(gf, &lm, &test_err)) < 0)
                        goto fail;
                m = lm;
        }
        uint32_t n_ctx = n_prompt + n_decode;
        struct runner *rn;
        if ((r = runner_vk_new(ctx, m, n_ctx, 1, &rn, &test_err)) < 0)
                goto fail;
        int32_t *tok = calloc(n_ctx, sizeof(int32_t));
        float *logits = malloc(sizeof(float) * m->hp.n_vocab);
        tiny_tokens(1, m->hp.n_vocab, tok, n_ctx);
        uint32_t seq;
        if ((r = rn->ops->seq_open(rn, n_ctx, &seq, &test_err)) < 0)
                goto fail;
        double t0 = now();
        for (uint32_t p = 0; p < n_prompt; p += rn->max_tokens) {
                uint32_t n = n_prompt - p < rn->max_tokens ? n_prompt - p : rn->max_tokens;
                struct runner_item it = {.seq = seq, .tokens = tok + p, .n_tokens = n, .pos = p, .want_logits = true};
                if ((r = rn->ops->step(rn, &it, 1, logits, &test_err)) < 0)
                        goto fail;
        }
        double t1 = now();
        for (uint32_t i = 0; i < n_decode; i++) {
                struct runner_item it = {.seq = seq, .tokens = tok + n_prompt + i, .n_tokens = 1, .pos = n_prompt + i,
                                         .want_logits = true};
                if ((r = rn->ops->step(rn, &it, 1, logits, &test_err)) < 0)
                        goto fail;
        }
        double t2 = now();
        printf("%s on %s: prefill %u tokens %.1f tok/s, decode %u tokens %.1f tok/s, %u dispatches per decode step\n",
               what, rn->ops->device_name(rn), n_prompt, n_prompt / (t1 - t0), n_decode, n_decode / (t2 - t1),
               vk_seq_n_dispatches(((struct fwd *) rn)->seq));
        rn->ops->destroy(rn);
        free(tok);
        free(logits);
        tiny_model_unload(&tm);
        model_free(lm);
        gguf_close(gf);
        vk_ctx_destroy(ctx);
        return 0;
fail:
        fprintf(stderr, "fwd-bench: %s\n", test_err.msg);
        return 1;
}
