/* Building blocks of the CPU reference: dequantized matrix products,
 * RMSNorm, rope, softmax, SwiGLU. Sums in double. */
#include "model/ref-internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "gguf/quant.h"

float *ref_alloc(size_t n) {
        return calloc(n ? n : 1, sizeof(float));
}

void ref_trace(const struct ref_state *s, const char *name, int layer, const float *data, size_t n_tokens,
               size_t width) {
        if (s->trace)
                s->trace(s->trace_data, name, layer, data, n_tokens, width);
}

int ref_row(const struct gguf_tensor *t, uint64_t row, float *dst, struct vkinfer_err *err) {
        uint64_t row_bytes;
        if (row >= t->ne[1] * t->ne[2] * t->ne[3])
                return err_set(err, -EINVAL, "row %llu of tensor %s is out of range", (unsigned long long) row, t->name);
        if (ggml_row_bytes(t->type, t->ne[0], &row_bytes) < 0)
                return err_set(err, -EINVAL, "tensor %s: bad row length", t->name);
        const uint8_t *src = (const uint8_t *) t->data + row * row_bytes;
        if (ggml_dequantize_row(t->type, src, dst, t->ne[0]) < 0)
                return err_set(err, -EOPNOTSUPP, "tensor %s: cannot dequantize type %s", t->name,
                               ggml_type_name(t->type));
        return 0;
}

int ref_tensor(const struct gguf_tensor *t, float **ret, struct vkinfer_err *err) {
        float *buf = ref_alloc(t->n_elements);
        if (!buf)
                return err_set(err, -ENOMEM, "out of memory");
        uint64_t n_rows = t->n_elements / t->ne[0];
        for (uint64_t r = 0; r < n_rows; r++) {
                int k = ref_row(t, r, buf + r * t->ne[0], err);
                if (k < 0) {
                        free(buf);
                        return k;
                }
        }
        *ret = buf;
        return 0;
}

int ref_matmul(const struct gguf_tensor *w, uint64_t slice, const float *x, size_t n_tok, float *y,
               struct vkinfer_err *err) {
        const uint64_t n_in = w->ne[0], n_out = w->ne[1];
        _cleanup_free_ float *row = ref_alloc(n_in);
        if (!row)
                return err_set(err, -ENOMEM, "out of memory");
        /* One row of W at a time, applied to every token. */
        for (uint64_t o = 0; o < n_out; o++) {
                int r = ref_row(w, slice * n_out + o, row, err);
                if (r < 0)
                        return r;
                for (size_t t = 0; t < n_tok; t++) {
                        const float *xt = x + t * n_in;
                        double sum = 0;
                        for (uint64_t i = 0; i < n_in; i++)
                                sum += (double) row[i] * xt[i];
                        y[t * n_out + o] = (float) sum;
                }
        }
        return 0;
}

int ref_add_bias(const struct gguf_tensor *b, float *y, size_t n_tok, struct vkinfer_err *err) {
        if (!b)
                return 0;
        _cleanup_free_ float *bias = NULL;
        int r = ref_tensor(b, &bias, err);
        if (r < 0)
                return r;
        for (size_t t = 0; t < n_tok; t++)
                for (uint64_t i = 0; i < b->n_elements; i++)
                        y[t * b->n_elements + i] += bias[i];
        return 0;
}

void ref_rmsnorm(const float *x, const float *w, float eps, size_t n_rows, size_t n, float *y) {
        for (size_t t = 0; t < n_rows; t++) {
                const float *xt = x + t * n;
                double sum = 0;
                for (size_t i = 0; i < n; i++)
                        sum += (double) xt[i] * xt[i];
                double scale = 1.0 / sqrt(sum / (double) n + eps);
                for (size_t i = 0; i < n; i++)
                        y[t * n + i] = (float) (xt[i] * scale * (w ? w[i] : 1.0f));
        }
}

int ref_norm(const struct gguf_tensor *w, float eps, const float *x, size_t n_tok, size_t n, float *y,
             struct vkinfer_err *err) {
        _cleanup_free_ float *weight = NULL;
        int r = ref_tensor(w, &weight, err);
        if (r < 0)
                return r;
        ref_rmsnorm(x, weight, eps, n_tok, n, y);
        return 0;
}

void ref_rope(const struct model_rope *r, const float *freq_factors, float *x, uint32_t n_heads,
              size_t head_stride, uint32_t pos) {
        const uint32_t half = r->n_dims / 2;
        for (uint32_t i = 0; i < half; i++) {
                double theta, mscale;
                model_rope_theta(r, pos, i, freq_factors ? freq_factors[i] : 1.0f, &theta, &mscale);
                const double c = cos(theta) * mscale, s = sin(theta) * mscale;
                /* NORM pairs neighbours; NEOX pairs the two halves. */
                const size_t i0 = r->type == ROPE_TYPE_NEOX ? i : 2 * (size_t) i;
                const size_t i1 = r->type == ROPE_TYPE_NEOX ? i + half : 2 * (size_t) i + 1;
                for (uint32_t h = 0; h < n_heads; h++) {
                        float *xh = x + h * head_stride;
                        const double x0 = xh[i0], x1 = xh[i1];
                        xh[i0] = (float) (x0 * c - x1 * s);
                        xh[i1] = (float) (x0 * s + x1 * c);
                }
        }
}

void ref_softmax(double *x, size_t n) {
        double max = -INFINITY, sum = 0;
        for (size_t i = 0; i < n; i++)
                max = fmax(max, x[i]);
        for (size_t i = 0; i < n; i++) {
                x[i] = exp(x[i] - max);
                sum += x[i];
        }
        for (size_t i = 0; i < n; i++)
                x[i] /= sum;
}

int ref_ffn(const struct gguf_tensor *gate, const struct gguf_tensor *up, const struct gguf_tensor *down,
            uint64_t slice, const float *x, size_t n_tok, float *y, struct vkinfer_err *err) {
        const uint64_t n_ff = gate->ne[1];
        _cleanup_free_ float *g = ref_alloc(n_tok * n_ff);
        _cleanup_free_ float *u = ref_alloc(n_tok * n_ff);
        int r;
        if (!g || !u)
                return err_set(err, -ENOMEM, "out of memory");
        if ((r = ref_matmul(gate, slice, x, n_tok, g, err)) < 0 ||
            (r = ref_matmul(up, slice, x, n_tok, u, err)) < 0)
                return r;
        /* silu(g) * u */
        for (size_t i = 0; i < n_tok * n_ff; i++) {
                double gi = g[i];
                g[i] = (float) (gi / (1.0 + exp(-gi)) * u[i]);
        }
        return ref_matmul(down, slice, g, n_tok, y, err);
}
