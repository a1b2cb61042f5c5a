// The i-quants of 1 and 2 bits. TODO(helper): layouts.
#if defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || defined(WTYPE_IQ2_S) || defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M)
float dequant(uint row, uint k) {
        return 0.0; // TODO(helper)
}
#endif
