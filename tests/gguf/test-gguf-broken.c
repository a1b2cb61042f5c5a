/* The broken-file corpus: starting from a valid file made by the writer,
 * derives broken ones (truncated at every section boundary and every byte,
 * absurd counts, lengths, dimensions and offsets, duplicates, unknown types,
 * deep nesting, bad alignment) and checks that each is refused with a message
 * naming the right thing. Every single-bit flip of the file must be refused
 * or parse consistently, never crash (run under ASan in build-asan).
 *
 *   test-gguf-broken                 run the cases, then check the committed
 *                                    corpus in $VKINFER_TEST_DATA/gguf-broken
 *   test-gguf-broken --write DIR     write the cases there as files (the fuzz
 *                                    seed corpus; see tests/data/README.md) */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gguf/gguf.h"
#include "harness.h"

/* ---- The valid base file and where its fields are ---- */

#define N_KV 10
#define N_TENSORS 3

struct layout {
        size_t kv_start[N_KV], kv_type[N_KV], kv_value[N_KV];
        size_t tensor_start[N_TENSORS], tensor_ndims[N_TENSORS], tensor_ne[N_TENSORS], tensor_type[N_TENSORS],
                tensor_offset[N_TENSORS];
        size_t kvs_end, tensors_end, data_offset, data_end, size;
};

static uint64_t get_u64(const uint8_t *p, size_t off) {
        uint64_t v;
        memcpy(&v, p + off, 8);
        return v;
}

static uint32_t get_u32(const uint8_t *p, size_t off) {
        uint32_t v;
        memcpy(&v, p + off, 4);
        return v;
}

static void put_u64(uint8_t *p, size_t off, uint64_t v) {
        memcpy(p + off, &v, 8);
}

static void put_u32(uint8_t *p, size_t off, uint32_t v) {
        memcpy(p + off, &v, 4);
}

/* Position after the value of type t at pos (the file is known valid). */
static size_t skip_value(const uint8_t *p, size_t pos, uint32_t t) {
        static const size_t fixed[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        if (t == GGUF_TYPE_STRING)
                return pos + 8 + get_u64(p, pos);
        if (t != GGUF_TYPE_ARRAY)
                return pos + fixed[t];
        uint32_t et = get_u32(p, pos);
        uint64_t n = get_u64(p, pos + 4);
        pos += 12;
        for (uint64_t i = 0; i < n; i++)
                pos = skip_value(p, pos, et);
        return pos;
}

static void locate(const uint8_t *p, size_t size, struct layout *l) {
        size_t pos = 24;
        for (int i = 0; i < N_KV; i++) {
                l->kv_start[i] = pos;
                pos += 8 + get_u64(p, pos);
                l->kv_type[i] = pos;
                l->kv_value[i] = pos + 4;
                pos = skip_value(p, pos + 4, get_u32(p, pos));
        }
        l->kvs_end = pos;
        for (int i = 0; i < N_TENSORS; i++) {
                l->tensor_start[i] = pos;
                pos += 8 + get_u64(p, pos);
                l->tensor_ndims[i] = pos;
                l->tensor_ne[i] = pos + 4;
                pos += 4 + 8 * get_u32(p, pos);
                l->tensor_type[i] = pos;
                l->tensor_offset[i] = pos + 4;
                pos += 12;
        }
        l->tensors_end = pos;
        l->data_offset = (pos + 31) / 32 * 32;
        l->data_end = l->data_offset + 192 + 48; /* last tensor: offset 192, 48 bytes */
        l->size = size;
}

/* A raw nested array value: `levels` arrays deep, innermost two u8. */
static size_t nested_raw(uint8_t *out, int levels) {
        size_t n = 0;
        for (int i = 0; i < levels - 1; i++) {
                put_u32(out, n, GGUF_TYPE_ARRAY);
                put_u64(out, n + 4, 1);
                n += 12;
        }
        put_u32(out, n, GGUF_TYPE_UINT8);
        put_u64(out, n + 4, 2);
        out[n + 12] = 1;
        out[n + 13] = 2;
        return n + 14;
}

/* The base file; nest_levels sets the depth of key 7 (test.nested). */
static void make_base(int nest_levels, uint8_t **ret, size_t *ret_size) {
        struct gguf_writer *w = gguf_writer_new();
        const char *strs[] = {"a", "", "hello"};
        int32_t is[] = {1, 2, 3};
        uint8_t raw[512];
        gguf_writer_set_str(w, "general.architecture", "deepseek2");
        gguf_writer_set_u32(w, "general.alignment", 32);
        gguf_writer_set_u32(w, "deepseek2.block_count", 3);
        gguf_writer_set_f32(w, "deepseek2.rope.freq_base", 10000.0f);
        gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, 3);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, is, 3);
        gguf_writer_set_raw(w, "test.nested", GGUF_TYPE_ARRAY, raw, nested_raw(raw, nest_levels));
        gguf_writer_set_u32(w, "dup.aaaa", 1);
        gguf_writer_set_u32(w, "dup.bbbb", 2);
        static uint8_t bytes[96];
        for (size_t i = 0; i < sizeof(bytes); i++)
                bytes[i] = (uint8_t) (i * 7);
        uint64_t ne0[2] = {8, 3}, ne1[1] = {64}, ne2[3] = {4, 2, 3};
        gguf_writer_add_tensor(w, "blk.0.a", GGML_TYPE_F32, 2, ne0, bytes, 96);
        gguf_writer_add_tensor(w, "blk.0.b", GGML_TYPE_Q8_0, 1, ne1, bytes, 68);
        gguf_writer_add_tensor(w, "output.w", GGML_TYPE_F16, 3, ne2, bytes, 48);
        int r = gguf_writer_to_memory(w, ret, ret_size);
        CHECK(r == 0, "serialize: %d", r);
        gguf_writer_free(w);
}

