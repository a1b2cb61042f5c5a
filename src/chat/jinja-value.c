/* Values of the Jinja interpreter: the arena they live in, construction,
 * truthiness, equality and ordering as Python defines them, and the three
 * ways of turning a value into text: str(), repr() and json.dumps(). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja-impl.h"

/* ---- Arena */

struct arena_chunk {
        struct arena_chunk *next;
        size_t size, used;
        max_align_t data[];
};

#define ARENA_CHUNK_MIN (64u << 10)

void *arena_alloc(struct arena *a, size_t size) {
        size = (size + 15) & ~(size_t) 15;
        if (size == 0)
                size = 16;
        if (a->limit && (size > a->limit || a->used > a->limit - size)) {
                a->exhausted = true;
                return NULL;
        }
        struct arena_chunk *ch = a->head;
        if (!ch || ch->size - ch->used < size) {
                size_t csize = size > ARENA_CHUNK_MIN ? size : ARENA_CHUNK_MIN;
                ch = malloc(sizeof(*ch) + csize);
                if (!ch) {
                        a->exhausted = true;
                        return NULL;
                }
                ch->size = csize;
                ch->used = 0;
                /* A big one-off allocation goes behind the current chunk so
                 * the current chunk's free space is not wasted. */
                if (a->head && size > ARENA_CHUNK_MIN) {
                        ch->next = a->head->next;
                        a->head->next = ch;
                } else {
                        ch->next = a->head;
                        a->head = ch;
                }
        }
        void *p = (char *) ch->data + ch->used;
        ch->used += size;
        a->used += size;
        memset(p, 0, size);
        return p;
}

void arena_free_all(struct arena *a) {
        struct arena_chunk *ch = a->head;
        while (ch) {
                struct arena_chunk *next = ch->next;
                free(ch);
                ch = next;
        }
        a->head = NULL;
        a->used = 0;
}

char *arena_strndup(struct arena *a, const char *s, size_t n) {
        if (n == SIZE_MAX)
                return NULL;
        char *p = arena_alloc(a, n + 1);
        if (p && n)
                memcpy(p, s, n);
        return p;
}

/* ---- Errors */

int jerr(struct jctx *c, unsigned line, int r, const char *fmt, ...) {
        if (c->failed)
                return r;
        c->failed = true;
        if (c->err) {
                char msg[400];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                if (line)
                        err_set(c->err, r, "chat template line %u: %s", line, msg);
                else
                        err_set(c->err, r, "chat template: %s", msg);
        }
        return r;
}

static void *jalloc(struct jctx *c, size_t size) {
        void *p = arena_alloc(&c->arena, size);
        if (!p)
                jerr(c, 0, -E2BIG, "rendering needs more than %zu bytes of memory (limit)", c->arena.limit);
        return p;
}

/* ---- Constructors */

struct jv jv_none_s = {.t = JV_NONE};
struct jv jv_true_s = {.t = JV_BOOL, .b = true};
struct jv jv_false_s = {.t = JV_BOOL, .b = false};

struct jv *jv_new(struct jctx *c, enum jv_type t) {
        struct jv *v = jalloc(c, sizeof(*v));
        if (v)
                v->t = t;
        return v;
}

struct jv *jv_str_nocopy(struct jctx *c, const char *p, size_t n) {
        struct jv *v = jv_new(c, JV_STR);
        if (v) {
                v->s.p = p;
                v->s.n = n;
        }
        return v;
}

struct jv *jv_str(struct jctx *c, const char *p, size_t n) {
        if (n > c->out_limit)
                return jerr(c, 0, -E2BIG, "a string of %zu bytes exceeds the output limit", n), NULL;
        char *q = jalloc(c, n + 1);
        if (!q)
                return NULL;
        if (n)
                memcpy(q, p, n);
        return jv_str_nocopy(c, q, n);
}

struct jv *jv_int(struct jctx *c, int64_t i) {
        struct jv *v = jv_new(c, JV_INT);
        if (v)
                v->i = i;
        return v;
}

struct jv *jv_float(struct jctx *c, double f) {
        struct jv *v = jv_new(c, JV_FLOAT);
        if (v)
                v->f = f;
        return v;
}

