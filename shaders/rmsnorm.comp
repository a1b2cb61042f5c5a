#version 450
// RMSNorm with weight: one workgroup per row.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer Wt { float wt[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { push_rmsnorm p; } pc;

void main() {
        uint r = wg_linear();
        if (r >= pc.p.nrows)
                return;
        uint base = r * pc.p.ncols;
        float s = 0.0;
        for (uint c = gl_LocalInvocationID.x; c < pc.p.ncols; c += WG)
                s += x[base + c] * x[base + c];
        s = wg_sum(s);
        float inv = inversesqrt(s / float(pc.p.ncols) + pc.p.eps);
        for (uint c = gl_LocalInvocationID.x; c < pc.p.ncols; c += WG)
                y[base + c] = x[base + c] * inv * wt[c];
}
