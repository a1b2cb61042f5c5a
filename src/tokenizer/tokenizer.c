/* The tokenizer: loading the vocabulary from GGUF metadata, the lookup
 * tables, splitting the text on added tokens, and the encode entry point.
 * The BPE and SentencePiece algorithms live in tokenizer-bpe.c and
 * tokenizer-spm.c, decoding in tokenizer-decode.c. */
#include "tokenizer/tokenizer-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- Hashing and the string -> id maps ---- */

uint64_t tok_hash(const char *s, size_t n) {
        /* FNV-1a: tokens are short, and this is only used at load time and
         * for whole-word lookups. */
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++) {
                h ^= (uint8_t) s[i];
                h *= 0x100000001b3ull;
        }
        return h ^ (h >> 29);
}

static const char *map_key(const struct tokenizer *t, const struct tok_map *m, int32_t id, size_t *len) {
        const struct tok_entry *e = &t->tokens[id];
        if (m->by_piece) {
                *len = e->piece_len;
                return t->blob + e->piece_off;
        }
        *len = e->text_len;
        return t->blob + e->text_off;
}

int32_t tok_map_find(const struct tokenizer *t, const struct tok_map *m, const char *s, size_t n) {
        if (!m->slots)
                return -1;
        for (uint32_t i = (uint32_t) tok_hash(s, n) & m->mask;; i = (i + 1) & m->mask) {
                int32_t id = m->slots[i];
                if (id < 0)
                        return -1;
                size_t kl;
                const char *k = map_key(t, m, id, &kl);
                if (kl == n && memcmp(k, s, n) == 0)
                        return id;
        }
}

/* Inserts id; when the key is already there, `replace` decides who stays. */
static void tok_map_insert(const struct tokenizer *t, struct tok_map *m, int32_t id, bool replace) {
        size_t n;
        const char *s = map_key(t, m, id, &n);
        for (uint32_t i = (uint32_t) tok_hash(s, n) & m->mask;; i = (i + 1) & m->mask) {
                int32_t old = m->slots[i];
                if (old < 0) {
                        m->slots[i] = id;
                        return;
                }
                size_t kl;
                const char *k = map_key(t, m, old, &kl);
                if (kl == n && memcmp(k, s, n) == 0) {
                        if (replace)
                                m->slots[i] = id;
                        return;
                }
        }
}

static int tok_map_init(struct tok_map *m, size_t n, bool by_piece) {
        size_t cap = 16;
        while (cap < n * 2)
                cap *= 2;
        m->slots = malloc(cap * sizeof(int32_t));
        if (!m->slots)
                return -ENOMEM;
        memset(m->slots, 0xff, cap * sizeof(int32_t));
        m->mask = (uint32_t) (cap - 1);
        m->by_piece = by_piece;
        return 0;
}

/* ---- GPT-2 byte-level alphabet ---- */

/* bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the rest
 * are moved to U+0100 upwards in byte order. Returns the code point of b. */
static uint32_t byte_to_cp(uint8_t b) {
        if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae))
                return b;
        uint32_t n = 0;
        for (uint32_t x = 0; x < b; x++)
                if (!((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae)))
                        n++;
        return 256 + n;
}

/* Decodes one UTF-8 code point; 0 on an invalid or truncated sequence. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
        size_t l = utf8_len(s[0]);
        if (l > n || (l == 1 && s[0] >= 0x80))
                return 0;
        uint32_t c = l == 1 ? s[0] : l == 2 ? s[0] & 0x1f : l == 3 ? s[0] & 0x0f : s[0] & 0x07;
        for (size_t i = 1; i < l; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        *cp = c;
        return l;
}

/* The bytes a byte-level token text stands for, written to out (at most
 * n bytes: every character gives one byte). False when a character is not
 * in the alphabet: then the token stands for its text as is, as HF does. */
static bool byte_level_decode(const int16_t *cp_to_byte, const char *s, size_t n, char *out, size_t *out_n) {
        size_t o = 0;
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t l = utf8_decode((const uint8_t *) s + i, n - i, &cp);
                if (!l || cp >= 512 || cp_to_byte[cp] < 0)
                        return false;
                out[o++] = (char) cp_to_byte[cp];
                i += l;
        }
        *out_n = o;
        return true;
}

