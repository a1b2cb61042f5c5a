/* Jinja's filters and tests, each with the behaviour of its Jinja2
 * original (and transformers' tojson: json.dumps with ensure_ascii off). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja-impl.h"

enum jfilter {
        F_ABS, F_CAPITALIZE, F_COUNT, F_D, F_DEFAULT, F_E, F_ESCAPE, F_FIRST, F_FLOAT, F_INDENT, F_INT,
        F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP, F_MAX, F_MIN, F_REJECT,
        F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT, F_SELECTATTR, F_SORT,
        F_STRING, F_SUM, F_TITLE, F_TOJSON, F_TRIM, F_UNIQUE, F_UPPER, F_FORMAT, F_DICTSORT,
};
static const char *const filter_names[] = {
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "indent", "int",
        "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort",
        "string", "sum", "title", "tojson", "trim", "unique", "upper", "format", "dictsort",
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
        /* Undefined has __len__ and __getitem__, so Jinja calls it a sequence. */
        case T_SEQUENCE: *ret = v->t == JV_STR || (v->t == JV_LIST && !v->is_gen) || v->t == JV_DICT || v->t == JV_UNDEF; return 0;
        case T_CALLABLE: *ret = v->t == JV_FUNC || v->t == JV_MACRO; return 0;
        case T_ESCAPED: *ret = false; return 0;
        case T_LOWER:
        case T_UPPER:
                if (v->t != JV_STR)
                        return jerr(c, n->line, -EINVAL, "test '%s' needs a string, got %s", n->name, jv_type_name(v));
                {
                        bool cased = false, bad = false;
                        for (size_t i = 0; i < v->s.n;) {
                                uint32_t cp;
                                i += utf8_next(v->s.p + i, v->s.n - i, &cp);
                                bool lo = jchar_is_lower(cp), up = jchar_is_upper(cp), ti = jchar_is_title(cp);
                                cased |= test == T_LOWER ? lo : up;
                                bad |= ti || (test == T_LOWER ? up : lo);
                        }
                        *ret = cased && !bad;
                }
                return 0;
        case T_EVEN:
        case T_ODD:
        case T_DIVISIBLEBY: {
                /* value % d == 0 (or == 1 for odd), with Python's modulo. */
                if (v->t != JV_INT && v->t != JV_BOOL && v->t != JV_FLOAT)
                        return jerr(c, n->line, -EINVAL, "test '%s' needs a number, got %s", n->name, jv_type_name(v));
                struct jv two = {.t = JV_INT, .i = 2};
                if (test == T_DIVISIBLEBY) {
                        if (!x || (x->t != JV_INT && x->t != JV_BOOL && x->t != JV_FLOAT))
                                return jerr(c, n->line, -EINVAL, "divisibleby needs a number argument");
                } else
                        x = &two;
                bool fl = v->t == JV_FLOAT || x->t == JV_FLOAT;
                double fv = v->t == JV_FLOAT ? v->f : v->t == JV_INT ? (double) v->i : v->b;
                double fd = x->t == JV_FLOAT ? x->f : x->t == JV_INT ? (double) x->i : x->b;
                if (fd == 0)
                        return jerr(c, n->line, -EDOM, "integer division or modulo by zero");
                double m;
                if (fl) {
                        m = fmod(fv, fd);
                        if (m != 0 && ((m < 0) != (fd < 0)))
                                m += fd;
                } else {
                        int64_t iv = v->t == JV_INT ? v->i : v->b, id = x->t == JV_INT ? x->i : x->b;
                        int64_t im = id == -1 ? 0 : iv % id;
                        if (im != 0 && ((im < 0) != (id < 0)))
                                im += id;
                        m = (double) im;
                }
                *ret = test == T_ODD ? m == 1 : m == 0;
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
                        unsigned char x = (unsigned char) jascii_lower(a->s.p[i]), y = (unsigned char) jascii_lower(b->s.p[i]);
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
/* Marks a filter's result as the lazy generator Jinja returns. */
static struct jv *as_gen(struct jv *v) {
        if (v)
                v->is_gen = true;
        return v;
}

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
                struct jv *tn = jneed_str(c, n->line, args[0], n->name);
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
                if (res == want && !jlist_push(c, out, &cap, items->l.v[i]))
                        return NULL;
        }
        return as_gen(out);
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
                if (!(x = jto_str(c, line, in)))
                        return NULL;
                return jstr_case(c, x, n->op == F_CAPITALIZE ? CASE_CAPITALIZE : n->op == F_TITLE ? CASE_TITLE :
                                                n->op == F_LOWER ? CASE_LOWER : CASE_UPPER);
        case F_COUNT:
        case F_LENGTH:
                switch (in->t) {
                case JV_UNDEF: return jv_int(c, 0);
                case JV_STR: return jv_int(c, (int64_t) utf8_len(in->s.p, in->s.n));
                case JV_LIST:
                        if (in->is_gen)
                                return jerr(c, line, -EINVAL, "object of type 'generator' has no len()"), NULL;
                        return jv_int(c, (int64_t) in->l.n);
                case JV_DICT: return jv_int(c, (int64_t) in->d->n);
                default: return jerr(c, line, -EINVAL, "object of type '%s' has no len()", jv_type_name(in)), NULL;
                }
        case F_D:
        case F_DEFAULT: {
                static const char *const kws[] = {"default_value", "boolean", NULL};
                if (jcheck_args(c, line, "default", &a, 2, kws) < 0)
                        return NULL;
                x = jarg(&a, 0, "default_value");
                y = jarg(&a, 1, "boolean");
                bool use = in->t == JV_UNDEF || (y && jv_truthy(y) && !jv_truthy(in));
                if (!use)
                        return in;
                return x ? x : jv_str_nocopy(c, "", 0);
        }
        case F_E:
        case F_ESCAPE:
                if (!(x = jto_str(c, line, in)))
                        return NULL;
                return html_escape(c, x);
        case F_SAFE:
                return in;
        case F_FIRST:
        case F_LAST:
                if (n->op == F_LAST && in->t == JV_LIST && in->is_gen)
                        return jerr(c, line, -EINVAL, "'generator' object is not reversible"), NULL;
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
                return (x = jarg(&a, 0, "default")) ? x : jv_float(c, 0.0);
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
                return (x = jarg(&a, 0, "default")) ? x : jv_int(c, 0);
        case F_INDENT: {
                static const char *const kws[] = {"width", "first", "blank", NULL};
                if (jcheck_args(c, line, "indent", &a, 3, kws) < 0 || !(x = jto_str(c, line, in)))
                        return NULL;
                i1 = 4;
                struct jv *w = jarg(&a, 0, "width"), *first = jarg(&a, 1, "first"), *blank = jarg(&a, 2, "blank");
                if (w && !jneed_int(c, line, w, "indent", &i1))
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
                        return as_gen(jv_list(c, 0));
                if (in->t != JV_DICT)
                        return jerr(c, line, -EINVAL, "items filter: can only get item pairs from a mapping, not %s", jv_type_name(in)), NULL;
                {
                        struct jv fn = {.t = JV_FUNC, .fn = {.id = JF_D_ITEMS, .self = in, .name = "items"}};
                        return as_gen(jinja_call_func(c, n, &fn, NULL, 0, NULL, NULL, 0));
                }
        case F_JOIN: {
                static const char *const kws[] = {"d", "attribute", NULL};
                if (jcheck_args(c, line, "join", &a, 2, kws) < 0)
                        return NULL;
                x = jarg(&a, 0, "d");
                if (x && !(x = jto_str(c, line, x)))
                        return NULL;
                return jstr_join(c, line, in, x ? x : jv_str_nocopy(c, "", 0), jarg(&a, 1, "attribute"), false);
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
                struct jv *attr = jarg(&a, SIZE_MAX, "attribute"), *def = jarg(&a, SIZE_MAX, "default");
                int fid = -1;
                if (!attr) {
                        if (n_pos < 1 || !jneed_str(c, line, pos[0], "map"))
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
                return as_gen(r);
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
                if (!(x = jto_str(c, line, in)))
                        return NULL;
                i1 = -1;
                if (n_pos < 2 || (n_pos == 3 && !jneed_int(c, line, pos[2], "replace", &i1)))
                        return c->failed ? NULL : (jerr(c, line, -EINVAL, "replace needs old and new strings"), NULL);
                return jstr_replace(c, line, x, pos[0], pos[1], i1);
        case F_REVERSE:
                if (in->t == JV_STR) {
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
                /* reversed() gives an iterator; a generator has none, so
                 * Jinja falls back to a reversed list. */
                return in->t == JV_LIST && in->is_gen ? r : as_gen(r);
        case F_ROUND: {
                static const char *const kws[] = {"precision", "method", NULL};
                if (jcheck_args(c, line, "round", &a, 2, kws) < 0)
                        return NULL;
                i1 = 0;
                if ((x = jarg(&a, 0, "precision")) && !jneed_int(c, line, x, "round", &i1))
                        return NULL;
                if ((y = jarg(&a, 1, "method")) && !(y->t == JV_STR && y->s.n == 6 && memcmp(y->s.p, "common", 6) == 0))
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
                if (jcheck_args(c, line, "sort", &a, 3, kws) < 0 || !(items = jinja_iter_list(c, line, in)))
                        return NULL;
                bool rev = (x = jarg(&a, 0, "reverse")) && jv_truthy(x);
                bool cs = (y = jarg(&a, 1, "case_sensitive")) && jv_truthy(y);
                struct jv *attr = jarg(&a, 2, "attribute");
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
                return jto_str(c, line, in);
        case F_SUM: {
                static const char *const kws[] = {"attribute", "start", NULL};
                if (jcheck_args(c, line, "sum", &a, 2, kws) < 0 || !(items = jinja_iter_list(c, line, in)))
                        return NULL;
                struct jv *attr = jarg(&a, 0, "attribute");
                r = (x = jarg(&a, 1, "start")) ? x : jv_int(c, 0);
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
                if (jcheck_args(c, line, "tojson", &a, 4, kws) < 0)
                        return NULL;
                int indent = -1;
                const char *item_sep = ", ", *key_sep = ": ";
                if ((x = jarg(&a, 0, "indent")) && x->t != JV_NONE) {
                        if (!jneed_int(c, line, x, "tojson indent", &i1))
                                return NULL;
                        if (i1 > 100)
                                return jerr(c, line, -EINVAL, "tojson indent too large"), NULL;
                        indent = i1 < 0 ? 0 : (int) i1;
                        item_sep = ",";
                }
                if ((x = jarg(&a, 1, "ensure_ascii")) && jv_truthy(x))
                        return jerr(c, line, -EINVAL, "unsupported construct: tojson(ensure_ascii=True)"), NULL;
                if ((x = jarg(&a, 2, "separators")) && x->t != JV_NONE) {
                        if (x->t != JV_LIST || x->l.n != 2 || x->l.v[0]->t != JV_STR || x->l.v[1]->t != JV_STR)
                                return jerr(c, line, -EINVAL, "tojson separators must be two strings"), NULL;
                        item_sep = arena_strndup(&c->arena, x->l.v[0]->s.p, x->l.v[0]->s.n);
                        key_sep = arena_strndup(&c->arena, x->l.v[1]->s.p, x->l.v[1]->s.n);
                        if (!item_sep || !key_sep)
                                return jerr(c, line, -E2BIG, "out of memory"), NULL;
                }
                bool sort_keys = (y = jarg(&a, 3, "sort_keys")) && jv_truthy(y);
                struct jbuf b = {0};
                if (jbuf_put(c, &b, "", 0) < 0 || jv_to_json(c, &b, in, indent, sort_keys, item_sep, key_sep, 0, line) < 0)
                        return NULL;
                return jv_str_nocopy(c, b.p, b.n);
        }
        case F_TRIM:
                if (in->t == JV_UNDEF)
                        return jv_str_nocopy(c, "", 0);
                if (jcheck_args(c, line, "trim", &a, 1, (const char *const[]){"chars", NULL}) < 0 || !(x = jto_str(c, line, in)))
                        return NULL;
                y = jarg(&a, 0, "chars");
                if (y && y->t == JV_NONE)
                        y = NULL;
                if (y && !jneed_str(c, line, y, "trim"))
                        return NULL;
                return jstr_strip(c, x, y, true, true);
        case F_FORMAT: {
                if (n_pos && n_kw)
                        return jerr(c, line, -EINVAL, "can't handle positional and keyword arguments at the same time"), NULL;
                if (n_kw)
                        return jerr(c, line, -EINVAL, "unsupported construct: format with keyword arguments"), NULL;
                if (!(x = jto_str(c, line, in)) || !(r = jv_list(c, n_pos)))
                        return NULL;
                r->is_tuple = true;
                for (size_t i = 0; i < n_pos; i++)
                        r->l.v[i] = pos[i];
                return jstr_percent(c, line, x, r);
        }
        case F_DICTSORT: {
                static const char *const kws[] = {"case_sensitive", "by", "reverse", NULL};
                if (jcheck_args(c, line, "dictsort", &a, 3, kws) < 0)
                        return NULL;
                if (in->t != JV_DICT)
                        return jerr(c, line, -EINVAL, "dictsort: expected a mapping, got %s", jv_type_name(in)), NULL;
                bool cs = (x = jarg(&a, 0, "case_sensitive")) && jv_truthy(x);
                bool by_value = false;
                if ((y = jarg(&a, 1, "by"))) {
                        if (!jneed_str(c, line, y, "dictsort"))
                                return NULL;
                        by_value = y->s.n == 5 && memcmp(y->s.p, "value", 5) == 0;
                        if (!by_value && !(y->s.n == 3 && memcmp(y->s.p, "key", 3) == 0))
                                return jerr(c, line, -EINVAL, "You can only sort by either \"key\" or \"value\""), NULL;
                }
                bool rev = (x = jarg(&a, 2, "reverse")) && jv_truthy(x);
                struct jv fn = {.t = JV_FUNC, .fn = {.id = JF_D_ITEMS, .self = in, .name = "items"}};
                if (!(r = jinja_call_func(c, n, &fn, NULL, 0, NULL, NULL, 0)))
                        return NULL;
                r->view = JV_VIEW_NONE; /* sorted() gives a plain list */
                size_t cnt = r->l.n;
                struct jv **keys = arena_alloc(&c->arena, (cnt + 1) * sizeof(*keys) * 3);
                if (!keys)
                        return jerr(c, line, -E2BIG, "out of memory"), NULL;
                for (size_t i = 0; i < cnt; i++)
                        keys[i] = r->l.v[i]->l.v[by_value ? 1 : 0];
                if (merge_sort(c, line, r->l.v, keys, cnt, cs, rev, keys + cnt + 1, keys + 2 * (cnt + 1)) < 0)
                        return NULL;
                return r;
        }
        case F_UNIQUE: {
                static const char *const kws[] = {"case_sensitive", "attribute", NULL};
                if (jcheck_args(c, line, "unique", &a, 2, kws) < 0 || !(items = jinja_iter_list(c, line, in)))
                        return NULL;
                bool cs = (x = jarg(&a, 0, "case_sensitive")) && jv_truthy(x);
                struct jv *attr = jarg(&a, 1, "attribute");
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
                        if (!seen && !jlist_push(c, r, &cap, items->l.v[i]))
                                return NULL;
                }
                return as_gen(r);
        }
        }
        return jerr(c, line, -EINVAL, "unsupported filter '%s'", n->name), NULL;
}
