/* The streaming decoder (split UTF-8 held back, flush, invalid bytes, special
 * tokens, SentencePiece's leading space), the vocabulary facts of the real
 * vocabularies (BOS/EOS/EOG...), and tokenizers built from small synthetic
 * GGUF files: merge order, ignore_merges, and every load error. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "tokenizer/tokenizer.h"

static struct tokenizer *load(const char *name, struct gguf_file **ret_f) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/vocab/%s.gguf", getenv("VKINFER_TEST_DATA"), name);
        struct vkinfer_err err = {{0}};
        struct gguf_file *f = NULL;
        struct tokenizer *t = NULL;
        int r = gguf_open(path, &f, &err);
        CHECK_OK(r, err);
        if (r >= 0) {
                r = tokenizer_new_from_gguf(f, &t, &err);
                CHECK_OK(r, err);
        }
        *ret_f = f;
        return t;
}

static bool valid_utf8(const char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                uint8_t c = (uint8_t) s[i];
                size_t l = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
                if (!l || i + l > n)
                        return false;
                for (size_t j = 1; j < l; j++)
                        if (((uint8_t) s[i + j] & 0xc0) != 0x80)
                                return false;
                i += l;
        }
        return true;
}

/* Streams the tokens of text one by one: every chunk is whole UTF-8, the
 * chunks add up to the text. Returns how many pushes held bytes back. */
static int stream(const struct tokenizer *t, const char *name, const char *text) {
        struct vkinfer_err err = {{0}};
        int32_t *ids = NULL;
        size_t n = 0, len = strlen(text);
        int held = 0;
        CHECK(tokenizer_encode(t, text, len, false, true, &ids, &n, &err) == 0, "%s: %s", name, err.msg);
        struct tokenizer_decoder *d = NULL;
        CHECK(tokenizer_decoder_new(t, TOKENIZER_DECODE_SPECIAL | TOKENIZER_DECODE_STRIP_LEADING_SPACE, &d) == 0,
              "decoder_new");
        char out[4096];
        size_t on = 0, pieces = 0;
        for (size_t i = 0; i < n && d; i++) {
                const char *s;
                size_t sl, pl;
                CHECK(tokenizer_decoder_push(d, ids[i], &s, &sl, &err) == 0, "%s: push: %s", name, err.msg);
                CHECK(valid_utf8(s, sl), "%s: chunk %zu is not whole UTF-8", name, i);
                CHECK(strlen(s) == sl || memchr(s, 0, sl), "%s: chunk not NUL-terminated", name);
                tokenizer_token_piece(t, ids[i], &pl);
                pieces += pl;
                if (on + sl < pieces)
                        held++;
                if (on + sl <= sizeof(out)) {
                        memcpy(out + on, s, sl);
                        on += sl;
                }
        }
        const char *s;
        size_t sl;
        if (d) {
                CHECK(tokenizer_decoder_flush(d, &s, &sl) == 0 && sl == 0, "%s: flush of complete text gave %zu bytes",
                      name, sl);
        }
        CHECK(on == len && memcmp(out, text, len) == 0, "%s: streamed \"%.*s\" for \"%s\"", name, (int) on, out, text);
        tokenizer_decoder_free(d);
        free(ids);
        return held;
}

static void test_streaming(const struct tokenizer *t, const char *name) {
        static const char *const texts[] = {
                "🦙🤗 emoji 👨‍👩‍👧 and ខ្មែរ and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
                "日本語のテキスト 中文 한국어 ελληνικά",
                "plain ascii only",
                "<|im_start|>x<|im_end|> <｜User｜>y",
        };
        int held = 0;
        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                held += stream(t, name, texts[i]);
        /* The emoji are split across byte tokens in every vocabulary here. */
        CHECK(held > 0, "%s: no token ever split a character: the hold-back was not exercised", name);
}

