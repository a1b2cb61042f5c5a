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
