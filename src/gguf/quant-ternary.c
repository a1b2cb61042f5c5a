/* The ternary types TQ1_0 and TQ2_0: TODO(helper) describe the layouts. */
#include "gguf/quant-codec.h"

#include <stdlib.h>

void dequant_tq1_0(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}

void dequant_tq2_0(const uint8_t *b, float *y) {
        (void) b;
        (void) y;
        abort(); /* TODO(helper) */
}
