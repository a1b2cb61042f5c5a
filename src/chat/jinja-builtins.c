/* Python's string/dict/list methods, attribute and item access, and the
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
        {"format_map", -1}, {"isascii", JF_S_ISASCII}, {"isdecimal", JF_S_ISDECIMAL}, {"isidentifier", -1},
        {"isnumeric", JF_S_ISNUMERIC}, {"isprintable", -1}, {"istitle", -1}, {"ljust", -1}, {"maketrans", -1},
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

/* ---- Attribute and item access */

static struct jv *bound_method(struct jctx *c, struct jv *obj, int id, const char *name) {
        struct jv *v = jv_new(c, JV_FUNC);
        if (v) {
                v->fn.id = id;
                v->fn.self = obj;
                v->fn.name = name;
        }
        return v;
}

static struct jv *loop_attr(struct jctx *c, unsigned line, struct jv *obj, const char *name, size_t n) {
        struct jloop *lp = obj->loop;
        size_t len = lp->items->l.n, i = lp->index0;
#define IS(s) (n == strlen(s) && memcmp(name, s, n) == 0)
        if (IS("index"))
                return jv_int(c, (int64_t) i + 1);
        if (IS("index0"))
                return jv_int(c, (int64_t) i);
        if (IS("revindex"))
                return jv_int(c, (int64_t) (len - i));
        if (IS("revindex0"))
                return jv_int(c, (int64_t) (len - i - 1));
        if (IS("first"))
                return jv_bool(c, i == 0);
        if (IS("last"))
                return jv_bool(c, i + 1 == len);
        if (IS("length"))
                return jv_int(c, (int64_t) len);
        if (IS("depth"))
                return jv_int(c, 1);
        if (IS("depth0"))
                return jv_int(c, 0);
        if (IS("previtem"))
                return i > 0 ? lp->items->l.v[i - 1] : jv_undef_fmt(c, "there is no previous item");
        if (IS("nextitem"))
                return i + 1 < len ? lp->items->l.v[i + 1] : jv_undef_fmt(c, "there is no next item");
        if (IS("cycle"))
                return bound_method(c, obj, JF_LOOP_CYCLE, "cycle");
        if (IS("changed"))
                return bound_method(c, obj, JF_LOOP_CHANGED, "changed");
#undef IS
        jerr(c, line, -EINVAL, "unsupported construct: loop.%.*s", (int) n, name);
        return NULL;
}

struct jv *jinja_getattr(struct jctx *c, unsigned line, struct jv *obj, const char *name, size_t n) {
        struct jv *v;
        int m;
        switch (obj->t) {
        case JV_UNDEF:
                return jv_undef_fail(c, line, obj);
        case JV_LOOP:
                return loop_attr(c, line, obj, name, n);
        case JV_DICT:
                /* Python's getattr comes first: d.items is the method. */
                if ((m = jinja_method_lookup(JV_DICT, name, n)) > 0)
                        return bound_method(c, obj, m, name);
                if (m < 0)
                        return jerr(c, line, -EINVAL, "unsupported construct: dict method '%.*s'", (int) n, name), NULL;
                if ((v = jv_dict_get(obj, name, n)))
                        return v;
                return jv_undef_fmt(c, "'dict object' has no attribute '%.*s'", (int) n, name);
        case JV_NS:
                if ((v = jv_dict_get(obj, name, n)))
                        return v;
                return jv_undef_fmt(c, "'Namespace' has no attribute '%.*s'", (int) n, name);
        case JV_STR:
        case JV_LIST:
                if ((m = jinja_method_lookup(obj->t, name, n)) > 0)
                        return bound_method(c, obj, m, name);
                if (m < 0)
                        return jerr(c, line, -EINVAL, "unsupported construct: %s method '%.*s'", jv_type_name(obj), (int) n, name), NULL;
                /* fallthrough */
        default:
                return jv_undef_fmt(c, "'%s object' has no attribute '%.*s'", jv_type_name(obj), (int) n, name);
        }
}

/* Python index i (may be negative) into a sequence of len; false when out of range. */
static bool norm_index(int64_t i, size_t len, size_t *ret) {
        if (i < 0)
                i += (int64_t) len;
        if (i < 0 || (uint64_t) i >= len)
                return false;
        *ret = (size_t) i;
        return true;
}

/* Byte offset of code point index i in s. */
static size_t cp_offset(const char *s, size_t n, size_t i) {
        size_t off = 0;
        while (i > 0 && off < n) {
                uint32_t cp;
                off += utf8_next(s + off, n - off, &cp);
                i--;
        }
        return off;
}

