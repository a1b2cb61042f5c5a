/* GGUF reader. Every count, length and offset is checked against the bytes
 * that remain, with overflow-safe arithmetic, before it is used: a truncated
 * or hostile file gets an error naming what was wrong, never a bad read.
 * Memory use is bounded by a small multiple of the file size, because every
 * claimed count is first checked against the bytes its elements need. */
#include "gguf/gguf-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct cursor {
        const uint8_t *base;
        uint64_t size;
        uint64_t pos;
        struct vkinfer_err *err;
};

/* What is being read, for error messages: "key 'x'" or "tensor 'y'". */
struct ctx {
        char s[200];
};

/* Names come from the file: keep them short and printable in messages. */
static void ctx_set(struct ctx *x, const char *kind, const char *name) {
        char clean[120];
        size_t n = 0;
        for (; name[n] && n < sizeof(clean) - 4; n++)
                clean[n] = (name[n] >= 0x20 && name[n] < 0x7f) || (name[n] & 0x80) ? name[n] : '?';
        if (name[n])
                clean[n++] = '.', clean[n++] = '.', clean[n++] = '.';
        clean[n] = 0;
        snprintf(x->s, sizeof(x->s), "%s '%s'", kind, clean);
}

static void ctx_setn(struct ctx *x, const char *kind, uint64_t i) {
        snprintf(x->s, sizeof(x->s), "%s #%llu", kind, (unsigned long long) i);
}

static uint64_t cur_left(const struct cursor *c) {
        return c->size - c->pos; /* pos <= size is an invariant */
}

static int truncated(struct cursor *c, const struct ctx *x, const char *what) {
        return err_set(c->err, -EBADMSG, "%s: file truncated in the %s (offset %llu of %llu bytes)",
                       x->s, what, (unsigned long long) c->pos, (unsigned long long) c->size);
}

static int cur_u32(struct cursor *c, uint32_t *v, const struct ctx *x, const char *what) {
        if (cur_left(c) < 4)
                return truncated(c, x, what);
        memcpy(v, c->base + c->pos, 4);
        c->pos += 4;
        return 0;
}

static int cur_u64(struct cursor *c, uint64_t *v, const struct ctx *x, const char *what) {
        if (cur_left(c) < 8)
                return truncated(c, x, what);
        memcpy(v, c->base + c->pos, 8);
        c->pos += 8;
        return 0;
}

static int cur_str(struct cursor *c, struct gguf_str *s, const struct ctx *x, const char *what) {
        uint64_t len = 0;
        int r = cur_u64(c, &len, x, what);
        if (r < 0)
                return r;
        if (len > cur_left(c))
                return err_set(c->err, -EBADMSG, "%s: %s length %llu runs past the end of the file (%llu bytes left)",
                               x->s, what, (unsigned long long) len, (unsigned long long) cur_left(c));
        s->ptr = (const char *) c->base + c->pos;
        s->len = len;
        c->pos += len;
        return 0;
}

uint64_t gguf_fixed_size(enum gguf_type t) {
        switch (t) {
        case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
        case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
        case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
        case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
        default: return 0;
        }
}

