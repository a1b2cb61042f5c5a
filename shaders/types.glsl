// GGUF weight layouts and their dequantization. The weight buffer is read
// as 32-bit words (WDATA must name a uint[] declared before this include), so
// no 8/16-bit storage feature is needed. Offsets are in bytes within the
// bound range. Exactly one WTYPE_* is defined per variant.
//   F32, F16, BF16: plain arrays
//   Q8_0: { f16 d; i8 qs[32]; }  34 bytes, x = d * q
//   Q4_0: { f16 d; u8 qs[16]; }  18 bytes, x = d * (nibble - 8); the low
//         nibbles are elements 0..15, the high ones 16..31
//   Q4_K: { f16 d, dmin; u8 scales[12]; u8 qs[128]; }  144 bytes per 256
//   Q5_K: { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; }  176
//         x = d * sc[s] * q - dmin * m[s] for sub-block s = k / 32; each 64
//         elements take 32 qs bytes, low nibbles then high; Q5_K's fifth
//         bit is bit s of qh[k % 32]
//   Q6_K: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }  210 bytes
//         x = d * scales[s] * (q - 32), s = k / 16 in ggml's interleaving

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
#elif defined(WTYPE_Q4_K)
#define QK 256
#define BLOCK_BYTES 144
#elif defined(WTYPE_Q5_K)
#define QK 256
#define BLOCK_BYTES 176
#elif defined(WTYPE_Q6_K)
#define QK 256
#define BLOCK_BYTES 210
#else
#define QK 1
#endif

#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// The 6-bit scale (x) and min (y) of sub-block j, packed in the 12 bytes at
// `sb`: j < 4 in the low 6 bits of bytes j and j+4; j >= 4 in the nibbles of
// byte j+4, the top 2 bits in the top bits of bytes j-4 and j.
uvec2 scale_min_k4(uint sb, uint j) {
        if (j < 4u)
                return uvec2(w_u8(sb + j) & 63u, w_u8(sb + j + 4u) & 63u);
        uint lo = w_u8(sb + j + 4u);
        return uvec2((lo & 15u) | ((w_u8(sb + j - 4u) >> 6) << 4), (lo >> 4) | ((w_u8(sb + j) >> 6) << 4));
}
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
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint s = j / 32u, l = j % 32u;
#if defined(WTYPE_Q5_K)
        uint qs = b + 48u;
#else
        uint qs = b + 16u;
#endif
        uint q = w_u8(qs + 32u * (s / 2u) + l);
        q = (s & 1u) != 0u ? q >> 4 : q & 15u;
#if defined(WTYPE_Q5_K)
        q += ((w_u8(b + 16u + l) >> s) & 1u) * 16u;
#endif
        uvec2 sm = scale_min_k4(b + 4u, s);
        return w_f16(b) * float(sm.x) * float(q) - w_f16(b + 2u) * float(sm.y);
#elif defined(WTYPE_Q6_K)
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint half_ = j / 128u, qd = (j % 128u) / 32u, l = j % 32u;
        uint ql = w_u8(b + 64u * half_ + l + 32u * (qd & 1u));
        ql = qd < 2u ? ql & 15u : ql >> 4;
        uint qh = (w_u8(b + 128u + 32u * half_ + l) >> (2u * qd)) & 3u;
        int sc = sext8(w_u8(b + 192u + 8u * half_ + l / 16u + 2u * qd));
        return w_f16(b + 208u) * float(sc) * float(int(ql | (qh << 4)) - 32);
#else
#error "define one WTYPE_*"
#endif
}