/* ---- Loading ---- */

static int get_id(const struct gguf_file *f, const char *key, int32_t n_vocab, int32_t def, int32_t *ret,
                  struct vkinfer_err *err) {
        int64_t v;
        int r = gguf_get_i64(f, key, &v, err);
        if (r == -ENOENT) {
                *ret = def < n_vocab ? def : -1;
                return 0;
        }
        if (r < 0)
                return r;
        /* Real files sometimes name an id past the vocabulary (a padding id
         * equal to n_vocab) or -1: that token does not exist, so it is "none". */
        *ret = v >= 0 && v < n_vocab ? (int32_t) v : -1;
        return 0;
}

static int get_flag(const struct gguf_file *f, const char *key, bool def, bool *ret, struct vkinfer_err *err) {
        int r = gguf_get_bool(f, key, ret, err);
        if (r == -ENOENT) {
                *ret = def;
                return 0;
        }
        return r;
}

static int build_trie(struct tokenizer *t) {
        size_t cap = 64;
        t->trie = malloc(cap * sizeof(*t->trie));
        if (!t->trie)
                return -ENOMEM;
        t->trie[0] = (struct trie_node) {-1, -1, -1, 0};
        t->n_trie = 1;
        for (int32_t id = 0; id < t->n_vocab; id++) {
                uint8_t ty = t->tokens[id].type;
                if (ty != TOKEN_TYPE_CONTROL && ty != TOKEN_TYPE_USER_DEFINED && ty != TOKEN_TYPE_UNKNOWN)
                        continue;
                const uint8_t *s = (const uint8_t *) tok_text(t, id);
                size_t n = t->tokens[id].text_len;
                if (n == 0)
                        continue;
                t->special_first[s[0] >> 3] |= (uint8_t) (1u << (s[0] & 7));
                int32_t node = 0;
                for (size_t i = 0; i < n; i++) {
                        int32_t c = t->trie[node].child;
                        while (c >= 0 && t->trie[c].byte != s[i])
                                c = t->trie[c].sibling;
                        if (c < 0) {
                                if (t->n_trie == cap) {
                                        cap *= 2;
                                        struct trie_node *nt = realloc(t->trie, cap * sizeof(*nt));
                                        if (!nt)
                                                return -ENOMEM;
                                        t->trie = nt;
                                }
                                c = (int32_t) t->n_trie++;
                                t->trie[c] = (struct trie_node) {-1, t->trie[node].child, -1, s[i]};
                                t->trie[node].child = c;
                        }
                        node = c;
                }
                /* Duplicates: the later id wins, as in the text map. */
                t->trie[node].id = id;
        }
        return 0;
}

/* Control tokens that end a turn in the model families we know, by text. */
static const char *const eog_texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
        "<EOT>", "_<EOT>", "<|end_of_text|>",
        "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>", /* <｜end▁of▁sentence｜> */
};

static void set_eog(struct tokenizer *t, int32_t id) {
        if (id >= 0 && id < t->n_vocab)
                t->eog[id >> 3] |= (uint8_t) (1u << (id & 7));
}

