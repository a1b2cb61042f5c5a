/* JSON descriptions of GGUF files (needs jansson). */
#pragma once

#include <jansson.h>

#include "gguf/gguf.h"

/* Print reals with this (jansson dumps flag): f32 values, stored in their
 * shortest decimal form, print cleanly; f64 ones keep 15 digits. */
#define GGUF_DESCRIBE_REAL_PRECISION JSON_REAL_PRECISION(15)

/* The file as one JSON object: version, size, alignment, data_offset,
 * metadata_count, architecture, general (general.* keys), hyperparameters
 * (the <architecture>.* keys), tokenizer (model, pre, vocab_size, bos/eos/
 * eot/pad/unk as {id, text}, add_bos, add_eos, merges), chat_template
 * (present, length, family), tensors ([{name, type, shape, bytes, offset}])
 * and totals (count, bytes, per_type {TYPE: {count, bytes}}). Arrays longer
 * than 64 elements appear as {"array": element type, "count": n}. NULL when
 * out of memory. */
json_t *gguf_describe(const struct gguf_file *f);

