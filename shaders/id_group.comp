#version 450
// Groups the (token, slot) pairs of a matvec by id by matrix (push.h:
// push_id_group), one workgroup: counts per matrix, their prefix sums by the
// first invocation, then each matrix's pairs in pair order and its chunks of
// at most MATVEC_TPG. The order is fixed by the ids alone, so the grouped
// product is the same whatever the timing.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer I { uint ids[]; };
layout(binding = 1) writeonly buffer G { uint g[]; };
layout(push_constant) uniform PC { push_id_group p; } pc;

const uint TPG = uint(MATVEC_TPG);
shared uint count[ID_GROUP_MAX_MATS];
shared uint first_pair[ID_GROUP_MAX_MATS];
shared uint first_chunk[ID_GROUP_MAX_MATS + 1];

uint id_of(uint pair) {
        return ids[(pair / pc.p.n_slots) * pc.p.id_ts + pair % pc.p.n_slots];
}

void main() {
        uint lid = gl_LocalInvocationID.x, n_pairs = pc.p.n_tokens * pc.p.n_slots;
        for (uint e = lid; e < pc.p.n_mats; e += WG) {
                uint n = 0;
                for (uint q = 0; q < n_pairs; q++)
                        n += id_of(q) == e ? 1u : 0u;
                count[e] = n;
        }
        barrier();
        if (lid == 0u) {
                uint pairs = 0, chunks = 0;
                for (uint e = 0; e < pc.p.n_mats; e++) {
                        first_pair[e] = pairs;
                        first_chunk[e] = chunks;
                        pairs += count[e];
                        chunks += (count[e] + TPG - 1u) / TPG;
                }
                first_chunk[pc.p.n_mats] = chunks;
        }
        barrier();
        uint base = 3u * pc.p.n_chunks;
        for (uint e = lid; e < pc.p.n_mats; e += WG) {
                uint k = first_pair[e];
                for (uint q = 0; q < n_pairs; q++)
                        if (id_of(q) == e)
                                g[base + k++] = q;
                for (uint c = 0; c * TPG < count[e]; c++) {
                        uint at = 3u * (first_chunk[e] + c);
                        g[at] = e;
                        g[at + 1u] = first_pair[e] + c * TPG;
                        g[at + 2u] = min(TPG, count[e] - c * TPG);
                }
        }
        for (uint c = first_chunk[pc.p.n_mats] + lid; c < pc.p.n_chunks; c += WG)
                g[3u * c] = ID_GROUP_NONE;
}
