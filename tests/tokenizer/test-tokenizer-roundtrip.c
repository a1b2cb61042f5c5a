/* decode(encode(s)) == s on every vocabulary, over emoji, CJK, code, runs of
 * whitespace and newlines, added tokens, NUL bytes, invalid UTF-8 and random
 * bytes (fixed seeds); and concurrent encodes from several threads give the
 * same ids as one thread. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "tokenizer/tokenizer.h"

static const char *const vocabs[] = {
        "deepseek-v3", "qwen2", "llama3", "ggml-vocab-deepseek-llm", "ggml-vocab-deepseek-coder",
        "ggml-vocab-gpt-2", "ggml-vocab-llama-spm",
};

#define S(x) {x, sizeof(x) - 1}
static const struct {
        const char *s;
        size_t n;
} texts[] = {
        S("Hello, world!"),
        S("   leading and trailing spaces   "),
        S("\n\n\nnewlines\r\n\r\nwindows\n \n\t\n"),
        S("\t\ttabs\t and  \u3000 ideographic space \xc2\x85 NEL \xc2\xa0 nbsp"),
        S("🦙🤗 emoji 👨\u200d👩\u200d👧 flags 🇫🇷 skin 👍🏽 keycap 1\ufe0f\u20e3"),
        S("日本語のテキストとカタカナ 中文混合English 한국어 텍스트"),
        S("Ελληνικά русский العربية עברית हिन्दी ไทย ខ្មែរ"),
        S("int main(void) {\n\treturn x**2 >= 0 && y != 1; // done\n}\n"),
        S("    def f(self):\n        return {'a': [1, 2, 3]}\n\n\n"),
        S("12345678901234567890 3.14159 1,000,000 ½ ⅞ ١٢٣"),
        S("I've been 'told' he's there, 'RE you sure? ''''```\"\"\"...!!!"),
        S("<|im_start|>user\nhi<|im_end|>\n<think>\nx\n</think>\n\n<｜User｜>y<｜Assistant｜>"),
        S("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nok<|eot_id|>"),
        S("<s>[INST] <<SYS>> sys <</SYS>> q [/INST] a </s>"),
        S("nul\0byte\0\0in\0the middle"),
        S("invalid: \xff \xfe \xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \x80\xbf lone"),
        S("truncated at the end \xe4\xb8"),
        S("\xf0\x9f\xa6"),
        S("\xe2\x96\x81 already escaped ▁▁ spaces"),
        S(" "),
        S("a"),
        S(""),
};

static struct tokenizer *load(const char *dir, const char *name, struct gguf_file **ret_f) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/vocab/%s.gguf", dir, name);
        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        struct tokenizer *t = NULL;
        int r = gguf_open(path, &f, &err);
        CHECK_OK(r, err);
        if (r < 0)
                return NULL;
        r = tokenizer_new_from_gguf(f, &t, &err);
        CHECK_OK(r, err);
        *ret_f = f;
        return t;
}

/* Whether s holds a byte that never occurs in UTF-8. */
static bool has_non_utf8_byte(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t) s[i];
                if (c == 0xc0 || c == 0xc1 || c >= 0xf5)
                        return true;
        }
        return false;
}

static void roundtrip(const struct tokenizer *t, const char *name, const char *s, size_t n) {
        struct vkinfer_err err = {{0}};
        bool spm = tokenizer_kind(t) == TOKENIZER_SPM;
        int32_t *ids = NULL;
        size_t k = 0;
        /* SentencePiece puts a space after every added token it splits out,
         * so only plain text round-trips there (as with HF). */
        /* A "▁" in the text is a space to SentencePiece (HF decodes it so too). */
        if (spm && memmem(s, n, "\xe2\x96\x81", 3))
                return;
        int r = tokenizer_encode(t, s, n, false, !spm, &ids, &k, &err);
        /* DeepSeek LLM/Coder have no token for such bytes: a clear refusal. */
        bool refusable = has_non_utf8_byte(s, n) && strstr(name, "ggml-vocab-deepseek-") != NULL;
        if (refusable && r == -EILSEQ) {
                CHECK(strstr(err.msg, "not valid UTF-8") != NULL, "%s: message: %s", name, err.msg);
                return;
        }
        CHECK(!refusable, "%s: a byte without a token was not refused", name);
        CHECK_OK(r, err);
        if (r < 0)
                return;
        CHECK(n == 0 || k > 0, "%s: no tokens for %zu bytes", name, n);
        for (size_t i = 0; i < k; i++)
                CHECK(ids[i] >= 0 && ids[i] < tokenizer_n_vocab(t), "%s: id %d out of range", name, ids[i]);
        char *out = NULL;
        size_t on = 0;
        r = tokenizer_decode_all(t, ids, k, TOKENIZER_DECODE_SPECIAL | TOKENIZER_DECODE_STRIP_LEADING_SPACE, &out,
                                 &on, &err);
        CHECK_OK(r, err);
        if (r >= 0)
                CHECK(on == n && memcmp(out, s, n) == 0, "%s: round trip of %zu bytes gave %zu: \"%.*s\" -> \"%.*s\"",
                      name, n, on, (int) n, s, (int) on, out);
        /* With BOS (and EOS) asked for: exactly what the model wants added,
         * around the same ids. */
        int32_t *ids2 = NULL;
        size_t k2 = 0;
        r = tokenizer_encode(t, s, n, true, !spm, &ids2, &k2, &err);
        CHECK_OK(r, err);
        if (r >= 0) {
                size_t pre = tokenizer_add_bos(t), post = tokenizer_add_eos(t);
                CHECK(k2 == k + pre + post && memcmp(ids2 + pre, ids, k * sizeof(*ids)) == 0,
                      "%s: add_bos changed the ids", name);
                if (pre)
                        CHECK(ids2[0] == tokenizer_bos(t), "%s: BOS missing", name);
                /* Decoded without special tokens the text is still the same. */
                free(out);
                out = NULL;
                r = tokenizer_decode_all(t, ids2, k2, TOKENIZER_DECODE_STRIP_LEADING_SPACE, &out, &on, &err);
                CHECK_OK(r, err);
                bool has_special = false;
                for (size_t i = 0; i < k; i++)
                        has_special |= tokenizer_is_special(t, ids[i]);
                if (r >= 0 && !has_special)
                        CHECK(on == n && memcmp(out, s, n) == 0, "%s: round trip (no special) of \"%.*s\" gave \"%.*s\"",
                              name, (int) n, s, (int) on, out);
        }
        free(ids2);
        free(ids);
        free(out);
}

