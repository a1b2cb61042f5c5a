/* libFuzzer target for the GGUF reader: parse the input, then touch
 * everything a consumer would (every accessor on every key, every array
 * element, every tensor's lookup, type and first/last data byte) and build
 * the JSON description `vkinfer inspect` prints, so a bad bound anywhere
 * shows up under ASan/UBSan. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf-describe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void walk_value(const struct gguf_value *v, int depth) {
        if (v->type == GGUF_TYPE_STRING) {
                if (v->str.len)
                        sink += (uint8_t) v->str.ptr[0] + (uint8_t) v->str.ptr[v->str.len - 1];
                return;
        }
        if (v->type != GGUF_TYPE_ARRAY)
                return;
        for (uint64_t i = 0; i <= v->arr.n && i < 4096; i++) { /* one past the end on purpose */
                sink += (uint64_t) gguf_arr_get_i64(v, i);
                double d = gguf_arr_get_f64(v, i);
                sink += d == d;
                struct gguf_str s;
                if (gguf_arr_get_str(v, i, &s) && s.len)
                        sink += (uint8_t) s.ptr[s.len - 1];
                if (v->arr.type == GGUF_TYPE_ARRAY && i < v->arr.n)
                        walk_value(&v->arr.arrs[i], depth + 1);
        }
}

static void walk_key(const struct gguf_file *f, const struct gguf_kv *kv) {
        struct vkinfer_err err;
        uint32_t u32;
        uint64_t u64;
        int64_t i64;
        float f32;
        bool b;
        struct gguf_str s;
        const struct gguf_value *arr;

        if (gguf_find_kv(f, kv->key) != kv)
                __builtin_trap(); /* names are unique: lookup must find this very key */
        if (gguf_get_u32(f, kv->key, &u32, &err) == 0)
                sink += u32;
        if (gguf_get_u64(f, kv->key, &u64, &err) == 0)
                sink += u64;
        if (gguf_get_i64(f, kv->key, &i64, &err) == 0)
                sink += (uint64_t) i64;
        if (gguf_get_f32(f, kv->key, &f32, &err) == 0)
                sink += f32 == f32;
        if (gguf_get_bool(f, kv->key, &b, &err) == 0)
                sink += b;
        if (gguf_get_str(f, kv->key, &s, &err) == 0 && s.len)
                sink += (uint8_t) s.ptr[s.len - 1];
        for (int t = 0; t <= GGUF_TYPE_COUNT_; t++)
                if (gguf_get_arr(f, kv->key, (enum gguf_type) t, &arr, &err) == 0)
                        sink += arr->arr.n;
        walk_value(&kv->value, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct gguf_file *f = NULL;
        struct vkinfer_err err;
        if (gguf_open_memory(data, size, &f, &err) < 0) {
                if (!err.msg[0])
                        __builtin_trap(); /* every refusal must say why */
                return 0;
        }
        for (uint64_t i = 0; i < f->n_kv; i++)
                walk_key(f, &f->kvs[i]);
        char key[256];
        if (gguf_arch_key(f, "block_count", key, sizeof(key)))
                sink += gguf_find_kv(f, key) != NULL;

        /* What `vkinfer inspect` does with tensors: type names, sizes, totals. */
        uint64_t total = 0;
        for (uint64_t i = 0; i < f->n_tensors; i++) {
                const struct gguf_tensor *t = &f->tensors[i];
                if (gguf_find_tensor(f, t->name) != t)
                        __builtin_trap();
                sink += strlen(ggml_type_name(t->type));
                uint64_t row;
                if (ggml_row_bytes(t->type, t->ne[0], &row) == 0)
                        sink += row;
                const uint8_t *p = t->data;
                if (p < f->base || t->n_bytes > f->size || (uint64_t) (p - f->base) > f->size - t->n_bytes)
                        __builtin_trap(); /* tensor data outside the file */
                sink += p[0] + p[t->n_bytes - 1];
                total += t->n_bytes;
        }
        sink += total;

        json_t *j = gguf_describe(f);
        char *s = j ? json_dumps(j, JSON_COMPACT | GGUF_DESCRIBE_REAL_PRECISION) : NULL;
        if (j && !s)
                __builtin_trap(); /* every string must have been made valid UTF-8 */
        free(s);
        json_decref(j);
        gguf_close(f);
        return 0;
}
