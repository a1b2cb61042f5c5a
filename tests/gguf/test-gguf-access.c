/* Lookups and typed accessors: thousands of keys and tensors (the hash
 * index), nested arrays, range checks of the integer getters, version 2,
 * a custom alignment, and gguf_open on real files (mmap). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "harness.h"

#define MANY_KEYS 1500
#define MANY_TENSORS 2000

static struct gguf_file *open_mem(const uint8_t *data, size_t size) {
        struct gguf_file *f = NULL;
        struct vkinfer_err err = {{0}};
        int r = gguf_open_memory(data, size, &f, &err);
        CHECK_OK(r, err);
        return r < 0 ? NULL : f;
}

static void test_many(void) {
        struct gguf_writer *w = gguf_writer_new();
        char name[64];
        static uint8_t zeros[64];
        for (int i = 0; i < MANY_KEYS; i++) {
                snprintf(name, sizeof(name), "many.key.%d", i);
                gguf_writer_set_u32(w, name, (uint32_t) i * 3);
        }
        for (int i = 0; i < MANY_TENSORS; i++) {
                uint64_t ne[2] = {(uint64_t) (i % 5) + 1, 3};
                snprintf(name, sizeof(name), "blk.%d.ffn_gate_exps.weight", i);
                gguf_writer_add_tensor(w, name, GGML_TYPE_F32, 2, ne, zeros, ne[0] * 3 * 4);
        }
        uint8_t *data;
        size_t size;
        CHECK(gguf_writer_to_memory(w, &data, &size) == 0, "serialize");
        gguf_writer_free(w);
        struct gguf_file *f = open_mem(data, size);
        if (!f) {
                free(data);
                return;
        }
        CHECK(f->n_kv == MANY_KEYS && f->n_tensors == MANY_TENSORS, "counts %llu %llu", (unsigned long long) f->n_kv,
              (unsigned long long) f->n_tensors);
        struct vkinfer_err err;
        for (int i = 0; i < MANY_KEYS; i++) {
                snprintf(name, sizeof(name), "many.key.%d", i);
                uint32_t v = 0;
                CHECK(gguf_get_u32(f, name, &v, &err) == 0 && v == (uint32_t) i * 3, "%s", name);
                CHECK(gguf_find_kv(f, name) == &f->kvs[i], "%s position", name);
        }
        for (int i = 0; i < MANY_TENSORS; i++) {
                snprintf(name, sizeof(name), "blk.%d.ffn_gate_exps.weight", i);
                const struct gguf_tensor *t = gguf_find_tensor(f, name);
                CHECK(t == &f->tensors[i] && t->ne[0] == (uint64_t) (i % 5) + 1 && t->n_bytes == t->ne[0] * 12 &&
                      ((const uint8_t *) t->data - data) % 32 == 0, "%s", name);
        }
        CHECK(gguf_find_kv(f, "many.key.1500") == NULL && gguf_find_kv(f, "") == NULL &&
              gguf_find_kv(f, "many.key.") == NULL, "absent keys");
        CHECK(gguf_find_tensor(f, "blk.2000.ffn_gate_exps.weight") == NULL && gguf_find_tensor(f, "many.key.1") == NULL,
              "absent tensors");
        gguf_close(f);
        free(data);
}

/* u8 arrays [[1,2],[3]] and string arrays [["a","bc"],[]] as raw values. */
static size_t put(uint8_t *p, size_t n, const void *v, size_t len) {
        memcpy(p + n, v, len);
        return n + len;
}

static size_t arr_header(uint8_t *p, size_t n, uint32_t et, uint64_t count) {
        n = put(p, n, &et, 4);
        return put(p, n, &count, 8);
}

static size_t str(uint8_t *p, size_t n, const char *s) {
        uint64_t len = strlen(s);
        n = put(p, n, &len, 8);
        return put(p, n, s, len);
}

