/* Lookup by name and typed accessors over a parsed GGUF file. */
#include "gguf/gguf-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Files from gguf_open* always have an index; a gguf_file put together by
 * hand (tests) is searched linearly. */
const struct gguf_kv *gguf_find_kv(const struct gguf_file *f, const char *key) {
        if (!f->kv_index) {
                for (uint64_t i = 0; i < f->n_kv; i++)
                        if (strcmp(f->kvs[i].key, key) == 0)
                                return &f->kvs[i];
                return NULL;
        }
        uint64_t i = gguf_index_find(f->kv_index, key);
        return i < f->n_kv ? &f->kvs[i] : NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name) {
        if (!f->tensor_index) {
                for (uint64_t i = 0; i < f->n_tensors; i++)
                        if (strcmp(f->tensors[i].name, name) == 0)
                                return &f->tensors[i];
                return NULL;
        }
        uint64_t i = gguf_index_find(f->tensor_index, name);
        return i < f->n_tensors ? &f->tensors[i] : NULL;
}

static bool is_unsigned(enum gguf_type t) {
        return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64;
}

static bool is_signed(enum gguf_type t) {
        return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv = gguf_find_kv(f, key);
        if (!kv)
                return -ENOENT;
        if (is_signed(kv->value.type)) {
                *ret = kv->value.i64;
                return 0;
        }
        if (is_unsigned(kv->value.type)) {
                if (kv->value.u64 > INT64_MAX)
                        return err_set(err, -EINVAL, "key '%s': %llu is out of range", key,
                                       (unsigned long long) kv->value.u64);
                *ret = (int64_t) kv->value.u64;
                return 0;
        }
        return err_set(err, -EINVAL, "key '%s' must be an integer, not %s", key, gguf_type_name(kv->value.type));
}

int gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv = gguf_find_kv(f, key);
        if (!kv)
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
        const struct gguf_kv *kv = gguf_find_kv(f, key);
        if (!kv)
                return -ENOENT;
        if (kv->value.type == GGUF_TYPE_FLOAT32 || kv->value.type == GGUF_TYPE_FLOAT64)
                *ret = (float) kv->value.f64;
        else if (is_unsigned(kv->value.type))
                *ret = (float) kv->value.u64;
        else if (is_signed(kv->value.type))
                *ret = (float) kv->value.i64;
        else
                return err_set(err, -EINVAL, "key '%s' must be a number, not %s", key, gguf_type_name(kv->value.type));
        return 0;
}

int gguf_get_bool(const struct gguf_file *f, const char *key, bool *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv = gguf_find_kv(f, key);
        if (!kv)
                return -ENOENT;
        if (kv->value.type != GGUF_TYPE_BOOL)
                return err_set(err, -EINVAL, "key '%s' must be bool, not %s", key, gguf_type_name(kv->value.type));
        *ret = kv->value.u64 != 0;
        return 0;
}

int gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv = gguf_find_kv(f, key);
        if (!kv)
                return -ENOENT;
        if (kv->value.type != GGUF_TYPE_STRING)
                return err_set(err, -EINVAL, "key '%s' must be a string, not %s", key, gguf_type_name(kv->value.type));
        *ret = kv->value.str;
        return 0;
}

int gguf_get_arr(const struct gguf_file *f, const char *key, enum gguf_type elem_type,
                 const struct gguf_value **ret, struct vkinfer_err *err) {
        const struct gguf_kv *kv = gguf_find_kv(f, key);
        if (!kv)
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
        v->type = GGUF_TYPE_COUNT_;
        if (arr->type != GGUF_TYPE_ARRAY || i >= arr->arr.n)
                return;
        uint64_t es = gguf_fixed_size(arr->arr.type);
        if (es && arr->arr.raw)
                gguf_decode_scalar(arr->arr.type, arr->arr.raw + i * es, v);
}

double gguf_arr_get_f64(const struct gguf_value *arr, uint64_t i) {
        struct gguf_value v;
        arr_elem(arr, i, &v);
        if (is_unsigned(v.type) || v.type == GGUF_TYPE_BOOL)
                return (double) v.u64;
        if (is_signed(v.type))
                return (double) v.i64;
        if (v.type == GGUF_TYPE_FLOAT32 || v.type == GGUF_TYPE_FLOAT64)
                return v.f64;
        return 0;
}

int64_t gguf_arr_get_i64(const struct gguf_value *arr, uint64_t i) {
        struct gguf_value v;
        arr_elem(arr, i, &v);
        if (is_unsigned(v.type) || v.type == GGUF_TYPE_BOOL)
                return (int64_t) v.u64;
        if (is_signed(v.type))
                return v.i64;
        /* Floats: saturate instead of the undefined out-of-range conversion. */
        if (v.type == GGUF_TYPE_FLOAT32 || v.type == GGUF_TYPE_FLOAT64) {
                if (!(v.f64 == v.f64))
                        return 0;
                if (v.f64 >= 9223372036854775807.0)
                        return INT64_MAX;
                if (v.f64 <= -9223372036854775808.0)
                        return INT64_MIN;
                return (int64_t) v.f64;
        }
        return 0;
}

bool gguf_arr_get_str(const struct gguf_value *arr, uint64_t i, struct gguf_str *ret) {
        if (arr->type != GGUF_TYPE_ARRAY || arr->arr.type != GGUF_TYPE_STRING || i >= arr->arr.n || !arr->arr.strs)
                return false;
        *ret = arr->arr.strs[i];
        return true;
}

const char *gguf_arch_key(const struct gguf_file *f, const char *suffix, char *buf, size_t size) {
        struct gguf_str arch;
        if (gguf_get_str(f, "general.architecture", &arch, NULL) < 0 || arch.len > INT32_MAX)
                return NULL;
        int n = snprintf(buf, size, "%.*s.%s", (int) arch.len, arch.ptr, suffix);
        if (n < 0 || (size_t) n >= size)
                return NULL;
        return buf;
}

int gguf_tensor_require_type(const struct gguf_tensor *t, const uint32_t *supported, size_t n,
                             struct vkinfer_err *err) {
        char list[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
                if (supported[i] == t->type)
                        return 0;
                int k = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", ggml_type_name(supported[i]));
                if (k > 0)
                        used = used + (size_t) k < sizeof(list) ? used + (size_t) k : sizeof(list) - 1;
        }
        return err_set(err, -EOPNOTSUPP, "tensor '%.200s': type %s is not supported here (supported: %s)", t->name,
                       ggml_type_name(t->type), n ? list : "none");
}
