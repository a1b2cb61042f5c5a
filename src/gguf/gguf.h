/* GGUF model files: reading (over mmap, every size checked against the file)
 * and writing (for tests and tools). No Vulkan here.
 *
 * Layout (v2/v3): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 * n_kv × (string key, u32 type, value), n_tensors × (string name, u32 n_dims,
 * u64 ne[n_dims], u32 ggml_type, u64 offset), padding to general.alignment,
 * then tensor data. All little-endian. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as little-endian u32 */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

enum gguf_type {
        GGUF_TYPE_UINT8 = 0,
        GGUF_TYPE_INT8 = 1,
        GGUF_TYPE_UINT16 = 2,
        GGUF_TYPE_INT16 = 3,
        GGUF_TYPE_UINT32 = 4,
        GGUF_TYPE_INT32 = 5,
        GGUF_TYPE_FLOAT32 = 6,
        GGUF_TYPE_BOOL = 7,
        GGUF_TYPE_STRING = 8,
        GGUF_TYPE_ARRAY = 9,
        GGUF_TYPE_UINT64 = 10,
        GGUF_TYPE_INT64 = 11,
        GGUF_TYPE_FLOAT64 = 12,
        GGUF_TYPE_COUNT_,
};

/* Tensor element types, numbered as ggml numbers them. */
enum ggml_type {
        GGML_TYPE_F32 = 0,
        GGML_TYPE_F16 = 1,
        GGML_TYPE_Q4_0 = 2,
        GGML_TYPE_Q4_1 = 3,
        GGML_TYPE_Q5_0 = 6,
        GGML_TYPE_Q5_1 = 7,
        GGML_TYPE_Q8_0 = 8,
        GGML_TYPE_Q8_1 = 9,
        GGML_TYPE_Q2_K = 10,
        GGML_TYPE_Q3_K = 11,
        GGML_TYPE_Q4_K = 12,
        GGML_TYPE_Q5_K = 13,
        GGML_TYPE_Q6_K = 14,
        GGML_TYPE_Q8_K = 15,
        GGML_TYPE_IQ2_XXS = 16,
        GGML_TYPE_IQ2_XS = 17,
        GGML_TYPE_IQ3_XXS = 18,
        GGML_TYPE_IQ1_S = 19,
        GGML_TYPE_IQ4_NL = 20,
        GGML_TYPE_IQ3_S = 21,
        GGML_TYPE_IQ2_S = 22,
        GGML_TYPE_IQ4_XS = 23,
        GGML_TYPE_I8 = 24,
        GGML_TYPE_I16 = 25,
        GGML_TYPE_I32 = 26,
        GGML_TYPE_I64 = 27,
        GGML_TYPE_F64 = 28,
        GGML_TYPE_IQ1_M = 29,
        GGML_TYPE_BF16 = 30,
        GGML_TYPE_TQ1_0 = 34,
        GGML_TYPE_TQ2_0 = 35,
        GGML_TYPE_MXFP4 = 39,
        GGML_TYPE_NVFP4 = 40,
        GGML_TYPE_Q1_0 = 41,
        GGML_TYPE_Q2_0 = 42,
        GGML_TYPE_COUNT_ = 43,
};

/* The one table of quant-type sizes (gguf-types.c). */
struct ggml_type_info {
        const char *name;    /* "Q4_K"; NULL for numbers ggml retired */
        uint32_t block_size; /* elements per block */
        uint32_t type_size;  /* bytes per block */
};

/* NULL for an unknown or retired type number (4, 5, 31-33, 36-38). */
const struct ggml_type_info *ggml_type_info(uint32_t type);
const char *ggml_type_name(uint32_t type); /* "type 31" style for unknown ones (static buffer) */
/* Bytes of a row of n elements; fails if n is not a multiple of the block. */
int ggml_row_bytes(uint32_t type, uint64_t n, uint64_t *ret);
const char *gguf_type_name(enum gguf_type t);

/* A string inside the file: not NUL-terminated. */
struct gguf_str {
        const char *ptr;
        uint64_t len;
};

struct gguf_value {
        enum gguf_type type;
        union {
                uint64_t u64; /* every unsigned integer type, and bool */
                int64_t i64;  /* every signed integer type */
                double f64;   /* FLOAT32 and FLOAT64 */
                struct gguf_str str;
                struct {
                        enum gguf_type type;          /* element type */
                        uint64_t n;                   /* element count */
                        const uint8_t *raw;           /* fixed-size elements, in the file */
                        const struct gguf_str *strs;  /* STRING elements */
                        const struct gguf_value *arrs; /* ARRAY elements (nested) */
                } arr;
        };
};

struct gguf_kv {
        char *key; /* NUL-terminated copy */
        struct gguf_value value;
};

struct gguf_tensor {
        char *name; /* NUL-terminated copy */
        uint32_t n_dims;
        uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
        uint32_t type;              /* enum ggml_type */
        uint64_t offset;            /* from the start of the data section */
        uint64_t n_elements;
        uint64_t n_bytes;
        const void *data; /* into the mapping */
};