static void test_values(void) {
        struct gguf_writer *w = gguf_writer_new();
        uint8_t raw[256];
        size_t n = arr_header(raw, 0, GGUF_TYPE_ARRAY, 2);
        n = arr_header(raw, n, GGUF_TYPE_UINT8, 2);
        n = put(raw, n, "\x01\x02", 2);
        n = arr_header(raw, n, GGUF_TYPE_UINT8, 1);
        n = put(raw, n, "\x03", 1);
        gguf_writer_set_raw(w, "nested.u8", GGUF_TYPE_ARRAY, raw, n);
        n = arr_header(raw, 0, GGUF_TYPE_ARRAY, 2);
        n = arr_header(raw, n, GGUF_TYPE_STRING, 2);
        n = str(raw, n, "a");
        n = str(raw, n, "bc");
        n = arr_header(raw, n, GGUF_TYPE_STRING, 0);
        gguf_writer_set_raw(w, "nested.str", GGUF_TYPE_ARRAY, raw, n);
        int64_t neg = -5;
        uint64_t big = UINT64_MAX;
        gguf_writer_set_raw(w, "v.i64", GGUF_TYPE_INT64, &neg, 8);
        gguf_writer_set_u64(w, "v.u64max", big);
        gguf_writer_set_u64(w, "v.u64", 1ull << 40);
        gguf_writer_set_i32(w, "v.i32", -7);
        gguf_writer_set_f32(w, "v.f32", 0.25f);
        double d = 1e300;
        gguf_writer_set_raw(w, "v.f64", GGUF_TYPE_FLOAT64, &d, 8);
        gguf_writer_set_bool(w, "v.bool", false);
        gguf_writer_set_str(w, "general.architecture", "qwen2");
        gguf_writer_set_u32(w, "qwen2.block_count", 28);
        gguf_writer_set_u32(w, "general.alignment", 64);
        const char *toks[] = {"x", "yz"};
        gguf_writer_set_arr_str(w, "v.strs", toks, 2);
        float fs[3] = {1.5f, -2.0f, 1e30f};
        gguf_writer_set_arr(w, "v.floats", GGUF_TYPE_FLOAT32, fs, 3);
        uint64_t u64s[2] = {UINT64_MAX, 3};
        gguf_writer_set_arr(w, "v.u64s", GGUF_TYPE_UINT64, u64s, 2);
        static uint8_t zeros[100];
        uint64_t ne1[1] = {5}, ne2[1] = {32};
        gguf_writer_add_tensor(w, "a", GGML_TYPE_F32, 1, ne1, zeros, 20);
        gguf_writer_add_tensor(w, "b", GGML_TYPE_Q4_0, 1, ne2, zeros, 18);
        uint8_t *data;
        size_t size;
        CHECK(gguf_writer_to_memory(w, &data, &size) == 0, "serialize");
        gguf_writer_free(w);

        for (uint32_t version = 2; version <= 3; version++) {
                memcpy(data + 4, &version, 4);
                struct gguf_file *f = open_mem(data, size);
                if (!f)
                        continue;
                struct vkinfer_err err = {{0}};
                CHECK(f->version == version && f->alignment == 64, "version %u alignment %llu", f->version,
                      (unsigned long long) f->alignment);
                const struct gguf_value *v;
                CHECK(gguf_get_arr(f, "nested.u8", GGUF_TYPE_ARRAY, &v, &err) == 0 && v->arr.n == 2, "nested.u8");
                if (v && v->arr.n == 2) {
                        CHECK(v->arr.arrs[0].arr.n == 2 && gguf_arr_get_i64(&v->arr.arrs[0], 1) == 2 &&
                              v->arr.arrs[1].arr.n == 1 && gguf_arr_get_i64(&v->arr.arrs[1], 0) == 3, "nested u8 values");
                }
                CHECK(gguf_get_arr(f, "nested.str", GGUF_TYPE_ARRAY, &v, &err) == 0 && v->arr.n == 2, "nested.str");
                struct gguf_str s = {0};
                if (v && v->arr.n == 2)
                        CHECK(gguf_arr_get_str(&v->arr.arrs[0], 1, &s) && gguf_str_eq(s, "bc") && v->arr.arrs[1].arr.n == 0 &&
                              !gguf_arr_get_str(&v->arr.arrs[1], 0, &s), "nested string values");

                uint32_t u32 = 99;
                uint64_t u64 = 99;
                int64_t i64 = 99;
                float f32 = 0;
                bool b = true;
                CHECK(gguf_get_u32(f, "v.u64", &u32, &err) == -EINVAL && u32 == 99 && strstr(err.msg, "v.u64"), "u32 range");
                CHECK(gguf_get_u64(f, "v.u64", &u64, &err) == 0 && u64 == 1ull << 40, "u64");
                CHECK(gguf_get_i64(f, "v.u64max", &i64, &err) == -EINVAL && i64 == 99, "i64 range");
                CHECK(gguf_get_u64(f, "v.i64", &u64, &err) == -EINVAL && u64 == 1ull << 40 && strstr(err.msg, "negative"),
                      "u64 of negative");
                CHECK(gguf_get_i64(f, "v.i32", &i64, &err) == 0 && i64 == -7, "i64 of i32");
                CHECK(gguf_get_f32(f, "v.i32", &f32, &err) == 0 && f32 == -7.0f, "f32 of i32");
                CHECK(gguf_get_f32(f, "v.f32", &f32, &err) == 0 && f32 == 0.25f, "f32");
                CHECK(gguf_get_f32(f, "v.f64", &f32, &err) == 0 && f32 > 3e38f, "f32 of f64 (inf)");
                CHECK(gguf_get_f32(f, "v.strs", &f32, &err) == -EINVAL && strstr(err.msg, "must be a number"), "f32 of array");
                CHECK(gguf_get_bool(f, "v.bool", &b, &err) == 0 && !b, "bool");
                CHECK(gguf_get_bool(f, "v.i32", &b, &err) == -EINVAL && strstr(err.msg, "must be bool, not i32"), "bool type");
                CHECK(gguf_get_str(f, "v.bool", &s, &err) == -EINVAL && strstr(err.msg, "must be a string"), "str type");
                CHECK(gguf_get_u32(f, "absent", &u32, &err) == -ENOENT, "absent");
                CHECK(gguf_get_arr(f, "v.floats", GGUF_TYPE_INT32, &v, &err) == -EINVAL &&
                      strstr(err.msg, "must be an array of i32, not of f32"), "array type");
                CHECK(gguf_get_arr(f, "v.floats", GGUF_TYPE_COUNT_, &v, &err) == 0 && gguf_arr_get_f64(v, 1) == -2.0 &&
                      gguf_arr_get_f64(v, 3) == 0 && gguf_arr_get_i64(v, 2) == INT64_MAX &&
                      !gguf_arr_get_str(v, 0, &s), "float array");
                CHECK(gguf_get_arr(f, "v.u64s", GGUF_TYPE_UINT64, &v, &err) == 0 && gguf_arr_get_f64(v, 0) > 1.8e19 &&
                      gguf_arr_get_i64(v, 1) == 3, "u64 array");
                CHECK(gguf_get_arr(f, "v.strs", GGUF_TYPE_STRING, &v, &err) == 0 && gguf_arr_get_str(v, 1, &s) &&
                      gguf_str_eq(s, "yz") && !gguf_arr_get_str(v, 2, &s) && gguf_arr_get_i64(v, 0) == 0, "string array");
                char key[64];
                CHECK(gguf_arch_key(f, "block_count", key, sizeof(key)) && strcmp(key, "qwen2.block_count") == 0 &&
                      gguf_get_u32(f, key, &u32, &err) == 0 && u32 == 28, "arch key");
                CHECK(gguf_arch_key(f, "block_count", key, 10) == NULL, "arch key too long");
                const struct gguf_tensor *t = gguf_find_tensor(f, "b");
                CHECK(t && ((const uint8_t *) t->data - data) % 64 == 0 && t->offset == 64 && t->n_bytes == 18, "aligned to 64");
                gguf_close(f);
        }
        free(data);
}

