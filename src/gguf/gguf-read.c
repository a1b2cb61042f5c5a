/* GGUF reader. Every count, length and offset is checked against the bytes
 * that remain, with overflow-safe arithmetic, before it is used: a truncated
 * or hostile file gets an error naming what was wrong, never a bad read. */
#include "gguf/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Nested arrays deeper than this are refused (no real file nests at all). */
#define GGUF_MAX_NESTING 4

struct cursor {
        const uint8_t *base;
        uint64_t size;
        uint64_t pos;
        struct vkinfer_err *err;
};

static bool cur_have(const struct cursor *c, uint64_t n) {
        return c->pos <= c->size && n <= c->size - c->pos;
}

static int cur_read(struct cursor *c, void *dst, uint64_t n, const char *what) {
        if (!cur_have(c, n))
                return err_set(c->err, -EBADMSG, "file truncated at offset %llu while reading %s",
                               (unsigned long long) c->pos, what);
        memcpy(dst, c->base + c->pos, n);
        c->pos += n;
        return 0;
}

static int cur_u32(struct cursor *c, uint32_t *v, const char *what) {
        return cur_read(c, v, 4, what);
}

static int cur_u64(struct cursor *c, uint64_t *v, const char *what) {
        return cur_read(c, v, 8, what);
}

static int cur_str(struct cursor *c, struct gguf_str *s, const char *what) {
        uint64_t len = 0;
        int r = cur_u64(c, &len, what);
        if (r < 0)
                return r;
        if (!cur_have(c, len))
                return err_set(c->err, -EBADMSG, "%s: string length %llu runs past the end of the file",
                               what, (unsigned long long) len);
        s->ptr = (const char *) c->base + c->pos;
        s->len = len;
        c->pos += len;
        return 0;
}

static uint64_t fixed_size(enum gguf_type t) {
        switch (t) {
        case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
        case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
        case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
        case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
        default: return 0;
        }
}

/* Decodes one fixed-size scalar at p into v. */
static void decode_scalar(enum gguf_type t, const uint8_t *p, struct gguf_value *v) {
        v->type = t;
        switch (t) {
        case GGUF_TYPE_UINT8: v->u64 = p[0]; break;
        case GGUF_TYPE_BOOL: v->u64 = p[0] != 0; break;
        case GGUF_TYPE_INT8: v->i64 = (int8_t) p[0]; break;
        case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, p, 2); v->u64 = x; break; }
        case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, p, 2); v->i64 = x; break; }
        case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, p, 4); v->u64 = x; break; }
        case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, p, 4); v->i64 = x; break; }
        case GGUF_TYPE_FLOAT32: { float x; memcpy(&x, p, 4); v->f64 = x; break; }
        case GGUF_TYPE_UINT64: { uint64_t x; memcpy(&x, p, 8); v->u64 = x; break; }
        case GGUF_TYPE_INT64: { int64_t x; memcpy(&x, p, 8); v->i64 = x; break; }
        case GGUF_TYPE_FLOAT64: { double x; memcpy(&x, p, 8); v->f64 = x; break; }
        default: break;
        }
}

static void value_free(struct gguf_value *v) {
        if (v->type != GGUF_TYPE_ARRAY)
                return;
        free((void *) v->arr.strs);
        if (v->arr.arrs) {
                for (uint64_t i = 0; i < v->arr.n; i++)
                        value_free((struct gguf_value *) &v->arr.arrs[i]);
                free((void *) v->arr.arrs);
        }
}

