/* deepseek2's multi-head latent attention (MLA) on the CPU, as llama.cpp's
 * src/models/deepseek2.cpp computes it:
 *
 *   q        = attn_q_b(rmsnorm(attn_q_a(h)) * q_a_norm)   or attn_q(h)
 *              per head [q_nope (qk_nope) | q_pe (qk_rope)]
 *   kv_cmpr_pe = attn_kv_a_mqa(h) = [kv_cmpr (kv_lora_rank) | k_pe (qk_rope)]
 *   q_pe, k_pe  roped (NORM pairs); k_pe is one head shared by all heads
 *   kv_cmpr   = rmsnorm(kv_cmpr) * kv_a_norm        -- cached with k_pe
 *   score(h, p) = (q_nope[h] . k_nope[h][p] + q_pe[h] . k_pe[p]) * kq_scale
 *   with k_nope[h][p] = k_b[h] kv_cmpr[p] and v[h][p] = v_b[h] kv_cmpr[p]
 *   out = attn_output(concat over h of sum_p softmax(score)[p] v[h][p])
 *
 * The expanded form computes k_nope and v for every cached position; the
 * absorbed form moves k_b onto the query (q_nope[h] . k_b[h] kv_cmpr =
 * (k_b[h]^T q_nope[h]) . kv_cmpr) and v_b after the weighted sum, so it
 * reads only kv_lora_rank + qk_rope values per cached position. */
#include "model/ref-internal.h"

#include <errno.h>
#include <string.h>

/* The decompression matrices of layer il as plain arrays:
 * kb (n_head, qk_nope, kv_lora_rank) and vb (n_head, v_head, kv_lora_rank),
 * from the split attn_k_b/attn_v_b when present, else from attn_kv_b. */
static int load_kv_b(const struct model *m, uint32_t il, float *kb, float *vb, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const struct model_layer *l = &m->layers[il];
        const uint32_t n_head = hp->n_head, nope = hp->qk_nope, nv = hp->v_head, rank = hp->kv_lora_rank;
        int r;

        if (l->wk_b && l->wv_b) {
                /* k_b ne=[qk_nope, kv_lora_rank, n_head]: row h*rank + c holds
                 * column c of head h's (qk_nope x rank) matrix. */
                _cleanup_free_ float *row = ref_alloc(nope);
                if (!row)
                        return err_set(err, -ENOMEM, "out of memory");
                for (uint32_t h = 0; h < n_head; h++)
                        for (uint32_t c = 0; c < rank; c++) {
                                if ((r = ref_row(l->wk_b, (uint64_t) h * rank + c, row, err)) < 0)
                                        return r;
                                for (uint32_t d = 0; d < nope; d++)
                                        kb[((size_t) h * nope + d) * rank + c] = row[d];
                        }
                /* v_b ne=[kv_lora_rank, v_head, n_head]: row h*v_head + d is
                 * row d of head h's (v_head x rank) matrix. */
                for (uint32_t h = 0; h < n_head; h++)
                        for (uint32_t d = 0; d < nv; d++)
                                if ((r = ref_row(l->wv_b, (uint64_t) h * nv + d, vb + ((size_t) h * nv + d) * rank, err)) < 0)
                                        return r;
                return 0;
        }
        if (!l->wkv_b)
                return err_set(err, -ENOENT, "layer %u has neither attn_k_b/attn_v_b nor attn_kv_b", il);
        /* kv_b ne=[kv_lora_rank, n_head*(qk_nope+v_head)]: per head, qk_nope
         * rows of k_b then v_head rows of v_b. */
        for (uint32_t h = 0; h < n_head; h++) {
                const uint64_t base = (uint64_t) h * (nope + nv);
                for (uint32_t d = 0; d < nope; d++)
                        if ((r = ref_row(l->wkv_b, base + d, kb + ((size_t) h * nope + d) * rank, err)) < 0)
                                return r;
                for (uint32_t d = 0; d < nv; d++)
                        if ((r = ref_row(l->wkv_b, base + nope + d, vb + ((size_t) h * nv + d) * rank, err)) < 0)
                                return r;
        }
        return 0;
}

static double dot(const float *a, const float *b, size_t n) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
                s += (double) a[i] * b[i];
        return s;
}

/* y (rows) = M (rows x cols) x */
static void matvec(const float *mat, const float *x, size_t rows, size_t cols, float *y) {
        for (size_t i = 0; i < rows; i++)
                y[i] = (float) dot(mat + i * cols, x, cols);
}

