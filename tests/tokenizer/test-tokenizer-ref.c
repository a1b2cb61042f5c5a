/* Reference tokenizations made by the Hugging Face tokenizers: every case of
 * tests/data/vocab/NAME.gguf.{inp,out} and tests/data/tokenize/NAME.jsonl must
 * match exactly (no BOS; special tokens written in the jsonl texts are
 * matched). Usage: test-tokenizer-ref NAME (the vocab file's base name). */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "harness.h"
#include "tokenizer/tokenizer.h"

static int n_pass, n_total;

static void print_ids(const char *what, const int32_t *ids, size_t n) {
        fprintf(stderr, "  %s:", what);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %d", ids[i]);
        fputc('\n', stderr);
}

static void check_case(const struct tokenizer *t, const char *src, size_t idx, const char *text, size_t len,
                       bool parse_special, const int32_t *want, size_t n_want) {
        struct vkinfer_err err = {{0}};
        int32_t *ids = NULL;
        size_t n = 0;
        int r = tokenizer_encode(t, text, len, false, parse_special, &ids, &n, &err);
        n_total++;
        CHECK_OK(r, err);
        if (r < 0)
                return;
        bool same = n == n_want && (n == 0 || memcmp(ids, want, n * sizeof(*ids)) == 0);
        CHECK(same, "%s case %zu differs: \"%.*s\"", src, idx, (int) len, text);
        if (same)
                n_pass++;
        else {
                print_ids("got ", ids, n);
                print_ids("want", want, n_want);
        }
        free(ids);
}

/* .inp holds texts separated by "\n__ggml_vocab_test__\n"; .out one line
 * of ids per text. */
static void run_inp_out(const struct tokenizer *t, const char *dir, const char *name) {
        char path[1024];
        struct vkinfer_err err = {{0}};
        _cleanup_free_ char *inp = NULL, *outp = NULL;
        size_t inp_n, out_n;
        snprintf(path, sizeof(path), "%s/vocab/%s.gguf.inp", dir, name);
        if (read_file(path, &inp, &inp_n, &err) < 0)
                return; /* deepseek-v3 has no .inp pair */
        snprintf(path, sizeof(path), "%s/vocab/%s.gguf.out", dir, name);
        CHECK(read_file(path, &outp, &out_n, &err) == 0, "%s", err.msg);
        if (!outp)
                return;
        static const char sep[] = "\n__ggml_vocab_test__\n";
        const char *p = inp, *o = outp;
        size_t idx = 0;
        for (;;) {
                const char *e = strstr(p, sep);
                if (!e)
                        break;
                const char *oe = strchr(o, '\n');
                CHECK(oe != NULL, ".out has fewer lines than .inp has texts");
                if (!oe)
                        break;
                int32_t want[512];
                size_t nw = 0;
                for (const char *q = o; q < oe && nw < ELEMENTSOF(want);) {
                        char *end;
                        long v = strtol(q, &end, 10);
                        if (end == q)
                                break;
                        want[nw++] = (int32_t) v;
                        q = end;
                }
                check_case(t, ".inp", idx++, p, (size_t) (e - p), false, want, nw);
                p = e + strlen(sep);
                o = oe + 1;
        }
        CHECK(idx > 0, "no cases in %s.gguf.inp", name);
}

static void run_jsonl(const struct tokenizer *t, const char *dir, const char *name) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/tokenize/%s.jsonl", dir, name);
        FILE *f = fopen(path, "r");
        if (!f)
                return; /* only the three big vocabularies have one */
        char *line = NULL;
        size_t cap = 0, idx = 0;
        while (getline(&line, &cap, f) > 0) {
                json_error_t je;
                json_t *j = json_loads(line, JSON_ALLOW_NUL, &je);
                CHECK(j != NULL, "%s line %zu: %s", path, idx + 1, je.text);
                if (!j)
                        continue;
                json_t *text = json_object_get(j, "text"), *ids = json_object_get(j, "ids");
                CHECK(json_is_string(text) && json_is_array(ids), "%s line %zu: no text/ids", path, idx + 1);
                if (json_is_string(text) && json_is_array(ids)) {
                        size_t n = json_array_size(ids);
                        int32_t *want = calloc(n + 1, sizeof(*want));
                        for (size_t i = 0; i < n; i++)
                                want[i] = (int32_t) json_integer_value(json_array_get(ids, i));
                        check_case(t, ".jsonl", idx, json_string_value(text), json_string_length(text), true,
                                   want, n);
                        free(want);
                }
                json_decref(j);
                idx++;
        }
        free(line);
        fclose(f);
        CHECK(idx > 0, "no cases in %s", path);
}

int main(int argc, char **argv) {
        const char *dir = getenv("VKINFER_TEST_DATA");
        if (argc != 2 || !dir) {
                fprintf(stderr, "usage: VKINFER_TEST_DATA=DIR %s NAME\n", argv[0]);
                return 2;
        }
        char path[1024];
        snprintf(path, sizeof(path), "%s/vocab/%s.gguf", dir, argv[1]);
        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        struct tokenizer *t = NULL;
        int r = gguf_open(path, &f, &err);
        CHECK_OK(r, err);
        if (r >= 0) {
                r = tokenizer_new_from_gguf(f, &t, &err);
                CHECK_OK(r, err);
        }
        if (t) {
                run_inp_out(t, dir, argv[1]);
                run_jsonl(t, dir, argv[1]);
                CHECK(n_total > 0, "no reference cases for %s", argv[1]);
                fprintf(stderr, "%s: %d/%d reference cases match\n", argv[1], n_pass, n_total);
        }
        tokenizer_free(t);
        gguf_close(f);
        return test_exit("tokenizer-ref");
}