static int load_special(struct tokenizer *t, const struct gguf_file *f, struct vkinfer_err *err) {
        bool spm = t->kind == TOKENIZER_SPM;
        int r;
        if ((r = get_id(f, "tokenizer.ggml.bos_token_id", t->n_vocab, spm ? 1 : -1, &t->bos, err)) < 0 ||
            (r = get_id(f, "tokenizer.ggml.eos_token_id", t->n_vocab, spm ? 2 : -1, &t->eos, err)) < 0 ||
            (r = get_id(f, "tokenizer.ggml.eot_token_id", t->n_vocab, -1, &t->eot, err)) < 0 ||
            (r = get_id(f, "tokenizer.ggml.eom_token_id", t->n_vocab, -1, &t->eom, err)) < 0 ||
            (r = get_id(f, "tokenizer.ggml.padding_token_id", t->n_vocab, -1, &t->pad, err)) < 0 ||
            (r = get_id(f, "tokenizer.ggml.unknown_token_id", t->n_vocab, spm ? 0 : -1, &t->unk, err)) < 0)
                return r;
        /* Llama 3 style vocabularies add BOS even when the key is missing. */
        bool def_bos = spm || t->ignore_merges;
        if ((r = get_flag(f, "tokenizer.ggml.add_bos_token", def_bos, &t->add_bos, err)) < 0 ||
            (r = get_flag(f, "tokenizer.ggml.add_eos_token", false, &t->add_eos, err)) < 0 ||
            (r = get_flag(f, "tokenizer.ggml.add_space_prefix", spm, &t->add_space_prefix, err)) < 0)
                return r;
        if (t->bos < 0)
                t->add_bos = false;
        if (t->eos < 0)
                t->add_eos = false;

        t->eog = calloc(((size_t) t->n_vocab + 7) / 8, 1);
        if (!t->eog)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(eog_texts); i++) {
                int32_t id = tok_map_find(t, &t->text_map, eog_texts[i], strlen(eog_texts[i]));
                if (id < 0 || t->tokens[id].type != TOKEN_TYPE_CONTROL)
                        continue;
                set_eog(t, id);
                /* The first turn-ending token found is the EOT when the file
                 * does not name one (the list is in llama.cpp's order). */
                if (t->eot < 0 && i < 5)
                        t->eot = id;
        }
        set_eog(t, t->eos);
        set_eog(t, t->eot);
        set_eog(t, t->eom);
        return 0;
}

