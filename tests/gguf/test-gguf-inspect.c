/* Runs `vkinfer inspect` ($VKINFER_BIN) on the real vocab files and on a
 * small model written here, checking key lines of the text output and the
 * fields of --json, and that a broken file gives a non-zero exit with the
 * reader's message; then on the demo model as llama-quantize made it in 8
 * presets (tests/data/quants/), where the preset and the count of tensors
 * per type must be llama.cpp's. */
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
        /* No general.file_type: llama.cpp guesses from the most common type,
         * ties going to the first in its order (by layer, then by name):
         * output_norm (F16) comes before token_embd (F32) and blk.0. */
        check_line(out, "file type: (guessed) F16 (no general.file_type: llama.cpp's guess from the most common tensor type)");
        CHECK(strstr(out, "\n  - type  f32:    1 tensors, 84 bytes\n  - type  f16:    1 tensors, 128 bytes\n"
                          "  - type q8_0:    1 tensors, 340 bytes\n"), "type counts:\n%s", out);
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
        CHECK(strcmp(jstr(j, "totals/per_type/Q8_0/ggml_name"), "q8_0") == 0, "ggml name");
        CHECK(json_is_true(json_object_get(json_object_get(j, "file_type"), "guessed")) && jint(j, "file_type/id") == 1 &&
              strcmp(jstr(j, "file_type/preset"), "F16") == 0 && strcmp(jstr(j, "file_type/name"), "(guessed) F16") == 0,
              "guessed file type");
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

/* What llama.cpp refuses, the writer does not write (so inspect never
 * meets it from us): an empty key, a general.alignment that is not a u32
 * power of two, a tensor name of 64 bytes; and in a file, well-known keys
 * of another type than llama.cpp reads and nested arrays. Then
 * general.file_type as an i32, written anyway: inspect says why llama.cpp
 * would fail on it. */
static void test_llama_refusals(const char *bin, const char *dir) {
        struct gguf_writer *w = gguf_writer_new();
        struct vkinfer_err err = {{0}};
        char path[1024], *out = NULL;
        static const uint8_t zeros[16];
        uint64_t ne = 4;
        CHECK(gguf_writer_set_u32(w, "", 1) == -EINVAL, "empty key");
        CHECK(gguf_writer_set_u32(w, "general.alignment", 48) == -EINVAL &&
              gguf_writer_set_u32(w, "general.alignment", 0) == -EINVAL &&
              gguf_writer_set_i32(w, "general.alignment", 32) == -EINVAL &&
              gguf_writer_set_u32(w, "general.alignment", 64) == 0, "alignment");
        CHECK(gguf_writer_add_tensor(w, "n234567890123456789012345678901234567890123456789012345678901234",
                                     GGML_TYPE_F32, 1, &ne, zeros, 16) == -EINVAL &&
              gguf_writer_add_tensor(w, "n23456789012345678901234567890123456789012345678901234567890123",
                                     GGML_TYPE_F32, 1, &ne, zeros, 16) == 0, "tensor name of 64 / 63 bytes");
        snprintf(path, sizeof(path), "%s/refused.gguf", dir);
        uint8_t nested[4 + 8 + 4 + 8] = {GGUF_TYPE_ARRAY, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, GGUF_TYPE_UINT8};
        gguf_writer_set_raw(w, "x.nested", GGUF_TYPE_ARRAY, nested, sizeof(nested));
        int r = gguf_writer_write_file(w, path, &err);
        CHECK(r == -EINVAL && strstr(err.msg, "x.nested") && strstr(err.msg, "nested"), "nested: %d %s", r, err.msg);
        gguf_writer_free(w);
        w = gguf_writer_new();
        gguf_writer_set_i32(w, "tokenizer.ggml.padding_token_id", -1);
        r = gguf_writer_write_file(w, path, &err);
        CHECK(r == -EINVAL && strstr(err.msg, "'tokenizer.ggml.padding_token_id' is i32; llama.cpp reads it as u32"),
              "pad id: %d %s", r, err.msg);
        gguf_writer_free(w);
        w = gguf_writer_new();
        uint32_t types[2] = {1, 3};
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_UINT32, types, 2);
        r = gguf_writer_write_file(w, path, &err);
        CHECK(r == -EINVAL && strstr(err.msg, "is an array of u32; llama.cpp reads it as an array of i32"),
              "token_type: %d %s", r, err.msg);
        gguf_writer_free(w);

        w = gguf_writer_new();
        gguf_writer_set_str(w, "general.architecture", "llama");
        gguf_writer_set_i32(w, "general.file_type", 15);
        snprintf(path, sizeof(path), "%s/ftype-i32.gguf", dir);
        r = gguf_writer_write_file(w, path, &err);
        CHECK(r == -EINVAL && strstr(err.msg, "general.file_type") && strstr(err.msg, "u32"), "write_file: %d %s", r,
              err.msg);
        uint8_t *data = NULL;
        size_t size = 0;
        CHECK(gguf_writer_to_memory(w, &data, &size) == 0, "to_memory"); /* images for reader tests may be foreign */
        gguf_writer_free(w);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0, "write %s", path);
        free(data);
        int rc = inspect(bin, path, "", &out);
        CHECK(rc == 0, "exit %d: %s", rc, out);
        check_line(out, "file type: (none) general.file_type is i32; llama.cpp reads it as u32 and refuses the file");
        free(out);
        json_t *j = inspect_json(bin, path);
        CHECK(strstr(jstr(j, "file_type/error"), "refuses") != NULL, "file_type error");
        json_decref(j);
        unlink(path);
}

