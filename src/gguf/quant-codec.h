/* Internal to src/gguf: one block of each quantized type to and from f32.
 * quant.c's table maps a type to these; the layouts are ggml's
 * (ggml-common.h) and each file's header comment describes its own.
 *   quant-legacy.c  Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 (32-element blocks)
 *   quant-k.c       Q2_K Q3_K Q4_K Q5_K Q6_K (256-element super-blocks)
 *   quant-iq4-iq3.c IQ4_NL IQ4_XS IQ3_XXS IQ3_S
 *   quant-iq2-iq1.c IQ2_XXS IQ2_XS IQ2_S IQ1_S IQ1_M
 *   quant-ternary.c TQ1_0 TQ2_0 */
#pragma once

#include <stdint.h>
#include <string.h>

#include "gguf/quant.h"

/* Dequantizes one block at b into its block_size floats at y. */
typedef void quant_dequant_fn(const uint8_t *b, float *y);
/* Quantizes block_size floats at x into one block at b. */
typedef void quant_quant_fn(const float *x, uint8_t *b);

static inline float quant_rd_f16(const uint8_t *p) {
        uint16_t h;
        memcpy(&h, p, 2);
        return fp16_to_fp32(h);
}

static inline void quant_wr_f16(uint8_t *p, float f) {
        uint16_t h = fp32_to_fp16(f);
        memcpy(p, &h, 2);
}

quant_dequant_fn dequant_q4_0, dequant_q4_1, dequant_q5_0, dequant_q5_1, dequant_q8_0;
quant_quant_fn quant_q4_0, quant_q8_0;

quant_dequant_fn dequant_q2_k, dequant_q3_k, dequant_q4_k, dequant_q5_k, dequant_q6_k;
quant_quant_fn quant_q4_k, quant_q5_k, quant_q6_k;

quant_dequant_fn dequant_iq1_s, dequant_iq1_m, dequant_iq2_xxs, dequant_iq2_xs, dequant_iq2_s, dequant_iq3_xxs,
        dequant_iq3_s, dequant_iq4_nl, dequant_iq4_xs;

quant_dequant_fn dequant_tq1_0, dequant_tq2_0;