/* Copies the vocabulary strings and computes each token's piece. */
static int load_vocab(struct tokenizer *t, const struct gguf_file *f, struct vkinfer_err *err) {
        const struct gguf_value *toks, *types = NULL, *scores = NULL;
        int r = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, err);
        if (r == -ENOENT)
                return err_set(err, -ENOENT, "tokenizer.ggml.tokens is missing");
        if (r < 0)
                return r;
        if (toks->arr.n == 0 || toks->arr.n > INT32_MAX / 2)
                return err_set(err, -EINVAL, "tokenizer.ggml.tokens has %llu entries",
                               (unsigned long long) toks->arr.n);
        t->n_vocab = (int32_t) toks->arr.n;

        r = gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_COUNT_, &types, err);
        if (r == -ENOENT)
                types = NULL;
        else if (r < 0)
                return r;
        else if (types->arr.n != toks->arr.n || types->arr.type == GGUF_TYPE_STRING ||
                 types->arr.type == GGUF_TYPE_ARRAY)
                return err_set(err, -EINVAL, "tokenizer.ggml.token_type must hold %d integers",
                               t->n_vocab);
        r = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, &scores, err);
        if (r == -ENOENT)
                scores = NULL;
        else if (r < 0)
                return r;
        else if (scores->arr.n != toks->arr.n)
                return err_set(err, -EINVAL, "tokenizer.ggml.scores has %llu entries, not %d",
                               (unsigned long long) scores->arr.n, t->n_vocab);

        /* Each token needs its text and its piece (never longer), NUL-ended. */
        uint64_t blob_size = 0;
        for (int32_t i = 0; i < t->n_vocab; i++) {
                uint64_t l = toks->arr.strs[i].len;
                if (l > UINT32_MAX / 4)
                        return err_set(err, -EINVAL, "tokenizer.ggml.tokens[%d] is too long", i);
                blob_size += 2 * l + 2;
        }
        if (blob_size > UINT32_MAX)
                return err_set(err, -EINVAL, "tokenizer.ggml.tokens are too large in total");
        t->tokens = calloc((size_t) t->n_vocab, sizeof(*t->tokens));
        t->blob = malloc(blob_size);
        if (!t->tokens || !t->blob)
                return -ENOMEM;

        int16_t cp_to_byte[512];
        memset(cp_to_byte, 0xff, sizeof(cp_to_byte));
        for (int b = 0; b < 256; b++)
                cp_to_byte[byte_to_cp((uint8_t) b)] = (int16_t) b;

        uint32_t off = 0;
        for (int32_t i = 0; i < t->n_vocab; i++) {
                struct tok_entry *e = &t->tokens[i];
                struct gguf_str s = toks->arr.strs[i];
                int64_t ty = types ? gguf_arr_get_i64(types, (uint64_t) i) : TOKEN_TYPE_NORMAL;
                if (ty < 0 || ty > TOKEN_TYPE_BYTE)
                        return err_set(err, -EINVAL, "tokenizer.ggml.token_type[%d] = %lld is not a token type",
                                       i, (long long) ty);
                e->type = (uint8_t) (ty == TOKEN_TYPE_UNDEFINED ? TOKEN_TYPE_NORMAL : ty);
                e->score = scores ? (float) gguf_arr_get_f64(scores, (uint64_t) i) : 0.0f;
                e->text_off = off;
                e->text_len = (uint32_t) s.len;
                memcpy(t->blob + off, s.ptr, s.len);
                t->blob[off + s.len] = 0;
                off += (uint32_t) s.len + 1;

                char *piece = t->blob + off;
                size_t pn = 0;
                const char *text = t->blob + e->text_off;
                unsigned hex;
                if (e->type == TOKEN_TYPE_UNUSED) {
                        pn = 0;
                } else if (e->type == TOKEN_TYPE_BYTE && s.len == 6 && sscanf(text, "<0x%02X>", &hex) == 1) {
                        piece[0] = (char) hex;
                        pn = 1;
                } else if (e->type != TOKEN_TYPE_NORMAL && e->type != TOKEN_TYPE_BYTE) {
                        memcpy(piece, text, s.len);
                        pn = s.len;
                } else if (t->kind == TOKENIZER_BPE) {
                        if (!byte_level_decode(cp_to_byte, text, s.len, piece, &pn)) {
                                memcpy(piece, text, s.len);
                                pn = s.len;
                        }
                } else {
                        /* SPM: "▁" (U+2581) is the space. */
                        for (size_t j = 0; j < s.len;) {
                                if (j + 3 <= s.len && memcmp(text + j, "\xe2\x96\x81", 3) == 0) {
                                        piece[pn++] = ' ';
                                        j += 3;
                                } else {
                                        piece[pn++] = text[j++];
                                }
                        }
                }
                e->piece_off = off;
                e->piece_len = (uint32_t) pn;
                piece[pn] = 0;
                off += (uint32_t) pn + 1;
        }

        if (tok_map_init(&t->text_map, (size_t) t->n_vocab, false) < 0)
                return -ENOMEM;
        /* Among duplicates the last wins, as in llama.cpp, except that a
         * NORMAL token always wins over an added one with the same text: the
         * merges and the byte alphabet name NORMAL tokens. */
        for (int pass = 0; pass < 2; pass++)
                for (int32_t i = 0; i < t->n_vocab; i++)
                        if ((t->tokens[i].type == TOKEN_TYPE_NORMAL) == (pass == 1))
                                tok_map_insert(t, &t->text_map, i, true);

        for (int b = 0; b < 256; b++)
                t->byte_tokens[b] = -1;
        if (t->kind == TOKENIZER_BPE) {
                if (tok_map_init(&t->piece_map, (size_t) t->n_vocab, true) < 0)
                        return -ENOMEM;
                for (int32_t i = 0; i < t->n_vocab; i++)
                        if (t->tokens[i].type == TOKEN_TYPE_NORMAL && t->tokens[i].piece_len > 0)
                                tok_map_insert(t, &t->piece_map, i, false);
                for (int b = 0; b < 256; b++) {
                        char c = (char) b;
                        t->byte_tokens[b] = tok_map_find(t, &t->piece_map, &c, 1);
                }
        } else {
                for (int b = 0; b < 256; b++) {
                        char buf[8];
                        snprintf(buf, sizeof(buf), "<0x%02X>", b);
                        t->byte_tokens[b] = tok_map_find(t, &t->text_map, buf, 6);
                }
        }
        return 0;
}

