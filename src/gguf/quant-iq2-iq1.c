/* The i-quants of 1 and 2 bits: IQ2_XXS IQ2_XS IQ2_S IQ1_S IQ1_M. TODO(helper) describe the layouts. */
#include "gguf/quant-codec.h"

#include <stdlib.h>

void dequant_iq2_xxs(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_iq2_xs(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_iq2_s(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_iq1_s(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_iq1_m(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}
