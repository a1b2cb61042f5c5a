// Helpers shared by every compute shader: the linear workgroup index (large
// dispatches are spread over x and y) and workgroup-wide reductions built on
// subgroup operations. The workgroup size is specialization constant 0.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

uint wg_linear() {
        return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

// Partial results of each subgroup; 64 covers 256 invocations at subgroup size 4.
shared float red_f[64];
shared uint red_u[64];

// Sum of v over the workgroup, returned to every invocation. Every invocation
// of the workgroup must call it (it contains barriers).
float wg_sum(float v) {
        v = subgroupAdd(v);
        if (subgroupElect())
                red_f[gl_SubgroupID] = v;
        barrier();
        float s = 0.0;
        for (uint i = 0; i < gl_NumSubgroups; i++)
                s += red_f[i];
        barrier();
        return s;
}

float wg_max(float v) {
        v = subgroupMax(v);
        if (subgroupElect())
                red_f[gl_SubgroupID] = v;
        barrier();
        float m = red_f[0];
        for (uint i = 1; i < gl_NumSubgroups; i++)
                m = max(m, red_f[i]);
        barrier();
        return m;
}

// The best (value, index) pair of the workgroup: largest value, lowest index
// among equal values. Returns the index; *v gets the value.
uint wg_argmax(inout float v, uint idx) {
        float m = subgroupMax(v);
        uint i = subgroupMin(v == m ? idx : 0xffffffffu);
        if (subgroupElect()) {
                red_f[gl_SubgroupID] = m;
                red_u[gl_SubgroupID] = i;
        }
        barrier();
        float bm = red_f[0];
        uint bi = red_u[0];
        for (uint s = 1; s < gl_NumSubgroups; s++) {
                float sm = red_f[s];
                uint si = red_u[s];
                if (sm > bm || (sm == bm && si < bi)) {
                        bm = sm;
                        bi = si;
                }
        }
        barrier();
        v = bm;
        return bi;
}
