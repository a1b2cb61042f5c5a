/* Helpers shared by the builtins and filters: argument access and
 * Python's string operations (strip, split, replace, case mapping). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja-case-table.h"
#include "chat/jinja-class-table.h"
#include "chat/jinja-impl.h"


/* Positional i, else keyword name, else NULL. */
struct jv *jarg(const struct args *a, size_t i, const char *name) {
        if (i < a->n_pos)
                return a->pos[i];
        for (size_t k = 0; name && k < a->n_kw; k++)
                if (strcmp(a->kw_names[k], name) == 0)
                        return a->kw_vals[k];
        return NULL;
}

int jcheck_args(struct jctx *c, unsigned line, const char *what, const struct args *a, size_t max_pos,
                      const char *const *kw_ok) {
        if (a->n_pos > max_pos)
                return jerr(c, line, -EINVAL, "%s takes at most %zu positional arguments, %zu given", what, max_pos, a->n_pos);
        for (size_t k = 0; k < a->n_kw; k++) {
                bool ok = false;
                for (size_t i = 0; kw_ok && kw_ok[i]; i++)
                        ok |= strcmp(kw_ok[i], a->kw_names[k]) == 0;
                if (!ok)
                        return jerr(c, line, -EINVAL, "unsupported construct: %s got an unexpected keyword argument '%s'", what, a->kw_names[k]);
        }
        return 0;
}

struct jv *jneed_str(struct jctx *c, unsigned line, struct jv *v, const char *what) {
        if (v && v->t == JV_STR)
                return v;
        if (v && v->t == JV_UNDEF)
                return jerr(c, line, -EINVAL, "%.*s", (int) v->s.n, v->s.p), NULL;
        jerr(c, line, -EINVAL, "%s: expected a string, got %s", what, v ? jv_type_name(v) : "nothing");
        return NULL;
}

bool jneed_int(struct jctx *c, unsigned line, struct jv *v, const char *what, int64_t *ret) {
        if (v && (v->t == JV_INT || v->t == JV_BOOL)) {
                *ret = v->t == JV_INT ? v->i : v->b;
                return true;
        }
        jerr(c, line, -EINVAL, "%s: expected an integer, got %s", what, v ? jv_type_name(v) : "nothing");
        return false;
}

struct jv *jto_str(struct jctx *c, unsigned line, struct jv *v) {
        if (v->t == JV_STR)
                return v;
        struct jbuf b = {0};
        if (jbuf_put(c, &b, "", 0) < 0 || jv_to_str(c, &b, v, line) < 0)
                return NULL;
        return jv_str_nocopy(c, b.p, b.n);
}

/* ---- String helpers */

static bool in_chars(uint32_t cp, const struct jv *chars) {
        if (!chars)
                return py_isspace(cp);
        for (size_t i = 0; i < chars->s.n;) {
                uint32_t x;
                i += utf8_next(chars->s.p + i, chars->s.n - i, &x);
                if (x == cp)
                        return true;
        }
        return false;
}

struct jv *jstr_strip(struct jctx *c, struct jv *s, const struct jv *chars, bool left, bool right) {
        size_t a = 0, b = s->s.n;
        while (left && a < b) {
                uint32_t cp;
                size_t l = utf8_next(s->s.p + a, b - a, &cp);
                if (!in_chars(cp, chars))
                        break;
                a += l;
        }
        while (right && b > a) {
                size_t st = b - 1;
                while (st > a && ((unsigned char) s->s.p[st] & 0xc0) == 0x80)
                        st--;
                uint32_t cp;
                utf8_next(s->s.p + st, b - st, &cp);
                if (!in_chars(cp, chars))
                        break;
                b = st;
        }
        return jv_str_nocopy(c, s->s.p + a, b - a);
}