struct jv *jinja_getitem(struct jctx *c, unsigned line, struct jv *obj, struct jv *key) {
        size_t idx;
        char num[32];
        switch (obj->t) {
        case JV_UNDEF:
                return jv_undef_fail(c, line, obj);
        case JV_DICT: {
                struct jv *v = jv_dict_get_v(obj, key);
                if (v)
                        return v;
                if (key->t == JV_STR)
                        return jinja_getattr(c, line, obj, key->s.p, key->s.n);
                break;
        }
        case JV_LIST:
                if (obj->is_gen)
                        return jv_undef_fmt(c, "'generator' object is not subscriptable");
                if (key->t == JV_INT || key->t == JV_BOOL) {
                        int64_t i = key->t == JV_INT ? key->i : key->b;
                        if (norm_index(i, obj->l.n, &idx))
                                return obj->l.v[idx];
                        snprintf(num, sizeof(num), "%" PRId64, i);
                        return jv_undef_fmt(c, "%s object has no element %s", jv_type_name(obj), num);
                }
                if (key->t == JV_STR)
                        return jinja_getattr(c, line, obj, key->s.p, key->s.n);
                break;
        case JV_STR:
                if (key->t == JV_INT || key->t == JV_BOOL) {
                        int64_t i = key->t == JV_INT ? key->i : key->b;
                        size_t len = utf8_len(obj->s.p, obj->s.n);
                        if (norm_index(i, len, &idx)) {
                                size_t a = cp_offset(obj->s.p, obj->s.n, idx);
                                uint32_t cp;
                                size_t l = utf8_next(obj->s.p + a, obj->s.n - a, &cp);
                                return jv_str_nocopy(c, obj->s.p + a, l);
                        }
                        snprintf(num, sizeof(num), "%" PRId64, i);
                        return jv_undef_fmt(c, "str object has no element %s", num);
                }
                if (key->t == JV_STR)
                        return jinja_getattr(c, line, obj, key->s.p, key->s.n);
                break;
        case JV_NS:
        case JV_LOOP:
                if (key->t == JV_STR)
                        return jinja_getattr(c, line, obj, key->s.p, key->s.n);
                break;
        default:
                break;
        }
        return jv_undef_fmt(c, "'%s object' has no item %s", jv_type_name(obj), jv_type_name(key));
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
                if (jcheck_args(c, line, "range()", &a, 3, NULL) < 0)
                        return NULL;
                i1 = 0;
                i3 = 1;
                if (n_pos == 1 && !jneed_int(c, line, pos[0], "range()", &i2))
                        return NULL;
                if (n_pos >= 2 && (!jneed_int(c, line, pos[0], "range()", &i1) || !jneed_int(c, line, pos[1], "range()", &i2)))
                        return NULL;
                if (n_pos == 3 && !jneed_int(c, line, pos[2], "range()", &i3))
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
                struct jv *msg = jarg(&a, 0, NULL);
                struct jbuf b = {0};
                if (jbuf_put(c, &b, "", 0) < 0 || (msg && jv_to_str(c, &b, msg, line) < 0))
                        return NULL;
                jerr(c, line, -EINVAL, "raise_exception: %s", b.p);
                return NULL;
        }
        case JF_STRFTIME_NOW: {
                struct tm tm;
                if (!(x = jneed_str(c, line, jarg(&a, 0, NULL), "strftime_now()")) || set_tm(c, line, &tm) < 0)
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
        case JF_LOOP_CHANGED: {
                /* True when the arguments differ from the previous call's. */
                if (n_kw)
                        return jerr(c, line, -EINVAL, "unsupported construct: loop.changed with keyword arguments"), NULL;
                if (!(r = jv_list(c, n_pos)))
                        return NULL;
                r->is_tuple = true;
                for (size_t i = 0; i < n_pos; i++)
                        r->l.v[i] = pos[i];
                bool changed = !self->loop->last_changed || !jv_equal(self->loop->last_changed, r);
                if (changed)
                        self->loop->last_changed = r;
                return jv_bool(c, changed);
        }
        case JF_S_SPLIT:
        case JF_S_RSPLIT: {
                static const char *const kws[] = {"sep", "maxsplit", NULL};
                if (jcheck_args(c, line, "split()", &a, 2, kws) < 0)
                        return NULL;
                i1 = -1;
                if ((y = jarg(&a, 1, "maxsplit")) && !jneed_int(c, line, y, "split()", &i1))
                        return NULL;
                return jstr_split(c, line, self, jarg(&a, 0, "sep"), i1, fn->fn.id == JF_S_RSPLIT);
        }
        case JF_S_STARTSWITH:
        case JF_S_ENDSWITH:
                if (jcheck_args(c, line, fn->fn.name, &a, 1, NULL) < 0 || !(x = jarg(&a, 0, NULL)))
                        return jerr(c, line, -EINVAL, "%s() takes exactly one argument", fn->fn.name), NULL;
                if (x->t == JV_LIST && x->is_tuple) {
                        for (size_t i = 0; i < x->l.n; i++) {
                                if (!jneed_str(c, line, x->l.v[i], fn->fn.name))
                                        return NULL;
                                if (jstr_affix(self, x->l.v[i], fn->fn.id == JF_S_ENDSWITH))
                                        return &jv_true_s;
                        }
                        return &jv_false_s;
                }
                if (!jneed_str(c, line, x, fn->fn.name))
                        return NULL;
                return jv_bool(c, jstr_affix(self, x, fn->fn.id == JF_S_ENDSWITH));
        case JF_S_STRIP:
        case JF_S_LSTRIP:
        case JF_S_RSTRIP:
                if (jcheck_args(c, line, fn->fn.name, &a, 1, NULL) < 0)
                        return NULL;
                x = jarg(&a, 0, NULL);
                if (x && x->t == JV_NONE)
                        x = NULL;
                if (x && !jneed_str(c, line, x, fn->fn.name))
                        return NULL;
                return jstr_strip(c, self, x, fn->fn.id != JF_S_RSTRIP, fn->fn.id != JF_S_LSTRIP);
        case JF_S_LOWER:
                return jstr_case(c, self, CASE_LOWER);
        case JF_S_UPPER:
                return jstr_case(c, self, CASE_UPPER);
        case JF_S_TITLE:
                return jstr_case(c, self, CASE_TITLE);
        case JF_S_CAPITALIZE:
                return jstr_case(c, self, CASE_CAPITALIZE);
        case JF_S_REPLACE:
                i1 = -1;
                if (n_pos < 2 || (n_pos == 3 && !jneed_int(c, line, pos[2], "replace()", &i1)))
                        return n_pos < 2 ? jerr(c, line, -EINVAL, "replace() takes at least 2 arguments"), NULL : NULL;
                return jstr_replace(c, line, self, pos[0], pos[1], i1);
        case JF_S_FIND:
        case JF_S_RFIND:
        case JF_S_INDEX:
                if (n_pos != 1 || !jneed_str(c, line, pos[0], fn->fn.name))
                        return c->failed ? NULL : (jerr(c, line, -EINVAL, "%s() takes exactly one argument here", fn->fn.name), NULL);
                i1 = jstr_find(self, pos[0], fn->fn.id == JF_S_RFIND);
                if (i1 < 0 && fn->fn.id == JF_S_INDEX)
                        return jerr(c, line, -EINVAL, "substring not found"), NULL;
                return jv_int(c, i1);
        case JF_S_COUNT: {
                if (n_pos != 1 || !jneed_str(c, line, pos[0], "count()"))
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
                return jstr_join(c, line, pos[0], self, NULL, true);
        case JF_S_SPLITLINES: {
                bool keep = (x = jarg(&a, 0, "keepends")) && jv_truthy(x);
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
                        if (!piece || !jlist_push(c, r, &cap, piece))
                                return NULL;
                        st = i;
                }
                if (st < self->s.n) {
                        struct jv *piece = jv_str_nocopy(c, self->s.p + st, self->s.n - st);
                        if (!piece || !jlist_push(c, r, &cap, piece))
                                return NULL;
                }
                return r;
        }
        case JF_S_ISDIGIT:
        case JF_S_ISSPACE:
        case JF_S_ISALPHA:
        case JF_S_ISALNUM:
        case JF_S_ISDECIMAL:
        case JF_S_ISNUMERIC:
        case JF_S_ISASCII:
        case JF_S_ISUPPER:
        case JF_S_ISLOWER: {
                /* Python's predicates: every code point qualifies (and, but for
                 * isascii, there is one); isupper/islower look at cased letters
                 * only and need one. */
                bool ok = self->s.n > 0 || fn->fn.id == JF_S_ISASCII, cased = false;
                for (size_t i = 0; i < self->s.n;) {
                        uint32_t cp;
                        i += utf8_next(self->s.p + i, self->s.n - i, &cp);
                        bool lo = jchar_is_lower(cp), up = jchar_is_upper(cp), ti = jchar_is_title(cp);
                        switch (fn->fn.id) {
                        case JF_S_ISDIGIT: ok &= jchar_class(JC_DIGIT, cp); break;
                        case JF_S_ISSPACE: ok &= py_isspace(cp); break;
                        case JF_S_ISALPHA: ok &= jchar_class(JC_ALPHA, cp); break;
                        case JF_S_ISDECIMAL: ok &= jchar_class(JC_DECIMAL, cp); break;
                        case JF_S_ISNUMERIC: ok &= jchar_class(JC_NUMERIC, cp); break;
                        case JF_S_ISASCII: ok &= cp < 0x80; break;
                        case JF_S_ISALNUM:
                                ok &= jchar_class(JC_ALPHA, cp) || jchar_class(JC_DECIMAL, cp) ||
                                      jchar_class(JC_DIGIT, cp) || jchar_class(JC_NUMERIC, cp);
                                break;
                        case JF_S_ISUPPER: ok &= !lo && !ti; cased |= up; break;
                        default: ok &= !up && !ti; cased |= lo; break;
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
                r->view = fn->fn.id == JF_D_KEYS ? JV_VIEW_KEYS : fn->fn.id == JF_D_VALUES ? JV_VIEW_VALUES : JV_VIEW_ITEMS;
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
