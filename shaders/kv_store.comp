#version 450
// Copies rows into the KV cache at the rows the block tables give, or a
// strided copy without them (push.h: push_kv_store). One invocation per value.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer X { float src[]; };
layout(binding = 1) readonly buffer R { uint rows[]; };
layout(binding = 2) writeonly buffer C { float dst[]; };
layout(push_constant) uniform PC { push_kv_store p; } pc;

void main() {
        uint g = wg_linear() * WG + gl_LocalInvocationID.x;
        if (g >= pc.p.n_tokens * pc.p.width)
                return;
        uint t = g / pc.p.width, c = g % pc.p.width;
        uint row = pc.p.has_rows != 0u ? rows[t] : t;
        dst[row * pc.p.row_width + pc.p.dst_off + c] = src[pc.p.src_off + t * pc.p.src_ts + c];
}