char jascii_lower(char ch) {
        return ch >= 'A' && ch <= 'Z' ? (char) (ch + 32) : ch;
}
char jascii_upper(char ch) {
        return ch >= 'a' && ch <= 'z' ? (char) (ch - 32) : ch;
}
bool jascii_alpha(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static size_t map_multi(const struct case_multi *m, size_t nm, uint32_t cp, uint32_t out[3]) {
        for (size_t i = 0; i < nm; i++)
                if (m[i].cp == cp) {
                        size_t k = 0;
                        while (k < 3 && m[i].out[k])
                                out[k] = m[i].out[k], k++;
                        return k;
                }
        return 0;
}

/* One code point's lower or upper case: at most three code points. */
static size_t map_case(uint32_t cp, bool upper, uint32_t out[3]) {
        if (cp < 0x80) {
                out[0] = upper ? (uint32_t) jascii_upper((char) cp) : (uint32_t) jascii_lower((char) cp);
                return 1;
        }
        size_t k = upper ? map_multi(upper_multi, ELEMENTSOF(upper_multi), cp, out)
                         : map_multi(lower_multi, ELEMENTSOF(lower_multi), cp, out);
        if (k)
                return k;
        const struct case_run *r = upper ? upper_runs : lower_runs;
        size_t nr = upper ? ELEMENTSOF(upper_runs) : ELEMENTSOF(lower_runs);
        for (size_t i = 0; i < nr && r[i].first <= cp; i++)
                if (cp <= r[i].last && (cp - r[i].first) % r[i].step == 0) {
                        out[0] = (uint32_t) ((int64_t) cp + r[i].delta);
                        return 1;
                }
        out[0] = cp;
        return 1;
}

static bool in_ranges(const struct cp_range *r, size_t n, uint32_t cp);

bool jchar_is_upper(uint32_t cp) {
        if (cp < 0x80)
                return cp >= 'A' && cp <= 'Z';
        return in_ranges(uppercase_ranges, ELEMENTSOF(uppercase_ranges), cp);
}

bool jchar_is_lower(uint32_t cp) {
        if (cp < 0x80)
                return cp >= 'a' && cp <= 'z';
        return in_ranges(lowercase_ranges, ELEMENTSOF(lowercase_ranges), cp);
}

bool jchar_is_title(uint32_t cp) {
        return cp >= 0x80 && in_ranges(titlecase_ranges, ELEMENTSOF(titlecase_ranges), cp);
}

/* Python's "cased": upper, lower or title case. */
static bool is_cased(uint32_t cp) {
        return jchar_is_upper(cp) || jchar_is_lower(cp) || jchar_is_title(cp);
}

static bool in_ranges(const struct cp_range *r, size_t n, uint32_t cp) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (cp < r[mid].first)
                        hi = mid;
                else if (cp > r[mid].last)
                        lo = mid + 1;
                else
                        return true;
        }
        return false;
}

bool jchar_class(enum jchar_class cls, uint32_t cp) {
        if (cp < 0x80) {
                bool digit = cp >= '0' && cp <= '9';
                switch (cls) {
                case JC_UNPRINTABLE: return cp < 0x20 || cp == 0x7f;
                case JC_ALPHA: return jascii_alpha((char) cp);
                default: return digit;
                }
        }
        switch (cls) {
        case JC_UNPRINTABLE: return in_ranges(unprintable_ranges, ELEMENTSOF(unprintable_ranges), cp);
        case JC_ALPHA: return in_ranges(alpha_ranges, ELEMENTSOF(alpha_ranges), cp);
        case JC_DECIMAL: return in_ranges(decimal_ranges, ELEMENTSOF(decimal_ranges), cp);
        case JC_DIGIT: return in_ranges(digit_ranges, ELEMENTSOF(digit_ranges), cp);
        case JC_NUMERIC: return in_ranges(numeric_ranges, ELEMENTSOF(numeric_ranges), cp);
        }
        return false;
}

/* Whether s[at..] (after a capital sigma) continues a word: Python's
 * Final_Sigma rule, without its case-ignorable skipping. */
static bool cased_follows(const char *s, size_t n, size_t at) {
        if (at >= n)
                return false;
        uint32_t cp;
        utf8_next(s + at, n - at, &cp);
        return is_cased(cp);
}

/* str.lower/upper/title/capitalize over all of Unicode, with Python's
 * tables (jinja-case-table.h and jinja-class-table.h, from gen-unicode-table.py). */
