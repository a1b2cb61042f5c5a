/* Plain-C references of the forward pass's kernels (fwd-kernels.h). */
#include "forward/fwd-kernels.h"

#include <math.h>
#include <stdlib.h>

void fwdref_attn(const struct push_attn *p, const float *q, const float *cache, const uint32_t *block_table,
                 const uint32_t *tok_seq, const int32_t *tok_pos, float *out) {
        for (uint32_t t = 0; t < p->n_tokens; t++) {
                const uint32_t n_keys = (uint32_t) tok_pos[t] + 1;
                const uint32_t *table = block_table + (size_t) tok_seq[t] * p->max_blocks;
                double *score = calloc(n_keys, sizeof(double));
                if (!score)
                        return;
                for (uint32_t h = 0; h < p->n_head; h++) {
                        const uint32_t kvh = h / p->group;
                        const float *qh = q + (size_t) t * p->q_ts + (size_t) h * p->q_hs;
                        double max = -INFINITY, sum = 0;
                        for (uint32_t k = 0; k < n_keys; k++) {
                                size_t row = (size_t) table[k / p->block_size] * p->block_size + k % p->block_size;
                                const float *kr = cache + row * p->row_width + p->k_off + (size_t) kvh * p->k_hs;
                                double d = 0;
                                for (uint32_t i = 0; i < p->dk; i++)
                                        d += (double) qh[i] * kr[i];
                                score[k] = d * p->scale;
                                max = fmax(max, score[k]);
                        }
                        for (uint32_t k = 0; k < n_keys; k++) {
                                score[k] = exp(score[k] - max);
                                sum += score[k];
                        }
                        float *oh = out + (size_t) t * p->o_ts + (size_t) h * p->o_hs;
                        for (uint32_t i = 0; i < p->dv; i++) {
                                double acc = 0;
                                for (uint32_t k = 0; k < n_keys; k++) {
                                        size_t row = (size_t) table[k / p->block_size] * p->block_size + k % p->block_size;
                                        acc += score[k] * cache[row * p->row_width + p->v_off + (size_t) kvh * p->v_hs + i];
                                }
                                oh[i] = (float) (acc / sum);
                        }
                }
                free(score);
        }
}

void fwdref_kv_store(const struct push_kv_store *p, const float *src, const uint32_t *rows, float *dst) {
        for (uint32_t t = 0; t < p->n_tokens; t++) {
                size_t row = rows ? rows[t] : t;
                for (uint32_t c = 0; c < p->width; c++)
                        dst[row * p->row_width + p->dst_off + c] = src[p->src_off + (size_t) t * p->src_ts + c];
        }
}

void fwdref_moe_combine(const struct push_moe_combine *p, const float *y, const float *w, const float *add,
                        float *out) {
        for (uint32_t t = 0; t < p->n_tokens; t++)
                for (uint32_t c = 0; c < p->width; c++) {
                        double s = 0;
                        for (uint32_t j = 0; j < p->k; j++)
                                s += (double) w[t * p->k + j] * y[((size_t) t * p->k + j) * p->width + c];
                        if (add)
                                s += add[(size_t) t * p->width + c];
                        out[(size_t) t * p->width + c] = (float) s;
                }
}
