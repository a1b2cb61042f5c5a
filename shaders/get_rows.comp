#version 450
// Embedding gather: out[i][c] = table[ids[i]][c], for the ids that fall in
// the rows of the table bound in this dispatch ([row_begin, row_end); a
// table larger than one binding is gathered in several dispatches).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "push.h"

layout(binding = 0) readonly buffer W { uint w[]; };
layout(binding = 1) readonly buffer I { int ids[]; };
layout(binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { push_get_rows p; } pc;

#define WDATA w
#include "types.glsl"

void main() {
        uint i = wg_linear();
        if (i >= pc.p.n_ids)
                return;
        uint id = uint(ids[i]);
        if (id < pc.p.row_begin || id >= pc.p.row_end)
                return;
        uint row = (id - pc.p.row_begin) * pc.p.row_bytes;
        for (uint c = gl_LocalInvocationID.x; c < pc.p.ncols; c += WG)
                y[i * pc.p.ncols + c] = dequant(row, c);
}