struct jv *jstr_case(struct jctx *c, struct jv *s, enum casemode mode) {
        struct jbuf b = {0};
        if (jbuf_put(c, &b, "", 0) < 0)
                return NULL;
        bool prev_cased = false;
        for (size_t i = 0, k = 0; i < s->s.n; k++) {
                uint32_t cp, out[3];
                size_t l = utf8_next(s->s.p + i, s->s.n - i, &cp), n_out;
                bool up;
                switch (mode) {
                case CASE_UPPER: up = true; break;
                case CASE_TITLE: up = !prev_cased; break;
                case CASE_CAPITALIZE: up = k == 0; break;
                default: up = false; break;
                }
                /* title() and capitalize() use the title case where it differs. */
                n_out = 0;
                if (up && (mode == CASE_TITLE || mode == CASE_CAPITALIZE))
                        n_out = map_multi(title_multi, ELEMENTSOF(title_multi), cp, out);
                if (!n_out)
                        n_out = map_case(cp, up, out);
                if (!up && cp == 0x3a3 && prev_cased && !cased_follows(s->s.p, s->s.n, i + l))
                        out[0] = 0x3c2; /* final sigma */
                prev_cased = is_cased(cp);
                for (size_t j = 0; j < n_out; j++) {
                        char enc[4];
                        if (jbuf_put(c, &b, enc, utf8_encode(out[j], enc)) < 0)
                                return NULL;
                }
                i += l;
        }
        return jv_str_nocopy(c, b.p, b.n);
}

struct jv *jlist_push(struct jctx *c, struct jv *l, size_t *cap, struct jv *item) {
        if (l->l.n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 8;
                struct jv **v = arena_alloc(&c->arena, ncap * sizeof(*v));
                if (!v)
                        return jerr(c, 0, -E2BIG, "out of memory"), NULL;
                if (l->l.n)
                        memcpy(v, l->l.v, l->l.n * sizeof(*v));
                l->l.v = v;
                *cap = ncap;
        }
        l->l.v[l->l.n++] = item;
        return l;
}

