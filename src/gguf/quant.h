/* CPU conversion between f32 and GGUF tensor types: the reference every
 * shader's dequantization is tested against, and what tests and tools use
 * to write quantized weights. Block layouts follow ggml exactly. */
#pragma once

#include <stdint.h>

#include "gguf/gguf.h"

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f); /* round to nearest even */
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f); /* round to nearest even */

/* True when ggml_dequantize_row handles the type. */
bool ggml_can_dequantize(uint32_t type);
bool ggml_can_quantize(uint32_t type);

/* n elements (a multiple of the type's block size) from src into dst.
 * -EOPNOTSUPP for a type not handled (the caller names it). */
int ggml_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n);
int ggml_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n);

/* n elements (a multiple of the block size) of valid `type` data for tests
 * and benchmarks: random values in [-1, 1) quantized where vkinfer has a
 * quantizer; otherwise random blocks (every bit pattern of the codebook
 * types is a block), each redrawn until its values are finite and below
 * 1e3 in magnitude, so a random f16 scale cannot make inf or NaN. *state is
 * the xorshift state (not 0). -EOPNOTSUPP for a type not handled. */
int ggml_random_row(uint32_t type, uint64_t *state, void *dst, uint64_t n);
