#version 450
// Matrix x vector (push.h: push_matvec; with BY_ID push_matvec_id, the
// experts of a 3D weight chosen per token by id). One workgroup (one
// subgroup on most devices: WG = subgroup size) per row; each invocation
// walks whole quant blocks, then a subgroup reduction.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer W { uint w[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
#ifdef BY_ID
layout(binding = 3) readonly buffer Ids { uint ids[]; };
layout(push_constant) uniform PC { push_matvec_id p; } pc;
#else
layout(push_constant) uniform PC { push_matvec p; } pc;
#endif

// The first element of this workgroup's vector in x.
uint x0;

#define WDATA w
#include "types.glsl"

#if defined(WTYPE_Q8_0)
// A whole Q8_0 block, read as 16 halfwords.
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 16u; i++) {
                uint v = w_u16(b + 2u + 2u * i);
                s += float(sext8(v & 0xffu)) * x[x0 + k0 + 2u * i] + float(sext8(v >> 8)) * x[x0 + k0 + 2u * i + 1u];
        }
        return s * w_f16(b);
}
#elif defined(WTYPE_Q4_0)
float block_dot(uint b, uint k0) {
        float s = 0.0;
        for (uint i = 0; i < 8u; i++) {
                uint v = w_u16(b + 2u + 2u * i);
                uint j = 2u * i;
                s += (float(v & 15u) - 8.0) * x[x0 + k0 + j] + (float((v >> 8) & 15u) - 8.0) * x[x0 + k0 + j + 1u] +
                     (float((v >> 4) & 15u) - 8.0) * x[x0 + k0 + j + 16u] + (float(v >> 12) - 8.0) * x[x0 + k0 + j + 17u];
        }
        return s * w_f16(b);
}
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// Sub-block sb (32 elements) of the super-block at b: its scale and min
// applied once; quants read a word (4 elements) at a time (blocks are 144 /
// 176 bytes, so word aligned). Sub-blocks, not super-blocks, are spread over
// the invocations: a 7168-wide row has only 28 super-blocks.
float sub_dot(uint b, uint sb, uint k0) {
#if defined(WTYPE_Q5_K)
        const uint qs_off = 48u;
#else
        const uint qs_off = 16u;
#endif
        uvec2 sm = scale_min_k4(b + 4u, sb);
        uint qs = b + qs_off + 32u * (sb / 2u), shift = (sb & 1u) * 4u;
        float acc = 0.0, xs = 0.0;
        for (uint l = 0; l < 32u; l += 4u) {
                uint wd = w[(qs + l) >> 2];
#if defined(WTYPE_Q5_K)
                uint hd = w[(b + 16u + l) >> 2];
#endif
                for (uint i = 0; i < 4u; i++) {
                        uint q = (wd >> (8u * i + shift)) & 15u;
#if defined(WTYPE_Q5_K)
                        q += ((hd >> (8u * i + sb)) & 1u) * 16u;
#endif
                        float xv = x[x0 + k0 + 32u * sb + l + i];
                        acc += float(q) * xv;
                        xs += xv;
                }
        }
        return w_f16(b) * float(sm.x) * acc - w_f16(b + 2u) * float(sm.y) * xs;
}
#elif defined(WTYPE_Q6_K)
// The 32 elements (half, quarter) = (sb / 4, sb % 4) of the super-block at
// b: elements 128 * half + 32 * quarter + l, two scales.
float sub_dot(uint b, uint sb, uint k0) {
        uint half_ = sb / 4u, qd = sb % 4u;
        uint ql = b + 64u * half_ + 32u * (qd & 1u), qh = b + 128u + 32u * half_;
        uint shift = qd < 2u ? 0u : 4u;
        float acc0 = 0.0, acc1 = 0.0;
        for (uint l = 0; l < 32u; l += 2u) {
                uint lo = w_u16(ql + l), hi = w_u16(qh + l);
                for (uint i = 0; i < 2u; i++) {
                        uint q = ((lo >> (8u * i + shift)) & 15u) | (((hi >> (8u * i + 2u * qd)) & 3u) << 4);
                        float v = float(int(q) - 32) * x[x0 + k0 + 128u * half_ + 32u * qd + l + i];
                        if (l < 16u)
                                acc0 += v;
                        else
                                acc1 += v;
                }
        }
        uint sc = b + 192u + 8u * half_ + 2u * qd;
        return w_f16(b + 208u) * (float(sext8(w_u8(sc))) * acc0 + float(sext8(w_u8(sc + 1u))) * acc1);
}
#endif

