/* f32 <-> GGUF tensor types on the CPU. Layouts as in ggml-common.h:
 *   Q8_0: { f16 d; i8 qs[32]; }            x = d * q
 *   Q4_0: { f16 d; u8 qs[16]; }            x = d * (nibble - 8); low nibbles
 *                                           are elements 0..15, high 16..31 */
#include "gguf/quant.h"

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

bool ggml_can_dequantize(uint32_t type) {
        switch (type) {
        case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16:
        case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0:
                return true;
        default:
                return false;
        }
}

bool ggml_can_quantize(uint32_t type) {
        return ggml_can_dequantize(type);
}

int ggml_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n) {
        const uint8_t *p = src;
        switch (type) {
        case GGML_TYPE_F32:
                memcpy(dst, src, n * 4);
                return 0;
        case GGML_TYPE_F16:
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h;
                        memcpy(&h, p + 2 * i, 2);
                        dst[i] = fp16_to_fp32(h);
                }
                return 0;
        case GGML_TYPE_BF16:
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h;
                        memcpy(&h, p + 2 * i, 2);
                        dst[i] = bf16_to_fp32(h);
                }
                return 0;
        case GGML_TYPE_Q8_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 34) {
                        uint16_t h;
                        memcpy(&h, p, 2);
                        float d = fp16_to_fp32(h);
                        for (int j = 0; j < 32; j++)
                                dst[b * 32 + j] = d * (float) (int8_t) p[2 + j];
                }
                return 0;
        case GGML_TYPE_Q4_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 18) {
                        uint16_t h;
                        memcpy(&h, p, 2);
                        float d = fp16_to_fp32(h);
                        for (int j = 0; j < 16; j++) {
                                dst[b * 32 + j] = d * (float) ((p[2 + j] & 0x0f) - 8);
                                dst[b * 32 + j + 16] = d * (float) ((p[2 + j] >> 4) - 8);
                        }
                }
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

int ggml_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n) {
        uint8_t *p = dst;
        switch (type) {
        case GGML_TYPE_F32:
                memcpy(dst, src, n * 4);
                return 0;
        case GGML_TYPE_F16:
        case GGML_TYPE_BF16:
                for (uint64_t i = 0; i < n; i++) {
                        uint16_t h = type == GGML_TYPE_F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
                        memcpy(p + 2 * i, &h, 2);
                }
                return 0;
        case GGML_TYPE_Q8_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 34) {
                        const float *x = src + b * 32;
                        float amax = 0;
                        for (int j = 0; j < 32; j++)
                                amax = fmaxf(amax, fabsf(x[j]));
                        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
                        uint16_t h = fp32_to_fp16(d);
                        memcpy(p, &h, 2);
                        for (int j = 0; j < 32; j++)
                                p[2 + j] = (uint8_t) (int8_t) roundf(x[j] * id);
                }
                return 0;
        case GGML_TYPE_Q4_0:
                if (n % 32)
                        return -EINVAL;
                for (uint64_t b = 0; b < n / 32; b++, p += 18) {
                        const float *x = src + b * 32;
                        float amax = 0, max = 0;
                        for (int j = 0; j < 32; j++)
                                if (fabsf(x[j]) > amax) {
                                        amax = fabsf(x[j]);
                                        max = x[j];
                                }
                        float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
                        uint16_t h = fp32_to_fp16(d);
                        memcpy(p, &h, 2);
                        for (int j = 0; j < 16; j++) {
                                int q0 = (int) (x[j] * id + 8.5f), q1 = (int) (x[j + 16] * id + 8.5f);
                                q0 = q0 > 15 ? 15 : q0;
                                q1 = q1 > 15 ? 15 : q1;
                                p[2 + j] = (uint8_t) (q0 | (q1 << 4));
                        }
                }
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}