/* Python's str.split / str.rsplit. */
struct jv *jstr_split(struct jctx *c, unsigned line, struct jv *s, struct jv *sep, int64_t maxsplit, bool from_right) {
        struct jv *out = jv_list(c, 0);
        size_t cap = 0;
        if (!out)
                return NULL;
        const char *p = s->s.p;
        size_t n = s->s.n;
        if (sep && sep->t != JV_NONE) {
                if (!jneed_str(c, line, sep, "split"))
                        return NULL;
                if (sep->s.n == 0)
                        return jerr(c, line, -EINVAL, "empty separator"), NULL;
                /* Collect cut points, then build pieces in order. */
                size_t cuts_cap = 0, n_cuts = 0, *cuts = NULL;
                if (!from_right) {
                        for (size_t i = 0; i + sep->s.n <= n && (maxsplit < 0 || (int64_t) n_cuts < maxsplit);) {
                                if (memcmp(p + i, sep->s.p, sep->s.n) == 0) {
                                        if (n_cuts == cuts_cap) {
                                                size_t nc = cuts_cap ? cuts_cap * 2 : 16;
                                                size_t *x = arena_alloc(&c->arena, nc * sizeof(*x));
                                                if (!x)
                                                        return jerr(c, line, -E2BIG, "out of memory"), NULL;
                                                if (n_cuts)
                                                        memcpy(x, cuts, n_cuts * sizeof(*x));
                                                cuts = x;
                                                cuts_cap = nc;
                                        }
                                        cuts[n_cuts++] = i;
                                        i += sep->s.n;
                                } else
                                        i++;
                        }
                } else {
                        for (size_t i = n; i >= sep->s.n && (maxsplit < 0 || (int64_t) n_cuts < maxsplit);) {
                                if (memcmp(p + i - sep->s.n, sep->s.p, sep->s.n) == 0) {
                                        if (n_cuts == cuts_cap) {
                                                size_t nc = cuts_cap ? cuts_cap * 2 : 16;
                                                size_t *x = arena_alloc(&c->arena, nc * sizeof(*x));
                                                if (!x)
                                                        return jerr(c, line, -E2BIG, "out of memory"), NULL;
                                                if (n_cuts)
                                                        memcpy(x, cuts, n_cuts * sizeof(*x));
                                                cuts = x;
                                                cuts_cap = nc;
                                        }
                                        cuts[n_cuts++] = i - sep->s.n;
                                        i -= sep->s.n;
                                } else
                                        i--;
                        }
                        for (size_t k = 0; k < n_cuts / 2; k++) {
                                size_t t = cuts[k];
                                cuts[k] = cuts[n_cuts - 1 - k];
                                cuts[n_cuts - 1 - k] = t;
                        }
                }
                size_t start = 0;
                for (size_t k = 0; k <= n_cuts; k++) {
                        size_t end = k < n_cuts ? cuts[k] : n;
                        struct jv *piece = jv_str_nocopy(c, p + start, end - start);
                        if (!piece || !jlist_push(c, out, &cap, piece))
                                return NULL;
                        start = end + sep->s.n;
                }
                return out;
        }
        /* Whitespace split: runs of blanks separate, ends are dropped. */
        size_t count = 0;
        if (!from_right) {
                size_t i = 0;
                for (;;) {
                        uint32_t cp;
                        while (i < n) {
                                size_t l = utf8_next(p + i, n - i, &cp);
                                if (!py_isspace(cp))
                                        break;
                                i += l;
                        }
                        if (i >= n)
                                break;
                        size_t st = i;
                        if (maxsplit >= 0 && (int64_t) count >= maxsplit) {
                                /* The rest, right-stripped of nothing: Python keeps trailing blanks. */
                                struct jv *rest = jv_str_nocopy(c, p + st, n - st);
                                struct jv *r2 = rest ? jstr_strip(c, rest, NULL, false, true) : NULL;
                                if (!r2 || !jlist_push(c, out, &cap, r2))
                                        return NULL;
                                break;
                        }
                        while (i < n) {
                                size_t l = utf8_next(p + i, n - i, &cp);
                                if (py_isspace(cp))
                                        break;
                                i += l;
                        }
                        struct jv *piece = jv_str_nocopy(c, p + st, i - st);
                        if (!piece || !jlist_push(c, out, &cap, piece))
                                return NULL;
                        count++;
                }
                return out;
        }
        if (maxsplit >= 0)
                return jerr(c, line, -EINVAL, "unsupported construct: rsplit() with maxsplit and no separator"), NULL;
        return jstr_split(c, line, s, NULL, -1, false);
}

struct jv *jstr_replace(struct jctx *c, unsigned line, struct jv *s, struct jv *old, struct jv *new_, int64_t count) {
        if (!jneed_str(c, line, old, "replace") || !jneed_str(c, line, new_, "replace"))
                return NULL;
        struct jbuf b = {0};
        if (jbuf_put(c, &b, "", 0) < 0)
                return NULL;
        size_t i = 0;
        int64_t done = 0;
        if (old->s.n == 0) {
                /* Python inserts `new` before every code point and at the end. */
                while (i <= s->s.n) {
                        if ((count < 0 || done < count) && jbuf_put(c, &b, new_->s.p, new_->s.n) < 0)
                                return NULL;
                        done++;
                        if (i == s->s.n)
                                break;
                        uint32_t cp;
                        size_t l = utf8_next(s->s.p + i, s->s.n - i, &cp);
                        if (jbuf_put(c, &b, s->s.p + i, l) < 0)
                                return NULL;
                        i += l;
                }
                return jv_str_nocopy(c, b.p, b.n);
        }
        while (i < s->s.n) {
                if ((count < 0 || done < count) && i + old->s.n <= s->s.n && memcmp(s->s.p + i, old->s.p, old->s.n) == 0) {
                        if (jbuf_put(c, &b, new_->s.p, new_->s.n) < 0)
                                return NULL;
                        i += old->s.n;
                        done++;
                } else {
                        if (jbuf_put(c, &b, s->s.p + i, 1) < 0)
                                return NULL;
                        i++;
                }
        }
        return jv_str_nocopy(c, b.p, b.n);
}

