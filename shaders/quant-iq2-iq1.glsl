// The i-quants of 1 and 2 bits (ggml-common.h; quant-iq2-iq1.c has the
// full description): 256-element super-blocks of 8 sub-blocks of 32, each
// sub-block 4 groups of 8 elements given by an index into a grid:
//   IQ2_XXS: { f16 d; u16 qs[32]; }                                66 bytes
//            sub-block s: word 2s of qs = 4 index bytes (iq2xxs_grid),
//            word 2s+1 = scale << 28 | four 7-bit sign fields (the eighth
//            sign their parity); db = d * (0.5 + scale) * 0.25
//   IQ2_XS:  { f16 d; u16 qs[32]; u8 scales[8]; }                  74 bytes
//            qs[4s + g] = index (iq2xs_grid, 9 bits) | sign field << 9;
//            scales[s]: low nibble for groups 0, 1, high one for 2, 3
//   IQ2_S:   { f16 d; u8 qs[32]; u8 signs[32]; u8 qh[8]; u8 scales[8]; } 82
//            index qs[4s + g] | bits 2g.. of qh[s] << 8 (iq2s_grid), signs
//            the bits of signs[4s + g]; scales as IQ2_XS's
//            x = db * grid * sign for the three (grid magnitudes 8, 25, 43)
//   IQ1_S:   { f16 d; u8 qs[32]; u16 qh[8]; }                      50 bytes
//            index qs[4s + g] | bits 3g.. of qh[s] << 8 (iq1s_grid: -1, 0,
//            1), dl = d * (2 * bits 12..14 + 1), delta = +-0.125 (bit 15):
//            x = dl * (grid + delta)
//   IQ1_M:   { u8 qs[32]; u8 qh[16]; u8 scales[8]; }               56 bytes
//            index qs[4s + g] | 3 bits of qh[2s + g / 2] << 8 (nibble g % 2,
//            its top bit the sign of delta); 3-bit scales at bit 6 * (s % 2)
//            (groups 0, 1) and 3 above (2, 3) of halfword s / 2 of scales;
//            d = the f16 of the 4 halfwords' top nibbles
// The grids are packed (iq2-grids.h, iq1-grids.h): 8 two-bit codes per
// entry. dequant computes in ggml's order (get_rows is exact). Blocks of
// 66, 74, 82, 50 and 56 bytes are only 16-bit aligned: words are read as
// halfword pairs, without branching on the alignment.
#if defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || defined(WTYPE_IQ2_S) || defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M)
#if defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M)
#include "iq1-grids.h"
#else
#include "iq2-grids.h"
#endif

// The 64 bits at even byte b, low word first.
uvec2 iq_u64(uint b) {
        uint i = b >> 2;
        uint w0 = WDATA[i], w1 = WDATA[i + 1u], w2 = WDATA[i + 1u + ((b >> 1) & 1u)];
        return (b & 2u) != 0u ? uvec2((w0 >> 16) | (w1 << 16), (w1 >> 16) | (w2 << 16)) : uvec2(w0, w1);
}

#if defined(WTYPE_IQ2_XXS)
#define GRID iq2xxs_grid
#define GRID_WORDS 128
#elif defined(WTYPE_IQ2_XS)
#define GRID iq2xs_grid
#define GRID_WORDS 256
#elif defined(WTYPE_IQ2_S)
#define GRID iq2s_grid
#define GRID_WORDS 512
#else
#define GRID iq1s_grid
#define GRID_WORDS 1024
#endif

// The grid in private arrays of 128 words, each written once per invocation
// by its initializer (at the start of main). On lavapipe, indexing the const
// array itself would copy all of it at each lookup (glslang), and LLVM's
// compile time grows with the square of the stores into one array (minutes
// for one array of 1024 words, seconds for 8 of 128; loading from all 8 and
// selecting costs less at run time than the 1024 would at compile time).
#define GRID_4(i) GRID[i], GRID[i + 1], GRID[i + 2], GRID[i + 3]
#define GRID_16(i) GRID_4(i), GRID_4(i + 4), GRID_4(i + 8), GRID_4(i + 12)
#define GRID_64(i) GRID_16(i), GRID_16(i + 16), GRID_16(i + 32), GRID_16(i + 48)
#define GRID_CHUNK(a, i) uint a[128] = uint[](GRID_64(i), GRID_64(i + 64));
GRID_CHUNK(grid0, 0)
#if GRID_WORDS > 128
GRID_CHUNK(grid1, 128)
#endif
#if GRID_WORDS > 256
GRID_CHUNK(grid2, 256)
GRID_CHUNK(grid3, 384)
#endif
#if GRID_WORDS > 512
GRID_CHUNK(grid4, 512)
GRID_CHUNK(grid5, 640)
GRID_CHUNK(grid6, 768)
GRID_CHUNK(grid7, 896)
#endif