struct jv *jv_bool(struct jctx *c, bool b) {
        return b ? &jv_true_s : &jv_false_s;
}

struct jv *jv_list(struct jctx *c, size_t n) {
        if (n > (SIZE_MAX / sizeof(struct jv *)) / 2)
                return jerr(c, 0, -E2BIG, "list too long"), NULL;
        struct jv *v = jv_new(c, JV_LIST);
        if (!v)
                return NULL;
        v->l.n = n;
        if (n && !(v->l.v = jalloc(c, n * sizeof(struct jv *))))
                return NULL;
        return v;
}

struct jv *jv_dict(struct jctx *c) {
        struct jv *v = jv_new(c, JV_DICT);
        if (!v)
                return NULL;
        if (!(v->d = jalloc(c, sizeof(struct jdict))))
                return NULL;
        return v;
}

struct jv *jv_undef(struct jctx *c, const char *name, size_t n) {
        struct jv *v = jv_new(c, JV_UNDEF);
        if (v) {
                v->s.p = name;
                v->s.n = n;
        }
        return v;
}

static bool key_eq(const struct jv *k, const char *s, size_t n) {
        return k->t == JV_STR && k->s.n == n && memcmp(k->s.p, s, n) == 0;
}

struct jv *jv_dict_get(const struct jv *d, const char *key, size_t n) {
        for (size_t i = 0; i < d->d->n; i++)
                if (key_eq(d->d->keys[i], key, n))
                        return d->d->vals[i];
        return NULL;
}

struct jv *jv_dict_get_v(const struct jv *d, const struct jv *key) {
        for (size_t i = 0; i < d->d->n; i++)
                if (jv_equal(d->d->keys[i], key))
                        return d->d->vals[i];
        return NULL;
}

int jv_dict_set(struct jctx *c, struct jv *d, struct jv *key, struct jv *val) {
        struct jdict *dd = d->d;
        for (size_t i = 0; i < dd->n; i++)
                if (jv_equal(dd->keys[i], key)) {
                        dd->vals[i] = val;
                        return 0;
                }
        if (dd->n == dd->cap) {
                size_t cap = dd->cap ? dd->cap * 2 : 8;
                struct jv **k = jalloc(c, cap * sizeof(*k)), **v = jalloc(c, cap * sizeof(*v));
                if (!k || !v)
                        return -E2BIG;
                if (dd->n) {
                        memcpy(k, dd->keys, dd->n * sizeof(*k));
                        memcpy(v, dd->vals, dd->n * sizeof(*v));
                }
                dd->keys = k;
                dd->vals = v;
                dd->cap = cap;
        }
        dd->keys[dd->n] = key;
        dd->vals[dd->n] = val;
        dd->n++;
        return 0;
}

struct jv *jv_from_json(struct jctx *c, json_t *j) {
        switch (json_typeof(j)) {
        case JSON_OBJECT: {
                struct jv *d = jv_dict(c);
                if (!d)
                        return NULL;
                const char *k;
                json_t *v;
                json_object_foreach(j, k, v) {
                        struct jv *kv = jv_str(c, k, strlen(k));
                        struct jv *vv = jv_from_json(c, v);
                        if (!kv || !vv || jv_dict_set(c, d, kv, vv) < 0)
                                return NULL;
                }
                return d;
        }
        case JSON_ARRAY: {
                struct jv *l = jv_list(c, json_array_size(j));
                if (!l)
                        return NULL;
                for (size_t i = 0; i < l->l.n; i++)
                        if (!(l->l.v[i] = jv_from_json(c, json_array_get(j, i))))
                                return NULL;
                return l;
        }
        case JSON_STRING:
                return jv_str(c, json_string_value(j), json_string_length(j));
        case JSON_INTEGER:
                return jv_int(c, json_integer_value(j));
        case JSON_REAL:
                return jv_float(c, json_real_value(j));
        case JSON_TRUE:
                return &jv_true_s;
        case JSON_FALSE:
                return &jv_false_s;
        case JSON_NULL:
        default:
                return &jv_none_s;
        }
}

/* An undefined value used where a value is needed: Jinja's UndefinedError. */
struct jv *jv_undef_fail(struct jctx *c, unsigned line, const struct jv *v) {
        jerr(c, line, -EINVAL, "%.*s", (int) v->s.n, v->s.p);
        return NULL;
}