/* Expanded: ordinary multi-head attention over decompressed keys/values. */
static int attend_expanded(const struct model *m, const struct ref_state *s, uint32_t il, const float *q,
                           size_t n_tok, uint32_t pos0, const float *kb, const float *vb, float *kqv,
                           struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const uint32_t n_head = hp->n_head, nope = hp->qk_nope, nrope = hp->qk_rope, nv = hp->v_head;
        const uint32_t rank = hp->kv_lora_rank, dk = hp->head_dim_k;
        const size_t n_kv = (size_t) pos0 + n_tok;

        _cleanup_free_ float *k_nope = ref_alloc(n_kv * n_head * nope); /* (n_kv, n_head, qk_nope) */
        _cleanup_free_ float *v = ref_alloc(n_kv * n_head * nv);        /* (n_kv, n_head, v_head) */
        _cleanup_free_ double *score = calloc(n_kv, sizeof(double));
        if (!k_nope || !v || !score)
                return err_set(err, -ENOMEM, "out of memory");

        for (size_t p = 0; p < n_kv; p++) {
                const float *latent = s->kv_cmpr[il] + p * rank;
                for (uint32_t h = 0; h < n_head; h++) {
                        matvec(kb + (size_t) h * nope * rank, latent, nope, rank, k_nope + (p * n_head + h) * nope);
                        matvec(vb + (size_t) h * nv * rank, latent, nv, rank, v + (p * n_head + h) * nv);
                }
        }

        for (size_t t = 0; t < n_tok; t++) {
                const size_t n_keys = pos0 + t + 1;
                for (uint32_t h = 0; h < n_head; h++) {
                        const float *qh = q + (t * n_head + h) * dk;
                        for (size_t p = 0; p < n_keys; p++)
                                score[p] = (dot(qh, k_nope + (p * n_head + h) * nope, nope) +
                                            dot(qh + nope, s->k_pe[il] + p * nrope, nrope)) * hp->kq_scale;
                        ref_softmax(score, n_keys);
                        float *oh = kqv + (t * n_head + h) * nv;
                        for (uint32_t d = 0; d < nv; d++) {
                                double sum = 0;
                                for (size_t p = 0; p < n_keys; p++)
                                        sum += score[p] * v[(p * n_head + h) * nv + d];
                                oh[d] = (float) sum;
                        }
                }
        }
        return 0;
}

/* Absorbed: attention in the latent space (what the GPU decodes with). */
static int attend_absorbed(const struct model *m, const struct ref_state *s, uint32_t il, const float *q,
                           size_t n_tok, uint32_t pos0, const float *kb, const float *vb, float *kqv,
                           struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const uint32_t n_head = hp->n_head, nope = hp->qk_nope, nrope = hp->qk_rope, nv = hp->v_head;
        const uint32_t rank = hp->kv_lora_rank, dk = hp->head_dim_k;
        const size_t n_kv = (size_t) pos0 + n_tok;

        _cleanup_free_ float *q_lat = ref_alloc(rank); /* k_b^T q_nope of one head */
        _cleanup_free_ float *o_lat = ref_alloc(rank); /* attention-weighted latent */
        _cleanup_free_ double *score = calloc(n_kv, sizeof(double));
        if (!q_lat || !o_lat || !score)
                return err_set(err, -ENOMEM, "out of memory");

        for (size_t t = 0; t < n_tok; t++) {
                const size_t n_keys = pos0 + t + 1;
                for (uint32_t h = 0; h < n_head; h++) {
                        const float *qh = q + (t * n_head + h) * dk;
                        const float *kbh = kb + (size_t) h * nope * rank;
                        /* q_lat[c] = sum_d q_nope[d] * k_b[h][d][c] */
                        for (uint32_t c = 0; c < rank; c++) {
                                double sum = 0;
                                for (uint32_t d = 0; d < nope; d++)
                                        sum += (double) qh[d] * kbh[(size_t) d * rank + c];
                                q_lat[c] = (float) sum;
                        }
                        for (size_t p = 0; p < n_keys; p++)
                                score[p] = (dot(q_lat, s->kv_cmpr[il] + p * rank, rank) +
                                            dot(qh + nope, s->k_pe[il] + p * nrope, nrope)) * hp->kq_scale;
                        ref_softmax(score, n_keys);
                        for (uint32_t c = 0; c < rank; c++) {
                                double sum = 0;
                                for (size_t p = 0; p < n_keys; p++)
                                        sum += score[p] * s->kv_cmpr[il][p * rank + c];
                                o_lat[c] = (float) sum;
                        }
                        /* out[d] = sum_c v_b[h][d][c] * o_lat[c] */
                        matvec(vb + (size_t) h * nv * rank, o_lat, nv, rank, kqv + (t * n_head + h) * nv);
                }
        }
        return 0;
}

