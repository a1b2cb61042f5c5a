/* Jinja's filters and tests, Python's string/dict/list methods, and the
 * globals chat templates call (namespace, range, dict, raise_exception,
 * strftime_now), each with the behaviour of its Python original. Case
 * mapping (lower/upper/title/capitalize) covers ASCII only. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja-impl.h"

#define MAX_RANGE (1u << 20)

enum jfilter {
        F_ABS, F_CAPITALIZE, F_COUNT, F_D, F_DEFAULT, F_E, F_ESCAPE, F_FIRST, F_FLOAT, F_INDENT, F_INT,
        F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP, F_MAX, F_MIN, F_REJECT,
        F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT, F_SELECTATTR, F_SORT,
        F_STRING, F_SUM, F_TITLE, F_TOJSON, F_TRIM, F_UNIQUE, F_UPPER,
};
static const char *const filter_names[] = {
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "indent", "int",
        "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort",
        "string", "sum", "title", "tojson", "trim", "unique", "upper",
};

enum jtest {
        T_DEFINED, T_UNDEFINED, T_NONE, T_BOOLEAN, T_TRUE, T_FALSE, T_INTEGER, T_FLOAT, T_NUMBER,
        T_STRING, T_MAPPING, T_ITERABLE, T_SEQUENCE, T_CALLABLE, T_SAMEAS, T_EQUALTO, T_EQ, T_EQ2,
        T_NE, T_NE2, T_LT, T_LT2, T_LE, T_LE2, T_GT, T_GT2, T_GE, T_GE2, T_IN, T_DIVISIBLEBY,
        T_EVEN, T_ODD, T_LOWER, T_UPPER, T_ESCAPED,
};
static const char *const test_names[] = {
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number",
        "string", "mapping", "iterable", "sequence", "callable", "sameas", "equalto", "eq", "==",
        "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=", "in", "divisibleby",
        "even", "odd", "lower", "upper", "escaped",
};

static int lookup_name(const char *const *names, size_t count, const char *name, size_t n) {
        for (size_t i = 0; i < count; i++)
                if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
                        return (int) i;
        return -1;
}

int jinja_filter_lookup(const char *name, size_t n) {
        return lookup_name(filter_names, ELEMENTSOF(filter_names), name, n);
}

int jinja_test_lookup(const char *name, size_t n) {
        return lookup_name(test_names, ELEMENTSOF(test_names), name, n);
}

struct method {
        const char *name;
        int id; /* <0: Python has it but vkinfer does not */
};

static const struct method str_methods[] = {
        {"split", JF_S_SPLIT}, {"rsplit", JF_S_RSPLIT}, {"startswith", JF_S_STARTSWITH},
        {"endswith", JF_S_ENDSWITH}, {"strip", JF_S_STRIP}, {"lstrip", JF_S_LSTRIP},
        {"rstrip", JF_S_RSTRIP}, {"lower", JF_S_LOWER}, {"upper", JF_S_UPPER},
        {"replace", JF_S_REPLACE}, {"find", JF_S_FIND}, {"rfind", JF_S_RFIND}, {"count", JF_S_COUNT},
        {"title", JF_S_TITLE}, {"capitalize", JF_S_CAPITALIZE}, {"join", JF_S_JOIN},
        {"splitlines", JF_S_SPLITLINES}, {"isdigit", JF_S_ISDIGIT}, {"isspace", JF_S_ISSPACE},
        {"isalpha", JF_S_ISALPHA}, {"isalnum", JF_S_ISALNUM}, {"isupper", JF_S_ISUPPER},
        {"islower", JF_S_ISLOWER}, {"index", JF_S_INDEX},
        {"casefold", -1}, {"center", -1}, {"encode", -1}, {"expandtabs", -1}, {"format", -1},
        {"format_map", -1}, {"isascii", -1}, {"isdecimal", -1}, {"isidentifier", -1},
        {"isnumeric", -1}, {"isprintable", -1}, {"istitle", -1}, {"ljust", -1}, {"maketrans", -1},
        {"partition", -1}, {"removeprefix", -1}, {"removesuffix", -1}, {"rindex", -1},
        {"rjust", -1}, {"rpartition", -1}, {"swapcase", -1}, {"translate", -1}, {"zfill", -1},
};
static const struct method dict_methods[] = {
        {"items", JF_D_ITEMS}, {"keys", JF_D_KEYS}, {"values", JF_D_VALUES}, {"get", JF_D_GET},
        {"clear", -1}, {"copy", -1}, {"fromkeys", -1}, {"pop", -1}, {"popitem", -1},
        {"setdefault", -1}, {"update", -1},
};
static const struct method list_methods[] = {
        {"index", JF_L_INDEX}, {"count", JF_L_COUNT},
        {"append", -1}, {"clear", -1}, {"copy", -1}, {"extend", -1}, {"insert", -1}, {"pop", -1},
        {"remove", -1}, {"reverse", -1}, {"sort", -1},
};

static int method_in(const struct method *m, size_t count, const char *name, size_t n) {
        for (size_t i = 0; i < count; i++)
                if (strlen(m[i].name) == n && memcmp(m[i].name, name, n) == 0)
                        return m[i].id;
        return JF_NONE;
}

int jinja_method_lookup(enum jv_type t, const char *name, size_t n) {
        switch (t) {
        case JV_STR: return method_in(str_methods, ELEMENTSOF(str_methods), name, n);
        case JV_DICT: return method_in(dict_methods, ELEMENTSOF(dict_methods), name, n);
        case JV_LIST: return method_in(list_methods, ELEMENTSOF(list_methods), name, n);
        default: return JF_NONE;
        }
}

int jinja_global_lookup(const char *name, size_t n) {
        static const struct method globals[] = {
                {"namespace", JF_NAMESPACE}, {"range", JF_RANGE}, {"dict", JF_DICT},
                {"raise_exception", JF_RAISE_EXCEPTION}, {"strftime_now", JF_STRFTIME_NOW},
        };
        int id = method_in(globals, ELEMENTSOF(globals), name, n);
        return id > 0 ? id : JF_NONE;
}

/* ---- Argument helpers */

struct args {
        struct jv **pos;
        size_t n_pos;
        const char **kw_names;
        struct jv **kw_vals;
        size_t n_kw;
};

/* Positional i, else keyword name, else NULL. */
static struct jv *arg(const struct args *a, size_t i, const char *name) {
        if (i < a->n_pos)
                return a->pos[i];
        for (size_t k = 0; name && k < a->n_kw; k++)
                if (strcmp(a->kw_names[k], name) == 0)
                        return a->kw_vals[k];
        return NULL;
}

