/* SentencePiece-style BPE ("llama" in GGUF), as Llama 1/2 and their HF
 * tokenizers do it: spaces become "▁" (one in front of the text and after
 * each added token), characters are merged by the highest token score
 * (leftmost among equals), and characters no token covers fall back to
 * <0xXX> byte tokens. */
#include "tokenizer/tokenizer-internal.h"

#include <errno.h>
#include <string.h>

struct spm_sym {
        int32_t prev, next;
        uint32_t off, n; /* bytes in the escaped text; n == 0: merged away */
};

struct spm_bigram {
        float score;
        int32_t left, right;
        uint32_t size; /* bytes of the pair when it was seen */
};

struct spm_scratch {
        char *buf;
        size_t buf_cap;
        struct spm_sym *sym;
        size_t sym_cap;
        struct spm_bigram *heap;
        size_t heap_n, heap_cap;
};

struct spm_scratch *spm_scratch_new(void) {
        return calloc(1, sizeof(struct spm_scratch));
}

void spm_scratch_free(struct spm_scratch *s) {
        if (!s)
                return;
        free(s->buf);
        free(s->sym);
        free(s->heap);
        free(s);
}

/* a comes out before b: higher score, then the leftmost. */
static inline bool bigram_before(const struct spm_bigram *a, const struct spm_bigram *b) {
        return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(struct spm_scratch *s, struct spm_bigram e) {
        if (s->heap_n == s->heap_cap) {
                size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
                struct spm_bigram *h = realloc(s->heap, cap * sizeof(*h));
                if (!h)
                        return -ENOMEM;
                s->heap = h;
                s->heap_cap = cap;
        }
        size_t i = s->heap_n++;
        while (i > 0) {
                size_t p = (i - 1) / 2;
                if (!bigram_before(&e, &s->heap[p]))
                        break;
                s->heap[i] = s->heap[p];
                i = p;
        }
        s->heap[i] = e;
        return 0;
}

static struct spm_bigram heap_pop(struct spm_scratch *s) {
        struct spm_bigram top = s->heap[0], last = s->heap[--s->heap_n];
        size_t i = 0, n = s->heap_n;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= n)
                        break;
                if (c + 1 < n && bigram_before(&s->heap[c + 1], &s->heap[c]))
                        c++;
                if (!bigram_before(&s->heap[c], &last))
                        break;
                s->heap[i] = s->heap[c];
                i = c;
        }
        if (n)
                s->heap[i] = last;
        return top;
}

static int try_bigram(const struct tokenizer *t, struct spm_scratch *s, int32_t left, int32_t right) {
        if (left < 0 || right < 0)
                return 0;
        const struct spm_sym *l = &s->sym[left], *r = &s->sym[right];
        int32_t id = tok_map_find(t, &t->text_map, s->buf + l->off, l->n + r->n);
        if (id < 0)
                return 0;
        return heap_push(s, (struct spm_bigram) {t->tokens[id].score, left, right, l->n + r->n});
}

/* Emits a final symbol: its token, or its bytes as byte tokens. */
static int emit(const struct tokenizer *t, const char *p, size_t n, struct tok_vec *out) {
        int32_t id = tok_map_find(t, &t->text_map, p, n);
        if (id >= 0)
                return tok_vec_push(out, id) < 0 ? -ENOMEM : 0;
        for (size_t i = 0; i < n; i++) {
                id = t->byte_tokens[(uint8_t) p[i]];
                if (id < 0)
                        id = tok_map_find(t, &t->text_map, p + i, 1);
                if (id < 0)
                        id = t->unk;
                if (id >= 0 && tok_vec_push(out, id) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int spm_encode_fragment(const struct tokenizer *t, struct spm_scratch *s, const char *text, size_t len,
                        bool space_prefix, struct tok_vec *out, struct vkinfer_err *err) {
        /* Escape: every space becomes "▁" (3 bytes). */
        if (len > (SIZE_MAX - 3) / 3 || len > UINT32_MAX / 4)
                return err_set(err, -E2BIG, "text of %zu bytes is too long", len);
        size_t need = 3 * (len + 1);
        if (need > s->buf_cap) {
                char *b = realloc(s->buf, need);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->buf_cap = need;
        }
        size_t n = 0;
        if (space_prefix) {
                memcpy(s->buf, "\xe2\x96\x81", 3);
                n = 3;
        }
        for (size_t i = 0; i < len; i++) {
                if (text[i] == ' ') {
                        memcpy(s->buf + n, "\xe2\x96\x81", 3);
                        n += 3;
                } else {
                        s->buf[n++] = text[i];
                }
        }

        /* One symbol per UTF-8 character. A byte that does not start a
         * complete sequence is a symbol of its own (llama.cpp would swallow
         * the bytes after it; HF never sees invalid UTF-8), so it falls back
         * to its byte token and round-trips. */
        if (n > s->sym_cap) {
                struct spm_sym *y = realloc(s->sym, n * sizeof(*y));
                if (!y)
                        return -ENOMEM;
                s->sym = y;
                s->sym_cap = n;
        }
        int32_t count = 0;
        for (size_t off = 0; off < n; count++) {
                size_t l = utf8_len((uint8_t) s->buf[off]);
                if (l > n - off)
                        l = 1;
                for (size_t j = 1; j < l; j++)
                        if (((uint8_t) s->buf[off + j] & 0xc0) != 0x80)
                                l = 1;
                s->sym[count] = (struct spm_sym) {count - 1, off + l < n ? count + 1 : -1, (uint32_t) off,
                                                  (uint32_t) l};
                off += l;
        }
        if (count == 0)
                return 0;

        s->heap_n = 0;
        for (int32_t i = 1; i < count; i++)
                if (try_bigram(t, s, i - 1, i) < 0)
                        return -ENOMEM;
        while (s->heap_n) {
                struct spm_bigram b = heap_pop(s);
                struct spm_sym *l = &s->sym[b.left], *r = &s->sym[b.right];
                if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
                        continue; /* stale */
                l->n += r->n;
                r->n = 0;
                l->next = r->next;
                if (r->next >= 0)
                        s->sym[r->next].prev = b.left;
                if (try_bigram(t, s, l->prev, b.left) < 0 || try_bigram(t, s, b.left, l->next) < 0)
                        return -ENOMEM;
        }
        for (int32_t i = 0; i >= 0; i = s->sym[i].next)
                if (emit(t, s->buf + s->sym[i].off, s->sym[i].n, out) < 0)
                        return -ENOMEM;
        return 0;
}
