#version 450
// Copies rows into the KV cache at the rows the block tables give, or a
// strided copy without them (push.h: push_kv_store). One invocation per value.
// With KV_F16 the destination holds f16 values (an f16 cache).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer X { float src[]; };
layout(binding = 1) readonly buffer R { uint rows[]; };
#ifdef KV_F16
#extension GL_EXT_shader_16bit_storage : require
layout(binding = 2) writeonly buffer C { float16_t dst[]; };
#define KV_OUT(v) float16_t(v)
#else
layout(binding = 2) writeonly buffer C { float dst[]; };
#define KV_OUT(v) (v)
#endif
layout(push_constant) uniform PC { push_kv_store p; } pc;

void main() {
        uint g = wg_linear() * WG + gl_LocalInvocationID.x;
        if (g >= pc.p.n_tokens * pc.p.width)
                return;
        uint t = g / pc.p.width, c = g % pc.p.width;
        uint row = pc.p.has_rows != 0u ? rows[t] : t;
        dst[row * pc.p.row_width + pc.p.dst_off + c] = KV_OUT(src[pc.p.src_off + t * pc.p.src_ts + c]);
}
