/* JSON descriptions of GGUF files (needs jansson). */
#pragma once

#include <jansson.h>

#include "gguf/gguf.h"

/* Print reals with this (jansson dumps flag): f32 values, stored in their
 * shortest decimal form, print cleanly; f64 ones keep 15 digits. */
#define GGUF_DESCRIBE_REAL_PRECISION JSON_REAL_PRECISION(15)

/* The file as one JSON object: version, size, alignment, data_offset,
 * metadata_count, architecture, file_type, general (general.* keys),
 * hyperparameters (the <architecture>.* keys), tokenizer (model, pre,
 * vocab_size, bos/eos/eot/pad/unk as {id, text}, add_bos, add_eos, merges),
 * chat_template (present, length, family), tensors ([{name, type, shape,
 * bytes, offset}]) and totals (count, bytes, per_type {TYPE: {count, bytes,
 * ggml_name}} in ggml's type order, ggml_name being llama.cpp's spelling,
 * e.g. "q4_K"). file_type is the preset as llama.cpp reports it: {id,
 * preset (as llama-quantize names it, null when unknown), name (as
 * llama.cpp prints it, e.g. "Q4_K - Medium"), guessed}; without
 * general.file_type, id and name are llama.cpp's guess from the most common
 * tensor type, guessed is true and name starts "(guessed) "; {error} when
 * general.file_type is not a u32, which llama.cpp refuses. Arrays longer
 * than 64 elements appear as {"array": element type, "count": n}. NULL when
 * out of memory. */
json_t *gguf_describe(const struct gguf_file *f);

