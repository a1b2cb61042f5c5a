/* deepseek2 in the CPU reference against a second, naive implementation
 * written here after Hugging Face's modeling_deepseek.py (DeepseekV2/V3):
 * the expanded attention from the combined kv_b_proj weight, rope in HF's
 * de-interleave + rotate_half form, YaRN from inv_freq blending and
 * softmax_scale * mscale^2, the MoE gate (greedy softmax for V2, noaux_tc
 * sigmoid with e_score_correction_bias and groups for V3). The reference
 * runs on the file with split attn_k_b/attn_v_b, the naive code on the same
 * seed's combined attn_kv_b. F32 weights, doubles throughout. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "model/ref.h"
#include "tiny-models.h"

#define N_TOKENS 22

static const float *f32(const struct gguf_tensor *t) {
        return t ? (const float *) t->data : NULL;
}

/* y (T, n_out) = x (T, n_in) W^T for matrix e of w */
static void linear(const struct gguf_tensor *w, size_t e, const double *x, size_t T, double *y) {
        const size_t n_in = w->ne[0], n_out = w->ne[1];
        const float *W = f32(w) + e * n_in * n_out;
        for (size_t t = 0; t < T; t++)
                for (size_t o = 0; o < n_out; o++) {
                        double s = 0;
                        for (size_t i = 0; i < n_in; i++)
                                s += W[o * n_in + i] * x[t * n_in + i];
                        y[t * n_out + o] = s;
                }
}

static void rmsnorm(const struct gguf_tensor *w, double eps, double *x, size_t T, size_t n) {
        for (size_t t = 0; t < T; t++) {
                double ms = 0;
                for (size_t i = 0; i < n; i++)
                        ms += x[t * n + i] * x[t * n + i] / n;
                for (size_t i = 0; i < n; i++)
                        x[t * n + i] = x[t * n + i] / sqrt(ms + eps) * f32(w)[i];
        }
}

/* DeepseekV2MLP: down(silu(gate x) * up x), matrix e */
static void mlp(const struct gguf_tensor *gate, const struct gguf_tensor *up, const struct gguf_tensor *down, size_t e,
                const double *x, double *y) {
        const size_t F = gate->ne[1];
        double *g = calloc(F, sizeof(double)), *u = calloc(F, sizeof(double));
        linear(gate, e, x, 1, g);
        linear(up, e, x, 1, u);
        for (size_t i = 0; i < F; i++)
                g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        linear(down, e, g, 1, y);
        free(g);
        free(u);
}

/* The model's rope settings, as the HF config would give them. */
struct hf_rope {
        size_t dim;
        double base, factor, orig_ctx, mscale_all_dim;
        bool yarn;
};

static double yarn_get_mscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

/* DeepseekV2(Yarn)RotaryEmbedding's inv_freq */
static void inv_freq(const struct hf_rope *r, double *f) {
        for (size_t i = 0; i < r->dim / 2; i++) {
                double extra = 1.0 / pow(r->base, 2.0 * i / r->dim);
                f[i] = extra;
                if (!r->yarn)
                        continue;
                double inter = extra / r->factor;
                double low = floor(r->dim * log(r->orig_ctx / (32 * 2 * M_PI)) / (2 * log(r->base)));
                double high = ceil(r->dim * log(r->orig_ctx / (1 * 2 * M_PI)) / (2 * log(r->base)));
                low = fmax(low, 0);
                high = fmin(high, r->dim - 1);
                if (low == high)
                        high += 0.001;
                double ramp = fmin(1, fmax(0, (i - low) / (high - low)));
                double mask = 1 - ramp;
                f[i] = inter * (1 - mask) + extra * mask;
        }
}

/* apply_rotary_pos_emb: de-interleave (x0 x2 x4 .. x1 x3 ..), then
 * x * cos + rotate_half(x) * sin with cos = cat(cos(t f), cos(t f)). The
 * result stays de-interleaved; q and k alike, so dot products match. */
