#version 450
// Causal attention over the paged KV cache (push.h: push_attn). One
// workgroup per (token, query head). Positions are taken in tiles of WG,
// in order: each invocation scores one position of the tile, the tile's
// maximum and exponentials update a running (max, sum) (online softmax),
// then each invocation adds the tile's weighted values into the output
// dims it owns. The order of every sum depends only on the token's own
// position, never on the batch. With KV_F16 the cache holds f16 values.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer Q { float q[]; };
#ifdef KV_F16
#extension GL_EXT_shader_16bit_storage : require
layout(binding = 1) readonly buffer C { float16_t cache[]; };
#else
layout(binding = 1) readonly buffer C { float cache[]; };
#endif
layout(binding = 2) readonly buffer B { uint block_table[]; };
layout(binding = 3) readonly buffer S { uint tok_seq[]; };
layout(binding = 4) readonly buffer P { int tok_pos[]; };
layout(binding = 5) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { push_attn p; } pc;

shared float qs[ATTN_MAX_DK];
shared float es[256];   // the tile's exponentials (WG <= 256)
shared uint rows_s[256]; // the tile's cache rows

void main() {
        uint idx = wg_linear();
        if (idx >= pc.p.n_tokens * pc.p.n_head)
                return; // uniform across the workgroup
        uint t = idx / pc.p.n_head, h = idx % pc.p.n_head, kvh = h / pc.p.group;
        uint lid = gl_LocalInvocationID.x;
        uint qb = t * pc.p.q_ts + h * pc.p.q_hs;
        for (uint d = lid; d < pc.p.dk; d += WG)
                qs[d] = q[qb + d];
        barrier();

        uint n_keys = uint(tok_pos[t]) + 1u;
        uint tb = tok_seq[t] * pc.p.max_blocks;
        uint kb = pc.p.k_off + kvh * pc.p.k_hs, vb = pc.p.v_off + kvh * pc.p.v_hs;
        uint nj = (pc.p.dv + WG - 1u) / WG;
        float acc[ATTN_MAX_DV_PER_INV];
        for (uint j = 0; j < ATTN_MAX_DV_PER_INV; j++)
                acc[j] = 0.0;
        float m = -1.0 / 0.0, l = 0.0;

        for (uint p0 = 0; p0 < n_keys; p0 += WG) {
                uint p = p0 + lid;
                float s = -1.0 / 0.0;
                if (p < n_keys) {
                        uint row = block_table[tb + p / pc.p.block_size] * pc.p.block_size + p % pc.p.block_size;
                        rows_s[lid] = row;
                        uint base = row * pc.p.row_width + kb;
                        float dot_ = 0.0;
                        for (uint d = 0; d < pc.p.dk; d++)
                                dot_ += qs[d] * float(cache[base + d]);
                        s = dot_ * pc.p.scale;
                }
                float m_new = max(m, wg_max(s)); // finite: the tile has a position
                float corr = m == -1.0 / 0.0 ? 0.0 : exp(m - m_new);
                float e = p < n_keys ? exp(s - m_new) : 0.0;
                es[lid] = e;
                l = l * corr + wg_sum(e); // its barriers publish es and rows_s
                uint cnt = min(WG, n_keys - p0);
                for (uint j = 0; j < nj; j++) {
                        uint d = lid + j * WG;
                        float a = acc[j] * corr;
                        if (d < pc.p.dv)
                                for (uint pp = 0; pp < cnt; pp++)
                                        a += es[pp] * float(cache[rows_s[pp] * pc.p.row_width + vb + d]);
                        acc[j] = a;
                }
                barrier(); // the next tile overwrites es and rows_s
                m = m_new;
        }
        uint ob = t * pc.p.o_ts + h * pc.p.o_hs;
        for (uint j = 0; j < nj; j++) {
                uint d = lid + j * WG;
                if (d < pc.p.dv)
                        o[ob + d] = acc[j] / l;
        }
}
