/* Decoding ids back to bytes, streaming-safe: the bytes of a UTF-8
 * character split across tokens are held back until it is complete. No
 * clean-up of spaces around punctuation: decode(encode(s)) == s. */
#include "tokenizer/tokenizer-internal.h"

#include <errno.h>
#include <string.h>

struct tokenizer_decoder {
        const struct tokenizer *t;
        unsigned flags;
        bool started;      /* a token has produced bytes since the last flush */
        uint8_t held[4];   /* an incomplete UTF-8 character */
        size_t n_held;
        char *out;
        size_t out_cap;
};

int tokenizer_decoder_new(const struct tokenizer *t, unsigned flags, struct tokenizer_decoder **ret) {
        struct tokenizer_decoder *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->t = t;
        d->flags = flags;
        *ret = d;
        return 0;
}

struct tokenizer_decoder *tokenizer_decoder_free(struct tokenizer_decoder *d) {
        if (d) {
                free(d->out);
                free(d);
        }
        return NULL;
}

/* Length of the valid UTF-8 character at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF); 0 if the bytes can never form one;
 * -1 if they are a valid but incomplete start. */
static int utf8_valid_len(const uint8_t *s, size_t n) {
        uint8_t c = s[0];
        if (c < 0x80)
                return 1;
        int l;
        uint8_t lo = 0x80, hi = 0xbf; /* the range of the second byte */
        if (c >= 0xc2 && c <= 0xdf)
                l = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                l = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                l = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else
                return 0;
        for (int i = 1; i < l; i++) {
                if ((size_t) i >= n)
                        return -1;
                if (i == 1 ? (s[i] < lo || s[i] > hi) : (s[i] & 0xc0) != 0x80)
                        return 0;
        }
        return l;
}

static int out_reserve(struct tokenizer_decoder *d, size_t n) {
        if (n + 1 <= d->out_cap)
                return 0;
        size_t cap = d->out_cap ? d->out_cap : 64;
        while (cap < n + 1)
                cap *= 2;
        char *o = realloc(d->out, cap);
        if (!o)
                return -ENOMEM;
        d->out = o;
        d->out_cap = cap;
        return 0;
}

/* Moves held + piece into d->out, keeping back an incomplete character at
 * the end unless `final`. With REPLACE_INVALID every byte that cannot start
 * a valid character becomes U+FFFD. */
static int emit(struct tokenizer_decoder *d, const char *piece, size_t pn, bool final, size_t *ret_len) {
        size_t total = d->n_held + pn;
        if (out_reserve(d, total * 3 + 3) < 0)
                return -ENOMEM;
        /* Gather into a contiguous input: held bytes then the piece. */
        uint8_t *in = (uint8_t *) d->out + total * 2 + 2;
        memcpy(in, d->held, d->n_held);
        memcpy(in + d->n_held, piece, pn);
        bool replace = d->flags & TOKENIZER_DECODE_REPLACE_INVALID;
        size_t o = 0, i = 0;
        d->n_held = 0;
        while (i < total) {
                int l = utf8_valid_len(in + i, total - i);
                if (l < 0) {
                        if (!final) {
                                memcpy(d->held, in + i, total - i);
                                d->n_held = total - i;
                                break;
                        }
                        l = 0;
                }
                if (l > 0) {
                        memmove(d->out + o, in + i, (size_t) l);
                        o += (size_t) l;
                        i += (size_t) l;
                } else if (replace) {
                        memcpy(d->out + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                } else {
                        d->out[o++] = (char) in[i++];
                }
        }
        d->out[o] = 0;
        *ret_len = o;
        return 0;
}

int tokenizer_decoder_push(struct tokenizer_decoder *d, int32_t id, const char **ret_text, size_t *ret_len,
                           struct vkinfer_err *err) {
        const struct tokenizer *t = d->t;
        if (id < 0 || id >= t->n_vocab)
                return err_set(err, -EINVAL, "token id %d is out of range (vocabulary of %d)", id, t->n_vocab);
        const char *piece = tok_piece(t, id);
        size_t pn = t->tokens[id].piece_len;
        if (tokenizer_is_special(t, id) && !(d->flags & TOKENIZER_DECODE_SPECIAL))
                pn = 0;
        if (pn && !d->started) {
                d->started = true;
                if (t->kind == TOKENIZER_SPM && (d->flags & TOKENIZER_DECODE_STRIP_LEADING_SPACE) &&
                    t->add_space_prefix && piece[0] == ' ') {
                        piece++;
                        pn--;
                }
        }
        if (emit(d, piece, pn, false, ret_len) < 0)
                return err_set(err, -ENOMEM, "out of memory");
        *ret_text = d->out;
        return 0;
}

int tokenizer_decoder_flush(struct tokenizer_decoder *d, const char **ret_text, size_t *ret_len) {
        if (emit(d, "", 0, true, ret_len) < 0)
                return -ENOMEM;
        d->started = false;
        *ret_text = d->out;
        return 0;
}

int tokenizer_decode_all(const struct tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                         char **ret_text, size_t *ret_len, struct vkinfer_err *err) {
        struct tokenizer_decoder *d = NULL;
        char *buf = NULL;
        size_t len = 0, cap = 0;
        int r = tokenizer_decoder_new(t, flags, &d);
        if (r < 0)
                return err_set(err, r, "out of memory");
        for (size_t i = 0; i <= n; i++) {
                const char *s;
                size_t sl;
                r = i < n ? tokenizer_decoder_push(d, ids[i], &s, &sl, err) : tokenizer_decoder_flush(d, &s, &sl);
                if (r < 0)
                        goto fail;
                if (len + sl + 1 > cap) {
                        size_t nc = cap ? cap : 256;
                        while (nc < len + sl + 1)
                                nc *= 2;
                        char *nb = realloc(buf, nc);
                        if (!nb) {
                                r = err_set(err, -ENOMEM, "out of memory");
                                goto fail;
                        }
                        buf = nb;
                        cap = nc;
                }
                memcpy(buf + len, s, sl);
                len += sl;
        }
        if (!buf && !(buf = malloc(1))) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        buf[len] = 0;
        tokenizer_decoder_free(d);
        *ret_text = buf;
        if (ret_len)
                *ret_len = len;
        return 0;
fail:
        free(buf);
        tokenizer_decoder_free(d);
        return r;
}