/* Arrays longer than `vkinfer inspect` shows in full (a fuzz finding). */
static void make_long_arrays(uint8_t **ret, size_t *ret_size) {
        struct gguf_writer *w = gguf_writer_new();
        uint32_t nums[100];
        const char *strs[100];
        for (int i = 0; i < 100; i++) {
                nums[i] = (uint32_t) i;
                strs[i] = i % 2 ? "x" : "\xff\xfe not utf-8";
        }
        gguf_writer_set_str(w, "general.architecture", "llama");
        gguf_writer_set_arr(w, "llama.long", GGUF_TYPE_UINT32, nums, 100);
        gguf_writer_set_arr_str(w, "general.long_strings", strs, 100);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, 100);
        gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0);
        gguf_writer_set_str(w, "tokenizer.chat_template", "\xc0\xaf");
        int r = gguf_writer_to_memory(w, ret, ret_size);
        CHECK(r == 0, "serialize: %d", r);
        gguf_writer_free(w);
}

/* ---- Cases ---- */

struct bcase {
        char name[64];
        uint8_t *data;
        size_t size;
        const char *expect; /* substring of the error (points to expect_buf); NULL: must open */
        char expect_buf[160];
};

static struct bcase cases[256];
static size_t n_cases;

static void add(const char *name, const uint8_t *data, size_t size, const char *expect) {
        if (n_cases == ELEMENTSOF(cases)) {
                CHECK(0, "too many cases");
                return;
        }
        struct bcase *c = &cases[n_cases++];
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->data = malloc(size ? size : 1);
        memcpy(c->data, data, size);
        c->size = size;
        c->expect = NULL;
        if (expect) {
                snprintf(c->expect_buf, sizeof(c->expect_buf), "%s", expect);
                c->expect = c->expect_buf;
        }
}

/* A copy of base to mutate, added by done(). */
static uint8_t scratch[4096];
static size_t scratch_size;

static uint8_t *edit(const uint8_t *base, size_t size) {
        memcpy(scratch, base, size);
        scratch_size = size;
        return scratch;
}