/* Raw byte behaviour, on byte tokens of a byte-level vocabulary. */
static void test_bytes(const struct tokenizer *t) {
        struct vkinfer_err err = {{0}};
        int32_t b[256];
        for (int i = 0; i < 256; i++) {
                int32_t *ids = NULL;
                size_t n = 0;
                char c = (char) i;
                /* A lone byte encodes to its byte token. */
                CHECK(tokenizer_encode(t, &c, 1, false, false, &ids, &n, &err) == 0 && n == 1, "byte %d", i);
                b[i] = n == 1 ? ids[0] : 0;
                free(ids);
        }
        struct tokenizer_decoder *d = NULL, *r = NULL;
        CHECK(tokenizer_decoder_new(t, 0, &d) == 0 && tokenizer_decoder_new(t, TOKENIZER_DECODE_REPLACE_INVALID, &r) == 0,
              "decoder_new");
        if (!d || !r)
                return;
        const char *s;
        size_t n;
        /* E4 B8 AD = 中, one byte at a time. */
        CHECK(tokenizer_decoder_push(d, b[0xe4], &s, &n, &err) == 0 && n == 0, "E4 held");
        CHECK(tokenizer_decoder_push(d, b[0xb8], &s, &n, &err) == 0 && n == 0, "B8 held");
        CHECK(tokenizer_decoder_push(d, b[0xad], &s, &n, &err) == 0 && n == 3 && memcmp(s, "中", 3) == 0, "中 out");
        /* A truncated character is released when it proves invalid... */
        CHECK(tokenizer_decoder_push(d, b[0xe4], &s, &n, &err) == 0 && n == 0, "E4 held");
        CHECK(tokenizer_decoder_push(d, b['A'], &s, &n, &err) == 0 && n == 2 && memcmp(s, "\xe4" "A", 2) == 0,
              "E4 A released as is");
        /* ...or at the flush, which also resets the decoder. */
        CHECK(tokenizer_decoder_push(d, b[0xf0], &s, &n, &err) == 0 && n == 0, "F0 held");
        CHECK(tokenizer_decoder_push(d, b[0x9f], &s, &n, &err) == 0 && n == 0, "9F held");
        CHECK(tokenizer_decoder_flush(d, &s, &n) == 0 && n == 2 && memcmp(s, "\xf0\x9f", 2) == 0, "flush");
        CHECK(tokenizer_decoder_flush(d, &s, &n) == 0 && n == 0, "second flush is empty");
        /* An out-of-range id fails and changes nothing. */
        CHECK(tokenizer_decoder_push(d, b[0xe4], &s, &n, &err) == 0 && n == 0, "E4 held");
        CHECK(tokenizer_decoder_push(d, tokenizer_n_vocab(t), &s, &n, &err) == -EINVAL, "id n_vocab refused");
        CHECK(strstr(err.msg, "out of range") != NULL, "message: %s", err.msg);
        CHECK(tokenizer_decoder_push(d, -1, &s, &n, &err) == -EINVAL, "id -1 refused");
        CHECK(tokenizer_decoder_push(d, b[0xb8], &s, &n, &err) == 0 && n == 0, "B8 held");
        CHECK(tokenizer_decoder_push(d, b[0xad], &s, &n, &err) == 0 && n == 3, "中 after an error");
        /* Continuation bytes on their own, and 0xFF, pass through at once. */
        CHECK(tokenizer_decoder_push(d, b[0x80], &s, &n, &err) == 0 && n == 1 && (uint8_t) s[0] == 0x80, "80");
        CHECK(tokenizer_decoder_push(d, b[0xff], &s, &n, &err) == 0 && n == 1 && (uint8_t) s[0] == 0xff, "FF");
        /* Surrogates and overlongs are not held as if they could complete. */
        CHECK(tokenizer_decoder_push(d, b[0xed], &s, &n, &err) == 0 && n == 0, "ED held");
        CHECK(tokenizer_decoder_push(d, b[0xa0], &s, &n, &err) == 0 && n == 2, "ED A0 is a surrogate: released");
        CHECK(tokenizer_decoder_push(d, b[0xc0], &s, &n, &err) == 0 && n == 1, "C0 never starts a character");

        /* REPLACE_INVALID: every bad byte becomes U+FFFD, output always UTF-8. */
        CHECK(tokenizer_decoder_push(r, b[0xff], &s, &n, &err) == 0 && n == 3 && memcmp(s, "\xef\xbf\xbd", 3) == 0,
              "FF replaced");
        CHECK(tokenizer_decoder_push(r, b[0xe4], &s, &n, &err) == 0 && n == 0, "E4 held");
        CHECK(tokenizer_decoder_push(r, b['x'], &s, &n, &err) == 0 && n == 4 && memcmp(s, "\xef\xbf\xbdx", 4) == 0,
              "E4 x replaced");
        CHECK(tokenizer_decoder_push(r, b[0xe4], &s, &n, &err) == 0 && n == 0, "E4 held");
        CHECK(tokenizer_decoder_push(r, b[0xb8], &s, &n, &err) == 0 && n == 0, "B8 held");
        CHECK(tokenizer_decoder_flush(r, &s, &n) == 0 && n == 6 && valid_utf8(s, n), "flush replaced");
        tokenizer_decoder_free(d);
        tokenizer_decoder_free(r);
        tokenizer_decoder_free(NULL);
}

