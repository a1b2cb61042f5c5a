/* GGUF writer (version 3), for tests and tools: builds the key/value and
 * tensor lists in memory, then serializes them in one pass.
 *
 * It never writes what llama.cpp's reader (ggml/src/gguf.cpp) refuses: an
 * empty key, a general.alignment that is not a u32 power of two, a tensor
 * name of GGML_MAX_NAME (64) bytes or more; the offsets and padding are
 * exactly the ones it recomputes. gguf_writer_set_raw() is the one way
 * around this, for the reader's tests (nested arrays, odd encodings).
 * gguf_writer_write_file() also refuses the keys llama.cpp reads with a
 * fixed type when they have another one (llama_keys below), and nested
 * arrays: a file on disk may be handed to llama.cpp, while the in-memory
 * images of gguf_writer_to_memory() are the reader tests' inputs, some of
 * them foreign on purpose. */
#include "gguf/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ggml's GGML_MAX_NAME: llama.cpp refuses a tensor name this long or longer. */
#define LLAMA_MAX_NAME 64

struct wkv {
        char *key;
        enum gguf_type type;
        enum gguf_type elem_type; /* arrays */
        uint64_t n;               /* arrays: element count */
        uint8_t *blob;            /* encoded value bytes (after the type tag) */
        size_t blob_size;
        bool raw;                 /* arrays: blob already holds element type and count */
};

struct wtensor {
        char *name;
        uint32_t type, n_dims;
        uint64_t ne[GGUF_MAX_DIMS];
        uint8_t *data;
        uint64_t n_bytes;
};

struct gguf_writer {
        struct wkv *kvs;
        size_t n_kvs;
        struct wtensor *tensors;
        size_t n_tensors;
};

/* A growable byte buffer. */
struct buf {
        uint8_t *p;
        size_t n, cap;
        bool oom;
};

static void buf_put(struct buf *b, const void *d, size_t n) {
        if (b->oom)
                return;
        if (b->n + n > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->n + n)
                        cap *= 2;
                uint8_t *p = realloc(b->p, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        if (n) /* d may be NULL for an empty array */
                memcpy(b->p + b->n, d, n);
        b->n += n;
}

static void buf_u32(struct buf *b, uint32_t v) { buf_put(b, &v, 4); }
static void buf_u64(struct buf *b, uint64_t v) { buf_put(b, &v, 8); }
static void buf_str(struct buf *b, const char *s) {
        buf_u64(b, strlen(s));
        buf_put(b, s, strlen(s));
}
static void buf_zeros(struct buf *b, size_t n) {
        static const uint8_t z[64];
        while (n > 0) {
                size_t k = n < sizeof(z) ? n : sizeof(z);
                buf_put(b, z, k);
                n -= k;
        }
}

struct gguf_writer *gguf_writer_new(void) {
        return calloc(1, sizeof(struct gguf_writer));
}

struct gguf_writer *gguf_writer_free(struct gguf_writer *w) {
        if (!w)
                return NULL;
        for (size_t i = 0; i < w->n_kvs; i++) {
                free(w->kvs[i].key);
                free(w->kvs[i].blob);
        }
        for (size_t i = 0; i < w->n_tensors; i++) {
                free(w->tensors[i].name);
                free(w->tensors[i].data);
        }
        free(w->kvs);
        free(w->tensors);
        free(w);
        return NULL;
}

/* What llama.cpp's reader refuses outright: an empty key, and an alignment
 * that is not a u32 power of two (ours falls back to 32 for none). */
static bool key_ok(const char *key, enum gguf_type type, const struct buf *b) {
        if (!key[0])
                return false;
        if (strcmp(key, "general.alignment") != 0)
                return true;
        uint32_t a = 0;
        if (type != GGUF_TYPE_UINT32 || b->n != 4)
                return false;
        memcpy(&a, b->p, 4);
        return a && !(a & (a - 1));
}

/* Stores the encoded value under key, replacing an earlier one. Takes b. */
static int set_blob(struct gguf_writer *w, const char *key, enum gguf_type type, enum gguf_type et,
                    uint64_t n, struct buf *b) {
        if (b->oom) {
                free(b->p);
                return -ENOMEM;
        }
        if (!key_ok(key, type, b)) {
                free(b->p);
                return -EINVAL;
        }
        for (size_t i = 0; i < w->n_kvs; i++)
                if (strcmp(w->kvs[i].key, key) == 0) {
                        free(w->kvs[i].blob);
                        w->kvs[i] = (struct wkv){w->kvs[i].key, type, et, n, b->p, b->n, false};
                        return 0;
                }
        struct wkv *kvs = realloc(w->kvs, (w->n_kvs + 1) * sizeof(*kvs));
        char *k = strdup(key);
        if (!kvs || !k) {
                free(k);
                if (kvs)
                        w->kvs = kvs;
                free(b->p);
                return -ENOMEM;
        }
        w->kvs = kvs;
        w->kvs[w->n_kvs++] = (struct wkv){k, type, et, n, b->p, b->n, false};
        return 0;
}

static int set_scalar(struct gguf_writer *w, const char *key, enum gguf_type t, const void *v, size_t n) {
        struct buf b = {0};
        buf_put(&b, v, n);
        return set_blob(w, key, t, 0, 0, &b);
}

int gguf_writer_set_u32(struct gguf_writer *w, const char *key, uint32_t v) {
        return set_scalar(w, key, GGUF_TYPE_UINT32, &v, 4);
}
int gguf_writer_set_i32(struct gguf_writer *w, const char *key, int32_t v) {
        return set_scalar(w, key, GGUF_TYPE_INT32, &v, 4);
}
int gguf_writer_set_u64(struct gguf_writer *w, const char *key, uint64_t v) {
        return set_scalar(w, key, GGUF_TYPE_UINT64, &v, 8);
}
int gguf_writer_set_f32(struct gguf_writer *w, const char *key, float v) {
        return set_scalar(w, key, GGUF_TYPE_FLOAT32, &v, 4);
}
int gguf_writer_set_bool(struct gguf_writer *w, const char *key, bool v) {
        uint8_t x = v;
        return set_scalar(w, key, GGUF_TYPE_BOOL, &x, 1);
}

int gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v) {
        struct buf b = {0};
        buf_str(&b, v);
        return set_blob(w, key, GGUF_TYPE_STRING, 0, 0, &b);
}

