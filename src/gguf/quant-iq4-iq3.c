/* The i-quants of 3 and 4 bits (ggml-common.h), dequantized exactly as
 * ggml's dequantize_row_* do (the same float operations in the same order):
 *   IQ4_NL:  { f16 d; u8 qs[16]; }                                18 bytes
 *            32 elements: x = d * kvalues[q], q the low nibbles of qs for
 *            elements 0..15, the high ones for 16..31; kvalues are 16
 *            non-uniform levels -127 .. 113
 *   IQ4_XS:  { f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]; } 136 bytes
 *            8 sub-blocks of 32 as IQ4_NL's (16 qs bytes each), scale
 *            d * (ls - 32): ls = 6 bits, the low 4 in nibble s % 2 of
 *            scales_l[s / 2], the top 2 in bits 2s, 2s+1 of scales_h
 *   IQ3_XXS: { f16 d; u8 qs[64]; u32 signs_scales[8]; }            98 bytes
 *            sub-block s: 8 grid indices qs[8s..], each a group of 4
 *            magnitudes (iq3xxs_grid); word signs_scales[s] holds a 4-bit
 *            scale in bits 28..31, db = d * (0.5 + scale) * 0.5, and four
 *            7-bit sign fields, one per 8 elements, the eighth sign being
 *            their parity (ksigns_iq2xs); x = db * grid * sign
 *   IQ3_S:   { f16 d; u8 qs[64]; u8 qh[8]; u8 signs[32]; u8 scales[4]; } 110
 *            sub-block s: grid indices qs[8s + g] | bit g of qh[s] << 8
 *            (iq3s_grid, 512 groups of 4), the sign of element e is bit e of
 *            the 32 bits signs[4s..]; db = d * (1 + 2 * nibble s % 2 of
 *            scales[s / 2]); x = db * grid * sign */
#include "gguf/quant-codec.h"

#include "iq3-grids.h"

static float kvalue(unsigned q) {
        return (float) (int8_t) (kvalues_iq4nl[q / 4] >> (8 * (q % 4)));
}

static uint32_t rd_u32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

void dequant_iq4_nl(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        const uint8_t *qs = b + 2;
        for (int j = 0; j < 16; j++) {
                y[j] = d * kvalue(qs[j] & 0xf);
                y[j + 16] = d * kvalue(qs[j] >> 4);
        }
}

void dequant_iq4_xs(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        unsigned scales_h = b[2] | (unsigned) b[3] << 8;
        const uint8_t *scales_l = b + 4, *qs = b + 8;
        for (int s = 0; s < 8; s++, y += 32, qs += 16) {
                int ls = ((scales_l[s / 2] >> 4 * (s % 2)) & 0xf) | (((scales_h >> 2 * s) & 3) << 4);
                float dl = d * (float) (ls - 32);
                for (int j = 0; j < 16; j++) {
                        y[j] = dl * kvalue(qs[j] & 0xf);
                        y[j + 16] = dl * kvalue(qs[j] >> 4);
                }
        }
}

/* ksigns_iq2xs: 7 sign bits and their parity as the eighth. */
static unsigned ksigns(unsigned i) {
        return i | (unsigned) (__builtin_popcount(i) & 1) << 7;
}

void dequant_iq3_xxs(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        const uint8_t *qs = b + 2;
        for (int s = 0; s < 8; s++, qs += 8) {
                uint32_t aux = rd_u32(b + 66 + 4 * s);
                float db = d * (0.5f + (float) (aux >> 28)) * 0.5f;
                for (int l = 0; l < 4; l++, y += 8) {
                        unsigned signs = ksigns((aux >> 7 * l) & 127);
                        uint32_t g1 = iq3xxs_grid[qs[2 * l]], g2 = iq3xxs_grid[qs[2 * l + 1]];
                        for (int j = 0; j < 4; j++) {
                                y[j] = db * (float) ((g1 >> 8 * j) & 0xff) * (signs >> j & 1 ? -1.f : 1.f);
                                y[j + 4] = db * (float) ((g2 >> 8 * j) & 0xff) * (signs >> (j + 4) & 1 ? -1.f : 1.f);
                        }
                }
        }
}

void dequant_iq3_s(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        const uint8_t *qs = b + 2, *qh = b + 66, *signs = b + 74, *scales = b + 106;
        for (int s = 0; s < 8; s++, qs += 8, signs += 4) {
                float db = d * (float) (1 + 2 * ((scales[s / 2] >> 4 * (s % 2)) & 0xf));
                for (int l = 0; l < 4; l++, y += 8) {
                        uint32_t g1 = iq3s_grid[qs[2 * l] | ((qh[s] << (8 - 2 * l)) & 256)];
                        uint32_t g2 = iq3s_grid[qs[2 * l + 1] | ((qh[s] << (7 - 2 * l)) & 256)];
                        for (int j = 0; j < 4; j++) {
                                y[j] = db * (float) ((g1 >> 8 * j) & 0xff) * (signs[l] >> j & 1 ? -1.f : 1.f);
                                y[j + 4] = db * (float) ((g2 >> 8 * j) & 0xff) * (signs[l] >> (j + 4) & 1 ? -1.f : 1.f);
                        }
                }
        }
}
