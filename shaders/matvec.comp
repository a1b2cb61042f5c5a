#version 450
// Matrix x vector: y[y_off + r] = sum_k W[r][k] * x[k]. One workgroup (one
// subgroup on most devices: WG = subgroup size) per row; each invocation
// walks whole quant blocks, then a subgroup reduction.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer W { uint w[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { push_matvec p; } pc;

#define WDATA w
#include "types.glsl"

#if defined(WTYPE_Q8_0)
// A whole Q8_0 block, read as 16 halfwords.
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 16u; i++) {
                uint v = w_u16(b + 2u + 2u * i);
                s += float(sext8(v & 0xffu)) * x[k0 + 2u * i] + float(sext8(v >> 8)) * x[k0 + 2u * i + 1u];
        }
        return s * w_f16(b);
}
#elif defined(WTYPE_Q4_0)
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 8u; i++) {
                uint v = w_u16(b + 2u + 2u * i);
                uint j = 2u * i;
                s += (float(v & 15u) - 8.0) * x[k0 + j] + (float((v >> 8) & 15u) - 8.0) * x[k0 + j + 1u] +
                     (float((v >> 4) & 15u) - 8.0) * x[k0 + j + 16u] + (float(v >> 12) - 8.0) * x[k0 + j + 17u];
        }
        return s * w_f16(b);
}
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// One super-block: per sub-block scale and min applied once; quants read a
// word (4 elements) at a time (blocks are 144 / 176 bytes: word aligned).
float block_dot(uint b, uint k0) {
        float d = w_f16(b), dmin = w_f16(b + 2u), s = 0.0;
#if defined(WTYPE_Q5_K)
        const uint qs_off = 48u;
#else
        const uint qs_off = 16u;
#endif
        for (uint sb = 0; sb < 8u; sb++) {
                uvec2 sm = scale_min_k4(b + 4u, sb);
                uint qs = b + qs_off + 32u * (sb / 2u), shift = (sb & 1u) * 4u;
                float acc = 0.0, xs = 0.0;
                for (uint l = 0; l < 32u; l += 4u) {
                        uint wd = w[(qs + l) >> 2];
#if defined(WTYPE_Q5_K)
                        uint hd = w[(b + 16u + l) >> 2];
#endif
                        for (uint i = 0; i < 4u; i++) {
                                uint q = (wd >> (8u * i + shift)) & 15u;
#if defined(WTYPE_Q5_K)
                                q += ((hd >> (8u * i + sb)) & 1u) * 16u;
#endif
                                float xv = x[k0 + 32u * sb + l + i];
                                acc += float(q) * xv;
                                xs += xv;
                        }
                }
                s += d * float(sm.x) * acc - dmin * float(sm.y) * xs;
        }
        return s;
}
#elif QK == 256
// Q6_K: one super-block, element by element (the dequant() layout).
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint j = 0; j < 256u; j++)
                s += dequant(b - (k0 / 256u) * BLOCK_BYTES, k0 + j) * x[k0 + j];
        return s;
}
#endif

void main() {
        uint r = wg_linear();
        if (r >= pc.p.nrows)
                return; // uniform across the workgroup
        uint row = r * pc.p.row_bytes;
        float s = 0.0;
#if QK == 1
        for (uint k = gl_LocalInvocationID.x; k < pc.p.ncols; k += WG)
                s += dequant(row, k) * x[k];
#else
        uint nb = pc.p.ncols / uint(QK);
        for (uint blk = gl_LocalInvocationID.x; blk < nb; blk += WG)
                s += block_dot(row + blk * BLOCK_BYTES, blk * QK);
#endif
        s = wg_sum(s);
        if (gl_LocalInvocationID.x == 0)
                y[pc.p.y_off + r] = s;
}
