/* CPU references of the kernels (see ref.h). */
#include "ops/ref.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/quant.h"

/* Row r of w, dequantized into out. */
static int row_f32(uint32_t type, const void *w, uint32_t ncols, uint32_t r, float *out) {
        uint64_t rb;
        int ret = ggml_row_bytes(type, ncols, &rb);
        if (ret < 0)
                return ret;
        return ggml_dequantize_row(type, (const uint8_t *) w + (uint64_t) r * rb, out, ncols);
}

int opref_matvec_id(uint32_t type, const void *w, uint32_t ncols, const struct op_matvec_id *p,
                    const uint32_t *ids, const float *x, float *y) {
        float *row = malloc((size_t) ncols * sizeof(float) + 1);
        if (!row)
                return -ENOMEM;
        int ret = 0;
        for (uint32_t t = 0; t < p->n_tokens; t++)
                for (uint32_t sl = 0; sl < p->n_slots; sl++) {
                        uint32_t e = ids[(size_t) t * p->id_ts + sl];
                        if (e >= p->n_mats) {
                                ret = -EINVAL;
                                goto out;
                        }
                        const float *xv = x + p->x_off + (size_t) t * p->x_ts + (size_t) sl * p->x_ss;
                        for (uint32_t r = 0; r < p->nrows; r++) {
                                if ((ret = row_f32(type, w, ncols, e * p->mat_rows + p->row0 + r, row)) < 0)
                                        goto out;
                                double sum = 0;
                                for (uint32_t k = 0; k < ncols; k++)
                                        sum += (double) row[k] * xv[k];
                                y[(size_t) t * p->y_ts + (size_t) sl * p->y_ss + r] = (float) sum;
                        }
                }
out:
        free(row);
        return ret;
}

int opref_matmul(uint32_t type, const void *w, uint32_t ncols, uint32_t nrows, const float *x, uint32_t nvec,
               float *y) {
        float *row = malloc((size_t) ncols * sizeof(float) + 1);
        if (!row)
                return -ENOMEM;
        for (uint32_t r = 0; r < nrows; r++) {
                int ret = row_f32(type, w, ncols, r, row);
                if (ret < 0) {
                        free(row);
                        return ret;
                }
                for (uint32_t n = 0; n < nvec; n++) {
                        double s = 0;
                        for (uint32_t k = 0; k < ncols; k++)
                                s += (double) row[k] * x[(size_t) n * ncols + k];
                        y[(size_t) n * nrows + r] = (float) s;
                }
        }
        free(row);
        return 0;
}

int ref_matvec(uint32_t type, const void *w, uint32_t ncols, uint32_t nrows, const float *x, float *y) {
        return opref_matmul(type, w, ncols, nrows, x, 1, y);
}

int ref_get_rows(uint32_t type, const void *w, uint32_t ncols, uint32_t nrows, const int32_t *ids,
                 uint32_t n_ids, float *out) {
        for (uint32_t i = 0; i < n_ids; i++) {
                if (ids[i] < 0 || (uint32_t) ids[i] >= nrows)
                        continue; /* as the kernel: left untouched */
                int r = row_f32(type, w, ncols, (uint32_t) ids[i], out + (size_t) i * ncols);
                if (r < 0)
                        return r;
        }
        return 0;
}

void opref_rmsnorm(const float *x, const float *w, float *y, uint32_t ncols, uint32_t nrows, float eps) {
        for (uint32_t r = 0; r < nrows; r++) {
                const float *xr = x + (size_t) r * ncols;
                double s = 0;
                for (uint32_t c = 0; c < ncols; c++)
                        s += (double) xr[c] * xr[c];
                float inv = (float) (1.0 / sqrt(s / ncols + eps));
                for (uint32_t c = 0; c < ncols; c++)
                        y[(size_t) r * ncols + c] = xr[c] * inv * w[c];
        }
}

void op_rope_corr_dims(const struct op_rope *p, float ret_dims[2]) {
        /* ggml_rope_yarn_corr_dim: the dim whose wavelength makes n_rot turns over n_ctx_orig */
        float n_dims = (float) p->n_dims, ctx = (float) p->n_ctx_orig, base = p->freq_base;
        float start = floorf(n_dims * logf(ctx / (p->beta_fast * 2 * (float) M_PI)) / (2 * logf(base)));
        float end = ceilf(n_dims * logf(ctx / (p->beta_slow * 2 * (float) M_PI)) / (2 * logf(base)));
        ret_dims[0] = fmaxf(0, start);
        ret_dims[1] = fminf(n_dims - 1, end);
}