static void done(const char *name, const char *expect) {
        add(name, scratch, scratch_size, expect);
}

/* Adds the file cut to `cut` bytes. While fewer bytes remain after the
 * header than the claimed keys (14 bytes at least each) or tensor infos (33)
 * need, the header's count check refuses the file before anything else. */
static void add_cut(const char *name, const uint8_t *b, size_t cut, const char *specific) {
        char expect[160];
        if (cut - 24 < N_KV * 14)
                snprintf(expect, sizeof(expect), "key count %d cannot fit", N_KV);
        else if (cut - 24 < N_TENSORS * 33)
                snprintf(expect, sizeof(expect), "tensor count %d cannot fit", N_TENSORS);
        else
                snprintf(expect, sizeof(expect), "%s", specific);
        add(name, b, cut, expect);
}

static void truncations(const uint8_t *b, const struct layout *l) {
        static const char *const kv_names[N_KV] = {
                "general.architecture", "general.alignment", "deepseek2.block_count", "deepseek2.rope.freq_base",
                "tokenizer.ggml.add_bos_token", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "test.nested",
                "dup.aaaa", "dup.bbbb"};
        char name[64], expect[128];
        add("trunc-magic", b, 3, "not a GGUF file");
        add("trunc-version", b, 6, "header: file truncated in the version");
        add("trunc-tensor-count", b, 12, "header: file truncated in the tensor count");
        add("trunc-key-count", b, 20, "header: file truncated in the key count");
        add("trunc-header-end", b, 24, "key count 10 cannot fit");
        for (int i = 0; i < N_KV; i++) {
                snprintf(name, sizeof(name), "trunc-kv%d-start", i);
                snprintf(expect, sizeof(expect), "key #%d: file truncated in the name", i);
                if (i > 0)
                        add_cut(name, b, l->kv_start[i], expect);
                snprintf(name, sizeof(name), "trunc-kv%d-name", i);
                snprintf(expect, sizeof(expect), "key #%d: name length", i);
                add_cut(name, b, l->kv_start[i] + 10, expect);
                snprintf(name, sizeof(name), "trunc-kv%d-type", i);
                snprintf(expect, sizeof(expect), "key '%s': file truncated in the value type", kv_names[i]);
                add_cut(name, b, l->kv_type[i] + 2, expect);
                snprintf(name, sizeof(name), "trunc-kv%d-value", i);
                snprintf(expect, sizeof(expect), "key '%s': ", kv_names[i]);
                add_cut(name, b, l->kv_value[i], expect);
        }
        for (int i = 0; i < N_TENSORS; i++) {
                static const char *const tn[N_TENSORS] = {"blk.0.a", "blk.0.b", "output.w"};
                snprintf(name, sizeof(name), "trunc-tensor%d-start", i);
                snprintf(expect, sizeof(expect), "tensor #%d: file truncated in the name", i);
                add_cut(name, b, l->tensor_start[i], expect);
                snprintf(name, sizeof(name), "trunc-tensor%d-shape", i);
                snprintf(expect, sizeof(expect), "tensor '%s': file truncated in the shape", tn[i]);
                add_cut(name, b, l->tensor_ne[i] + 3, expect);
                snprintf(name, sizeof(name), "trunc-tensor%d-offset", i);
                snprintf(expect, sizeof(expect), "tensor '%s': file truncated in the data offset", tn[i]);
                add_cut(name, b, l->tensor_offset[i] + 7, expect);
        }
        add("trunc-before-data", b, l->tensors_end, "file truncated before the tensor data");
        add("trunc-at-data", b, l->data_offset, "tensor 'blk.0.a': data [0, +96) runs past the end of the file");
        add("trunc-in-data", b, l->data_end - 1, "tensor 'output.w': data [192, +48) runs past the end of the file");
}

