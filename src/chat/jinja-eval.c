/* The Jinja evaluator: statements write into a buffer, expressions build
 * values, with Python's semantics for operators, attribute and item access
 * and Jinja's for the rest: undefined values print as nothing but fail when
 * used; a for loop's body has its own scope per iteration (so `set` inside
 * a loop does not leak, hence namespace()); if blocks share their scope. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja-impl.h"

static struct jv *eval(struct jctx *c, const struct jnode *n);
static int exec(struct jctx *c, const struct jnode *n, struct jbuf *out);

int jinja_step(struct jctx *c, unsigned line) {
        if (++c->steps > c->step_limit)
                return jerr(c, line, -ELOOP, "rendering took more than %" PRIu64 " steps (limit)", c->step_limit);
        return 0;
}

/* ---- Scopes */

static struct jframe *frame_new(struct jctx *c, struct jframe *parent) {
        struct jframe *f = arena_alloc(&c->arena, sizeof(*f));
        if (!f) {
                jerr(c, 0, -E2BIG, "rendering needs more than %zu bytes of memory (limit)", c->arena.limit);
                return NULL;
        }
        f->parent = parent;
        return f;
}

static int frame_set(struct jctx *c, struct jframe *f, const char *name, size_t n, struct jv *v) {
        for (size_t i = 0; i < f->n; i++)
                if (f->name_lens[i] == n && memcmp(f->names[i], name, n) == 0) {
                        f->vals[i] = v;
                        return 0;
                }
        if (f->n == f->cap) {
                size_t cap = f->cap ? f->cap * 2 : 8;
                const char **names = arena_alloc(&c->arena, cap * sizeof(*names));
                size_t *lens = arena_alloc(&c->arena, cap * sizeof(*lens));
                struct jv **vals = arena_alloc(&c->arena, cap * sizeof(*vals));
                if (!names || !lens || !vals)
                        return jerr(c, 0, -E2BIG, "rendering needs more than %zu bytes of memory (limit)", c->arena.limit);
                if (f->n) {
                        memcpy(names, f->names, f->n * sizeof(*names));
                        memcpy(lens, f->name_lens, f->n * sizeof(*lens));
                        memcpy(vals, f->vals, f->n * sizeof(*vals));
                }
                f->names = names;
                f->name_lens = lens;
                f->vals = vals;
                f->cap = cap;
        }
        f->names[f->n] = name;
        f->name_lens[f->n] = n;
        f->vals[f->n] = v;
        f->n++;
        return 0;
}

static struct jv *lookup(struct jctx *c, const char *name, size_t n) {
        for (struct jframe *f = c->frame; f; f = f->parent)
                for (size_t i = f->n; i > 0; i--)
                        if (f->name_lens[i - 1] == n && memcmp(f->names[i - 1], name, n) == 0)
                                return f->vals[i - 1];
        int g = jinja_global_lookup(name, n);
        if (g != JF_NONE) {
                struct jv *v = jv_new(c, JV_FUNC);
                if (v) {
                        v->fn.id = g;
                        v->fn.name = name;
                }
                return v;
        }
        char msg[160];
        int l = snprintf(msg, sizeof(msg), "'%.*s' is undefined", (int) (n > 100 ? 100 : n), name);
        return jv_undef(c, arena_strndup(&c->arena, msg, (size_t) l), (size_t) l);
}

static bool slice_arg(struct jctx *c, const struct jnode *n, int64_t *ret, bool *present) {
        *present = false;
        if (!n)
                return true;
        struct jv *v = eval(c, n);
        if (!v)
                return false;
        if (v->t == JV_NONE)
                return true;
        if (v->t != JV_INT && v->t != JV_BOOL) {
                jerr(c, n->line, -EINVAL, "slice indices must be integers or None, not %s", jv_type_name(v));
                return false;
        }
        *ret = v->t == JV_INT ? v->i : v->b;
        *present = true;
        return true;
}

/* Python's slice.indices(). */
static void slice_indices(int64_t len, int64_t step, bool has_start, int64_t start, bool has_stop, int64_t stop,
                          int64_t *rs, int64_t *re) {
        int64_t lower = step < 0 ? -1 : 0, upper = step < 0 ? len - 1 : len;
        if (!has_start)
                start = step < 0 ? upper : lower;
        else if (start < 0) {
                start += len;
                if (start < lower)
                        start = lower;
        } else if (start > upper)
                start = upper;
        if (!has_stop)
                stop = step < 0 ? lower : upper;
        else if (stop < 0) {
                stop += len;
                if (stop < lower)
                        stop = lower;
        } else if (stop > upper)
                stop = upper;
        *rs = start;
        *re = stop;
}

