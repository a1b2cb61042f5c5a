/* The CPU reference forward pass, top to bottom:
 *
 *   x = token_embd[token]
 *   for each layer:
 *       x = x + attention(rmsnorm(x) * attn_norm)      (GQA, or MLA for deepseek2)
 *       x = x + ffn(rmsnorm(x) * ffn_norm)              (SwiGLU, or MoE)
 *   logits = output * (rmsnorm(x) * output_norm)
 *
 * This file has the state, the pass itself and llama/qwen2's attention;
 * ref-mla.c has deepseek2's attention, ref-moe.c the experts. */
#include "model/ref-internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ---- State ---- */

static float **alloc_cache(uint32_t n_layer, size_t n_per_layer) {
        float **c = calloc(n_layer, sizeof(*c));
        if (!c)
                return NULL;
        for (uint32_t il = 0; il < n_layer; il++)
                if (!(c[il] = ref_alloc(n_per_layer))) {
                        for (uint32_t j = 0; j < il; j++)
                                free(c[j]);
                        free(c);
                        return NULL;
                }
        return c;
}

static void free_cache(float **c, uint32_t n_layer) {
        if (!c)
                return;
        for (uint32_t il = 0; il < n_layer; il++)
                free(c[il]);
        free(c);
}

int ref_state_new(const struct model *m, uint32_t n_ctx, enum ref_mla_form form, struct ref_state **ret,
                  struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        if (n_ctx == 0)
                return err_set(err, -EINVAL, "n_ctx must be > 0");

        struct ref_state *s = calloc(1, sizeof(*s));
        if (!s)
                return err_set(err, -ENOMEM, "out of memory");
        s->m = m;
        s->n_ctx = n_ctx;
        s->mla_form = form;

        int r = 0;
        if (m->rope_freqs && (r = ref_tensor(m->rope_freqs, &s->freq_factors, err)) < 0)
                goto fail;
        if (hp->arch == MODEL_ARCH_DEEPSEEK2) {
                s->kv_cmpr = alloc_cache(hp->n_layer, (size_t) n_ctx * hp->kv_lora_rank);
                s->k_pe = alloc_cache(hp->n_layer, (size_t) n_ctx * hp->qk_rope);
                if (!s->kv_cmpr || !s->k_pe)
                        goto oom;
        } else {
                s->k = alloc_cache(hp->n_layer, (size_t) n_ctx * hp->n_head_kv * hp->head_dim_k);
                s->v = alloc_cache(hp->n_layer, (size_t) n_ctx * hp->n_head_kv * hp->head_dim_v);
                if (!s->k || !s->v)
                        goto oom;
        }
        *ret = s;
        return 0;
oom:
        r = err_set(err, -ENOMEM, "out of memory for a KV cache of %u positions", n_ctx);
fail:
        ref_state_free(s);
        return r;
}

struct ref_state *ref_state_free(struct ref_state *s) {
        if (!s)
                return NULL;
        uint32_t n_layer = s->m->hp.n_layer;
        free_cache(s->k, n_layer);
        free_cache(s->v, n_layer);
        free_cache(s->kv_cmpr, n_layer);
        free_cache(s->k_pe, n_layer);
        free(s->freq_factors);
        free(s);
        return NULL;
}

void ref_state_set_trace(struct ref_state *s, ref_trace_fn fn, void *userdata) {
        s->trace = fn;
        s->trace_data = userdata;
}

/* ---- llama / qwen2 attention ---- */

int ref_attn_gqa(const struct model *m, struct ref_state *s, uint32_t il, const float *h, size_t n_tok,
                 uint32_t pos0, float *out, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const struct model_layer *l = &m->layers[il];
        const uint32_t n_head = hp->n_head, n_kv = hp->n_head_kv;
        const uint32_t dk = hp->head_dim_k, dv = hp->head_dim_v;
        const uint32_t group = n_head / n_kv; /* query heads per key/value head */
        const size_t k_width = (size_t) n_kv * dk, v_width = (size_t) n_kv * dv;
        int r;

        _cleanup_free_ float *q = ref_alloc(n_tok * n_head * dk);
        _cleanup_free_ float *k = ref_alloc(n_tok * k_width);
        _cleanup_free_ float *v = ref_alloc(n_tok * v_width);
        _cleanup_free_ float *kqv = ref_alloc(n_tok * n_head * dv);
        _cleanup_free_ double *score = calloc((size_t) pos0 + n_tok, sizeof(double));
        if (!q || !k || !v || !kqv || !score)
                return err_set(err, -ENOMEM, "out of memory");

        /* q, k, v projections (+ biases for qwen2) */
        if ((r = ref_matmul(l->wq, 0, h, n_tok, q, err)) < 0 || (r = ref_add_bias(l->bq, q, n_tok, err)) < 0 ||
            (r = ref_matmul(l->wk, 0, h, n_tok, k, err)) < 0 || (r = ref_add_bias(l->bk, k, n_tok, err)) < 0 ||
            (r = ref_matmul(l->wv, 0, h, n_tok, v, err)) < 0 || (r = ref_add_bias(l->bv, v, n_tok, err)) < 0)
                return r;

        /* rope on q and k at each token's position; k and v into the cache */
        for (size_t t = 0; t < n_tok; t++) {
                ref_rope(&hp->rope, s->freq_factors, q + t * n_head * dk, n_head, dk, pos0 + t);
                ref_rope(&hp->rope, s->freq_factors, k + t * k_width, n_kv, dk, pos0 + t);
                memcpy(s->k[il] + (pos0 + t) * k_width, k + t * k_width, k_width * sizeof(float));
                memcpy(s->v[il] + (pos0 + t) * v_width, v + t * v_width, v_width * sizeof(float));
        }
        ref_trace(s, "q", il, q, n_tok, (size_t) n_head * dk);

        /* causal attention: token t sees positions 0 .. pos0+t; query head
         * hh reads key/value head hh / group */
        for (size_t t = 0; t < n_tok; t++) {
                const size_t n_keys = pos0 + t + 1;
                for (uint32_t hh = 0; hh < n_head; hh++) {
                        const float *qh = q + (t * n_head + hh) * dk;
                        const uint32_t kvh = hh / group;
                        for (size_t p = 0; p < n_keys; p++) {
                                const float *kp = s->k[il] + p * k_width + (size_t) kvh * dk;
                                double dot = 0;
                                for (uint32_t d = 0; d < dk; d++)
                                        dot += (double) qh[d] * kp[d];
                                score[p] = dot * hp->kq_scale;
                        }
                        ref_softmax(score, n_keys);
                        float *oh = kqv + (t * n_head + hh) * dv;
                        for (uint32_t d = 0; d < dv; d++) {
                                double sum = 0;
                                for (size_t p = 0; p < n_keys; p++)
                                        sum += score[p] * s->v[il][p * v_width + (size_t) kvh * dv + d];
                                oh[d] = (float) sum;
                        }
                }
        }
        ref_trace(s, "kqv_out", il, kqv, n_tok, (size_t) n_head * dv);

        /* output projection */
        if ((r = ref_matmul(l->wo, 0, kqv, n_tok, out, err)) < 0 || (r = ref_add_bias(l->bo, out, n_tok, err)) < 0)
                return r;
        return 0;
}

