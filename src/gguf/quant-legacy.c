/* The legacy 32-element blocks, layouts as in ggml-common.h:
 *   Q4_0: { f16 d; u8 qs[16]; }                 x = d * (q - 8)
 *   Q4_1: { f16 d, m; u8 qs[16]; }              x = d * q + m
 *   Q5_0: { f16 d; u8 qh[4]; u8 qs[16]; }       x = d * (q - 16)
 *   Q5_1: { f16 d, m; u8 qh[4]; u8 qs[16]; }    x = d * q + m
 *   Q8_0: { f16 d; i8 qs[32]; }                 x = d * q
 * 4-bit quants: the low nibbles of qs are elements 0..15, the high ones
 * 16..31; the fifth bit of element j is bit j of the 32-bit word qh. */
#include "gguf/quant-codec.h"

#include <math.h>

void dequant_q8_0(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        for (int j = 0; j < 32; j++)
                y[j] = d * (float) (int8_t) b[2 + j];
}

void dequant_q4_0(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        for (int j = 0; j < 16; j++) {
                y[j] = d * (float) ((b[2 + j] & 0x0f) - 8);
                y[j + 16] = d * (float) ((b[2 + j] >> 4) - 8);
        }
}

/* The float operations are ggml's, in its order (q * d + m, not fused),
 * so the results are bit-identical to dequantize_row_*. */
void dequant_q4_1(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b), m = quant_rd_f16(b + 2);
        for (int j = 0; j < 16; j++) {
                y[j] = (float) (b[4 + j] & 0x0f) * d + m;
                y[j + 16] = (float) (b[4 + j] >> 4) * d + m;
        }
}

/* The 5-bit quant of element j: its nibble and bit j of qh. */
static int q5(const uint8_t *qs, uint32_t qh, int j) {
        int lo = j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
        return lo | (int) ((qh >> j) & 1) << 4;
}

void dequant_q5_0(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        for (int j = 0; j < 32; j++)
                y[j] = (float) (q5(b + 6, qh, j) - 16) * d;
}

void dequant_q5_1(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b), m = quant_rd_f16(b + 2);
        uint32_t qh;
        memcpy(&qh, b + 4, 4);
        for (int j = 0; j < 32; j++)
                y[j] = (float) q5(b + 8, qh, j) * d + m;
}

void quant_q8_0(const float *x, uint8_t *b) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        quant_wr_f16(b, d);
        for (int j = 0; j < 32; j++)
                b[2 + j] = (uint8_t) (int8_t) roundf(x[j] * id);
}

void quant_q4_0(const float *x, uint8_t *b) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
                if (fabsf(x[j]) > amax) {
                        amax = fabsf(x[j]);
                        max = x[j];
                }
        float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
        quant_wr_f16(b, d);
        for (int j = 0; j < 16; j++) {
                int q0 = (int) (x[j] * id + 8.5f), q1 = (int) (x[j + 16] * id + 8.5f);
                q0 = q0 > 15 ? 15 : q0;
                q1 = q1 > 15 ? 15 : q1;
                b[2 + j] = (uint8_t) (q0 | (q1 << 4));
        }
}