static struct jv *eval_slice(struct jctx *c, const struct jnode *n) {
        struct jv *obj = eval(c, n->a);
        if (!obj)
                return NULL;
        int64_t start = 0, stop = 0, step = 1;
        bool hs, he, hst;
        if (!slice_arg(c, n->b, &start, &hs) || !slice_arg(c, n->c, &stop, &he) || !slice_arg(c, n->d, &step, &hst))
                return NULL;
        if (!hst)
                step = 1;
        if (step == 0)
                return jerr(c, n->line, -EINVAL, "slice step cannot be zero"), NULL;
        if (step == INT64_MIN)
                step = INT64_MIN + 1;
        if (obj->t == JV_UNDEF)
                return jv_undef_fail(c, n->line, obj);
        /* Slices bypass Jinja's getitem, so a bad one raises TypeError. */
        if ((obj->t != JV_LIST && obj->t != JV_STR) || (obj->t == JV_LIST && obj->is_gen))
                return jerr(c, n->line, -EINVAL, "'%s' object is not subscriptable", jv_type_name(obj)), NULL;
        /* Strings are sliced by code point through an offset table. */
        size_t len = obj->t == JV_LIST ? obj->l.n : utf8_len(obj->s.p, obj->s.n);
        int64_t s, e;
        slice_indices((int64_t) len, step, hs, start, he, stop, &s, &e);
        size_t count = 0;
        if (step > 0 && s < e)
                count = (size_t) ((e - s - 1) / step + 1);
        else if (step < 0 && s > e)
                count = (size_t) ((s - e - 1) / -step + 1);
        if (obj->t == JV_LIST) {
                struct jv *r = jv_list(c, count);
                if (!r)
                        return NULL;
                r->is_tuple = obj->is_tuple;
                for (size_t k = 0; k < count; k++)
                        r->l.v[k] = obj->l.v[s + (int64_t) k * step];
                return r;
        }
        size_t *offs = arena_alloc(&c->arena, (len + 1) * sizeof(size_t));
        if (!offs)
                return jerr(c, n->line, -E2BIG, "out of memory"), NULL;
        for (size_t i = 0, off = 0; i <= len; i++) {
                offs[i] = off;
                if (off < obj->s.n) {
                        uint32_t cp;
                        off += utf8_next(obj->s.p + off, obj->s.n - off, &cp);
                }
        }
        if (step == 1)
                return jv_str_nocopy(c, obj->s.p + offs[s], count ? offs[e] - offs[s] : 0);
        struct jbuf b = {0};
        if (jbuf_put(c, &b, "", 0) < 0)
                return NULL;
        for (size_t k = 0; k < count; k++) {
                int64_t i = s + (int64_t) k * step;
                if (jbuf_put(c, &b, obj->s.p + offs[i], offs[i + 1] - offs[i]) < 0)
                        return NULL;
        }
        return jv_str_nocopy(c, b.p, b.n);
}

/* ---- Operators */

static bool is_num(const struct jv *v) {
        return v->t == JV_INT || v->t == JV_FLOAT || v->t == JV_BOOL;
}
static double as_f(const struct jv *v) {
        return v->t == JV_FLOAT ? v->f : v->t == JV_INT ? (double) v->i : (double) v->b;
}
/* Only meaningful for INT and BOOL; a FLOAT reads as 0 (callers use as_f). */
static int64_t as_i(const struct jv *v) {
        return v->t == JV_INT ? v->i : v->t == JV_BOOL ? (int64_t) v->b : 0;
}

