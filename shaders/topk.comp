#version 450
// One pass of top-k: workgroup (chunk, row) loads up to TOPK_CHUNK candidates
// into shared memory and picks its k best, one workgroup argmax per pick
// (value descending, index ascending). Later passes merge the chunks'
// winners, with their indices, until one chunk remains. Missing candidates
// are (-inf, 0xffffffff), below every real element.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer IV { float in_val[]; };
layout(binding = 1) readonly buffer II { uint in_idx[]; };
layout(binding = 2) writeonly buffer OV { float out_val[]; };
layout(binding = 3) writeonly buffer OI { uint out_idx[]; };
layout(push_constant) uniform PC { push_topk p; } pc;

const float NEG_INF = -1.0 / 0.0;
const uint NONE = 0xffffffffu;
shared float sv[TOPK_CHUNK];
shared uint si[TOPK_CHUNK];

bool better(float va, uint ia, float vb, uint ib) {
        return va > vb || (va == vb && ia < ib);
}

void main() {
        uint chunk = gl_WorkGroupID.x, row = gl_WorkGroupID.y;
        uint c0 = chunk * pc.p.chunk;
        for (uint j = gl_LocalInvocationID.x; j < TOPK_CHUNK; j += WG) {
                uint c = c0 + j;
                bool ok = j < pc.p.chunk && c < pc.p.n;
                uint src = row * pc.p.in_row_stride + c;
                sv[j] = ok ? in_val[src] : NEG_INF;
                si[j] = ok ? (pc.p.has_idx != 0u ? in_idx[src] : c) : NONE;
        }
        barrier();
        uint out_base = row * pc.p.out_row_stride + chunk * pc.p.k;
        for (uint r = 0; r < pc.p.k; r++) {
                float bv = NEG_INF;
                uint bi = NONE, bj = NONE;
                for (uint j = gl_LocalInvocationID.x; j < TOPK_CHUNK; j += WG)
                        if (better(sv[j], si[j], bv, bi)) {
                                bv = sv[j];
                                bi = si[j];
                                bj = j;
                        }
                uint mine = bi;
                uint win = wg_argmax(bv, bi);
                if (gl_LocalInvocationID.x == 0) {
                        out_val[out_base + r] = bv;
                        out_idx[out_base + r] = win;
                }
                // Indices are unique, so exactly one invocation owns the winner.
                if (win != NONE && mine == win) {
                        sv[bj] = NEG_INF;
                        si[bj] = NONE;
                }
                barrier();
        }
}
