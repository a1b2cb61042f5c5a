/* The reference's KV cache: decoding token by token, or in uneven chunks,
 * gives the logits of one prefill over the same 25 tokens, for every
 * architecture and variant; bad calls are refused. */
#include <string.h>

#include "harness.h"
#include "model/ref.h"
#include "tiny-models.h"

#define N_TOKENS 25

struct variant {
        const char *name;
        enum tiny_arch arch;
        uint32_t type;
        void (*setup)(struct tiny_model_opts *o);
};

static void none(struct tiny_model_opts *o) {
        (void) o;
}
static void v3_yarn(struct tiny_model_opts *o) {
        o->sigmoid = true;
        o->weights_norm = true;
        o->weights_scale = 2.5f;
        o->n_groups = 2;
        o->n_groups_used = 1;
        o->yarn = true;
        o->yarn_orig_ctx = 8;
}
static void v2_lite_combined(struct tiny_model_opts *o) {
        o->q_lora_rank = 0;
        o->kv_b = TINY_KV_B_COMBINED;
        o->nextn = 1;
        o->nextn_tensors = true;
}
static void llama_rope_freqs(struct tiny_model_opts *o) {
        o->rope_freqs = true;
        o->yarn = true;
}
static void qwen2_tied_mha(struct tiny_model_opts *o) {
        o->tied_output = true;
        o->n_head_kv = 4;
}

static const struct variant variants[] = {
        {"deepseek2-v3-yarn", TINY_DEEPSEEK2, GGML_TYPE_F32, v3_yarn},
        {"deepseek2-v2-lite-combined-nextn", TINY_DEEPSEEK2, GGML_TYPE_F32, v2_lite_combined},
        {"deepseek2-q8_0", TINY_DEEPSEEK2, GGML_TYPE_Q8_0, none},
        {"llama", TINY_LLAMA, GGML_TYPE_F32, none},
        {"llama-rope-freqs-yarn", TINY_LLAMA, GGML_TYPE_F16, llama_rope_freqs},
        {"qwen2", TINY_QWEN2, GGML_TYPE_F32, none},
        {"qwen2-tied-mha-q4_0", TINY_QWEN2, GGML_TYPE_Q4_0, qwen2_tied_mha},
};

/* Runs tokens in chunks of the given sizes (summing to N_TOKENS) through a
 * fresh state; logits of all tokens into out. */
static int run_chunks(const struct model *m, enum ref_mla_form form, const int32_t *tokens, const size_t *chunks,
                      float *out) {
        struct ref_state *s = NULL;
        struct vkinfer_err err = {0};
        int r = ref_state_new(m, N_TOKENS, form, &s, &err);
        CHECK_OK(r, err);
        size_t pos = 0;
        for (size_t i = 0; r >= 0 && pos < N_TOKENS; i++) {
                r = ref_forward(m, tokens + pos, chunks[i], (uint32_t) pos, s, out + pos * m->hp.n_vocab, &err);
                CHECK_OK(r, err);
                pos += chunks[i];
        }
        ref_state_free(s);
        return r;
}