static void header_cases(const uint8_t *b, size_t size) {
        uint8_t *p;
        p = edit(b, size), p[0] = 'X', done("bad-magic", "bad magic");
        p = edit(b, size), put_u32(p, 4, 1), done("version-1", "version 1 is not supported");
        p = edit(b, size), put_u32(p, 4, 99), done("version-99", "unsupported GGUF version 99");
        p = edit(b, size), put_u32(p, 4, 0x03000000), done("big-endian", "big-endian GGUF (version 3)");
        p = edit(b, size), put_u32(p, 4, 2), done("valid-v2", NULL);
        p = edit(b, size), put_u64(p, 8, UINT64_MAX), done("tensor-count-huge", "tensor count 18446744073709551615 cannot fit");
        p = edit(b, size), put_u64(p, 16, 1ull << 40), done("key-count-huge", "key count 1099511627776 cannot fit");
        /* One key more than written: the first tensor info is read as key #10 (name
         * "blk.0.a", a u16 value), then the next tensor name length is garbage. */
        p = edit(b, size), put_u64(p, 16, N_KV + 1), done("key-count-plus-one", "tensor #0: name length");
}

static void kv_cases(const uint8_t *b, size_t size, const struct layout *l) {
        uint8_t *p;
        p = edit(b, size), put_u64(p, l->kv_start[0], 1ull << 62), done("key-name-length-huge", "key #0: name length 4611686018427387904 runs past");
        p = edit(b, size), put_u64(p, l->kv_start[0], 0), done("key-name-empty", "key #0: empty name");
        p = edit(b, size), p[l->kv_start[2] + 8 + 3] = 0, done("key-name-nul", "key #2: name contains a NUL byte");
        p = edit(b, size), put_u64(p, l->kv_value[0], UINT64_MAX - 3), done("string-length-huge", "key 'general.architecture': string value length");
        p = edit(b, size), put_u32(p, l->kv_type[2], 13), done("value-type-unknown", "key 'deepseek2.block_count': unknown value type 13");
        p = edit(b, size), put_u32(p, l->kv_type[2], 0xffffffffu), done("value-type-huge", "unknown value type 4294967295");
        p = edit(b, size), put_u32(p, l->kv_value[6], 13), done("array-type-unknown", "key 'tokenizer.ggml.token_type': unknown array element type 13");
        p = edit(b, size), put_u64(p, l->kv_value[5] + 4, 1ull << 61), done("array-strings-huge", "key 'tokenizer.ggml.tokens': array of 2305843009213693952 strings cannot fit");
        p = edit(b, size), put_u64(p, l->kv_value[6] + 4, 1ull << 62), done("array-count-overflow", "key 'tokenizer.ggml.token_type': array of 4611686018427387904 i32 runs past");
        p = edit(b, size), put_u64(p, l->kv_value[6] + 4, 1000), done("array-count-past-eof", "array of 1000 i32 runs past the end");
        p = edit(b, size), put_u64(p, l->kv_value[5] + 4 + 8 + 8 + 1, 1ull << 40), done("array-string-length-huge", "key 'tokenizer.ggml.tokens': string #1 length 1099511627776");
        p = edit(b, size), put_u64(p, l->kv_value[7] + 4, UINT64_MAX), done("array-nested-huge", "key 'test.nested': array of 18446744073709551615 arrays cannot fit");
        p = edit(b, size), memcpy(p + l->kv_start[9] + 8, "dup.aaaa", 8), done("duplicate-key", "key 'dup.aaaa': duplicate key");
        p = edit(b, size), put_u32(p, l->kv_value[1], 0), done("alignment-zero", "key 'general.alignment': 0 is not a power of two");
        p = edit(b, size), put_u32(p, l->kv_value[1], 48), done("alignment-48", "key 'general.alignment': 48 is not a power of two");
        p = edit(b, size), put_u32(p, l->kv_type[1], GGUF_TYPE_INT32), done("alignment-wrong-type", "key 'general.alignment' must be u32, not i32");
        p = edit(b, size), put_u32(p, l->kv_value[1], 64), done("alignment-64-misaligned", "tensor 'blk.0.b': data offset 96 is not aligned to 64");
        p = edit(b, size), put_u32(p, l->kv_value[1], 1u << 31), done("alignment-2g", "not aligned to 2147483648");
}