int ref_attn_mla(const struct model *m, struct ref_state *s, uint32_t il, const float *h, size_t n_tok,
                 uint32_t pos0, float *out, struct vkinfer_err *err) {
        const struct model_hparams *hp = &m->hp;
        const struct model_layer *l = &m->layers[il];
        const uint32_t n_head = hp->n_head, nope = hp->qk_nope, nrope = hp->qk_rope, nv = hp->v_head;
        const uint32_t rank = hp->kv_lora_rank, dk = hp->head_dim_k;
        const size_t kv_width = (size_t) rank + nrope;
        int r;

        _cleanup_free_ float *q = ref_alloc(n_tok * n_head * dk);
        _cleanup_free_ float *q_a = ref_alloc(n_tok * (hp->q_lora_rank ? hp->q_lora_rank : 1));
        _cleanup_free_ float *kv_cmpr_pe = ref_alloc(n_tok * kv_width);
        _cleanup_free_ float *kb = ref_alloc((size_t) n_head * nope * rank);
        _cleanup_free_ float *vb = ref_alloc((size_t) n_head * nv * rank);
        _cleanup_free_ float *kqv = ref_alloc(n_tok * n_head * nv);
        if (!q || !q_a || !kv_cmpr_pe || !kb || !vb || !kqv)
                return err_set(err, -ENOMEM, "out of memory");

        /* q: through the low-rank bottleneck (V3) or directly (V2-Lite) */
        if (l->wq_a) {
                if ((r = ref_matmul(l->wq_a, 0, h, n_tok, q_a, err)) < 0 ||
                    (r = ref_norm(l->q_a_norm, hp->rms_eps, q_a, n_tok, hp->q_lora_rank, q_a, err)) < 0 ||
                    (r = ref_matmul(l->wq_b, 0, q_a, n_tok, q, err)) < 0)
                        return r;
        } else if ((r = ref_matmul(l->wq, 0, h, n_tok, q, err)) < 0)
                return r;
        ref_trace(s, "q", il, q, n_tok, (size_t) n_head * dk);

        /* compressed kv and the shared rope key */
        if ((r = ref_matmul(l->wkv_a_mqa, 0, h, n_tok, kv_cmpr_pe, err)) < 0)
                return r;

        for (size_t t = 0; t < n_tok; t++) {
                const uint32_t pos = pos0 + t;
                float *row = kv_cmpr_pe + t * kv_width;
                /* rope on q_pe (each head, after its qk_nope values) and k_pe */
                ref_rope(&hp->rope, NULL, q + t * n_head * dk + nope, n_head, dk, pos);
                ref_rope(&hp->rope, NULL, row + rank, 1, nrope, pos);
                memcpy(s->k_pe[il] + (size_t) pos * nrope, row + rank, nrope * sizeof(float));
        }
        /* the latent is normed, then cached */
        for (size_t t = 0; t < n_tok; t++) {
                float *dst = s->kv_cmpr[il] + (size_t) (pos0 + t) * rank;
                if ((r = ref_norm(l->kv_a_norm, hp->rms_eps, kv_cmpr_pe + t * kv_width, 1, rank, dst, err)) < 0)
                        return r;
        }
        ref_trace(s, "q_pe", il, q, n_tok, (size_t) n_head * dk);
        ref_trace(s, "kv_cmpr", il, s->kv_cmpr[il] + (size_t) pos0 * rank, n_tok, rank);
        ref_trace(s, "k_pe", il, s->k_pe[il] + (size_t) pos0 * nrope, n_tok, nrope);

        if ((r = load_kv_b(m, il, kb, vb, err)) < 0)
                return r;
        if (s->mla_form == REF_MLA_EXPANDED)
                r = attend_expanded(m, s, il, q, n_tok, pos0, kb, vb, kqv, err);
        else
                r = attend_absorbed(m, s, il, q, n_tok, pos0, kb, vb, kqv, err);
        if (r < 0)
                return r;
        ref_trace(s, "kqv_out", il, kqv, n_tok, (size_t) n_head * nv);

        return ref_matmul(l->wo, 0, kqv, n_tok, out, err);
}
