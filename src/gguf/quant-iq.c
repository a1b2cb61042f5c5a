/* The i-quants (IQ*): TODO(helper) describe the layouts. */
#include "gguf/quant-codec.h"

#include <stdlib.h>

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