void gguf_decode_scalar(enum gguf_type t, const uint8_t *p, struct gguf_value *v) {
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

/* Reads the value of type t (tag already consumed). On failure, v holds
 * only what value_free releases. */
static int read_value(struct cursor *c, enum gguf_type t, struct gguf_value *v, const struct ctx *x, int depth) {
        memset(v, 0, sizeof(*v));
        v->type = t;
        if (t == GGUF_TYPE_STRING)
                return cur_str(c, &v->str, x, "string value");
        if (t != GGUF_TYPE_ARRAY) {
                uint64_t n = gguf_fixed_size(t);
                if (n == 0)
                        return err_set(c->err, -EBADMSG, "%s: unknown value type %u", x->s, (unsigned) t);
                if (cur_left(c) < n)
                        return truncated(c, x, "value");
                gguf_decode_scalar(t, c->base + c->pos, v);
                c->pos += n;
                return 0;
        }

        if (depth >= GGUF_MAX_NESTING)
                return err_set(c->err, -EBADMSG, "%s: arrays nested deeper than %d levels", x->s, GGUF_MAX_NESTING);
        uint32_t et = 0;
        uint64_t n = 0;
        int r = cur_u32(c, &et, x, "array element type");
        if (r < 0)
                return r;
        if ((r = cur_u64(c, &n, x, "array length")) < 0)
                return r;
        v->arr.type = et;
        v->arr.n = 0;
        if (et == GGUF_TYPE_STRING) {
                /* Each string needs at least its 8-byte length: bound n by what remains. */
                if (n > cur_left(c) / 8)
                        return err_set(c->err, -EBADMSG, "%s: array of %llu strings cannot fit in the %llu bytes left",
                                       x->s, (unsigned long long) n, (unsigned long long) cur_left(c));
                struct gguf_str *strs = malloc((n ? n : 1) * sizeof(*strs));
                if (!strs)
                        return err_set(c->err, -ENOMEM, "%s: out of memory for %llu strings", x->s, (unsigned long long) n);
                v->arr.strs = strs;
                for (uint64_t i = 0; i < n; i++) {
                        char what[64];
                        snprintf(what, sizeof(what), "string #%llu", (unsigned long long) i);
                        if ((r = cur_str(c, &strs[i], x, what)) < 0)
                                return r;
                }
                v->arr.n = n;
                return 0;
        }
        if (et == GGUF_TYPE_ARRAY) {
                /* Each nested array needs at least 12 bytes of header. */
                if (n > cur_left(c) / 12)
                        return err_set(c->err, -EBADMSG, "%s: array of %llu arrays cannot fit in the %llu bytes left",
                                       x->s, (unsigned long long) n, (unsigned long long) cur_left(c));
                struct gguf_value *arrs = calloc(n ? n : 1, sizeof(*arrs));
                if (!arrs)
                        return err_set(c->err, -ENOMEM, "%s: out of memory for %llu arrays", x->s, (unsigned long long) n);
                v->arr.arrs = arrs;
                for (uint64_t i = 0; i < n; i++) {
                        v->arr.n = i; /* so value_free frees only what was read */
                        r = read_value(c, GGUF_TYPE_ARRAY, &arrs[i], x, depth + 1);
                        if (r < 0) {
                                value_free(&arrs[i]);
                                return r;
                        }
                }
                v->arr.n = n;
                return 0;
        }
        uint64_t es = gguf_fixed_size(et), bytes;
        if (es == 0)
                return err_set(c->err, -EBADMSG, "%s: unknown array element type %u", x->s, et);
        if (mul_overflows(n, es, &bytes) || bytes > cur_left(c))
                return err_set(c->err, -EBADMSG, "%s: array of %llu %s runs past the end of the file (%llu bytes left)",
                               x->s, (unsigned long long) n, gguf_type_name(et), (unsigned long long) cur_left(c));
        v->arr.raw = c->base + c->pos;
        v->arr.n = n;
        c->pos += bytes;
        return 0;
}

/* Copies a key or tensor name, refusing what would compare or print wrongly. */
static int read_name(struct cursor *c, const struct ctx *x, char **ret) {
        struct gguf_str s;
        int r = cur_str(c, &s, x, "name");
        if (r < 0)
                return r;
        if (s.len == 0)
                return err_set(c->err, -EBADMSG, "%s: empty name", x->s);
        if (s.len > GGUF_MAX_NAME_LEN)
                return err_set(c->err, -EBADMSG, "%s: name of %llu bytes (at most %d allowed)", x->s,
                               (unsigned long long) s.len, GGUF_MAX_NAME_LEN);
        if (memchr(s.ptr, 0, s.len))
                return err_set(c->err, -EBADMSG, "%s: name contains a NUL byte", x->s);
        *ret = gguf_str_dup(s);
        if (!*ret)
                return err_set(c->err, -ENOMEM, "%s: out of memory", x->s);
        return 0;
}

char *gguf_str_dup(struct gguf_str s) {
        if (s.len >= SIZE_MAX)
                return NULL;
        char *p = malloc(s.len + 1);
        if (!p)
                return NULL;
        if (s.len)
                memcpy(p, s.ptr, s.len);
        p[s.len] = 0;
        return p;
}

bool gguf_str_eq(struct gguf_str s, const char *c) {
        size_t n = strlen(c);
        return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

struct gguf_file *gguf_close(struct gguf_file *f) {
        if (!f)
                return NULL;
        gguf_index_free(f->kv_index);
        gguf_index_free(f->tensor_index);
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

static int parse_header(struct gguf_file *f, struct cursor *c, uint64_t *n_tensors, uint64_t *n_kv) {
        struct ctx x = {"header"};
        uint32_t magic;
        int r;

        if (f->size < 4)
                return err_set(c->err, -EBADMSG, "not a GGUF file (%llu bytes, no magic)", (unsigned long long) f->size);
        memcpy(&magic, f->base, 4);
        if (magic != GGUF_MAGIC)
                return err_set(c->err, -EBADMSG, "not a GGUF file (bad magic)");
        c->pos = 4;
        if ((r = cur_u32(c, &f->version, &x, "version")) < 0)
                return r;
        /* A big-endian file has the same magic bytes but a byte-swapped version. */
        uint32_t swapped = __builtin_bswap32(f->version);
        if ((f->version & 0xffff) == 0 && swapped >= 1 && swapped <= 3)
                return err_set(c->err, -EPROTONOSUPPORT,
                               "big-endian GGUF (version %u) is not supported: convert the file to little-endian", swapped);
        if (f->version == 1)
                return err_set(c->err, -EPROTONOSUPPORT, "GGUF version 1 is not supported (convert the file to v3)");
        if (f->version != 2 && f->version != 3)
                return err_set(c->err, -EPROTONOSUPPORT, "unsupported GGUF version %u (2 and 3 are)", f->version);
        if ((r = cur_u64(c, n_tensors, &x, "tensor count")) < 0 || (r = cur_u64(c, n_kv, &x, "key count")) < 0)
                return r;
        /* A kv needs >= 14 bytes (name length, a 1-byte name, type, a 1-byte value);
         * a tensor info >= 33 (name length and byte, n_dims, one dim, type, offset). */
        if (*n_kv > cur_left(c) / 14)
                return err_set(c->err, -EBADMSG, "header: key count %llu cannot fit in a file of %llu bytes (truncated or corrupt)",
                               (unsigned long long) *n_kv, (unsigned long long) f->size);
        if (*n_tensors > cur_left(c) / 33)
                return err_set(c->err, -EBADMSG, "header: tensor count %llu cannot fit in a file of %llu bytes (truncated or corrupt)",
                               (unsigned long long) *n_tensors, (unsigned long long) f->size);
        return 0;
}

static int parse_kvs(struct gguf_file *f, struct cursor *c, uint64_t n_kv) {
        int r;
        f->kvs = calloc(n_kv ? n_kv : 1, sizeof(*f->kvs));
        f->kv_index = gguf_index_new(n_kv);
        if (!f->kvs || !f->kv_index)
                return err_set(c->err, -ENOMEM, "out of memory for %llu keys", (unsigned long long) n_kv);
        for (uint64_t i = 0; i < n_kv; i++) {
                struct gguf_kv *kv = &f->kvs[i];
                struct ctx x;
                ctx_setn(&x, "key", i);
                if ((r = read_name(c, &x, &kv->key)) < 0)
                        return r;
                f->n_kv = i + 1;
                ctx_set(&x, "key", kv->key);
                if (gguf_index_insert(f->kv_index, kv->key, i) != UINT64_MAX)
                        return err_set(c->err, -EBADMSG, "%s: duplicate key", x.s);
                uint32_t t = 0;
                if ((r = cur_u32(c, &t, &x, "value type")) < 0)
                        return r;
                if (t >= GGUF_TYPE_COUNT_)
                        return err_set(c->err, -EBADMSG, "%s: unknown value type %u", x.s, t);
                if ((r = read_value(c, t, &kv->value, &x, 0)) < 0)
                        return r;
        }

        f->alignment = GGUF_DEFAULT_ALIGNMENT;
        const struct gguf_kv *al = gguf_find_kv(f, "general.alignment");
        if (al) {
                if (al->value.type != GGUF_TYPE_UINT32)
                        return err_set(c->err, -EBADMSG, "key 'general.alignment' must be u32, not %s",
                                       gguf_type_name(al->value.type));
                uint64_t a = al->value.u64;
                if (a == 0 || (a & (a - 1)) != 0)
                        return err_set(c->err, -EBADMSG, "key 'general.alignment': %llu is not a power of two",
                                       (unsigned long long) a);
                f->alignment = a;
        }
        return 0;
}

static int parse_tensor_info(struct gguf_file *f, struct cursor *c, uint64_t i) {
        struct gguf_tensor *t = &f->tensors[i];
        struct ctx x;
        int r;

        ctx_setn(&x, "tensor", i);
        if ((r = read_name(c, &x, &t->name)) < 0)
                return r;
        f->n_tensors = i + 1;
        ctx_set(&x, "tensor", t->name);
        if ((r = cur_u32(c, &t->n_dims, &x, "dimension count")) < 0)
                return r;
        if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
                return err_set(c->err, -EBADMSG, "%s: %u dimensions (1 to %d allowed)", x.s, t->n_dims, GGUF_MAX_DIMS);
        uint64_t n_el = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
                t->ne[d] = 1;
                if (d >= t->n_dims)
                        continue;
                if ((r = cur_u64(c, &t->ne[d], &x, "shape")) < 0)
                        return r;
                if (t->ne[d] == 0)
                        return err_set(c->err, -EBADMSG, "%s: dimension %u is zero", x.s, d);
                /* ggml keeps shapes in int64_t: the product must fit there. */
                if (mul_overflows(n_el, t->ne[d], &n_el) || n_el > INT64_MAX)
                        return err_set(c->err, -EBADMSG, "%s: element count overflows (dimension %u is %llu)",
                                       x.s, d, (unsigned long long) t->ne[d]);
        }
        t->n_elements = n_el;
        if ((r = cur_u32(c, &t->type, &x, "type")) < 0 || (r = cur_u64(c, &t->offset, &x, "data offset")) < 0)
                return r;
        const struct ggml_type_info *ti = ggml_type_info(t->type);
        if (!ti)
                return err_set(c->err, -EBADMSG, "%s: unknown or retired tensor type %u", x.s, t->type);
        if (t->ne[0] % ti->block_size != 0)
                return err_set(c->err, -EBADMSG, "%s: row length %llu is not a multiple of the %s block size %u",
                               x.s, (unsigned long long) t->ne[0], ti->name, ti->block_size);
        if (mul_overflows(n_el / ti->block_size, ti->type_size, &t->n_bytes))
                return err_set(c->err, -EBADMSG, "%s: size in bytes overflows", x.s);
        if (t->offset % f->alignment != 0)
                return err_set(c->err, -EBADMSG, "%s: data offset %llu is not aligned to %llu", x.s,
                               (unsigned long long) t->offset, (unsigned long long) f->alignment);
        if (gguf_index_insert(f->tensor_index, t->name, i) != UINT64_MAX)
                return err_set(c->err, -EBADMSG, "%s: duplicate tensor", x.s);
        return 0;
}

struct extent {
        uint64_t offset, n_bytes, idx;
};

static int cmp_extent(const void *a, const void *b) {
        const struct extent *x = a, *y = b;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Tensors that share bytes would alias each other's weights: no writer
 * produces that, so it means a corrupt offset. */
static int check_overlap(struct gguf_file *f, struct vkinfer_err *err) {
        if (f->n_tensors < 2)
                return 0;
        struct extent *ex = malloc(f->n_tensors * sizeof(*ex));
        if (!ex)
                return err_set(err, -ENOMEM, "out of memory");
        for (uint64_t i = 0; i < f->n_tensors; i++)
                ex[i] = (struct extent){f->tensors[i].offset, f->tensors[i].n_bytes, i};
        qsort(ex, f->n_tensors, sizeof(*ex), cmp_extent);
        int r = 0;
        for (uint64_t i = 1; i < f->n_tensors; i++) {
                /* Both extents end inside the file, so the sum cannot overflow. */
                if (ex[i].offset < ex[i - 1].offset + ex[i - 1].n_bytes) {
                        const struct gguf_tensor *a = &f->tensors[ex[i - 1].idx], *b = &f->tensors[ex[i].idx];
                        struct ctx xa, xb;
                        ctx_set(&xa, "tensor", a->name);
                        ctx_set(&xb, "tensor", b->name);
                        r = err_set(err, -EBADMSG, "%s: data at offset %llu overlaps %s (offset %llu, %llu bytes)",
                                    xb.s, (unsigned long long) b->offset, xa.s, (unsigned long long) a->offset,
                                    (unsigned long long) a->n_bytes);
                        break;
                }
        }
        free(ex);
        return r;
}

static int parse(struct gguf_file *f, struct vkinfer_err *err) {
        struct cursor c = {.base = f->base, .size = f->size, .pos = 0, .err = err};
        uint64_t n_tensors = 0, n_kv = 0;
        int r;

        if ((r = parse_header(f, &c, &n_tensors, &n_kv)) < 0)
                return r;
        if ((r = parse_kvs(f, &c, n_kv)) < 0)
                return r;

        f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof(*f->tensors));
        f->tensor_index = gguf_index_new(n_tensors);
        if (!f->tensors || !f->tensor_index)
                return err_set(err, -ENOMEM, "out of memory for %llu tensors", (unsigned long long) n_tensors);
        for (uint64_t i = 0; i < n_tensors; i++)
                if ((r = parse_tensor_info(f, &c, i)) < 0)
                        return r;

        /* The data section starts at the next multiple of the alignment; a file
         * without tensors may end before it. */
        f->data_offset = align_up(c.pos, f->alignment);
        if (n_tensors > 0 && f->data_offset > f->size)
                return err_set(err, -EBADMSG, "file truncated before the tensor data (data at offset %llu, file %llu bytes)",
                               (unsigned long long) f->data_offset, (unsigned long long) f->size);
        uint64_t data_size = f->size >= f->data_offset ? f->size - f->data_offset : 0;
        for (uint64_t i = 0; i < n_tensors; i++) {
                struct gguf_tensor *t = &f->tensors[i];
                uint64_t end;
                if (add_overflows(t->offset, t->n_bytes, &end) || end > data_size) {
                        struct ctx x;
                        ctx_set(&x, "tensor", t->name);
                        return err_set(err, -EBADMSG,
                                       "%s: data [%llu, +%llu) runs past the end of the file (%llu data bytes)", x.s,
                                       (unsigned long long) t->offset, (unsigned long long) t->n_bytes,
                                       (unsigned long long) data_size);
                }
                t->data = f->base + f->data_offset + t->offset;
        }
        return check_overlap(f, err);
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
        /* The file must not shrink while mapped (SIGBUS): model files are not
         * rewritten in place by any tool we know. */
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
