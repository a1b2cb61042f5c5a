// The ternary types (ggml-common.h; quant-ternary.c has the same
// description), 256 elements of t - 1 in -1, 0, +1 times one f16 d:
//   TQ1_0: { u8 qs[48]; u8 qh[4]; f16 d; }  54 bytes
//          five trits per byte of qs, four per byte of qh: trit n of byte
//          v is 3 * (v * 3^n mod 256) >> 8. qs[m], m < 32: trit n is
//          element 32n + m; qs[32 + m], m < 16: element 160 + 16n + m;
//          qh[m]: element 240 + 4n + m
//   TQ2_0: { u8 qs[64]; f16 d; }            66 bytes
//          element k is bits 2 * ((k % 128) / 32) of qs[32 * (k / 128) +
//          k % 32] (Q2_K's order)
// Both blocks are only 16-bit aligned. x = (t - 1) * d, one product (exact).
#if defined(WTYPE_TQ1_0) || defined(WTYPE_TQ2_0)

#if defined(WTYPE_TQ1_0)
// 3^n for n < 5.
uint pow3(uint n) {
        return n < 4u ? (0x1b090301u >> (8u * n)) & 0xffu : 81u;
}

// The byte and trit of element j (0..255) of a TQ1_0 block.
uvec2 tq1_place(uint j) {
        if (j < 160u)
                return uvec2(j % 32u, j / 32u);
        if (j < 240u)
                return uvec2(32u + (j - 160u) % 16u, (j - 160u) / 16u);
        return uvec2(48u + (j - 240u) % 4u, (j - 240u) / 4u);
}
#endif

float dequant(uint row, uint k) {
        uint b = row + (k / 256u) * BLOCK_BYTES, j = k % 256u;
#if defined(WTYPE_TQ1_0)
        uvec2 p = tq1_place(j);
        uint t = (((w_u8(b + p.x) * pow3(p.y)) & 0xffu) * 3u) >> 8;
        return float(int(t) - 1) * w_f16(b + 52u);
#else
        uint t = (w_u8(b + 32u * (j / 128u) + j % 32u) >> (2u * ((j % 128u) / 32u))) & 3u;
        return float(int(t) - 1) * w_f16(b + 64u);
#endif
}

#ifdef MATVEC
#define HAVE_DOT
#if defined(WTYPE_TQ1_0)
// Sub-block sb: its trits live in the words at byte `off` (qs[0..31] for
// sb < 5, else qs[32..47] and qh), read once, as whole aligned words, and
// realigned when the block starts mid-word. Group g of 4 elements takes
// one word and one power of 3 (see the layout above):
//   sb < 5:  word g, trit sb
//   sb 5, 6: word g % 4, trit 2 * (sb - 5) + g / 4
//   sb 7:    word g (qh for g >= 4), trit 4 for g < 4, else g - 4
float sub_dot(uint b, uint sb, uint k0) {
        uint lim = sb < 5u ? 7u : 4u, off = b + (sb < 5u ? 0u : 32u);
        uint i0 = off >> 2, odd = (off >> 1) & 1u;
        uint wd[8];
        uint cur = w[i0];
        for (uint k = 0; k < 8u; k++) {
                uint nxt = w[i0 + min(k + 1u, lim + odd)];
                wd[k] = odd != 0u ? (cur >> 16) | (nxt << 16) : cur;
                cur = nxt;
        }
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        vec4 xc = x4[xb >> 2];
        float acc = 0.0;
        for (uint g = 0; g < 8u; g++) {
                vec4 xn = x4[x_next(xb, g)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                uint v, n;
                if (g < 4u) {
                        v = wd[g];
                        n = sb < 5u ? sb : sb < 7u ? 2u * (sb - 5u) : 4u;
                } else {
                        v = sb < 5u ? wd[g] : sb < 7u ? wd[g - 4u] : wd[4];
                        n = sb < 5u ? sb : sb < 7u ? 2u * (sb - 5u) + 1u : g - 4u;
                }
                uint p = pow3(n);
                for (uint e = 0; e < 4u; e++) {
                        uint t = ((((v >> (8u * e)) * p) & 0xffu) * 3u) >> 8;
                        acc += float(int(t) - 1) * xv[e];
                }
        }
        return w_f16(b + 52u) * acc;
}
#else
// Sub-block sb = 4 * h + c: bits 2c of qs[32h + l], l < 32: 8 words read
// as 9 aligned ones, realigned when the block starts mid-word.
float sub_dot(uint b, uint sb, uint k0) {
        uint off = b + 32u * (sb / 4u), i0 = off >> 2, odd = (off >> 1) & 1u, shift = 2u * (sb % 4u);
        uint xb = x0 + k0 + 32u * sb, a = xb & 3u;
        uint cur = w[i0];
        vec4 xc = x4[xb >> 2];
        float acc = 0.0;
        for (uint l = 0; l < 8u; l++) {
                uint nxt = w[i0 + l + (l < 7u ? 1u : odd)];
                uint v = (odd != 0u ? (cur >> 16) | (nxt << 16) : cur) >> shift;
                cur = nxt;
                vec4 xn = x4[x_next(xb, l)];
                vec4 xv = x_shift(xc, xn, a);
                xc = xn;
                for (uint i = 0; i < 4u; i++)
                        acc += float(int((v >> (8u * i)) & 3u) - 1) * xv[i];
        }
        return w_f16(b + 64u) * acc;
}
#endif
#endif // MATVEC
#endif
