/* Byte-level BPE ("gpt2" in GGUF): the pre-tokenizer regexes of each model
 * family, exactly as their Hugging Face tokenizer.json has them, and the
 * merge loop (lowest rank first, leftmost among equals) over token ids. */
#include "tokenizer/tokenizer-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

/* ---- Pre-tokenizers ---- */

/* The Unicode White_Space set that HF's regex engine (Oniguruma) means by \s;
 * PCRE2's \s leaves out U+0085 (NEL), so it is added by hand. */
#define WS "\\s\\x{85}"

/* GPT-2's ByteLevel pre-tokenizer. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+"

/* Llama 3 (tiktoken cl100k style); Qwen2 is the same with single digits. */
#define RE_LLAMA3_HEAD "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define RE_LLAMA3_TAIL                                                                       \
        "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+"

/* DeepSeek LLM's letter class, as written in its tokenizer.json (the cased
 * letters of an older Unicode). Escaped, because several of its characters
 * (U+1F7D, U+1FBE, U+2126, U+212A...) are changed by Unicode normalization
 * when the source is copied around as text. */
#define RE_DEEPSEEK_LETTERS \
        "[" WS "]?[" \
        "A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}" \
        "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}" \
        "\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}" \
        "\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}" \
        "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}" \
        "\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}" \
        "\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}" \
        "\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}" \
        "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}" \
        "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}" \
        "\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}" \
        "\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}" \
        "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}" \
        "\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}" \
        "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}" \
        "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}" \
        "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}" \
        "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}" \
        "\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}" "]+"

/* DeepSeek LLM and Coder: CJK runs (the U+0800..U+4E00 range is theirs). */
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* DeepSeek LLM: ASCII and full-width punctuation, curly quotes, CJK marks. */
#define RE_DEEPSEEK_PUNCT \
        "[" WS "]?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+"

struct pre_def {
        const char *names[6];
        const char *regex[TOK_MAX_REGEX]; /* a Sequence of Split(Isolated) */
        bool ignore_merges;
        bool nfc; /* the tokenizer.json has an NFC normalizer */
};

static const struct pre_def pre_defs[] = {
        {
                .names = {"gpt-2", "phi-2", "roberta-bpe", "mpt", "olmo"},
                .regex = {RE_GPT2},
        },
        {
                .names = {"llama-bpe", "llama3", "llama-v3", "falcon3"},
                .regex = {RE_LLAMA3_HEAD "\\p{N}{1,3}" RE_LLAMA3_TAIL},
                .ignore_merges = true,
        },
        {
                .names = {"dbrx", "smaug-bpe"},
                .regex = {RE_LLAMA3_HEAD "\\p{N}{1,3}" RE_LLAMA3_TAIL},
        },
        {
                .names = {"qwen2", "deepseek-r1-qwen"},
                .regex = {RE_LLAMA3_HEAD "\\p{N}" RE_LLAMA3_TAIL},
                .nfc = true,
        },
        {
                .names = {"stablelm2"},
                .regex = {RE_LLAMA3_HEAD "\\p{N}" RE_LLAMA3_TAIL},
        },
        {
                .names = {"deepseek-llm"},
                .regex = {"[\\r\\n]", RE_DEEPSEEK_LETTERS, RE_DEEPSEEK_PUNCT, "[" WS "]+$", RE_DEEPSEEK_CJK,
                          "\\p{N}+"},
        },
        {
                .names = {"deepseek-coder"},
                .regex = {"[\\r\\n]", "[" WS "]?\\p{L}+", "[" WS "]?\\p{P}+", RE_DEEPSEEK_CJK,
                          "\\p{N}"},
        },
        {
                .names = {"deepseek-v3"},
                .regex = {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
                          "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
                          "|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                          "| ?[\\p{P}\\p{S}]+[\\r\\n]*"
                          "|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+"},
        },
        {
                /* llama.cpp's choice for files that name no pre-tokenizer. */
                .names = {"default"},
                .regex = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
        },
};

