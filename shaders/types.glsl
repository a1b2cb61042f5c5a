// GGUF weight layouts and their dequantization. The weight buffer is read
// as 32-bit words (WDATA must name a uint[] declared before this include), so
// no 8/16-bit storage feature is needed. Offsets are in bytes within the
// bound range. Exactly one WTYPE_* is defined per variant. Every type
// defines dequant(row, k), element k of the row at byte `row` (get_rows,
// matmul); with MATVEC defined (matvec.comp, after declaring x and x0) a
// quantized type may also define a faster dot product over a block (QK 32:
// block_dot) or a 32-element sub-block (QK 256: sub_dot), and HAVE_DOT.
// The layouts are described in each family's file:
//   quant-legacy.glsl  Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
//   quant-k.glsl       Q2_K Q3_K Q4_K Q5_K Q6_K
//   quant-iq4-iq3.glsl IQ4_NL IQ4_XS IQ3_XXS IQ3_S
//   quant-iq2-iq1.glsl IQ2_XXS IQ2_XS IQ2_S IQ1_S IQ1_M
//   quant-ternary.glsl TQ1_0 TQ2_0
// F32, F16, BF16 are plain arrays.

uint w_u8(uint b) {
        return (WDATA[b >> 2] >> ((b & 3u) * 8u)) & 0xffu;
}
// b must be even.
uint w_u16(uint b) {
        return (WDATA[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu;
}
// The 32 bits at even byte b: both words read whatever the alignment (no
// divergence between invocations); b + 4 must lie within the buffer.
uint w_u32(uint b) {
        uint i = b >> 2, lo = WDATA[i], hi = WDATA[i + ((b >> 1) & 1u)];
        return (b & 2u) != 0u ? (lo >> 16) | (hi << 16) : lo;
}
float w_f16(uint b) {
        return unpackHalf2x16(w_u16(b)).x;
}
int sext8(uint v) {
        return int(v << 24) >> 24;
}

#if defined(WTYPE_Q4_0)
#define QK 32
#define BLOCK_BYTES 18
#elif defined(WTYPE_Q4_1)
#define QK 32
#define BLOCK_BYTES 20
#elif defined(WTYPE_Q5_0)
#define QK 32
#define BLOCK_BYTES 22
#elif defined(WTYPE_Q5_1)
#define QK 32
#define BLOCK_BYTES 24
#elif defined(WTYPE_Q8_0)
#define QK 32
#define BLOCK_BYTES 34
#elif defined(WTYPE_IQ4_NL)
#define QK 32
#define BLOCK_BYTES 18
#elif defined(WTYPE_Q2_K)
#define QK 256
#define BLOCK_BYTES 84
#elif defined(WTYPE_Q3_K)
#define QK 256
#define BLOCK_BYTES 110
#elif defined(WTYPE_Q4_K)
#define QK 256
#define BLOCK_BYTES 144
#elif defined(WTYPE_Q5_K)
#define QK 256
#define BLOCK_BYTES 176
#elif defined(WTYPE_Q6_K)
#define QK 256
#define BLOCK_BYTES 210
#elif defined(WTYPE_IQ1_S)
#define QK 256
#define BLOCK_BYTES 50
#elif defined(WTYPE_IQ1_M)
#define QK 256
#define BLOCK_BYTES 56
#elif defined(WTYPE_IQ2_XXS)
#define QK 256
#define BLOCK_BYTES 66
#elif defined(WTYPE_IQ2_XS)
#define QK 256
#define BLOCK_BYTES 74
#elif defined(WTYPE_IQ2_S)
#define QK 256
#define BLOCK_BYTES 82
#elif defined(WTYPE_IQ3_XXS)
#define QK 256
#define BLOCK_BYTES 98
#elif defined(WTYPE_IQ3_S)
#define QK 256
#define BLOCK_BYTES 110
#elif defined(WTYPE_IQ4_XS)
#define QK 256
#define BLOCK_BYTES 136
#elif defined(WTYPE_TQ1_0)
#define QK 256
#define BLOCK_BYTES 54
#elif defined(WTYPE_TQ2_0)
#define QK 256
#define BLOCK_BYTES 66
#else
#define QK 1
#endif

#if defined(WTYPE_F32) || defined(WTYPE_F16) || defined(WTYPE_BF16)
float dequant(uint row, uint k) {
#if defined(WTYPE_F32)
        return uintBitsToFloat(WDATA[(row >> 2) + k]);
#elif defined(WTYPE_F16)
        return w_f16(row + 2u * k);
#else
        return uintBitsToFloat(w_u16(row + 2u * k) << 16);
#endif
}
#endif

#include "quant-legacy.glsl"
#include "quant-k.glsl"
#include "quant-iq4-iq3.glsl"
#include "quant-iq2-iq1.glsl"
#include "quant-ternary.glsl"
