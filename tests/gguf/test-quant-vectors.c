/* The CPU dequantization of every quantized type against llama.cpp's own:
 * tests/data/quants/quant-vectors.gguf holds, for each type T, rows of a real
 * tensor as llama-quantize wrote it (`t.q`) and their values as ggml's
 * to_float gives them (`t.f32`). Every element must match bit for bit
 * (compared as bits, so -0.0 and NaN payloads count). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "gguf/quant.h"
#include "harness.h"

static const uint32_t types[] = {
        GGML_TYPE_Q4_0,    GGML_TYPE_Q4_1,   GGML_TYPE_Q5_0,   GGML_TYPE_Q5_1,    GGML_TYPE_Q8_0,   GGML_TYPE_Q2_K,
        GGML_TYPE_Q3_K,    GGML_TYPE_Q4_K,   GGML_TYPE_Q5_K,   GGML_TYPE_Q6_K,    GGML_TYPE_IQ1_S,  GGML_TYPE_IQ1_M,
        GGML_TYPE_IQ2_XXS, GGML_TYPE_IQ2_XS, GGML_TYPE_IQ2_S,  GGML_TYPE_IQ3_XXS, GGML_TYPE_IQ3_S,  GGML_TYPE_IQ4_NL,
        GGML_TYPE_IQ4_XS,  GGML_TYPE_TQ1_0,  GGML_TYPE_TQ2_0,  GGML_TYPE_F16,     GGML_TYPE_BF16,
};

/* The vector tensors' name prefix: the type's name in lower case. */
static void lower_name(uint32_t type, char *buf, size_t size) {
        snprintf(buf, size, "%s", ggml_type_name(type));
        for (char *p = buf; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
}

static void check_type(const struct gguf_file *f, uint32_t type) {
        char base[32], name[64];
        lower_name(type, base, sizeof(base));
        snprintf(name, sizeof(name), "%s.q", base);
        const struct gguf_tensor *q = gguf_find_tensor(f, name);
        snprintf(name, sizeof(name), "%s.f32", base);
        const struct gguf_tensor *ref = gguf_find_tensor(f, name);
        CHECK(q && ref, "%s: vectors missing", base);
        if (!q || !ref)
                return;
        CHECK(q->type == type && ref->type == GGML_TYPE_F32 && q->n_elements == ref->n_elements && q->ne[0] == ref->ne[0],
              "%s: vector shapes do not match", base);
        CHECK(ggml_can_dequantize(type), "%s: not dequantized", base);
        float *out = malloc(q->n_elements * sizeof(float));
        uint64_t rb;
        CHECK(ggml_row_bytes(type, q->ne[0], &rb) == 0, "%s: row bytes", base);
        uint64_t nrows = q->n_elements / q->ne[0], bad = 0, first = UINT64_MAX;
        /* Row by row, as the engine's reference calls it. */
        for (uint64_t r = 0; r < nrows; r++) {
                int ret = ggml_dequantize_row(type, (const uint8_t *) q->data + r * rb, out + r * q->ne[0], q->ne[0]);
                CHECK(ret == 0, "%s: row %llu: %d", base, (unsigned long long) r, ret);
        }
        const uint32_t *want = ref->data, *got = (const uint32_t *) out;
        for (uint64_t i = 0; i < q->n_elements; i++)
                if (want[i] != got[i]) {
                        bad++;
                        if (first == UINT64_MAX)
                                first = i;
                }
        if (bad) {
                float w, g;
                memcpy(&w, &want[first], 4);
                memcpy(&g, &got[first], 4);
                CHECK(0, "%s: %llu of %llu elements differ; first [%llu]: %.9g, llama.cpp %.9g", base,
                      (unsigned long long) bad, (unsigned long long) q->n_elements, (unsigned long long) first, g, w);
        }
        /* A row that is not a whole number of blocks is refused. */
        uint32_t bs = ggml_type_info(type)->block_size;
        if (bs > 1)
                CHECK(ggml_dequantize_row(type, q->data, out, bs + 1) == -EINVAL, "%s: partial block accepted", base);
        free(out);
}

int main(void) {
        const char *data = getenv("VKINFER_TEST_DATA");
        char path[1024];
        CHECK(data, "VKINFER_TEST_DATA is not set");
        if (!data)
                return test_exit("test-quant-vectors");
        snprintf(path, sizeof(path), "%s/quants/quant-vectors.gguf", data);
        struct gguf_file *f = NULL;
        struct vkinfer_err err = {{0}};
        int r = gguf_open(path, &f, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return test_exit("test-quant-vectors");
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                check_type(f, types[i]);
        /* Types no kernel reads are refused by name, not misread. */
        CHECK(!ggml_can_dequantize(GGML_TYPE_MXFP4) && !ggml_can_dequantize(GGML_TYPE_Q8_K), "MXFP4/Q8_K claimed");
        float y[32];
        uint8_t blk[17] = {0};
        CHECK(ggml_dequantize_row(GGML_TYPE_MXFP4, blk, y, 32) == -EOPNOTSUPP, "MXFP4 not refused");
        gguf_close(f);
        return test_exit("test-quant-vectors");
}