struct jv *jv_undef_fmt(struct jctx *c, const char *fmt, ...) {
        char msg[240];
        va_list ap;
        va_start(ap, fmt);
        int l = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (l < 0)
                l = 0;
        if ((size_t) l >= sizeof(msg))
                l = sizeof(msg) - 1;
        return jv_undef(c, arena_strndup(&c->arena, msg, (size_t) l), (size_t) l);
}


/* ---- Python semantics */

bool jv_truthy(const struct jv *v) {
        switch (v->t) {
        case JV_UNDEF:
        case JV_NONE:
                return false;
        case JV_BOOL:
                return v->b;
        case JV_INT:
                return v->i != 0;
        case JV_FLOAT:
                return v->f != 0;
        case JV_STR:
                return v->s.n != 0;
        case JV_LIST:
                return v->is_gen || v->l.n != 0;
        case JV_DICT:
                return v->d->n != 0;
        default:
                return true;
        }
}

static bool is_num(const struct jv *v) {
        return v->t == JV_INT || v->t == JV_FLOAT || v->t == JV_BOOL;
}

static double num_f(const struct jv *v) {
        return v->t == JV_FLOAT ? v->f : v->t == JV_INT ? (double) v->i : (double) v->b;
}

static int64_t num_i(const struct jv *v) {
        return v->t == JV_INT ? v->i : (int64_t) v->b;
}

bool jv_equal(const struct jv *a, const struct jv *b) {
        if (a == b)
                return true;
        if (is_num(a) && is_num(b)) {
                if (a->t == JV_FLOAT || b->t == JV_FLOAT)
                        return num_f(a) == num_f(b);
                return num_i(a) == num_i(b);
        }
        if (a->t != b->t || (a->t == JV_LIST && (a->is_gen || b->is_gen || a->view != b->view)))
                return false;
        switch (a->t) {
        case JV_UNDEF:
        case JV_NONE:
                return true;
        case JV_STR:
                return a->s.n == b->s.n && memcmp(a->s.p, b->s.p, a->s.n) == 0;
        case JV_LIST:
                if (a->is_tuple != b->is_tuple || a->l.n != b->l.n)
                        return false;
                for (size_t i = 0; i < a->l.n; i++)
                        if (!jv_equal(a->l.v[i], b->l.v[i]))
                                return false;
                return true;
        case JV_DICT:
                if (a->d->n != b->d->n)
                        return false;
                for (size_t i = 0; i < a->d->n; i++) {
                        struct jv *o = jv_dict_get_v(b, a->d->keys[i]);
                        if (!o || !jv_equal(a->d->vals[i], o))
                                return false;
                }
                return true;
        case JV_FUNC:
                return a->fn.id == b->fn.id && a->fn.self == b->fn.self;
        default:
                return false; /* identity was checked above */
        }
}

int jv_compare(const struct jv *a, const struct jv *b, bool *ok) {
        *ok = true;
        if (is_num(a) && is_num(b)) {
                if (a->t == JV_FLOAT || b->t == JV_FLOAT) {
                        double x = num_f(a), y = num_f(b);
                        return x < y ? -1 : x > y ? 1 : 0;
                }
                int64_t x = num_i(a), y = num_i(b);
                return x < y ? -1 : x > y ? 1 : 0;
        }
        if (a->t == JV_STR && b->t == JV_STR) {
                /* UTF-8 byte order is code point order. */
                size_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
                int r = n ? memcmp(a->s.p, b->s.p, n) : 0;
                if (r)
                        return r < 0 ? -1 : 1;
                return a->s.n < b->s.n ? -1 : a->s.n > b->s.n ? 1 : 0;
        }
        if (a->t == JV_LIST && b->t == JV_LIST && a->is_tuple == b->is_tuple && !a->is_gen && !b->is_gen) {
                for (size_t i = 0; i < a->l.n && i < b->l.n; i++) {
                        if (jv_equal(a->l.v[i], b->l.v[i]))
                                continue;
                        return jv_compare(a->l.v[i], b->l.v[i], ok);
                }
                return a->l.n < b->l.n ? -1 : a->l.n > b->l.n ? 1 : 0;
        }
        *ok = false;
        return 0;
}