// Word w of the grid: a load from each array, the right one selected.
uint grid_word(uint w) {
        uint j = w & 127u, c = w >> 7, v = grid0[j];
#if GRID_WORDS > 128
        v = c == 1u ? grid1[j] : v;
#endif
#if GRID_WORDS > 256
        v = c == 2u ? grid2[j] : v;
        v = c == 3u ? grid3[j] : v;
#endif
#if GRID_WORDS > 512
        v = c == 4u ? grid4[j] : v;
        v = c == 5u ? grid5[j] : v;
        v = c == 6u ? grid6[j] : v;
        v = c == 7u ? grid7[j] : v;
#endif
        return v;
}

// Grid entry i: 8 two-bit codes, element j at bits 2j.
uint grid_entry(uint i) {
        return (grid_word(i >> 1) >> ((i & 1u) << 4)) & 0xffffu;
}

#if defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS)
// ksigns_iq2xs: 7 sign bits, their parity the eighth.
uint ksigns(uint s7) {
        return s7 | ((uint(bitCount(s7)) & 1u) << 7);
}
#endif

#if defined(WTYPE_IQ1_S) || defined(WTYPE_IQ1_M)
// IQ1S_DELTA
#define IQ1_DELTA 0.125
#endif

float dequant(uint row, uint k) {
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint s = j / 32u, g = (j % 32u) / 8u, e = j % 8u;
#if defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || defined(WTYPE_IQ2_S)
#if defined(WTYPE_IQ2_XXS)
        uint aux = w_u32(b + 6u + 8u * s);
        float db = w_f16(b) * (0.5 + float(aux >> 28)) * 0.25;
        uint idx = w_u8(b + 2u + 8u * s + g), sg = ksigns((aux >> (7u * g)) & 127u);
#elif defined(WTYPE_IQ2_XS)
        uint sc = (w_u8(b + 66u + s) >> (4u * (g / 2u))) & 15u;
        float db = w_f16(b) * (0.5 + float(sc)) * 0.25;
        uint q = w_u16(b + 2u + 8u * s + 2u * g);
        uint idx = q & 511u, sg = ksigns(q >> 9);
#else
        uint sc = (w_u8(b + 74u + s) >> (4u * (g / 2u))) & 15u;
        float db = w_f16(b) * (0.5 + float(sc)) * 0.25;
        uint idx = w_u8(b + 2u + 4u * s + g) | (((w_u8(b + 66u + s) >> (2u * g)) & 3u) << 8);
        uint sg = w_u8(b + 34u + 4u * s + g);
#endif
        uint c = (grid_entry(idx) >> (2u * e)) & 3u;
        float v = db * float((0x2b1908u >> (8u * c)) & 0xffu);
        return ((sg >> e) & 1u) != 0u ? -v : v;
#elif defined(WTYPE_IQ1_S)
        uint qh = w_u16(b + 34u + 2u * s);
        float dl = w_f16(b) * float(2u * ((qh >> 12) & 7u) + 1u);
        float delta = (qh & 0x8000u) != 0u ? -IQ1_DELTA : IQ1_DELTA;
        uint idx = w_u8(b + 2u + 4u * s + g) | (((qh >> (3u * g)) & 7u) << 8);
        return dl * (float(int((grid_entry(idx) >> (2u * e)) & 3u) - 1) + delta);
#else // IQ1_M
        uvec2 sc = iq_u64(b + 48u);
        uint h = ((sc.x >> 12) & 15u) | ((sc.x >> 24) & 0xf0u) | ((sc.y >> 4) & 0xf00u) | ((sc.y >> 16) & 0xf000u);
        uint scw = (s < 4u ? sc.x : sc.y) >> (16u * ((s / 2u) & 1u));
        float dl = unpackHalf2x16(h).x * float(2u * ((scw >> (6u * (s & 1u) + 3u * (g / 2u))) & 7u) + 1u);
        uint h8 = w_u8(b + 32u + 2u * s + g / 2u) >> (4u * (g & 1u));
        float delta = (h8 & 8u) != 0u ? -IQ1_DELTA : IQ1_DELTA;
        uint idx = w_u8(b + 4u * s + g) | ((h8 & 7u) << 8);
        return dl * (float(int((grid_entry(idx) >> (2u * e)) & 3u) - 1) + delta);
#endif
}

#ifdef MATVEC
#define HAVE_DOT
// The 8 codes of grid entry ge, elements 0..3 and 4..7.
uvec4 codes_lo(uint ge) {
        return (uvec4(ge) >> uvec4(0u, 2u, 4u, 6u)) & 3u;
}
uvec4 codes_hi(uint ge) {
        return (uvec4(ge) >> uvec4(8u, 10u, 12u, 14u)) & 3u;
}

#if defined(WTYPE_IQ2_XXS) || defined(WTYPE_IQ2_XS) || defined(WTYPE_IQ2_S)
// 4 codes' magnitudes times xv, the sign bits s (element i: bit i) flipping
// xv's sign bits.
float mag_dot(uvec4 c, uint s, vec4 xv) {
        vec4 m = vec4((uvec4(0x2b1908u) >> (c << 3)) & 0xffu);
        return dot(m, uintBitsToFloat(floatBitsToUint(xv) ^ ((uvec4(s) << uvec4(31u, 30u, 29u, 28u)) & 0x80000000u)));
}

