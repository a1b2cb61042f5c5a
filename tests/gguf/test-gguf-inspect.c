/* Runs `vkinfer inspect` ($VKINFER_BIN) on the real vocab files and on a
 * small model written here, checking key lines of the text output and the
 * fields of --json, and that a broken file gives a non-zero exit with the
 * reader's message. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "harness.h"

/* Runs cmd (stdout and stderr together), returns its exit status and output. */
static int run(const char *cmd, char **ret_out) {
        FILE *p = popen(cmd, "r");
        if (!p)
                return -1;
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap + 1);
        for (;;) {
                size_t got = fread(buf + n, 1, cap - n, p);
                n += got;
                if (got == 0)
                        break;
                if (n == cap) {
                        cap *= 2;
                        buf = realloc(buf, cap + 1);
                }
        }
        buf[n] = 0;
        int st = pclose(p);
        *ret_out = buf;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int inspect(const char *bin, const char *file, const char *extra, char **out) {
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "'%s' inspect '%s' %s 2>&1", bin, file, extra);
        return run(cmd, out);
}

static void check_line(const char *out, const char *line) {
        char want[512];
        snprintf(want, sizeof(want), "\n%s\n", line);
        CHECK(strstr(out, want) != NULL, "missing line '%s' in:\n%s", line, out);
}

static json_t *inspect_json(const char *bin, const char *file) {
        char *out = NULL;
        int rc = inspect(bin, file, "--json", &out);
        CHECK(rc == 0, "inspect --json %s exited %d: %s", file, rc, out);
        json_error_t jerr;
        json_t *j = json_loads(out, 0, &jerr);
        CHECK(j != NULL, "inspect --json %s: not JSON (%s): %.300s", file, jerr.text, out);
        free(out);
        return j;
}

static json_int_t jint(json_t *root, const char *path) {
        /* path like "tokenizer.bos.id": object keys separated by '/' */
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", path);
        json_t *j = root;
        for (char *s = strtok(buf, "/"); s && j; s = strtok(NULL, "/"))
                j = json_object_get(j, s);
        return json_is_integer(j) ? json_integer_value(j) : -12345;
}

static const char *jstr(json_t *root, const char *path) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", path);
        json_t *j = root;
        for (char *s = strtok(buf, "/"); s && j; s = strtok(NULL, "/"))
                j = json_object_get(j, s);
        return json_is_string(j) ? json_string_value(j) : "(missing)";
}

static void test_deepseek_vocab(const char *bin, const char *data) {
        char path[1024], *out = NULL;
        snprintf(path, sizeof(path), "%s/vocab/deepseek-v3.gguf", data);
        int rc = inspect(bin, path, "", &out);
        CHECK(rc == 0, "exit %d: %s", rc, out);
        check_line(out, "architecture: deepseek2");
        check_line(out, "  model: gpt2");
        check_line(out, "  pre: deepseek-v3");
        check_line(out, "  vocab_size: 129280");
        check_line(out, "  add_bos: true");
        check_line(out, "  merges: 127741");
        check_line(out, "  bos: 0 \"<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>\"");
        check_line(out, "chat template: present, 2301 bytes, family deepseek-v3");
        check_line(out, "total: 0 tensors, 0 bytes");
        free(out);

        json_t *j = inspect_json(bin, path);
        CHECK(strcmp(jstr(j, "architecture"), "deepseek2") == 0, "architecture %s", jstr(j, "architecture"));
        CHECK(jint(j, "version") == 3, "version");
        CHECK(jint(j, "tokenizer/vocab_size") == 129280, "vocab_size");
        CHECK(jint(j, "tokenizer/merges") == 127741, "merges");
        CHECK(jint(j, "tokenizer/bos/id") == 0 && jint(j, "tokenizer/eos/id") == 1, "bos/eos");
        CHECK(json_is_true(json_object_get(json_object_get(j, "tokenizer"), "add_bos")), "add_bos");
        CHECK(strcmp(jstr(j, "tokenizer/pre"), "deepseek-v3") == 0, "pre");
        CHECK(json_is_true(json_object_get(json_object_get(j, "chat_template"), "present")) &&
              jint(j, "chat_template/length") == 2301, "chat template");
        CHECK(json_array_size(json_object_get(j, "tensors")) == 0 && jint(j, "totals/count") == 0, "no tensors");
        json_decref(j);
}