int gguf_writer_set_arr_str(struct gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
        struct buf b = {0};
        for (uint64_t i = 0; i < n; i++)
                buf_str(&b, v[i]);
        return set_blob(w, key, GGUF_TYPE_ARRAY, GGUF_TYPE_STRING, n, &b);
}

int gguf_writer_set_raw(struct gguf_writer *w, const char *key, enum gguf_type type, const void *encoded, size_t size) {
        struct buf b = {0};
        buf_put(&b, encoded, size);
        int r = set_blob(w, key, type, 0, 0, &b);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w->n_kvs; i++)
                if (strcmp(w->kvs[i].key, key) == 0)
                        w->kvs[i].raw = true;
        return 0;
}

int gguf_writer_set_arr(struct gguf_writer *w, const char *key, enum gguf_type et, const void *data, uint64_t n) {
        static const uint8_t sizes[GGUF_TYPE_COUNT_] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        uint64_t bytes;
        if ((unsigned) et >= GGUF_TYPE_COUNT_ || sizes[et] == 0)
                return -EINVAL;
        if (mul_overflows(n, sizes[et], &bytes) || bytes > SIZE_MAX)
                return -EOVERFLOW;
        struct buf b = {0};
        buf_put(&b, data, bytes);
        return set_blob(w, key, GGUF_TYPE_ARRAY, et, n, &b);
}

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const uint64_t *ne, const void *data, uint64_t n_bytes) {
        if (n_dims == 0 || n_dims > GGUF_MAX_DIMS || !ggml_type_info(type) || !name[0] ||
            strlen(name) >= LLAMA_MAX_NAME)
                return -EINVAL;
        struct wtensor t = {.type = type, .n_dims = n_dims, .n_bytes = n_bytes};
        /* Refuse what the reader would refuse: a file we write must read back. */
        uint64_t rows = 1, row_bytes, want;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
                t.ne[d] = d < n_dims ? ne[d] : 1;
                if (t.ne[d] == 0 || (d > 0 && mul_overflows(rows, t.ne[d], &rows)))
                        return -EINVAL;
        }
        if (ggml_row_bytes(type, t.ne[0], &row_bytes) < 0 || mul_overflows(row_bytes, rows, &want) || want != n_bytes)
                return -EINVAL;
        for (size_t i = 0; i < w->n_tensors; i++)
                if (strcmp(w->tensors[i].name, name) == 0)
                        return -EEXIST;
        t.name = strdup(name);
        t.data = malloc(n_bytes ? n_bytes : 1);
        struct wtensor *ts = realloc(w->tensors, (w->n_tensors + 1) * sizeof(*ts));
        if (!t.name || !t.data || !ts) {
                free(t.name);
                free(t.data);
                if (ts)
                        w->tensors = ts;
                return -ENOMEM;
        }
        if (n_bytes)
                memcpy(t.data, data, n_bytes);
        w->tensors = ts;
        w->tensors[w->n_tensors++] = t;
        return 0;
}

