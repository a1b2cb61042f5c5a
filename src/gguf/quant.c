/* f32 <-> GGUF tensor types on the CPU. Layouts as in ggml-common.h:
 *   Q8_0: { f16 d; i8 qs[32]; }            x = d * q
 *   Q4_0: { f16 d; u8 qs[16]; }            x = d * (nibble - 8); low nibbles
 *                                           are elements 0..15, high 16..31
 * K-quants (256-element super-blocks, 8 or 16 sub-blocks):
 *   Q4_K: { f16 d, dmin; u8 scales[12]; u8 qs[128]; }        144 bytes
 *   Q5_K: { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; } 176 bytes
 *         x = d * sc[s] * q - dmin * m[s], 6-bit sc/m packed in scales[];
 *         each 64 elements use 32 qs bytes: low nibbles first, then high;
 *         Q5_K's fifth bit of sub-block s, element l is bit s of qh[l]
 *   Q6_K: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }   210 bytes
 *         x = d * scales[s] * (q - 32), q = 4 bits of ql + 2 bits of qh
 * The quantizers here are simple (min/max per sub-block), not ggml's
 * search: they make valid blocks for tests and tools; dequantization is
 * exact to ggml's. */
#include "gguf/quant.h"

#include <errno.h>
#include <math.h>
#include <string.h>