int bpe_setup_pre(struct tokenizer *t, const char *pre, struct vkinfer_err *err) {
        const struct pre_def *def = NULL;
        const char *name = pre ? pre : "default";
        for (size_t i = 0; i < ELEMENTSOF(pre_defs) && !def; i++)
                for (size_t j = 0; j < ELEMENTSOF(pre_defs[i].names) && pre_defs[i].names[j]; j++)
                        if (strcmp(pre_defs[i].names[j], name) == 0) {
                                def = &pre_defs[i];
                                break;
                        }
        if (!def)
                return err_set(err, -EOPNOTSUPP,
                               "tokenizer.ggml.pre '%s' is not a supported pre-tokenizer (supported: deepseek-v3, "
                               "deepseek-llm, deepseek-coder, qwen2, llama-bpe, gpt-2, default)",
                               name);
        snprintf(t->pre_name, sizeof(t->pre_name), "%s", name);
        t->ignore_merges = def->ignore_merges;
        t->nfc = def->nfc;
        for (unsigned i = 0; i < TOK_MAX_REGEX && def->regex[i]; i++) {
                int ec;
                PCRE2_SIZE eo;
                pcre2_code *re = pcre2_compile((PCRE2_SPTR) def->regex[i], PCRE2_ZERO_TERMINATED,
                                               PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
                if (!re) {
                        PCRE2_UCHAR msg[160];
                        pcre2_get_error_message(ec, msg, sizeof(msg));
                        return err_set(err, -EINVAL, "pre-tokenizer '%s' regex %u: %s at offset %zu", name, i,
                                       (const char *) msg, (size_t) eo);
                }
                /* JIT where the platform allows; the interpreter otherwise. */
                (void) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
                t->regex[t->n_regex++] = re;
        }
        return 0;
}

/* ---- Merges ---- */

static inline uint64_t pair_key(int32_t a, int32_t b) {
        return (uint64_t) (uint32_t) a << 32 | (uint32_t) b;
}

static inline uint32_t pair_hash(uint64_t k) {
        k ^= k >> 31;
        k *= 0x9e3779b97f4a7c15ull;
        return (uint32_t) (k >> 32);
}

static inline const struct merge_slot *merge_find(const struct tokenizer *t, int32_t a, int32_t b) {
        if (a < 0 || b < 0)
                return NULL;
        uint64_t k = pair_key(a, b);
        for (uint32_t i = pair_hash(k) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
                const struct merge_slot *m = &t->merges[i];
                if (m->key == k)
                        return m;
                if (m->key == UINT64_MAX)
                        return NULL;
        }
}

int bpe_load_merges(struct tokenizer *t, const struct gguf_file *f, struct vkinfer_err *err) {
        const struct gguf_value *arr;
        int r = gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &arr, err);
        if (r == -ENOENT)
                return err_set(err, -ENOENT, "tokenizer.ggml.merges is missing (needed by a 'gpt2' tokenizer)");
        if (r < 0)
                return r;
        if (arr->arr.n > INT32_MAX / 4)
                return err_set(err, -EINVAL, "tokenizer.ggml.merges has %llu entries", (unsigned long long) arr->arr.n);
        size_t cap = 16;
        while (cap < arr->arr.n * 2)
                cap *= 2;
        t->merges = malloc(cap * sizeof(*t->merges));
        if (!t->merges)
                return -ENOMEM;
        for (size_t i = 0; i < cap; i++)
                t->merges[i].key = UINT64_MAX;
        t->merge_mask = (uint32_t) (cap - 1);

        char *buf = NULL;
        size_t buf_cap = 0;
        for (uint64_t i = 0; i < arr->arr.n; i++) {
                struct gguf_str s = arr->arr.strs[i];
                /* "left right": split at the first space after the first byte. */
                const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
                if (!sp) {
                        free(buf);
                        return err_set(err, -EINVAL, "tokenizer.ggml.merges[%llu] is not 'left right'",
                                       (unsigned long long) i);
                }
                size_t ln = (size_t) (sp - s.ptr), rn = s.len - ln - 1;
                int32_t a = tok_map_find(t, &t->text_map, s.ptr, ln);
                int32_t b = tok_map_find(t, &t->text_map, sp + 1, rn);
                if (ln + rn > buf_cap) {
                        char *nb = realloc(buf, ln + rn);
                        if (!nb) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = nb;
                        buf_cap = ln + rn;
                }
                memcpy(buf, s.ptr, ln);
                memcpy(buf + ln, sp + 1, rn);
                int32_t c = tok_map_find(t, &t->text_map, buf, ln + rn);
                /* A merge naming tokens the vocabulary lacks can never apply. */
                if (a < 0 || b < 0 || c < 0)
                        continue;
                uint64_t k = pair_key(a, b);
                for (uint32_t j = pair_hash(k) & t->merge_mask;; j = (j + 1) & t->merge_mask) {
                        struct merge_slot *m = &t->merges[j];
                        if (m->key == k)
                                break; /* a repeated merge keeps its first rank */
                        if (m->key == UINT64_MAX) {
                                *m = (struct merge_slot) {k, (uint32_t) i, c};
                                break;
                        }
                }
        }
        free(buf);
        return 0;
}