int gguf_writer_to_memory(const struct gguf_writer *w, uint8_t **ret_data, size_t *ret_size) {
        uint64_t alignment = GGUF_DEFAULT_ALIGNMENT;
        for (size_t i = 0; i < w->n_kvs; i++)
                if (strcmp(w->kvs[i].key, "general.alignment") == 0) { /* a u32 power of two: key_ok() */
                        uint32_t a;
                        memcpy(&a, w->kvs[i].blob, 4);
                        alignment = a;
                }

        struct buf b = {0};
        buf_u32(&b, GGUF_MAGIC);
        buf_u32(&b, 3);
        buf_u64(&b, w->n_tensors);
        buf_u64(&b, w->n_kvs);
        for (size_t i = 0; i < w->n_kvs; i++) {
                const struct wkv *kv = &w->kvs[i];
                buf_str(&b, kv->key);
                buf_u32(&b, kv->type);
                if (kv->type == GGUF_TYPE_ARRAY && !kv->raw) {
                        buf_u32(&b, kv->elem_type);
                        buf_u64(&b, kv->n);
                }
                buf_put(&b, kv->blob, kv->blob_size);
        }
        uint64_t offset = 0;
        for (size_t i = 0; i < w->n_tensors; i++) {
                const struct wtensor *t = &w->tensors[i];
                buf_str(&b, t->name);
                buf_u32(&b, t->n_dims);
                for (uint32_t d = 0; d < t->n_dims; d++)
                        buf_u64(&b, t->ne[d]);
                buf_u32(&b, t->type);
                buf_u64(&b, offset);
                offset = align_up(offset + t->n_bytes, alignment);
        }
        buf_zeros(&b, align_up(b.n, alignment) - b.n);
        for (size_t i = 0; i < w->n_tensors; i++) {
                const struct wtensor *t = &w->tensors[i];
                buf_put(&b, t->data, t->n_bytes);
                buf_zeros(&b, align_up(t->n_bytes, alignment) - t->n_bytes);
        }
        if (b.oom) {
                free(b.p);
                return -ENOMEM;
        }
        *ret_data = b.p;
        *ret_size = b.n;
        return 0;
}

/* Keys llama.cpp reads with one type whatever the architecture
 * (llama-model-loader.cpp's get_key throws "key ... has wrong type" on any
 * other; llama-vocab.cpp reads the token arrays as raw f32/i32 memory).
 * elem: the element type of arrays. The same table is in
 * tools/demo/gguf_writer.py. */
static const struct {
        const char *key;
        enum gguf_type type, elem;
} llama_keys[] = {
        {"general.architecture", GGUF_TYPE_STRING, 0},
        {"general.name", GGUF_TYPE_STRING, 0},
        {"general.alignment", GGUF_TYPE_UINT32, 0},
        {"general.file_type", GGUF_TYPE_UINT32, 0},
        {"general.quantization_version", GGUF_TYPE_UINT32, 0},
        {"tokenizer.ggml.model", GGUF_TYPE_STRING, 0},
        {"tokenizer.ggml.pre", GGUF_TYPE_STRING, 0},
        {"tokenizer.ggml.tokens", GGUF_TYPE_ARRAY, GGUF_TYPE_STRING},
        {"tokenizer.ggml.token_type", GGUF_TYPE_ARRAY, GGUF_TYPE_INT32},
        {"tokenizer.ggml.scores", GGUF_TYPE_ARRAY, GGUF_TYPE_FLOAT32},
        {"tokenizer.ggml.merges", GGUF_TYPE_ARRAY, GGUF_TYPE_STRING},
        {"tokenizer.ggml.add_bos_token", GGUF_TYPE_BOOL, 0},
        {"tokenizer.ggml.add_eos_token", GGUF_TYPE_BOOL, 0},
        {"tokenizer.ggml.add_sep_token", GGUF_TYPE_BOOL, 0},
        {"tokenizer.ggml.add_space_prefix", GGUF_TYPE_BOOL, 0},
        {"tokenizer.ggml.remove_extra_whitespaces", GGUF_TYPE_BOOL, 0},
        {"tokenizer.chat_template", GGUF_TYPE_STRING, 0},
};

