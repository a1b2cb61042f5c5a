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
#define HAVE_DOT
// Whole blocks, 4 quants to a word against x as vec4s (x_load32 in
// matvec.comp): elements 4l .. 4l + 3 are xv[l].
#if defined(WTYPE_Q8_0)
float block_dot(uint b, uint k0) {
        vec4 xv[8];
        x_load32(x0 + k0, xv);
        float s = 0.0;
        for (uint l = 0; l < 8u; l++)
                s += dot(vec4(ivec4(uvec4(w_u32(b + 2u + 4u * l)) << uvec4(24u, 16u, 8u, 0u)) >> 24), xv[l]);
        return s * w_f16(b);
}
#else
// 4-bit quants: word l of qs holds the low nibbles of elements 4l .. 4l + 3
// and the high ones of 16 + 4l ..; the fifth bits come from one qh word.
// With a min (Q4_1, Q5_1) the block is d * sum(q x) + m * sum(x); Q4_0 and
// Q5_0 subtract their 8 or 16 per element (no cancellation against a large
// sum).
float block_dot(uint b, uint k0) {
#if defined(WTYPE_Q4_0)
        const uint qs = 2u;
#elif defined(WTYPE_Q5_0)
        uint qh = w_u32(b + 2u);
        const uint qs = 6u;
#elif defined(WTYPE_Q5_1)
        uint qh = w[(b >> 2) + 1u];
        const uint qs = 8u;
#else
        const uint qs = 4u;
#endif
        vec4 xv[8];
        x_load32(x0 + k0, xv);
        float acc = 0.0, xs = 0.0;
        for (uint l = 0; l < 4u; l++) {
#if defined(WTYPE_Q4_0) || defined(WTYPE_Q5_0)
                uvec4 v = uvec4(w_u32(b + qs + 4u * l));
#else
                uvec4 v = uvec4(w[((b + qs) >> 2) + l]);
#endif
                uvec4 lo = (v >> uvec4(0u, 8u, 16u, 24u)) & 15u, hi = (v >> uvec4(4u, 12u, 20u, 28u)) & 15u;
#if defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1)
                lo |= ((uvec4(qh) >> (4u * l + uvec4(0u, 1u, 2u, 3u))) << 4) & 16u;
                hi |= (uvec4(qh) >> (4u * l + uvec4(12u, 13u, 14u, 15u))) & 16u;
#endif
#if defined(WTYPE_Q4_0)
                acc += dot(vec4(lo) - 8.0, xv[l]) + dot(vec4(hi) - 8.0, xv[l + 4u]);
#elif defined(WTYPE_Q5_0)
                acc += dot(vec4(lo) - 16.0, xv[l]) + dot(vec4(hi) - 16.0, xv[l + 4u]);
#else
                acc += dot(vec4(lo), xv[l]) + dot(vec4(hi), xv[l + 4u]);
                xs += dot(xv[l] + xv[l + 4u], vec4(1.0));
#endif
        }
#if defined(WTYPE_Q4_0) || defined(WTYPE_Q5_0)
        return w_f16(b) * acc;
#else
        vec2 dm = unpackHalf2x16(w[b >> 2]);
        return dm.x * acc + dm.y * xs;
#endif
}
#endif
#endif // MATVEC
#endif