int64_t jstr_find(const struct jv *s, const struct jv *sub, bool from_right) {
        if (sub->s.n > s->s.n)
                return -1;
        size_t hit = SIZE_MAX;
        for (size_t i = 0; i + sub->s.n <= s->s.n; i++)
                if (memcmp(s->s.p + i, sub->s.p, sub->s.n) == 0) {
                        hit = i;
                        if (!from_right)
                                break;
                }
        if (hit == SIZE_MAX)
                return -1;
        return (int64_t) utf8_len(s->s.p, hit);
}

bool jstr_affix(const struct jv *s, const struct jv *x, bool suffix) {
        if (x->s.n > s->s.n)
                return false;
        return memcmp(s->s.p + (suffix ? s->s.n - x->s.n : 0), x->s.p, x->s.n) == 0;
}

struct jv *jstr_join(struct jctx *c, unsigned line, struct jv *seq, struct jv *sep, struct jv *attr, bool strict) {
        struct jv *items = jinja_iter_list(c, line, seq);
        if (!items)
                return NULL;
        struct jbuf b = {0};
        if (jbuf_put(c, &b, "", 0) < 0)
                return NULL;
        for (size_t i = 0; i < items->l.n; i++) {
                struct jv *x = items->l.v[i];
                if (attr && !(x = jinja_getitem(c, line, x, attr)))
                        return NULL;
                if (strict && x->t != JV_STR)
                        return jerr(c, line, -EINVAL, "sequence item %zu: expected str instance, %s found", i, jv_type_name(x)), NULL;
                if ((i && jbuf_put(c, &b, sep->s.p, sep->s.n) < 0) || jv_to_str(c, &b, x, line) < 0)
                        return NULL;
        }
        return jv_str_nocopy(c, b.p, b.n);
}


/* Python's printf-style `fmt % args`: flags - + space 0 #, width,
 * precision, and the conversions s r a d i u f F e E g G x X o c %. */
