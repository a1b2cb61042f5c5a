// The i-quants of 3 and 4 bits. TODO(helper): layouts.
#if defined(WTYPE_IQ4_NL) || defined(WTYPE_IQ4_XS) || defined(WTYPE_IQ3_XXS) || defined(WTYPE_IQ3_S)
float dequant(uint row, uint k) {
        return 0.0; // TODO(helper)
}
#endif