float fp16_to_fp32(uint16_t h) {
        uint32_t sign = (uint32_t) (h & 0x8000) << 16;
        uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
        if (exp == 0x1f) {
                bits = sign | 0x7f800000 | (mant << 13);
        } else if (exp == 0) {
                if (mant == 0) {
                        bits = sign;
                } else { /* subnormal: normalise */
                        int e = -1;
                        do {
                                e++;
                                mant <<= 1;
                        } while (!(mant & 0x400));
                        bits = sign | ((uint32_t) (127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
                }
        } else {
                bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
        }
        float f;
        memcpy(&f, &bits, 4);
        return f;
}

uint16_t fp32_to_fp16(float f) {
        uint32_t x;
        memcpy(&x, &f, 4);
        uint32_t sign = (x >> 16) & 0x8000;
        int32_t exp = (int32_t) ((x >> 23) & 0xff) - 127 + 15;
        uint32_t mant = x & 0x7fffff;
        if (((x >> 23) & 0xff) == 0xff) /* inf / nan */
                return (uint16_t) (sign | 0x7c00 | (mant ? 0x200 : 0));
        if (exp >= 0x1f)
                return (uint16_t) (sign | 0x7c00);
        if (exp <= 0) { /* subnormal or zero */
                if (exp < -10)
                        return (uint16_t) sign;
                mant |= 0x800000;
                uint32_t shift = (uint32_t) (14 - exp);
                uint32_t half = mant >> shift;
                uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
                if (rem > mid || (rem == mid && (half & 1)))
                        half++;
                return (uint16_t) (sign | half);
        }
        uint32_t h = sign | ((uint32_t) exp << 10) | (mant >> 13);
        uint32_t rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
                h++; /* may carry into the exponent, which is right */
        return (uint16_t) h;
}

float bf16_to_fp32(uint16_t h) {
        uint32_t bits = (uint32_t) h << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
}

uint16_t fp32_to_bf16(float f) {
        uint32_t x;
        memcpy(&x, &f, 4);
        if ((x & 0x7fffffff) > 0x7f800000)
                return (uint16_t) ((x >> 16) | 64); /* quiet nan */
        x += 0x7fff + ((x >> 16) & 1);
        return (uint16_t) (x >> 16);
}

/* ---- K-quants ---- */

static uint64_t k_block_bytes(uint32_t type) {
        return type == GGML_TYPE_Q4_K ? 144 : type == GGML_TYPE_Q5_K ? 176 : 210;
}

static float rd_f16(const uint8_t *p) {
        uint16_t h;
        memcpy(&h, p, 2);
        return fp16_to_fp32(h);
}

static void wr_f16(uint8_t *p, float f) {
        uint16_t h = fp32_to_fp16(f);
        memcpy(p, &h, 2);
}

/* The 6-bit scale and min of sub-block j from the 12 packed bytes q:
 * j < 4 in the low 6 bits of q[j] and q[j+4]; j >= 4 in the nibbles of
 * q[j+4] with their top 2 bits in the top bits of q[j-4] and q[j]. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
        if (j < 4) {
                *sc = q[j] & 63;
                *m = q[j + 4] & 63;
        } else {
                *sc = (uint8_t) ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
                *m = (uint8_t) ((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
        }
}

static void pack_scale_min_k4(const uint8_t sc[8], const uint8_t m[8], uint8_t q[12]) {
        for (int j = 0; j < 4; j++) {
                q[j] = (uint8_t) ((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
                q[j + 4] = (uint8_t) ((m[j] & 63) | ((m[j + 4] >> 4) << 6));
                q[j + 8] = (uint8_t) ((sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4));
        }
}

static void dequant_k(uint32_t type, const uint8_t *b, float *y) {
        if (type == GGML_TYPE_Q6_K) {
                const uint8_t *ql = b, *qh = b + 128;
                const int8_t *sc = (const int8_t *) (b + 192);
                float d = rd_f16(b + 208);
                for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128)
                        for (int l = 0; l < 32; l++) {
                                int is = l / 16;
                                y[l] = d * sc[is] * ((int) ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32);
                                y[l + 32] = d * sc[is + 2] * ((int) ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
                                y[l + 64] = d * sc[is + 4] * ((int) ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                                y[l + 96] = d * sc[is + 6] * ((int) ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                        }
                return;
        }
        bool q5 = type == GGML_TYPE_Q5_K;
        float d = rd_f16(b), dmin = rd_f16(b + 2);
        const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + (q5 ? 48 : 16);
        for (int c = 0; c < 4; c++, qs += 32) {
                for (int h = 0; h < 2; h++) {
                        int s = 2 * c + h;
                        uint8_t sc, m;
                        scale_min_k4(s, scales, &sc, &m);
                        float d1 = d * sc, m1 = dmin * m;
                        for (int l = 0; l < 32; l++) {
                                int q = h ? qs[l] >> 4 : qs[l] & 0xf;
                                if (q5 && (qh[l] >> s) & 1)
                                        q += 16;
                                *y++ = d1 * (float) q - m1;
                        }
                }
        }
}

static int clampi(int v, int lo, int hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

static void quant_k(uint32_t type, const float *x, uint8_t *b) {
        if (type == GGML_TYPE_Q6_K) {
                float s[16], amax = 0;
                for (int j = 0; j < 16; j++) {
                        float a = 0;
                        for (int l = 0; l < 16; l++)
                                a = fmaxf(a, fabsf(x[16 * j + l]));
                        s[j] = a / 31.0f;
                        amax = fmaxf(amax, s[j]);
                }
                float d = amax / 127.0f;
                wr_f16(b + 208, d);
                d = fp16_to_fp32(fp32_to_fp16(d));
                int8_t sc[16];
                for (int j = 0; j < 16; j++)
                        sc[j] = (int8_t) (d ? clampi((int) lroundf(s[j] / d), 0, 127) : 0);
                memcpy(b + 192, sc, 16);
                memset(b, 0, 192);
                for (int i = 0; i < 256; i++) {
                        int j = i / 16;
                        float step = d * sc[j];
                        int q = step ? clampi((int) lroundf(x[i] / step), -32, 31) + 32 : 32;
                        /* where element i lives: half, quarter, lane */
                        int half = i / 128, qd = (i % 128) / 32, l = i % 32;
                        uint8_t *ql = b + 64 * half + l + (qd & 1) * 32, *qh = b + 128 + 32 * half + l;
                        *ql |= (uint8_t) (qd < 2 ? (q & 0xf) : (q & 0xf) << 4);
                        *qh |= (uint8_t) ((q >> 4) << (2 * qd));
                }
                return;
        }
        bool q5 = type == GGML_TYPE_Q5_K;
        int qmax = q5 ? 31 : 15;
        float scale[8], mn[8], smax = 0, mmax = 0;
        for (int s = 0; s < 8; s++) {
                float lo = 0, hi = 0; /* the min is stored negated and >= 0 */
                for (int l = 0; l < 32; l++) {
                        lo = fminf(lo, x[32 * s + l]);
                        hi = fmaxf(hi, x[32 * s + l]);
                }
                scale[s] = (hi - lo) / (float) qmax;
                mn[s] = -lo;
                smax = fmaxf(smax, scale[s]);
                mmax = fmaxf(mmax, mn[s]);
        }
        float d = smax / 63.0f, dmin = mmax / 63.0f;
        wr_f16(b, d);
        wr_f16(b + 2, dmin);
        d = rd_f16(b);
        dmin = rd_f16(b + 2);
        uint8_t sc[8], m[8];
        for (int s = 0; s < 8; s++) {
                sc[s] = (uint8_t) (d ? clampi((int) lroundf(scale[s] / d), 0, 63) : 0);
                m[s] = (uint8_t) (dmin ? clampi((int) lroundf(mn[s] / dmin), 0, 63) : 0);
        }
        pack_scale_min_k4(sc, m, b + 4);
        uint8_t *qh = b + 16, *qs = b + (q5 ? 48 : 16);
        memset(b + 16, 0, q5 ? 160 : 128);
        for (int s = 0; s < 8; s++) {
                float step = d * sc[s], off = dmin * m[s];
                for (int l = 0; l < 32; l++) {
                        int q = step ? clampi((int) lroundf((x[32 * s + l] + off) / step), 0, qmax) : 0;
                        qs[32 * (s / 2) + l] |= (uint8_t) (s % 2 ? (q & 0xf) << 4 : q & 0xf);
                        if (q5 && q > 15)
                                qh[l] |= (uint8_t) (1u << s);
                }
        }
}