struct jv *jstr_percent(struct jctx *c, unsigned line, struct jv *fmt, struct jv *argv) {
        struct jv *const one[1] = {argv};
        struct jv *const *args = one;
        size_t n_args = 1, used = 0;
        if (argv->t == JV_LIST && argv->is_tuple) {
                args = argv->l.v;
                n_args = argv->l.n;
        } else if (argv->t == JV_DICT)
                return jerr(c, line, -EINVAL, "unsupported construct: %%-formatting with a mapping"), NULL;
        struct jbuf b = {0};
        if (jbuf_put(c, &b, "", 0) < 0)
                return NULL;
        const char *p = fmt->s.p, *end = p + fmt->s.n;
        while (p < end) {
                const char *pct = memchr(p, '%', (size_t) (end - p));
                if (!pct)
                        pct = end;
                if (jbuf_put(c, &b, p, (size_t) (pct - p)) < 0)
                        return NULL;
                if (pct == end)
                        break;
                p = pct + 1;
                char flags[8];
                size_t nf = 0;
                while (p < end && strchr("-+ 0#", *p) && nf < sizeof(flags) - 1)
                        flags[nf++] = *p++;
                flags[nf] = 0;
                int width = 0, prec = -1;
                while (p < end && *p >= '0' && *p <= '9' && width < 10000)
                        width = width * 10 + (*p++ - '0');
                if (p < end && *p == '.') {
                        p++;
                        prec = 0;
                        while (p < end && *p >= '0' && *p <= '9' && prec < 10000)
                                prec = prec * 10 + (*p++ - '0');
                }
                if (p >= end)
                        return jerr(c, line, -EINVAL, "incomplete format"), NULL;
                char conv = *p++;
                if (conv == '%') {
                        if (jbuf_putc(c, &b, '%') < 0)
                                return NULL;
                        continue;
                }
                if (width > 1000 || prec > 1000)
                        return jerr(c, line, -EINVAL, "format width or precision too large"), NULL;
                if (used >= n_args)
                        return jerr(c, line, -EINVAL, "not enough arguments for format string"), NULL;
                struct jv *v = args[used++];
                char spec[32], out[1200];
                int l;
                if (conv == 's' || conv == 'r' || conv == 'a') {
                        struct jbuf sb = {0};
                        if (jbuf_put(c, &sb, "", 0) < 0 || (conv == 's' ? jv_to_str(c, &sb, v, line) : jv_repr(c, &sb, v, line)) < 0)
                                return NULL;
                        size_t len = utf8_len(sb.p, sb.n), cut = sb.n;
                        if (prec >= 0 && (size_t) prec < len) {
                                cut = 0;
                                for (int k = 0; k < prec; k++) {
                                        uint32_t cp;
                                        cut += utf8_next(sb.p + cut, sb.n - cut, &cp);
                                }
                                len = (size_t) prec;
                        }
                        bool left = strchr(flags, '-') != NULL;
                        for (size_t k = len; !left && k < (size_t) width; k++)
                                if (jbuf_putc(c, &b, ' ') < 0)
                                        return NULL;
                        if (jbuf_put(c, &b, sb.p, cut) < 0)
                                return NULL;
                        for (size_t k = len; left && k < (size_t) width; k++)
                                if (jbuf_putc(c, &b, ' ') < 0)
                                        return NULL;
                        continue;
                }
                bool is_int_conv = strchr("diuxXoc", conv) != NULL, is_float_conv = strchr("fFeEgG", conv) != NULL;
                if (!is_int_conv && !is_float_conv)
                        return jerr(c, line, -EINVAL, "unsupported format character '%c'", conv), NULL;
                if (v->t != JV_INT && v->t != JV_BOOL && v->t != JV_FLOAT)
                        return jerr(c, line, -EINVAL, "%%%c format: a real number is required, not %s", conv, jv_type_name(v)), NULL;
                if (is_int_conv) {
                        if (conv == 'c' || ((conv == 'x' || conv == 'X' || conv == 'o') && v->t == JV_FLOAT))
                                return jerr(c, line, -EINVAL, "unsupported construct: %%%c of this value", conv), NULL;
                        int64_t iv = v->t == JV_INT ? v->i : v->t == JV_BOOL ? v->b : (int64_t) v->f;
                        if (conv == 'u' || conv == 'i')
                                conv = 'd';
                        /* Python writes hex/octal of negatives as -0x..: sign apart. */
                        bool neg = iv < 0 && conv != 'd';
                        uint64_t mag = neg ? (uint64_t) 0 - (uint64_t) iv : (uint64_t) iv;
                        if (prec >= 0)
                                snprintf(spec, sizeof(spec), "%%%s%d.%d%s", flags, width, prec, conv == 'd' ? PRId64 : conv == 'x' ? PRIx64 : conv == 'X' ? PRIX64 : PRIo64);
                        else
                                snprintf(spec, sizeof(spec), "%%%s%d%s", flags, width, conv == 'd' ? PRId64 : conv == 'x' ? PRIx64 : conv == 'X' ? PRIX64 : PRIo64);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                        if (conv == 'd')
                                l = snprintf(out, sizeof(out), spec, iv);
                        else {
                                l = snprintf(out + neg, sizeof(out) - 1, spec, mag) + neg;
                                if (neg)
                                        out[0] = '-';
                        }
                } else {
                        double fv = v->t == JV_FLOAT ? v->f : v->t == JV_INT ? (double) v->i : v->b;
                        snprintf(spec, sizeof(spec), "%%%s%d.%d%c", flags, width, prec < 0 ? 6 : prec, conv);
                        l = snprintf(out, sizeof(out), spec, fv);
#pragma GCC diagnostic pop
                }
                if (l < 0 || (size_t) l >= sizeof(out) || jbuf_put(c, &b, out, (size_t) l) < 0)
                        return c->failed ? NULL : (jerr(c, line, -EINVAL, "format result too long"), NULL);
        }
        if (used < n_args)
                return jerr(c, line, -EINVAL, "not all arguments converted during string formatting"), NULL;
        return jv_str_nocopy(c, b.p, b.n);
}
