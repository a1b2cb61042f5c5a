/* The ternary types (BitNet b1.58, TriLM), 256 elements of -1, 0, +1 times
 * one f16 d; layouts as in ggml-common.h:
 *   TQ1_0: { u8 qs[48]; u8 qh[4]; f16 d; }  54 bytes, 1.6875 bits/weight
 *          five trits per byte of qs, four per byte of qh, packed as the
 *          fraction byte / 256 in base 3: trit n of byte v is the integer
 *          part of 3 * (v * 3^n mod 256) / 256.  Elements: qs[0..31] hold
 *          0..159 (trit n of byte m is element 32n + m), qs[32..47] hold
 *          160..239 (element 160 + 16n + m), qh[0..3] 240..255 (element
 *          240 + 4n + m).
 *   TQ2_0: { u8 qs[64]; f16 d; }            66 bytes, 2.0625 bits/weight
 *          2 bits per element: element 128h + 32l + m is bits 2l of
 *          qs[32h + m], stored + 1.
 * x = (t - 1) * d for the stored trit t in 0..2 (exact: one product). */
#include "gguf/quant-codec.h"

/* Trit n of byte v. */
static int trit(uint8_t v, int n) {
        static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
        uint8_t q = (uint8_t) (v * pow3[n]);
        return (q * 3) >> 8;
}

void dequant_tq1_0(const uint8_t *b, float *y) {
        const uint8_t *qs = b, *qh = b + 48;
        float d = quant_rd_f16(b + 52);
        for (int n = 0; n < 5; n++)
                for (int m = 0; m < 32; m++)
                        y[32 * n + m] = (float) (trit(qs[m], n) - 1) * d;
        for (int n = 0; n < 5; n++)
                for (int m = 0; m < 16; m++)
                        y[160 + 16 * n + m] = (float) (trit(qs[32 + m], n) - 1) * d;
        for (int n = 0; n < 4; n++)
                for (int m = 0; m < 4; m++)
                        y[240 + 4 * n + m] = (float) (trit(qh[m], n) - 1) * d;
}

void dequant_tq2_0(const uint8_t *b, float *y) {
        float d = quant_rd_f16(b + 64);
        for (int e = 0; e < 256; e++) {
                int q = (b[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                y[e] = (float) (q - 1) * d;
        }
}
