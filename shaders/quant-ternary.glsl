// The ternary types. TODO(helper): layouts.
#if defined(WTYPE_TQ1_0) || defined(WTYPE_TQ2_0)
float dequant(uint row, uint k) {
        return 0.0; // TODO(helper)
}
#endif