/* ---- Per-call scratch ---- */

struct heap_entry {
        uint64_t key; /* rank << 32 | left position: the smallest merges first */
        int32_t lid, rid, result;
};

struct bpe_scratch {
        pcre2_match_data *md[TOK_MAX_REGEX];
        int32_t *id, *prev, *next;
        size_t cap;
        struct heap_entry *heap;
        size_t heap_n, heap_cap;
        const char *text; /* the fragment being encoded, and its offset in the */
        size_t text_off;  /* whole text: for error messages */
};

struct bpe_scratch *bpe_scratch_new(const struct tokenizer *t) {
        struct bpe_scratch *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        for (unsigned i = 0; i < t->n_regex; i++) {
                s->md[i] = pcre2_match_data_create_from_pattern(t->regex[i], NULL);
                if (!s->md[i]) {
                        bpe_scratch_free(s);
                        return NULL;
                }
        }
        return s;
}

void bpe_scratch_free(struct bpe_scratch *s) {
        if (!s)
                return;
        for (unsigned i = 0; i < TOK_MAX_REGEX; i++)
                pcre2_match_data_free(s->md[i]);
        free(s->id);
        free(s->prev);
        free(s->next);
        free(s->heap);
        free(s);
}

static int scratch_reserve(struct bpe_scratch *s, size_t n) {
        if (n <= s->cap)
                return 0;
        size_t cap = s->cap ? s->cap : 64;
        while (cap < n)
                cap *= 2;
        int32_t *a = realloc(s->id, cap * sizeof(int32_t));
        if (a)
                s->id = a;
        int32_t *b = realloc(s->prev, cap * sizeof(int32_t));
        if (b)
                s->prev = b;
        int32_t *c = realloc(s->next, cap * sizeof(int32_t));
        if (c)
                s->next = c;
        if (!a || !b || !c)
                return -ENOMEM;
        s->cap = cap;
        return 0;
}

static int heap_push(struct bpe_scratch *s, struct heap_entry e) {
        if (s->heap_n == s->heap_cap) {
                size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
                struct heap_entry *h = realloc(s->heap, cap * sizeof(*h));
                if (!h)
                        return -ENOMEM;
                s->heap = h;
                s->heap_cap = cap;
        }
        size_t i = s->heap_n++;
        while (i > 0) {
                size_t p = (i - 1) / 2;
                if (s->heap[p].key <= e.key)
                        break;
                s->heap[i] = s->heap[p];
                i = p;
        }
        s->heap[i] = e;
        return 0;
}

static struct heap_entry heap_pop(struct bpe_scratch *s) {
        struct heap_entry top = s->heap[0], last = s->heap[--s->heap_n];
        size_t i = 0, n = s->heap_n;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= n)
                        break;
                if (c + 1 < n && s->heap[c + 1].key < s->heap[c].key)
                        c++;
                if (last.key <= s->heap[c].key)
                        break;
                s->heap[i] = s->heap[c];
                i = c;
        }
        if (n)
                s->heap[i] = last;
        return top;
}