static void expect_text(const struct tokenizer *t, const int32_t *ids, size_t n, unsigned flags, const char *want) {
        struct vkinfer_err err = {{0}};
        char *s = NULL;
        size_t sl = 0;
        int r = tokenizer_decode_all(t, ids, n, flags, &s, &sl, &err);
        CHECK_OK(r, err);
        if (r >= 0)
                CHECK(sl == strlen(want) && strcmp(s, want) == 0, "decoded \"%s\", want \"%s\"", s, want);
        free(s);
}

static bool same_ids(const struct tokenizer *t, const char *a, const char *b) {
        int32_t *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        bool same = tokenizer_encode(t, a, strlen(a), false, true, &x, &nx, NULL) == 0 &&
                    tokenizer_encode(t, b, strlen(b), false, true, &y, &ny, NULL) == 0 && nx == ny &&
                    memcmp(x, y, nx * sizeof(*x)) == 0;
        free(x);
        free(y);
        return same;
}

static void test_real_vocabs(void) {
        struct gguf_file *f;
        struct tokenizer *t;

        t = load("deepseek-v3", &f);
        if (t) {
                CHECK(tokenizer_kind(t) == TOKENIZER_BPE && strcmp(tokenizer_pre_name(t), "deepseek-v3") == 0, "kind");
                CHECK(tokenizer_n_vocab(t) == 129280, "n_vocab %d", tokenizer_n_vocab(t));
                CHECK(tokenizer_bos(t) == 0 && tokenizer_eos(t) == 1 && tokenizer_add_bos(t) && !tokenizer_add_eos(t),
                      "bos %d eos %d", tokenizer_bos(t), tokenizer_eos(t));
                CHECK(tokenizer_is_eog(t, 1) && !tokenizer_is_eog(t, 0) && !tokenizer_is_eog(t, 19923), "eog");
                CHECK(!tokenizer_is_eog(t, -1) && !tokenizer_is_eog(t, 129280), "eog out of range");
                CHECK(tokenizer_is_special(t, 0) && !tokenizer_is_special(t, 128803) && !tokenizer_is_special(t, 223),
                      "is_special");
                CHECK(tokenizer_token_type(t, 128803) == TOKEN_TYPE_USER_DEFINED &&
                      tokenizer_token_type(t, 129000) == TOKEN_TYPE_UNUSED && tokenizer_token_type(t, -5) == TOKEN_TYPE_UNDEFINED,
                      "types");
                CHECK(tokenizer_find_token(t, "<｜User｜>", strlen("<｜User｜>")) == 128803, "find User");
                CHECK(tokenizer_find_token(t, "no such token", 13) == -1, "find absent");
                size_t n;
                const char *s = tokenizer_token_text(t, 223, &n);
                CHECK(s && n == 2 && strcmp(s, "Ġ") == 0, "text of 223");
                s = tokenizer_token_piece(t, 223, &n);
                CHECK(s && n == 1 && s[0] == ' ', "piece of 223");
                CHECK(!tokenizer_token_text(t, 129280, NULL) && !tokenizer_token_piece(t, -1, NULL), "out of range");
                int32_t ids[] = {0, 19923, 1};
                expect_text(t, ids, 3, 0, "Hello");
                expect_text(t, ids, 3, TOKENIZER_DECODE_SPECIAL, "<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>");
                expect_text(t, ids, 0, 0, "");
                test_streaming(t, "deepseek-v3");
                test_bytes(t);
        }
        tokenizer_free(t);
        gguf_close(f);

        t = load("qwen2", &f);
        if (t) {
                CHECK(tokenizer_bos(t) == -1 && !tokenizer_add_bos(t) && tokenizer_eos(t) == 151645, "qwen2 bos/eos");
                CHECK(tokenizer_pad(t) == 151643 && tokenizer_eot(t) == 151645, "qwen2 pad %d eot %d", tokenizer_pad(t),
                      tokenizer_eot(t));
                CHECK(tokenizer_is_eog(t, 151643) && tokenizer_is_eog(t, 151645) && !tokenizer_is_eog(t, 151644), "qwen2 eog");
                /* <think> is user-defined: matched even without parse_special. */
                struct vkinfer_err err = {{0}};
                int32_t *ids = NULL;
                size_t n = 0;
                CHECK(tokenizer_encode(t, "<think><|im_end|>", 17, true, false, &ids, &n, &err) == 0, "%s", err.msg);
                CHECK(n > 2 && ids[0] == 151667 && ids[1] != 151645, "qwen2 <think> / no-special");
                free(ids);
                /* Qwen's tokenizer normalizes to NFC: e + U+0301 is é. */
                CHECK(same_ids(t, "Cafe\xcc\x81 \xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab", "Café 한"),
                      "qwen2 does not normalize to NFC");
                CHECK(same_ids(t, "<think>e\xcc\x81\xff", "<think>é\xff"), "qwen2 NFC around added tokens / bad bytes");
                test_streaming(t, "qwen2");
        }
        tokenizer_free(t);
        gguf_close(f);

        t = load("llama3", &f);
        if (t) {
                CHECK(tokenizer_bos(t) == 128000 && tokenizer_eos(t) == 128009 && tokenizer_add_bos(t), "llama3 bos/eos");
                CHECK(tokenizer_is_eog(t, 128001) && tokenizer_is_eog(t, 128009) && !tokenizer_is_eog(t, 128000) &&
                      !tokenizer_is_eog(t, 128006), "llama3 eog");
                /* Llama 3's has no normalizer. */
                CHECK(!same_ids(t, "Cafe\xcc\x81", "Café"), "llama3 normalizes but must not");
                test_streaming(t, "llama3");
        }
        tokenizer_free(t);
        gguf_close(f);

        t = load("ggml-vocab-llama-spm", &f);
        if (t) {
                CHECK(tokenizer_kind(t) == TOKENIZER_SPM && tokenizer_bos(t) == 1 && tokenizer_eos(t) == 2 &&
                      tokenizer_unk(t) == 0 && tokenizer_add_bos(t), "spm facts");
                CHECK(tokenizer_is_eog(t, 2) && tokenizer_is_special(t, 0) && tokenizer_token_type(t, 3) == TOKEN_TYPE_BYTE,
                      "spm types");
                size_t n;
                const char *p = tokenizer_token_piece(t, 13, &n); /* <0x0A> */
                CHECK(p && n == 1 && p[0] == '\n', "byte piece");
                struct vkinfer_err err = {{0}};
                int32_t *ids = NULL;
                size_t k = 0;
                CHECK(tokenizer_encode(t, "Hello world", 11, true, false, &ids, &k, &err) == 0 && k >= 2 && ids[0] == 1,
                      "spm encode");
                expect_text(t, ids, k, TOKENIZER_DECODE_STRIP_LEADING_SPACE, "Hello world");
                expect_text(t, ids, k, 0, " Hello world");
                expect_text(t, ids, k, TOKENIZER_DECODE_SPECIAL | TOKENIZER_DECODE_STRIP_LEADING_SPACE, "<s> Hello world");
                free(ids);
                test_streaming(t, "llama-spm");
        }
        tokenizer_free(t);
        gguf_close(f);
        tokenizer_free(NULL);
}