static void hf_rope(const struct hf_rope *r, const double *f, double *x, size_t pos) {
        const size_t d = r->dim, half = d / 2;
        double tmp[64];
        for (size_t i = 0; i < half; i++) {
                tmp[i] = x[2 * i];
                tmp[i + half] = x[2 * i + 1];
        }
        for (size_t i = 0; i < d; i++) {
                double c = cos(pos * f[i % half]), s = sin(pos * f[i % half]);
                double rot = i < half ? -tmp[i + half] : tmp[i - half];
                x[i] = tmp[i] * c + rot * s;
        }
}

/* DeepseekV3 MoEGate (noaux_tc) or DeepseekV2 MoEGate (greedy) */
static void gate(const struct model_hparams *hp, const double *logits, const float *bias, size_t *idx, double *w) {
        const size_t E = hp->n_expert, K = hp->n_expert_used;
        double scores[64], choice[64];
        if (hp->gating == MOE_GATING_SIGMOID) {
                for (size_t e = 0; e < E; e++)
                        scores[e] = 1 / (1 + exp(-logits[e]));
        } else {
                double max = -INFINITY, sum = 0;
                for (size_t e = 0; e < E; e++)
                        max = fmax(max, logits[e]);
                for (size_t e = 0; e < E; e++)
                        sum += scores[e] = exp(logits[e] - max);
                for (size_t e = 0; e < E; e++)
                        scores[e] /= sum;
        }
        for (size_t e = 0; e < E; e++)
                choice[e] = scores[e] + (bias ? bias[e] : 0);
        if (hp->n_expert_groups > 1) {
                const size_t G = hp->n_expert_groups, per = E / G;
                double gs[64];
                bool keep[64] = {false};
                for (size_t g = 0; g < G; g++) { /* topk(2).sum() */
                        double a = -INFINITY, b = -INFINITY;
                        for (size_t i = 0; i < per; i++) {
                                double v = choice[g * per + i];
                                if (v > a) {
                                        b = a;
                                        a = v;
                                } else if (v > b)
                                        b = v;
                        }
                        gs[g] = a + b;
                }
                for (size_t n = 0; n < hp->n_expert_groups_used; n++) {
                        size_t best = SIZE_MAX;
                        for (size_t g = 0; g < G; g++)
                                if (!keep[g] && (best == SIZE_MAX || gs[g] > gs[best]))
                                        best = g;
                        keep[best] = true;
                }
                for (size_t e = 0; e < E; e++)
                        if (!keep[e / per])
                                choice[e] = -INFINITY;
        }
        double sum = 0;
        for (size_t k = 0; k < K; k++) {
                size_t best = SIZE_MAX;
                for (size_t e = 0; e < E; e++)
                        if (choice[e] != -INFINITY && (best == SIZE_MAX || choice[e] > choice[best]))
                                best = e;
                idx[k] = best;
                choice[best] = -INFINITY;
                w[k] = scores[best];
                sum += w[k];
        }
        for (size_t k = 0; k < K; k++) {
                if (hp->expert_weights_norm)
                        w[k] /= sum + 1e-20;
                w[k] *= hp->expert_weights_scale;
        }
}

