/* Batch invariance, which the daemon's seeded sampling rests on: the
 * logits of a sequence are BITWISE the same whether it runs alone, in one
 * prefill, or in chunks batched with other sequences' prefills and decodes.
 * Also the runner's cache bookkeeping: kv_usage, seq_close, -ENOSPC. */
#include "fwd-test.h"

#include <string.h>

#include "gguf/gguf.h"
#include "kv/kv.h"
#include "push.h" /* shaders/: the kernels' limits */

#define N_CTX 64
#define N_SEQ 4
#define N_DECODE 6

/* Each sequence: a prompt, then N_DECODE fixed tokens one at a time. */
static const uint32_t prompt_len[N_SEQ] = {21, 5, 37, 1};
/* How the batched run cuts each prompt: chunk lengths, in steps. */
static const uint32_t chunks[N_SEQ][4] = {{8, 13}, {5}, {16, 3, 18}, {1}};
static const uint32_t first_step[N_SEQ] = {0, 0, 1, 3};

struct seq_data {
        int32_t tokens[64];
        float *alone;   /* (1 + N_DECODE) rows: after the prompt, after each decode */
        float *batched;
        uint32_t seq, pos, chunk, decoded, step0;
};

static void run_alone(struct runner *rn, struct seq_data *s, uint32_t plen, uint32_t V) {
        uint32_t seq;
        int r = rn->ops->seq_open(rn, plen + N_DECODE, &seq, &test_err);
        CHECK_OK(r, test_err);
        if (r < 0)
                return;
        fwd_test_step1(rn, seq, s->tokens, plen, 0, s->alone);
        for (uint32_t i = 0; i < N_DECODE; i++)
                fwd_test_step1(rn, seq, s->tokens + plen + i, 1, plen + i, s->alone + (size_t) (1 + i) * V);
        rn->ops->seq_close(rn, seq);
}