static void tensor_cases(const uint8_t *b, size_t size, const struct layout *l) {
        uint8_t *p;
        p = edit(b, size), put_u64(p, l->tensor_start[1], 1ull << 50), done("tensor-name-length-huge", "tensor #1: name length 1125899906842624 runs past");
        p = edit(b, size), put_u64(p, l->tensor_start[1], 0), done("tensor-name-empty", "tensor #1: empty name");
        p = edit(b, size), memcpy(p + l->tensor_start[1] + 8, "blk.0.a", 7), done("duplicate-tensor", "tensor 'blk.0.a': duplicate tensor");
        p = edit(b, size), put_u32(p, l->tensor_ndims[0], 0), done("dims-zero", "tensor 'blk.0.a': 0 dimensions");
        p = edit(b, size), put_u32(p, l->tensor_ndims[0], 5), done("dims-five", "tensor 'blk.0.a': 5 dimensions (1 to 4 allowed)");
        p = edit(b, size), put_u32(p, l->tensor_ndims[2], 0x80000000u), done("dims-huge", "tensor 'output.w': 2147483648 dimensions");
        p = edit(b, size), put_u64(p, l->tensor_ne[0] + 8, 0), done("dim-zero", "tensor 'blk.0.a': dimension 1 is zero");
        p = edit(b, size), put_u64(p, l->tensor_ne[0], 1ull << 40), put_u64(p, l->tensor_ne[0] + 8, 1ull << 40),
                done("dims-product-overflow", "tensor 'blk.0.a': element count overflows (dimension 1 is 1099511627776)");
        p = edit(b, size), put_u64(p, l->tensor_ne[0], 1ull << 63), done("dim-over-int64", "tensor 'blk.0.a': element count overflows (dimension 0");
        p = edit(b, size), put_u64(p, l->tensor_ne[0], 1ull << 62), put_u64(p, l->tensor_ne[0] + 8, 1), done("bytes-overflow", "tensor 'blk.0.a': size in bytes overflows");
        p = edit(b, size), put_u64(p, l->tensor_ne[2] + 16, 1000), done("dim-data-past-eof", "tensor 'output.w': data [192, +16000) runs past the end");
        p = edit(b, size), put_u32(p, l->tensor_type[0], 31), done("tensor-type-retired", "tensor 'blk.0.a': unknown or retired tensor type 31");
        p = edit(b, size), put_u32(p, l->tensor_type[0], 4), done("tensor-type-q4-2", "unknown or retired tensor type 4");
        p = edit(b, size), put_u32(p, l->tensor_type[0], 100000), done("tensor-type-unknown", "unknown or retired tensor type 100000");
        p = edit(b, size), put_u64(p, l->tensor_ne[1], 48), done("row-not-block-multiple", "tensor 'blk.0.b': row length 48 is not a multiple of the Q8_0 block size 32");
        p = edit(b, size), put_u64(p, l->tensor_offset[1], 97), done("offset-misaligned", "tensor 'blk.0.b': data offset 97 is not aligned to 32");
        p = edit(b, size), put_u64(p, l->tensor_offset[2], 1024), done("offset-past-eof", "tensor 'output.w': data [1024, +48) runs past the end");
        p = edit(b, size), put_u64(p, l->tensor_offset[2], UINT64_MAX - 31), done("offset-wraps", "tensor 'output.w': data [18446744073709551584, +48) runs past");
        p = edit(b, size), put_u64(p, l->tensor_offset[1], 64), done("overlap", "overlaps tensor 'blk.0.a'");
        p = edit(b, size), put_u64(p, l->tensor_offset[2], 0), done("overlap-same-offset", "overlaps");
}