/* ---- Synthetic vocabularies ---- */

static uint32_t byte_cp(uint32_t b) {
        bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        if (printable)
                return b;
        uint32_t n = 0;
        for (uint32_t x = 0; x < b; x++)
                n += !((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || x >= 0xae);
        return 256 + n;
}

/* A byte-level vocabulary: the 256 byte tokens, then `extra`, then merges.
 * Writes it and builds a tokenizer; returns its result. */
static int build(const char *model, const char *pre, const char *const *extra, size_t n_extra,
                 const char *const *merges, size_t n_merges, int mangle, struct tokenizer **ret,
                 struct vkinfer_err *err) {
        struct gguf_writer *w = gguf_writer_new();
        char bytes[256][4];
        const char *toks[300];
        int32_t types[300];
        size_t n = 0;
        for (uint32_t b = 0; b < 256; b++) {
                uint32_t cp = byte_cp(b);
                if (cp < 0x80) {
                        bytes[b][0] = (char) cp;
                        bytes[b][1] = 0;
                } else {
                        bytes[b][0] = (char) (0xc0 | (cp >> 6));
                        bytes[b][1] = (char) (0x80 | (cp & 0x3f));
                        bytes[b][2] = 0;
                }
                toks[n] = bytes[b];
                types[n++] = 1;
        }
        for (size_t i = 0; i < n_extra; i++) {
                toks[n] = extra[i];
                types[n++] = extra[i][0] == '<' ? 3 : 1;
        }
        if (model)
                gguf_writer_set_str(w, "tokenizer.ggml.model", model);
        if (pre)
                gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
        if (mangle != 1)
                gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, n);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, mangle == 2 ? n - 1 : n);
        if (mangle == 3)
                gguf_writer_set_u32(w, "tokenizer.ggml.token_type", 1);
        if (merges)
                gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, n_merges);
        gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", mangle == 4 ? 100000 : (uint32_t) n - 1);
        gguf_writer_set_i32(w, "tokenizer.ggml.padding_token_id", mangle == 4 ? -1 : 256);
        uint8_t *data = NULL;
        size_t size = 0;
        int r = gguf_writer_to_memory(w, &data, &size);
        gguf_writer_free(w);
        CHECK(r == 0, "serialize");
        struct gguf_file *f = NULL;
        r = gguf_open_memory(data, size, &f, err);
        CHECK_OK(r, *err);
        if (r >= 0)
                r = tokenizer_new_from_gguf(f, ret, err);
        gguf_close(f);
        free(data);
        return r;
}

