/* f32 <-> GGUF tensor types on the CPU: the half/bfloat conversions and
 * the table of per-type block codecs (quant-codec.h lists the files that
 * hold them). This is the reference every shader's dequantization is tested
 * against; dequantization is bit-exact to ggml's to_float. */
#include "gguf/quant.h"
#include "gguf/quant-codec.h"

#include <errno.h>
#include <math.h>
#include <string.h>

float fp16_to_fp32(uint16_t h) {
        uint32_t sign = (uint32_t) (h & 0x8000) << 16;
        uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
        if (exp == 0x1f) {
                bits = sign | 0x7f800000 | (mant << 13);
        } else if (exp == 0) {
                if (mant == 0) {
                        bits = sign;
                } else { /* subnormal: normalise */
                        int e = -1;
                        do {
                                e++;
                                mant <<= 1;
                        } while (!(mant & 0x400));
                        bits = sign | ((uint32_t) (127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
                }
        } else {
                bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
        }
        float f;
        memcpy(&f, &bits, 4);
        return f;
}

uint16_t fp32_to_fp16(float f) {
        uint32_t x;
        memcpy(&x, &f, 4);
        uint32_t sign = (x >> 16) & 0x8000;
        int32_t exp = (int32_t) ((x >> 23) & 0xff) - 127 + 15;
        uint32_t mant = x & 0x7fffff;
        if (((x >> 23) & 0xff) == 0xff) /* inf / nan */
                return (uint16_t) (sign | 0x7c00 | (mant ? 0x200 : 0));
        if (exp >= 0x1f)
                return (uint16_t) (sign | 0x7c00);
        if (exp <= 0) { /* subnormal or zero */
                if (exp < -10)
                        return (uint16_t) sign;
                mant |= 0x800000;
                uint32_t shift = (uint32_t) (14 - exp);
                uint32_t half = mant >> shift;
                uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
                if (rem > mid || (rem == mid && (half & 1)))
                        half++;
                return (uint16_t) (sign | half);
        }
        uint32_t h = sign | ((uint32_t) exp << 10) | (mant >> 13);
        uint32_t rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
                h++; /* may carry into the exponent, which is right */
        return (uint16_t) h;
}

float bf16_to_fp32(uint16_t h) {
        uint32_t bits = (uint32_t) h << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
}

uint16_t fp32_to_bf16(float f) {
        uint32_t x;
        memcpy(&x, &f, 4);
        if ((x & 0x7fffffff) > 0x7f800000)
                return (uint16_t) ((x >> 16) | 64); /* quiet nan */
        x += 0x7fff + ((x >> 16) & 1);
        return (uint16_t) (x >> 16);
}

static const struct codec {
        quant_dequant_fn *dequant;
        quant_quant_fn *quant; /* NULL: vkinfer reads the type, never writes it */
} codecs[GGML_TYPE_COUNT_] = {
        [GGML_TYPE_Q4_0] = {dequant_q4_0, quant_q4_0},
        [GGML_TYPE_Q4_1] = {dequant_q4_1, NULL},
        [GGML_TYPE_Q5_0] = {dequant_q5_0, NULL},
        [GGML_TYPE_Q5_1] = {dequant_q5_1, NULL},
        [GGML_TYPE_Q8_0] = {dequant_q8_0, quant_q8_0},
        [GGML_TYPE_Q2_K] = {dequant_q2_k, NULL},
        [GGML_TYPE_Q3_K] = {dequant_q3_k, NULL},
        [GGML_TYPE_Q4_K] = {dequant_q4_k, quant_q4_k},
        [GGML_TYPE_Q5_K] = {dequant_q5_k, quant_q5_k},
        [GGML_TYPE_Q6_K] = {dequant_q6_k, quant_q6_k},
        [GGML_TYPE_IQ1_S] = {dequant_iq1_s, NULL},
        [GGML_TYPE_IQ1_M] = {dequant_iq1_m, NULL},
        [GGML_TYPE_IQ2_XXS] = {dequant_iq2_xxs, NULL},
        [GGML_TYPE_IQ2_XS] = {dequant_iq2_xs, NULL},
        [GGML_TYPE_IQ2_S] = {dequant_iq2_s, NULL},
        [GGML_TYPE_IQ3_XXS] = {dequant_iq3_xxs, NULL},
        [GGML_TYPE_IQ3_S] = {dequant_iq3_s, NULL},
        [GGML_TYPE_IQ4_NL] = {dequant_iq4_nl, NULL},
        [GGML_TYPE_IQ4_XS] = {dequant_iq4_xs, NULL},
        [GGML_TYPE_TQ1_0] = {dequant_tq1_0, NULL},
        [GGML_TYPE_TQ2_0] = {dequant_tq2_0, NULL},
};

static bool is_float(uint32_t type) {
        return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

bool ggml_can_dequantize(uint32_t type) {
        return is_float(type) || (type < GGML_TYPE_COUNT_ && codecs[type].dequant);
}

bool ggml_can_quantize(uint32_t type) {
        return is_float(type) || (type < GGML_TYPE_COUNT_ && codecs[type].quant);
}

int ggml_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n) {
        const uint8_t *p = src;
        if (type == GGML_TYPE_F32) {
                memcpy(dst, src, n * 4);
                return 0;
        }
        if (type == GGML_TYPE_F16 || type == GGML_TYPE_BF16) {
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h;
                        memcpy(&h, p + 2 * i, 2);
                        dst[i] = type == GGML_TYPE_F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
                }
                return 0;
        }
        if (!ggml_can_dequantize(type))
                return -EOPNOTSUPP;
        const struct ggml_type_info *ti = ggml_type_info(type);
        if (n % ti->block_size)
                return -EINVAL;
        for (uint64_t b = 0; b < n / ti->block_size; b++)
                codecs[type].dequant(p + b * ti->type_size, dst + b * ti->block_size);
        return 0;
}

int ggml_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n) {
        uint8_t *p = dst;
        if (type == GGML_TYPE_F32) {
                memcpy(dst, src, n * 4);
                return 0;
        }
        if (type == GGML_TYPE_F16 || type == GGML_TYPE_BF16) {
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h = type == GGML_TYPE_F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
                        memcpy(p + 2 * i, &h, 2);
                }
                return 0;
        }
        if (!ggml_can_quantize(type))
                return -EOPNOTSUPP;
        const struct ggml_type_info *ti = ggml_type_info(type);
        if (n % ti->block_size)
                return -EINVAL;
        for (uint64_t b = 0; b < n / ti->block_size; b++)
                codecs[type].quant(src + b * ti->block_size, p + b * ti->type_size);
        return 0;
}