static void test_gpt2_vocab(const char *bin, const char *data) {
        char path[1024], *out = NULL;
        snprintf(path, sizeof(path), "%s/vocab/ggml-vocab-gpt-2.gguf", data);
        int rc = inspect(bin, path, "", &out);
        CHECK(rc == 0, "exit %d: %s", rc, out);
        check_line(out, "architecture: gpt2");
        check_line(out, "  gpt2.block_count = 12");
        check_line(out, "  gpt2.embedding_length = 768");
        check_line(out, "  gpt2.attention.layer_norm_epsilon = 1e-5");
        check_line(out, "  pre: gpt-2");
        check_line(out, "  vocab_size: 50257");
        check_line(out, "  merges: 50000");
        check_line(out, "  eos: 50256 \"<|endoftext|>\"");
        check_line(out, "chat template: absent");
        free(out);

        json_t *j = inspect_json(bin, path);
        CHECK(jint(j, "hyperparameters/gpt2.context_length") == 1024, "context_length");
        CHECK(jint(j, "hyperparameters/gpt2.attention.head_count") == 12, "head_count");
        CHECK(jint(j, "tokenizer/eos/id") == 50256, "eos");
        CHECK(strcmp(jstr(j, "tokenizer/eos/text"), "<|endoftext|>") == 0, "eos text");
        CHECK(!json_is_true(json_object_get(json_object_get(j, "chat_template"), "present")), "no template");
        json_decref(j);
}

/* A small DeepSeek-like model with tensors of three types, odd shapes
 * included, an array hyperparameter and a chat template. */
