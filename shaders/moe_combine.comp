#version 450
// The weighted sum of the chosen experts' outputs, plus the shared experts'
// (push.h: push_moe_combine). One invocation per output value; the experts
// are summed in slot order.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer Yx { float y[]; };
layout(binding = 1) readonly buffer Wt { float w[]; };
layout(binding = 2) readonly buffer A { float add[]; };
layout(binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { push_moe_combine p; } pc;

void main() {
        uint g = wg_linear() * WG + gl_LocalInvocationID.x;
        if (g >= pc.p.n_tokens * pc.p.width)
                return;
        uint t = g / pc.p.width, c = g % pc.p.width;
        float s = 0.0;
        for (uint j = 0; j < pc.p.k; j++)
                s += w[t * pc.p.k + j] * y[(t * pc.p.k + j) * pc.p.width + c];
        if (pc.p.has_add != 0u)
                s += add[g];
        o[g] = s;
}