int tokenizer_new_from_gguf(const struct gguf_file *f, struct tokenizer **ret, struct vkinfer_err *err) {
        struct gguf_str model;
        int r = gguf_get_str(f, "tokenizer.ggml.model", &model, err);
        if (r == -ENOENT)
                return err_set(err, -ENOENT, "tokenizer.ggml.model is missing: the file has no tokenizer");
        if (r < 0)
                return r;

        struct tokenizer *t = calloc(1, sizeof(*t));
        if (!t)
                return err_set(err, -ENOMEM, "out of memory");
        t->bos = t->eos = t->eot = t->eom = t->pad = t->unk = -1;
        if (gguf_str_eq(model, "gpt2")) {
                t->kind = TOKENIZER_BPE;
        } else if (gguf_str_eq(model, "llama")) {
                t->kind = TOKENIZER_SPM;
        } else {
                _cleanup_free_ char *m = gguf_str_dup(model);
                r = err_set(err, -EOPNOTSUPP, "tokenizer.ggml.model '%s' is not supported (only 'gpt2' and 'llama')",
                            m ? m : "?");
                goto fail;
        }

        r = load_vocab(t, f, err);
        if (r < 0)
                goto fail;

        if (t->kind == TOKENIZER_BPE) {
                struct gguf_str pre;
                _cleanup_free_ char *pre_s = NULL;
                r = gguf_get_str(f, "tokenizer.ggml.pre", &pre, err);
                if (r == -ENOENT)
                        pre_s = NULL;
                else if (r < 0)
                        goto fail;
                else if (!(pre_s = gguf_str_dup(pre))) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = bpe_setup_pre(t, pre_s, err);
                if (r < 0)
                        goto fail;
                r = bpe_load_merges(t, f, err);
                if (r < 0)
                        goto fail;
        } else {
                snprintf(t->pre_name, sizeof(t->pre_name), "llama-spm");
        }

        r = load_special(t, f, err);
        if (r < 0)
                goto fail;
        r = build_trie(t);
        if (r < 0)
                goto fail;
        *ret = t;
        return 0;
fail:
        if (r == -ENOMEM)
                err_set(err, r, "out of memory loading the tokenizer");
        tokenizer_free(t);
        return r;
}

struct tokenizer *tokenizer_free(struct tokenizer *t) {
        if (!t)
                return NULL;
        for (unsigned i = 0; i < t->n_regex; i++)
                pcre2_code_free(t->regex[i]);
        free(t->tokens);
        free(t->blob);
        free(t->text_map.slots);
        free(t->piece_map.slots);
        free(t->merges);
        free(t->trie);
        free(t->eog);
        free(t);
        return NULL;
}

/* ---- Encoding ---- */

/* The longest added token starting at s (leftmost-longest, as HF's added
 * vocabulary matches); its length in *len, or -1. Control and unknown
 * tokens count only with parse_special; user-defined ones always. */
static int32_t match_added(const struct tokenizer *t, const uint8_t *s, size_t n, bool parse_special, size_t *len) {
        int32_t best = -1, node = 0;
        for (size_t i = 0; i < n; i++) {
                int32_t c = t->trie[node].child;
                while (c >= 0 && t->trie[c].byte != s[i])
                        c = t->trie[c].sibling;
                if (c < 0)
                        break;
                node = c;
                int32_t id = t->trie[node].id;
                if (id >= 0 && (parse_special || t->tokens[id].type == TOKEN_TYPE_USER_DEFINED)) {
                        best = id;
                        *len = i + 1;
                }
        }
        return best;
}

struct encode_state {
        const struct tokenizer *t;
        const char *text; /* the whole text */
        struct bpe_scratch *bpe;
        struct spm_scratch *spm;
        bool prev_special; /* SPM: the last thing emitted was an added token (or nothing) */
        struct tok_vec out;
};

