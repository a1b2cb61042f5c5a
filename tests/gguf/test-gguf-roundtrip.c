/* Writes a GGUF file with every value type and a few tensors, reads it back
 * and checks every value and tensor byte. */
#include <errno.h>
#include <string.h>

#include "gguf/gguf.h"
#include "harness.h"

int main(void) {
        struct gguf_writer *w = gguf_writer_new();
        struct vkinfer_err err = {{0}};
        const char *strs[] = {"a", "", "hello world"};
        float fs[] = {1.5f, -2.0f, 3.25f};
        int32_t is[] = {-1, 0, 7};
        gguf_writer_set_str(w, "general.architecture", "deepseek2");
        gguf_writer_set_u32(w, "deepseek2.block_count", 3);
        gguf_writer_set_f32(w, "deepseek2.rope.freq_base", 10000.0f);
        gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, 3);
        gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, fs, 3);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, is, 3);
        float t0[64];
        for (int i = 0; i < 64; i++)
                t0[i] = (float) i * 0.5f;
        uint64_t ne0[2] = {16, 4};
        gguf_writer_add_tensor(w, "token_embd.weight", GGML_TYPE_F32, 2, ne0, t0, sizeof(t0));
        uint8_t q[34 * 2];
        for (size_t i = 0; i < sizeof(q); i++)
                q[i] = (uint8_t) i;
        uint64_t ne1[1] = {64};
        gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", GGML_TYPE_Q8_0, 1, ne1, q, sizeof(q));

        /* The writer refuses what the reader would refuse. */
        uint64_t ne_bad[2] = {16, 0};
        CHECK(gguf_writer_add_tensor(w, "token_embd.weight", GGML_TYPE_F32, 2, ne0, t0, sizeof(t0)) == -EEXIST, "duplicate");
        CHECK(gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 2, ne0, t0, sizeof(t0) - 4) == -EINVAL, "size mismatch");
        CHECK(gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 2, ne_bad, t0, 0) == -EINVAL, "zero dimension");
        CHECK(gguf_writer_add_tensor(w, "x", GGML_TYPE_Q8_0, 1, (uint64_t[]){33}, q, 34) == -EINVAL, "partial block");
        CHECK(gguf_writer_add_tensor(w, "x", 31, 1, ne1, q, sizeof(q)) == -EINVAL, "retired type");
        CHECK(gguf_writer_add_tensor(w, "", GGML_TYPE_Q8_0, 1, ne1, q, sizeof(q)) == -EINVAL, "empty name");
        CHECK(gguf_writer_add_tensor(w, "x", GGML_TYPE_Q8_0, 5, ne1, q, sizeof(q)) == -EINVAL, "5 dims");

        uint8_t *data;
        size_t size;
        CHECK(gguf_writer_to_memory(w, &data, &size) == 0, "serialize");
        gguf_writer_free(w);

        struct gguf_file *f = NULL;
        int r = gguf_open_memory(data, size, &f, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return test_exit("gguf-roundtrip");
        CHECK(f->version == 3, "version %u", f->version);
        struct gguf_str s;
        CHECK(gguf_get_str(f, "general.architecture", &s, &err) == 0 && gguf_str_eq(s, "deepseek2"), "arch");
        uint32_t u;
        CHECK(gguf_get_u32(f, "deepseek2.block_count", &u, &err) == 0 && u == 3, "block_count");
        float fl;
        CHECK(gguf_get_f32(f, "deepseek2.rope.freq_base", &fl, &err) == 0 && fl == 10000.0f, "freq_base");
        bool b;
        CHECK(gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b, &err) == 0 && b, "add_bos");
        CHECK(gguf_get_u32(f, "missing.key", &u, &err) == -ENOENT, "missing key");
        CHECK(gguf_get_u32(f, "general.architecture", &u, &err) == -EINVAL, "type mismatch");
        const struct gguf_value *arr;
        CHECK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &arr, &err) == 0 && arr->arr.n == 3 &&
              gguf_str_eq(arr->arr.strs[2], "hello world") && arr->arr.strs[1].len == 0, "string array");
        CHECK(gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, &arr, &err) == 0 &&
              gguf_arr_get_f64(arr, 2) == 3.25, "float array");
        CHECK(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &arr, &err) == 0 &&
              gguf_arr_get_i64(arr, 0) == -1, "int array");
        const struct gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
        CHECK(t && t->ne[0] == 16 && t->ne[1] == 4 && t->type == GGML_TYPE_F32 && t->n_bytes == sizeof(t0) &&
              memcmp(t->data, t0, sizeof(t0)) == 0, "f32 tensor");
        t = gguf_find_tensor(f, "blk.0.attn_norm.weight");
        CHECK(t && t->n_bytes == sizeof(q) && memcmp(t->data, q, sizeof(q)) == 0 &&
              ((uintptr_t) ((const uint8_t *) t->data - data)) % 32 == 0, "q8_0 tensor aligned");
        /* The padding after the last tensor is optional; everything before it is not. */
        size_t needed = (size_t) ((const uint8_t *) t->data - data) + t->n_bytes;
        gguf_close(f);

        /* Every truncation of the file must fail cleanly. */
        for (size_t n = 0; n < needed; n++) {
                struct gguf_file *g = NULL;
                uint8_t *copy = malloc(n ? n : 1);
                memcpy(copy, data, n);
                r = gguf_open_memory(copy, n, &g, &err);
                CHECK(r < 0, "truncated to %zu bytes was accepted", n);
                gguf_close(g);
                free(copy);
        }
        free(data);
        return test_exit("gguf-roundtrip");
}