static void test_model(const char *bin, const char *dir) {
        struct gguf_writer *w = gguf_writer_new();
        char path[1024], *out = NULL;
        struct vkinfer_err err = {{0}};
        const char *toks[] = {"<s>", "</s>", "a", "b"};
        const char *merges[] = {"a b"};
        uint32_t layer_ffn[3] = {5, 7, 9};
        gguf_writer_set_str(w, "general.architecture", "deepseek2");
        gguf_writer_set_str(w, "general.name", "tiny \xff invalid utf8");
        gguf_writer_set_u32(w, "deepseek2.block_count", 3);
        gguf_writer_set_f32(w, "deepseek2.rope.freq_base", 10000.0f);
        gguf_writer_set_arr(w, "deepseek2.feed_forward_length", GGUF_TYPE_UINT32, layer_ffn, 3);
        uint32_t long_arr[100] = {0};
        gguf_writer_set_arr(w, "deepseek2.long", GGUF_TYPE_UINT32, long_arr, 100);
        float eps = 1e-6f;
        gguf_writer_set_arr(w, "deepseek2.eps", GGUF_TYPE_FLOAT32, &eps, 1);
        gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 1);
        gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0);
        gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 1);
        gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 77); /* out of range: id only */
        gguf_writer_set_str(w, "tokenizer.chat_template", "{{'<|im_start|>' + m}}");
        static uint8_t zeros[4096];
        uint64_t ne_a[2] = {7, 3}, ne_b[1] = {64}, ne_c[3] = {32, 2, 5};
        gguf_writer_add_tensor(w, "token_embd.weight", GGML_TYPE_F32, 2, ne_a, zeros, 7 * 3 * 4);
        gguf_writer_add_tensor(w, "output_norm.weight", GGML_TYPE_F16, 1, ne_b, zeros, 64 * 2);
        gguf_writer_add_tensor(w, "blk.0.ffn_down_exps.weight", GGML_TYPE_Q8_0, 3, ne_c, zeros, 10 * 34);
        snprintf(path, sizeof(path), "%s/tiny.gguf", dir);
        int r = gguf_writer_write_file(w, path, &err);
        CHECK_OK(r, err);
        gguf_writer_free(w);

        int rc = inspect(bin, path, "", &out);
        CHECK(rc == 0, "exit %d: %s", rc, out);
        check_line(out, "  deepseek2.block_count = 3");
        check_line(out, "  deepseek2.long = [100 x u32]");
        check_line(out, "  deepseek2.eps = [1e-6]");
        check_line(out, "  deepseek2.feed_forward_length = [5,7,9]");
        check_line(out, "  deepseek2.rope.freq_base = 10000.0");
        check_line(out, "  general.name = \"tiny \xef\xbf\xbd invalid utf8\"");
        check_line(out, "  vocab_size: 4");
        check_line(out, "  pad: 77");
        check_line(out, "chat template: present, 22 bytes, family unknown"); /* too little to recognise */
        CHECK(strstr(out, "blk.0.ffn_down_exps.weight") && strstr(out, "[32, 2, 5]"), "tensor row:\n%s", out);
        check_line(out, "total: 3 tensors, 552 bytes");
        free(out);

        json_t *j = inspect_json(bin, path);
        json_t *ts = json_object_get(j, "tensors");
        CHECK(json_array_size(ts) == 3, "3 tensors");
        json_t *t0 = json_array_get(ts, 0), *t2 = json_array_get(ts, 2);
        CHECK(strcmp(jstr(t0, "type"), "F32") == 0 && jint(t0, "bytes") == 84 &&
              json_array_size(json_object_get(t0, "shape")) == 2 &&
              json_integer_value(json_array_get(json_object_get(t0, "shape"), 0)) == 7, "tensor 0");
        CHECK(strcmp(jstr(t2, "type"), "Q8_0") == 0 && jint(t2, "bytes") == 340 && jint(t2, "offset") == 224,
              "tensor 2: offset %lld", (long long) jint(t2, "offset"));
        CHECK(jint(j, "totals/count") == 3 && jint(j, "totals/bytes") == 552, "totals");
        CHECK(jint(j, "totals/per_type/F16/bytes") == 128 && jint(j, "totals/per_type/Q8_0/count") == 1, "per type");
        CHECK(json_array_size(json_object_get(json_object_get(j, "hyperparameters"), "deepseek2.feed_forward_length")) == 3,
              "array hparam");
        CHECK(strcmp(jstr(j, "chat_template/family"), "unknown") == 0, "family");
        CHECK(jint(j, "hyperparameters/deepseek2.long/count") == 100 &&
              strcmp(jstr(j, "hyperparameters/deepseek2.long/array"), "u32") == 0, "long array summary");
        json_decref(j);

        /* Broken: cut inside the tensor data. The reader's message comes out. */
        FILE *f = fopen(path, "r+b");
        long size = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        CHECK(f && size > 20 && ftruncate(fileno(f), size - 20) == 0, "truncate");
        if (f)
                fclose(f);
        rc = inspect(bin, path, "", &out);
        CHECK(rc == 1 && strstr(out, "runs past the end of the file") && strstr(out, "vkinfer inspect: "),
              "broken file: exit %d: %s", rc, out);
        free(out);
        rc = inspect(bin, path, "--json", &out);
        CHECK(rc == 1 && strstr(out, "runs past the end of the file") && !strchr(out, '{'), "broken --json: %d %s", rc, out);
        free(out);
        unlink(path);
}

int main(void) {
        const char *bin = getenv("VKINFER_BIN"), *data = getenv("VKINFER_TEST_DATA");
        if (!bin || !data) {
                fprintf(stderr, "VKINFER_BIN and VKINFER_TEST_DATA must be set (run through meson test)\n");
                return TEST_SKIP;
        }
        char dir[] = "/tmp/vkinfer-inspect-XXXXXX";
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_deepseek_vocab(bin, data);
        test_gpt2_vocab(bin, data);
        test_model(bin, dir);

        char *out = NULL;
        int rc = inspect(bin, "/nonexistent/x.gguf", "", &out);
        CHECK(rc == 1 && strstr(out, "No such file"), "missing file: %d %s", rc, out);
        free(out);
        rc = inspect(bin, dir, "--bogus", &out);
        CHECK(rc == 2 && strstr(out, "--bogus"), "bad option: %d %s", rc, out);
        free(out);
        rc = inspect(bin, dir, "", &out);
        CHECK(rc == 1 && strstr(out, "not a regular file"), "directory: %d %s", rc, out);
        free(out);
        rmdir(dir);
        return test_exit("gguf-inspect");
}