const char *jv_type_name(const struct jv *v) {
        switch (v->t) {
        case JV_UNDEF: return "Undefined";
        case JV_NONE: return "NoneType";
        case JV_BOOL: return "bool";
        case JV_INT: return "int";
        case JV_FLOAT: return "float";
        case JV_STR: return "str";
        case JV_LIST:
                if (v->view)
                        return v->view == JV_VIEW_KEYS ? "dict_keys" : v->view == JV_VIEW_VALUES ? "dict_values" : "dict_items";
                return v->is_gen ? "generator" : v->is_tuple ? "tuple" : "list";
        case JV_DICT: return "dict";
        case JV_NS: return "Namespace";
        case JV_LOOP: return "LoopContext";
        case JV_FUNC: return "builtin_function_or_method";
        case JV_MACRO: return "Macro";
        }
        return "?";
}

/* ---- UTF-8 */

size_t utf8_next(const char *s, size_t n, uint32_t *cp) {
        const unsigned char *u = (const unsigned char *) s;
        if (u[0] < 0x80 || n < 2) {
                *cp = u[0];
                return 1;
        }
        if ((u[0] & 0xe0) == 0xc0) {
                *cp = ((uint32_t) (u[0] & 0x1f) << 6) | (u[1] & 0x3f);
                return 2;
        }
        if ((u[0] & 0xf0) == 0xe0 && n >= 3) {
                *cp = ((uint32_t) (u[0] & 0x0f) << 12) | ((uint32_t) (u[1] & 0x3f) << 6) | (u[2] & 0x3f);
                return 3;
        }
        if ((u[0] & 0xf8) == 0xf0 && n >= 4) {
                *cp = ((uint32_t) (u[0] & 0x07) << 18) | ((uint32_t) (u[1] & 0x3f) << 12) |
                      ((uint32_t) (u[2] & 0x3f) << 6) | (u[3] & 0x3f);
                return 4;
        }
        *cp = u[0];
        return 1;
}

size_t utf8_len(const char *s, size_t n) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
                if (((unsigned char) s[i] & 0xc0) != 0x80)
                        count++;
        return count;
}

size_t utf8_encode(uint32_t cp, char out[4]) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xc0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xe0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

/* str.isspace(): what Python's jstr_strip()/jstr_split() and re's \s treat as blank. */
bool py_isspace(uint32_t cp) {
        return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
               cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
               cp == 0x202f || cp == 0x205f || cp == 0x3000;
}


/* ---- Text output */

int jbuf_put(struct jctx *c, struct jbuf *b, const char *s, size_t n) {
        if (n > c->out_limit || b->n > c->out_limit - n)
                return jerr(c, 0, -E2BIG, "output exceeds the limit of %zu bytes", c->out_limit);
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                while (cap < b->n + n + 1)
                        cap *= 2;
                char *p = jalloc(c, cap);
                if (!p)
                        return -E2BIG;
                if (b->n)
                        memcpy(p, b->p, b->n);
                b->p = p;
                b->cap = cap;
        }
        if (n)
                memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = 0;
        return 0;
}

int jbuf_putc(struct jctx *c, struct jbuf *b, char ch) {
        return jbuf_put(c, b, &ch, 1);
}

static int jbuf_puts(struct jctx *c, struct jbuf *b, const char *s) {
        return jbuf_put(c, b, s, strlen(s));
}

/* repr(float) of Python: the shortest digits that read back exactly, in
 * fixed notation for exponents -4..15, else d.ddde+XX. */