static int read_value(struct cursor *c, enum gguf_type t, struct gguf_value *v, const char *key, int depth) {
        memset(v, 0, sizeof(*v));
        v->type = t;
        if (t == GGUF_TYPE_STRING)
                return cur_str(c, &v->str, key);
        if (t != GGUF_TYPE_ARRAY) {
                uint64_t n = fixed_size(t);
                if (n == 0)
                        return err_set(c->err, -EBADMSG, "key '%s': unknown value type %u", key, (unsigned) t);
                if (!cur_have(c, n))
                        return err_set(c->err, -EBADMSG, "key '%s': file truncated inside the value", key);
                decode_scalar(t, c->base + c->pos, v);
                c->pos += n;
                return 0;
        }

        if (depth >= GGUF_MAX_NESTING)
                return err_set(c->err, -EBADMSG, "key '%s': arrays nested deeper than %d", key, GGUF_MAX_NESTING);
        uint32_t et;
        uint64_t n;
        int r = cur_u32(c, &et, key);
        if (r < 0)
                return r;
        r = cur_u64(c, &n, key);
        if (r < 0)
                return r;
        v->arr.type = et;
        v->arr.n = 0;
        if (et == GGUF_TYPE_STRING) {
                /* Each string needs at least its 8-byte length: bound n by what remains. */
                if (n > (c->size - c->pos) / 8)
                        return err_set(c->err, -EBADMSG, "key '%s': array of %llu strings cannot fit in the file",
                                       key, (unsigned long long) n);
                struct gguf_str *strs = malloc((n ? n : 1) * sizeof(*strs));
                if (!strs)
                        return err_set(c->err, -ENOMEM, "key '%s': out of memory for %llu strings", key, (unsigned long long) n);
                v->arr.strs = strs;
                for (uint64_t i = 0; i < n; i++) {
                        r = cur_str(c, &strs[i], key);
                        if (r < 0)
                                return r;
                }
                v->arr.n = n;
                return 0;
        }
        if (et == GGUF_TYPE_ARRAY) {
                /* Each nested array needs at least 12 bytes of header. */
                if (n > (c->size - c->pos) / 12)
                        return err_set(c->err, -EBADMSG, "key '%s': array of %llu arrays cannot fit in the file",
                                       key, (unsigned long long) n);
                struct gguf_value *arrs = calloc(n ? n : 1, sizeof(*arrs));
                if (!arrs)
                        return err_set(c->err, -ENOMEM, "key '%s': out of memory", key);
                v->arr.arrs = arrs;
                for (uint64_t i = 0; i < n; i++) {
                        v->arr.n = i; /* so value_free frees only what was read */
                        r = read_value(c, GGUF_TYPE_ARRAY, &arrs[i], key, depth + 1);
                        if (r < 0) {
                                value_free(&arrs[i]);
                                return r;
                        }
                }
                v->arr.n = n;
                return 0;
        }
        uint64_t es = fixed_size(et), bytes;
        if (es == 0)
                return err_set(c->err, -EBADMSG, "key '%s': unknown array element type %u", key, et);
        if (mul_overflows(n, es, &bytes) || !cur_have(c, bytes))
                return err_set(c->err, -EBADMSG, "key '%s': array of %llu %s runs past the end of the file",
                               key, (unsigned long long) n, gguf_type_name(et));
        v->arr.raw = c->base + c->pos;
        v->arr.n = n;
        c->pos += bytes;
        return 0;
}

static char *str_dup_checked(struct gguf_str s) {
        /* Names with embedded NULs would compare wrongly: refuse them. */
        if (memchr(s.ptr, 0, s.len))
                return NULL;
        return gguf_str_dup(s);
}

char *gguf_str_dup(struct gguf_str s) {
        char *p = malloc(s.len + 1);
        if (!p)
                return NULL;
        memcpy(p, s.ptr, s.len);
        p[s.len] = 0;
        return p;
}

bool gguf_str_eq(struct gguf_str s, const char *c) {
        size_t n = strlen(c);
        return s.len == n && memcmp(s.ptr, c, n) == 0;
}

struct gguf_file *gguf_close(struct gguf_file *f) {
        if (!f)
                return NULL;
        for (uint64_t i = 0; i < f->n_kv; i++) {
                free(f->kvs[i].key);
                value_free(&f->kvs[i].value);
        }
        free(f->kvs);
        for (uint64_t i = 0; i < f->n_tensors; i++)
                free(f->tensors[i].name);
        free(f->tensors);
        if (f->mapped && f->base)
                munmap((void *) f->base, f->size);
        free(f);
        return NULL;
}