void opref_rope(const struct op_rope *p, const float *x, const int32_t *pos, const float *freq_factors, float *y) {
        uint32_t xhs = p->x_hs ? p->x_hs : p->head_dim, xts = p->x_ts ? p->x_ts : p->head_dim * p->n_heads;
        uint32_t yhs = p->y_hs ? p->y_hs : p->head_dim, yts = p->y_ts ? p->y_ts : p->head_dim * p->n_heads;
        float corr[2];
        op_rope_corr_dims(p, corr);
        double theta_scale = pow(p->freq_base, -2.0 / p->n_dims);
        for (uint32_t t = 0; t < p->n_tokens; t++)
                for (uint32_t h = 0; h < p->n_heads; h++) {
                        const float *xh = x + p->x_off + (size_t) t * xts + (size_t) h * xhs;
                        float *yh = y + p->y_off + (size_t) t * yts + (size_t) h * yhs;
                        for (uint32_t i0 = 0; i0 < p->head_dim; i0 += 2) {
                                if (i0 >= p->n_dims) {
                                        yh[i0] = xh[i0];
                                        yh[i0 + 1] = xh[i0 + 1];
                                        continue;
                                }
                                uint32_t i = i0 / 2;
                                uint32_t a = p->mode == OP_ROPE_NEOX ? i : i0;
                                uint32_t b = p->mode == OP_ROPE_NEOX ? i + p->n_dims / 2 : i0 + 1;
                                /* rope_yarn */
                                double theta_extrap = pos[t] * pow(theta_scale, i);
                                if (freq_factors)
                                        theta_extrap /= freq_factors[i];
                                double theta = p->freq_scale * theta_extrap, mscale = p->attn_factor;
                                if (p->ext_factor != 0.0f) {
                                        double y_ = (i - corr[0]) / fmax(0.001, corr[1] - corr[0]);
                                        double ramp = (1 - fmin(1, fmax(0, y_))) * p->ext_factor;
                                        theta = theta * (1 - ramp) + theta_extrap * ramp;
                                        mscale *= 1.0 + 0.1 * log(1.0 / p->freq_scale);
                                }
                                double c = cos(theta) * mscale, s = sin(theta) * mscale;
                                float x0 = xh[a], x1 = xh[b];
                                yh[a] = (float) (x0 * c - x1 * s);
                                yh[b] = (float) (x0 * s + x1 * c);
                        }
                }
}

void opref_softmax(const float *x, const float *mask, float *y, uint32_t ncols, uint32_t nrows, float scale,
                 uint32_t mask_stride, uint32_t n_valid) {
        uint32_t nv = n_valid && n_valid < ncols ? n_valid : ncols;
        for (uint32_t r = 0; r < nrows; r++) {
                const float *xr = x + (size_t) r * ncols;
                float *yr = y + (size_t) r * ncols;
                double m = -INFINITY, s = 0;
                for (uint32_t c = 0; c < nv; c++) {
                        double v = (double) xr[c] * scale + (mask ? mask[(size_t) r * mask_stride + c] : 0);
                        yr[c] = (float) v;
                        m = fmax(m, v);
                }
                for (uint32_t c = 0; c < nv; c++) {
                        double e = isinf(m) && m < 0 ? 0 : exp(yr[c] - m);
                        yr[c] = (float) e;
                        s += e;
                }
                for (uint32_t c = 0; c < ncols; c++)
                        yr[c] = c < nv && s > 0 ? (float) (yr[c] / s) : 0.0f;
        }
}

void ref_add(const float *a, const float *b, float *y, uint32_t n, uint32_t nb) {
        for (uint32_t i = 0; i < n; i++)
                y[i] = a[i] + b[i % nb];
}

void ref_mul(const float *a, const float *b, float *y, uint32_t n, uint32_t nb) {
        for (uint32_t i = 0; i < n; i++)
                y[i] = a[i] * b[i % nb];
}

void ref_scale(const float *a, float *y, uint32_t n, float scale) {
        for (uint32_t i = 0; i < n; i++)
                y[i] = a[i] * scale;
}

void ref_swiglu(const float *a, const float *b, float *y, uint32_t n) {
        for (uint32_t i = 0; i < n; i++)
                y[i] = (float) (a[i] / (1.0 + exp(-(double) a[i])) * b[i]);
}

void ref_argmax(const float *x, uint32_t *out, uint32_t ncols, uint32_t nrows) {
        for (uint32_t r = 0; r < nrows; r++) {
                uint32_t best = 0;
                for (uint32_t c = 1; c < ncols; c++)
                        if (x[(size_t) r * ncols + c] > x[(size_t) r * ncols + best])
                                best = c;
                out[r] = best;
        }
}

void ref_topk(const float *x, float *out_val, uint32_t *out_idx, uint32_t n, uint32_t k, uint32_t nrows) {
        /* k selection passes, each taking the best not yet taken. */
        for (uint32_t r = 0; r < nrows; r++) {
                const float *xr = x + (size_t) r * n;
                int64_t prev = -1; /* rank of the previous pick: (value desc, index asc) */
                float pv = INFINITY;
                for (uint32_t j = 0; j < k; j++) {
                        int64_t best = -1;
                        for (uint32_t c = 0; c < n; c++) {
                                /* strictly after the previous pick in the order */
                                bool after = prev < 0 || xr[c] < pv || (xr[c] == pv && (int64_t) c > prev);
                                if (!after)
                                        continue;
                                if (best < 0 || xr[c] > xr[best])
                                        best = c;
                        }
                        out_val[(size_t) r * k + j] = best < 0 ? -INFINITY : xr[best];
                        out_idx[(size_t) r * k + j] = best < 0 ? 0xffffffffu : (uint32_t) best;
                        if (best >= 0) {
                                prev = best;
                                pv = xr[best];
                        }
                }
        }
}