static const char *op_name(int op) {
        static const char *const names[] = {"?", "+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "in", "not in"};
        return op > 0 && op < (int) ELEMENTSOF(names) ? names[op] : "?";
}

static struct jv *type_error(struct jctx *c, unsigned line, int op, const struct jv *a, const struct jv *b) {
        jerr(c, line, -EINVAL, "unsupported operand type(s) for %s: '%s' and '%s'", op_name(op), jv_type_name(a), jv_type_name(b));
        return NULL;
}

static struct jv *repeat(struct jctx *c, unsigned line, const struct jv *seq, int64_t times) {
        if (times < 0)
                times = 0;
        size_t unit = seq->t == JV_STR ? seq->s.n : seq->l.n;
        if (unit && (uint64_t) times > c->out_limit / unit)
                return jerr(c, line, -E2BIG, "repetition result exceeds the output limit"), NULL;
        size_t total = unit * (size_t) times;
        if (seq->t == JV_STR) {
                char *p = arena_alloc(&c->arena, total + 1);
                if (!p)
                        return jerr(c, line, -E2BIG, "out of memory"), NULL;
                for (int64_t k = 0; k < times; k++)
                        memcpy(p + (size_t) k * unit, seq->s.p, unit);
                return jv_str_nocopy(c, p, total);
        }
        struct jv *r = jv_list(c, total);
        if (!r)
                return NULL;
        r->is_tuple = seq->is_tuple;
        for (size_t k = 0; k < total; k++)
                r->l.v[k] = seq->l.v[k % unit];
        return r;
}

static struct jv *arith(struct jctx *c, unsigned line, int op, struct jv *a, struct jv *b) {
        if (a->t == JV_UNDEF)
                return jv_undef_fail(c, line, a);
        if (op == OP_MOD && a->t == JV_STR)
                return jstr_percent(c, line, a, b);
        if (b->t == JV_UNDEF)
                return jv_undef_fail(c, line, b);
        bool both_int = (a->t == JV_INT || a->t == JV_BOOL) && (b->t == JV_INT || b->t == JV_BOOL);
        if (is_num(a) && is_num(b)) {
                int64_t x = as_i(a), y = as_i(b), r;
                double fx = as_f(a), fy = as_f(b);
                switch (op) {
                case OP_ADD:
                        if (!both_int)
                                return jv_float(c, fx + fy);
                        if (__builtin_add_overflow(x, y, &r))
                                break;
                        return jv_int(c, r);
                case OP_SUB:
                        if (!both_int)
                                return jv_float(c, fx - fy);
                        if (__builtin_sub_overflow(x, y, &r))
                                break;
                        return jv_int(c, r);
                case OP_MUL:
                        if (!both_int)
                                return jv_float(c, fx * fy);
                        if (__builtin_mul_overflow(x, y, &r))
                                break;
                        return jv_int(c, r);
                case OP_DIV:
                        if (fy == 0)
                                return jerr(c, line, -EDOM, "division by zero"), NULL;
                        return jv_float(c, fx / fy);
                case OP_FLOORDIV:
                case OP_MOD:
                        if (both_int) {
                                if (y == 0)
                                        return jerr(c, line, -EDOM, "integer division or modulo by zero"), NULL;
                                if (x == INT64_MIN && y == -1)
                                        break;
                                int64_t q = x / y, m = x % y;
                                if (m != 0 && ((m < 0) != (y < 0))) {
                                        q--;
                                        m += y;
                                }
                                return jv_int(c, op == OP_MOD ? m : q);
                        }
                        if (fy == 0)
                                return jerr(c, line, -EDOM, "float division or modulo by zero"), NULL;
                        {
                                double m = fmod(fx, fy);
                                if (m != 0 && ((m < 0) != (fy < 0)))
                                        m += fy;
                                if (op == OP_MOD)
                                        return jv_float(c, m);
                                return jv_float(c, floor(fx / fy));
                        }
                case OP_POW:
                        if (both_int && y >= 0) {
                                int64_t acc = 1, base = x;
                                int64_t e = y;
                                bool ovf = false;
                                while (e > 0 && !ovf) {
                                        if (e & 1)
                                                ovf |= __builtin_mul_overflow(acc, base, &acc);
                                        e >>= 1;
                                        if (e)
                                                ovf |= __builtin_mul_overflow(base, base, &base);
                                }
                                if (ovf)
                                        break;
                                return jv_int(c, acc);
                        }
                        return jv_float(c, pow(fx, fy));
                }
                return jerr(c, line, -ERANGE, "integer overflow in '%s' (vkinfer's integers are 64-bit)", op_name(op)), NULL;
        }
        if (op == OP_ADD && a->t == JV_STR && b->t == JV_STR) {
                if (a->s.n + b->s.n > c->out_limit)
                        return jerr(c, line, -E2BIG, "string exceeds the output limit"), NULL;
                char *p = arena_alloc(&c->arena, a->s.n + b->s.n + 1);
                if (!p)
                        return jerr(c, line, -E2BIG, "rendering needs more than %zu bytes of memory (limit)", c->arena.limit), NULL;
                if (a->s.n)
                        memcpy(p, a->s.p, a->s.n);
                if (b->s.n)
                        memcpy(p + a->s.n, b->s.p, b->s.n);
                return jv_str_nocopy(c, p, a->s.n + b->s.n);
        }
        if (op == OP_ADD && a->t == JV_LIST && b->t == JV_LIST && a->is_tuple == b->is_tuple && !a->is_gen && !b->is_gen) {
                struct jv *r = jv_list(c, a->l.n + b->l.n);
                if (!r)
                        return NULL;
                r->is_tuple = a->is_tuple;
                if (a->l.n)
                        memcpy(r->l.v, a->l.v, a->l.n * sizeof(*r->l.v));
                if (b->l.n)
                        memcpy(r->l.v + a->l.n, b->l.v, b->l.n * sizeof(*r->l.v));
                return r;
        }
        if (op == OP_MUL && (a->t == JV_STR || (a->t == JV_LIST && !a->is_gen)) && (b->t == JV_INT || b->t == JV_BOOL))
                return repeat(c, line, a, as_i(b));
        if (op == OP_MUL && (b->t == JV_STR || (b->t == JV_LIST && !b->is_gen)) && (a->t == JV_INT || a->t == JV_BOOL))
                return repeat(c, line, b, as_i(a));
        return type_error(c, line, op, a, b);
}

static int contains(struct jctx *c, unsigned line, struct jv *needle, struct jv *hay, bool *ret) {
        switch (hay->t) {
        case JV_UNDEF:
                *ret = false;
                return 0;
        case JV_STR:
                if (needle->t != JV_STR)
                        return jerr(c, line, -EINVAL, "'in <string>' requires string as left operand, not %s", jv_type_name(needle));
                if (needle->s.n == 0) {
                        *ret = true;
                        return 0;
                }
                *ret = needle->s.n <= hay->s.n && memmem(hay->s.p, hay->s.n, needle->s.p, needle->s.n) != NULL;
                return 0;
        case JV_LIST:
                *ret = false;
                if (hay->is_gen && !(hay = jinja_iter_list(c, line, hay)))
                        return -EINVAL;
                for (size_t i = 0; i < hay->l.n && !*ret; i++)
                        *ret = jv_equal(needle, hay->l.v[i]);
                return 0;
        case JV_DICT:
        case JV_NS:
                if (needle->t == JV_LIST && !needle->is_tuple)
                        return jerr(c, line, -EINVAL, "unhashable type: '%s'", jv_type_name(needle));
                if (needle->t == JV_DICT)
                        return jerr(c, line, -EINVAL, "unhashable type: 'dict'");
                *ret = jv_dict_get_v(hay, needle) != NULL;
                return 0;
        default:
                return jerr(c, line, -EINVAL, "argument of type '%s' is not iterable", jv_type_name(hay));
        }
}

static struct jv *eval_compare(struct jctx *c, const struct jnode *n) {
        struct jv *left = eval(c, n->kids[0]);
        if (!left)
                return NULL;
        for (size_t i = 0; i + 1 < n->n_kids; i++) {
                struct jv *right = eval(c, n->kids[i + 1]);
                if (!right)
                        return NULL;
                int op = n->ops[i];
                bool res = false;
                if (op == OP_EQ || op == OP_NE)
                        res = jv_equal(left, right) == (op == OP_EQ);
                else if (op == OP_IN || op == OP_NOTIN) {
                        if (contains(c, n->line, left, right, &res) < 0)
                                return NULL;
                        if (op == OP_NOTIN)
                                res = !res;
                } else {
                        if (left->t == JV_UNDEF)
                                return jv_undef_fail(c, n->line, left);
                        if (right->t == JV_UNDEF)
                                return jv_undef_fail(c, n->line, right);
                        bool ok;
                        int cmp = jv_compare(left, right, &ok);
                        if (!ok)
                                return jerr(c, n->line, -EINVAL, "'%s' not supported between instances of '%s' and '%s'",
                                            op_name(op), jv_type_name(left), jv_type_name(right)), NULL;
                        res = op == OP_LT ? cmp < 0 : op == OP_LE ? cmp <= 0 : op == OP_GT ? cmp > 0 : cmp >= 0;
                }
                if (!res)
                        return &jv_false_s;
                left = right;
        }
        return &jv_true_s;
}

/* Evaluates a call's arguments into arrays. */
static int eval_args(struct jctx *c, const struct jnode *n, struct jv ***ret_args, struct jv ***ret_kw) {
        struct jv **args = NULL, **kw = NULL;
        if (n->n_kids && !(args = arena_alloc(&c->arena, n->n_kids * sizeof(*args))))
                return jerr(c, n->line, -E2BIG, "out of memory");
        if (n->n_kw && !(kw = arena_alloc(&c->arena, n->n_kw * sizeof(*kw))))
                return jerr(c, n->line, -E2BIG, "out of memory");
        for (size_t i = 0; i < n->n_kids; i++)
                if (!(args[i] = eval(c, n->kids[i])))
                        return -EINVAL;
        for (size_t i = 0; i < n->n_kw; i++)
                if (!(kw[i] = eval(c, n->kw_vals[i])))
                        return -EINVAL;
        *ret_args = args;
        *ret_kw = kw;
        return 0;
}

static struct jv *call_macro(struct jctx *c, const struct jnode *call, struct jv *m, struct jv **args, size_t n_args,
                             const char **kw_names, struct jv **kw_vals, size_t n_kw) {
        const struct jnode *def = m->macro.node;
        if (n_args > def->n_kids)
                return jerr(c, call->line, -EINVAL, "macro '%s' takes %zu arguments, %zu given", def->name, def->n_kids, n_args), NULL;
        struct jframe *f = frame_new(c, m->macro.frame), *saved = c->frame;
        if (!f)
                return NULL;
        for (size_t k = 0; k < n_kw; k++) {
                bool found = false;
                for (size_t i = 0; i < def->n_kids; i++)
                        found |= strcmp(def->kids[i]->name, kw_names[k]) == 0;
                if (!found)
                        return jerr(c, call->line, -EINVAL, "macro '%s' has no argument '%s'", def->name, kw_names[k]), NULL;
        }
        c->frame = f;
        for (size_t i = 0; i < def->n_kids; i++) {
                const struct jnode *pn = def->kids[i];
                struct jv *v = i < n_args ? args[i] : NULL;
                for (size_t k = 0; k < n_kw && !v; k++)
                        if (strcmp(pn->name, kw_names[k]) == 0)
                                v = kw_vals[k];
                if (!v && def->kw_vals[i] && !(v = eval(c, def->kw_vals[i]))) {
                        c->frame = saved;
                        return NULL;
                }
                if (!v && !(v = jv_undef_fmt(c, "parameter '%s' was not provided", pn->name)))
                        break;
                if (frame_set(c, f, pn->name, pn->name_len, v) < 0)
                        break;
        }
        struct jbuf b = {0};
        int r = c->failed ? -EINVAL : jbuf_put(c, &b, "", 0);
        if (r >= 0)
                r = exec(c, def->b, &b);
        c->frame = saved;
        c->loopctl = 0;
        return r < 0 ? NULL : jv_str_nocopy(c, b.p, b.n);
}

static struct jv *eval_call(struct jctx *c, const struct jnode *n) {
        struct jv *fn = eval(c, n->a), **args, **kw;
        if (!fn || eval_args(c, n, &args, &kw) < 0)
                return NULL;
        if (fn->t == JV_UNDEF)
                return jv_undef_fail(c, n->line, fn);
        if (fn->t == JV_MACRO)
                return call_macro(c, n, fn, args, n->n_kids, n->kw_names, kw, n->n_kw);
        if (fn->t != JV_FUNC)
                return jerr(c, n->line, -EINVAL, "'%s' object is not callable", jv_type_name(fn)), NULL;
        return jinja_call_func(c, n, fn, args, n->n_kids, n->kw_names, kw, n->n_kw);
}

static struct jv *eval_inner(struct jctx *c, const struct jnode *n) {
        struct jv *a, *b, **args, **kw;
        switch (n->kind) {
        case JN_CONST:
                return n->val;
        case JN_NAME:
                return lookup(c, n->name, n->name_len);
        case JN_ATTR:
                if (!(a = eval(c, n->a)))
                        return NULL;
                return jinja_getattr(c, n->line, a, n->name, n->name_len);
        case JN_ITEM:
                if (!(a = eval(c, n->a)) || !(b = eval(c, n->b)))
                        return NULL;
                return jinja_getitem(c, n->line, a, b);
        case JN_SLICE:
                return eval_slice(c, n);
        case JN_CALL:
                return eval_call(c, n);
        case JN_FILTER:
                if (!(a = eval(c, n->a)) || eval_args(c, n, &args, &kw) < 0)
                        return NULL;
                return jinja_call_filter(c, n, a, args, n->n_kids, n->kw_names, kw, n->n_kw);
        case JN_TEST: {
                bool res;
                if (!(a = eval(c, n->a)) || eval_args(c, n, &args, &kw) < 0)
                        return NULL;
                if (jinja_run_test(c, n, n->op, a, args, n->n_kids, &res) < 0)
                        return NULL;
                return jv_bool(c, res != n->negate);
        }
        case JN_BINOP:
                if (!(a = eval(c, n->a)) || !(b = eval(c, n->b)))
                        return NULL;
                return arith(c, n->line, n->op, a, b);
        case JN_NEG:
        case JN_POS:
                if (!(a = eval(c, n->a)))
                        return NULL;
                if (a->t == JV_UNDEF)
                        return jv_undef_fail(c, n->line, a);
                if (!is_num(a))
                        return jerr(c, n->line, -EINVAL, "bad operand type for unary %s: '%s'", n->kind == JN_NEG ? "-" : "+",
                                    jv_type_name(a)), NULL;
                if (n->kind == JN_POS)
                        return a->t == JV_BOOL ? jv_int(c, a->b) : a;
                if (a->t == JV_FLOAT)
                        return jv_float(c, -a->f);
                if (as_i(a) == INT64_MIN)
                        return jerr(c, n->line, -ERANGE, "integer overflow"), NULL;
                return jv_int(c, -as_i(a));
        case JN_NOT:
                if (!(a = eval(c, n->a)))
                        return NULL;
                return jv_bool(c, !jv_truthy(a));
        case JN_AND:
                if (!(a = eval(c, n->a)))
                        return NULL;
                return jv_truthy(a) ? eval(c, n->b) : a;
        case JN_OR:
                if (!(a = eval(c, n->a)))
                        return NULL;
                return jv_truthy(a) ? a : eval(c, n->b);
        case JN_COND:
                if (!(a = eval(c, n->a)))
                        return NULL;
                if (jv_truthy(a))
                        return eval(c, n->b);
                if (n->c)
                        return eval(c, n->c);
                return jv_undef_fmt(c, "the inline if-expression evaluated to false and no else section was defined");
        case JN_COMPARE:
                return eval_compare(c, n);
        case JN_LIST:
        case JN_TUPLE:
                if (!(a = jv_list(c, n->n_kids)))
                        return NULL;
                a->is_tuple = n->kind == JN_TUPLE;
                for (size_t i = 0; i < n->n_kids; i++)
                        if (!(a->l.v[i] = eval(c, n->kids[i])))
                                return NULL;
                return a;
        case JN_DICTLIT:
                if (!(a = jv_dict(c)))
                        return NULL;
                for (size_t i = 0; i < n->n_kids; i++) {
                        struct jv *k = eval(c, n->kids[i]), *v;
                        if (!k || !(v = eval(c, n->kw_vals[i])) || jv_dict_set(c, a, k, v) < 0)
                                return NULL;
                }
                return a;
        case JN_CONCAT: {
                struct jbuf sb = {0};
                if (jbuf_put(c, &sb, "", 0) < 0)
                        return NULL;
                for (size_t i = 0; i < n->n_kids; i++) {
                        if (!(a = eval(c, n->kids[i])) || jv_to_str(c, &sb, a, n->line) < 0)
                                return NULL;
                }
                return jv_str_nocopy(c, sb.p, sb.n);
        }
        default:
                jerr(c, n->line, -EINVAL, "internal error: node %d is not an expression", n->kind);
                return NULL;
        }
}

static struct jv *eval(struct jctx *c, const struct jnode *n) {
        if (c->failed || jinja_step(c, n->line) < 0)
                return NULL;
        if (++c->depth > c->depth_limit) {
                jerr(c, n->line, -ELOOP, "evaluation nested deeper than %u levels", c->depth_limit);
                return NULL;
        }
        struct jv *v = eval_inner(c, n);
        c->depth--;
        if (!v && !c->failed)
                jerr(c, n->line, -EINVAL, "evaluation failed");
        return c->failed ? NULL : v;
}

/* ---- Iteration */

struct jv *jinja_iter_list(struct jctx *c, unsigned line, struct jv *v) {
        struct jv *r;
        switch (v->t) {
        case JV_LIST:
                if (v->is_gen) {
                        /* A generator runs once; later passes see nothing. */
                        if (v->consumed)
                                return jv_list(c, 0);
                        v->consumed = true;
                }
                return v;
        case JV_UNDEF:
                return jv_list(c, 0);
        case JV_DICT:
        case JV_NS:
                if (!(r = jv_list(c, v->d->n)))
                        return NULL;
                for (size_t i = 0; i < v->d->n; i++)
                        r->l.v[i] = v->d->keys[i];
                return r;
        case JV_STR: {
                size_t len = utf8_len(v->s.p, v->s.n);
                if (!(r = jv_list(c, len)))
                        return NULL;
                for (size_t i = 0, off = 0; i < len; i++) {
                        uint32_t cp;
                        size_t l = utf8_next(v->s.p + off, v->s.n - off, &cp);
                        if (!(r->l.v[i] = jv_str_nocopy(c, v->s.p + off, l)))
                                return NULL;
                        off += l;
                }
                return r;
        }
        default:
                jerr(c, line, -EINVAL, "'%s' object is not iterable", jv_type_name(v));
                return NULL;
        }
}

/* Binds a for/set target (name or tuple of names) in frame f. */
static int bind(struct jctx *c, struct jframe *f, const struct jnode *target, struct jv *v) {
        if (target->kind == JN_NAME)
                return frame_set(c, f, target->name, target->name_len, v);
        struct jv *items = v->t == JV_UNDEF ? NULL : jinja_iter_list(c, target->line, v);
        if (v->t == JV_UNDEF)
                return jv_undef_fail(c, target->line, v), -EINVAL;
        if (!items)
                return -EINVAL;
        if (items->l.n != target->n_kids)
                return jerr(c, target->line, -EINVAL, "cannot unpack %zu values into %zu names", items->l.n, target->n_kids);
        for (size_t i = 0; i < target->n_kids; i++) {
                int r = frame_set(c, f, target->kids[i]->name, target->kids[i]->name_len, items->l.v[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Each iteration starts with a fresh scope; the previous one's storage is
 * reused unless a macro defined in it still refers to it. */
static struct jframe *iteration_frame(struct jctx *c, struct jframe *prev, struct jframe *outer) {
        if (prev && !prev->captured) {
                prev->n = 0;
                return prev;
        }
        return frame_new(c, outer);
}

static int exec_for(struct jctx *c, const struct jnode *n, struct jbuf *out) {
        struct jv *seq = eval(c, n->b);
        if (!seq)
                return -EINVAL;
        if (seq->t == JV_NONE || !(seq = jinja_iter_list(c, n->b->line, seq)))
                return jerr(c, n->line, -EINVAL, "'NoneType' object is not iterable");
        struct jframe *outer = c->frame;
        if (n->c) {
                /* for x in y if cond: the filter runs first, so loop.length
                 * and loop.last count only the kept items. */
                struct jv *kept = jv_list(c, seq->l.n);
                if (!kept)
                        return -E2BIG;
                size_t k = 0;
                struct jframe *f = NULL;
                for (size_t i = 0; i < seq->l.n; i++) {
                        if (!(f = iteration_frame(c, f, outer)) || jinja_step(c, n->line) < 0 || bind(c, f, n->a, seq->l.v[i]) < 0)
                                return -EINVAL;
                        c->frame = f;
                        struct jv *cond = eval(c, n->c);
                        c->frame = outer;
                        if (!cond)
                                return -EINVAL;
                        if (jv_truthy(cond))
                                kept->l.v[k++] = seq->l.v[i];
                }
                kept->l.n = k;
                seq = kept;
        }
        if (seq->l.n == 0) {
                if (!n->e)
                        return 0;
                /* The else body has its own scope too. */
                struct jframe *f = frame_new(c, outer);
                if (!f)
                        return -E2BIG;
                c->frame = f;
                int r = exec(c, n->e, out);
                c->frame = outer;
                return r;
        }
        struct jloop *lp = arena_alloc(&c->arena, sizeof(*lp));
        struct jv *loopv = jv_new(c, JV_LOOP);
        if (!lp || !loopv)
                return jerr(c, n->line, -E2BIG, "out of memory");
        lp->items = seq;
        loopv->loop = lp;
        int r = 0;
        struct jframe *f = NULL;
        for (size_t i = 0; i < seq->l.n; i++) {
                lp->index0 = i;
                if (!(f = iteration_frame(c, f, outer)) || jinja_step(c, n->line) < 0)
                        return -EINVAL;
                if ((r = frame_set(c, f, "loop", 4, loopv)) < 0 || (r = bind(c, f, n->a, seq->l.v[i])) < 0)
                        break;
                c->frame = f;
                r = exec(c, n->d, out);
                c->frame = outer;
                if (r < 0)
                        break;
                int ctl = c->loopctl;
                c->loopctl = 0;
                if (ctl == 1)
                        break;
        }
        c->frame = outer;
        return r;
}

static int exec_set(struct jctx *c, const struct jnode *target, struct jv *v) {
        if (target->kind == JN_ATTR) {
                struct jv *ns = eval(c, target->a);
                if (!ns)
                        return -EINVAL;
                if (ns->t != JV_NS)
                        return jerr(c, target->line, -EINVAL, "cannot assign attribute on non-namespace object");
                struct jv *k = jv_str_nocopy(c, target->name, target->name_len);
                return k ? jv_dict_set(c, ns, k, v) : -E2BIG;
        }
        return bind(c, c->frame, target, v);
}

static int exec(struct jctx *c, const struct jnode *n, struct jbuf *out) {
        struct jv *v;
        int r = 0;
        if (c->failed)
                return -EINVAL;
        if (++c->depth > c->depth_limit)
                return jerr(c, n->line, -ELOOP, "statements nested deeper than %u levels", c->depth_limit);
        switch (n->kind) {
        case JN_BODY:
                for (size_t i = 0; i < n->n_kids && r >= 0 && !c->loopctl; i++)
                        r = exec(c, n->kids[i], out);
                break;
        case JN_TEXT:
                r = jbuf_put(c, out, n->name, n->name_len);
                break;
        case JN_OUTPUT:
                if (!(v = eval(c, n->a)))
                        r = -EINVAL;
                else
                        r = jv_to_str(c, out, v, n->line);
                break;
        case JN_IF:
                if (!(v = eval(c, n->a)))
                        r = -EINVAL;
                else if (jv_truthy(v))
                        r = exec(c, n->b, out);
                else if (n->c)
                        r = exec(c, n->c, out);
                break;
        case JN_FOR:
                r = exec_for(c, n, out);
                break;
        case JN_SET:
                if (!(v = eval(c, n->b)))
                        r = -EINVAL;
                else
                        r = exec_set(c, n->a, v);
                break;
        case JN_SET_BLOCK: {
                struct jbuf b = {0};
                if ((r = jbuf_put(c, &b, "", 0)) >= 0 && (r = exec(c, n->b, &b)) >= 0) {
                        if (!(v = jv_str_nocopy(c, b.p, b.n)))
                                r = -E2BIG;
                        else
                                r = exec_set(c, n->a, v);
                }
                break;
        }
        case JN_MACRO:
                if (!(v = jv_new(c, JV_MACRO)))
                        r = -E2BIG;
                else {
                        v->macro.node = n;
                        v->macro.frame = c->frame;
                        c->frame->captured = true;
                        r = frame_set(c, c->frame, n->name, n->name_len, v);
                }
                break;
        case JN_WITH: {
                /* The values are computed in the outer scope, then bound in a new one. */
                struct jframe *outer = c->frame, *f = frame_new(c, outer);
                if (!f) {
                        r = -E2BIG;
                        break;
                }
                for (size_t i = 0; i < n->n_kids && r >= 0; i++) {
                        if (!(v = eval(c, n->kw_vals[i])))
                                r = -EINVAL;
                        else
                                r = frame_set(c, f, n->kids[i]->name, n->kids[i]->name_len, v);
                }
                if (r >= 0) {
                        c->frame = f;
                        r = exec(c, n->b, out);
                        c->frame = outer;
                }
                break;
        }
        case JN_FILTER_BLOCK: {
                struct jbuf b = {0};
                if ((r = jbuf_put(c, &b, "", 0)) < 0 || (r = exec(c, n->b, &b)) < 0)
                        break;
                if (!(v = jv_str_nocopy(c, b.p, b.n))) {
                        r = -E2BIG;
                        break;
                }
                for (size_t i = 0; i < n->n_kids && v; i++) {
                        const struct jnode *f = n->kids[i];
                        struct jv **args, **kw;
                        if (eval_args(c, f, &args, &kw) < 0)
                                v = NULL;
                        else
                                v = jinja_call_filter(c, f, v, args, f->n_kids, f->kw_names, kw, f->n_kw);
                }
                r = v ? jv_to_str(c, out, v, n->line) : -EINVAL;
                break;
        }
        case JN_BREAK:
        case JN_CONTINUE:
                /* Jinja refuses these outside a loop at compile time; here the
                 * flag simply unwinds to the enclosing loop, or is dropped at
                 * the top level. */
                c->loopctl = n->kind == JN_BREAK ? 1 : 2;
                break;
        default:
                r = jerr(c, n->line, -EINVAL, "internal error: node %d is not a statement", n->kind);
        }
        c->depth--;
        if (r < 0 && !c->failed)
                jerr(c, n->line, r, "rendering failed");
        return r;
}

int jinja_render(const struct jinja_template *t, const struct jinja_var *vars, size_t n_vars, const char *date_override,
                 const struct jinja_limits *limits, char **ret, size_t *ret_len, struct vkinfer_err *err) {
        struct jctx c = {
                .out_limit = limits && limits->max_output ? limits->max_output : JINJA_DEFAULT_MAX_OUTPUT,
                .step_limit = limits && limits->max_steps ? limits->max_steps : JINJA_DEFAULT_MAX_STEPS,
                .depth_limit = limits && limits->max_depth ? limits->max_depth : JINJA_DEFAULT_MAX_DEPTH,
                .date_override = date_override,
                .err = err,
        };
        c.arena.limit = limits && limits->max_memory ? limits->max_memory : JINJA_DEFAULT_MAX_MEMORY;
        int r = -EINVAL;
        struct jbuf out = {0};
        c.top = c.frame = frame_new(&c, NULL);
        if (!c.top)
                goto done;
        for (size_t i = 0; i < n_vars; i++) {
                if (!vars[i].name || !vars[i].value) {
                        r = err_set(err, -EINVAL, "chat template: variable %zu has no name or value", i);
                        goto done;
                }
                struct jv *v = jv_from_json(&c, vars[i].value);
                char *name = arena_strndup(&c.arena, vars[i].name, strlen(vars[i].name));
                if (!v || !name || frame_set(&c, c.top, name, strlen(vars[i].name), v) < 0)
                        goto done;
        }
        if ((r = jbuf_put(&c, &out, "", 0)) < 0)
                goto done;
        r = exec(&c, t->root, &out);
        if (r >= 0) {
                char *s = malloc(out.n + 1);
                if (!s) {
                        r = err_set(err, -ENOMEM, "chat template: out of memory");
                        goto done;
                }
                memcpy(s, out.p, out.n + 1);
                *ret = s;
                if (ret_len)
                        *ret_len = out.n;
        }
done:
        if (c.failed && r >= 0)
                r = -EINVAL;
        arena_free_all(&c.arena);
        return r;
}