static void check_variant(struct vk_ctx *ctx, const char *variant) {
        struct tiny_model tm;
        if (fwd_test_model(variant, GGML_TYPE_F32, &tm) < 0)
                return;
        const uint32_t V = tm.model->hp.n_vocab;
        struct runner *rn = fwd_test_runner(ctx, tm.model, N_CTX, N_SEQ, RUNNER_KV_AUTO);
        struct seq_data sd[N_SEQ];
        float *logits = malloc(sizeof(float) * V * N_SEQ);
        memset(sd, 0, sizeof(sd));
        if (!rn || !logits)
                goto out;
        for (uint32_t i = 0; i < N_SEQ; i++) {
                tiny_tokens(100 + i, V, sd[i].tokens, prompt_len[i] + N_DECODE);
                sd[i].alone = calloc((size_t) (1 + N_DECODE) * V, sizeof(float));
                sd[i].batched = calloc((size_t) (1 + N_DECODE) * V, sizeof(float));
                run_alone(rn, &sd[i], prompt_len[i], V);
        }
        uint64_t used, total;
        rn->ops->kv_usage(rn, &used, &total);
        CHECK(used == 0, "%s: %llu blocks still used after closing every sequence", variant, (unsigned long long) used);

        /* Batched: each step takes the next chunk or decode token of every
         * sequence that has started, in a rotating order. */
        for (uint32_t i = 0; i < N_SEQ; i++) {
                int r = rn->ops->seq_open(rn, prompt_len[i] + N_DECODE, &sd[i].seq, &test_err);
                CHECK_OK(r, test_err);
        }
        for (uint32_t step = 0; step < 16; step++) {
                struct runner_item items[N_SEQ];
                uint32_t who[N_SEQ], n = 0, row[N_SEQ];
                for (uint32_t k = 0; k < N_SEQ; k++) {
                        uint32_t i = (k + step) % N_SEQ;
                        struct seq_data *s = &sd[i];
                        if (step < first_step[i] || s->decoded == N_DECODE)
                                continue;
                        struct runner_item *it = &items[n];
                        *it = (struct runner_item){0};
                        it->seq = s->seq;
                        it->pos = s->pos;
                        it->tokens = s->tokens + s->pos;
                        if (s->pos < prompt_len[i]) {
                                it->n_tokens = chunks[i][s->chunk++];
                                it->want_logits = s->pos + it->n_tokens == prompt_len[i];
                                row[n] = 0;
                        } else {
                                it->n_tokens = 1;
                                it->want_logits = true;
                                row[n] = 1 + s->decoded++;
                        }
                        s->pos += it->n_tokens;
                        who[n++] = i;
                }
                if (n == 0)
                        break;
                int r = rn->ops->step(rn, items, n, logits, &test_err);
                CHECK_OK(r, test_err);
                if (r < 0)
                        break;
                uint32_t l = 0;
                for (uint32_t k = 0; k < n; k++)
                        if (items[k].want_logits)
                                memcpy(sd[who[k]].batched + (size_t) row[k] * V, logits + (size_t) l++ * V, V * sizeof(float));
        }
        for (uint32_t i = 0; i < N_SEQ; i++) {
                CHECK(sd[i].decoded == N_DECODE, "%s: sequence %u ran %u decodes", variant, i, sd[i].decoded);
                for (uint32_t j = 0; j <= N_DECODE; j++) {
                        const float *a = sd[i].alone + (size_t) j * V, *b = sd[i].batched + (size_t) j * V;
                        CHECK(memcmp(a, b, V * sizeof(float)) == 0,
                              "%s: sequence %u row %u differs batched (rel L2 %.3g)", variant, i, j, rel_l2(b, a, V));
                }
                /* the rows are real logits, not zeros */
                CHECK(rel_l2(sd[i].alone, sd[i].alone + V, V) > 1e-3, "%s: sequence %u logits change", variant, i);
                rn->ops->seq_close(rn, sd[i].seq);
        }
        /* One sequence as several items of one step (a prompt, then each
         * following token as its own item wanting logits, as perplexity
         * scoring does): the rows of the sequence run alone. */
        {
                struct seq_data *s = &sd[0];
                struct runner_item items[1 + N_DECODE];
                uint32_t seq;
                CHECK_OK(rn->ops->seq_open(rn, prompt_len[0] + N_DECODE, &seq, &test_err), test_err);
                items[0] = (struct runner_item) {.seq = seq, .tokens = s->tokens, .n_tokens = prompt_len[0], .want_logits = true};
                for (uint32_t j = 0; j < N_DECODE; j++)
                        items[1 + j] = (struct runner_item) {
                                .seq = seq, .tokens = s->tokens + prompt_len[0] + j, .n_tokens = 1,
                                .pos = prompt_len[0] + j, .want_logits = true,
                        };
                float *rows = malloc(sizeof(float) * V * (1 + N_DECODE));
                int r = rn->ops->step(rn, items, 1 + N_DECODE, rows, &test_err);
                CHECK_OK(r, test_err);
                /* row j predicts after token prompt_len + j - 1: alone row j */
                for (uint32_t j = 0; r >= 0 && j <= N_DECODE; j++)
                        CHECK(memcmp(rows + (size_t) j * V, s->alone + (size_t) j * V, V * sizeof(float)) == 0,
                              "%s: one sequence as items, row %u differs", variant, j);
                free(rows);
                rn->ops->seq_close(rn, seq);
        }
        rn->ops->kv_usage(rn, &used, &total);
        CHECK(used == 0 && total == N_SEQ * ((N_CTX + KV_BLOCK_TOKENS - 1) / KV_BLOCK_TOKENS),
              "%s: after closing: %llu of %llu", variant, (unsigned long long) used, (unsigned long long) total);
out:
        for (uint32_t i = 0; i < N_SEQ; i++) {
                free(sd[i].alone);
                free(sd[i].batched);
        }
        free(logits);
        if (rn)
                rn->ops->destroy(rn);
        tiny_model_unload(&tm);
}

/* Reservations by whole blocks; -ENOSPC when the blocks or the sequence
 * slots run out; blocks back on close; steps past a sequence's
 * reservation refused. */
