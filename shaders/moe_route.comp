#version 450
// MoE routing of one token per workgroup (push.h: push_moe_route): the
// gating over the experts in parallel, then the group limit and the top-k
// by the first invocation, in the same order as ref_moe_route.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer L { float logits[]; };
layout(binding = 1) readonly buffer B { float bias[]; };
layout(binding = 2) writeonly buffer I { uint out_ids[]; };
layout(binding = 3) writeonly buffer W { float out_w[]; };
layout(push_constant) uniform PC { push_moe_route p; } pc;

shared float probs[MOE_MAX_EXPERT];
shared float sel[MOE_MAX_EXPERT];

const float NEG_INF = -1.0 / 0.0;

// The best expert by sel that is not -inf (taken or masked), lowest index
// on ties; n_expert when none.
uint best_free() {
        uint best = pc.p.n_expert;
        for (uint i = 0; i < pc.p.n_expert; i++) {
                if (sel[i] == NEG_INF)
                        continue;
                if (best == pc.p.n_expert || sel[i] > sel[best])
                        best = i;
        }
        return best;
}

void main() {
        uint t = wg_linear();
        if (t >= pc.p.n_tokens)
                return;
        uint lid = gl_LocalInvocationID.x, n = pc.p.n_expert;
        uint lb = t * n;

        float mx = NEG_INF;
        for (uint e = lid; e < n; e += WG)
                mx = max(mx, logits[lb + e]);
        mx = wg_max(mx);
        float sum = 0.0;
        for (uint e = lid; e < n; e += WG) {
                float v = logits[lb + e], pr;
                if (pc.p.gating == 2u)
                        pr = 1.0 / (1.0 + exp(-v));
                else
                        pr = exp(v - mx);
                probs[e] = pr;
                sum += pr;
        }
        sum = wg_sum(sum); // its barriers publish probs
        if (lid != 0u)
                return;
        for (uint e = 0; e < n; e++) {
                if (pc.p.gating != 2u)
                        probs[e] /= sum;
                sel[e] = probs[e] + (pc.p.has_bias != 0u ? bias[e] : 0.0);
        }

        if (pc.p.n_groups > 1u) {
                uint per = n / pc.p.n_groups;
                float gscore[MOE_MAX_EXPERT];
                bool kept[MOE_MAX_EXPERT];
                for (uint g = 0; g < pc.p.n_groups; g++) {
                        float b = NEG_INF, s2 = NEG_INF;
                        for (uint i = 0; i < per; i++) {
                                float v = sel[g * per + i];
                                if (v > b) {
                                        s2 = b;
                                        b = v;
                                } else if (v > s2)
                                        s2 = v;
                        }
                        gscore[g] = b + s2;
                        kept[g] = false;
                }
                for (uint k = 0; k < pc.p.n_groups_used; k++) {
                        uint bg = pc.p.n_groups;
                        for (uint g = 0; g < pc.p.n_groups; g++)
                                if (!kept[g] && gscore[g] != NEG_INF && (bg == pc.p.n_groups || gscore[g] > gscore[bg]))
                                        bg = g;
                        if (bg < pc.p.n_groups)
                                kept[bg] = true;
                }
                for (uint e = 0; e < n; e++)
                        if (!kept[e / per])
                                sel[e] = NEG_INF;
        }

        uint chosen[MOE_MAX_USED];
        float psum = 0.0;
        for (uint k = 0; k < pc.p.k; k++) {
                uint b = best_free();
                if (b == n)
                        b = 0u; // fewer eligible experts than k: cannot happen with valid hparams
                chosen[k] = b;
                psum += probs[b];
                sel[b] = NEG_INF; // taken
        }
        for (uint k = 0; k < pc.p.k; k++) {
                float wv = probs[chosen[k]];
                if (pc.p.norm != 0u)
                        wv /= max(psum, 6.103515625e-5);
                if (pc.p.scale != 0.0 && pc.p.scale != 1.0)
                        wv *= pc.p.scale;
                out_ids[t * pc.p.k + k] = chosen[k];
                out_w[t * pc.p.k + k] = wv;
        }
}