static int parse(struct gguf_file *f, struct vkinfer_err *err) {
        struct cursor c = {.base = f->base, .size = f->size, .pos = 0, .err = err};
        uint32_t magic;
        int r;

        if (f->size < 4 || (memcpy(&magic, f->base, 4), magic != GGUF_MAGIC))
                return err_set(err, -EBADMSG, "not a GGUF file (bad magic)");
        c.pos = 4;
        if ((r = cur_u32(&c, &f->version, "the version")) < 0)
                return r;
        if (f->version == 1)
                return err_set(err, -EPROTONOSUPPORT, "GGUF version 1 is not supported (convert the file to v3)");
        if (f->version != 2 && f->version != 3)
                return err_set(err, -EPROTONOSUPPORT, "unsupported GGUF version %u", f->version);
        uint64_t n_tensors, n_kv;
        if ((r = cur_u64(&c, &n_tensors, "the tensor count")) < 0 || (r = cur_u64(&c, &n_kv, "the key count")) < 0)
                return r;
        /* Each kv needs >= 12 bytes (key length + type), each tensor info >= 24. */
        if (n_kv > (f->size - c.pos) / 12)
                return err_set(err, -EBADMSG, "key count %llu cannot fit in a file of %llu bytes",
                               (unsigned long long) n_kv, (unsigned long long) f->size);
        if (n_tensors > (f->size - c.pos) / 24)
                return err_set(err, -EBADMSG, "tensor count %llu cannot fit in a file of %llu bytes",
                               (unsigned long long) n_tensors, (unsigned long long) f->size);

        f->kvs = calloc(n_kv ? n_kv : 1, sizeof(*f->kvs));
        f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof(*f->tensors));
        if (!f->kvs || !f->tensors)
                return err_set(err, -ENOMEM, "out of memory");

        for (uint64_t i = 0; i < n_kv; i++) {
                struct gguf_kv *kv = &f->kvs[i];
                struct gguf_str key;
                char what[64];
                snprintf(what, sizeof(what), "the name of key #%llu", (unsigned long long) i);
                if ((r = cur_str(&c, &key, what)) < 0)
                        return r;
                kv->key = str_dup_checked(key);
                if (!kv->key)
                        return err_set(err, -EBADMSG, "key #%llu: name contains a NUL byte", (unsigned long long) i);
                f->n_kv = i + 1;
                for (uint64_t j = 0; j < i; j++)
                        if (strcmp(f->kvs[j].key, kv->key) == 0)
                                return err_set(err, -EBADMSG, "duplicate key '%s'", kv->key);
                uint32_t t;
                if ((r = cur_u32(&c, &t, kv->key)) < 0)
                        return r;
                if (t >= GGUF_TYPE_COUNT_)
                        return err_set(err, -EBADMSG, "key '%s': unknown value type %u", kv->key, t);
                if ((r = read_value(&c, t, &kv->value, kv->key, 0)) < 0)
                        return r;
        }

        f->alignment = GGUF_DEFAULT_ALIGNMENT;
        const struct gguf_kv *al = gguf_find_kv(f, "general.alignment");
        if (al) {
                if (al->value.type != GGUF_TYPE_UINT32)
                        return err_set(err, -EBADMSG, "key 'general.alignment' must be u32, not %s",
                                       gguf_type_name(al->value.type));
                uint64_t a = al->value.u64;
                if (a == 0 || (a & (a - 1)) != 0)
                        return err_set(err, -EBADMSG, "key 'general.alignment': %llu is not a power of two",
                                       (unsigned long long) a);
                f->alignment = a;
        }

        for (uint64_t i = 0; i < n_tensors; i++) {
                struct gguf_tensor *t = &f->tensors[i];
                struct gguf_str name;
                char what[64];
                snprintf(what, sizeof(what), "the name of tensor #%llu", (unsigned long long) i);
                if ((r = cur_str(&c, &name, what)) < 0)
                        return r;
                t->name = str_dup_checked(name);
                if (!t->name)
                        return err_set(err, -EBADMSG, "tensor #%llu: name contains a NUL byte", (unsigned long long) i);
                f->n_tensors = i + 1;
                if ((r = cur_u32(&c, &t->n_dims, t->name)) < 0)
                        return r;
                if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
                        return err_set(err, -EBADMSG, "tensor '%s': %u dimensions (1 to %d allowed)",
                                       t->name, t->n_dims, GGUF_MAX_DIMS);
                uint64_t n_el = 1;
                for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
                        t->ne[d] = 1;
                        if (d < t->n_dims && (r = cur_u64(&c, &t->ne[d], t->name)) < 0)
                                return r;
                        if (t->ne[d] == 0 && d < t->n_dims)
                                return err_set(err, -EBADMSG, "tensor '%s': dimension %u is zero", t->name, d);
                        if (mul_overflows(n_el, t->ne[d], &n_el))
                                return err_set(err, -EBADMSG, "tensor '%s': element count overflows", t->name);
                }
                t->n_elements = n_el;
                if ((r = cur_u32(&c, &t->type, t->name)) < 0 || (r = cur_u64(&c, &t->offset, t->name)) < 0)
                        return r;
                const struct ggml_type_info *ti = ggml_type_info(t->type);
                if (!ti)
                        return err_set(err, -EBADMSG, "tensor '%s': unknown tensor type %u", t->name, t->type);
                if (t->ne[0] % ti->block_size != 0)
                        return err_set(err, -EBADMSG, "tensor '%s': row length %llu is not a multiple of the %s block size %u",
                                       t->name, (unsigned long long) t->ne[0], ti->name, ti->block_size);
                if (mul_overflows(n_el / ti->block_size, ti->type_size, &t->n_bytes))
                        return err_set(err, -EBADMSG, "tensor '%s': size overflows", t->name);
                if (t->offset % f->alignment != 0)
                        return err_set(err, -EBADMSG, "tensor '%s': offset %llu is not aligned to %llu",
                                       t->name, (unsigned long long) t->offset, (unsigned long long) f->alignment);
                for (uint64_t j = 0; j < i; j++)
                        if (strcmp(f->tensors[j].name, t->name) == 0)
                                return err_set(err, -EBADMSG, "duplicate tensor '%s'", t->name);
        }

        f->data_offset = align_up(c.pos, f->alignment);
        if (f->data_offset < c.pos || (n_tensors > 0 && f->data_offset > f->size))
                return err_set(err, -EBADMSG, "file truncated before the tensor data");
        uint64_t data_size = f->size >= f->data_offset ? f->size - f->data_offset : 0;
        for (uint64_t i = 0; i < n_tensors; i++) {
                struct gguf_tensor *t = &f->tensors[i];
                uint64_t end;
                if (add_overflows(t->offset, t->n_bytes, &end) || end > data_size)
                        return err_set(err, -EBADMSG, "tensor '%s': data [%llu, +%llu) runs past the end of the file (%llu data bytes)",
                                       t->name, (unsigned long long) t->offset, (unsigned long long) t->n_bytes,
                                       (unsigned long long) data_size);
                t->data = f->base + f->data_offset + t->offset;
        }
        return 0;
}

