/* The i-quants of 1 and 2 bits (ggml-common.h), dequantized exactly as
 * ggml's dequantize_row_* do (the same float operations in the same order).
 * All are 256-element super-blocks of 8 sub-blocks of 32, each sub-block 4
 * groups of 8 elements; a group is an index into a grid of 8-element
 * vectors (iq2-grids.h, iq1-grids.h):
 *   IQ2_XXS: { f16 d; u16 qs[32]; }                                66 bytes
 *            sub-block s: the two words at qs[4s]: the first 4 bytes are
 *            the groups' indices into iq2xxs_grid (256 entries of
 *            magnitudes 8, 25, 43); the second word holds a 4-bit scale in
 *            bits 28..31, db = d * (0.5 + scale) * 0.25, and four 7-bit
 *            sign fields, one per group, the eighth sign being their parity
 *            (ksigns_iq2xs); x = db * grid * sign
 *   IQ2_XS:  { f16 d; u16 qs[32]; u8 scales[8]; }                  74 bytes
 *            group g of sub-block s: qs[4s + g] = 9-bit index into
 *            iq2xs_grid (512) | 7-bit sign field << 9; scales[s] holds two
 *            nibbles, the low one for groups 0, 1 and the high one for 2, 3:
 *            db = d * (0.5 + nibble) * 0.25
 *   IQ2_S:   { f16 d; u8 qs[32]; u8 signs[32]; u8 qh[8]; u8 scales[8]; } 82
 *            group g of sub-block s: index qs[4s + g] | bits 2g..2g+1 of
 *            qh[s] << 8 into iq2s_grid (1024), its 8 signs the bits of
 *            signs[4s + g]; scales as IQ2_XS's
 *   IQ1_S:   { f16 d; u8 qs[32]; u16 qh[8]; }                      50 bytes
 *            group g of sub-block s: index qs[4s + g] | bits 3g..3g+2 of
 *            qh[s] << 8 into iq1s_grid (2048 entries of -1, 0, 1); bits
 *            12..14 of qh[s] are a scale, dl = d * (2 * scale + 1), bit 15
 *            the sign of delta = +-0.125: x = dl * (grid + delta)
 *   IQ1_M:   { u8 qs[32]; u8 qh[16]; u8 scales[8]; }               56 bytes
 *            group g of sub-block s: index qs[4s + g] | 3 bits of
 *            qh[2s + g / 2] (bits 0..2 for even g, 4..6 for odd) << 8, the
 *            sign of its delta the next bit (3 or 7); the 4 halfwords of
 *            scales hold 3-bit scales, those of sub-block s at bits
 *            6 * (s % 2) of halfword s / 2 (groups 0, 1) and 3 above (2, 3),
 *            dl = d * (2 * scale + 1); d is the f16 made of the top nibbles
 *            of the 4 halfwords, the first one lowest */
#include "gguf/quant-codec.h"

#include "iq1-grids.h"
#include "iq2-grids.h"

/* IQ1S_DELTA */
#define IQ1_DELTA 0.125f

static uint32_t rd_u32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

static unsigned rd_u16(const uint8_t *p) {
        return p[0] | (unsigned) p[1] << 8;
}

/* The 16 bits of grid entry i: 8 two-bit codes (iq2-grids.h). */
static unsigned grid_entry(const uint32_t *grid, unsigned i) {
        return (grid[i / 2] >> 16 * (i % 2)) & 0xffff;
}

/* ksigns_iq2xs: 7 sign bits and their parity as the eighth. */
static unsigned ksigns(unsigned i) {
        return i | (unsigned) (__builtin_popcount(i) & 1) << 7;
}

/* One group of an IQ2 type: db * magnitude * sign, as ggml computes it. */
static void iq2_group(float *y, float db, unsigned entry, unsigned signs) {
        static const uint8_t mag[3] = {8, 25, 43};
        for (int j = 0; j < 8; j++)
                y[j] = db * (float) mag[(entry >> 2 * j) & 3] * (signs >> j & 1 ? -1.f : 1.f);
}

