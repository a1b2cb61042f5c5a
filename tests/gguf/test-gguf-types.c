/* The ggml type table against the block sizes and bytes per block of
 * ggml's ggml-common.h (written out here independently, from the block
 * structs), the retired numbers, names and row-size arithmetic. */
#include <errno.h>
#include <string.h>

#include "gguf/gguf.h"
#include "harness.h"

struct expect {
        uint32_t type;
        const char *name;
        uint32_t block, bytes;
};

/* QK_K = 256. Each size is the sum of the block struct's fields. */
static const struct expect table[] = {
        {0, "F32", 1, 4},         {1, "F16", 1, 2},
        {2, "Q4_0", 32, 18},      /* half d; u8 qs[16] */
        {3, "Q4_1", 32, 20},      /* half d, m; u8 qs[16] */
        {6, "Q5_0", 32, 22},      /* half d; u8 qh[4]; u8 qs[16] */
        {7, "Q5_1", 32, 24},      /* half d, m; u8 qh[4]; u8 qs[16] */
        {8, "Q8_0", 32, 34},      /* half d; i8 qs[32] */
        {9, "Q8_1", 32, 36},      /* half d, s; i8 qs[32] */
        {10, "Q2_K", 256, 84},    /* u8 scales[16]; u8 qs[64]; half d, dmin */
        {11, "Q3_K", 256, 110},   /* u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d */
        {12, "Q4_K", 256, 144},   /* half d, dmin; u8 scales[12]; u8 qs[128] */
        {13, "Q5_K", 256, 176},   /* half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] */
        {14, "Q6_K", 256, 210},   /* u8 ql[128]; u8 qh[64]; i8 scales[16]; half d */
        {15, "Q8_K", 256, 292},   /* float d; i8 qs[256]; i16 bsums[16] */
        {16, "IQ2_XXS", 256, 66}, /* half d; u16 qs[32] */
        {17, "IQ2_XS", 256, 74},  /* half d; u16 qs[32]; u8 scales[8] */
        {18, "IQ3_XXS", 256, 98}, /* half d; u8 qs[96] */
        {19, "IQ1_S", 256, 50},   /* half d; u8 qs[32]; u16 qh[8] */
        {20, "IQ4_NL", 32, 18},   /* half d; u8 qs[16] */
        {21, "IQ3_S", 256, 110},  /* half d; u8 qs[64]; u8 qh[8]; u8 signs[32]; u8 scales[4] */
        {22, "IQ2_S", 256, 82},   /* half d; u8 qs[64]; u8 qh[8]; u8 scales[8] */
        {23, "IQ4_XS", 256, 136}, /* half d; u16 scales_h; u8 scales_l[4]; u8 qs[128] */
        {24, "I8", 1, 1},         {25, "I16", 1, 2},  {26, "I32", 1, 4},
        {27, "I64", 1, 8},        {28, "F64", 1, 8},
        {29, "IQ1_M", 256, 56},   /* u8 qs[32]; u8 qh[16]; u8 scales[8] */
        {30, "BF16", 1, 2},
        {34, "TQ1_0", 256, 54},   /* u8 qs[48]; u8 qh[4]; half d */
        {35, "TQ2_0", 256, 66},   /* u8 qs[64]; half d */
        {39, "MXFP4", 32, 17},    /* u8 e; u8 qs[16] */
        {40, "NVFP4", 64, 36},    /* u8 d[4]; u8 qs[32] */
        {41, "Q1_0", 128, 18},    /* half d; u8 qs[16] */
        {42, "Q2_0", 64, 18},     /* half d; u8 qs[16] */
};

int main(void) {
        bool known[GGML_TYPE_COUNT_ + 8] = {0};
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const struct expect *e = &table[i];
                const struct ggml_type_info *ti = ggml_type_info(e->type);
                known[e->type] = true;
                CHECK(ti != NULL, "type %u (%s) missing", e->type, e->name);
                if (!ti)
                        continue;
                CHECK(strcmp(ti->name, e->name) == 0, "type %u named %s, not %s", e->type, ti->name, e->name);
                CHECK(ti->block_size == e->block && ti->type_size == e->bytes, "%s: %u/%u, ggml has %u/%u", e->name,
                      ti->block_size, ti->type_size, e->block, e->bytes);
                CHECK(strcmp(ggml_type_name(e->type), e->name) == 0, "name of %u", e->type);
                uint64_t row;
                CHECK(ggml_row_bytes(e->type, e->block * 7ull, &row) == 0 && row == e->bytes * 7ull, "%s row bytes", e->name);
                if (e->block > 1)
                        CHECK(ggml_row_bytes(e->type, e->block + 1ull, &row) == -EINVAL, "%s partial block", e->name);
                CHECK(ggml_row_bytes(e->type, UINT64_MAX / e->block * e->block, &row) == (e->bytes > e->block ? -EOVERFLOW : 0),
                      "%s huge row", e->name);
        }
        /* Everything else, retired numbers (4, 5, 31-33, 36-38) included, is unknown. */
        for (uint32_t t = 0; t < GGML_TYPE_COUNT_ + 8; t++) {
                if (known[t])
                        continue;
                uint64_t row;
                CHECK(ggml_type_info(t) == NULL, "type %u should be unknown", t);
                CHECK(ggml_row_bytes(t, 32, &row) == -EINVAL, "row bytes of unknown %u", t);
                char want[32];
                snprintf(want, sizeof(want), "type %u", t);
                CHECK(strcmp(ggml_type_name(t), want) == 0, "name of unknown %u: %s", t, ggml_type_name(t));
        }
        CHECK(ggml_type_info(UINT32_MAX) == NULL, "UINT32_MAX");
        CHECK(strcmp(gguf_type_name(GGUF_TYPE_FLOAT64), "f64") == 0 && strcmp(gguf_type_name(GGUF_TYPE_COUNT_), "invalid") == 0 &&
              strcmp(gguf_type_name((enum gguf_type) 1000), "invalid") == 0, "gguf type names");
        struct gguf_tensor t = {.name = (char *) "blk.3.ffn_down_exps.weight", .type = GGML_TYPE_IQ2_XXS};
        static const uint32_t ours[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q8_0};
        struct vkinfer_err err = {{0}};
        CHECK(gguf_tensor_require_type(&t, ours, 3, &err) == -EOPNOTSUPP &&
              strcmp(err.msg, "tensor 'blk.3.ffn_down_exps.weight': type IQ2_XXS is not supported here "
                              "(supported: F32, F16, Q8_0)") == 0, "%s", err.msg);
        t.type = GGML_TYPE_Q8_0;
        CHECK(gguf_tensor_require_type(&t, ours, 3, &err) == 0, "Q8_0 supported");
        CHECK(gguf_tensor_require_type(&t, ours, 0, &err) == -EOPNOTSUPP && strstr(err.msg, "(supported: none)"), "none");
        return test_exit("gguf-types");
}