void fmt_py_float(double f, char *buf, size_t size) {
        if (isnan(f)) {
                snprintf(buf, size, "nan");
                return;
        }
        if (isinf(f)) {
                snprintf(buf, size, f < 0 ? "-inf" : "inf");
                return;
        }
        char tmp[40];
        for (int p = 1; p <= 17; p++) {
                snprintf(tmp, sizeof(tmp), "%.*e", p - 1, f);
                if (strtod(tmp, NULL) == f)
                        break;
        }
        /* tmp = [-]d[.ddd]e[+-]XX */
        const char *q = tmp;
        bool neg = *q == '-';
        if (neg)
                q++;
        char digits[24];
        size_t nd = 0;
        for (; *q && *q != 'e'; q++)
                if (*q != '.')
                        digits[nd++] = *q;
        int exp = atoi(q + 1);
        while (nd > 1 && digits[nd - 1] == '0')
                nd--;
        digits[nd] = 0;
        char out[64];
        size_t o = 0;
        if (neg)
                out[o++] = '-';
        if (exp >= -4 && exp < 16) {
                if (exp >= 0) {
                        for (int i = 0; i <= exp; i++)
                                out[o++] = (size_t) i < nd ? digits[i] : '0';
                        out[o++] = '.';
                        if ((size_t) exp + 1 < nd)
                                for (size_t i = (size_t) exp + 1; i < nd; i++)
                                        out[o++] = digits[i];
                        else
                                out[o++] = '0';
                } else {
                        out[o++] = '0';
                        out[o++] = '.';
                        for (int i = 0; i < -exp - 1; i++)
                                out[o++] = '0';
                        for (size_t i = 0; i < nd; i++)
                                out[o++] = digits[i];
                }
                out[o] = 0;
        } else {
                out[o++] = digits[0];
                if (nd > 1) {
                        out[o++] = '.';
                        for (size_t i = 1; i < nd; i++)
                                out[o++] = digits[i];
                }
                snprintf(out + o, sizeof(out) - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        }
        snprintf(buf, size, "%s", out);
}

static int put_py_str_repr(struct jctx *c, struct jbuf *b, const char *s, size_t n) {
        bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
        char quote = has_sq && !has_dq ? '"' : '\'';
        int r = jbuf_putc(c, b, quote);
        for (size_t i = 0; i < n && r >= 0;) {
                uint32_t cp;
                size_t l = utf8_next(s + i, n - i, &cp);
                char esc[16];
                if (cp == '\\')
                        r = jbuf_puts(c, b, "\\\\");
                else if (cp == (uint32_t) quote)
                        r = jbuf_put(c, b, quote == '\'' ? "\\'" : "\\\"", 2);
                else if (cp == '\n')
                        r = jbuf_puts(c, b, "\\n");
                else if (cp == '\r')
                        r = jbuf_puts(c, b, "\\r");
                else if (cp == '\t')
                        r = jbuf_puts(c, b, "\\t");
                else if (jchar_class(JC_UNPRINTABLE, cp)) {
                        if (cp < 0x100)
                                snprintf(esc, sizeof(esc), "\\x%02x", cp);
                        else if (cp < 0x10000)
                                snprintf(esc, sizeof(esc), "\\u%04x", cp);
                        else
                                snprintf(esc, sizeof(esc), "\\U%08x", cp);
                        r = jbuf_puts(c, b, esc);
                } else
                        r = jbuf_put(c, b, s + i, l);
                i += l;
        }
        return r < 0 ? r : jbuf_putc(c, b, quote);
}

static int put_seq(struct jctx *c, struct jbuf *b, const struct jv *v, unsigned line) {
        static const char *const views[] = {"", "dict_keys(", "dict_values(", "dict_items("};
        int r = jbuf_puts(c, b, views[v->view & 3]);
        if (r >= 0)
                r = jbuf_putc(c, b, v->is_tuple ? '(' : '[');
        for (size_t i = 0; i < v->l.n && r >= 0; i++) {
                if (i)
                        r = jbuf_puts(c, b, ", ");
                if (r >= 0)
                        r = jv_repr(c, b, v->l.v[i], line);
        }
        if (r >= 0 && v->is_tuple && v->l.n == 1)
                r = jbuf_putc(c, b, ',');
        if (r >= 0)
                r = jbuf_putc(c, b, v->is_tuple ? ')' : ']');
        return r < 0 || !v->view ? r : jbuf_putc(c, b, ')');
}

static int put_dict(struct jctx *c, struct jbuf *b, const struct jv *v, unsigned line) {
        int r = jbuf_putc(c, b, '{');
        for (size_t i = 0; i < v->d->n && r >= 0; i++) {
                if (i)
                        r = jbuf_puts(c, b, ", ");
                if (r >= 0)
                        r = jv_repr(c, b, v->d->keys[i], line);
                if (r >= 0)
                        r = jbuf_puts(c, b, ": ");
                if (r >= 0)
                        r = jv_repr(c, b, v->d->vals[i], line);
        }
        return r < 0 ? r : jbuf_putc(c, b, '}');
}

int jv_repr(struct jctx *c, struct jbuf *b, const struct jv *v, unsigned line) {
        if (c->depth > c->depth_limit)
                return jerr(c, line, -ELOOP, "value nested deeper than %u levels", c->depth_limit);
        int r;
        c->depth++;
        switch (v->t) {
        case JV_STR:
                r = put_py_str_repr(c, b, v->s.p, v->s.n);
                break;
        case JV_UNDEF:
                r = jbuf_puts(c, b, "Undefined");
                break;
        default:
                r = jv_to_str(c, b, v, line);
        }
        c->depth--;
        return r;
}

int jv_to_str(struct jctx *c, struct jbuf *b, const struct jv *v, unsigned line) {
        char num[64];
        switch (v->t) {
        case JV_UNDEF:
                return 0;
        case JV_NONE:
                return jbuf_puts(c, b, "None");
        case JV_BOOL:
                return jbuf_puts(c, b, v->b ? "True" : "False");
        case JV_INT:
                snprintf(num, sizeof(num), "%" PRId64, v->i);
                return jbuf_puts(c, b, num);
        case JV_FLOAT:
                fmt_py_float(v->f, num, sizeof(num));
                return jbuf_puts(c, b, num);
        case JV_STR:
                return jbuf_put(c, b, v->s.p, v->s.n);
        case JV_LIST:
                if (v->is_gen)
                        return jerr(c, line, -EINVAL, "unsupported construct: printing a generator (Jinja prints its address; add |list)");
                return put_seq(c, b, v, line);
        case JV_DICT:
                return put_dict(c, b, v, line);
        case JV_NS: {
                int r = jbuf_puts(c, b, "<Namespace ");
                if (r >= 0)
                        r = put_dict(c, b, v, line);
                return r < 0 ? r : jbuf_putc(c, b, '>');
        }
        default:
                return jerr(c, line, -EINVAL, "cannot turn a %s into text", jv_type_name(v));
        }
}

static int json_str(struct jctx *c, struct jbuf *b, const char *s, size_t n) {
        int r = jbuf_putc(c, b, '"');
        size_t start = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (ch >= 0x20 && ch != '"' && ch != '\\')
                        continue;
                r = jbuf_put(c, b, s + start, i - start);
                start = i + 1;
                char esc[8];
                switch (ch) {
                case '"': snprintf(esc, sizeof(esc), "\\\""); break;
                case '\\': snprintf(esc, sizeof(esc), "\\\\"); break;
                case '\n': snprintf(esc, sizeof(esc), "\\n"); break;
                case '\r': snprintf(esc, sizeof(esc), "\\r"); break;
                case '\t': snprintf(esc, sizeof(esc), "\\t"); break;
                case '\b': snprintf(esc, sizeof(esc), "\\b"); break;
                case '\f': snprintf(esc, sizeof(esc), "\\f"); break;
                default: snprintf(esc, sizeof(esc), "\\u%04x", ch);
                }
                if (r >= 0)
                        r = jbuf_puts(c, b, esc);
        }
        if (r >= 0)
                r = jbuf_put(c, b, s + start, n - start);
        return r < 0 ? r : jbuf_putc(c, b, '"');
}

