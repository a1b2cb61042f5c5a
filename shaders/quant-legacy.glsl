// The legacy 32-element blocks (ggml-common.h):
//   Q4_0: { f16 d; u8 qs[16]; }                 x = d * (q - 8)
//   Q4_1: { f16 d, m; u8 qs[16]; }              x = d * q + m
//   Q5_0: { f16 d; u8 qh[4]; u8 qs[16]; }       x = d * (q - 16)
//   Q5_1: { f16 d, m; u8 qh[4]; u8 qs[16]; }    x = d * q + m
//   Q8_0: { f16 d; i8 qs[32]; }                 x = d * q
// 4-bit quants: the low nibbles of qs are elements 0..15, the high ones
// 16..31; the fifth bit of element j is bit j of the 32-bit word qh.
#if defined(WTYPE_Q4_0) || defined(WTYPE_Q4_1) || defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1) || defined(WTYPE_Q8_0)

float dequant(uint row, uint k) {
#if defined(WTYPE_Q8_0)
        uint b = row + (k / 32u) * BLOCK_BYTES;
        return w_f16(b) * float(sext8(w_u8(b + 2u + (k % 32u))));
#elif defined(WTYPE_Q4_0)
        uint b = row + (k / 32u) * BLOCK_BYTES;
        uint j = k % 32u;
        uint q = w_u8(b + 2u + (j & 15u));
        q = j < 16u ? (q & 15u) : (q >> 4);
        return w_f16(b) * (float(q) - 8.0);
#else
        return 0.0; // TODO(helper): Q4_1 Q5_0 Q5_1
#endif
}

#ifdef MATVEC
#if defined(WTYPE_Q8_0)
#define HAVE_DOT
// A whole Q8_0 block, read as 16 halfwords.
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 16u; i++) {
                uint v = w_u16(b + 2u + 2u * i);
                s += float(sext8(v & 0xffu)) * x[x0 + k0 + 2u * i] + float(sext8(v >> 8)) * x[x0 + k0 + 2u * i + 1u];
        }
        return s * w_f16(b);
}
#elif defined(WTYPE_Q4_0)
#define HAVE_DOT
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 8u; i++) {
                uint v = w_u16(b + 2u + 2u * i);
                uint j = 2u * i;
                s += (float(v & 15u) - 8.0) * x[x0 + k0 + j] + (float((v >> 8) & 15u) - 8.0) * x[x0 + k0 + j + 1u] +
                     (float((v >> 4) & 15u) - 8.0) * x[x0 + k0 + j + 16u] + (float(v >> 12) - 8.0) * x[x0 + k0 + j + 17u];
        }
        return s * w_f16(b);
}
#endif
#endif // MATVEC
#endif
