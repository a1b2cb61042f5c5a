// K-quants: 256-element super-blocks of 8 or 16 sub-blocks (ggml-common.h):
//   Q2_K: { u8 scales[16]; u8 qs[64]; f16 d, dmin; }          84 bytes
//         x = d * (sc & 15) * q - dmin * (sc >> 4), sc = scales[k / 16]
//   Q3_K: { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d; } 110 bytes
//         x = d * (s - 32) * (q - 4 * !h), s the 6-bit scale k / 16 (low
//         nibble in scales[s % 8], the high one for s >= 8; top 2 bits at
//         bit 2 * (s / 4) of scales[8 + s % 4]), h bit k / 32 of
//         hmask[k % 32]
//         both: 2-bit q at bits 2 * ((k % 128) / 32) of
//         qs[32 * (k / 128) + k % 32]
//   Q4_K: { f16 d, dmin; u8 scales[12]; u8 qs[128]; }        144 bytes
//   Q5_K: { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; }  176
//         x = d * sc[s] * q - dmin * m[s] for sub-block s = k / 32; each 64
//         elements take 32 qs bytes, low nibbles then high; Q5_K's fifth
//         bit is bit s of qh[k % 32]
//   Q6_K: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }  210 bytes
//         x = d * scales[s] * (q - 32), s = k / 16 in ggml's interleaving
// Q3_K's and Q6_K's blocks are only 16-bit aligned, the others word aligned.
#if defined(WTYPE_Q2_K) || defined(WTYPE_Q3_K) || defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K) || defined(WTYPE_Q6_K)

#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// The 6-bit scale (x) and min (y) of sub-block j, packed in the 12 bytes at
// `sb`: j < 4 in the low 6 bits of bytes j and j+4; j >= 4 in the nibbles of
// byte j+4, the top 2 bits in the top bits of bytes j-4 and j.
uvec2 scale_min_k4(uint sb, uint j) {
        if (j < 4u)
                return uvec2(w_u8(sb + j) & 63u, w_u8(sb + j + 4u) & 63u);
        uint lo = w_u8(sb + j + 4u);
        return uvec2((lo & 15u) | ((w_u8(sb + j - 4u) >> 6) << 4), (lo >> 4) | ((w_u8(sb + j) >> 6) << 4));
}
#endif

#if defined(WTYPE_Q3_K)
// The 6-bit scales 2 * sb and 2 * sb + 1 of the 12 bytes at `sc`, + 32.
uvec2 scales_q3_k(uint sc, uint sb) {
        uint lo = w_u16(sc + ((2u * sb) & 7u)) >> (sb & 4u), hi = w_u16(sc + 8u + ((2u * sb) & 3u)) >> (sb & 6u);
        return uvec2((lo & 15u) | ((hi & 3u) << 4), ((lo >> 8) & 15u) | (((hi >> 8) & 3u) << 4));
}
#endif

float dequant(uint row, uint k) {
#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint s = j / 32u, l = j % 32u;
#if defined(WTYPE_Q5_K)
        uint qs = b + 48u;
#else
        uint qs = b + 16u;
#endif
        uint q = w_u8(qs + 32u * (s / 2u) + l);
        q = (s & 1u) != 0u ? q >> 4 : q & 15u;
#if defined(WTYPE_Q5_K)
        q += ((w_u8(b + 16u + l) >> s) & 1u) * 16u;
#endif
        uvec2 sm = scale_min_k4(b + 4u, s);
        return w_f16(b) * float(sm.x) * float(q) - w_f16(b + 2u) * float(sm.y);
#elif defined(WTYPE_Q6_K)
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint half_ = j / 128u, qd = (j % 128u) / 32u, l = j % 32u;
        uint ql = w_u8(b + 64u * half_ + l + 32u * (qd & 1u));
        ql = qd < 2u ? ql & 15u : ql >> 4;
        uint qh = (w_u8(b + 128u + 32u * half_ + l) >> (2u * qd)) & 3u;
        int sc = sext8(w_u8(b + 192u + 8u * half_ + l / 16u + 2u * qd));
        return w_f16(b + 208u) * float(sc) * float(int(ql | (qh << 4)) - 32);
#elif defined(WTYPE_Q2_K)
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint sc = w_u8(b + j / 16u);
        uint q = (w_u8(b + 16u + 32u * (j / 128u) + j % 32u) >> (2u * ((j % 128u) / 32u))) & 3u;
        float dl = w_f16(b + 80u) * float(sc & 15u), ml = w_f16(b + 82u) * float(sc >> 4);
        precise float v = dl * float(q) - ml;
        return v;
#else // Q3_K
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
        uint s = j / 16u;
        uvec2 sc = scales_q3_k(b + 96u, s / 2u);
        float dl = w_f16(b + 108u) * float(int((s & 1u) != 0u ? sc.y : sc.x) - 32);
        int q = int((w_u8(b + 32u + 32u * (j / 128u) + j % 32u) >> (2u * ((j % 128u) / 32u))) & 3u);
        if (((w_u8(b + j % 32u) >> (j / 32u)) & 1u) == 0u)
                q -= 4;
        return dl * float(q);
#endif
}

