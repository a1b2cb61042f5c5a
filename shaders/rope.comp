#version 450
// RoPE, normal (adjacent pairs) or NeoX (halves), with YaRN scaling as in
// ggml's rope_yarn. One invocation per pair of elements; dims from n_dims to
// head_dim are copied unchanged (MLA ropes only part of each head).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer P { int pos[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
layout(binding = 3) readonly buffer F { float ff[]; }; // per pair, when has_ff (Llama 3's rope_freqs)
layout(push_constant) uniform PC { push_rope p; } pc;

const float TWO_PI = 6.283185307179586;

void main() {
        uint half_dim = pc.p.head_dim / 2u;
        uint g = wg_linear() * WG + gl_LocalInvocationID.x;
        if (g >= pc.p.n_tokens * pc.p.n_heads * half_dim)
                return;
        uint i = g % half_dim, h = (g / half_dim) % pc.p.n_heads, t = g / (half_dim * pc.p.n_heads);
        uint xb = pc.p.x_off + t * pc.p.x_ts + h * pc.p.x_hs;
        uint yb = pc.p.y_off + t * pc.p.y_ts + h * pc.p.y_hs;
        uint i0 = 2u * i; // ggml's i0: the even dim index of this pair
        if (i0 >= pc.p.n_dims) {
                y[yb + i0] = x[xb + i0];
                y[yb + i0 + 1u] = x[xb + i0 + 1u];
                return;
        }
        uint a = i0, b = i0 + 1u;
        if (pc.p.mode == ROPE_MODE_NEOX) {
                a = i;
                b = i + pc.p.n_dims / 2u;
        }
        float theta_extrap = float(pos[t]) * pow(pc.p.theta_scale, float(i));
        if (pc.p.has_ff != 0u)
                theta_extrap /= ff[i];
        float theta = pc.p.freq_scale * theta_extrap;
        float mscale = pc.p.attn_factor;
        if (pc.p.ext_factor != 0.0) {
                float ramp = (float(i) - pc.p.corr_lo) / max(0.001, pc.p.corr_hi - pc.p.corr_lo);
                float mix_ = (1.0 - min(1.0, max(0.0, ramp))) * pc.p.ext_factor;
                theta = theta * (1.0 - mix_) + theta_extrap * mix_;
                mscale *= 1.0 + 0.1 * log(1.0 / pc.p.freq_scale);
        }
        // sin/cos are only precise near [-pi, pi]: reduce first.
        theta = theta - TWO_PI * floor(theta / TWO_PI + 0.5);
        float c = cos(theta) * mscale, s = sin(theta) * mscale;
        float x0 = x[xb + a], x1 = x[xb + b];
        y[yb + a] = x0 * c - x1 * s;
        y[yb + b] = x0 * s + x1 * c;
}