struct gguf_file {
        uint32_t version;
        uint64_t n_kv;
        struct gguf_kv *kvs;
        uint64_t n_tensors;
        struct gguf_tensor *tensors;
        uint64_t alignment;
        uint64_t data_offset; /* start of the tensor data section in the file */
        const uint8_t *base;  /* the whole file */
        uint64_t size;
        bool mapped; /* base is an mmap we own */
        struct gguf_index *kv_index;     /* private: hash of key names */
        struct gguf_index *tensor_index; /* private: hash of tensor names */
};

/* Limits the reader enforces on top of the format (no real file comes near). */
#define GGUF_MAX_NESTING 4           /* arrays of arrays, at most this deep */
#define GGUF_MAX_NAME_LEN 65535      /* bytes in a key or tensor name */

/* Opens and validates a file: GGUF v2 or v3, little-endian. Checks every
 * count, length, offset and tensor extent against the file (overflow-safe),
 * refuses duplicate keys/tensors, unknown types, misaligned or overlapping
 * tensor data. On failure *ret is untouched, the return is a negative errno
 * (-EBADMSG for a malformed file, -EPROTONOSUPPORT for an unsupported
 * version or byte order) and err says which key or tensor was wrong and how. */
int gguf_open(const char *path, struct gguf_file **ret, struct vkinfer_err *err);
/* Parses a buffer the caller keeps alive (tests, fuzzing). */
int gguf_open_memory(const void *data, size_t size, struct gguf_file **ret, struct vkinfer_err *err);
/* Accepts NULL; returns NULL. */
struct gguf_file *gguf_close(struct gguf_file *f);

/* Lookup by exact name (hashed, O(1)); NULL when absent. */
const struct gguf_kv *gguf_find_kv(const struct gguf_file *f, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);

/* Typed accessors: 0, -ENOENT when absent, -EINVAL (with err) on a wrong type
 * or an out-of-range value. Integer getters accept any integer type whose
 * value fits. */
int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *ret, struct vkinfer_err *err);
int gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *ret, struct vkinfer_err *err);
int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *ret, struct vkinfer_err *err);
int gguf_get_f32(const struct gguf_file *f, const char *key, float *ret, struct vkinfer_err *err);
int gguf_get_bool(const struct gguf_file *f, const char *key, bool *ret, struct vkinfer_err *err);
int gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *ret, struct vkinfer_err *err);
/* An array value, optionally requiring an element type (GGUF_TYPE_COUNT_ for any). */
int gguf_get_arr(const struct gguf_file *f, const char *key, enum gguf_type elem_type,
                 const struct gguf_value **ret, struct vkinfer_err *err);

/* Element i of a numeric array as double / int64; 0 when i >= n or the
 * elements are not numbers. */
double gguf_arr_get_f64(const struct gguf_value *arr, uint64_t i);
int64_t gguf_arr_get_i64(const struct gguf_value *arr, uint64_t i);
/* Element i of a string array; false (ret untouched) when i >= n or the
 * elements are not strings. */
bool gguf_arr_get_str(const struct gguf_value *arr, uint64_t i, struct gguf_str *ret);

/* Writes the key name `<general.architecture>.<suffix>` into buf (suffix
 * "block_count" gives "deepseek2.block_count") and returns buf; NULL when
 * the file has no architecture string or the name does not fit in size. */
const char *gguf_arch_key(const struct gguf_file *f, const char *suffix, char *buf, size_t size);

/* Fails with -EOPNOTSUPP and "tensor 'NAME': type IQ2_XXS is not supported
 * here (supported: F32, F16, Q8_0)" unless t's type is one of supported[n]:
 * for code that computes with a subset of the types a file may hold. */
int gguf_tensor_require_type(const struct gguf_tensor *t, const uint32_t *supported, size_t n,
                             struct vkinfer_err *err);

/* Convenience: "%s" of a gguf_str into a malloc'd NUL-terminated string. */
char *gguf_str_dup(struct gguf_str s);
bool gguf_str_eq(struct gguf_str s, const char *c);

/* ---- Writer ---- */
struct gguf_writer;

struct gguf_writer *gguf_writer_new(void);
struct gguf_writer *gguf_writer_free(struct gguf_writer *w);
/* Setters copy their arguments. Setting a key twice replaces it. */
int gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_u64(struct gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v);
int gguf_writer_set_bool(struct gguf_writer *w, const char *key, bool v);
int gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v);
int gguf_writer_set_arr_str(struct gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* A value already encoded as it follows the type tag in the file (for tests
 * that need nested arrays or deliberately odd encodings). Copied. */
int gguf_writer_set_raw(struct gguf_writer *w, const char *key, enum gguf_type type,
                        const void *encoded, size_t size);
/* A numeric array of elem_type (fixed-size types only); data holds n elements. */
int gguf_writer_set_arr(struct gguf_writer *w, const char *key, enum gguf_type elem_type,
                        const void *data, uint64_t n);
/* ne[0] is the row length; data holds the tensor's bytes in `type`. Copied.
 * -EINVAL when n_bytes does not match the shape and type, a dimension is 0,
 * or the name is empty; -EEXIST when the name is taken. */
int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const uint64_t *ne, const void *data, uint64_t n_bytes);
/* Serializes (version 3, alignment from general.alignment or 32). */
int gguf_writer_to_memory(const struct gguf_writer *w, uint8_t **ret_data, size_t *ret_size);
int gguf_writer_write_file(const struct gguf_writer *w, const char *path, struct vkinfer_err *err);