#ifdef MATVEC
#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
#define HAVE_DOT
// Sub-block sb (32 elements) of the super-block at b: its scale and min
// applied once; quants read a word (4 elements) at a time against a vec4 of
// x (blocks are 144 / 176 bytes, so word aligned). Sub-blocks, not super-blocks, are spread over
// the invocations: a 7168-wide row has only 28 super-blocks.
float sub_dot(uint b, uint sb, uint k0) {
#if defined(WTYPE_Q5_K)
        const uint qs_off = 48u;
#else
        const uint qs_off = 16u;
#endif
        uvec2 sm = scale_min_k4(b + 4u, sb);
        uint qs = (b + qs_off + 32u * (sb / 2u)) >> 2, shift = (sb & 1u) * 4u;
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float acc = 0.0, xs = 0.0;
        for (uint l = 0; l < 8u; l++) {
                vec4 xn = x4[x_next(xb, l)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                uvec4 q = (uvec4(w[qs + l]) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 15u;
#if defined(WTYPE_Q5_K)
                q += ((uvec4(w[((b + 16u) >> 2) + l]) >> (uvec4(0u, 8u, 16u, 24u) + sb)) & 1u) * 16u;
#endif
                acc += dot(vec4(q), xv);
                xs += dot(xv, vec4(1.0));
        }
        return w_f16(b) * float(sm.x) * acc - w_f16(b + 2u) * float(sm.y) * xs;
}
#elif defined(WTYPE_Q6_K)
#define HAVE_DOT
// The 32 elements (half, quarter) = (sb / 4, sb % 4) of the super-block at
// b: elements 128 * half + 32 * quarter + l, two scales; 4 quants at a time
// against a vec4 of x (w_u32: the block is only 16-bit aligned).
float sub_dot(uint b, uint sb, uint k0) {
        uint half_ = sb / 4u, qd = sb % 4u;
        uint ql = b + 64u * half_ + 32u * (qd & 1u), qh = b + 128u + 32u * half_;
        uint shift = qd < 2u ? 0u : 4u;
        uint xb = x0 + k0 + 128u * half_ + 32u * qd, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float acc[2] = float[2](0.0, 0.0);
        for (uint l = 0; l < 8u; l++) {
                vec4 xn = x4[x_next(xb, l)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                uvec4 lo = (uvec4(w_u32(ql + 4u * l)) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 15u;
                uvec4 hi = (uvec4(w_u32(qh + 4u * l)) >> (uvec4(0u, 8u, 16u, 24u) + 2u * qd)) & 3u;
                acc[l / 4u] += dot(vec4(ivec4(lo | (hi << 4)) - 32), xv);
        }
        float acc0 = acc[0], acc1 = acc[1];
        uint sc = b + 192u + 8u * half_ + 2u * qd;
        return w_f16(b + 208u) * (float(sext8(w_u8(sc))) * acc0 + float(sext8(w_u8(sc + 1u))) * acc1);
}
#elif defined(WTYPE_Q2_K) || defined(WTYPE_Q3_K)
#define HAVE_DOT
#if defined(WTYPE_Q2_K)
// Sub-block sb = 4 * n + c: bits 2c of qs[32n + l], l < 32, in 8 words
// (word aligned), two 16-element scales and mins applied once each.
float sub_dot(uint b, uint sb, uint k0) {
        uint qs = ((b + 16u) >> 2) + 8u * (sb / 4u), shift = 2u * (sb % 4u);
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float acc[2] = float[2](0.0, 0.0), xs[2] = float[2](0.0, 0.0);
        for (uint l = 0; l < 8u; l++) {
                vec4 xn = x4[x_next(xb, l)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                uint v = w[qs + l] >> shift;
                for (uint i = 0; i < 4u; i++)
                        acc[l / 4u] += float((v >> (8u * i)) & 3u) * xv[i];
                xs[l / 4u] += (xv.x + xv.y) + (xv.z + xv.w);
        }
        uint sc = w_u16(b + 2u * sb);
        vec2 dm = unpackHalf2x16(w[(b + 80u) >> 2]);
        return dm.x * (float(sc & 15u) * acc[0] + float((sc >> 8) & 15u) * acc[1]) -
               dm.y * (float((sc >> 4) & 15u) * xs[0] + float(sc >> 12) * xs[1]);
}
#else
// Sub-block sb = 4 * n + c: the 2 low bits (qs[32n + l], bits 2c) and the
// high bit (hmask[l], bit sb) of 4 elements merged in one word as 3-bit
// fields, the high bit inverted so that the field read as signed is
// q - 4 * !h. hmask and qs are read as aligned words, realigned when the
// block starts mid-word.
float sub_dot(uint b, uint sb, uint k0) {
        uint odd = (b >> 1) & 1u, hi = b >> 2, qi = hi + 8u + 8u * (sb / 4u), shift = 2u * (sb % 4u);
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        uint hc = w[hi], qc = w[qi];
        vec4 xc = x4[xb >> 2];
        float acc[2] = float[2](0.0, 0.0);
        for (uint l = 0; l < 8u; l++) {
                uint nx = l + (l < 7u ? 1u : odd);
                uint hn = w[hi + nx], qn = w[qi + nx];
                uint h = odd != 0u ? (hc >> 16) | (hn << 16) : hc, q = odd != 0u ? (qc >> 16) | (qn << 16) : qc;
                hc = hn;
                qc = qn;
                uint v = ((q >> shift) & 0x03030303u) | (((~h >> sb) << 2) & 0x04040404u);
                vec4 xn = x4[x_next(xb, l)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                for (uint i = 0; i < 4u; i++)
                        acc[l / 4u] += float(int(v << (29u - 8u * i)) >> 29) * xv[i];
        }
        uvec2 sc = scales_q3_k(b + 96u, sb);
        return w_f16(b + 108u) * (float(int(sc.x) - 32) * acc[0] + float(int(sc.y) - 32) * acc[1]);
}
#endif
#endif

#endif // MATVEC
#endif
