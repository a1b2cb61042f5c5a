#include "sample/text-filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char THINK_OPEN[] = "<think>", THINK_CLOSE[] = "</think>";

int text_out_append(struct text_out *o, const char *s, size_t n) {
        if (o->len + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 64;
                while (cap < o->len + n + 1)
                        cap *= 2;
                char *p = realloc(o->p, cap);
                if (!p)
                        return -ENOMEM;
                o->p = p;
                o->cap = cap;
        }
        memcpy(o->p + o->len, s, n);
        o->len += n;
        o->p[o->len] = 0;
        return 0;
}

void text_out_reset(struct text_out *o) {
        free(o->p);
        memset(o, 0, sizeof(*o));
}

void text_filter_init(struct text_filter *f, const char *const *stop, size_t n_stop, bool parse_think, bool in_think) {
        memset(f, 0, sizeof(*f));
        f->stop = stop;
        f->n_stop = n_stop;
        f->parse_think = parse_think;
        f->in_think = parse_think && in_think;
}

void text_filter_finish(struct text_filter *f) {
        text_out_reset(&f->held);
        text_out_reset(&f->tag);
}

/* Routes visible text to content or reasoning, cutting out the think tags. */
static void route(struct text_filter *f, const char *s, size_t n, struct text_out *content, struct text_out *reasoning) {
        if (!f->parse_think) {
                text_out_append(content, s, n);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const char *want = f->in_think ? THINK_CLOSE : THINK_OPEN;
                size_t wn = strlen(want);
                text_out_append(&f->tag, &s[i], 1);
                if (strncmp(f->tag.p, want, f->tag.len) == 0) {
                        if (f->tag.len == wn) { /* a whole tag: switch, emit nothing */
                                f->in_think = !f->in_think;
                                f->tag.len = 0;
                        }
                        continue;
                }
                /* Not a tag after all: the first held byte is text; retry the rest. */
                struct text_out *dst = f->in_think ? reasoning : content;
                text_out_append(dst, f->tag.p, 1);
                char rest[16];
                size_t rn = f->tag.len - 1;
                memcpy(rest, f->tag.p + 1, rn);
                f->tag.len = 0;
                for (size_t j = 0; j < rn; j++) {
                        text_out_append(&f->tag, &rest[j], 1);
                        if (strncmp(f->tag.p, want, f->tag.len) != 0) {
                                text_out_append(dst, f->tag.p, f->tag.len);
                                f->tag.len = 0;
                        }
                }
        }
}

/* Longest suffix of s that is a proper prefix of some stop string. */
static size_t stop_prefix_len(const struct text_filter *f, const char *s, size_t n) {
        size_t best = 0;
        for (size_t k = 0; k < f->n_stop; k++) {
                size_t sl = strlen(f->stop[k]);
                for (size_t len = sl - 1 < n ? sl - 1 : n; len > best; len--)
                        if (memcmp(s + n - len, f->stop[k], len) == 0) {
                                best = len;
                                break;
                        }
        }
        return best;
}

bool text_filter_feed(struct text_filter *f, const char *text, size_t len, struct text_out *content,
                      struct text_out *reasoning) {
        if (f->stopped)
                return true;
        text_out_append(&f->held, text, len);
        if (!f->held.p)
                return false;
        /* The earliest stop string anywhere in the held text ends the answer. */
        size_t cut = f->held.len;
        for (size_t k = 0; k < f->n_stop; k++) {
                const char *hit = memmem(f->held.p, f->held.len, f->stop[k], strlen(f->stop[k]));
                if (hit && (size_t) (hit - f->held.p) < cut)
                        cut = (size_t) (hit - f->held.p);
        }
        if (cut < f->held.len) {
                route(f, f->held.p, cut, content, reasoning);
                f->held.len = 0;
                f->stopped = true;
                return true;
        }
        size_t keep = stop_prefix_len(f, f->held.p, f->held.len);
        size_t emit = f->held.len - keep;
        route(f, f->held.p, emit, content, reasoning);
        memmove(f->held.p, f->held.p + emit, keep);
        f->held.len = keep;
        return false;
}

void text_filter_flush(struct text_filter *f, struct text_out *content, struct text_out *reasoning) {
        if (!f->stopped && f->held.len)
                route(f, f->held.p, f->held.len, content, reasoning);
        f->held.len = 0;
        if (f->tag.len) /* an unfinished tag at the very end is plain text */
                text_out_append(f->in_think ? reasoning : content, f->tag.p, f->tag.len);
        f->tag.len = 0;
}