static void expect_ids(const struct tokenizer *t, const char *text, const int32_t *want, size_t n_want) {
        struct vkinfer_err err = {{0}};
        int32_t *ids = NULL;
        size_t n = 0;
        int r = tokenizer_encode(t, text, strlen(text), false, true, &ids, &n, &err);
        CHECK_OK(r, err);
        bool same = r >= 0 && n == n_want && memcmp(ids, want, n * sizeof(*ids)) == 0;
        CHECK(same, "\"%s\": got %zu ids (first %d), want %zu", text, n, n ? ids[0] : -1, n_want);
        free(ids);
}

static void test_synthetic(void) {
        struct vkinfer_err err = {{0}};
        struct tokenizer *t = NULL;
        /* ids: bytes 0..255 in byte order, 256 "aa", 257 "bc", 258 "ab", 259 "abc",
         * 260 <|end|>, 261 DeepSeek's end of sentence */
        const char *extra[] = {"aa", "bc", "ab", "abc", "<|end|>", "<｜end▁of▁sentence｜>"};
        const char *m1[] = {"a a", "b c", "a b"};
        CHECK(build("gpt2", "gpt-2", extra, 6, m1, 3, 0, &t, &err) == 0, "build: %s", err.msg);
        if (t) {
                /* Equal ranks merge leftmost first: "aaa" -> aa a. */
                expect_ids(t, "aaa", (int32_t[]) {256, 'a'}, 2);
                expect_ids(t, "aaaa", (int32_t[]) {256, 256}, 2);
                /* The lower rank wins: "b c" (1) before "a b" (2). */
                expect_ids(t, "abc", (int32_t[]) {'a', 257}, 2);
                /* Added tokens split the text; the pieces are tokenized apart. */
                expect_ids(t, "ab<|end|>c", (int32_t[]) {258, 260, 'c'}, 3);
                CHECK(tokenizer_is_eog(t, 260) && tokenizer_eot(t) == 260, "<|end|> ends a turn");
                CHECK(tokenizer_is_eog(t, 261) && !tokenizer_is_eog(t, 259), "DeepSeek's end of sentence ends a turn");
                CHECK(tokenizer_bos(t) == 261 && !tokenizer_add_bos(t), "bos from metadata, add_bos default off");
                CHECK(tokenizer_pad(t) == 256 && tokenizer_eos(t) == -1 && tokenizer_unk(t) == -1, "pad/eos/unk");
        }
        tokenizer_free(t);
        t = NULL;
        const char *m2[] = {"a b", "b c"};
        CHECK(build("gpt2", "gpt-2", extra, 6, m2, 2, 0, &t, &err) == 0, "build: %s", err.msg);
        if (t)
                expect_ids(t, "abc", (int32_t[]) {258, 'c'}, 2);
        tokenizer_free(t);
        t = NULL;
        /* llama-bpe keeps a pre-token that is in the vocabulary whole. */
        CHECK(build("gpt2", "llama-bpe", extra, 6, m2, 2, 0, &t, &err) == 0, "build: %s", err.msg);
        if (t) {
                expect_ids(t, "abc", (int32_t[]) {259}, 1);
                CHECK(tokenizer_add_bos(t), "llama-bpe adds BOS by default");
        }
        tokenizer_free(t);
        t = NULL;

        /* Load errors, each named. */
        int r = build(NULL, "gpt-2", extra, 6, m1, 3, 0, &t, &err);
        CHECK(r == -ENOENT && strstr(err.msg, "tokenizer.ggml.model"), "no model: %d %s", r, err.msg);
        r = build("bert", "gpt-2", extra, 6, m1, 3, 0, &t, &err);
        CHECK(r == -EOPNOTSUPP && strstr(err.msg, "'bert'"), "bert: %d %s", r, err.msg);
        r = build("gpt2", "no-such-pre", extra, 6, m1, 3, 0, &t, &err);
        CHECK(r == -EOPNOTSUPP && strstr(err.msg, "'no-such-pre'"), "pre: %d %s", r, err.msg);
        r = build("gpt2", "gpt-2", extra, 6, NULL, 0, 0, &t, &err);
        CHECK(r == -ENOENT && strstr(err.msg, "merges"), "no merges: %d %s", r, err.msg);
        const char *bad[] = {"a a", "nospace"};
        r = build("gpt2", "gpt-2", extra, 6, bad, 2, 0, &t, &err);
        CHECK(r == -EINVAL && strstr(err.msg, "merges[1]"), "bad merge: %d %s", r, err.msg);
        r = build("gpt2", "gpt-2", extra, 6, m1, 3, 1, &t, &err);
        CHECK(r == -ENOENT && strstr(err.msg, "tokenizer.ggml.tokens"), "no tokens: %d %s", r, err.msg);
        r = build("gpt2", "gpt-2", extra, 6, m1, 3, 2, &t, &err);
        CHECK(r == -EINVAL && strstr(err.msg, "token_type"), "short token_type: %d %s", r, err.msg);
        r = build("gpt2", "gpt-2", extra, 6, m1, 3, 3, &t, &err);
        CHECK(r == -EINVAL && strstr(err.msg, "token_type"), "token_type not an array: %d %s", r, err.msg);
        CHECK(t == NULL, "ret untouched on failure");
        /* An id past the vocabulary is "none", not an error. */
        r = build("gpt2", NULL, extra, 6, m1, 3, 4, &t, &err);
        CHECK(r == 0 && t && tokenizer_bos(t) == -1 && tokenizer_pad(t) == -1 && strcmp(tokenizer_pre_name(t), "default") == 0,
              "bos out of range / default pre: %d %s", r, err.msg);
        tokenizer_free(t);
}

int main(void) {
        if (!getenv("VKINFER_TEST_DATA")) {
                fprintf(stderr, "VKINFER_TEST_DATA is not set\n");
                return 2;
        }
        test_real_vocabs();
        test_synthetic();
        return test_exit("tokenizer-decoder");
}