/* Special token ids: tokenizer.ggml.<name>_token_id, all u32 ("seperator"
 * is llama.cpp's spelling). */
static const char *const llama_token_ids[] = {
        "bos", "eos", "eot", "eom", "unknown", "seperator", "padding", "mask",
        "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep",
};

/* The type llama.cpp wants for key (GGUF_TYPE_COUNT_ when it has no fixed one). */
static enum gguf_type llama_key_type(const char *key, enum gguf_type *elem) {
        for (size_t i = 0; i < ELEMENTSOF(llama_keys); i++)
                if (strcmp(key, llama_keys[i].key) == 0) {
                        *elem = llama_keys[i].elem;
                        return llama_keys[i].type;
                }
        const char *pre = "tokenizer.ggml.", *suf = "_token_id";
        size_t kl = strlen(key), pl = strlen(pre), sl = strlen(suf);
        if (kl > pl + sl && strncmp(key, pre, pl) == 0 && strcmp(key + kl - sl, suf) == 0)
                for (size_t i = 0; i < ELEMENTSOF(llama_token_ids); i++)
                        if (strlen(llama_token_ids[i]) == kl - pl - sl &&
                            strncmp(key + pl, llama_token_ids[i], kl - pl - sl) == 0)
                                return GGUF_TYPE_UINT32;
        return GGUF_TYPE_COUNT_;
}

/* Fails naming the first key llama.cpp would refuse or misread. */
static int llama_check(const struct gguf_writer *w, struct vkinfer_err *err) {
        for (size_t i = 0; i < w->n_kvs; i++) {
                const struct wkv *kv = &w->kvs[i];
                enum gguf_type et = kv->elem_type, want_et = 0;
                if (kv->type == GGUF_TYPE_ARRAY && kv->raw) {
                        uint32_t t = GGUF_TYPE_COUNT_;
                        if (kv->blob_size >= 4)
                                memcpy(&t, kv->blob, 4);
                        et = t;
                }
                if (kv->type == GGUF_TYPE_ARRAY && et == GGUF_TYPE_ARRAY)
                        return err_set(err, -EINVAL, "key '%s': llama.cpp reads no nested arrays", kv->key);
                enum gguf_type want = llama_key_type(kv->key, &want_et);
                if (want == GGUF_TYPE_COUNT_ || (kv->type == want && (want != GGUF_TYPE_ARRAY || et == want_et)))
                        continue;
                return err_set(err, -EINVAL, "key '%s' is %s%s; llama.cpp reads it as %s%s", kv->key,
                               kv->type == GGUF_TYPE_ARRAY ? "an array of " : "",
                               gguf_type_name(kv->type == GGUF_TYPE_ARRAY ? et : kv->type),
                               want == GGUF_TYPE_ARRAY ? "an array of " : "",
                               gguf_type_name(want == GGUF_TYPE_ARRAY ? want_et : want));
        }
        return 0;
}

int gguf_writer_write_file(const struct gguf_writer *w, const char *path, struct vkinfer_err *err) {
        uint8_t *data;
        size_t size;
        int r = llama_check(w, err);
        if (r < 0)
                return r;
        r = gguf_writer_to_memory(w, &data, &size);
        if (r < 0)
                return err_set(err, r, "out of memory serializing GGUF");
        FILE *f = fopen(path, "wb");
        if (!f) {
                r = -errno;
                free(data);
                return err_set(err, r, "cannot create '%s': %s", path, strerror(-r));
        }
        size_t wrote = fwrite(data, 1, size, f);
        free(data);
        if (fclose(f) != 0 || wrote != size)
                return err_set(err, -EIO, "write error on '%s'", path);
        return 0;
}