static int encode_raw(struct encode_state *st, const char *s, size_t n, struct vkinfer_err *err) {
        if (n == 0)
                return 0;
        int r;
        if (st->t->kind == TOKENIZER_BPE)
                r = bpe_encode_fragment(st->t, st->bpe, s, n, (size_t) (s - st->text), &st->out, err);
        else
                r = spm_encode_fragment(st->t, st->spm, s, n, st->t->add_space_prefix && st->prev_special, &st->out,
                                        err);
        st->prev_special = false;
        return r;
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool add_bos,
                     bool parse_special, int32_t **ret_ids, size_t *ret_n, struct vkinfer_err *err) {
        struct encode_state st = {.t = t, .text = text, .prev_special = true};
        int r = 0;
        if (!text && len)
                return err_set(err, -EINVAL, "no text");
        if (t->kind == TOKENIZER_BPE)
                st.bpe = bpe_scratch_new(t);
        else
                st.spm = spm_scratch_new();
        if ((t->kind == TOKENIZER_BPE && !st.bpe) || (t->kind == TOKENIZER_SPM && !st.spm)) {
                r = -ENOMEM;
                goto out;
        }
        if (tok_vec_push(&st.out, 0) < 0) { /* ensure a non-NULL result even for no tokens */
                r = -ENOMEM;
                goto out;
        }
        st.out.n = 0;
        if (add_bos && t->add_bos && tok_vec_push(&st.out, t->bos) < 0) {
                r = -ENOMEM;
                goto out;
        }

        const uint8_t *s = (const uint8_t *) text;
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
                if (!(t->special_first[s[i] >> 3] & (1u << (s[i] & 7))))
                        continue;
                size_t mlen = 0;
                int32_t id = match_added(t, s + i, len - i, parse_special, &mlen);
                if (id < 0)
                        continue;
                r = encode_raw(&st, text + start, i - start, err);
                if (r < 0)
                        goto out;
                if (tok_vec_push(&st.out, id) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                st.prev_special = true;
                i += mlen - 1;
                start = i + 1;
        }
        r = encode_raw(&st, text + start, len - start, err);
        if (r < 0)
                goto out;
        if (add_bos && t->add_eos && tok_vec_push(&st.out, t->eos) < 0) {
                r = -ENOMEM;
                goto out;
        }
        *ret_ids = st.out.v;
        *ret_n = st.out.n;
        st.out.v = NULL;
out:
        if (r == -ENOMEM || r == -1) {
                r = -ENOMEM;
                err_set(err, r, "out of memory tokenizing %zu bytes", len);
        }
        free(st.out.v);
        bpe_scratch_free(st.bpe);
        spm_scratch_free(st.spm);
        return r;
}

/* ---- Vocabulary facts ---- */

enum tokenizer_kind tokenizer_kind(const struct tokenizer *t) {
        return t->kind;
}
const char *tokenizer_pre_name(const struct tokenizer *t) {
        return t->pre_name;
}
int32_t tokenizer_n_vocab(const struct tokenizer *t) {
        return t->n_vocab;
}
int32_t tokenizer_bos(const struct tokenizer *t) {
        return t->bos;
}
int32_t tokenizer_eos(const struct tokenizer *t) {
        return t->eos;
}
int32_t tokenizer_eot(const struct tokenizer *t) {
        return t->eot;
}
int32_t tokenizer_pad(const struct tokenizer *t) {
        return t->pad;
}
int32_t tokenizer_unk(const struct tokenizer *t) {
        return t->unk;
}
bool tokenizer_add_bos(const struct tokenizer *t) {
        return t->add_bos;
}
bool tokenizer_add_eos(const struct tokenizer *t) {
        return t->add_eos;
}

bool tokenizer_is_eog(const struct tokenizer *t, int32_t id) {
        return id >= 0 && id < t->n_vocab && (t->eog[id >> 3] & (1u << (id & 7)));
}

bool tokenizer_is_special(const struct tokenizer *t, int32_t id) {
        if (id < 0 || id >= t->n_vocab)
                return false;
        return t->tokens[id].type == TOKEN_TYPE_CONTROL || t->tokens[id].type == TOKEN_TYPE_UNKNOWN;
}

enum tokenizer_token_type tokenizer_token_type(const struct tokenizer *t, int32_t id) {
        if (id < 0 || id >= t->n_vocab)
                return TOKEN_TYPE_UNDEFINED;
        return (enum tokenizer_token_type) t->tokens[id].type;
}

const char *tokenizer_token_text(const struct tokenizer *t, int32_t id, size_t *ret_len) {
        if (id < 0 || id >= t->n_vocab)
                return NULL;
        if (ret_len)
                *ret_len = t->tokens[id].text_len;
        return tok_text(t, id);
}

const char *tokenizer_token_piece(const struct tokenizer *t, int32_t id, size_t *ret_len) {
        if (id < 0 || id >= t->n_vocab)
                return NULL;
        if (ret_len)
                *ret_len = t->tokens[id].piece_len;
        return tok_piece(t, id);
}

int32_t tokenizer_find_token(const struct tokenizer *t, const char *text, size_t len) {
        return tok_map_find(t, &t->text_map, text, len);
}