/* ---- The forward pass ---- */

static void add_rows(float *x, const float *y, size_t n) {
        for (size_t i = 0; i < n; i++)
                x[i] += y[i];
}

int ref_forward(const struct model *m, const int32_t *tokens, size_t n_tokens, uint32_t start_pos,
                struct ref_state *s, float *ret_logits, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const size_t n_embd = hp->n_embd;
        int r;

        if (s->m != m)
                return err_set(err, -EINVAL, "the reference state belongs to another model");
        if (n_tokens == 0)
                return err_set(err, -EINVAL, "no tokens");
        if ((uint64_t) start_pos + n_tokens > s->n_ctx)
                return err_set(err, -EINVAL, "positions %u..%llu do not fit a context of %u", start_pos,
                               (unsigned long long) (start_pos + n_tokens - 1), s->n_ctx);
        for (size_t t = 0; t < n_tokens; t++)
                if (tokens[t] < 0 || (uint32_t) tokens[t] >= hp->n_vocab)
                        return err_set(err, -EINVAL, "token %d at index %zu is outside the vocabulary of %u",
                                       tokens[t], t, hp->n_vocab);

        _cleanup_free_ float *x = ref_alloc(n_tokens * n_embd);   /* the residual stream */
        _cleanup_free_ float *h = ref_alloc(n_tokens * n_embd);   /* normed input of a block */
        _cleanup_free_ float *out = ref_alloc(n_tokens * n_embd); /* output of a block */
        if (!x || !h || !out)
                return err_set(err, -ENOMEM, "out of memory");

        /* 1. token embeddings */
        for (size_t t = 0; t < n_tokens; t++)
                if ((r = ref_row(m->tok_embd, (uint64_t) tokens[t], x + t * n_embd, err)) < 0)
                        return r;
        ref_trace(s, "inp_embd", -1, x, n_tokens, n_embd);

        for (uint32_t il = 0; il < hp->n_layer; il++) {
                const struct model_layer *l = &m->layers[il];

                /* 2. attention block: x += attention(norm(x)) */
                if ((r = ref_norm(l->attn_norm, hp->rms_eps, x, n_tokens, n_embd, h, err)) < 0)
                        return r;
                ref_trace(s, "attn_norm", il, h, n_tokens, n_embd);
                if (hp->arch == MODEL_ARCH_DEEPSEEK2)
                        r = ref_attn_mla(m, s, il, h, n_tokens, start_pos, out, err);
                else
                        r = ref_attn_gqa(m, s, il, h, n_tokens, start_pos, out, err);
                if (r < 0)
                        return r;
                ref_trace(s, "attn_out", il, out, n_tokens, n_embd);
                add_rows(x, out, n_tokens * n_embd);
                ref_trace(s, "ffn_inp", il, x, n_tokens, n_embd);

                /* 3. feed-forward block: x += ffn(norm(x)) */
                if ((r = ref_norm(l->ffn_norm, hp->rms_eps, x, n_tokens, n_embd, h, err)) < 0)
                        return r;
                ref_trace(s, "ffn_norm", il, h, n_tokens, n_embd);
                if (l->is_moe)
                        r = ref_moe(m, s, il, h, n_tokens, out, err);
                else
                        r = ref_ffn(l->ffn_gate, l->ffn_up, l->ffn_down, 0, h, n_tokens, out, err);
                if (r < 0)
                        return r;
                ref_trace(s, "ffn_out", il, out, n_tokens, n_embd);
                add_rows(x, out, n_tokens * n_embd);
                ref_trace(s, "l_out", il, x, n_tokens, n_embd);
        }

        /* 4. final norm and output head */
        if ((r = ref_norm(m->output_norm, hp->rms_eps, x, n_tokens, n_embd, h, err)) < 0)
                return r;
        ref_trace(s, "result_norm", -1, h, n_tokens, n_embd);
        if ((r = ref_matmul(m->output, 0, h, n_tokens, ret_logits, err)) < 0)
                return r;
        ref_trace(s, "result_output", -1, ret_logits, n_tokens, hp->n_vocab);
        return 0;
}