/* ---- Checks ---- */

/* Touches everything a parsed file offers, as a consumer would. */
static void walk(const struct gguf_file *f) {
        struct vkinfer_err err;
        volatile uint64_t sink = 0;
        for (uint64_t i = 0; i < f->n_kv; i++) {
                const struct gguf_kv *kv = &f->kvs[i];
                CHECK(gguf_find_kv(f, kv->key) == kv, "lookup of key '%s'", kv->key);
                uint64_t u;
                if (gguf_get_u64(f, kv->key, &u, &err) == 0)
                        sink += u;
                struct gguf_str s;
                if (gguf_get_str(f, kv->key, &s, &err) == 0 && s.len)
                        sink += (uint8_t) s.ptr[s.len - 1];
                if (kv->value.type == GGUF_TYPE_ARRAY)
                        for (uint64_t j = 0; j < kv->value.arr.n; j++) {
                                sink += (uint64_t) gguf_arr_get_i64(&kv->value, j);
                                if (gguf_arr_get_str(&kv->value, j, &s) && s.len)
                                        sink += (uint8_t) s.ptr[0];
                        }
        }
        for (uint64_t i = 0; i < f->n_tensors; i++) {
                const struct gguf_tensor *t = &f->tensors[i];
                CHECK(gguf_find_tensor(f, t->name) == t, "lookup of tensor '%s'", t->name);
                CHECK((const uint8_t *) t->data >= f->base && t->n_bytes <= f->size &&
                      (uint64_t) ((const uint8_t *) t->data - f->base) <= f->size - t->n_bytes,
                      "tensor '%s' outside the file", t->name);
                if (t->n_bytes)
                        sink += ((const uint8_t *) t->data)[0] + ((const uint8_t *) t->data)[t->n_bytes - 1];
        }
        (void) sink;
}

static void check_case(const struct bcase *c) {
        struct gguf_file *f = NULL;
        struct vkinfer_err err = {{0}};
        /* An exact-size heap copy, so ASan catches a read one past the end. */
        uint8_t *copy = malloc(c->size ? c->size : 1);
        memcpy(copy, c->data, c->size);
        int r = gguf_open_memory(copy, c->size, &f, &err);
        if (!c->expect) {
                CHECK(r == 0, "%s: refused: %s", c->name, err.msg);
                if (r == 0)
                        walk(f);
        } else {
                CHECK(r < 0, "%s: accepted", c->name);
                CHECK(r < 0 && strstr(err.msg, c->expect), "%s: message '%s' lacks '%s'", c->name, err.msg, c->expect);
                CHECK(f == NULL, "%s: ret set on failure", c->name);
        }
        gguf_close(f);
        free(copy);
}

/* Every prefix must fail; every single-bit flip must fail with a message or
 * give a file whose every part can be walked. */
static void exhaustive(const uint8_t *b, size_t size, const struct layout *l) {
        for (size_t n = 0; n < l->data_end; n++) {
                struct gguf_file *f = NULL;
                struct vkinfer_err err = {{0}};
                uint8_t *copy = malloc(n ? n : 1);
                memcpy(copy, b, n);
                int r = gguf_open_memory(copy, n, &f, &err);
                CHECK(r < 0 && err.msg[0], "prefix of %zu bytes accepted or no message", n);
                gguf_close(f);
                free(copy);
        }
        size_t accepted = 0;
        for (size_t i = 0; i < l->data_offset; i++)
                for (int bit = 0; bit < 8; bit++) {
                        struct gguf_file *f = NULL;
                        struct vkinfer_err err = {{0}};
                        uint8_t *copy = malloc(size);
                        memcpy(copy, b, size);
                        copy[i] ^= (uint8_t) (1u << bit);
                        int r = gguf_open_memory(copy, size, &f, &err);
                        if (r == 0) {
                                accepted++;
                                walk(f);
                        } else
                                CHECK(err.msg[0], "flip of bit %d at %zu: no message", bit, i);
                        gguf_close(f);
                        free(copy);
                }
        /* Flips inside names and values are legitimately accepted; flips in
         * counts, lengths, types and offsets are not. */
        CHECK(accepted > 0 && accepted < l->data_offset * 8 / 2, "%zu of %zu flips accepted", accepted, l->data_offset * 8);
}