static void test_variant(const struct variant *v) {
        struct tiny_model_opts o;
        struct tiny_model t;
        struct vkinfer_err err = {0};
        int32_t tokens[N_TOKENS];
        size_t one_by_one[N_TOKENS], uneven[] = {7, 1, 10, 6, 1}, prefill[] = {N_TOKENS};

        tiny_model_defaults(&o, v->arch);
        o.type = v->type;
        v->setup(&o);
        int r = tiny_model_load(&o, &t, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return;
        for (size_t i = 0; i < N_TOKENS; i++)
                one_by_one[i] = 1;
        tiny_tokens(42, o.n_vocab, tokens, N_TOKENS);

        const size_t n = (size_t) N_TOKENS * t.model->hp.n_vocab;
        const int n_forms = v->arch == TINY_DEEPSEEK2 ? 2 : 1;
        for (int form = 0; form < n_forms; form++) {
                float *full = calloc(n, sizeof(float)), *step = calloc(n, sizeof(float)), *chunk = calloc(n, sizeof(float));
                if (full && step && chunk && run_chunks(t.model, form, tokens, prefill, full) >= 0 &&
                    run_chunks(t.model, form, tokens, one_by_one, step) >= 0 &&
                    run_chunks(t.model, form, tokens, uneven, chunk) >= 0) {
                        double e1 = rel_l2(step, full, n), e2 = rel_l2(chunk, full, n);
                        CHECK(e1 < 1e-6, "%s form %d: token by token vs prefill rel L2 %.3g", v->name, form, e1);
                        CHECK(e2 < 1e-6, "%s form %d: chunks vs prefill rel L2 %.3g", v->name, form, e2);
                        /* the last token's logits depend on the earlier ones */
                        float *last_alone = calloc(t.model->hp.n_vocab, sizeof(float));
                        struct ref_state *s = NULL;
                        if (last_alone && ref_state_new(t.model, 1, form, &s, &err) >= 0 &&
                            ref_forward(t.model, tokens + N_TOKENS - 1, 1, 0, s, last_alone, &err) >= 0)
                                CHECK(rel_l2(last_alone, full + (N_TOKENS - 1) * t.model->hp.n_vocab, t.model->hp.n_vocab) > 1e-3,
                                      "%s: context has no effect", v->name);
                        ref_state_free(s);
                        free(last_alone);
                }
                free(full);
                free(step);
                free(chunk);
        }
        tiny_model_unload(&t);
}

static void test_refusals(void) {
        struct tiny_model_opts o;
        struct tiny_model t, t2;
        struct vkinfer_err err = {0};
        struct ref_state *s = NULL;
        int32_t tokens[4] = {1, 2, 3, 4};
        float logits[4 * 256];

        tiny_model_defaults(&o, TINY_LLAMA);
        if (tiny_model_load(&o, &t, &err) < 0 || tiny_model_load(&o, &t2, &err) < 0) {
                CHECK(0, "load: %s", err.msg);
                return;
        }
        int r = ref_state_new(t.model, 4, REF_MLA_ABSORBED, &s, &err);
        CHECK_OK(r, err);
        if (r >= 0) {
                CHECK(ref_forward(t.model, tokens, 4, 1, s, logits, &err) < 0 && strstr(err.msg, "context"),
                      "positions past n_ctx: %s", err.msg);
                tokens[2] = 256;
                CHECK(ref_forward(t.model, tokens, 4, 0, s, logits, &err) < 0 && strstr(err.msg, "256"),
                      "token out of range: %s", err.msg);
                tokens[2] = -1;
                CHECK(ref_forward(t.model, tokens, 4, 0, s, logits, &err) < 0, "negative token");
                tokens[2] = 3;
                CHECK(ref_forward(t2.model, tokens, 4, 0, s, logits, &err) < 0, "state of another model");
                CHECK(ref_forward(t.model, tokens, 4, 0, s, logits, &err) >= 0, "valid call: %s", err.msg);
        }
        s = ref_state_free(s);
        struct ref_state *s0 = NULL;
        CHECK(ref_state_new(t.model, 0, REF_MLA_ABSORBED, &s0, &err) < 0 && s0 == NULL, "n_ctx 0");
        ref_state_free(NULL);
        tiny_model_unload(&t);
        tiny_model_unload(&t2);
}

/* A longer context: 300 tokens in one prefill, or 200 then 100 one by
 * one, in both MLA forms. */
static void test_long(void) {
        enum { N = 300, SPLIT = 200 };
        struct tiny_model_opts o;
        struct tiny_model t;
        struct vkinfer_err err = {0};
        tiny_model_variant("deepseek2-v3-yarn", &o);
        if (tiny_model_load(&o, &t, &err) < 0) {
                CHECK(0, "%s", err.msg);
                return;
        }
        const uint32_t n_vocab = t.model->hp.n_vocab;
        int32_t *tokens = calloc(N, sizeof(int32_t));
        float *full = calloc((size_t) N * n_vocab, sizeof(float)), *step = calloc((size_t) N * n_vocab, sizeof(float));
        tiny_tokens(77, n_vocab, tokens, N);
        for (int form = 0; form < 2 && tokens && full && step; form++) {
                struct ref_state *a = NULL, *b = NULL;
                int r = ref_state_new(t.model, N, form, &a, &err);
                if (r >= 0)
                        r = ref_state_new(t.model, N, form, &b, &err);
                if (r >= 0)
                        r = ref_forward(t.model, tokens, N, 0, a, full, &err);
                if (r >= 0)
                        r = ref_forward(t.model, tokens, SPLIT, 0, b, step, &err);
                for (uint32_t p = SPLIT; r >= 0 && p < N; p++)
                        r = ref_forward(t.model, tokens + p, 1, p, b, step + (size_t) p * n_vocab, &err);
                CHECK_OK(r, err);
                if (r >= 0) {
                        double e = rel_l2(step, full, (size_t) N * n_vocab);
                        CHECK(e < 1e-6, "form %d: %d tokens, decode vs prefill rel L2 %.3g", form, N, e);
                }
                ref_state_free(a);
                ref_state_free(b);
        }
        free(tokens);
        free(full);
        free(step);
        tiny_model_unload(&t);
}

struct trace_count {
        int calls, kv_cmpr, l_out_last;
        size_t logits_width, logits_rows;
};

static void on_trace(void *userdata, const char *name, int layer, const float *data, size_t n_tokens, size_t width) {
        struct trace_count *c = userdata;
        c->calls++;
        (void) data;
        if (strcmp(name, "kv_cmpr") == 0)
                c->kv_cmpr++;
        if (strcmp(name, "l_out") == 0)
                c->l_out_last = layer;
        if (strcmp(name, "result_output") == 0) {
                c->logits_width = width;
                c->logits_rows = n_tokens;
        }
}

/* The trace callback sees each step, with the shapes it promises. */
static void test_trace(void) {
        const enum tiny_arch arches[] = {TINY_DEEPSEEK2, TINY_QWEN2};
        for (size_t i = 0; i < 2; i++) {
                struct tiny_model_opts o;
                struct tiny_model t;
                struct vkinfer_err err = {0};
                struct ref_state *s = NULL;
                struct trace_count c = {0};
                int32_t tokens[3] = {5, 6, 7};
                float logits[3 * 256];
                tiny_model_defaults(&o, arches[i]);
                if (tiny_model_load(&o, &t, &err) < 0 || ref_state_new(t.model, 3, REF_MLA_ABSORBED, &s, &err) < 0) {
                        CHECK(0, "%s", err.msg);
                        continue;
                }
                ref_state_set_trace(s, on_trace, &c);
                CHECK(ref_forward(t.model, tokens, 3, 0, s, logits, &err) >= 0, "%s", err.msg);
                CHECK(c.kv_cmpr == (i == 0 ? (int) o.n_layer : 0), "kv_cmpr traced %d times", c.kv_cmpr);
                CHECK(c.l_out_last == (int) o.n_layer - 1, "last l_out layer %d", c.l_out_last);
                CHECK(c.logits_width == 256 && c.logits_rows == 3, "result_output %zu x %zu", c.logits_rows, c.logits_width);
                CHECK(c.calls > 10, "%d calls", c.calls);
                ref_state_free(s);
                tiny_model_unload(&t);
        }
}

int main(void) {
        for (size_t i = 0; i < ELEMENTSOF(variants); i++)
                test_variant(&variants[i]);
        test_refusals();
        test_trace();
        test_long();
        return test_exit("test-ref-decode");
}
