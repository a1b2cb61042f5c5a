/* The i-quants of 3 and 4 bits: IQ4_NL IQ4_XS IQ3_XXS IQ3_S. TODO(helper) describe the layouts. */
#include "gguf/quant-codec.h"

#include <stdlib.h>

void dequant_iq4_nl(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_iq4_xs(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_iq3_xxs(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_iq3_s(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}
