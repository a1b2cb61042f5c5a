/* GGUF writer (version 3), for tests and tools: builds the key/value and
 * tensor lists in memory, then serializes them in one pass. */
#include "gguf/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

/* Stores the encoded value under key, replacing an earlier one. Takes b. */
static int set_blob(struct gguf_writer *w, const char *key, enum gguf_type type, enum gguf_type et,
                    uint64_t n, struct buf *b) {
        if (b->oom) {
                free(b->p);
                return -ENOMEM;
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
            strlen(name) > GGUF_MAX_NAME_LEN)
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
                if (strcmp(w->kvs[i].key, "general.alignment") == 0 && w->kvs[i].type == GGUF_TYPE_UINT32) {
                        uint32_t a;
                        memcpy(&a, w->kvs[i].blob, 4);
                        if (a && !(a & (a - 1)))
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

int gguf_writer_write_file(const struct gguf_writer *w, const char *path, struct vkinfer_err *err) {
        uint8_t *data;
        size_t size;
        int r = gguf_writer_to_memory(w, &data, &size);
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