/* The tensor types and counts tests/data/quants/ppl-llama-cpp.tsv gives for
 * preset ("F32:23 Q4_K:24 ..."); NULL when the row is missing. */
static char *tsv_types(const char *tsv, const char *preset) {
        size_t n = strlen(preset);
        for (const char *line = tsv; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, preset, n) != 0 || line[n] != '\t')
                        continue;
                const char *col = line;
                for (int i = 0; i < 3 && col; i++)
                        col = strchr(col + 1, '\t');
                if (!col)
                        return NULL;
                col++;
                return strndup(col, strcspn(col, "\r\n"));
        }
        return NULL;
}

/* The demo model in 8 presets made by llama-quantize: file type and type
 * counts as llama.cpp gives them. Names: what llama.cpp d32676d prints for
 * these files ("print_info: file type   = Q4_K - Medium"). */
static void test_presets(const char *bin, const char *data) {
        static const struct {
                const char *preset, *name;
        } presets[] = {
                {"Q4_K_M", "Q4_K - Medium"}, {"Q5_K_M", "Q5_K - Medium"},
                {"Q3_K_M", "Q3_K - Medium"}, {"Q2_K", "Q2_K - Medium"},
                {"Q4_1", "Q4_1"}, {"IQ4_XS", "IQ4_XS - 4.25 bpw"},
                {"IQ2_XXS", "IQ2_XXS - 2.0625 bpw"}, {"IQ1_S", "IQ1_S - 1.5625 bpw"},
        };
        char path[1024];
        struct vkinfer_err err = {{0}};
        char *tsv = NULL;
        snprintf(path, sizeof(path), "%s/quants/ppl-llama-cpp.tsv", data);
        int r = read_file(path, &tsv, NULL, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return;
        for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
                const char *preset = presets[i].preset;
                char *types = tsv_types(tsv, preset), *out = NULL;
                CHECK(types != NULL, "%s: no row in %s", preset, path);
                snprintf(path, sizeof(path), "%s/quants/demo-%s.gguf", data, preset);
                json_t *j = types ? inspect_json(bin, path) : NULL;
                if (!j) {
                        free(types);
                        continue;
                }
                CHECK(strcmp(jstr(j, "file_type/preset"), preset) == 0 && strcmp(jstr(j, "file_type/name"), presets[i].name) == 0 &&
                      !json_is_true(json_object_get(json_object_get(j, "file_type"), "guessed")),
                      "%s: file type %s \"%s\"", preset, jstr(j, "file_type/preset"), jstr(j, "file_type/name"));
                /* Every type of the row with its count, and no other. */
                json_t *per_type = json_object_get(json_object_get(j, "totals"), "per_type");
                size_t n_types = 0;
                json_int_t n_tensors = 0;
                for (char *save = NULL, *tok = strtok_r(types, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                        char *colon = strchr(tok, ':');
                        CHECK(colon != NULL, "%s: bad entry '%s' in the tsv", preset, tok);
                        if (!colon)
                                continue;
                        *colon = 0;
                        long want = strtol(colon + 1, NULL, 10);
                        json_int_t got = json_integer_value(json_object_get(json_object_get(per_type, tok), "count"));
                        CHECK(got == want, "%s: %lld %s tensors, llama-quantize wrote %ld", preset, (long long) got, tok, want);
                        n_types++;
                        n_tensors += want;
                }
                CHECK(json_object_size(per_type) == n_types && jint(j, "totals/count") == n_tensors,
                      "%s: %zu types, %lld tensors; the tsv has %zu, %lld", preset, json_object_size(per_type),
                      (long long) jint(j, "totals/count"), n_types, (long long) n_tensors);
                json_decref(j);
                free(types);

                /* The text as llama.cpp prints it. */
                int rc = inspect(bin, path, "", &out);
                char want[160];
                snprintf(want, sizeof(want), "\nfile type: %s (general.file_type = ", presets[i].name);
                CHECK(rc == 0 && strstr(out, want), "%s: exit %d, no '%s' in:\n%s", preset, rc, want + 1, out);
                if (strcmp(preset, "Q3_K_M") == 0) /* llama.cpp's loader prints exactly these, in this order */
                        CHECK(strstr(out, "\n  - type  f32:   23 tensors, ") && strstr(out, "\n  - type q4_0:   12 tensors, ") &&
                              strstr(out, "\n  - type q5_0:    6 tensors, ") && strstr(out, "\n  - type q5_1:    4 tensors, ") &&
                              strstr(out, "\n  - type q3_K:   23 tensors, ") && strstr(out, "\n  - type q4_K:    1 tensors, ") &&
                              strstr(out, "\n  - type q6_K:    1 tensors, ") &&
                              strstr(out, "- type  f32") < strstr(out, "- type q4_0") &&
                              strstr(out, "- type q5_1") < strstr(out, "- type q3_K") &&
                              strstr(out, "- type q4_K") < strstr(out, "- type q6_K"),
                              "Q3_K_M type lines:\n%s", out);
                free(out);
        }
        free(tsv);
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
        test_llama_refusals(bin, dir);
        test_presets(bin, data);

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