int gguf_open_memory(const void *data, size_t size, struct gguf_file **ret, struct vkinfer_err *err) {
        struct gguf_file *f = calloc(1, sizeof(*f));
        if (!f)
                return err_set(err, -ENOMEM, "out of memory");
        f->base = data;
        f->size = size;
        int r = parse(f, err);
        if (r < 0) {
                gguf_close(f);
                return r;
        }
        *ret = f;
        return 0;
}

int gguf_open(const char *path, struct gguf_file **ret, struct vkinfer_err *err) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return err_set(err, -e, "cannot stat '%s': %s", path, strerror(e));
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return err_set(err, -EINVAL, "'%s' is not a regular file", path);
        }
        if (st.st_size == 0) {
                close(fd);
                return err_set(err, -EBADMSG, "'%s' is empty", path);
        }
        void *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        int e = errno;
        close(fd);
        if (p == MAP_FAILED)
                return err_set(err, -e, "cannot map '%s': %s", path, strerror(e));
        struct gguf_file *f = NULL;
        int r = gguf_open_memory(p, st.st_size, &f, err);
        if (r < 0) {
                munmap(p, st.st_size);
                if (err) {
                        char tmp[sizeof(err->msg)];
                        memcpy(tmp, err->msg, sizeof(tmp));
                        err_set(err, r, "%.200s: %.300s", path, tmp);
                }
                return r;
        }
        f->mapped = true;
        *ret = f;
        return 0;
}

const struct gguf_kv *gguf_find_kv(const struct gguf_file *f, const char *key) {
        for (uint64_t i = 0; i < f->n_kv; i++)
                if (strcmp(f->kvs[i].key, key) == 0)
                        return &f->kvs[i];
        return NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name) {
        for (uint64_t i = 0; i < f->n_tensors; i++)
                if (strcmp(f->tensors[i].name, name) == 0)
                        return &f->tensors[i];
        return NULL;
}

static bool is_unsigned(enum gguf_type t) {
        return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64;
}

static bool is_signed(enum gguf_type t) {
        return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

static int get_kv(const struct gguf_file *f, const char *key, const struct gguf_kv **ret) {
        *ret = gguf_find_kv(f, key);
        return *ret ? 0 : -ENOENT;
}

int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv;
        if (get_kv(f, key, &kv) < 0)
                return -ENOENT;
        if (is_signed(kv->value.type)) {
                *ret = kv->value.i64;
                return 0;
        }
        if (is_unsigned(kv->value.type) && kv->value.u64 <= INT64_MAX) {
                *ret = (int64_t) kv->value.u64;
                return 0;
        }
        return err_set(err, -EINVAL, "key '%s' must be an integer, not %s", key, gguf_type_name(kv->value.type));
}

int gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv;
        if (get_kv(f, key, &kv) < 0)
                return -ENOENT;
        if (is_unsigned(kv->value.type)) {
                *ret = kv->value.u64;
                return 0;
        }
        if (is_signed(kv->value.type)) {
                if (kv->value.i64 < 0)
                        return err_set(err, -EINVAL, "key '%s' must not be negative (%lld)", key, (long long) kv->value.i64);
                *ret = (uint64_t) kv->value.i64;
                return 0;
        }
        return err_set(err, -EINVAL, "key '%s' must be an integer, not %s", key, gguf_type_name(kv->value.type));
}

int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *ret, struct vkinfer_err *err) {
        uint64_t v;
        int r = gguf_get_u64(f, key, &v, err);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return err_set(err, -EINVAL, "key '%s': %llu is out of range", key, (unsigned long long) v);
        *ret = (uint32_t) v;
        return 0;
}

int gguf_get_f32(const struct gguf_file *f, const char *key, float *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv;
        if (get_kv(f, key, &kv) < 0)
                return -ENOENT;
        switch (kv->value.type) {
        case GGUF_TYPE_FLOAT32: case GGUF_TYPE_FLOAT64: *ret = (float) kv->value.f64; return 0;
        default:
                if (is_unsigned(kv->value.type)) { *ret = (float) kv->value.u64; return 0; }
                if (is_signed(kv->value.type)) { *ret = (float) kv->value.i64; return 0; }
        }
        return err_set(err, -EINVAL, "key '%s' must be a number, not %s", key, gguf_type_name(kv->value.type));
}

int gguf_get_bool(const struct gguf_file *f, const char *key, bool *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv;
        if (get_kv(f, key, &kv) < 0)
                return -ENOENT;
        if (kv->value.type != GGUF_TYPE_BOOL)
                return err_set(err, -EINVAL, "key '%s' must be bool, not %s", key, gguf_type_name(kv->value.type));
        *ret = kv->value.u64 != 0;
        return 0;
}

int gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv;
        if (get_kv(f, key, &kv) < 0)
                return -ENOENT;
        if (kv->value.type != GGUF_TYPE_STRING)
                return err_set(err, -EINVAL, "key '%s' must be a string, not %s", key, gguf_type_name(kv->value.type));
        *ret = kv->value.str;
        return 0;
}

int gguf_get_arr(const struct gguf_file *f, const char *key, enum gguf_type elem_type,
                 const struct gguf_value **ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv;
        if (get_kv(f, key, &kv) < 0)
                return -ENOENT;
        if (kv->value.type != GGUF_TYPE_ARRAY)
                return err_set(err, -EINVAL, "key '%s' must be an array, not %s", key, gguf_type_name(kv->value.type));
        if (elem_type != GGUF_TYPE_COUNT_ && kv->value.arr.type != elem_type)
                return err_set(err, -EINVAL, "key '%s' must be an array of %s, not of %s", key,
                               gguf_type_name(elem_type), gguf_type_name(kv->value.arr.type));
        *ret = &kv->value;
        return 0;
}

static void arr_elem(const struct gguf_value *arr, uint64_t i, struct gguf_value *v) {
        memset(v, 0, sizeof(*v));
        uint64_t es = fixed_size(arr->arr.type);
        if (es && i < arr->arr.n)
                decode_scalar(arr->arr.type, arr->arr.raw + i * es, v);
}

double gguf_arr_get_f64(const struct gguf_value *arr, uint64_t i) {
        struct gguf_value v;
        arr_elem(arr, i, &v);
        if (is_unsigned(v.type) || v.type == GGUF_TYPE_BOOL)
                return (double) v.u64;
        if (is_signed(v.type))
                return (double) v.i64;
        return v.f64;
}

int64_t gguf_arr_get_i64(const struct gguf_value *arr, uint64_t i) {
        struct gguf_value v;
        arr_elem(arr, i, &v);
        if (is_unsigned(v.type) || v.type == GGUF_TYPE_BOOL)
                return (int64_t) v.u64;
        if (is_signed(v.type))
                return v.i64;
        return (int64_t) v.f64;
}