static uint64_t xorshift(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

int ggml_random_row(uint32_t type, uint64_t *state, void *dst, uint64_t n) {
        const struct ggml_type_info *ti = ggml_type_info(type);
        if (!ti || !ggml_can_dequantize(type))
                return -EOPNOTSUPP;
        if (n % ti->block_size)
                return -EINVAL;
        if (ggml_can_quantize(type)) {
                float x[256];
                for (uint64_t b = 0; b < n / ti->block_size; b++) {
                        for (uint32_t i = 0; i < ti->block_size; i++)
                                x[i] = (float) ((xorshift(state) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
                        ggml_quantize_row(type, x, (uint8_t *) dst + b * ti->type_size, ti->block_size);
                }
                return 0;
        }
        float v[256];
        for (uint64_t b = 0; b < n / ti->block_size; b++) {
                uint8_t *blk = (uint8_t *) dst + b * ti->type_size;
                for (int tries = 0;; tries++) {
                        for (uint32_t i = 0; i < ti->type_size; i++)
                                blk[i] = (uint8_t) (xorshift(state) >> 56);
                        ggml_dequantize_row(type, blk, v, ti->block_size);
                        bool ok = true;
                        for (uint32_t i = 0; i < ti->block_size; i++)
                                ok = ok && isfinite(v[i]) && fabsf(v[i]) < 1e3f;
                        if (ok)
                                break;
                        if (tries == 1000)
                                return -EINVAL;
                }
        }
        return 0;
}
