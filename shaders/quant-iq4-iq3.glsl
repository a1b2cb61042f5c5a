// The i-quants of 3 and 4 bits (ggml-common.h; quant-iq4-iq3.c has the
// same description):
//   IQ4_NL:  { f16 d; u8 qs[16]; }                                18 bytes
//            x = d * kvalues[q], q the low nibbles of qs for elements
//            0..15, the high ones for 16..31 (16 levels, -127 .. 113)
//   IQ4_XS:  { f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]; } 136 bytes
//            8 sub-blocks of 32 as IQ4_NL's, scale d * (ls - 32), ls =
//            nibble s % 2 of scales_l[s / 2] | bits 2s..2s+1 of scales_h << 4
//   IQ3_XXS: { f16 d; u8 qs[64]; u32 signs_scales[8]; }            98 bytes
//            sub-block s: grid indices qs[8s..8s+7] (iq3xxs_grid: 4
//            magnitudes each); word s: scale in bits 28..31, db = d * (0.5 +
//            scale) * 0.5, and four 7-bit sign fields (one per 8 elements,
//            the eighth sign their parity)
//   IQ3_S:   { f16 d; u8 qs[64]; u8 qh[8]; u8 signs[32]; u8 scales[4]; } 110
//            sub-block s: grid index of group g = qs[8s + g] | bit g of
//            qh[s] << 8 (iq3s_grid, 512 groups of 4); the sign of element e
//            is bit e of the word at signs[4s]; db = d * (1 + 2 * nibble
//            s % 2 of scales[s / 2])
// All give x = scale * level, computed in ggml's order (get_rows is exact).
// Blocks of 18, 98 and 110 bytes are only 16-bit aligned; IQ4_XS's 136 are
// word aligned. The grids are constant arrays (iq3-grids.h); lavapipe copies
// such an array into every invocation and gathers from the copy, ~5x slower
// than Q4_0 per byte, so where the includer offers it (MATVEC_INIT_HOOK: it
// calls matvec_init() first thing in main) matvec reads them from shared
// memory instead, filled once per workgroup.
#if defined(WTYPE_IQ4_NL) || defined(WTYPE_IQ4_XS) || defined(WTYPE_IQ3_XXS) || defined(WTYPE_IQ3_S)
#include "iq3-grids.h"

#if defined(WTYPE_IQ4_NL) || defined(WTYPE_IQ4_XS)
float kvalue(uint q) {
        return float(sext8(kvalues_iq4nl[q >> 2] >> ((q & 3u) * 8u)));
}
#endif

#if defined(WTYPE_IQ3_XXS)
// ksigns_iq2xs: 7 sign bits, their parity the eighth.
uint ksigns(uint s7) {
        return s7 | ((uint(bitCount(s7)) & 1u) << 7);
}
#endif

float dequant(uint row, uint k) {
#if defined(WTYPE_IQ4_NL)
        uint b = row + (k / 32u) * BLOCK_BYTES, j = k % 32u;
        uint q = w_u8(b + 2u + (j & 15u));
        return w_f16(b) * kvalue(j < 16u ? q & 15u : q >> 4);
#elif defined(WTYPE_IQ4_XS)
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint s = j / 32u, l = j % 32u;
        uint ls = ((w_u8(b + 4u + s / 2u) >> (4u * (s & 1u))) & 15u) | (((w_u16(b + 2u) >> (2u * s)) & 3u) << 4);
        float dl = w_f16(b) * float(int(ls) - 32);
        uint q = w_u8(b + 8u + 16u * s + (l & 15u));
        return dl * kvalue(l < 16u ? q & 15u : q >> 4);
#elif defined(WTYPE_IQ3_XXS)
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint s = j / 32u, l = (j % 32u) / 8u, e = j % 8u;
        uint aux = w_u32(b + 66u + 4u * s);
        float db = w_f16(b) * (0.5 + float(aux >> 28)) * 0.5;
        uint g = iq3xxs_grid[w_u8(b + 2u + 8u * s + 2u * l + e / 4u)];
        float v = db * float((g >> (8u * (e & 3u))) & 0xffu);
        return ((ksigns((aux >> (7u * l)) & 127u) >> e) & 1u) != 0u ? -v : v;
#else // IQ3_S
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint s = j / 32u, e = j % 32u, grp = e / 4u;
        float db = w_f16(b) * float(1u + 2u * ((w_u8(b + 106u + s / 2u) >> (4u * (s & 1u))) & 15u));
        uint idx = w_u8(b + 2u + 8u * s + grp) | (((w_u8(b + 66u + s) >> grp) & 1u) << 8);
        float v = db * float((iq3s_grid[idx] >> (8u * (e & 3u))) & 0xffu);
        return ((w_u8(b + 74u + 4u * s + e / 8u) >> (e & 7u)) & 1u) != 0u ? -v : v;
#endif
}

