#version 450
// Index of the largest element of each row (lowest index on ties).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer O { uint o[]; };
layout(push_constant) uniform PC { push_argmax p; } pc;

void main() {
        uint r = wg_linear();
        if (r >= pc.p.nrows)
                return;
        float best = -1.0 / 0.0;
        uint bi = 0xffffffffu;
        // Strided walk in increasing c: a later equal value never replaces.
        for (uint c = gl_LocalInvocationID.x; c < pc.p.ncols; c += WG) {
                float v = x[r * pc.p.ncols + c];
                if (v > best || bi == 0xffffffffu) {
                        best = v;
                        bi = c;
                }
        }
        bi = wg_argmax(best, bi);
        if (gl_LocalInvocationID.x == 0)
                o[r] = bi;
}
