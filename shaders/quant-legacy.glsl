// The legacy 32-element blocks (ggml-common.h):
//   Q4_0: { f16 d; u8 qs[16]; }                 x = d * (q - 8)
//   Q4_1: { f16 d, m; u8 qs[16]; }              x = d * q + m
//   Q5_0: { f16 d; u8 qh[4]; u8 qs[16]; }       x = d * (q - 16)
//   Q5_1: { f16 d, m; u8 qh[4]; u8 qs[16]; }    x = d * q + m
//   Q8_0: { f16 d; i8 qs[32]; }                 x = d * q
// 4-bit quants: the low nibbles of qs are elements 0..15, the high ones
// 16..31; the fifth bit of element j is bit j of the 32-bit word qh.
// Blocks of 20 and 24 bytes (Q4_1, Q5_1) are word aligned, the others only
// 16-bit aligned. dequant() computes in ggml's order, `precise` so that no
// multiply-add is fused (get_rows is exact).
#if defined(WTYPE_Q4_0) || defined(WTYPE_Q4_1) || defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1) || defined(WTYPE_Q8_0)

#if defined(WTYPE_Q5_0)
// The 32 bits at even byte b, b + 4 within the block: both words read
// whatever the alignment (no divergence between invocations).
uint w_u32(uint b) {
        uint i = b >> 2, lo = WDATA[i], hi = WDATA[i + ((b >> 1) & 1u)];
        return (b & 2u) != 0u ? (lo >> 16) | (hi << 16) : lo;
}
#endif

float dequant(uint row, uint k) {
        uint b = row + (k / 32u) * BLOCK_BYTES, j = k % 32u;
#if defined(WTYPE_Q8_0)
        return w_f16(b) * float(sext8(w_u8(b + 2u + j)));
#elif defined(WTYPE_Q4_0)
        uint q = w_u8(b + 2u + (j & 15u));
        q = j < 16u ? (q & 15u) : (q >> 4);
        return w_f16(b) * (float(q) - 8.0);
#elif defined(WTYPE_Q4_1)
        uint q = w_u8(b + 4u + (j & 15u));
        q = j < 16u ? (q & 15u) : (q >> 4);
        precise float v = float(q) * w_f16(b) + w_f16(b + 2u);
        return v;
#else // Q5_0, Q5_1
#if defined(WTYPE_Q5_0)
        const uint qh = 2u, qs = 6u;
#else
        const uint qh = 4u, qs = 8u;
#endif
        uint q = w_u8(b + qs + (j & 15u));
        q = (j < 16u ? (q & 15u) : (q >> 4)) | (((w_u8(b + qh + j / 8u) >> (j % 8u)) & 1u) << 4);
#if defined(WTYPE_Q5_0)
        return float(int(q) - 16) * w_f16(b);
#else
        precise float v = float(q) * w_f16(b) + w_f16(b + 2u);
        return v;
#endif
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
#else // Q4_1, Q5_0, Q5_1
#define HAVE_DOT
// Word by word (4 elements low, 4 high); the fifth bits come from one qh
// word. With a min (Q4_1, Q5_1) the block is d * sum(q x) + m * sum(x);
// Q5_0 subtracts its 16 per element (no cancellation against a large sum).
float block_dot(uint b, uint k0) {
#if defined(WTYPE_Q5_0)
        uint qh = w_u32(b + 2u);
        const uint qs = 6u;
#elif defined(WTYPE_Q5_1)
        uint qh = w[(b >> 2) + 1u];
        const uint qs = 8u;
#else
        const uint qs = 4u;
#endif
        uint xb = x0 + k0;
        float acc = 0.0, xs = 0.0;
        for (uint l = 0; l < 16u; l += 4u) {
#if defined(WTYPE_Q5_0)
                uint v = w_u32(b + qs + l);
#else
                uint v = w[(b + qs + l) >> 2];
#endif
                for (uint i = 0; i < 4u; i++) {
                        uint lo = (v >> (8u * i)) & 15u, hi = (v >> (8u * i + 4u)) & 15u;
#if defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1)
                        lo |= ((qh >> (l + i)) << 4) & 16u;
                        hi |= ((qh >> (l + i + 12u))) & 16u;
#endif
                        float xl = x[xb + l + i], xh = x[xb + l + i + 16u];
#if defined(WTYPE_Q5_0)
                        acc += float(int(lo) - 16) * xl + float(int(hi) - 16) * xh;
#else
                        acc += float(lo) * xl + float(hi) * xh;
                        xs += xl + xh;
#endif
                }
        }
#if defined(WTYPE_Q5_0)
        return w_f16(b) * acc;
#else
        vec2 dm = unpackHalf2x16(w[b >> 2]);
        return dm.x * acc + dm.y * xs;
#endif
}
#endif
#endif // MATVEC
#endif