static int json_newline(struct jctx *c, struct jbuf *b, int indent, int level) {
        int r = jbuf_putc(c, b, '\n');
        for (int i = 0; i < indent * level && r >= 0; i++)
                r = jbuf_putc(c, b, ' ');
        return r;
}

static int json_key(struct jctx *c, struct jbuf *b, const struct jv *k, unsigned line) {
        char num[64];
        switch (k->t) {
        case JV_STR:
                return json_str(c, b, k->s.p, k->s.n);
        case JV_INT:
                snprintf(num, sizeof(num), "\"%" PRId64 "\"", k->i);
                return jbuf_puts(c, b, num);
        case JV_BOOL:
                return jbuf_puts(c, b, k->b ? "\"true\"" : "\"false\"");
        case JV_NONE:
                return jbuf_puts(c, b, "\"null\"");
        case JV_FLOAT:
                num[0] = '"';
                fmt_py_float(k->f, num + 1, sizeof(num) - 2);
                strcat(num, "\"");
                return jbuf_puts(c, b, num);
        default:
                return jerr(c, line, -EINVAL, "tojson: keys must be str, int, float, bool or None, not %s",
                            jv_type_name(k));
        }
}

static int key_cmp(const void *x, const void *y) {
        const struct jv *a = *(const struct jv *const *) x, *b = *(const struct jv *const *) y;
        bool ok;
        return jv_compare(a, b, &ok);
}