static void test_files(void) {
        char path[] = "/tmp/vkinfer-gguf-access-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0, "mkstemp");
        if (fd < 0)
                return;
        struct gguf_file *f = NULL;
        struct vkinfer_err err = {{0}};
        CHECK(gguf_open(path, &f, &err) == -EBADMSG && strstr(err.msg, "is empty") && !f, "empty: %s", err.msg);
        CHECK(write(fd, "GGUF\x03\0\0\0", 8) == 8, "write");
        CHECK(gguf_open(path, &f, &err) == -EBADMSG && strstr(err.msg, path) && strstr(err.msg, "tensor count") && !f,
              "short: %s", err.msg);
        close(fd);
        struct gguf_writer *w = gguf_writer_new();
        gguf_writer_set_str(w, "general.architecture", "llama");
        static uint8_t zeros[16];
        uint64_t ne[1] = {4};
        gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 1, ne, zeros, 16);
        CHECK(gguf_writer_write_file(w, path, &err) == 0, "write: %s", err.msg);
        gguf_writer_free(w);
        CHECK(gguf_open(path, &f, &err) == 0 && f && f->mapped && gguf_find_tensor(f, "t"), "open: %s", err.msg);
        gguf_close(f);
        unlink(path);
        CHECK(gguf_open(path, &f, &err) == -ENOENT && strstr(err.msg, path), "missing: %s", err.msg);
        CHECK(gguf_close(NULL) == NULL, "close NULL");
}