static int check_args(struct jctx *c, unsigned line, const char *what, const struct args *a, size_t max_pos,
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

static struct jv *need_str(struct jctx *c, unsigned line, struct jv *v, const char *what) {
        if (v && v->t == JV_STR)
                return v;
        if (v && v->t == JV_UNDEF)
                return jerr(c, line, -EINVAL, "%.*s", (int) v->s.n, v->s.p), NULL;
        jerr(c, line, -EINVAL, "%s: expected a string, got %s", what, v ? jv_type_name(v) : "nothing");
        return NULL;
}

static bool need_int(struct jctx *c, unsigned line, struct jv *v, const char *what, int64_t *ret) {
        if (v && (v->t == JV_INT || v->t == JV_BOOL)) {
                *ret = v->t == JV_INT ? v->i : v->b;
                return true;
        }
        jerr(c, line, -EINVAL, "%s: expected an integer, got %s", what, v ? jv_type_name(v) : "nothing");
        return false;
}

static struct jv *to_str_v(struct jctx *c, unsigned line, struct jv *v) {
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

static struct jv *strip(struct jctx *c, struct jv *s, const struct jv *chars, bool left, bool right) {
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

static char ascii_lower(char ch) {
        return ch >= 'A' && ch <= 'Z' ? (char) (ch + 32) : ch;
}
static char ascii_upper(char ch) {
        return ch >= 'a' && ch <= 'z' ? (char) (ch - 32) : ch;
}
static bool ascii_alpha(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

enum casemode { CASE_LOWER, CASE_UPPER, CASE_TITLE, CASE_CAPITALIZE };

static struct jv *change_case(struct jctx *c, struct jv *s, enum casemode mode) {
        char *p = arena_alloc(&c->arena, s->s.n + 1);
        if (!p)
                return jerr(c, 0, -E2BIG, "out of memory"), NULL;
        bool prev_alpha = false;
        for (size_t i = 0; i < s->s.n; i++) {
                char ch = s->s.p[i];
                switch (mode) {
                case CASE_LOWER: ch = ascii_lower(ch); break;
                case CASE_UPPER: ch = ascii_upper(ch); break;
                case CASE_TITLE: ch = prev_alpha ? ascii_lower(ch) : ascii_upper(ch); break;
                case CASE_CAPITALIZE: ch = i == 0 ? ascii_upper(ch) : ascii_lower(ch); break;
                }
                prev_alpha = ascii_alpha(s->s.p[i]) || ((unsigned char) s->s.p[i] >= 0x80 && prev_alpha);
                p[i] = ch;
        }
        return jv_str_nocopy(c, p, s->s.n);
}

static struct jv *list_push(struct jctx *c, struct jv *l, size_t *cap, struct jv *item) {
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
static struct jv *split(struct jctx *c, unsigned line, struct jv *s, struct jv *sep, int64_t maxsplit, bool from_right) {
        struct jv *out = jv_list(c, 0);
        size_t cap = 0;
        if (!out)
                return NULL;
        const char *p = s->s.p;
        size_t n = s->s.n;
        if (sep && sep->t != JV_NONE) {
                if (!need_str(c, line, sep, "split"))
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
                        if (!piece || !list_push(c, out, &cap, piece))
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
                                struct jv *r2 = rest ? strip(c, rest, NULL, false, true) : NULL;
                                if (!r2 || !list_push(c, out, &cap, r2))
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
                        if (!piece || !list_push(c, out, &cap, piece))
                                return NULL;
                        count++;
                }
                return out;
        }
        if (maxsplit >= 0)
                return jerr(c, line, -EINVAL, "unsupported construct: rsplit() with maxsplit and no separator"), NULL;
        return split(c, line, s, NULL, -1, false);
}

static struct jv *replace(struct jctx *c, unsigned line, struct jv *s, struct jv *old, struct jv *new_, int64_t count) {
        if (!need_str(c, line, old, "replace") || !need_str(c, line, new_, "replace"))
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

static int64_t find(const struct jv *s, const struct jv *sub, bool from_right) {
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

static bool affix(const struct jv *s, const struct jv *x, bool suffix) {
        if (x->s.n > s->s.n)
                return false;
        return memcmp(s->s.p + (suffix ? s->s.n - x->s.n : 0), x->s.p, x->s.n) == 0;
}

static struct jv *join(struct jctx *c, unsigned line, struct jv *seq, struct jv *sep, struct jv *attr, bool strict) {
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

/* ---- Globals and methods */

static int set_tm(struct jctx *c, unsigned line, struct tm *tm) {
        if (c->date_override) {
                int y, m, d;
                char tail;
                if (sscanf(c->date_override, "%d-%d-%d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
                        return jerr(c, line, -EINVAL, "date override '%s' is not YYYY-MM-DD", c->date_override);
                memset(tm, 0, sizeof(*tm));
                tm->tm_year = y - 1900;
                tm->tm_mon = m - 1;
                tm->tm_mday = d;
                tm->tm_hour = 12;
                tm->tm_isdst = -1;
                time_t t = timegm(tm);
                gmtime_r(&t, tm); /* fills the weekday and the day of the year */
                tm->tm_hour = 0;
                return 0;
        }
        time_t now = time(NULL);
        if (!localtime_r(&now, tm))
                return jerr(c, line, -EINVAL, "cannot read the local time");
        return 0;
}

struct jv *jinja_call_func(struct jctx *c, const struct jnode *n, struct jv *fn, struct jv **pos, size_t n_pos,
                           const char **kw_names, struct jv **kw_vals, size_t n_kw) {
        struct args a = {pos, n_pos, kw_names, kw_vals, n_kw};
        unsigned line = n->line;
        struct jv *self = fn->fn.self, *x, *y, *r;
        int64_t i1, i2, i3;
        switch (fn->fn.id) {
        case JF_NAMESPACE:
        case JF_DICT: {
                if (n_pos > 1)
                        return jerr(c, line, -EINVAL, "%s() takes at most 1 positional argument", fn->fn.name), NULL;
                if (!(r = jv_dict(c)))
                        return NULL;
                r->t = fn->fn.id == JF_NAMESPACE ? JV_NS : JV_DICT;
                if (n_pos) {
                        if (pos[0]->t != JV_DICT)
                                return jerr(c, line, -EINVAL, "%s(): the positional argument must be a mapping", fn->fn.name), NULL;
                        for (size_t i = 0; i < pos[0]->d->n; i++)
                                if (jv_dict_set(c, r, pos[0]->d->keys[i], pos[0]->d->vals[i]) < 0)
                                        return NULL;
                }
                for (size_t i = 0; i < n_kw; i++) {
                        struct jv *k = jv_str_nocopy(c, kw_names[i], strlen(kw_names[i]));
                        if (!k || jv_dict_set(c, r, k, kw_vals[i]) < 0)
                                return NULL;
                }
                return r;
        }
        case JF_RANGE:
                if (check_args(c, line, "range()", &a, 3, NULL) < 0)
                        return NULL;
                i1 = 0;
                i3 = 1;
                if (n_pos == 1 && !need_int(c, line, pos[0], "range()", &i2))
                        return NULL;
                if (n_pos >= 2 && (!need_int(c, line, pos[0], "range()", &i1) || !need_int(c, line, pos[1], "range()", &i2)))
                        return NULL;
                if (n_pos == 3 && !need_int(c, line, pos[2], "range()", &i3))
                        return NULL;
                if (n_pos == 0)
                        return jerr(c, line, -EINVAL, "range expected at least 1 argument, got 0"), NULL;
                if (i3 == 0)
                        return jerr(c, line, -EINVAL, "range() arg 3 must not be zero"), NULL;
                {
                        uint64_t count = 0;
                        if (i3 > 0 && i2 > i1)
                                count = ((uint64_t) i2 - (uint64_t) i1 - 1) / (uint64_t) i3 + 1;
                        else if (i3 < 0 && i1 > i2)
                                count = ((uint64_t) i1 - (uint64_t) i2 - 1) / (uint64_t) -i3 + 1;
                        if (count > MAX_RANGE)
                                return jerr(c, line, -E2BIG, "range() of %" PRIu64 " items exceeds the limit of %u", count, MAX_RANGE), NULL;
                        if (!(r = jv_list(c, (size_t) count)))
                                return NULL;
                        for (uint64_t k = 0; k < count; k++)
                                if (!(r->l.v[k] = jv_int(c, i1 + (int64_t) k * i3)))
                                        return NULL;
                        return r;
                }
        case JF_RAISE_EXCEPTION: {
                struct jv *msg = arg(&a, 0, NULL);
                struct jbuf b = {0};
                if (jbuf_put(c, &b, "", 0) < 0 || (msg && jv_to_str(c, &b, msg, line) < 0))
                        return NULL;
                jerr(c, line, -EINVAL, "raise_exception: %s", b.p);
                return NULL;
        }
        case JF_STRFTIME_NOW: {
                struct tm tm;
                if (!(x = need_str(c, line, arg(&a, 0, NULL), "strftime_now()")) || set_tm(c, line, &tm) < 0)
                        return NULL;
                char fmt[256], out[512];
                if (x->s.n >= sizeof(fmt))
                        return jerr(c, line, -EINVAL, "strftime_now(): format too long"), NULL;
                memcpy(fmt, x->s.p, x->s.n);
                fmt[x->s.n] = 0;
                /* The format is the template's, as in Python's strftime. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                size_t l = x->s.n ? strftime(out, sizeof(out), fmt, &tm) : 0;
#pragma GCC diagnostic pop
                return jv_str(c, out, l);
        }
        case JF_LOOP_CYCLE:
                if (n_pos == 0)
                        return jerr(c, line, -EINVAL, "no items for cycling given"), NULL;
                return pos[self->loop->index0 % n_pos];
        case JF_S_SPLIT:
        case JF_S_RSPLIT: {
                static const char *const kws[] = {"sep", "maxsplit", NULL};
                if (check_args(c, line, "split()", &a, 2, kws) < 0)
                        return NULL;
                i1 = -1;
                if ((y = arg(&a, 1, "maxsplit")) && !need_int(c, line, y, "split()", &i1))
                        return NULL;
                return split(c, line, self, arg(&a, 0, "sep"), i1, fn->fn.id == JF_S_RSPLIT);
        }
        case JF_S_STARTSWITH:
        case JF_S_ENDSWITH:
                if (check_args(c, line, fn->fn.name, &a, 1, NULL) < 0 || !(x = arg(&a, 0, NULL)))
                        return jerr(c, line, -EINVAL, "%s() takes exactly one argument", fn->fn.name), NULL;
                if (x->t == JV_LIST && x->is_tuple) {
                        for (size_t i = 0; i < x->l.n; i++) {
                                if (!need_str(c, line, x->l.v[i], fn->fn.name))
                                        return NULL;
                                if (affix(self, x->l.v[i], fn->fn.id == JF_S_ENDSWITH))
                                        return &jv_true_s;
                        }
                        return &jv_false_s;
                }
                if (!need_str(c, line, x, fn->fn.name))
                        return NULL;
                return jv_bool(c, affix(self, x, fn->fn.id == JF_S_ENDSWITH));
        case JF_S_STRIP:
        case JF_S_LSTRIP:
        case JF_S_RSTRIP:
                if (check_args(c, line, fn->fn.name, &a, 1, NULL) < 0)
                        return NULL;
                x = arg(&a, 0, NULL);
                if (x && x->t == JV_NONE)
                        x = NULL;
                if (x && !need_str(c, line, x, fn->fn.name))
                        return NULL;
                return strip(c, self, x, fn->fn.id != JF_S_RSTRIP, fn->fn.id != JF_S_LSTRIP);
        case JF_S_LOWER:
                return change_case(c, self, CASE_LOWER);
        case JF_S_UPPER:
                return change_case(c, self, CASE_UPPER);
        case JF_S_TITLE:
                return change_case(c, self, CASE_TITLE);
        case JF_S_CAPITALIZE:
                return change_case(c, self, CASE_CAPITALIZE);
        case JF_S_REPLACE:
                i1 = -1;
                if (n_pos < 2 || (n_pos == 3 && !need_int(c, line, pos[2], "replace()", &i1)))
                        return n_pos < 2 ? jerr(c, line, -EINVAL, "replace() takes at least 2 arguments"), NULL : NULL;
                return replace(c, line, self, pos[0], pos[1], i1);
        case JF_S_FIND:
        case JF_S_RFIND:
        case JF_S_INDEX:
                if (n_pos != 1 || !need_str(c, line, pos[0], fn->fn.name))
                        return c->failed ? NULL : (jerr(c, line, -EINVAL, "%s() takes exactly one argument here", fn->fn.name), NULL);
                i1 = find(self, pos[0], fn->fn.id == JF_S_RFIND);
                if (i1 < 0 && fn->fn.id == JF_S_INDEX)
                        return jerr(c, line, -EINVAL, "substring not found"), NULL;
                return jv_int(c, i1);
        case JF_S_COUNT: {
                if (n_pos != 1 || !need_str(c, line, pos[0], "count()"))
                        return c->failed ? NULL : (jerr(c, line, -EINVAL, "count() takes exactly one argument here"), NULL);
                int64_t k = 0;
                if (pos[0]->s.n == 0)
                        return jv_int(c, (int64_t) utf8_len(self->s.p, self->s.n) + 1);
                for (size_t i = 0; i + pos[0]->s.n <= self->s.n;)
                        if (memcmp(self->s.p + i, pos[0]->s.p, pos[0]->s.n) == 0) {
                                k++;
                                i += pos[0]->s.n;
                        } else
                                i++;
                return jv_int(c, k);
        }
        case JF_S_JOIN:
                if (n_pos != 1)
                        return jerr(c, line, -EINVAL, "join() takes exactly one argument"), NULL;
                return join(c, line, pos[0], self, NULL, true);
        case JF_S_SPLITLINES: {
                bool keep = (x = arg(&a, 0, "keepends")) && jv_truthy(x);
                if (!(r = jv_list(c, 0)))
                        return NULL;
                size_t cap = 0, st = 0;
                for (size_t i = 0; i < self->s.n;) {
                        uint32_t cp;
                        size_t l = utf8_next(self->s.p + i, self->s.n - i, &cp);
                        bool brk = cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || (cp >= 0x1c && cp <= 0x1e) ||
                                   cp == 0x85 || cp == 0x2028 || cp == 0x2029;
                        if (!brk) {
                                i += l;
                                continue;
                        }
                        size_t end = i;
                        i += l;
                        if (cp == '\r' && i < self->s.n && self->s.p[i] == '\n')
                                i++;
                        struct jv *piece = jv_str_nocopy(c, self->s.p + st, (keep ? i : end) - st);
                        if (!piece || !list_push(c, r, &cap, piece))
                                return NULL;
                        st = i;
                }
                if (st < self->s.n) {
                        struct jv *piece = jv_str_nocopy(c, self->s.p + st, self->s.n - st);
                        if (!piece || !list_push(c, r, &cap, piece))
                                return NULL;
                }
                return r;
        }
        case JF_S_ISDIGIT:
        case JF_S_ISSPACE:
        case JF_S_ISALPHA:
        case JF_S_ISALNUM:
        case JF_S_ISUPPER:
        case JF_S_ISLOWER: {
                bool ok = self->s.n > 0, cased = false;
                for (size_t i = 0; i < self->s.n; i++) {
                        char ch = self->s.p[i];
                        bool dig = ch >= '0' && ch <= '9', alpha = ascii_alpha(ch);
                        switch (fn->fn.id) {
                        case JF_S_ISDIGIT: ok &= dig; break;
                        case JF_S_ISSPACE: ok &= ch == ' ' || (ch >= 9 && ch <= 13); break;
                        case JF_S_ISALPHA: ok &= alpha; break;
                        case JF_S_ISALNUM: ok &= alpha || dig; break;
                        case JF_S_ISUPPER: ok &= !(ch >= 'a' && ch <= 'z'); cased |= ch >= 'A' && ch <= 'Z'; break;
                        default: ok &= !(ch >= 'A' && ch <= 'Z'); cased |= ch >= 'a' && ch <= 'z'; break;
                        }
                }
                if (fn->fn.id == JF_S_ISUPPER || fn->fn.id == JF_S_ISLOWER)
                        ok = ok && cased;
                return jv_bool(c, ok);
        }
        case JF_D_ITEMS:
        case JF_D_KEYS:
        case JF_D_VALUES:
                if (n_pos || n_kw)
                        return jerr(c, line, -EINVAL, "%s() takes no arguments", fn->fn.name), NULL;
                if (!(r = jv_list(c, self->d->n)))
                        return NULL;
                for (size_t i = 0; i < self->d->n; i++) {
                        if (fn->fn.id == JF_D_KEYS)
                                r->l.v[i] = self->d->keys[i];
                        else if (fn->fn.id == JF_D_VALUES)
                                r->l.v[i] = self->d->vals[i];
                        else {
                                struct jv *t = jv_list(c, 2);
                                if (!t)
                                        return NULL;
                                t->is_tuple = true;
                                t->l.v[0] = self->d->keys[i];
                                t->l.v[1] = self->d->vals[i];
                                r->l.v[i] = t;
                        }
                }
                return r;
        case JF_D_GET:
                if (n_pos < 1 || n_pos > 2 || n_kw)
                        return jerr(c, line, -EINVAL, "get() takes 1 or 2 positional arguments"), NULL;
                if ((x = jv_dict_get_v(self, pos[0])))
                        return x;
                return n_pos == 2 ? pos[1] : &jv_none_s;
        case JF_L_INDEX:
        case JF_L_COUNT: {
                if (n_pos != 1 || n_kw)
                        return jerr(c, line, -EINVAL, "%s() takes exactly one argument here", fn->fn.name), NULL;
                int64_t k = 0;
                for (size_t i = 0; i < self->l.n; i++)
                        if (jv_equal(self->l.v[i], pos[0])) {
                                if (fn->fn.id == JF_L_INDEX)
                                        return jv_int(c, (int64_t) i);
                                k++;
                        }
                if (fn->fn.id == JF_L_INDEX)
                        return jerr(c, line, -EINVAL, "value is not in list"), NULL;
                return jv_int(c, k);
        }
        default:
                return jerr(c, line, -EINVAL, "unsupported construct: call of '%s'", fn->fn.name ? fn->fn.name : "?"), NULL;
        }
}

/* ---- Tests */

int jinja_run_test(struct jctx *c, const struct jnode *n, int test, struct jv *v, struct jv **args, size_t n_args, bool *ret) {
        struct jv *x = n_args ? args[0] : NULL;
        bool ok;
        int cmp;
        switch (test) {
        case T_DEFINED: *ret = v->t != JV_UNDEF; return 0;
        case T_UNDEFINED: *ret = v->t == JV_UNDEF; return 0;
        case T_NONE: *ret = v->t == JV_NONE; return 0;
        case T_BOOLEAN: *ret = v->t == JV_BOOL; return 0;
        case T_TRUE: *ret = v->t == JV_BOOL && v->b; return 0;
        case T_FALSE: *ret = v->t == JV_BOOL && !v->b; return 0;
        case T_INTEGER: *ret = v->t == JV_INT; return 0;
        case T_FLOAT: *ret = v->t == JV_FLOAT; return 0;
        case T_NUMBER: *ret = v->t == JV_INT || v->t == JV_FLOAT || v->t == JV_BOOL; return 0;
        case T_STRING: *ret = v->t == JV_STR; return 0;
        case T_MAPPING: *ret = v->t == JV_DICT; return 0;
        case T_ITERABLE: *ret = v->t == JV_STR || v->t == JV_LIST || v->t == JV_DICT || v->t == JV_UNDEF; return 0;
        case T_SEQUENCE: *ret = v->t == JV_STR || v->t == JV_LIST || v->t == JV_DICT; return 0;
        case T_CALLABLE: *ret = v->t == JV_FUNC || v->t == JV_MACRO; return 0;
        case T_ESCAPED: *ret = false; return 0;
        case T_LOWER:
        case T_UPPER:
                if (v->t != JV_STR)
                        return jerr(c, n->line, -EINVAL, "test '%s' needs a string, got %s", n->name, jv_type_name(v));
                {
                        bool cased = false, bad = false;
                        for (size_t i = 0; i < v->s.n; i++) {
                                char ch = v->s.p[i];
                                bool lo = ch >= 'a' && ch <= 'z', up = ch >= 'A' && ch <= 'Z';
                                cased |= lo || up;
                                bad |= test == T_LOWER ? up : lo;
                        }
                        *ret = cased && !bad;
                }
                return 0;
        case T_EVEN:
        case T_ODD:
        case T_DIVISIBLEBY: {
                if (v->t != JV_INT && v->t != JV_BOOL)
                        return jerr(c, n->line, -EINVAL, "test '%s' needs an integer, got %s", n->name, jv_type_name(v));
                int64_t i = v->t == JV_INT ? v->i : v->b, d = 2;
                if (test == T_DIVISIBLEBY) {
                        if (!x || (x->t != JV_INT && x->t != JV_BOOL))
                                return jerr(c, n->line, -EINVAL, "divisibleby needs an integer argument");
                        d = x->t == JV_INT ? x->i : x->b;
                        if (d == 0)
                                return jerr(c, n->line, -EDOM, "integer division or modulo by zero");
                }
                int64_t m = d == -1 ? 0 : i % d;
                *ret = test == T_ODD ? m != 0 : m == 0;
                return 0;
        }
        default:
                break;
        }
        if (!x)
                return jerr(c, n->line, -EINVAL, "test '%s' needs an argument", n->name);
        switch (test) {
        case T_SAMEAS:
                *ret = v == x || (v->t == x->t && (v->t == JV_NONE || (v->t == JV_BOOL && v->b == x->b)));
                return 0;
        case T_EQUALTO: case T_EQ: case T_EQ2: *ret = jv_equal(v, x); return 0;
        case T_NE: case T_NE2: *ret = !jv_equal(v, x); return 0;
        case T_IN:
                if (x->t == JV_STR) {
                        if (v->t != JV_STR)
                                return jerr(c, n->line, -EINVAL, "'in <string>' requires string as left operand");
                        *ret = v->s.n == 0 || (v->s.n <= x->s.n && memmem(x->s.p, x->s.n, v->s.p, v->s.n));
                } else if (x->t == JV_LIST) {
                        *ret = false;
                        for (size_t i = 0; i < x->l.n && !*ret; i++)
                                *ret = jv_equal(v, x->l.v[i]);
                } else if (x->t == JV_DICT)
                        *ret = jv_dict_get_v(x, v) != NULL;
                else
                        return jerr(c, n->line, -EINVAL, "argument of type '%s' is not iterable", jv_type_name(x));
                return 0;
        default:
                cmp = jv_compare(v, x, &ok);
                if (!ok)
                        return jerr(c, n->line, -EINVAL, "test '%s' cannot compare %s and %s", n->name, jv_type_name(v), jv_type_name(x));
                switch (test) {
                case T_LT: case T_LT2: *ret = cmp < 0; break;
                case T_LE: case T_LE2: *ret = cmp <= 0; break;
                case T_GT: case T_GT2: *ret = cmp > 0; break;
                default: *ret = cmp >= 0; break;
                }
                return 0;
        }
}

/* ---- Filters */

static int cmp_for_sort(struct jctx *c, unsigned line, struct jv *a, struct jv *b, bool case_sensitive, int *ret) {
        bool ok;
        if (!case_sensitive && a->t == JV_STR && b->t == JV_STR) {
                size_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
                for (size_t i = 0; i < n; i++) {
                        unsigned char x = (unsigned char) ascii_lower(a->s.p[i]), y = (unsigned char) ascii_lower(b->s.p[i]);
                        if (x != y) {
                                *ret = x < y ? -1 : 1;
                                return 0;
                        }
                }
                *ret = a->s.n < b->s.n ? -1 : a->s.n > b->s.n ? 1 : 0;
                return 0;
        }
        *ret = jv_compare(a, b, &ok);
        if (!ok)
                return jerr(c, line, -EINVAL, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a), jv_type_name(b));
        return 0;
}

/* Stable merge sort of items by keys (parallel arrays). */
static int merge_sort(struct jctx *c, unsigned line, struct jv **items, struct jv **keys, size_t n, bool cs, bool rev,
                      struct jv **tmp_i, struct jv **tmp_k) {
        if (n < 2)
                return 0;
        size_t h = n / 2;
        int r;
        if ((r = merge_sort(c, line, items, keys, h, cs, rev, tmp_i, tmp_k)) < 0 ||
            (r = merge_sort(c, line, items + h, keys + h, n - h, cs, rev, tmp_i, tmp_k)) < 0)
                return r;
        size_t i = 0, j = h, o = 0;
        while (i < h && j < n) {
                int cmp;
                if ((r = cmp_for_sort(c, line, keys[j], keys[i], cs, &cmp)) < 0)
                        return r;
                bool take_right = rev ? cmp > 0 : cmp < 0;
                if (take_right) {
                        tmp_i[o] = items[j];
                        tmp_k[o++] = keys[j++];
                } else {
                        tmp_i[o] = items[i];
                        tmp_k[o++] = keys[i++];
                }
        }
        while (i < h) {
                tmp_i[o] = items[i];
                tmp_k[o++] = keys[i++];
        }
        while (j < n) {
                tmp_i[o] = items[j];
                tmp_k[o++] = keys[j++];
        }
        memcpy(items, tmp_i, n * sizeof(*items));
        memcpy(keys, tmp_k, n * sizeof(*keys));
        return jinja_step(c, line);
}

/* select/reject/selectattr/rejectattr: keep items whose test result is `want`. */
static struct jv *select_items(struct jctx *c, const struct jnode *n, struct jv *in, struct jv **args, size_t n_args,
                               bool by_attr, bool want) {
        struct jv *items = jinja_iter_list(c, n->line, in);
        if (!items)
                return NULL;
        struct jv *attr = NULL;
        if (by_attr) {
                if (n_args < 1)
                        return jerr(c, n->line, -EINVAL, "%s needs an attribute name", n->name), NULL;
                attr = args[0];
                args++;
                n_args--;
        }
        int test = -1;
        if (n_args >= 1) {
                struct jv *tn = need_str(c, n->line, args[0], n->name);
                if (!tn)
                        return NULL;
                if ((test = jinja_test_lookup(tn->s.p, tn->s.n)) < 0)
                        return jerr(c, n->line, -EINVAL, "unsupported test '%.*s'", (int) tn->s.n, tn->s.p), NULL;
                args++;
                n_args--;
        }
        struct jv *out = jv_list(c, 0);
        size_t cap = 0;
        if (!out)
                return NULL;
        struct jnode tn = *n;
        tn.name = test >= 0 ? test_names[test] : "truth";
        for (size_t i = 0; i < items->l.n; i++) {
                struct jv *v = items->l.v[i];
                if (attr && !(v = jinja_getitem(c, n->line, v, attr)))
                        return NULL;
                bool res;
                if (test < 0)
                        res = jv_truthy(v);
                else if (jinja_run_test(c, &tn, test, v, args, n_args, &res) < 0)
                        return NULL;
                if (res == want && !list_push(c, out, &cap, items->l.v[i]))
                        return NULL;
        }
        return out;
}

static struct jv *html_escape(struct jctx *c, struct jv *s) {
        struct jbuf b = {0};
        if (jbuf_put(c, &b, "", 0) < 0)
                return NULL;
        for (size_t i = 0; i < s->s.n; i++) {
                const char *rep = NULL;
                switch (s->s.p[i]) {
                case '&': rep = "&amp;"; break;
                case '<': rep = "&lt;"; break;
                case '>': rep = "&gt;"; break;
                case '"': rep = "&#34;"; break;
                case '\'': rep = "&#39;"; break;
                }
                if ((rep ? jbuf_put(c, &b, rep, strlen(rep)) : jbuf_put(c, &b, s->s.p + i, 1)) < 0)
                        return NULL;
        }
        return jv_str_nocopy(c, b.p, b.n);
}

struct jv *jinja_call_filter(struct jctx *c, const struct jnode *n, struct jv *in, struct jv **pos, size_t n_pos,
                             const char **kw_names, struct jv **kw_vals, size_t n_kw) {
        struct args a = {pos, n_pos, kw_names, kw_vals, n_kw};
        unsigned line = n->line;
        struct jv *x, *y, *r, *items;
        int64_t i1;
        /* Most filters fail on an undefined input, as Jinja's do. */
        bool undef_ok = n->op == F_DEFAULT || n->op == F_D || n->op == F_LENGTH || n->op == F_COUNT ||
                        n->op == F_LIST || n->op == F_ITEMS || n->op == F_STRING || n->op == F_JOIN ||
                        n->op == F_SELECT || n->op == F_REJECT || n->op == F_SELECTATTR || n->op == F_REJECTATTR ||
                        n->op == F_MAP || n->op == F_FIRST || n->op == F_SAFE || n->op == F_TRIM || n->op == F_LOWER ||
                        n->op == F_UPPER || n->op == F_REVERSE || n->op == F_UNIQUE || n->op == F_SORT;
        if (in->t == JV_UNDEF && !undef_ok)
                return jerr(c, line, -EINVAL, "%.*s", (int) in->s.n, in->s.p), NULL;
        switch (n->op) {
        case F_ABS:
                if (in->t == JV_INT)
                        return in->i == INT64_MIN ? (jerr(c, line, -ERANGE, "integer overflow"), NULL) : jv_int(c, in->i < 0 ? -in->i : in->i);
                if (in->t == JV_FLOAT)
                        return jv_float(c, fabs(in->f));
                if (in->t == JV_BOOL)
                        return jv_int(c, in->b);
                return jerr(c, line, -EINVAL, "bad operand type for abs(): '%s'", jv_type_name(in)), NULL;
        case F_CAPITALIZE:
        case F_TITLE:
        case F_LOWER:
        case F_UPPER:
                if (!(x = to_str_v(c, line, in)))
                        return NULL;
                return change_case(c, x, n->op == F_CAPITALIZE ? CASE_CAPITALIZE : n->op == F_TITLE ? CASE_TITLE :
                                                n->op == F_LOWER ? CASE_LOWER : CASE_UPPER);
        case F_COUNT:
        case F_LENGTH:
                switch (in->t) {
                case JV_UNDEF: return jv_int(c, 0);
                case JV_STR: return jv_int(c, (int64_t) utf8_len(in->s.p, in->s.n));
                case JV_LIST: return jv_int(c, (int64_t) in->l.n);
                case JV_DICT: return jv_int(c, (int64_t) in->d->n);
                default: return jerr(c, line, -EINVAL, "object of type '%s' has no len()", jv_type_name(in)), NULL;
                }
        case F_D:
        case F_DEFAULT: {
                static const char *const kws[] = {"default_value", "boolean", NULL};
                if (check_args(c, line, "default", &a, 2, kws) < 0)
                        return NULL;
                x = arg(&a, 0, "default_value");
                y = arg(&a, 1, "boolean");
                bool use = in->t == JV_UNDEF || (y && jv_truthy(y) && !jv_truthy(in));
                if (!use)
                        return in;
                return x ? x : jv_str_nocopy(c, "", 0);
        }
        case F_E:
        case F_ESCAPE:
                if (!(x = to_str_v(c, line, in)))
                        return NULL;
                return html_escape(c, x);
        case F_SAFE:
                return in;
        case F_FIRST:
        case F_LAST:
                if (!(items = jinja_iter_list(c, line, in)))
                        return NULL;
                if (items->l.n == 0)
                        return jv_undef(c, "No first item, sequence was empty.", 33);
                return items->l.v[n->op == F_FIRST ? 0 : items->l.n - 1];
        case F_FLOAT:
                if (in->t == JV_FLOAT)
                        return in;
                if (in->t == JV_INT || in->t == JV_BOOL)
                        return jv_float(c, in->t == JV_INT ? (double) in->i : in->b);
                if (in->t == JV_STR) {
                        char buf[64];
                        char *end;
                        size_t l = in->s.n < sizeof(buf) - 1 ? in->s.n : sizeof(buf) - 1;
                        memcpy(buf, in->s.p, l);
                        buf[l] = 0;
                        double f = strtod(buf, &end);
                        if (end != buf && *end == 0)
                                return jv_float(c, f);
                }
                return (x = arg(&a, 0, "default")) ? x : jv_float(c, 0.0);
        case F_INT:
                if (in->t == JV_INT)
                        return in;
                if (in->t == JV_BOOL)
                        return jv_int(c, in->b);
                if (in->t == JV_FLOAT && isfinite(in->f) && fabs(in->f) < 9.2e18)
                        return jv_int(c, (int64_t) in->f);
                if (in->t == JV_STR) {
                        char buf[64];
                        char *end;
                        size_t l = in->s.n < sizeof(buf) - 1 ? in->s.n : sizeof(buf) - 1;
                        memcpy(buf, in->s.p, l);
                        buf[l] = 0;
                        errno = 0;
                        long long v = strtoll(buf, &end, 10);
                        if (end != buf && *end == 0 && !errno)
                                return jv_int(c, v);
                        double f = strtod(buf, &end);
                        if (end != buf && *end == 0 && isfinite(f) && fabs(f) < 9.2e18)
                                return jv_int(c, (int64_t) f);
                }
                return (x = arg(&a, 0, "default")) ? x : jv_int(c, 0);
        case F_INDENT: {
                static const char *const kws[] = {"width", "first", "blank", NULL};
                if (check_args(c, line, "indent", &a, 3, kws) < 0 || !(x = to_str_v(c, line, in)))
                        return NULL;
                i1 = 4;
                struct jv *w = arg(&a, 0, "width"), *first = arg(&a, 1, "first"), *blank = arg(&a, 2, "blank");
                if (w && !need_int(c, line, w, "indent", &i1))
                        return NULL;
                if (i1 < 0 || i1 > 1000)
                        return jerr(c, line, -EINVAL, "indent width out of range"), NULL;
                struct jbuf b = {0};
                if (jbuf_put(c, &b, "", 0) < 0)
                        return NULL;
                bool at_start = true, is_first = true;
                for (size_t i = 0; i <= x->s.n; i++) {
                        if (at_start) {
                                size_t e = i;
                                while (e < x->s.n && x->s.p[e] != '\n')
                                        e++;
                                bool empty = e == i;
                                bool want = is_first ? first && jv_truthy(first) : true;
                                if (want && (!empty || (blank && jv_truthy(blank))) && !(is_first && i == x->s.n && empty))
                                        for (int64_t k = 0; k < i1; k++)
                                                if (jbuf_putc(c, &b, ' ') < 0)
                                                        return NULL;
                                at_start = false;
                                is_first = false;
                        }
                        if (i == x->s.n)
                                break;
                        if (jbuf_putc(c, &b, x->s.p[i]) < 0)
                                return NULL;
                        if (x->s.p[i] == '\n')
                                at_start = true;
                }
                return jv_str_nocopy(c, b.p, b.n);
        }
        case F_ITEMS:
                if (in->t == JV_UNDEF)
                        return jv_list(c, 0);
                if (in->t != JV_DICT)
                        return jerr(c, line, -EINVAL, "items filter: can only get item pairs from a mapping, not %s", jv_type_name(in)), NULL;
                {
                        struct jv fn = {.t = JV_FUNC, .fn = {.id = JF_D_ITEMS, .self = in, .name = "items"}};
                        return jinja_call_func(c, n, &fn, NULL, 0, NULL, NULL, 0);
                }
        case F_JOIN: {
                static const char *const kws[] = {"d", "attribute", NULL};
                if (check_args(c, line, "join", &a, 2, kws) < 0)
                        return NULL;
                x = arg(&a, 0, "d");
                if (x && !(x = to_str_v(c, line, x)))
                        return NULL;
                return join(c, line, in, x ? x : jv_str_nocopy(c, "", 0), arg(&a, 1, "attribute"), false);
        }
        case F_LIST:
                if (!(items = jinja_iter_list(c, line, in)))
                        return NULL;
                if (!(r = jv_list(c, items->l.n)))
                        return NULL;
                if (items->l.n)
                        memcpy(r->l.v, items->l.v, items->l.n * sizeof(*r->l.v));
                return r;
        case F_MAP: {
                if (!(items = jinja_iter_list(c, line, in)))
                        return NULL;
                struct jv *attr = arg(&a, SIZE_MAX, "attribute"), *def = arg(&a, SIZE_MAX, "default");
                int fid = -1;
                if (!attr) {
                        if (n_pos < 1 || !need_str(c, line, pos[0], "map"))
                                return c->failed ? NULL : (jerr(c, line, -EINVAL, "map needs a filter name or attribute="), NULL);
                        if ((fid = jinja_filter_lookup(pos[0]->s.p, pos[0]->s.n)) < 0)
                                return jerr(c, line, -EINVAL, "unsupported filter '%.*s'", (int) pos[0]->s.n, pos[0]->s.p), NULL;
                }
                if (!(r = jv_list(c, items->l.n)))
                        return NULL;
                struct jnode fn = *n;
                fn.op = fid;
                fn.name = fid >= 0 ? filter_names[fid] : n->name;
                for (size_t i = 0; i < items->l.n; i++) {
                        if (attr) {
                                if (!(x = jinja_getitem(c, line, items->l.v[i], attr)))
                                        return NULL;
                                if (x->t == JV_UNDEF && def)
                                        x = def;
                        } else if (!(x = jinja_call_filter(c, &fn, items->l.v[i], pos + 1, n_pos - 1, kw_names, kw_vals, n_kw)))
                                return NULL;
                        r->l.v[i] = x;
                }
                return r;
        }
        case F_MAX:
        case F_MIN:
                if (!(items = jinja_iter_list(c, line, in)))
                        return NULL;
                if (items->l.n == 0)
                        return jv_undef(c, "No aggregated item, sequence was empty.", 38);
                r = items->l.v[0];
                for (size_t i = 1; i < items->l.n; i++) {
                        int cmp;
                        if (cmp_for_sort(c, line, items->l.v[i], r, false, &cmp) < 0)
                                return NULL;
                        if (n->op == F_MAX ? cmp > 0 : cmp < 0)
                                r = items->l.v[i];
                }
                return r;
        case F_REJECT: return select_items(c, n, in, pos, n_pos, false, false);
        case F_SELECT: return select_items(c, n, in, pos, n_pos, false, true);
        case F_REJECTATTR: return select_items(c, n, in, pos, n_pos, true, false);
        case F_SELECTATTR: return select_items(c, n, in, pos, n_pos, true, true);
        case F_REPLACE:
                if (!(x = to_str_v(c, line, in)))
                        return NULL;
                i1 = -1;
                if (n_pos < 2 || (n_pos == 3 && !need_int(c, line, pos[2], "replace", &i1)))
                        return c->failed ? NULL : (jerr(c, line, -EINVAL, "replace needs old and new strings"), NULL);
                return replace(c, line, x, pos[0], pos[1], i1);
        case F_REVERSE:
                if (in->t == JV_STR) {
                        struct jv st = {.t = JV_INT, .i = -1};
                        (void) st;
                        if (!(items = jinja_iter_list(c, line, in)))
                                return NULL;
                        struct jbuf b = {0};
                        if (jbuf_put(c, &b, "", 0) < 0)
                                return NULL;
                        for (size_t i = items->l.n; i > 0; i--)
                                if (jbuf_put(c, &b, items->l.v[i - 1]->s.p, items->l.v[i - 1]->s.n) < 0)
                                        return NULL;
                        return jv_str_nocopy(c, b.p, b.n);
                }
                if (!(items = jinja_iter_list(c, line, in)) || !(r = jv_list(c, items->l.n)))
                        return NULL;
                for (size_t i = 0; i < items->l.n; i++)
                        r->l.v[i] = items->l.v[items->l.n - 1 - i];
                return r;
        case F_ROUND: {
                static const char *const kws[] = {"precision", "method", NULL};
                if (check_args(c, line, "round", &a, 2, kws) < 0)
                        return NULL;
                i1 = 0;
                if ((x = arg(&a, 0, "precision")) && !need_int(c, line, x, "round", &i1))
                        return NULL;
                if ((y = arg(&a, 1, "method")) && !(y->t == JV_STR && y->s.n == 6 && memcmp(y->s.p, "common", 6) == 0))
                        return jerr(c, line, -EINVAL, "unsupported construct: round with a method other than 'common'"), NULL;
                if (in->t != JV_INT && in->t != JV_FLOAT && in->t != JV_BOOL)
                        return jerr(c, line, -EINVAL, "round needs a number, got %s", jv_type_name(in)), NULL;
                double f = in->t == JV_FLOAT ? in->f : in->t == JV_INT ? (double) in->i : in->b;
                double m = pow(10.0, (double) i1);
                /* Python rounds half to even. */
                return jv_float(c, rint(f * m) / m);
        }
        case F_SORT: {
                static const char *const kws[] = {"reverse", "case_sensitive", "attribute", NULL};
                if (check_args(c, line, "sort", &a, 3, kws) < 0 || !(items = jinja_iter_list(c, line, in)))
                        return NULL;
                bool rev = (x = arg(&a, 0, "reverse")) && jv_truthy(x);
                bool cs = (y = arg(&a, 1, "case_sensitive")) && jv_truthy(y);
                struct jv *attr = arg(&a, 2, "attribute");
                size_t cnt = items->l.n;
                struct jv **keys = arena_alloc(&c->arena, (cnt + 1) * sizeof(*keys) * 3);
                if (!(r = jv_list(c, cnt)) || !keys)
                        return c->failed ? NULL : (jerr(c, line, -E2BIG, "out of memory"), NULL);
                for (size_t i = 0; i < cnt; i++) {
                        r->l.v[i] = items->l.v[i];
                        keys[i] = items->l.v[i];
                        if (attr && !(keys[i] = jinja_getitem(c, line, items->l.v[i], attr)))
                                return NULL;
                }
                if (merge_sort(c, line, r->l.v, keys, cnt, cs, rev, keys + cnt + 1, keys + 2 * (cnt + 1)) < 0)
                        return NULL;
                return r;
        }
        case F_STRING:
                if (in->t == JV_UNDEF)
                        return jv_str_nocopy(c, "", 0);
                return to_str_v(c, line, in);
        case F_SUM: {
                static const char *const kws[] = {"attribute", "start", NULL};
                if (check_args(c, line, "sum", &a, 2, kws) < 0 || !(items = jinja_iter_list(c, line, in)))
                        return NULL;
                struct jv *attr = arg(&a, 0, "attribute");
                r = (x = arg(&a, 1, "start")) ? x : jv_int(c, 0);
                for (size_t i = 0; i < items->l.n && r; i++) {
                        struct jv *v = items->l.v[i];
                        if (attr && !(v = jinja_getitem(c, line, v, attr)))
                                return NULL;
                        if ((r->t != JV_INT && r->t != JV_FLOAT) || (v->t != JV_INT && v->t != JV_FLOAT && v->t != JV_BOOL))
                                return jerr(c, line, -EINVAL, "sum: unsupported operand types %s and %s", jv_type_name(r), jv_type_name(v)), NULL;
                        if (r->t == JV_INT && v->t != JV_FLOAT) {
                                int64_t s;
                                if (__builtin_add_overflow(r->i, v->t == JV_INT ? v->i : v->b, &s))
                                        return jerr(c, line, -ERANGE, "integer overflow"), NULL;
                                r = jv_int(c, s);
                        } else
                                r = jv_float(c, (r->t == JV_INT ? (double) r->i : r->f) + (v->t == JV_FLOAT ? v->f : v->t == JV_INT ? (double) v->i : v->b));
                }
                return r;
        }
        case F_TOJSON: {
                static const char *const kws[] = {"indent", "ensure_ascii", "separators", "sort_keys", NULL};
                if (check_args(c, line, "tojson", &a, 4, kws) < 0)
                        return NULL;
                int indent = -1;
                const char *item_sep = ", ", *key_sep = ": ";
                if ((x = arg(&a, 0, "indent")) && x->t != JV_NONE) {
                        if (!need_int(c, line, x, "tojson indent", &i1))
                                return NULL;
                        if (i1 > 100)
                                return jerr(c, line, -EINVAL, "tojson indent too large"), NULL;
                        indent = i1 < 0 ? 0 : (int) i1;
                        item_sep = ",";
                }
                if ((x = arg(&a, 1, "ensure_ascii")) && jv_truthy(x))
                        return jerr(c, line, -EINVAL, "unsupported construct: tojson(ensure_ascii=True)"), NULL;
                if ((x = arg(&a, 2, "separators")) && x->t != JV_NONE) {
                        if (x->t != JV_LIST || x->l.n != 2 || x->l.v[0]->t != JV_STR || x->l.v[1]->t != JV_STR)
                                return jerr(c, line, -EINVAL, "tojson separators must be two strings"), NULL;
                        item_sep = arena_strndup(&c->arena, x->l.v[0]->s.p, x->l.v[0]->s.n);
                        key_sep = arena_strndup(&c->arena, x->l.v[1]->s.p, x->l.v[1]->s.n);
                        if (!item_sep || !key_sep)
                                return jerr(c, line, -E2BIG, "out of memory"), NULL;
                }
                bool sort_keys = (y = arg(&a, 3, "sort_keys")) && jv_truthy(y);
                struct jbuf b = {0};
                if (jbuf_put(c, &b, "", 0) < 0 || jv_to_json(c, &b, in, indent, sort_keys, item_sep, key_sep, 0, line) < 0)
                        return NULL;
                return jv_str_nocopy(c, b.p, b.n);
        }
        case F_TRIM:
                if (in->t == JV_UNDEF)
                        return jv_str_nocopy(c, "", 0);
                if (check_args(c, line, "trim", &a, 1, (const char *const[]){"chars", NULL}) < 0 || !(x = to_str_v(c, line, in)))
                        return NULL;
                y = arg(&a, 0, "chars");
                if (y && y->t == JV_NONE)
                        y = NULL;
                if (y && !need_str(c, line, y, "trim"))
                        return NULL;
                return strip(c, x, y, true, true);
        case F_UNIQUE: {
                static const char *const kws[] = {"case_sensitive", "attribute", NULL};
                if (check_args(c, line, "unique", &a, 2, kws) < 0 || !(items = jinja_iter_list(c, line, in)))
                        return NULL;
                bool cs = (x = arg(&a, 0, "case_sensitive")) && jv_truthy(x);
                struct jv *attr = arg(&a, 1, "attribute");
                if (!(r = jv_list(c, 0)))
                        return NULL;
                size_t cap = 0;
                for (size_t i = 0; i < items->l.n; i++) {
                        struct jv *k = items->l.v[i];
                        if (attr && !(k = jinja_getitem(c, line, k, attr)))
                                return NULL;
                        bool seen = false;
                        for (size_t j = 0; j < r->l.n && !seen; j++) {
                                struct jv *o = r->l.v[j];
                                if (attr && !(o = jinja_getitem(c, line, o, attr)))
                                        return NULL;
                                int cmp = 1;
                                if (!cs && k->t == JV_STR && o->t == JV_STR)
                                        cmp_for_sort(c, line, k, o, false, &cmp);
                                else
                                        cmp = jv_equal(k, o) ? 0 : 1;
                                seen = cmp == 0;
                        }
                        if (jinja_step(c, line) < 0)
                                return NULL;
                        if (!seen && !list_push(c, r, &cap, items->l.v[i]))
                                return NULL;
                }
                return r;
        }
        }
        return jerr(c, line, -EINVAL, "unsupported filter '%s'", n->name), NULL;
}
