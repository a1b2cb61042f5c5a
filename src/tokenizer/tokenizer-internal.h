/* Internals shared by the tokenizer's files: the vocabulary tables, the
 * pre-tokenizer regexes, and the per-call output vector. */
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/tokenizer.h"

/* One vocabulary entry; strings live in tokenizer.blob (NUL-terminated). */
struct tok_entry {
        uint32_t text_off, text_len;   /* the vocabulary string */
        uint32_t piece_off, piece_len; /* the bytes it decodes to */
        float score;                   /* SPM merge priority */
        uint8_t type;                  /* enum tokenizer_token_type */
};

/* Open addressing from a byte string (a token's text or piece) to its id. */
struct tok_map {
        int32_t *slots; /* -1: empty */
        uint32_t mask;
        bool by_piece; /* keys are pieces rather than texts */
};

/* A BPE merge: the pair (left id, right id) -> its rank and the merged id. */
struct merge_slot {
        uint64_t key; /* left << 32 | right; UINT64_MAX: empty */
        uint32_t rank;
        int32_t result;
};

/* Byte trie of the added tokens matched in the text before tokenizing. */
struct trie_node {
        int32_t child;   /* first child, -1 none */
        int32_t sibling; /* next sibling, -1 none */
        int32_t id;      /* token ending here, -1 none */
        uint8_t byte;
};

#define TOK_MAX_REGEX 8

struct tokenizer {
        enum tokenizer_kind kind;
        char pre_name[64];
        int32_t n_vocab;
        struct tok_entry *tokens;
        char *blob;

        struct tok_map text_map;  /* vocabulary string -> id (every token) */
        struct tok_map piece_map; /* BPE: bytes of a NORMAL token -> id */
        int32_t byte_tokens[256]; /* BPE: the one-byte token; SPM: <0xXX> */

        struct merge_slot *merges; /* BPE */
        uint32_t merge_mask;
        bool ignore_merges; /* BPE: a whole pre-token that is in the vocab is kept (Llama 3) */
        bool nfc;           /* BPE: text is NFC-normalized first (Qwen) */

        pcre2_code *regex[TOK_MAX_REGEX]; /* BPE pre-tokenizer: applied in turn, isolating matches */
        unsigned n_regex;

        bool add_space_prefix; /* SPM: "▁" before the text and after special tokens */

        struct trie_node *trie; /* node 0 is the root */
        size_t n_trie;
        uint8_t special_first[32]; /* bitmap of the bytes an added token starts with */

        int32_t bos, eos, eot, eom, pad, unk;
        bool add_bos, add_eos;
        uint8_t *eog; /* one bit per id */
};

/* A growing id list for one encode call. */
struct tok_vec {
        int32_t *v;
        size_t n, cap;
};

static inline int tok_vec_push(struct tok_vec *o, int32_t id) {
        if (o->n == o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 64;
                int32_t *v = realloc(o->v, cap * sizeof(*v));
                if (!v)
                        return -1;
                o->v = v;
                o->cap = cap;
        }
        o->v[o->n++] = id;
        return 0;
}

static inline const char *tok_text(const struct tokenizer *t, int32_t id) {
        return t->blob + t->tokens[id].text_off;
}
static inline const char *tok_piece(const struct tokenizer *t, int32_t id) {
        return t->blob + t->tokens[id].piece_off;
}

uint64_t tok_hash(const char *s, size_t n);
int32_t tok_map_find(const struct tokenizer *t, const struct tok_map *m, const char *s, size_t n);

/* Length of the UTF-8 sequence a lead byte announces (1 for bytes that
 * cannot start one), as llama.cpp and HF count characters. */
static inline size_t utf8_len(uint8_t c) {
        static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
        return lens[c >> 4];
}

/* ---- tokenizer-bpe.c ---- */
/* Sets t->regex / ignore_merges for the pre-tokenizer `pre` (NULL: default). */
int bpe_setup_pre(struct tokenizer *t, const char *pre, struct vkinfer_err *err);
/* Loads tokenizer.ggml.merges into t->merges. */
int bpe_load_merges(struct tokenizer *t, const struct gguf_file *f, struct vkinfer_err *err);

struct bpe_scratch;
struct bpe_scratch *bpe_scratch_new(const struct tokenizer *t);
void bpe_scratch_free(struct bpe_scratch *s);
/* Appends the tokens of raw text (no added tokens in it; `offset` is where
 * it starts in the whole text, for messages) to out. */
int bpe_encode_fragment(const struct tokenizer *t, struct bpe_scratch *s, const char *text, size_t len,
                        size_t offset, struct tok_vec *out, struct vkinfer_err *err);

/* ---- tokenizer-spm.c ---- */
struct spm_scratch;
struct spm_scratch *spm_scratch_new(void);
void spm_scratch_free(struct spm_scratch *s);
int spm_encode_fragment(const struct tokenizer *t, struct spm_scratch *s, const char *text, size_t len,
                        bool space_prefix, struct tok_vec *out, struct vkinfer_err *err);