static void naive_forward(const struct model *m, const struct hf_rope *rope, const int32_t *tokens, size_t T,
                          float *logits) {
        const struct model_hparams *hp = &m->hp;
        const size_t E = hp->n_embd, H = hp->n_head, NOPE = hp->qk_nope, ROPE = hp->qk_rope, V = hp->v_head;
        const size_t QD = NOPE + ROPE, R = hp->kv_lora_rank;
        double *x = calloc(T * E, sizeof(double)), *h = calloc(T * E, sizeof(double));
        double *o = calloc(T * E, sizeof(double)), *q = calloc(T * H * QD, sizeof(double));
        double *qa = calloc(T * (hp->q_lora_rank + 1), sizeof(double)), *ckv = calloc(T * (R + ROPE), sizeof(double));
        double *kv = calloc(T * H * (NOPE + V), sizeof(double)), *latent = calloc(T * R, sizeof(double));
        double *att = calloc(T * H * V, sizeof(double)), *p = calloc(T, sizeof(double));
        double *lg = calloc(T * hp->n_vocab, sizeof(double)), *router = calloc(hp->n_expert, sizeof(double));
        double *y = calloc(E, sizeof(double)), f[32];

        double scale = 1.0 / sqrt((double) QD);
        if (rope->yarn && rope->mscale_all_dim) {
                double ms = yarn_get_mscale(rope->factor, rope->mscale_all_dim);
                scale *= ms * ms;
        }
        inv_freq(rope, f);

        for (size_t t = 0; t < T; t++)
                for (size_t i = 0; i < E; i++)
                        x[t * E + i] = f32(m->tok_embd)[(size_t) tokens[t] * E + i];

        for (uint32_t il = 0; il < hp->n_layer; il++) {
                const struct model_layer *l = &m->layers[il];
                memcpy(h, x, T * E * sizeof(double));
                rmsnorm(l->attn_norm, hp->rms_eps, h, T, E);

                /* DeepseekV2Attention */
                if (l->wq_a) {
                        linear(l->wq_a, 0, h, T, qa);
                        rmsnorm(l->q_a_norm, hp->rms_eps, qa, T, hp->q_lora_rank);
                        linear(l->wq_b, 0, qa, T, q);
                } else {
                        linear(l->wq, 0, h, T, q);
                }
                linear(l->wkv_a_mqa, 0, h, T, ckv);
                for (size_t t = 0; t < T; t++) {
                        memcpy(latent + t * R, ckv + t * (R + ROPE), R * sizeof(double));
                        hf_rope(rope, f, ckv + t * (R + ROPE) + R, t);
                        for (size_t hh = 0; hh < H; hh++)
                                hf_rope(rope, f, q + (t * H + hh) * QD + NOPE, t);
                }
                rmsnorm(l->kv_a_norm, hp->rms_eps, latent, T, R);
                linear(l->wkv_b, 0, latent, T, kv); /* (T, H, nope + v) */
                for (size_t hh = 0; hh < H; hh++)
                        for (size_t t = 0; t < T; t++) {
                                double max = -INFINITY, sum = 0;
                                for (size_t s = 0; s <= t; s++) {
                                        const double *qh = q + (t * H + hh) * QD, *kh = kv + (s * H + hh) * (NOPE + V);
                                        const double *kpe = ckv + s * (R + ROPE) + R;
                                        double dot = 0;
                                        for (size_t d = 0; d < NOPE; d++)
                                                dot += qh[d] * kh[d];
                                        for (size_t d = 0; d < ROPE; d++)
                                                dot += qh[NOPE + d] * kpe[d];
                                        p[s] = dot * scale;
                                        max = fmax(max, p[s]);
                                }
                                for (size_t s = 0; s <= t; s++)
                                        sum += p[s] = exp(p[s] - max);
                                for (size_t d = 0; d < V; d++) {
                                        double a = 0;
                                        for (size_t s = 0; s <= t; s++)
                                                a += p[s] / sum * kv[(s * H + hh) * (NOPE + V) + NOPE + d];
                                        att[(t * H + hh) * V + d] = a;
                                }
                        }
                linear(l->wo, 0, att, T, o);
                for (size_t i = 0; i < T * E; i++)
                        x[i] += o[i];

                /* DeepseekV2MLP or DeepseekV3MoE */
                memcpy(h, x, T * E * sizeof(double));
                rmsnorm(l->ffn_norm, hp->rms_eps, h, T, E);
                for (size_t t = 0; t < T; t++) {
                        double *ot = o + t * E;
                        if (!l->is_moe) {
                                mlp(l->ffn_gate, l->ffn_up, l->ffn_down, 0, h + t * E, ot);
                                continue;
                        }
                        size_t idx[16];
                        double w[16];
                        linear(l->ffn_gate_inp, 0, h + t * E, 1, router);
                        gate(hp, router, f32(l->exp_probs_b), idx, w);
                        memset(ot, 0, E * sizeof(double));
                        for (size_t k = 0; k < hp->n_expert_used; k++) {
                                mlp(l->ffn_gate_exps, l->ffn_up_exps, l->ffn_down_exps, idx[k], h + t * E, y);
                                for (size_t i = 0; i < E; i++)
                                        ot[i] += w[k] * y[i];
                        }
                        if (l->ffn_gate_shexp) {
                                mlp(l->ffn_gate_shexp, l->ffn_up_shexp, l->ffn_down_shexp, 0, h + t * E, y);
                                for (size_t i = 0; i < E; i++)
                                        ot[i] += y[i];
                        }
                }
                for (size_t i = 0; i < T * E; i++)
                        x[i] += o[i];
        }
        rmsnorm(m->output_norm, hp->rms_eps, x, T, E);
        linear(m->output, 0, x, T, lg);
        for (size_t i = 0; i < T * hp->n_vocab; i++)
                logits[i] = (float) lg[i];
        free(x), free(h), free(o), free(q), free(qa), free(ckv), free(kv), free(latent), free(att), free(p);
        free(lg), free(router), free(y);
}