// Sub-block sb: 4 groups of 8, each a grid entry, 8 signs and two vec4s of
// x; one db for groups 0, 1 and one for 2, 3 (the same for IQ2_XXS).
float sub_dot(uint b, uint sb, uint k0) {
#if defined(WTYPE_IQ2_XXS)
        uvec2 q = iq_u64(b + 2u + 8u * sb);
#elif defined(WTYPE_IQ2_XS)
        uvec2 q = iq_u64(b + 2u + 8u * sb);
        uint sc = w_u8(b + 66u + sb);
#else
        uint qs = w_u32(b + 2u + 4u * sb), sg = w_u32(b + 34u + 4u * sb);
        uint qh = w_u8(b + 66u + sb), sc = w_u8(b + 74u + sb);
#endif
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float acc[2] = float[2](0.0, 0.0);
        for (uint g = 0; g < 4u; g++) {
#if defined(WTYPE_IQ2_XXS)
                uint ge = grid_entry((q.x >> (8u * g)) & 0xffu), s = ksigns((q.y >> (7u * g)) & 127u);
#elif defined(WTYPE_IQ2_XS)
                uint v = ((g < 2u ? q.x : q.y) >> (16u * (g & 1u))) & 0xffffu;
                uint ge = grid_entry(v & 511u), s = ksigns(v >> 9);
#else
                uint ge = grid_entry(((qs >> (8u * g)) & 0xffu) | (((qh >> (2u * g)) & 3u) << 8)), s = sg >> (8u * g);
#endif
                vec4 xn = x4[x_next(xb, 2u * g)];
                vec4 xv0 = x_shift(xc, xn, a);
                xc = x4[x_next(xb, 2u * g + 1u)];
                vec4 xv1 = x_shift(xn, xc, a);
                acc[g / 2u] += mag_dot(codes_lo(ge), s, xv0) + mag_dot(codes_hi(ge), s >> 4, xv1);
        }
#if defined(WTYPE_IQ2_XXS)
        return w_f16(b) * (0.5 + float(q.y >> 28)) * 0.25 * (acc[0] + acc[1]);
#else
        return w_f16(b) * 0.25 * ((0.5 + float(sc & 15u)) * acc[0] + (0.5 + float(sc >> 4)) * acc[1]);
#endif
}
#else // IQ1_S, IQ1_M
// sum over a group of (code - 1 + delta) x = sum code x + (delta - 1) sum x.
float group_dot1(uint ge, float delta, vec4 xv0, vec4 xv1) {
        vec4 s = xv0 + xv1;
        return dot(vec4(codes_lo(ge)), xv0) + dot(vec4(codes_hi(ge)), xv1) + (delta - 1.0) * ((s.x + s.y) + (s.z + s.w));
}

float sub_dot(uint b, uint sb, uint k0) {
#if defined(WTYPE_IQ1_S)
        uint qs = w_u32(b + 2u + 4u * sb), qh = w_u16(b + 34u + 2u * sb);
        float delta = (qh & 0x8000u) != 0u ? -IQ1_DELTA : IQ1_DELTA;
#else
        uint qs = w_u32(b + 4u * sb), qh = w_u16(b + 32u + 2u * sb);
        uvec2 sc = iq_u64(b + 48u);
#endif
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float acc[2] = float[2](0.0, 0.0);
        for (uint g = 0; g < 4u; g++) {
#if defined(WTYPE_IQ1_S)
                uint ge = grid_entry(((qs >> (8u * g)) & 0xffu) | (((qh >> (3u * g)) & 7u) << 8));
#else
                uint h4 = qh >> (4u * g);
                uint ge = grid_entry(((qs >> (8u * g)) & 0xffu) | ((h4 & 7u) << 8));
                float delta = (h4 & 8u) != 0u ? -IQ1_DELTA : IQ1_DELTA;
#endif
                vec4 xn = x4[x_next(xb, 2u * g)];
                vec4 xv0 = x_shift(xc, xn, a);
                xc = x4[x_next(xb, 2u * g + 1u)];
                vec4 xv1 = x_shift(xn, xc, a);
                acc[g / 2u] += group_dot1(ge, delta, xv0, xv1);
        }
#if defined(WTYPE_IQ1_S)
        return w_f16(b) * float(2u * ((qh >> 12) & 7u) + 1u) * (acc[0] + acc[1]);
#else
        uint h = ((sc.x >> 12) & 15u) | ((sc.x >> 24) & 0xf0u) | ((sc.y >> 4) & 0xf00u) | ((sc.y >> 16) & 0xf000u);
        uint scw = ((sb < 4u ? sc.x : sc.y) >> (16u * ((sb / 2u) & 1u))) >> (6u * (sb & 1u));
        return unpackHalf2x16(h).x * (float(2u * (scw & 7u) + 1u) * acc[0] + float(2u * ((scw >> 3) & 7u) + 1u) * acc[1]);
#endif
}
#endif
#endif // MATVEC
#endif
