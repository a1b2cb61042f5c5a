/* llama / qwen2 in the CPU reference against a second, naive
 * implementation written here from the Hugging Face formulation: rope as a
 * complex rotation, grouped-query attention by repeating each key/value
 * head for its n_head/n_head_kv query heads, a full causal mask. F32
 * models, so both read the same numbers. */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "harness.h"
#include "model/ref.h"
#include "tiny-models.h"

#define N_TOKENS 21

/* The F32 values of a tensor, or NULL. */
static const float *f32(const struct gguf_tensor *t) {
        return t ? (const float *) t->data : NULL;
}

/* y (T, n_out) = x (T, n_in) W^T + b */
static void linear(const struct gguf_tensor *w, const struct gguf_tensor *b, const double *x, size_t T, double *y) {
        const size_t n_in = w->ne[0], n_out = w->ne[1];
        const float *W = f32(w), *B = f32(b);
        for (size_t t = 0; t < T; t++)
                for (size_t o = 0; o < n_out; o++) {
                        double s = B ? B[o] : 0.0;
                        for (size_t i = 0; i < n_in; i++)
                                s += W[o * n_in + i] * x[t * n_in + i];
                        y[t * n_out + o] = s;
                }
}

static void rmsnorm(const struct gguf_tensor *w, double eps, const double *x, size_t T, size_t n, double *y) {
        for (size_t t = 0; t < T; t++) {
                double ms = 0;
                for (size_t i = 0; i < n; i++)
                        ms += x[t * n + i] * x[t * n + i] / n;
                for (size_t i = 0; i < n; i++)
                        y[t * n + i] = x[t * n + i] / sqrt(ms + eps) * f32(w)[i];
        }
}

/* YaRN as Hugging Face's _compute_yarn_parameters has it (beta 32 / 1). */
struct yarn {
        bool on;
        double factor, orig_ctx;
};

/* Rotate pair (a, b) of head values as the complex number a + ib by
 * e^{i pos inv_freq}: NORM pairs neighbours, NEOX the two halves. With
 * YaRN the frequency blends interpolation and extrapolation by a linear
 * ramp over the pairs and the result is scaled by 0.1 ln(factor) + 1. */
static void rope(const struct model_hparams *hp, const struct yarn *y, const float *freq_factors, double *x,
                 size_t n_heads, size_t pos) {
        const size_t dim = hp->head_dim_k, n_rot = hp->rope.n_dims, half = n_rot / 2;
        const double base = hp->rope.freq_base;
        for (size_t h = 0; h < n_heads; h++) {
                double *v = x + h * dim;
                for (size_t i = 0; i < half; i++) {
                        double inv_freq = pow(base, -2.0 * i / n_rot), mag = 1.0;
                        if (freq_factors)
                                inv_freq /= freq_factors[i];
                        if (y->on) {
                                double low = floor(n_rot * log(y->orig_ctx / (32 * 2 * M_PI)) / (2 * log(base)));
                                double high = ceil(n_rot * log(y->orig_ctx / (1 * 2 * M_PI)) / (2 * log(base)));
                                low = fmax(low, 0);
                                high = fmin(high, n_rot - 1);
                                if (low == high)
                                        high += 0.001;
                                double extrapolate = 1 - fmin(1, fmax(0, (i - low) / (high - low)));
                                inv_freq = inv_freq / y->factor * (1 - extrapolate) + inv_freq * extrapolate;
                                mag = 0.1 * log(y->factor) + 1;
                        }
                        size_t a = hp->rope.type == ROPE_TYPE_NEOX ? i : 2 * i;
                        size_t b = hp->rope.type == ROPE_TYPE_NEOX ? i + half : 2 * i + 1;
                        double complex z = (v[a] + I * v[b]) * mag * cexp(I * (pos * inv_freq));
                        v[a] = creal(z);
                        v[b] = cimag(z);
                }
        }
}