/* The real DeepSeek-V3 vocabulary: its keys, and cut at many points, an
 * error that names the key being read. */
static void test_real_vocab(void) {
        const char *data = getenv("VKINFER_TEST_DATA");
        char path[1024];
        if (!data) {
                CHECK(0, "VKINFER_TEST_DATA is not set");
                return;
        }
        snprintf(path, sizeof(path), "%s/vocab/deepseek-v3.gguf", data);
        struct gguf_file *f = NULL;
        struct vkinfer_err err = {{0}};
        int r = gguf_open(path, &f, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return;
        const struct gguf_value *tokens, *merges;
        struct gguf_str s;
        uint32_t bos = 99;
        CHECK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens, &err) == 0 && tokens->arr.n == 129280,
              "tokens");
        CHECK(gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, &err) == 0 && merges->arr.n == 127741,
              "merges");
        CHECK(gguf_get_u32(f, "tokenizer.ggml.bos_token_id", &bos, &err) == 0 && bos == 0 &&
              gguf_arr_get_str(tokens, bos, &s) && gguf_str_eq(s, "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"),
              "bos token text");
        CHECK(gguf_get_str(f, "tokenizer.ggml.pre", &s, &err) == 0 && gguf_str_eq(s, "deepseek-v3"), "pre");

        /* Cut points spread over the file, which is almost all token strings and merges. */
        for (int k = 1; k < 40; k++) {
                size_t n = (size_t) (f->size * (uint64_t) k / 40);
                struct gguf_file *g = NULL;
                uint8_t *copy = malloc(n);
                memcpy(copy, f->base, n);
                r = gguf_open_memory(copy, n, &g, &err);
                CHECK(r == -EBADMSG && strstr(err.msg, "key 'tokenizer.ggml.") &&
                      (strstr(err.msg, "runs past the end") || strstr(err.msg, "file truncated") || strstr(err.msg, "cannot fit")),
                      "cut at %zu: %d %s", n, r, err.msg);
                gguf_close(g);
                free(copy);
        }
        gguf_close(f);
}

int main(void) {
        test_real_vocab();
        test_many();
        test_values();
        test_files();
        return test_exit("gguf-access");
}
