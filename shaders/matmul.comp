#version 450
// Matrix x matrix: Y[n][y_off + m] = sum_k W[m][k] * X[n][k]. Each workgroup
// computes a TM x TN tile of outputs, staging dequantized weights and
// activations in shared memory TK columns at a time. Needs WG = 64.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer W { uint w[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { push_matmul p; } pc;

#define WDATA w
#include "types.glsl"

#define TM 32u
#define TN 32u
#define TK 32u
shared float ws[TK][TM + 1u];
shared float xs[TK][TN + 1u];

void main() {
        uint m0 = gl_WorkGroupID.x * TM, n0 = gl_WorkGroupID.y * TN;
        uint t = gl_LocalInvocationID.x;
        // Each of the 64 invocations owns a 4 x 4 block of the tile.
        uint tm = (t % 8u) * 4u, tn = (t / 8u) * 4u;
        float acc[4][4];
        for (uint i = 0; i < 4u; i++)
                for (uint j = 0; j < 4u; j++)
                        acc[i][j] = 0.0;
        for (uint k0 = 0; k0 < pc.p.ncols; k0 += TK) {
                for (uint e = t; e < TK * TM; e += WG) {
                        uint kk = e % TK, mm = e / TK;
                        uint m = m0 + mm, k = k0 + kk;
                        ws[kk][mm] = (m < pc.p.nrows && k < pc.p.ncols) ? dequant(m * pc.p.row_bytes, k) : 0.0;
                        uint n = n0 + mm;
                        xs[kk][mm] = (n < pc.p.nvec && k < pc.p.ncols) ? x[n * pc.p.ncols + k] : 0.0;
                }
                barrier();
                for (uint kk = 0; kk < TK; kk++) {
                        float a[4], b[4];
                        for (uint i = 0; i < 4u; i++) {
                                a[i] = ws[kk][tm + i];
                                b[i] = xs[kk][tn + i];
                        }
                        for (uint i = 0; i < 4u; i++)
                                for (uint j = 0; j < 4u; j++)
                                        acc[i][j] += a[i] * b[j];
                }
                barrier();
        }
        for (uint i = 0; i < 4u; i++)
                for (uint j = 0; j < 4u; j++) {
                        uint m = m0 + tm + i, n = n0 + tn + j;
                        if (m < pc.p.nrows && n < pc.p.nvec)
                                y[n * pc.p.y_stride + pc.p.y_off + m] = acc[i][j];
                }
}
