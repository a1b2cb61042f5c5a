/* K-quants: 256-element super-blocks of 8 or 16 sub-blocks, each with its
 * own scale (and min), the scales quantized against one f16 d (and dmin).
 * Layouts as in ggml-common.h:
 *   Q2_K: { u8 scales[16]; u8 qs[64]; f16 d, dmin; }          84 bytes
 *         x = d * (sc & 15) * q - dmin * (sc >> 4), sc = scales[k / 16]
 *   Q3_K: { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d; } 110 bytes
 *         x = d * (s - 32) * (q - 4 * !h), s the 6-bit scale k / 16
 *         (nibbles in scales[0..7], top 2 bits in scales[8..11]), h bit
 *         k / 32 of hmask[k % 32]
 *         both: each 128 elements use 32 qs bytes, 2 bits per 32 elements:
 *         q of k is bits 2 * ((k % 128) / 32) of qs[32 * (k / 128) + k % 32]
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
#include "gguf/quant-codec.h"

#include <math.h>
#include <stdbool.h>

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
                float d = quant_rd_f16(b + 208);
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
        float d = quant_rd_f16(b), dmin = quant_rd_f16(b + 2);
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
                quant_wr_f16(b + 208, d);
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
        quant_wr_f16(b, d);
        quant_wr_f16(b + 2, dmin);
        d = quant_rd_f16(b);
        dmin = quant_rd_f16(b + 2);
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

/* Q2_K and Q3_K: element e has scale e / 16 and its 2 low bits at bits
 * 2 * c of qs[32 * (e / 128) + e % 32], c = (e % 128) / 32. Computed as
 * ggml computes them (dl * q - ml; dl * q), so bit-identical. */
void dequant_q2_k(const uint8_t *b, float *y) {
        const uint8_t *scales = b, *qs = b + 16;
        float d = quant_rd_f16(b + 80), dmin = quant_rd_f16(b + 82);
        for (int e = 0; e < 256; e++) {
                uint8_t sc = scales[e / 16];
                float dl = d * (float) (sc & 0xf), ml = dmin * (float) (sc >> 4);
                int q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                y[e] = dl * (float) q - ml;
        }
}

/* The 6-bit scale s of Q3_K (stored + 32): its low nibble in byte s % 8 of
 * the 12 (high nibble for s >= 8), its top 2 bits at bit 2 * (s / 4) of
 * byte 8 + s % 4. */
static int scale_q3_k(const uint8_t *sc, int s) {
        int lo = s < 8 ? sc[s] & 0xf : sc[s - 8] >> 4;
        int hi = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
        return (lo | hi << 4) - 32;
}

void dequant_q3_k(const uint8_t *b, float *y) {
        const uint8_t *hmask = b, *qs = b + 32, *scales = b + 96;
        float d = quant_rd_f16(b + 108);
        for (int e = 0; e < 256; e++) {
                float dl = d * (float) scale_q3_k(scales, e / 16);
                int q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                /* the third bit, bit e / 32 of hmask[e % 32], clear means q - 4 */
                if (!((hmask[e % 32] >> (e / 32)) & 1))
                        q -= 4;
                y[e] = dl * (float) q;
        }
}

void dequant_q4_k(const uint8_t *b, float *y) {
        dequant_k(GGML_TYPE_Q4_K, b, y);
}

void dequant_q5_k(const uint8_t *b, float *y) {
        dequant_k(GGML_TYPE_Q5_K, b, y);
}

void dequant_q6_k(const uint8_t *b, float *y) {
        dequant_k(GGML_TYPE_Q6_K, b, y);
}

void quant_q4_k(const float *x, uint8_t *b) {
        quant_k(GGML_TYPE_Q4_K, x, b);
}

void quant_q5_k(const float *x, uint8_t *b) {
        quant_k(GGML_TYPE_Q5_K, x, b);
}

void quant_q6_k(const float *x, uint8_t *b) {
        quant_k(GGML_TYPE_Q6_K, x, b);
}