static int try_pair(const struct tokenizer *t, struct bpe_scratch *s, int32_t left, int32_t right) {
        if (left < 0 || right < 0)
                return 0;
        const struct merge_slot *m = merge_find(t, s->id[left], s->id[right]);
        if (!m)
                return 0;
        return heap_push(s, (struct heap_entry) {(uint64_t) m->rank << 32 | (uint32_t) left, s->id[left],
                                                 s->id[right], m->result});
}

/* ---- BPE on one pre-token ---- */

/* Some vocabularies (DeepSeek LLM/Coder) gave the ids of the bytes that never
 * occur in UTF-8 (0xC0, 0xC1, 0xF5..0xFF) to other tokens: such a byte, which
 * only invalid UTF-8 holds, cannot be encoded. Refused rather than dropped. */
static int no_byte_token(const struct tokenizer *t, const struct bpe_scratch *s, const char *at,
                         struct vkinfer_err *err) {
        return err_set(err, -EILSEQ,
                       "byte 0x%02x at offset %zu is not valid UTF-8 and vocabulary '%s' has no token for it",
                       (uint8_t) *at, s->text_off + (size_t) (at - s->text), t->pre_name);
}

static int bpe_word(const struct tokenizer *t, struct bpe_scratch *s, const char *w, size_t n, struct tok_vec *out,
                    struct vkinfer_err *err) {
        if (n == 1) {
                int32_t id = t->byte_tokens[(uint8_t) w[0]];
                if (id < 0)
                        return no_byte_token(t, s, w, err);
                return tok_vec_push(out, id) < 0 ? -ENOMEM : 0;
        }
        /* Llama 3's tokenizer keeps a pre-token that is a token as it is,
         * whatever the merges would make of it ("ignore_merges"). */
        if (t->ignore_merges) {
                int32_t id = tok_map_find(t, &t->piece_map, w, n);
                if (id >= 0)
                        return tok_vec_push(out, id) < 0 ? -ENOMEM : 0;
        }
        if (n > INT32_MAX || scratch_reserve(s, n) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                s->id[i] = t->byte_tokens[(uint8_t) w[i]];
                if (s->id[i] < 0)
                        return no_byte_token(t, s, w + i, err);
                s->prev[i] = (int32_t) i - 1;
                s->next[i] = i + 1 < n ? (int32_t) i + 1 : -1;
        }
        s->heap_n = 0;
        for (size_t i = 0; i + 1 < n; i++)
                if (try_pair(t, s, (int32_t) i, (int32_t) i + 1) < 0)
                        return -ENOMEM;
        while (s->heap_n) {
                struct heap_entry e = heap_pop(s);
                int32_t left = (int32_t) (uint32_t) e.key, right = s->next[left];
                /* Stale entries: one side has merged since the pair was seen. */
                if (s->id[left] != e.lid || right < 0 || s->id[right] != e.rid)
                        continue;
                s->id[left] = e.result;
                s->id[right] = -2; /* dead */
                s->next[left] = s->next[right];
                if (s->next[right] >= 0)
                        s->prev[s->next[right]] = left;
                if (try_pair(t, s, s->prev[left], left) < 0 || try_pair(t, s, left, s->next[left]) < 0)
                        return -ENOMEM;
        }
        for (int32_t i = 0; i >= 0; i = s->next[i])
                if (tok_vec_push(out, s->id[i]) < 0)
                        return -ENOMEM;
        return 0;
}

/* Applies regex `level` to p[0..n): every match and every gap between
 * matches is a piece, handed to the next regex, and after the last to BPE
 * (HF's Split with behaviour Isolated, in a Sequence). */
