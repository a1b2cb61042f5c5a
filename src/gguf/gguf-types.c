/* The one table of GGUF tensor types: block size and bytes per block, for
 * every type ggml defines, including those vkinfer does not compute.
 * Checked against the block structs and static_asserts of ggml's
 * ggml-common.h (llama.cpp, 2026). Q8_1 is 36 bytes there (two halves and
 * 32 quants); gguf-py's constants.py still says 40, a leftover from when the
 * two scales were floats. Q8_1 and Q8_K are activation formats that ggml
 * never writes into files, listed for completeness. */
#include "gguf/gguf.h"

#include <errno.h>
#include <stdio.h>

static const struct ggml_type_info type_table[GGML_TYPE_COUNT_] = {
        [GGML_TYPE_F32] = {"F32", 1, 4},
        [GGML_TYPE_F16] = {"F16", 1, 2},
        [GGML_TYPE_Q4_0] = {"Q4_0", 32, 2 + 16},
        [GGML_TYPE_Q4_1] = {"Q4_1", 32, 2 + 2 + 16},
        [GGML_TYPE_Q5_0] = {"Q5_0", 32, 2 + 4 + 16},
        [GGML_TYPE_Q5_1] = {"Q5_1", 32, 2 + 2 + 4 + 16},
        [GGML_TYPE_Q8_0] = {"Q8_0", 32, 2 + 32},
        [GGML_TYPE_Q8_1] = {"Q8_1", 32, 4 + 32},
        [GGML_TYPE_Q2_K] = {"Q2_K", 256, 16 + 64 + 2 + 2},
        [GGML_TYPE_Q3_K] = {"Q3_K", 256, 32 + 64 + 12 + 2},
        [GGML_TYPE_Q4_K] = {"Q4_K", 256, 2 + 2 + 12 + 128},
        [GGML_TYPE_Q5_K] = {"Q5_K", 256, 2 + 2 + 12 + 32 + 128},
        [GGML_TYPE_Q6_K] = {"Q6_K", 256, 128 + 64 + 16 + 2},
        [GGML_TYPE_Q8_K] = {"Q8_K", 256, 4 + 256 + 32},
        [GGML_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 2 + 64},
        [GGML_TYPE_IQ2_XS] = {"IQ2_XS", 256, 2 + 64 + 8},
        [GGML_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 2 + 96},
        [GGML_TYPE_IQ1_S] = {"IQ1_S", 256, 2 + 32 + 16},
        [GGML_TYPE_IQ4_NL] = {"IQ4_NL", 32, 2 + 16},
        [GGML_TYPE_IQ3_S] = {"IQ3_S", 256, 2 + 64 + 32 + 8 + 4},
        [GGML_TYPE_IQ2_S] = {"IQ2_S", 256, 2 + 64 + 8 + 8},
        [GGML_TYPE_IQ4_XS] = {"IQ4_XS", 256, 2 + 2 + 4 + 128},
        [GGML_TYPE_I8] = {"I8", 1, 1},
        [GGML_TYPE_I16] = {"I16", 1, 2},
        [GGML_TYPE_I32] = {"I32", 1, 4},
        [GGML_TYPE_I64] = {"I64", 1, 8},
        [GGML_TYPE_F64] = {"F64", 1, 8},
        [GGML_TYPE_IQ1_M] = {"IQ1_M", 256, 32 + 16 + 8},
        [GGML_TYPE_BF16] = {"BF16", 1, 2},
        [GGML_TYPE_TQ1_0] = {"TQ1_0", 256, 48 + 4 + 2},
        [GGML_TYPE_TQ2_0] = {"TQ2_0", 256, 64 + 2},
        [GGML_TYPE_MXFP4] = {"MXFP4", 32, 1 + 16},
        [GGML_TYPE_NVFP4] = {"NVFP4", 64, 4 + 32},
        [GGML_TYPE_Q1_0] = {"Q1_0", 128, 2 + 16},
        [GGML_TYPE_Q2_0] = {"Q2_0", 64, 2 + 16},
};

const struct ggml_type_info *ggml_type_info(uint32_t type) {
        if (type >= GGML_TYPE_COUNT_ || !type_table[type].name)
                return NULL;
        return &type_table[type];
}

const char *ggml_type_name(uint32_t type) {
        static _Thread_local char buf[32];
        const struct ggml_type_info *ti = ggml_type_info(type);
        if (ti)
                return ti->name;
        snprintf(buf, sizeof(buf), "type %u", type);
        return buf;
}

int ggml_row_bytes(uint32_t type, uint64_t n, uint64_t *ret) {
        const struct ggml_type_info *ti = ggml_type_info(type);
        if (!ti)
                return -EINVAL;
        if (n % ti->block_size != 0)
                return -EINVAL;
        return mul_overflows(n / ti->block_size, ti->type_size, ret) ? -EOVERFLOW : 0;
}

const char *gguf_type_name(enum gguf_type t) {
        static const char *const names[GGUF_TYPE_COUNT_] = {
                "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                "string", "array", "u64", "i64", "f64",
        };
        return (unsigned) t < GGUF_TYPE_COUNT_ ? names[t] : "invalid";
}
