// GGUF weight layouts and their dequantization. The weight buffer is read
// as 32-bit words (WDATA must name a uint[] declared before this include), so
// no 8/16-bit storage feature is needed. Offsets are in bytes within the
// bound range. Exactly one WTYPE_* is defined per variant.
//   F32, F16, BF16: plain arrays
//   Q8_0: { f16 d; i8 qs[32]; }  34 bytes, x = d * q
//   Q4_0: { f16 d; u8 qs[16]; }  18 bytes, x = d * (nibble - 8); the low
//         nibbles are elements 0..15, the high ones 16..31

uint w_u8(uint b) {
        return (WDATA[b >> 2] >> ((b & 3u) * 8u)) & 0xffu;
}
// b must be even.
uint w_u16(uint b) {
        return (WDATA[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu;
}
float w_f16(uint b) {
        return unpackHalf2x16(w_u16(b)).x;
}
int sext8(uint v) {
        return int(v << 24) >> 24;
}

#if defined(WTYPE_Q8_0)
#define QK 32
#define BLOCK_BYTES 34
#elif defined(WTYPE_Q4_0)
#define QK 32
#define BLOCK_BYTES 18
#else
#define QK 1
#endif

// Element k of the row starting at byte `row`.
float dequant(uint row, uint k) {
#if defined(WTYPE_F32)
        return uintBitsToFloat(WDATA[(row >> 2) + k]);
#elif defined(WTYPE_F16)
        return w_f16(row + 2u * k);
#elif defined(WTYPE_BF16)
        return uintBitsToFloat(w_u16(row + 2u * k) << 16);
#elif defined(WTYPE_Q8_0)
        uint b = row + (k / 32u) * BLOCK_BYTES;
        return w_f16(b) * float(sext8(w_u8(b + 2u + (k % 32u))));
#elif defined(WTYPE_Q4_0)
        uint b = row + (k / 32u) * BLOCK_BYTES;
        uint j = k % 32u;
        uint q = w_u8(b + 2u + (j & 15u));
        q = j < 16u ? (q & 15u) : (q >> 4);
        return w_f16(b) * (float(q) - 8.0);
#else
#error "define one WTYPE_*"
#endif
}
