#version 450
// Matrix x vector (push.h: push_matvec; with BY_ID push_matvec_id, the
// experts of a 3D weight chosen per token by id; with GROUPED too, over
// id_group.comp's chunks of pairs that chose one matrix). One workgroup (one
// subgroup on most devices: WG = subgroup size) per row; each invocation
// walks whole quant blocks, then a subgroup reduction.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer W { uint w[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
#if defined(BY_ID) && defined(GROUPED)
layout(binding = 3) readonly buffer Groups { uint grp[]; }; // id_group.comp's output
layout(push_constant) uniform PC { push_matvec_id p; } pc;
#elif defined(BY_ID)
layout(binding = 3) readonly buffer Ids { uint ids[]; };
layout(push_constant) uniform PC { push_matvec_id p; } pc;
#else
layout(push_constant) uniform PC { push_matvec p; } pc;
#endif

// x seen 4 floats at a time, for the types' dot products: on a CPU device
// each load instruction costs a loop over the invocations, so one vec4 load
// is far cheaper than four float ones (x2 for the whole matvec on lavapipe);
// on a GPU one 16-byte load per lane is what coalesces best.
layout(binding = 1) readonly buffer XVec4 { vec4 x4[]; };

// The first element of this workgroup's vector in x.
uint x0;

// Floats 4l .. 4l + 3 past an x index whose low 2 bits are a, from the
// aligned vec4s c (l) and n (l + 1); a is the same for the whole
// workgroup, so this is selects, no branch (a CPU device would run both
// sides of a branch).
vec4 x_shift(vec4 c, vec4 n, uint a) {
        return a == 0u ? c : a == 1u ? vec4(c.yzw, n.x) : a == 2u ? vec4(c.zw, n.xy) : vec4(c.w, n.xyz);
}

// x4 index of the vec4 after vec4 l (0..7) of the 32 floats at xb: the
// last only when xb is not aligned (else it would lie past the 32).
uint x_next(uint xb, uint l) {
        return (xb >> 2) + l + (l < 7u ? 1u : min(xb & 3u, 1u));
}

// The 32 floats of x at index xb as 8 vec4s.
void x_load32(uint xb, out vec4 xv[8]) {
        uint a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        for (uint l = 0; l < 8u; l++) {
                vec4 xn = x4[x_next(xb, l)];
                xv[l] = x_shift(xc, xn, a);
                xc = xn;
        }
}

#define WDATA w
#define MATVEC
// A type may define matvec_init() (and HAVE_MATVEC_INIT), run by the whole
// workgroup first: e.g. to copy a codebook into shared memory, which
// lavapipe reads far faster than a dynamically indexed constant array.
#define MATVEC_INIT_HOOK
#include "types.glsl"

#if !defined(HAVE_DOT) && QK == 32
// A type without its own block dot product: element by element.
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 32u; i++)
                s += dequant(b, i) * x[x0 + k0 + i];
        return s;
}
#elif !defined(HAVE_DOT) && QK == 256
float sub_dot(uint b, uint sb, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 32u; i++)
                s += dequant(b, 32u * sb + i) * x[x0 + k0 + 32u * sb + i];
        return s;
}
#endif

// Vectors whose dot products with a row share one pass over its weight
// blocks (specialization constant 2): each block is read and decoded once
// for all TT vectors, the work a GEMM saves, while every vector's sum is
// the same expression, in the same order, as when it is alone (TT = 1):
// batch invariance. xt[j] is vector j's first element in x; acc[j] its sum.
layout(constant_id = 2) const uint TT = 1;
uint xt[TT];
float acc[TT];

// Adds `expr`, read at x0, to every vector's sum.
#define EACH_VECTOR(expr)                         \
        for (uint j = 0; j < TT; j++) {           \
                x0 = xt[j];                       \
                acc[j] += (expr);                 \
        }

// This invocation's share of the dot products of the weight row at byte
// `row` with the TT vectors at xt, into acc. The same code for every
// vector: a vector's result never depends on which others share the
// workgroup.
void row_dot(uint row) {
        for (uint j = 0; j < TT; j++)
                acc[j] = 0.0;
#if defined(WTYPE_F16) || defined(WTYPE_BF16)
        if ((pc.p.row_bytes & 3u) == 0u) {
                // Even rows: one word holds two weights.
                uint base = row >> 2;
                for (uint p = gl_LocalInvocationID.x; p < pc.p.ncols / 2u; p += WG) {
                        uint v = w[base + p];
#if defined(WTYPE_F16)
                        vec2 f = unpackHalf2x16(v);
#else
                        vec2 f = vec2(uintBitsToFloat(v << 16), uintBitsToFloat(v & 0xffff0000u));
#endif
                        EACH_VECTOR(f.x * x[x0 + 2u * p] + f.y * x[x0 + 2u * p + 1u])
                }
        } else {
                for (uint k = gl_LocalInvocationID.x; k < pc.p.ncols; k += WG) {
                        float d = dequant(row, k);
                        EACH_VECTOR(d * x[x0 + k])
                }
        }
#elif QK == 1
        for (uint k = gl_LocalInvocationID.x; k < pc.p.ncols; k += WG) {
                float d = dequant(row, k);
                EACH_VECTOR(d * x[x0 + k])
        }
#elif QK == 256
        uint nsub = pc.p.ncols / 32u;
        for (uint u = gl_LocalInvocationID.x; u < nsub; u += WG)
                EACH_VECTOR(sub_dot(row + (u / 8u) * BLOCK_BYTES, u % 8u, (u / 8u) * 256u))
#else
        uint nb = pc.p.ncols / uint(QK);
        for (uint blk = gl_LocalInvocationID.x; blk < nb; blk += WG)
                EACH_VECTOR(block_dot(row + blk * BLOCK_BYTES, blk * QK))
#endif
}