/* Random text: pieces drawn from a pool of scripts, symbols and bytes. */
static size_t random_text(struct test_rng *rng, char *buf, size_t cap, bool bytes) {
        static const char *const pool[] = {
                "a", "Z", "q", " ", "  ", "\n", "\t", "\r\n", "0", "7", "'", "'s", "-", ".", "<", ">", "|",
                "é", "ß", "Ω", "ж", "中", "の", "カ", "한", "ก", "ខ្", "🦙", "👍🏽", "\u200d", "\u3000",
                "\xc2\x85", "\xc2\xa0", "<|im_end|>", "<think>", "<｜User｜>", "<s>", "▁",
        };
        size_t n = 0;
        while (n + 16 < cap) {
                uint64_t x = test_rng_next(rng);
                if (bytes && x % 5 == 0) {
                        buf[n++] = (char) (x >> 8);
                } else {
                        const char *p = pool[(x >> 8) % ELEMENTSOF(pool)];
                        size_t l = strlen(p);
                        memcpy(buf + n, p, l);
                        n += l;
                }
                if ((x >> 40) % 23 == 0)
                        break;
        }
        return n;
}

struct thread_job {
        const struct tokenizer *t;
        const char *text;
        size_t len;
        int32_t *ids;
        size_t n;
        int r;
};

static void *thread_main(void *p) {
        struct thread_job *j = p;
        for (int rep = 0; rep < 20 && j->r == 0; rep++) {
                free(j->ids);
                j->ids = NULL;
                j->r = tokenizer_encode(j->t, j->text, j->len, true, true, &j->ids, &j->n, NULL);
        }
        return NULL;
}

static void threads(const struct tokenizer *t, const char *name, const char *text, size_t len) {
        int32_t *ref = NULL;
        size_t nref = 0;
        CHECK(tokenizer_encode(t, text, len, true, true, &ref, &nref, NULL) == 0, "%s: encode", name);
        struct thread_job jobs[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
                jobs[i] = (struct thread_job) {.t = t, .text = text, .len = len};
                CHECK(pthread_create(&th[i], NULL, thread_main, &jobs[i]) == 0, "pthread_create");
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                CHECK(jobs[i].r == 0 && jobs[i].n == nref && memcmp(jobs[i].ids, ref, nref * sizeof(*ref)) == 0,
                      "%s: thread %d got different ids", name, i);
                free(jobs[i].ids);
        }
        free(ref);
}

int main(void) {
        const char *dir = getenv("VKINFER_TEST_DATA");
        if (!dir) {
                fprintf(stderr, "VKINFER_TEST_DATA is not set\n");
                return 2;
        }
        static char buf[1 << 16];
        for (size_t v = 0; v < ELEMENTSOF(vocabs); v++) {
                struct gguf_file *f = NULL;
                struct tokenizer *t = load(dir, vocabs[v], &f);
                if (!t) {
                        gguf_close(f);
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                        roundtrip(t, vocabs[v], texts[i].s, texts[i].n);
                struct test_rng rng = {0x9e3779b97f4a7c15ull + v};
                for (int i = 0; i < 200; i++) {
                        size_t n = random_text(&rng, buf, 512, i % 2);
                        roundtrip(t, vocabs[v], buf, n);
                }
                /* Long inputs: a 60 KiB mixed text and a long run of one character. */
                size_t n = 0;
                while (n < sizeof(buf) - 600)
                        n += random_text(&rng, buf + n, 512, false);
                roundtrip(t, vocabs[v], buf, n);
                threads(t, vocabs[v], buf, n);
                memset(buf, ' ', 20000);
                roundtrip(t, vocabs[v], buf, 20000);
                memset(buf, 'a', 20000);
                roundtrip(t, vocabs[v], buf, 20000);
                tokenizer_free(t);
                gguf_close(f);
        }
        return test_exit("tokenizer-roundtrip");
}