// This invocation's share of the dot product of the weight row at byte
// `row` with the vector at x0. The same code for every vector: a vector's
// result never depends on which others share the workgroup.
float row_dot(uint row) {
        float s = 0.0;
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
                        s += f.x * x[x0 + 2u * p] + f.y * x[x0 + 2u * p + 1u];
                }
        } else {
                for (uint k = gl_LocalInvocationID.x; k < pc.p.ncols; k += WG)
                        s += dequant(row, k) * x[x0 + k];
        }
#elif QK == 1
        for (uint k = gl_LocalInvocationID.x; k < pc.p.ncols; k += WG)
                s += dequant(row, k) * x[x0 + k];
#elif QK == 256
        uint nsub = pc.p.ncols / 32u;
        for (uint u = gl_LocalInvocationID.x; u < nsub; u += WG)
                s += sub_dot(row + (u / 8u) * BLOCK_BYTES, u % 8u, (u / 8u) * 256u);
#else
        uint nb = pc.p.ncols / uint(QK);
        for (uint blk = gl_LocalInvocationID.x; blk < nb; blk += WG)
                s += block_dot(row + blk * BLOCK_BYTES, blk * QK);
#endif
        return s;
}

// Rows per workgroup (specialization constant 1). A CPU implementation pays
// for every workgroup it starts, so there several rows share one; each row is
// computed and reduced exactly as it would be alone.
layout(constant_id = 1) const uint NR = 1;
// Subgroup partial sums of the NR rows: [row][subgroup]. The host keeps
// NR * subgroups per workgroup within 64.
shared float red_rows[64];

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

void main() {
        uint r0 = wg_linear() * NR;
        if (r0 >= pc.p.nrows)
                return; // uniform across the workgroup
        uint nr = min(NR, pc.p.nrows - r0);
        uint lid = gl_LocalInvocationID.x;
#ifdef BY_ID
        uint t = gl_WorkGroupID.z / pc.p.n_slots, slot = gl_WorkGroupID.z % pc.p.n_slots;
        uint e = ids[t * pc.p.id_ts + slot];
        if (e < pc.p.id_begin || e >= pc.p.id_end)
                return; // another dispatch binds this matrix
        x0 = pc.p.x_off + t * pc.p.x_ts + slot * pc.p.x_ss;
        uint mat = (e - pc.p.id_begin) * pc.p.mat_rows + pc.p.row0;
        for (uint i = 0; i < nr; i++)
                row_part(i, row_dot((mat + r0 + i) * pc.p.row_bytes));
        barrier();
        if (lid < nr)
                y[t * pc.p.y_ts + slot * pc.p.y_ss + r0 + lid] = row_total(lid);
#else
        // Vectors tpg at a time: the weight rows are read from memory once and
        // from the cache for the others.
        for (uint j = 0; j < pc.p.tpg; j++) {
                uint t = gl_WorkGroupID.z * pc.p.tpg + j;
                if (t >= pc.p.nvec)
                        break; // uniform
                x0 = t * pc.p.x_ts;
                for (uint i = 0; i < nr; i++)
                        row_part(i, row_dot((r0 + i) * pc.p.row_bytes));
                barrier();
                if (lid < nr)
                        y[t * pc.p.y_ts + pc.p.y_off + r0 + lid] = row_total(lid);
                barrier(); // red_rows is refilled for the next vector
        }
#endif
}
