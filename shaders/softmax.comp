#version 450
// Softmax over each row (one workgroup per row), max-subtracted so that it
// never overflows, with a scale, an optional additive mask and a valid length.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer M { float mask[]; };
layout(binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform PC { push_softmax p; } pc;

float logit(uint r, uint c) {
        float v = x[r * pc.p.ncols + c] * pc.p.scale;
        if (pc.p.has_mask != 0u)
                v += mask[r * pc.p.mask_stride + c];
        return v;
}

void main() {
        uint r = wg_linear();
        if (r >= pc.p.nrows)
                return;
        uint nv = min(pc.p.n_valid, pc.p.ncols);
        float m = -1.0 / 0.0;
        for (uint c = gl_LocalInvocationID.x; c < nv; c += WG)
                m = max(m, logit(r, c));
        m = wg_max(m);
        float s = 0.0;
        for (uint c = gl_LocalInvocationID.x; c < nv; c += WG) {
                // A fully masked row (m = -inf) gives zeros, not NaN.
                float e = m == -1.0 / 0.0 ? 0.0 : exp(logit(r, c) - m);
                y[r * pc.p.ncols + c] = e;
                s += e;
        }
        s = wg_sum(s);
        float inv = s > 0.0 ? 1.0 / s : 0.0;
        // Each invocation rescales only what it wrote itself: no barrier needed.
        for (uint c = gl_LocalInvocationID.x; c < pc.p.ncols; c += WG)
                y[r * pc.p.ncols + c] = c < nv ? y[r * pc.p.ncols + c] * inv : 0.0;
}