static int split(const struct tokenizer *t, struct bpe_scratch *s, unsigned level, const char *p, size_t n,
                 struct tok_vec *out, struct vkinfer_err *err) {
        if (level == t->n_regex)
                return bpe_word(t, s, p, n, out, err);
        pcre2_match_data *md = s->md[level];
        size_t pos = 0, last = 0;
        int r;
        while (pos < n) {
                int rc = pcre2_match(t->regex[level], (PCRE2_SPTR) p, n, pos, 0, md, NULL);
                if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
                        /* The interpreter keeps its backtracking on the heap. */
                        rc = pcre2_match(t->regex[level], (PCRE2_SPTR) p, n, pos, PCRE2_NO_JIT, md, NULL);
                if (rc == PCRE2_ERROR_NOMATCH)
                        break;
                if (rc < 0) {
                        PCRE2_UCHAR msg[160];
                        pcre2_get_error_message(rc, msg, sizeof(msg));
                        return err_set(err, -E2BIG, "pre-tokenizer '%s' failed on a %zu-byte piece: %s", t->pre_name, n,
                                       (const char *) msg);
                }
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                size_t ms = ov[0], me = ov[1];
                if (me <= ms) { /* an empty match splits nothing: step over one character */
                        pos = ms + utf8_len((uint8_t) p[ms]);
                        continue;
                }
                if (ms > last && (r = split(t, s, level + 1, p + last, ms - last, out, err)) < 0)
                        return r;
                if ((r = split(t, s, level + 1, p + ms, me - ms, out, err)) < 0)
                        return r;
                last = pos = me;
        }
        if (last < n && (r = split(t, s, level + 1, p + last, n - last, out, err)) < 0)
                return r;
        return 0;
}

/* ---- NFC ---- */

/* Code points below U+0300 are NFC already and never combine with what
 * precedes them: text whose bytes are all below 0xCC needs no work. */
static bool may_need_nfc(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((uint8_t) s[i] >= 0xcc)
                        return true;
        return false;
}

/* Length of the valid UTF-8 prefix of s. */
static size_t valid_prefix(const uint8_t *s, size_t n) {
        size_t i = 0;
        while (i < n) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t l = utf8proc_iterate(s + i, (utf8proc_ssize_t) (n - i), &cp);
                if (l <= 0)
                        break;
                i += (size_t) l;
        }
        return i;
}

/* NFC of every valid UTF-8 run of text; invalid bytes are kept as they are
 * (HF never sees them). *ret is malloc'd. */
static int nfc(const char *text, size_t len, char **ret, size_t *ret_len) {
        size_t cap = len + 16, n = 0;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < len;) {
                size_t run = valid_prefix((const uint8_t *) text + i, len - i);
                const char *src = text + i;
                size_t sl = run ? run : 1;
                utf8proc_uint8_t *mapped = NULL;
                if (run) {
                        utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *) src, (utf8proc_ssize_t) run,
                                                          &mapped, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
                        if (m < 0) {
                                free(buf);
                                return m == UTF8PROC_ERROR_NOMEM ? -ENOMEM : -EILSEQ;
                        }
                        src = (const char *) mapped;
                        sl = (size_t) m;
                }
                if (n + sl > cap) {
                        while (n + sl > cap)
                                cap *= 2;
                        char *nb = realloc(buf, cap);
                        if (!nb) {
                                free(mapped);
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = nb;
                }
                memcpy(buf + n, src, sl);
                n += sl;
                free(mapped);
                i += run ? run : 1;
        }
        *ret = buf;
        *ret_len = n;
        return 0;
}

int bpe_encode_fragment(const struct tokenizer *t, struct bpe_scratch *s, const char *text, size_t len,
                        size_t offset, struct tok_vec *out, struct vkinfer_err *err) {
        s->text = text;
        s->text_off = offset;
        if (!t->nfc || !may_need_nfc(text, len))
                return split(t, s, 0, text, len, out, err);
        /* Qwen's tokenizer normalizes to NFC after splitting out added tokens. */
        char *norm;
        size_t nlen;
        int r = nfc(text, len, &norm, &nlen);
        if (r < 0)
                return err_set(err, r, "NFC normalization of %zu bytes failed", len);
        s->text = norm;
        r = split(t, s, 0, norm, nlen, out, err);
        free(norm);
        return r;
}