/* The whole model over T tokens at positions 0..T-1. */
static void naive_forward(const struct model *m, const struct yarn *y, const int32_t *tokens, size_t T, float *logits) {
        const struct model_hparams *hp = &m->hp;
        const size_t E = hp->n_embd, H = hp->n_head, KV = hp->n_head_kv, D = hp->head_dim_k, F = hp->n_ff;
        const size_t rep = H / KV;
        double *x = calloc(T * E, sizeof(double)), *h = calloc(T * E, sizeof(double)), *o = calloc(T * E, sizeof(double));
        double *q = calloc(T * H * D, sizeof(double)), *k = calloc(T * KV * D, sizeof(double));
        double *v = calloc(T * KV * D, sizeof(double)), *att = calloc(T * H * D, sizeof(double));
        double *kr = calloc(T * H * D, sizeof(double)), *vr = calloc(T * H * D, sizeof(double));
        double *g = calloc(T * F, sizeof(double)), *u = calloc(T * F, sizeof(double));
        double *lg = calloc(T * hp->n_vocab, sizeof(double)), *p = calloc(T, sizeof(double));
        if (!x || !h || !o || !q || !k || !v || !att || !kr || !vr || !g || !u || !lg || !p) {
                CHECK(0, "out of memory");
                goto out;
        }

        for (size_t t = 0; t < T; t++)
                for (size_t i = 0; i < E; i++)
                        x[t * E + i] = f32(m->tok_embd)[(size_t) tokens[t] * E + i];

        for (uint32_t il = 0; il < hp->n_layer; il++) {
                const struct model_layer *l = &m->layers[il];
                rmsnorm(l->attn_norm, hp->rms_eps, x, T, E, h);
                linear(l->wq, l->bq, h, T, q);
                linear(l->wk, l->bk, h, T, k);
                linear(l->wv, l->bv, h, T, v);
                for (size_t t = 0; t < T; t++) {
                        rope(hp, y, f32(m->rope_freqs), q + t * H * D, H, t);
                        rope(hp, y, f32(m->rope_freqs), k + t * KV * D, KV, t);
                }
                /* repeat_kv: query head j uses key/value head j / rep */
                for (size_t t = 0; t < T; t++)
                        for (size_t j = 0; j < H; j++)
                                for (size_t d = 0; d < D; d++) {
                                        kr[(t * H + j) * D + d] = k[(t * KV + j / rep) * D + d];
                                        vr[(t * H + j) * D + d] = v[(t * KV + j / rep) * D + d];
                                }
                for (size_t j = 0; j < H; j++)
                        for (size_t t = 0; t < T; t++) {
                                double max = -INFINITY, sum = 0;
                                for (size_t s = 0; s < T; s++) {
                                        if (s > t) { /* causal mask */
                                                p[s] = -INFINITY;
                                                continue;
                                        }
                                        double dot = 0;
                                        for (size_t d = 0; d < D; d++)
                                                dot += q[(t * H + j) * D + d] * kr[(s * H + j) * D + d];
                                        p[s] = dot / sqrt((double) D);
                                        max = fmax(max, p[s]);
                                }
                                for (size_t s = 0; s < T; s++) {
                                        p[s] = exp(p[s] - max);
                                        sum += p[s];
                                }
                                for (size_t d = 0; d < D; d++) {
                                        double a = 0;
                                        for (size_t s = 0; s < T; s++)
                                                a += p[s] / sum * vr[(s * H + j) * D + d];
                                        att[(t * H + j) * D + d] = a;
                                }
                        }
                linear(l->wo, l->bo, att, T, o);
                for (size_t i = 0; i < T * E; i++)
                        x[i] += o[i];

                rmsnorm(l->ffn_norm, hp->rms_eps, x, T, E, h);
                linear(l->ffn_gate, NULL, h, T, g);
                linear(l->ffn_up, NULL, h, T, u);
                for (size_t i = 0; i < T * F; i++)
                        g[i] = g[i] / (1 + exp(-g[i])) * u[i];
                linear(l->ffn_down, NULL, g, T, o);
                for (size_t i = 0; i < T * E; i++)
                        x[i] += o[i];
        }
        rmsnorm(m->output_norm, hp->rms_eps, x, T, E, h);
        linear(m->output, NULL, h, T, lg);
        for (size_t i = 0; i < T * hp->n_vocab; i++)
                logits[i] = (float) lg[i];
out:
        free(x), free(h), free(o), free(q), free(k), free(v), free(att), free(kr), free(vr);
        free(g), free(u), free(lg), free(p);
}

struct variant {
        const char *name;
        enum tiny_arch arch;
        uint32_t n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
        bool tied, rope_freqs;
        struct yarn yarn;
};

static const struct variant variants[] = {
        {"llama gqa 4/2", TINY_LLAMA, 64, 4, 2, 16, 96, 256, false, false},
        {"llama mqa 6/1", TINY_LLAMA, 48, 6, 1, 8, 64, 200, false, false},
        {"llama rope_freqs", TINY_LLAMA, 64, 4, 2, 16, 96, 256, false, true},
        {"qwen2 gqa 4/2", TINY_QWEN2, 64, 4, 2, 16, 96, 256, false, false},
        {"qwen2 odd 6/3 tied", TINY_QWEN2, 36, 6, 3, 6, 50, 77, true, false},
        {"qwen2 yarn x4", TINY_QWEN2, 64, 4, 2, 16, 96, 256, false, false, {true, 4, 16}},
        {"llama yarn x8 odd ctx", TINY_LLAMA, 64, 4, 2, 16, 96, 256, false, false, {true, 8, 50}},
};

static void test_variant(const struct variant *v) {
        struct tiny_model_opts o;
        struct tiny_model t;
        struct vkinfer_err err = {0};
        struct ref_state *s = NULL;
        int32_t tokens[N_TOKENS];

        tiny_model_defaults(&o, v->arch);
        o.n_embd = v->n_embd;
        o.n_head = v->n_head;
        o.n_head_kv = v->n_head_kv;
        o.head_dim = v->head_dim;
        o.n_ff = v->n_ff;
        o.n_vocab = v->n_vocab;
        o.tied_output = v->tied;
        o.rope_freqs = v->rope_freqs;
        o.yarn = v->yarn.on;
        o.yarn_factor = (float) v->yarn.factor;
        o.yarn_orig_ctx = (uint32_t) v->yarn.orig_ctx;
        int r = tiny_model_load(&o, &t, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return;
        tiny_tokens(9, o.n_vocab, tokens, N_TOKENS);
        const size_t n = (size_t) N_TOKENS * o.n_vocab;
        float *ref = calloc(n, sizeof(float)), *naive = calloc(n, sizeof(float));
        if (ref && naive && (r = ref_state_new(t.model, N_TOKENS, REF_MLA_ABSORBED, &s, &err)) >= 0 &&
            (r = ref_forward(t.model, tokens, N_TOKENS, 0, s, ref, &err)) >= 0) {
                naive_forward(t.model, &v->yarn, tokens, N_TOKENS, naive);
                double e = rel_l2(ref, naive, n);
                CHECK(e < 1e-5, "%s: reference vs naive rel L2 %.3g", v->name, e);
                fprintf(stderr, "%s: reference vs naive rel L2 %.3g\n", v->name, e);
        }
        CHECK_OK(r, err);
        ref_state_free(s);
        free(ref);
        free(naive);
        tiny_model_unload(&t);
}

int main(void) {
        for (size_t i = 0; i < ELEMENTSOF(variants); i++)
                test_variant(&variants[i]);
        return test_exit("test-ref-gqa");
}
