/* libFuzzer target for the tokenizer. The first input byte picks a tokenizer
 * and the flags, the rest is the text. Tokenizers are built once, in memory,
 * from small synthetic GGUF vocabularies: byte-level BPE under every
 * supported pre-tokenizer (so every regex sees the input) and a
 * SentencePiece one; with VKINFER_TEST_DATA set, the real deepseek-v3 and
 * llama-spm vocabularies join them. For every input: encoding succeeds, ids
 * are in range, decode(encode(s)) == s where the format allows it, and a
 * streaming decode with REPLACE_INVALID yields valid UTF-8 only. Any
 * violation aborts. Seeds: tests/data/fuzz-tokenizer/. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOK 16
static struct tokenizer *toks[MAX_TOK];
static struct gguf_file *files[MAX_TOK];
static size_t n_toks;

static uint32_t byte_cp(uint32_t b) {
        bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        if (printable)
                return b;
        uint32_t n = 0;
        for (uint32_t x = 0; x < b; x++)
                n += !((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || x >= 0xae);
        return 256 + n;
}

/* Appends the byte-level form of the raw bytes s to out. */
static size_t byte_level(const char *s, char *out) {
        size_t o = 0;
        for (; *s; s++) {
                uint32_t cp = byte_cp((uint8_t) *s);
                if (cp < 0x80) {
                        out[o++] = (char) cp;
                } else {
                        out[o++] = (char) (0xc0 | (cp >> 6));
                        out[o++] = (char) (0x80 | (cp & 0x3f));
                }
        }
        out[o] = 0;
        return o;
}

static const char *const words[] = {
        "the", " the", "and", " and", "ing", "tion", " in", "er", "re", "  ", "    ", "\n\n", "'s", "://",
        "123", "中文", "日本", "🦙", " ж", "ея", "é", "ß",
};

struct vocab {
        char *tok[2048];
        int32_t type[2048];
        float score[2048];
        size_t n;
        char *merge[2048];
        size_t n_merges;
};

static int find(const struct vocab *v, const char *s) {
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->tok[i], s) == 0)
                        return (int) i;
        return -1;
}

static void add(struct vocab *v, const char *s, int32_t type, float score) {
        if (v->n < 2048 && find(v, s) < 0) {
                v->tok[v->n] = strdup(s);
                v->type[v->n] = type;
                v->score[v->n++] = score;
        }
}

static struct tokenizer *build(const struct vocab *v, const char *model, const char *pre) {
        struct gguf_writer *w = gguf_writer_new();
        gguf_writer_set_str(w, "tokenizer.ggml.model", model);
        if (pre)
                gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *) v->tok, v->n);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v->type, v->n);
        gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v->score, v->n);
        if (v->n_merges)
                gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *) v->merge, v->n_merges);
        uint8_t *buf;
        size_t size;
        struct tokenizer *t = NULL;
        struct gguf_file *f = NULL;
        struct vkinfer_err err;
        if (gguf_writer_to_memory(w, &buf, &size) == 0 && gguf_open_memory(buf, size, &f, &err) == 0 &&
            tokenizer_new_from_gguf(f, &t, &err) == 0) {
                gguf_close(f);
        } else {
                fprintf(stderr, "fuzz-tokenizer: building the %s/%s vocabulary: %s\n", model, pre ? pre : "-", err.msg);
                abort();
        }
        free(buf); /* the tokenizer copies what it needs */
        gguf_writer_free(w);
        return t;
}

static void init_bpe(void) {
        static struct vocab v;
        char a[64], b[64], m[160];
        for (uint32_t i = 0; i < 256; i++) {
                char s[2] = {(char) i, 0};
                byte_level(i ? s : "\0", a);
                if (i == 0) { /* byte 0: byte_level stops at NUL */
                        a[0] = (char) 0xc4;
                        a[1] = (char) 0x80;
                        a[2] = 0;
                }
                add(&v, a, 1, 0);
        }
        /* Each word is reached by merging one more byte onto its prefix. */
        for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
                char raw[32];
                size_t l = strlen(words[i]);
                for (size_t k = 2; k <= l; k++) {
                        memcpy(raw, words[i], k - 1);
                        raw[k - 1] = 0;
                        byte_level(raw, a);
                        raw[0] = words[i][k - 1];
                        raw[1] = 0;
                        byte_level(raw, b);
                        snprintf(m, sizeof(m), "%s %s", a, b);
                        v.merge[v.n_merges++] = strdup(m);
                        snprintf(m, sizeof(m), "%s%s", a, b);
                        add(&v, m, 1, 0);
                }
        }
        add(&v, "<|im_end|>", 3, 0);
        add(&v, "<|endoftext|>", 3, 0);
        add(&v, "<think>", 4, 0);
        static const char *const pres[] = {"deepseek-v3", "deepseek-llm", "deepseek-coder", "qwen2",
                                           "llama-bpe",   "gpt-2",        NULL};
        for (size_t i = 0; i < sizeof(pres) / sizeof(*pres); i++)
                toks[n_toks++] = build(&v, "gpt2", pres[i]);
}