static void check_cache(struct vk_ctx *ctx) {
        struct tiny_model tm;
        if (fwd_test_model("qwen2", GGML_TYPE_F32, &tm) < 0)
                return;
        /* 3 sequences of up to 32 positions sharing 3 blocks, 17 tokens a step */
        struct runner_vk_opts opts = {.kv_tokens = 3 * KV_BLOCK_TOKENS, .max_tokens = 17};
        struct runner *rn = NULL;
        uint32_t a, b, c, d;
        uint64_t used, total;
        int r = runner_vk_new_opts(ctx, tm.model, 32, 3, &opts, &rn, &test_err);
        CHECK_OK(r, test_err);
        if (r < 0)
                goto out;
        CHECK(rn->ops->seq_open(rn, 33, &a, &test_err) == -EINVAL, "a sequence over n_ctx is refused");
        CHECK_OK(rn->ops->seq_open(rn, 17, &a, &test_err), test_err);
        rn->ops->kv_usage(rn, &used, &total);
        CHECK(used == 2 && total == 3, "17 tokens: %llu of %llu blocks", (unsigned long long) used,
              (unsigned long long) total);
        CHECK(rn->ops->seq_open(rn, 32, &b, &test_err) == -ENOSPC, "2 blocks of 1 free: -ENOSPC");
        CHECK_OK(rn->ops->seq_open(rn, KV_BLOCK_TOKENS, &b, &test_err), test_err);
        CHECK(rn->ops->seq_open(rn, 1, &c, &test_err) == -ENOSPC, "no block free: -ENOSPC");
        int32_t tok[18] = {0};
        float *lg = malloc(sizeof(float) * tm.model->hp.n_vocab);
        struct runner_item it = {.seq = a, .tokens = tok, .n_tokens = 18, .pos = 15, .want_logits = true};
        CHECK(rn->ops->step(rn, &it, 1, lg, &test_err) == -EINVAL, "positions past the reservation refused");
        it.pos = 0;
        CHECK(rn->ops->step(rn, &it, 1, lg, &test_err) == -E2BIG, "18 tokens in a step of at most 17");
        it.n_tokens = 17;
        tok[3] = (int32_t) tm.model->hp.n_vocab;
        CHECK(rn->ops->step(rn, &it, 1, lg, &test_err) == -EINVAL && strstr(test_err.msg, "vocabulary"),
              "a token outside the vocabulary refused: %s", test_err.msg);
        tok[3] = 0;
        it.seq = 2;
        CHECK(rn->ops->step(rn, &it, 1, lg, &test_err) == -EINVAL, "a sequence not open refused");
        it.seq = a;
        CHECK_OK(rn->ops->step(rn, &it, 1, lg, &test_err), test_err);
        free(lg);
        rn->ops->seq_close(rn, a);
        rn->ops->kv_usage(rn, &used, &total);
        CHECK(used == 1, "after close: %llu", (unsigned long long) used);
        CHECK_OK(rn->ops->seq_open(rn, 1, &c, &test_err), test_err);
        CHECK_OK(rn->ops->seq_open(rn, 1, &d, &test_err), test_err);
        CHECK(rn->ops->seq_open(rn, 1, &a, &test_err) == -ENOSPC, "every sequence slot open: -ENOSPC");
        rn->ops->seq_close(rn, b);
        rn->ops->seq_close(rn, c);
        rn->ops->seq_close(rn, d);
        rn->ops->kv_usage(rn, &used, &total);
        CHECK(used == 0, "all closed: %llu", (unsigned long long) used);
out:
        if (rn)
                rn->ops->destroy(rn);
        tiny_model_unload(&tm);
}

/* Arguments NAME=VALUE go into the environment before the device is
 * opened (LP_NATIVE_VECTOR_WIDTH=128: lavapipe with subgroups of 4). */
/* Shapes the kernels cannot hold are refused at creation, by name. */
static void check_refusals(struct vk_ctx *ctx) {
        struct tiny_model_opts o;
        struct tiny_model tm;
        struct runner *rn = NULL;
        tiny_model_variant("deepseek2-v3", &o);
        o.kv_lora_rank = 1024; /* + qk_rope 16: keys of 1040 */
        if (tiny_model_load(&o, &tm, &test_err) >= 0) {
                int r = runner_vk_new(ctx, tm.model, 32, 1, &rn, &test_err);
                CHECK(r == -EOPNOTSUPP && strstr(test_err.msg, "1040"), "keys of 1040: %d %s", r, test_err.msg);
                tiny_model_unload(&tm);
        } else
                CHECK(0, "%s", test_err.msg);
        tiny_model_variant("deepseek2-nogroups-nextn", &o);
        o.n_expert = MOE_MAX_EXPERT + 4;
        if (tiny_model_load(&o, &tm, &test_err) >= 0) {
                int r = runner_vk_new(ctx, tm.model, 32, 1, &rn, &test_err);
                CHECK(r == -EOPNOTSUPP && strstr(test_err.msg, "260 experts"), "260 experts: %d %s", r, test_err.msg);
                tiny_model_unload(&tm);
        } else
                CHECK(0, "%s", test_err.msg);
}

int main(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                putenv(argv[i]);
        struct vk_ctx *ctx = test_ctx(NULL);
        for (size_t i = 0; tiny_model_variants[i]; i++)
                check_variant(ctx, tiny_model_variants[i]);
        check_cache(ctx);
        check_refusals(ctx);
        test_ctx_done(ctx);
        return test_exit("forward-batch");
}
