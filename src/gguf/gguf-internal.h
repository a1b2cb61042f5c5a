/* Internal to src/gguf: the name index shared by the reader and the
 * lookup functions, and scalar decoding shared by reader and accessors. */
#pragma once

#include "gguf/gguf.h"

/* An index with room for n names, or NULL when out of memory. */
struct gguf_index *gguf_index_new(uint64_t n);
struct gguf_index *gguf_index_free(struct gguf_index *ix);
/* Adds name -> idx unless present. Returns UINT64_MAX when added, else the
 * idx of the earlier entry with that name (nothing is added). name must
 * stay alive as long as the index. Never more than n insertions. */
uint64_t gguf_index_insert(struct gguf_index *ix, const char *name, uint64_t idx);
/* The idx stored for name, UINT64_MAX when absent or ix is NULL. */
uint64_t gguf_index_find(const struct gguf_index *ix, const char *name);

/* Bytes of one element of a fixed-size value type; 0 for string, array or
 * an unknown type. */
uint64_t gguf_fixed_size(enum gguf_type t);
/* Decodes one fixed-size little-endian scalar of type t at p into v. */
void gguf_decode_scalar(enum gguf_type t, const uint8_t *p, struct gguf_value *v);