/* The committed corpus: valid-* must open, everything else must not. */
static void check_corpus(const char *dir) {
        DIR *d = opendir(dir);
        CHECK(d != NULL, "cannot open %s: %s", dir, strerror(errno));
        if (!d)
                return;
        size_t seen = 0;
        for (struct dirent *de; (de = readdir(d));) {
                size_t len = strlen(de->d_name);
                if (len < 5 || strcmp(de->d_name + len - 5, ".gguf") != 0)
                        continue;
                char path[2048];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                struct gguf_file *f = NULL;
                struct vkinfer_err err = {{0}};
                int r = gguf_open(path, &f, &err);
                bool valid = strncmp(de->d_name, "valid-", 6) == 0;
                CHECK(valid ? r == 0 : r < 0, "%s: %s", de->d_name, valid ? err.msg : "accepted");
                if (r == 0)
                        walk(f);
                gguf_close(f);
                seen++;
        }
        closedir(d);
        CHECK(seen + 1 >= n_cases, "corpus has %zu files for %zu cases: regenerate it (tests/data/README.md)", seen, n_cases);
}

static int write_cases(const char *dir) {
        for (size_t i = 0; i < n_cases; i++) {
                char path[2048];
                /* Broken ones are numbered; the valid ones keep their "valid-" prefix. */
                if (cases[i].expect)
                        snprintf(path, sizeof(path), "%.1000s/%03zu-%.64s.gguf", dir, i, cases[i].name);
                else
                        snprintf(path, sizeof(path), "%.1000s/%.64s.gguf", dir, cases[i].name);
                FILE *f = fopen(path, "wb");
                if (!f || fwrite(cases[i].data, 1, cases[i].size, f) != cases[i].size || fclose(f) != 0) {
                        fprintf(stderr, "cannot write %s\n", path);
                        return 1;
                }
        }
        fprintf(stderr, "wrote %zu files to %s\n", n_cases, dir);
        return 0;
}

int main(int argc, char **argv) {
        uint8_t *base, *deep4, *deep5, *longs;
        size_t size, size4, size5, size_longs;
        struct layout l;

        make_base(2, &base, &size);
        CHECK(size <= sizeof(scratch), "base of %zu bytes", size);
        locate(base, size, &l);
        add("valid-base", base, size, NULL);
        make_base(4, &deep4, &size4);
        add("valid-nested4", deep4, size4, NULL);
        make_long_arrays(&longs, &size_longs);
        add("valid-long-arrays", longs, size_longs, NULL);
        make_base(5, &deep5, &size5);
        add("nested-too-deep", deep5, size5, "key 'test.nested': arrays nested deeper than 4 levels");
        header_cases(base, size);
        kv_cases(base, size, &l);
        tensor_cases(base, size, &l);
        truncations(base, &l);

        int r = 0;
        if (argc == 3 && strcmp(argv[1], "--write") == 0)
                r = write_cases(argv[2]);
        else {
                for (size_t i = 0; i < n_cases; i++)
                        check_case(&cases[i]);
                exhaustive(base, size, &l);
                const char *data = getenv("VKINFER_TEST_DATA");
                CHECK(data != NULL, "VKINFER_TEST_DATA is not set: cannot check the committed corpus");
                if (data) {
                        char dir[1024];
                        snprintf(dir, sizeof(dir), "%s/gguf-broken", data);
                        check_corpus(dir);
                }
        }
        for (size_t i = 0; i < n_cases; i++)
                free(cases[i].data);
        free(base);
        free(deep4);
        free(deep5);
        free(longs);
        return r ? r : test_exit("gguf-broken");
}
