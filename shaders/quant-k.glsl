// K-quants: 256-element super-blocks of 8 or 16 sub-blocks (ggml-common.h):
//   Q2_K: { u8 scales[16]; u8 qs[64]; f16 d, dmin; }          84 bytes
//   Q3_K: { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d; } 110 bytes
//   Q4_K: { f16 d, dmin; u8 scales[12]; u8 qs[128]; }        144 bytes
//   Q5_K: { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; }  176
//         x = d * sc[s] * q - dmin * m[s] for sub-block s = k / 32; each 64
//         elements take 32 qs bytes, low nibbles then high; Q5_K's fifth
//         bit is bit s of qh[k % 32]
//   Q6_K: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }  210 bytes
//         x = d * scales[s] * (q - 32), s = k / 16 in ggml's interleaving
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
#else
        return 0.0; // TODO(helper): Q2_K Q3_K
#endif
}

#ifdef MATVEC
#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
#define HAVE_DOT
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
#define HAVE_DOT
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

#endif // MATVEC
#endif
