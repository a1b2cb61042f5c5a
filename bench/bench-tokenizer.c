/* Tokenizer speed on one core: encodes prompt-sized documents of mixed text
 * (English, code, CJK, Cyrillic, Arabic, emoji, whitespace runs, special
 * tokens: every text of the tokenize/ jsonl files and an .inp file,
 * shuffled with a fixed seed) and prints MB/s and tokens/s per vocabulary,
 * measured in thread CPU time. Goal: >= 5 MB/s.
 *
 * Usage: bench-tokenizer [DATA_DIR [MB [VOCAB...]]]
 * (DATA_DIR defaults to $VKINFER_TEST_DATA; MB of text per vocabulary, 8.) */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tokenizer/tokenizer.h"

struct corpus {
        char **texts;
        size_t *lens;
        size_t n, cap;
};

static void add_text(struct corpus *c, const char *s, size_t n) {
        if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 256;
                c->texts = realloc(c->texts, c->cap * sizeof(*c->texts));
                c->lens = realloc(c->lens, c->cap * sizeof(*c->lens));
                if (!c->texts || !c->lens)
                        abort();
        }
        c->texts[c->n] = malloc(n + 1);
        if (!c->texts[c->n])
                abort();
        memcpy(c->texts[c->n], s, n);
        c->lens[c->n++] = n;
}

static void load_corpus(struct corpus *c, const char *dir) {
        static const char *const names[] = {"deepseek-v3", "qwen2", "llama3"};
        char path[1024];
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/tokenize/%s.jsonl", dir, names[i]);
                FILE *f = fopen(path, "r");
                if (!f)
                        continue;
                char *line = NULL;
                size_t cap = 0;
                while (getline(&line, &cap, f) > 0) {
                        json_t *j = json_loads(line, JSON_ALLOW_NUL, NULL);
                        json_t *t = j ? json_object_get(j, "text") : NULL;
                        if (json_is_string(t) && json_string_length(t))
                                add_text(c, json_string_value(t), json_string_length(t));
                        json_decref(j);
                }
                free(line);
                fclose(f);
        }
        snprintf(path, sizeof(path), "%s/vocab/llama3.gguf.inp", dir);
        struct vkinfer_err err;
        char *inp = NULL;
        if (read_file(path, &inp, NULL, &err) == 0) {
                const char *sep = "\n__ggml_vocab_test__\n";
                for (char *p = inp, *e; (e = strstr(p, sep)); p = e + strlen(sep))
                        if (e > p)
                                add_text(c, p, (size_t) (e - p));
                free(inp);
        }
}

/* Documents of about 4 KiB, drawn from the texts in a fixed random order. */
static char *make_docs(const struct corpus *c, size_t total, size_t **ret_ends, size_t *ret_n) {
        char *buf = malloc(total + 8192);
        size_t *ends = malloc((total / 1024 + 16) * sizeof(*ends));
        if (!buf || !ends)
                abort();
        size_t n = 0, nd = 0, doc = 0;
        unsigned long long s = 88172645463325252ull;
        while (n < total) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                size_t i = s % c->n;
                memcpy(buf + n, c->texts[i], c->lens[i]);
                n += c->lens[i];
                buf[n++] = (s >> 32) % 3 ? ' ' : '\n';
                if (n - doc >= 4096) {
                        ends[nd++] = n;
                        doc = n;
                }
        }
        if (doc < n)
                ends[nd++] = n;
        *ret_ends = ends;
        *ret_n = nd;
        return buf;
}

static double cpu_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
        const char *dir = argc > 1 ? argv[1] : getenv("VKINFER_TEST_DATA");
        double mb = argc > 2 ? atof(argv[2]) : 8.0;
        static const char *const def_vocabs[] = {"deepseek-v3", "qwen2", "llama3", "ggml-vocab-llama-spm"};
        const char *const *vocabs = argc > 3 ? (const char *const *) argv + 3 : def_vocabs;
        size_t n_vocabs = argc > 3 ? (size_t) argc - 3 : 4;
        if (!dir || mb <= 0) {
                fprintf(stderr, "usage: %s [DATA_DIR [MB [VOCAB...]]]\n", argv[0]);
                return 2;
        }
        struct corpus c = {0};
        load_corpus(&c, dir);
        if (c.n == 0) {
                fprintf(stderr, "no texts under %s/tokenize\n", dir);
                return 1;
        }
        size_t *ends, nd;
        size_t total = (size_t) (mb * 1e6);
        char *docs = make_docs(&c, total, &ends, &nd);
        int failed = 0;
        for (size_t v = 0; v < n_vocabs; v++) {
                char path[1024];
                snprintf(path, sizeof(path), "%s/vocab/%s.gguf", dir, vocabs[v]);
                struct vkinfer_err err = {{0}};
                struct gguf_file *f = NULL;
                struct tokenizer *t = NULL;
                double t0 = cpu_seconds();
                if (gguf_open(path, &f, &err) < 0 || tokenizer_new_from_gguf(f, &t, &err) < 0) {
                        fprintf(stderr, "%s: %s\n", vocabs[v], err.msg);
                        gguf_close(f);
                        failed = 1;
                        continue;
                }
                double load_s = cpu_seconds() - t0;
                size_t bytes = 0, tokens = 0, start = 0;
                t0 = cpu_seconds();
                for (size_t d = 0; d < nd; d++) {
                        int32_t *ids;
                        size_t n;
                        if (tokenizer_encode(t, docs + start, ends[d] - start, true, true, &ids, &n, &err) < 0) {
                                fprintf(stderr, "%s: %s\n", vocabs[v], err.msg);
                                failed = 1;
                                break;
                        }
                        free(ids);
                        bytes += ends[d] - start;
                        tokens += n;
                        start = ends[d];
                }
                double s = cpu_seconds() - t0;
                printf("%-24s %6.2f MB in %6.3f s: %6.2f MB/s, %5.2f Mtok/s, %.2f bytes/token (load %.0f ms)\n",
                       vocabs[v], bytes / 1e6, s, bytes / 1e6 / s, tokens / 1e6 / s, (double) bytes / (double) tokens,
                       load_s * 1e3);
                tokenizer_free(t);
                gguf_close(f);
        }
        free(docs);
        free(ends);
        for (size_t i = 0; i < c.n; i++)
                free(c.texts[i]);
        free(c.texts);
        free(c.lens);
        return failed;
}
