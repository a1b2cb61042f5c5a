/* CPU dequantization (src/gguf/quant.c), the reference every shader is
 * tested against, checked against hand-built K-quant blocks decoded by the
 * layout written out element by element here, and quantize -> dequantize
 * round trips within per-type bounds (relative L2, uniform data in [-1, 1)):
 * F16 1e-3, BF16 5e-3, Q8_0 1e-2, Q4_0 0.15, Q4_K 0.1, Q5_K 0.05, Q6_K 0.03. */
#include <errno.h>
#include <string.h>

#include "gguf/quant.h"
#include "harness.h"

static void hand_k(uint32_t type) {
        uint8_t b[210] = {0};
        static const uint8_t sc[8] = {1, 2, 3, 4, 40, 50, 60, 63}, mn[8] = {0, 1, 2, 3, 20, 33, 47, 63};
        /* sc/mn packed by hand (see quant.c's layout comment). */
        static const uint8_t packed[12] = {129, 194, 195, 196, 64, 129, 130, 195, 72, 18, 252, 255};
        float y[256], want[256];
        if (type == GGML_TYPE_Q6_K) {
                for (int i = 0; i < 192; i++)
                        b[i] = (uint8_t) (i * 37 + 11);
                for (int j = 0; j < 16; j++)
                        b[192 + j] = (uint8_t) (int8_t) (j - 7);
                b[208] = 0x00, b[209] = 0x38; /* d = 0.5 */
                for (int e = 0; e < 256; e++) {
                        int half = e / 128, qd = (e % 128) / 32, l = e % 32;
                        int ql = b[64 * half + l + 32 * (qd & 1)];
                        int q = (qd < 2 ? ql & 15 : ql >> 4) | (((b[128 + 32 * half + l] >> (2 * qd)) & 3) << 4);
                        int s = (int8_t) b[192 + 8 * half + l / 16 + 2 * qd];
                        want[e] = 0.5f * (float) s * (float) (q - 32);
                }
        } else {
                bool q5 = type == GGML_TYPE_Q5_K;
                b[0] = 0x00, b[1] = 0x3c; /* d = 1 */
                b[2] = 0x00, b[3] = 0x38; /* dmin = 0.5 */
                memcpy(b + 4, packed, 12);
                for (int i = 16; i < (q5 ? 176 : 144); i++)
                        b[i] = (uint8_t) (i * 7 + 3);
                const uint8_t *qh = b + 16, *qs = b + (q5 ? 48 : 16);
                for (int e = 0; e < 256; e++) {
                        int s = e / 32, l = e % 32, byte = qs[32 * (s / 2) + l];
                        int q = s % 2 ? byte >> 4 : byte & 15;
                        if (q5)
                                q += ((qh[l] >> s) & 1) * 16;
                        want[e] = 1.0f * sc[s] * (float) q - 0.5f * mn[s];
                }
        }
        CHECK(ggml_dequantize_row(type, b, y, 256) == 0, "%s: dequantize", ggml_type_name(type));
        int bad = 0;
        for (int e = 0; e < 256; e++)
                bad += y[e] != want[e];
        CHECK(bad == 0, "%s: %d of 256 elements differ from the layout (e.g. %g vs %g)", ggml_type_name(type), bad,
              y[255], want[255]);
}

static void round_trip(uint32_t type, double tol) {
        enum { N = 256 * 8 };
        float x[N], y[N];
        uint8_t q[N * 4];
        struct test_rng rng = {type + 1};
        for (int i = 0; i < N; i++)
                x[i] = test_rng_float(&rng);
        CHECK(ggml_quantize_row(type, x, q, N) == 0 && ggml_dequantize_row(type, q, y, N) == 0, "%s",
              ggml_type_name(type));
        double e = rel_l2(y, x, N);
        CHECK(e <= tol, "%s: round trip rel L2 %.3g > %.3g", ggml_type_name(type), e, tol);
        CHECK(e > 0 || type == GGML_TYPE_F32, "%s: lossless? suspicious", ggml_type_name(type));
        /* A block of zeros stays zeros (no NaN from a zero scale). */
        memset(x, 0, sizeof(x));
        CHECK(ggml_quantize_row(type, x, q, 256) == 0 && ggml_dequantize_row(type, q, y, 256) == 0, "zeros");
        int bad = 0;
        for (int i = 0; i < 256; i++)
                bad += y[i] != 0;
        CHECK(bad == 0, "%s: zeros come back as %d non-zeros", ggml_type_name(type), bad);
}

int main(void) {
        hand_k(GGML_TYPE_Q4_K);
        hand_k(GGML_TYPE_Q5_K);
        hand_k(GGML_TYPE_Q6_K);
        round_trip(GGML_TYPE_F32, 0);
        round_trip(GGML_TYPE_F16, 1e-3);
        round_trip(GGML_TYPE_BF16, 5e-3);
        round_trip(GGML_TYPE_Q8_0, 1e-2);
        round_trip(GGML_TYPE_Q4_0, 0.15);
        round_trip(GGML_TYPE_Q4_K, 0.1);
        round_trip(GGML_TYPE_Q5_K, 0.05);
        round_trip(GGML_TYPE_Q6_K, 0.03);
        CHECK(ggml_dequantize_row(GGML_TYPE_Q4_K, NULL, NULL, 100) == -EINVAL, "partial K block accepted");
        return test_exit("test-quant");
}