static void init_spm(void) {
        static struct vocab v;
        add(&v, "<unk>", 2, 0);
        add(&v, "<s>", 3, 0);
        add(&v, "</s>", 3, 0);
        for (int i = 0; i < 256; i++) {
                char s[8];
                snprintf(s, sizeof(s), "<0x%02X>", i);
                add(&v, s, 6, 0);
        }
        /* Every substring of every word (spaces as ▁), longer ones scoring higher. */
        for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
                char esc[64];
                size_t n = 0;
                for (const char *p = words[i]; *p; p++) {
                        if (*p == ' ') {
                                memcpy(esc + n, "\xe2\x96\x81", 3);
                                n += 3;
                        } else
                                esc[n++] = *p;
                }
                for (size_t s = 0; s < n; s++)
                        for (size_t e = s + 1; e <= n; e++) {
                                char sub[64];
                                memcpy(sub, esc + s, e - s);
                                sub[e - s] = 0;
                                add(&v, sub, 1, -100.0f + (float) (e - s) + (float) i * 0.01f);
                        }
        }
        toks[n_toks++] = build(&v, "llama", NULL);
}

static void init_real(void) {
        const char *dir = getenv("VKINFER_TEST_DATA");
        static const char *const names[] = {"deepseek-v3", "ggml-vocab-llama-spm"};
        for (size_t i = 0; dir && i < 2; i++) {
                char path[1024];
                struct vkinfer_err err;
                snprintf(path, sizeof(path), "%s/vocab/%s.gguf", dir, names[i]);
                struct gguf_file *f = NULL;
                if (gguf_open(path, &f, &err) == 0 && tokenizer_new_from_gguf(f, &toks[n_toks], &err) == 0)
                        files[n_toks++] = f;
                else
                        gguf_close(f);
        }
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!n_toks) {
                init_bpe();
                init_spm();
                init_real();
        }
        if (size < 1)
                return 0;
        const struct tokenizer *t = toks[data[0] % n_toks];
        bool add_bos = data[0] & 0x40, special = data[0] & 0x80;
        const char *text = (const char *) data + 1;
        size_t len = size - 1;
        bool spm = tokenizer_kind(t) == TOKENIZER_SPM;

        struct vkinfer_err err;
        int32_t *ids = NULL;
        size_t n = 0;
        int r = tokenizer_encode(t, text, len, add_bos, special, &ids, &n, &err);
        if (r == -EILSEQ)
                return 0; /* a byte the vocabulary has no token for (DeepSeek LLM/Coder) */
        if (r < 0) {
                fprintf(stderr, "encode failed: %s\n", err.msg);
                abort();
        }
        for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= tokenizer_n_vocab(t))
                        abort();
        if (len && !n)
                abort();

        char *out = NULL;
        size_t on = 0;
        unsigned flags = TOKENIZER_DECODE_SPECIAL | TOKENIZER_DECODE_STRIP_LEADING_SPACE;
        if (tokenizer_decode_all(t, ids, n, flags, &out, &on, &err) < 0)
                abort();
        /* SentencePiece reads "▁" as a space and adds one after each added
         * token; BOS/EOS add text when rendered. Elsewhere: exact. */
        bool exact = !add_bos && !(spm && (special || memmem(text, len, "\xe2\x96\x81", 3)));
        /* Qwen's tokenizer normalizes to NFC first: exact only for text that
         * is NFC already (and valid UTF-8, or NFC cannot be computed). */
        if (exact && (strcmp(tokenizer_pre_name(t), "qwen2") == 0 || strstr(tokenizer_pre_name(t), "qwen"))) {
                char *z = memchr(text, 0, len) ? NULL : strndup(text, len);
                utf8proc_uint8_t *nfc = z ? utf8proc_NFC((const utf8proc_uint8_t *) z) : NULL;
                exact = nfc && strlen((const char *) nfc) == len && memcmp(nfc, text, len) == 0;
                free(nfc);
                free(z);
        }
        if (exact && (on != len || memcmp(out, text, len) != 0)) {
                fprintf(stderr, "round trip failed on %s: %zu bytes in, %zu out\n", tokenizer_pre_name(t), len, on);
                abort();
        }
        free(out);

        struct tokenizer_decoder *d = NULL;
        if (tokenizer_decoder_new(t, TOKENIZER_DECODE_REPLACE_INVALID, &d) < 0)
                abort();
        for (size_t i = 0; i <= n; i++) {
                const char *s;
                size_t sl;
                r = i < n ? tokenizer_decoder_push(d, ids[i], &s, &sl, &err) : tokenizer_decoder_flush(d, &s, &sl);
                if (r < 0 || !valid_utf8(s, sl))
                        abort();
        }
        tokenizer_decoder_free(d);
        free(ids);
        return 0;
}