#ifdef MATVEC
#define HAVE_DOT
#if defined(WTYPE_IQ4_NL) || defined(WTYPE_IQ4_XS)
// 32 elements from 4 qs words q times the 32 floats at xb: the low nibbles
// of q are elements 0..15 (byte i of word j is element 4j + i), the high
// ones 16..31.
float nibbles_dot(uvec4 q, uint xb) {
        uint a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float s = 0.0;
        for (uint l = 0; l < 8u; l++) {
                vec4 xn = x4[x_next(xb, l)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                uint v = q[l & 3u] >> (4u * (l / 4u));
                s += kvalue(v & 15u) * xv.x + kvalue((v >> 8) & 15u) * xv.y + kvalue((v >> 16) & 15u) * xv.z +
                     kvalue((v >> 24) & 15u) * xv.w;
        }
        return s;
}
#endif

#if defined(WTYPE_IQ4_NL)
// The block's 5 words: d and the 16 qs bytes, shifted by a halfword when
// the block starts at the middle of a word.
float block_dot(uint b, uint k0) {
        uint i = b >> 2;
        uint v0 = w[i], v1 = w[i + 1u], v2 = w[i + 2u], v3 = w[i + 3u], v4 = w[i + 4u];
        bool odd = (b & 2u) != 0u;
        float d = odd ? unpackHalf2x16(v0).y : unpackHalf2x16(v0).x;
        uvec4 q = odd ? uvec4(v1, v2, v3, v4)
                      : uvec4((v0 >> 16) | (v1 << 16), (v1 >> 16) | (v2 << 16), (v2 >> 16) | (v3 << 16), (v3 >> 16) | (v4 << 16));
        return d * nibbles_dot(q, x0 + k0);
}
#elif defined(WTYPE_IQ4_XS)
// Word aligned: the header word holds d and scales_h, the next scales_l.
float sub_dot(uint b, uint sb, uint k0) {
        uint i = b >> 2;
        uint h = w[i];
        uint ls = ((w[i + 1u] >> (4u * sb)) & 15u) | (((h >> (16u + 2u * sb)) & 3u) << 4);
        uint qs = i + 2u + 4u * sb;
        float s = nibbles_dot(uvec4(w[qs], w[qs + 1u], w[qs + 2u], w[qs + 3u]), x0 + k0 + 32u * sb);
        return unpackHalf2x16(h).x * float(int(ls) - 32) * s;
}
#else // IQ3_XXS, IQ3_S
#if defined(MATVEC_INIT_HOOK)
#define HAVE_MATVEC_INIT
#if defined(WTYPE_IQ3_XXS)
shared uint grid_sh[256];
#else
shared uint grid_sh[512];
#endif
// One invocation stores the whole array: constant indices, where a loop
// over the invocations would gather from the constant array.
void matvec_init() {
        if (gl_LocalInvocationIndex == 0u)
#if defined(WTYPE_IQ3_XXS)
                grid_sh = iq3xxs_grid;
#else
                grid_sh = iq3s_grid;
#endif
        barrier();
}
#define GRID(i) grid_sh[i]
#elif defined(WTYPE_IQ3_XXS)
#define GRID(i) iq3xxs_grid[i]
#else
#define GRID(i) iq3s_grid[i]
#endif

// The 32 bits at even byte p from lo = w[p >> 2] and the next word hi.
uint funnel(uint lo, uint hi, bool odd) {
        return odd ? (lo >> 16) | (hi << 16) : lo;
}

// Grid word g (4 magnitudes, 1..127) times xv, the signs (bits 0..3 of s4)
// applied to the bytes first: m1 spreads bit e to bit 8e, and (g ^ 0xff) + 1
// negates a byte without carrying out of it.
float grid_dot(uint g, uint s4, vec4 xv) {
        uint m1 = (s4 * 0x204081u) & 0x01010101u;
        int v = int((g ^ (m1 * 0xffu)) + m1);
        return float((v << 24) >> 24) * xv.x + float((v << 16) >> 24) * xv.y + float((v << 8) >> 24) * xv.z +
               float(v >> 24) * xv.w;
}

// The qs bytes, signs and scales of a sub-block share one alignment: the
// words are read once, each value funnelled from two when it straddles.
#if defined(WTYPE_IQ3_XXS)
float sub_dot(uint b, uint sb, uint k0) {
        uint p = b + 2u + 8u * sb, a4 = b + 66u + 4u * sb;
        bool odd = (p & 2u) != 0u;
        uint v0 = w[p >> 2], v1 = w[(p >> 2) + 1u], v2 = w[(p + 6u) >> 2];
        uint q0 = funnel(v0, v1, odd), q1 = funnel(v1, v2, odd);
        uint aux = funnel(w[a4 >> 2], w[(a4 + 2u) >> 2], odd);
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float s = 0.0;
        for (uint l = 0; l < 4u; l++) {
                uint q = l < 2u ? q0 : q1, sh = 16u * (l & 1u);
                uint sg = ksigns((aux >> (7u * l)) & 127u);
                vec4 xn = x4[x_next(xb, 2u * l)];
                vec4 xv0 = x_shift(xc, xn, a);
                xc = x4[x_next(xb, 2u * l + 1u)];
                vec4 xv1 = x_shift(xn, xc, a);
                s += grid_dot(GRID((q >> sh) & 0xffu), sg & 15u, xv0) + grid_dot(GRID((q >> (sh + 8u)) & 0xffu), sg >> 4, xv1);
        }
        return w_f16(b) * (0.5 + float(aux >> 28)) * 0.5 * s;
}
#else
float sub_dot(uint b, uint sb, uint k0) {
        uint p = b + 2u + 8u * sb, a4 = b + 74u + 4u * sb;
        bool odd = (p & 2u) != 0u;
        uint v0 = w[p >> 2], v1 = w[(p >> 2) + 1u], v2 = w[(p + 6u) >> 2];
        uint q0 = funnel(v0, v1, odd), q1 = funnel(v1, v2, odd);
        uint sg = funnel(w[a4 >> 2], w[(a4 + 2u) >> 2], odd);
        uint qh = w_u8(b + 66u + sb);
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float s = 0.0;
        for (uint g = 0; g < 8u; g++) {
                uint idx = (((g < 4u ? q0 : q1) >> (8u * (g & 3u))) & 0xffu) | ((qh << (8u - g)) & 0x100u);
                vec4 xn = x4[x_next(xb, g)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                s += grid_dot(GRID(idx), (sg >> (4u * g)) & 15u, xv);
        }
        uint sc = (w_u8(b + 106u + sb / 2u) >> (4u * (sb & 1u))) & 15u;
        return w_f16(b) * float(1u + 2u * sc) * s;
}
#endif
#endif
#endif // MATVEC
#endif