bool ggml_can_dequantize(uint32_t type) {
        switch (type) {
        case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16:
        case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0:
        case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K:
                return true;
        default:
                return false;
        }
}

bool ggml_can_quantize(uint32_t type) {
        return ggml_can_dequantize(type);
}

int ggml_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n) {
        const uint8_t *p = src;
        switch (type) {
        case GGML_TYPE_F32:
                memcpy(dst, src, n * 4);
                return 0;
        case GGML_TYPE_F16:
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h;
                        memcpy(&h, p + 2 * i, 2);
                        dst[i] = fp16_to_fp32(h);
                }
                return 0;
        case GGML_TYPE_BF16:
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h;
                        memcpy(&h, p + 2 * i, 2);
                        dst[i] = bf16_to_fp32(h);
                }
                return 0;
        case GGML_TYPE_Q8_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 34) {
                        uint16_t h;
                        memcpy(&h, p, 2);
                        float d = fp16_to_fp32(h);
                        for (int j = 0; j < 32; j++)
                                dst[b * 32 + j] = d * (float) (int8_t) p[2 + j];
                }
                return 0;
        case GGML_TYPE_Q4_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 18) {
                        uint16_t h;
                        memcpy(&h, p, 2);
                        float d = fp16_to_fp32(h);
                        for (int j = 0; j < 16; j++) {
                                dst[b * 32 + j] = d * (float) ((p[2 + j] & 0x0f) - 8);
                                dst[b * 32 + j + 16] = d * (float) ((p[2 + j] >> 4) - 8);
                        }
                }
                return 0;
        case GGML_TYPE_Q4_K:
        case GGML_TYPE_Q5_K:
        case GGML_TYPE_Q6_K:
                if (n % 256)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 256; b++)
                        dequant_k(type, p + b * k_block_bytes(type), dst + b * 256);
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

int ggml_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n) {
        uint8_t *p = dst;
        switch (type) {
        case GGML_TYPE_F32:
                memcpy(dst, src, n * 4);
                return 0;
        case GGML_TYPE_F16:
        case GGML_TYPE_BF16:
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h = type == GGML_TYPE_F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
                        memcpy(p + 2 * i, &h, 2);
                }
                return 0;
        case GGML_TYPE_Q8_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 34) {
                        const float *x = src + b * 32;
                        float amax = 0;
                        for (int j = 0; j < 32; j++)
                                amax = fmaxf(amax, fabsf(x[j]));
                        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
                        uint16_t h = fp32_to_fp16(d);
                        memcpy(p, &h, 2);
                        for (int j = 0; j < 32; j++)
                                p[2 + j] = (uint8_t) (int8_t) roundf(x[j] * id);
                }
                return 0;
        case GGML_TYPE_Q4_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 18) {
                        const float *x = src + b * 32;
                        float amax = 0, max = 0;
                        for (int j = 0; j < 32; j++)
                                if (fabsf(x[j]) > amax) {
                                        amax = fabsf(x[j]);
                                        max = x[j];
                                }
                        float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
                        uint16_t h = fp32_to_fp16(d);
                        memcpy(p, &h, 2);
                        for (int j = 0; j < 16; j++) {
                                int q0 = (int) (x[j] * id + 8.5f), q1 = (int) (x[j + 16] * id + 8.5f);
                                q0 = q0 > 15 ? 15 : q0;
                                q1 = q1 > 15 ? 15 : q1;
                                p[2 + j] = (uint8_t) (q0 | (q1 << 4));
                        }
                }
                return 0;
        case GGML_TYPE_Q4_K:
        case GGML_TYPE_Q5_K:
        case GGML_TYPE_Q6_K:
                if (n % 256)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 256; b++)
                        quant_k(type, src + b * 256, p + b * k_block_bytes(type));
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}