static void test_variant(const char *name) {
        struct tiny_model_opts o;
        struct tiny_model split, combined;
        struct vkinfer_err err = {0};
        int32_t tokens[N_TOKENS];

        CHECK(tiny_model_variant(name, &o) == 0, "variant %s", name);
        o.kv_b = TINY_KV_B_SPLIT;
        int r = tiny_model_load(&o, &split, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return;
        o.kv_b = TINY_KV_B_COMBINED;
        r = tiny_model_load(&o, &combined, &err);
        CHECK_OK(r, err);
        if (r < 0) {
                tiny_model_unload(&split);
                return;
        }

        const struct hf_rope rope = {
                .dim = o.qk_rope, .base = 10000, .factor = o.yarn_factor, .orig_ctx = o.yarn_orig_ctx,
                .mscale_all_dim = o.yarn_log_mul / 0.1, .yarn = o.yarn,
        };
        tiny_tokens(17, o.n_vocab, tokens, N_TOKENS);
        const size_t n = (size_t) N_TOKENS * o.n_vocab;
        float *naive = calloc(n, sizeof(float)), *ref = calloc(n, sizeof(float));
        naive_forward(combined.model, &rope, tokens, N_TOKENS, naive);
        for (int form = REF_MLA_ABSORBED; form <= REF_MLA_EXPANDED; form++) {
                struct ref_state *s = NULL;
                r = ref_state_new(split.model, N_TOKENS, form, &s, &err);
                if (r >= 0)
                        r = ref_forward(split.model, tokens, N_TOKENS, 0, s, ref, &err);
                CHECK_OK(r, err);
                if (r >= 0) {
                        double e = rel_l2(ref, naive, n);
                        CHECK(e < 1e-5, "%s form %d: reference vs naive HF rel L2 %.3g", name, form, e);
                        fprintf(stderr, "%s form %d: reference vs naive HF rel L2 %.3g\n", name, form, e);
                }
                ref_state_free(s);
        }
        free(naive);
        free(ref);
        tiny_model_unload(&split);
        tiny_model_unload(&combined);
}

int main(void) {
        for (size_t i = 0; tiny_model_variants[i]; i++)
                if (strncmp(tiny_model_variants[i], "deepseek2", 9) == 0)
                        test_variant(tiny_model_variants[i]);
        return test_exit("test-ref-deepseek2");
}
