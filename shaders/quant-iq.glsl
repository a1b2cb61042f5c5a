// The i-quants. TODO(helper): layouts.
#if defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M) || defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || \
        defined(WTYPE_IQ2_S) || defined(WTYPE_IQ3_XXS) || defined(WTYPE_IQ3_S) || defined(WTYPE_IQ4_NL) || \
        defined(WTYPE_IQ4_XS)
float dequant(uint row, uint k) {
        return 0.0; // TODO(helper)
}
#endif