int jv_to_json(struct jctx *c, struct jbuf *b, const struct jv *v, int indent, bool sort_keys,
               const char *item_sep, const char *key_sep, int level, unsigned line) {
        if (level > (int) c->depth_limit)
                return jerr(c, line, -ELOOP, "tojson: value nested deeper than %u levels", c->depth_limit);
        char num[64];
        int r = 0;
        switch (v->t) {
        case JV_NONE:
                return jbuf_puts(c, b, "null");
        case JV_BOOL:
                return jbuf_puts(c, b, v->b ? "true" : "false");
        case JV_INT:
                snprintf(num, sizeof(num), "%" PRId64, v->i);
                return jbuf_puts(c, b, num);
        case JV_FLOAT:
                if (isnan(v->f))
                        return jbuf_puts(c, b, "NaN");
                if (isinf(v->f))
                        return jbuf_puts(c, b, v->f < 0 ? "-Infinity" : "Infinity");
                fmt_py_float(v->f, num, sizeof(num));
                return jbuf_puts(c, b, num);
        case JV_STR:
                return json_str(c, b, v->s.p, v->s.n);
        case JV_LIST:
                if (v->is_gen || v->view)
                        return jerr(c, line, -EINVAL, "tojson: Object of type %s is not JSON serializable", jv_type_name(v));
                if (v->l.n == 0)
                        return jbuf_puts(c, b, "[]");
                r = jbuf_putc(c, b, '[');
                for (size_t i = 0; i < v->l.n && r >= 0; i++) {
                        if (i)
                                r = jbuf_puts(c, b, item_sep);
                        if (r >= 0 && indent >= 0)
                                r = json_newline(c, b, indent, level + 1);
                        if (r >= 0)
                                r = jv_to_json(c, b, v->l.v[i], indent, sort_keys, item_sep, key_sep, level + 1, line);
                }
                if (r >= 0 && indent >= 0)
                        r = json_newline(c, b, indent, level);
                return r < 0 ? r : jbuf_putc(c, b, ']');
        case JV_DICT: {
                size_t n = v->d->n;
                if (n == 0)
                        return jbuf_puts(c, b, "{}");
                /* Sorted output walks a sorted copy of the keys. */
                struct jv **keys = v->d->keys;
                if (sort_keys) {
                        keys = arena_alloc(&c->arena, n * sizeof(*keys));
                        if (!keys)
                                return jerr(c, line, -E2BIG, "out of memory");
                        memcpy(keys, v->d->keys, n * sizeof(*keys));
                        qsort(keys, n, sizeof(*keys), key_cmp);
                }
                r = jbuf_putc(c, b, '{');
                for (size_t i = 0; i < n && r >= 0; i++) {
                        if (i)
                                r = jbuf_puts(c, b, item_sep);
                        if (r >= 0 && indent >= 0)
                                r = json_newline(c, b, indent, level + 1);
                        if (r >= 0)
                                r = json_key(c, b, keys[i], line);
                        if (r >= 0)
                                r = jbuf_puts(c, b, key_sep);
                        if (r >= 0)
                                r = jv_to_json(c, b, jv_dict_get_v(v, keys[i]), indent, sort_keys, item_sep,
                                               key_sep, level + 1, line);
                }
                if (r >= 0 && indent >= 0)
                        r = json_newline(c, b, indent, level);
                return r < 0 ? r : jbuf_putc(c, b, '}');
        }
        default:
                return jerr(c, line, -EINVAL, "tojson: Object of type %s is not JSON serializable",
                            jv_type_name(v));
        }
}
