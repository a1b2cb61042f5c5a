#version 450
// Elementwise ops: add and mul (b broadcast by i % nb), scale, SwiGLU.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { push_elementwise p; } pc;

void main() {
        uint i = wg_linear() * WG + gl_LocalInvocationID.x;
        if (i >= pc.p.n)
                return;
        float v = a[i];
        switch (pc.p.op) {
        case EW_OP_ADD: v += b[i % pc.p.nb]; break;
        case EW_OP_MUL: v *= b[i % pc.p.nb]; break;
        case EW_OP_SCALE: v *= pc.p.scale; break;
        case EW_OP_SWIGLU: v = v / (1.0 + exp(-v)) * b[i % pc.p.nb]; break;
        }
        y[i] = v;
}