void dequant_iq2_xxs(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        for (int s = 0; s < 8; s++) {
                const uint8_t *q = b + 2 + 8 * s;
                uint32_t aux = rd_u32(q + 4);
                float db = d * (0.5f + (float) (aux >> 28)) * 0.25f;
                for (int g = 0; g < 4; g++, y += 8)
                        iq2_group(y, db, grid_entry(iq2xxs_grid, q[g]), ksigns((aux >> 7 * g) & 127));
        }
}

void dequant_iq2_xs(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        for (int s = 0; s < 8; s++) {
                unsigned sc = b[66 + s];
                float db[2] = {d * (0.5f + (float) (sc & 0xf)) * 0.25f, d * (0.5f + (float) (sc >> 4)) * 0.25f};
                for (int g = 0; g < 4; g++, y += 8) {
                        unsigned q = rd_u16(b + 2 + 8 * s + 2 * g);
                        iq2_group(y, db[g / 2], grid_entry(iq2xs_grid, q & 511), ksigns(q >> 9));
                }
        }
}

void dequant_iq2_s(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        const uint8_t *qs = b + 2, *signs = b + 34, *qh = b + 66, *scales = b + 74;
        for (int s = 0; s < 8; s++) {
                float db[2] = {d * (0.5f + (float) (scales[s] & 0xf)) * 0.25f,
                               d * (0.5f + (float) (scales[s] >> 4)) * 0.25f};
                for (int g = 0; g < 4; g++, y += 8) {
                        unsigned idx = qs[4 * s + g] | ((qh[s] << (8 - 2 * g)) & 0x300);
                        iq2_group(y, db[g / 2], grid_entry(iq2s_grid, idx), signs[4 * s + g]);
                }
        }
}

/* One group of IQ1_S/IQ1_M: dl * (value + delta), the value code - 1. */
static void iq1_group(float *y, float dl, float delta, unsigned idx) {
        unsigned entry = grid_entry(iq1s_grid, idx);
        for (int j = 0; j < 8; j++)
                y[j] = dl * ((float) ((int) ((entry >> 2 * j) & 3) - 1) + delta);
}

void dequant_iq1_s(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b);
        for (int s = 0; s < 8; s++) {
                unsigned qh = rd_u16(b + 34 + 2 * s);
                float dl = d * (float) (2 * ((qh >> 12) & 7) + 1);
                float delta = qh & 0x8000 ? -IQ1_DELTA : IQ1_DELTA;
                for (int g = 0; g < 4; g++, y += 8)
                        iq1_group(y, dl, delta, b[2 + 4 * s + g] | (((qh >> 3 * g) & 7) << 8));
        }
}

void dequant_iq1_m(const uint8_t *b, float *y) {
        const uint8_t *qs = b, *qh = b + 32;
        unsigned sc[4];
        for (int i = 0; i < 4; i++)
                sc[i] = rd_u16(b + 48 + 2 * i);
        uint16_t h = (uint16_t) ((sc[0] >> 12) | ((sc[1] >> 8) & 0xf0) | ((sc[2] >> 4) & 0xf00) | (sc[3] & 0xf000));
        float d = fp16_to_fp32(h);
        for (int s = 0; s < 8; s++) {
                float dl[2] = {d * (float) (2 * ((sc[s / 2] >> 6 * (s % 2)) & 7) + 1),
                               d * (float) (2 * ((sc[s / 2] >> (6 * (s % 2) + 3)) & 7) + 1)};
                for (int g = 0; g < 4; g++, y += 8) {
                        unsigned h8 = qh[2 * s + g / 2] >> 4 * (g % 2);
                        float delta = h8 & 8 ? -IQ1_DELTA : IQ1_DELTA;
                        iq1_group(y, dl[g / 2], delta, qs[4 * s + g] | ((h8 & 7) << 8));
                }
        }
}