// Rows per workgroup (specialization constant 1). A CPU implementation pays
// for every workgroup it starts, so there several rows share one; each row is
// computed and reduced exactly as it would be alone.
layout(constant_id = 1) const uint NR = 1;
// Subgroup partial sums of the NR x TT (row, vector) pairs:
// [row * TT + vector][subgroup]. The host keeps NR * TT * subgroups per
// workgroup within MATVEC_RED.
shared float red_rows[MATVEC_RED];

// Adds this invocation's part s of row i to the row's subgroup slot.
void row_part(uint i, float s) {
        s = subgroupAdd(s);
        if (subgroupElect())
                red_rows[i * gl_NumSubgroups + gl_SubgroupID] = s;
}

// Row i's sum over the subgroups, in subgroup order (as wg_sum adds them).
float row_total(uint i) {
        float s = 0.0;
        for (uint k = 0; k < gl_NumSubgroups; k++)
                s += red_rows[i * gl_NumSubgroups + k];
        return s;
}

// The NR (or fewer, nr) rows from `row` against the TT vectors at xt, into
// red_rows: each row's dot products, then their subgroup parts.
void dot_rows(uint row, uint nr) {
        for (uint i = 0; i < nr; i++) {
                row_dot((row + i) * pc.p.row_bytes);
                for (uint j = 0; j < TT; j++)
                        row_part(i * TT + j, acc[j]);
        }
}

void main() {
#ifdef HAVE_MATVEC_INIT
        matvec_init();
#endif
        uint r0 = wg_linear() * NR;
        if (r0 >= pc.p.nrows)
                return; // uniform across the workgroup
        uint nr = min(NR, pc.p.nrows - r0);
        uint lid = gl_LocalInvocationID.x;
#if defined(BY_ID) && defined(GROUPED)
        // Chunk z of id_group: up to TT pairs that chose one matrix, which
        // is read once for all of them; a short chunk repeats its last pair
        // rather than branch, and does not store it.
        uint c = gl_WorkGroupID.z, e = grp[3u * c];
        if (e < pc.p.id_begin || e >= pc.p.id_end)
                return; // unused (ID_GROUP_NONE), or another dispatch binds this matrix
        uint first = 3u * pc.p.n_chunks + grp[3u * c + 1u], cnt = grp[3u * c + 2u];
        for (uint j = 0; j < TT; j++) {
                uint q = grp[first + min(j, cnt - 1u)];
                xt[j] = pc.p.x_off + (q / pc.p.n_slots) * pc.p.x_ts + (q % pc.p.n_slots) * pc.p.x_ss;
        }
        dot_rows((e - pc.p.id_begin) * pc.p.mat_rows + pc.p.row0 + r0, nr);
        barrier();
        for (uint q = lid; q < nr * TT; q += WG) {
                uint j = q % TT;
                if (j < cnt) {
                        uint pr = grp[first + j];
                        y[(pr / pc.p.n_slots) * pc.p.y_ts + (pr % pc.p.n_slots) * pc.p.y_ss + r0 + q / TT] = row_total(q);
                }
        }
#elif defined(BY_ID)
        uint t = gl_WorkGroupID.z / pc.p.n_slots, slot = gl_WorkGroupID.z % pc.p.n_slots;
        uint e = ids[t * pc.p.id_ts + slot];
        if (e < pc.p.id_begin || e >= pc.p.id_end)
                return; // another dispatch binds this matrix
        xt[0] = pc.p.x_off + t * pc.p.x_ts + slot * pc.p.x_ss; // TT = 1 here
        dot_rows((e - pc.p.id_begin) * pc.p.mat_rows + pc.p.row0 + r0, nr);
        barrier();
        if (lid < nr)
                y[t * pc.p.y_ts + slot * pc.p.y_ss + r0 + lid] = row_total(lid);
#else
        // Vectors tpg at a time, TT of them per pass over the weight rows (the
        // host makes tpg a multiple of TT); a pass past the last vector
        // repeats it rather than branch, and does not store.
        for (uint j0 = 0; j0 < pc.p.tpg; j0 += TT) {
                uint t0 = gl_WorkGroupID.z * pc.p.tpg + j0;
                if (t0 >= pc.p.nvec)
                        break; // uniform
                for (uint j = 0; j < TT; j++)
                        xt[j] = min(t0 + j, pc.p.nvec - 1u) * pc.p.x_ts;
                dot_rows(r0, nr);
                barrier();
                // nr * TT sums may outnumber the invocations.
                for (uint q = lid; q < nr * TT; q += WG) {
                        uint t = t0 + q % TT;
                        if (t < pc.p.nvec)
                                y[t * pc.p.y_ts + pc.p.y_off + r0 + q / TT] = row_total(q);
                }
                barrier(); // red_rows is refilled for the next vectors
        }
#endif
}
