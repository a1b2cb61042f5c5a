/* The Jinja parser: tokens to an AST, with Jinja2's operator precedence
 * (jinja2/parser.py). Filters and tests are resolved here, so a template
 * naming an unsupported one fails at load time even in a branch that would
 * not run, and every unsupported tag is refused by name. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chat/jinja-impl.h"

struct parser {
        struct arena *a;
        struct jtok *t;
        size_t n, pos;
        unsigned depth;
        struct vkinfer_err *err;
        bool failed;
        int r;
};

#define MAX_PARSE_DEPTH 200u

static int perr(struct parser *p, unsigned line, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int perr(struct parser *p, unsigned line, int r, const char *fmt, ...) {
        if (p->failed)
                return p->r;
        p->failed = true;
        p->r = r;
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        err_set(p->err, r, "chat template line %u: %s", line, msg);
        return r;
}

static struct jtok *cur(struct parser *p) {
        return &p->t[p->pos];
}

static struct jtok *peek(struct parser *p, size_t k) {
        size_t i = p->pos + k;
        return i < p->n ? &p->t[i] : &p->t[p->n - 1];
}

static void advance(struct parser *p) {
        if (p->pos + 1 < p->n)
                p->pos++;
}

static bool tok_is(const struct jtok *t, enum jtok_type type, const char *s) {
        if (t->type != type)
                return false;
        return !s || (t->n == strlen(s) && memcmp(t->s, s, t->n) == 0);
}

static bool is_op(struct parser *p, const char *s) {
        return tok_is(cur(p), JT_OP, s);
}
static bool is_name(struct parser *p, const char *s) {
        return tok_is(cur(p), JT_NAME, s);
}

static const char *describe(const struct jtok *t, char *buf, size_t size) {
        switch (t->type) {
        case JT_EOF: return "end of template";
        case JT_DATA: return "template text";
        case JT_VAR_BEGIN: return "'{{'";
        case JT_VAR_END: return "'}}'";
        case JT_BLOCK_BEGIN: return "'{%'";
        case JT_BLOCK_END: return "'%}'";
        case JT_STRING: return "a string";
        case JT_INT: return "an integer";
        case JT_FLOAT: return "a float";
        default:
                snprintf(buf, size, "'%.*s'", (int) (t->n > 40 ? 40 : t->n), t->s);
                return buf;
        }
}

static int expect_op(struct parser *p, const char *s) {
        if (is_op(p, s)) {
                advance(p);
                return 0;
        }
        char b[64];
        return perr(p, cur(p)->line, -EINVAL, "expected '%s', found %s", s, describe(cur(p), b, sizeof(b)));
}

static int expect_type(struct parser *p, enum jtok_type type, const char *what) {
        if (cur(p)->type == type) {
                advance(p);
                return 0;
        }
        char b[64];
        return perr(p, cur(p)->line, -EINVAL, "expected %s, found %s", what, describe(cur(p), b, sizeof(b)));
}

static struct jnode *node(struct parser *p, enum jn_kind kind, unsigned line) {
        struct jnode *n = arena_alloc(p->a, sizeof(*n));
        if (!n) {
                perr(p, line, -ENOMEM, "out of memory");
                return NULL;
        }
        n->kind = kind;
        n->line = line;
        return n;
}

/* A growable array of node pointers in the arena. */
struct nvec {
        struct jnode **v;
        size_t n, cap;
};

static int nvec_push(struct parser *p, struct nvec *v, struct jnode *x) {
        if (v->n == v->cap) {
                size_t cap = v->cap ? v->cap * 2 : 4;
                struct jnode **nv = arena_alloc(p->a, cap * sizeof(*nv));
                if (!nv)
                        return perr(p, cur(p)->line, -ENOMEM, "out of memory");
                if (v->n)
                        memcpy(nv, v->v, v->n * sizeof(*nv));
                v->v = nv;
                v->cap = cap;
        }
        v->v[v->n++] = x;
        return 0;
}

static struct jv *const_val(struct parser *p, enum jv_type t) {
        struct jv *v = arena_alloc(p->a, sizeof(*v));
        if (!v)
                perr(p, cur(p)->line, -ENOMEM, "out of memory");
        else
                v->t = t;
        return v;
}

static struct jnode *parse_expression(struct parser *p, bool with_condexpr);
static struct jnode *parse_tuple(struct parser *p, bool with_condexpr, bool explicit_parens);
static struct jnode *parse_unary(struct parser *p, bool with_filter);
static struct jnode *parse_primary(struct parser *p);
static struct jnode *parse_postfix(struct parser *p, struct jnode *n);
static struct jnode *parse_filter_expr(struct parser *p, struct jnode *n);

static bool enter(struct parser *p) {
        if (++p->depth > MAX_PARSE_DEPTH) {
                perr(p, cur(p)->line, -ELOOP, "template nested deeper than %u levels", MAX_PARSE_DEPTH);
                return false;
        }
        return true;
}

/* (args, name=kw...) after the '(' */
static int parse_call_args(struct parser *p, struct jnode *n) {
        struct nvec args = {0}, kwv = {0};
        const char **kwn = NULL;
        size_t kwcap = 0;
        if (expect_op(p, "(") < 0)
                return p->r;
        while (!is_op(p, ")")) {
                if (args.n + kwv.n > 0 && expect_op(p, ",") < 0)
                        return p->r;
                if (is_op(p, ")"))
                        break;
                if (is_op(p, "*") || is_op(p, "**"))
                        return perr(p, cur(p)->line, -EINVAL, "unsupported construct: *args / **kwargs in a call");
                if (cur(p)->type == JT_NAME && tok_is(peek(p, 1), JT_OP, "=")) {
                        if (kwv.n == kwcap) {
                                size_t cap = kwcap ? kwcap * 2 : 4;
                                const char **nk = arena_alloc(p->a, cap * sizeof(*nk));
                                if (!nk)
                                        return perr(p, cur(p)->line, -ENOMEM, "out of memory");
                                if (kwv.n)
                                        memcpy(nk, kwn, kwv.n * sizeof(*nk));
                                kwn = nk;
                                kwcap = cap;
                        }
                        kwn[kwv.n] = arena_strndup(p->a, cur(p)->s, cur(p)->n);
                        advance(p);
                        advance(p);
                        struct jnode *v = parse_expression(p, true);
                        if (!v || nvec_push(p, &kwv, v) < 0)
                                return p->r;
                } else {
                        if (kwv.n)
                                return perr(p, cur(p)->line, -EINVAL, "positional argument after keyword argument");
                        struct jnode *v = parse_expression(p, true);
                        if (!v || nvec_push(p, &args, v) < 0)
                                return p->r;
                }
        }
        advance(p);
        n->kids = args.v;
        n->n_kids = args.n;
        n->kw_names = kwn;
        n->kw_vals = kwv.v;
        n->n_kw = kwv.n;
        return 0;
}

static struct jnode *parse_primary(struct parser *p) {
        struct jtok *t = cur(p);
        struct jnode *n;
        char b[64];
        switch (t->type) {
        case JT_NAME: {
                static const struct {
                        const char *s;
                        int kind; /* 0 none, 1 true, 2 false */
                } consts[] = {{"none", 0}, {"None", 0}, {"true", 1}, {"True", 1}, {"false", 2}, {"False", 2}};
                for (size_t i = 0; i < ELEMENTSOF(consts); i++)
                        if (tok_is(t, JT_NAME, consts[i].s)) {
                                if (!(n = node(p, JN_CONST, t->line)))
                                        return NULL;
                                n->val = consts[i].kind == 0 ? &jv_none_s : consts[i].kind == 1 ? &jv_true_s : &jv_false_s;
                                advance(p);
                                return n;
                        }
                if (!(n = node(p, JN_NAME, t->line)))
                        return NULL;
                n->name = arena_strndup(p->a, t->s, t->n);
                n->name_len = t->n;
                advance(p);
                return n;
        }
        case JT_STRING: {
                /* Adjacent literals concatenate, as in Python. */
                size_t total = 0, i = p->pos;
                while (p->t[i].type == JT_STRING)
                        total += p->t[i++].n;
                char *s = arena_alloc(p->a, total + 1);
                if (!(n = node(p, JN_CONST, t->line)) || !s || !(n->val = const_val(p, JV_STR)))
                        return perr(p, t->line, -ENOMEM, "out of memory"), NULL;
                size_t o = 0;
                while (cur(p)->type == JT_STRING) {
                        if (cur(p)->n)
                                memcpy(s + o, cur(p)->s, cur(p)->n);
                        o += cur(p)->n;
                        advance(p);
                }
                n->val->s.p = s;
                n->val->s.n = total;
                return n;
        }
        case JT_INT:
        case JT_FLOAT:
                if (!(n = node(p, JN_CONST, t->line)) || !(n->val = const_val(p, t->type == JT_INT ? JV_INT : JV_FLOAT)))
                        return NULL;
                if (t->type == JT_INT)
                        n->val->i = t->i;
                else
                        n->val->f = t->f;
                advance(p);
                return n;
        case JT_OP:
                if (is_op(p, "(")) {
                        advance(p);
                        n = parse_tuple(p, true, true);
                        if (!n || expect_op(p, ")") < 0)
                                return NULL;
                        return n;
                }
                if (is_op(p, "[")) {
                        advance(p);
                        struct nvec items = {0};
                        while (!is_op(p, "]")) {
                                if (items.n && expect_op(p, ",") < 0)
                                        return NULL;
                                if (is_op(p, "]"))
                                        break;
                                struct jnode *x = parse_expression(p, true);
                                if (!x || nvec_push(p, &items, x) < 0)
                                        return NULL;
                        }
                        advance(p);
                        if (!(n = node(p, JN_LIST, t->line)))
                                return NULL;
                        n->kids = items.v;
                        n->n_kids = items.n;
                        return n;
                }
                if (is_op(p, "{")) {
                        advance(p);
                        struct nvec keys = {0}, vals = {0};
                        while (!is_op(p, "}")) {
                                if (keys.n && expect_op(p, ",") < 0)
                                        return NULL;
                                if (is_op(p, "}"))
                                        break;
                                struct jnode *k = parse_expression(p, true);
                                if (!k || expect_op(p, ":") < 0)
                                        return NULL;
                                struct jnode *v = parse_expression(p, true);
                                if (!v || nvec_push(p, &keys, k) < 0 || nvec_push(p, &vals, v) < 0)
                                        return NULL;
                        }
                        advance(p);
                        if (!(n = node(p, JN_DICTLIT, t->line)))
                                return NULL;
                        n->kids = keys.v;
                        n->kw_vals = vals.v;
                        n->n_kids = keys.n;
                        return n;
                }
                /* fallthrough */
        default:
                perr(p, t->line, -EINVAL, "unexpected %s in an expression", describe(t, b, sizeof(b)));
                return NULL;
        }
}

/* [a], [a:b], [a:b:c] after the '[' */
static struct jnode *parse_subscript(struct parser *p, struct jnode *obj, unsigned line) {
        struct jnode *parts[3] = {NULL, NULL, NULL};
        bool slice = false;
        if (!is_op(p, ":")) {
                if (!(parts[0] = parse_expression(p, true)))
                        return NULL;
        }
        if (is_op(p, ":")) {
                slice = true;
                advance(p);
                if (!is_op(p, "]") && !is_op(p, ":") && !(parts[1] = parse_expression(p, true)))
                        return NULL;
                if (is_op(p, ":")) {
                        advance(p);
                        if (!is_op(p, "]") && !(parts[2] = parse_expression(p, true)))
                                return NULL;
                }
        }
        if (expect_op(p, "]") < 0)
                return NULL;
        struct jnode *n = node(p, slice ? JN_SLICE : JN_ITEM, line);
        if (!n)
                return NULL;
        n->a = obj;
        n->b = parts[0];
        n->c = parts[1];
        n->d = parts[2];
        return n;
}

static struct jnode *parse_postfix(struct parser *p, struct jnode *n) {
        while (n) {
                unsigned line = cur(p)->line;
                if (is_op(p, ".")) {
                        advance(p);
                        struct jtok *t = cur(p);
                        if (t->type == JT_NAME) {
                                struct jnode *a = node(p, JN_ATTR, line);
                                if (!a)
                                        return NULL;
                                a->a = n;
                                a->name = arena_strndup(p->a, t->s, t->n);
                                a->name_len = t->n;
                                advance(p);
                                n = a;
                        } else if (t->type == JT_INT) {
                                struct jnode *k = node(p, JN_CONST, line), *a = node(p, JN_ITEM, line);
                                if (!k || !a || !(k->val = const_val(p, JV_INT)))
                                        return NULL;
                                k->val->i = t->i;
                                a->a = n;
                                a->b = k;
                                advance(p);
                                n = a;
                        } else {
                                char b[64];
                                perr(p, line, -EINVAL, "expected an attribute name after '.', found %s", describe(t, b, sizeof(b)));
                                return NULL;
                        }
                } else if (is_op(p, "[")) {
                        advance(p);
                        n = parse_subscript(p, n, line);
                } else if (is_op(p, "(")) {
                        struct jnode *c = node(p, JN_CALL, line);
                        if (!c)
                                return NULL;
                        c->a = n;
                        if (parse_call_args(p, c) < 0)
                                return NULL;
                        n = c;
                } else
                        break;
        }
        return n;
}

static struct jnode *parse_filter_expr(struct parser *p, struct jnode *n) {
        while (n) {
                unsigned line = cur(p)->line;
                if (is_op(p, "|")) {
                        advance(p);
                        if (cur(p)->type != JT_NAME) {
                                expect_type(p, JT_NAME, "a filter name");
                                return NULL;
                        }
                        struct jtok *t = cur(p);
                        int id = jinja_filter_lookup(t->s, t->n);
                        if (id < 0) {
                                perr(p, line, -EINVAL, "unsupported filter '%.*s'", (int) t->n, t->s);
                                return NULL;
                        }
                        advance(p);
                        struct jnode *f = node(p, JN_FILTER, line);
                        if (!f)
                                return NULL;
                        f->a = n;
                        f->op = id;
                        f->name = arena_strndup(p->a, t->s, t->n);
                        f->name_len = t->n;
                        if (is_op(p, "(") && parse_call_args(p, f) < 0)
                                return NULL;
                        n = f;
                } else if (is_name(p, "is")) {
                        advance(p);
                        bool negate = false;
                        if (is_name(p, "not")) {
                                negate = true;
                                advance(p);
                        }
                        struct jtok *t = cur(p);
                        if (t->type != JT_NAME) {
                                expect_type(p, JT_NAME, "a test name");
                                return NULL;
                        }
                        int id = jinja_test_lookup(t->s, t->n);
                        if (id < 0) {
                                perr(p, line, -EINVAL, "unsupported test '%.*s'", (int) t->n, t->s);
                                return NULL;
                        }
                        advance(p);
                        struct jnode *f = node(p, JN_TEST, line);
                        if (!f)
                                return NULL;
                        f->a = n;
                        f->op = id;
                        f->negate = negate;
                        f->name = arena_strndup(p->a, t->s, t->n);
                        f->name_len = t->n;
                        struct jtok *c = cur(p);
                        if (is_op(p, "(")) {
                                if (parse_call_args(p, f) < 0)
                                        return NULL;
                        } else if ((c->type == JT_NAME || c->type == JT_STRING || c->type == JT_INT ||
                                    c->type == JT_FLOAT || is_op(p, "[") || is_op(p, "{")) &&
                                   !is_name(p, "else") && !is_name(p, "or") && !is_name(p, "and")) {
                                if (is_name(p, "is")) {
                                        perr(p, line, -EINVAL, "you cannot chain multiple tests with 'is'");
                                        return NULL;
                                }
                                struct jnode *arg = parse_postfix(p, parse_primary(p));
                                if (!arg || !(f->kids = arena_alloc(p->a, sizeof(*f->kids))))
                                        return NULL;
                                f->kids[0] = arg;
                                f->n_kids = 1;
                        }
                        n = f;
                } else if (is_op(p, "(")) {
                        struct jnode *c = node(p, JN_CALL, line);
                        if (!c)
                                return NULL;
                        c->a = n;
                        if (parse_call_args(p, c) < 0)
                                return NULL;
                        n = c;
                } else
                        break;
        }
        return n;
}

static struct jnode *parse_unary(struct parser *p, bool with_filter) {
        unsigned line = cur(p)->line;
        struct jnode *n;
        if (!enter(p))
                return NULL;
        if (is_op(p, "-") || is_op(p, "+")) {
                bool neg = is_op(p, "-");
                advance(p);
                struct jnode *x = parse_unary(p, false);
                if (!x || !(n = node(p, neg ? JN_NEG : JN_POS, line)))
                        return NULL;
                n->a = x;
        } else
                n = parse_primary(p);
        n = parse_postfix(p, n);
        if (with_filter)
                n = parse_filter_expr(p, n);
        p->depth--;
        return n;
}

static struct jnode *binop(struct parser *p, int op, struct jnode *a, struct jnode *b, unsigned line) {
        if (!a || !b)
                return NULL;
        struct jnode *n = node(p, JN_BINOP, line);
        if (n) {
                n->op = op;
                n->a = a;
                n->b = b;
        }
        return n;
}

static struct jnode *parse_pow(struct parser *p) {
        struct jnode *n = parse_unary(p, true);
        while (n && is_op(p, "**")) {
                unsigned line = cur(p)->line;
                advance(p);
                n = binop(p, OP_POW, n, parse_unary(p, true), line);
        }
        return n;
}

static struct jnode *parse_math2(struct parser *p) {
        struct jnode *n = parse_pow(p);
        for (;;) {
                int op = is_op(p, "*") ? OP_MUL : is_op(p, "/") ? OP_DIV : is_op(p, "//") ? OP_FLOORDIV : is_op(p, "%") ? OP_MOD : 0;
                if (!n || !op)
                        return n;
                unsigned line = cur(p)->line;
                advance(p);
                n = binop(p, op, n, parse_pow(p), line);
        }
}

static struct jnode *parse_concat(struct parser *p) {
        unsigned line = cur(p)->line;
        struct jnode *n = parse_math2(p);
        if (!n || !is_op(p, "~"))
                return n;
        struct nvec items = {0};
        if (nvec_push(p, &items, n) < 0)
                return NULL;
        while (is_op(p, "~")) {
                advance(p);
                struct jnode *x = parse_math2(p);
                if (!x || nvec_push(p, &items, x) < 0)
                        return NULL;
        }
        if (!(n = node(p, JN_CONCAT, line)))
                return NULL;
        n->kids = items.v;
        n->n_kids = items.n;
        return n;
}

static struct jnode *parse_math1(struct parser *p) {
        struct jnode *n = parse_concat(p);
        for (;;) {
                int op = is_op(p, "+") ? OP_ADD : is_op(p, "-") ? OP_SUB : 0;
                if (!n || !op)
                        return n;
                unsigned line = cur(p)->line;
                advance(p);
                n = binop(p, op, n, parse_concat(p), line);
        }
}

static struct jnode *parse_compare(struct parser *p) {
        unsigned line = cur(p)->line;
        struct jnode *n = parse_math1(p);
        if (!n)
                return NULL;
        struct nvec kids = {0};
        int ops[64];
        size_t n_ops = 0;
        if (nvec_push(p, &kids, n) < 0)
                return NULL;
        for (;;) {
                int op = 0;
                if (is_op(p, "=="))
                        op = OP_EQ;
                else if (is_op(p, "!="))
                        op = OP_NE;
                else if (is_op(p, "<"))
                        op = OP_LT;
                else if (is_op(p, "<="))
                        op = OP_LE;
                else if (is_op(p, ">"))
                        op = OP_GT;
                else if (is_op(p, ">="))
                        op = OP_GE;
                else if (is_name(p, "in"))
                        op = OP_IN;
                else if (is_name(p, "not") && tok_is(peek(p, 1), JT_NAME, "in")) {
                        op = OP_NOTIN;
                        advance(p);
                }
                if (!op)
                        break;
                if (n_ops == ELEMENTSOF(ops))
                        return perr(p, line, -E2BIG, "comparison chain too long"), NULL;
                advance(p);
                struct jnode *x = parse_math1(p);
                if (!x || nvec_push(p, &kids, x) < 0)
                        return NULL;
                ops[n_ops++] = op;
        }
        if (n_ops == 0)
                return n;
        struct jnode *c = node(p, JN_COMPARE, line);
        if (!c || !(c->ops = arena_alloc(p->a, n_ops * sizeof(int))))
                return NULL;
        memcpy(c->ops, ops, n_ops * sizeof(int));
        c->kids = kids.v;
        c->n_kids = kids.n;
        return c;
}

static struct jnode *parse_not(struct parser *p) {
        if (is_name(p, "not")) {
                unsigned line = cur(p)->line;
                advance(p);
                if (!enter(p))
                        return NULL;
                struct jnode *x = parse_not(p), *n;
                p->depth--;
                if (!x || !(n = node(p, JN_NOT, line)))
                        return NULL;
                n->a = x;
                return n;
        }
        return parse_compare(p);
}

static struct jnode *parse_and(struct parser *p) {
        struct jnode *n = parse_not(p);
        while (n && is_name(p, "and")) {
                unsigned line = cur(p)->line;
                advance(p);
                struct jnode *b = parse_not(p), *x;
                if (!b || !(x = node(p, JN_AND, line)))
                        return NULL;
                x->a = n;
                x->b = b;
                n = x;
        }
        return n;
}

static struct jnode *parse_or(struct parser *p) {
        struct jnode *n = parse_and(p);
        while (n && is_name(p, "or")) {
                unsigned line = cur(p)->line;
                advance(p);
                struct jnode *b = parse_and(p), *x;
                if (!b || !(x = node(p, JN_OR, line)))
                        return NULL;
                x->a = n;
                x->b = b;
                n = x;
        }
        return n;
}

static struct jnode *parse_expression(struct parser *p, bool with_condexpr) {
        if (!enter(p))
                return NULL;
        struct jnode *n = parse_or(p);
        while (with_condexpr && n && is_name(p, "if")) {
                unsigned line = cur(p)->line;
                advance(p);
                struct jnode *cond = parse_or(p), *other = NULL, *x;
                if (!cond)
                        return NULL;
                if (is_name(p, "else")) {
                        advance(p);
                        if (!(other = parse_expression(p, true)))
                                return NULL;
                }
                if (!(x = node(p, JN_COND, line)))
                        return NULL;
                x->a = cond;
                x->b = n;
                x->c = other;
                n = x;
        }
        p->depth--;
        return n;
}

/* expr[, expr...]: a tuple when there is a comma. */
static struct jnode *parse_tuple(struct parser *p, bool with_condexpr, bool explicit_parens) {
        unsigned line = cur(p)->line;
        struct nvec items = {0};
        bool comma = false;
        for (;;) {
                if (items.n) {
                        if (!is_op(p, ","))
                                break;
                        advance(p);
                        comma = true;
                }
                if (is_op(p, ")") || cur(p)->type == JT_VAR_END || cur(p)->type == JT_BLOCK_END ||
                    (items.n && (is_name(p, "if") || is_name(p, "in"))))
                        break;
                struct jnode *x = parse_expression(p, with_condexpr);
                if (!x || nvec_push(p, &items, x) < 0)
                        return NULL;
        }
        if (items.n == 1 && !comma)
                return items.v[0];
        if (items.n == 0 && !explicit_parens) {
                char b[64];
                perr(p, line, -EINVAL, "expected an expression, found %s", describe(cur(p), b, sizeof(b)));
                return NULL;
        }
        struct jnode *n = node(p, JN_TUPLE, line);
        if (!n)
                return NULL;
        n->kids = items.v;
        n->n_kids = items.n;
        return n;
}

/* ---- Statements */

static struct jnode *parse_body(struct parser *p, const char *const *ends);

static int expect_block_end(struct parser *p) {
        return expect_type(p, JT_BLOCK_END, "'%}'");
}

/* Assignment target: name, ns.attr, or a tuple of names. */
static struct jnode *parse_target(struct parser *p, bool allow_attr) {
        unsigned line = cur(p)->line;
        struct nvec names = {0};
        bool parens = is_op(p, "(");
        if (parens)
                advance(p);
        for (;;) {
                struct jtok *t = cur(p);
                if (t->type != JT_NAME) {
                        expect_type(p, JT_NAME, "a variable name");
                        return NULL;
                }
                struct jnode *n = node(p, JN_NAME, t->line);
                if (!n)
                        return NULL;
                n->name = arena_strndup(p->a, t->s, t->n);
                n->name_len = t->n;
                advance(p);
                if (allow_attr && names.n == 0 && is_op(p, ".")) {
                        advance(p);
                        struct jtok *at = cur(p);
                        if (at->type != JT_NAME) {
                                expect_type(p, JT_NAME, "an attribute name");
                                return NULL;
                        }
                        struct jnode *a = node(p, JN_ATTR, at->line);
                        if (!a)
                                return NULL;
                        a->a = n;
                        a->name = arena_strndup(p->a, at->s, at->n);
                        a->name_len = at->n;
                        advance(p);
                        return a;
                }
                if (nvec_push(p, &names, n) < 0)
                        return NULL;
                if (!is_op(p, ","))
                        break;
                advance(p);
        }
        if (parens && expect_op(p, ")") < 0)
                return NULL;
        if (names.n == 1 && !parens)
                return names.v[0];
        struct jnode *n = node(p, JN_TUPLE, line);
        if (!n)
                return NULL;
        n->kids = names.v;
        n->n_kids = names.n;
        return n;
}

static struct jnode *parse_for(struct parser *p, unsigned line) {
        struct jnode *n = node(p, JN_FOR, line);
        if (!n || !(n->a = parse_target(p, false)))
                return NULL;
        if (!is_name(p, "in")) {
                expect_type(p, JT_EOF, "'in'");
                return NULL;
        }
        advance(p);
        if (!(n->b = parse_tuple(p, false, false)))
                return NULL;
        if (is_name(p, "if")) {
                advance(p);
                if (!(n->c = parse_expression(p, true)))
                        return NULL;
        }
        if (is_name(p, "recursive")) {
                perr(p, line, -EINVAL, "unsupported construct: recursive for loops");
                return NULL;
        }
        if (expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"endfor", "else", NULL};
        if (!(n->d = parse_body(p, ends)))
                return NULL;
        if (is_name(p, "else")) {
                advance(p);
                if (expect_block_end(p) < 0)
                        return NULL;
                static const char *const ends2[] = {"endfor", NULL};
                if (!(n->e = parse_body(p, ends2)))
                        return NULL;
        }
        advance(p); /* endfor */
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_if(struct parser *p, unsigned line) {
        struct jnode *n = node(p, JN_IF, line);
        if (!n || !(n->a = parse_tuple(p, true, false)) || expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"elif", "else", "endif", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        if (is_name(p, "elif")) {
                unsigned l2 = cur(p)->line;
                advance(p);
                /* The nested if consumes the final endif. */
                n->c = parse_if(p, l2);
                return n->c ? n : NULL;
        }
        if (is_name(p, "else")) {
                advance(p);
                if (expect_block_end(p) < 0)
                        return NULL;
                static const char *const ends2[] = {"endif", NULL};
                if (!(n->c = parse_body(p, ends2)))
                        return NULL;
        }
        advance(p); /* endif */
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_set(struct parser *p, unsigned line) {
        struct jnode *target = parse_target(p, true);
        if (!target)
                return NULL;
        if (is_op(p, "=")) {
                advance(p);
                struct jnode *n = node(p, JN_SET, line);
                if (!n || !(n->b = parse_tuple(p, true, false)) || expect_block_end(p) < 0)
                        return NULL;
                n->a = target;
                return n;
        }
        if (is_op(p, "|")) {
                perr(p, line, -EINVAL, "unsupported construct: filtered {%% set %%} block");
                return NULL;
        }
        if (expect_block_end(p) < 0)
                return NULL;
        struct jnode *n = node(p, JN_SET_BLOCK, line);
        static const char *const ends[] = {"endset", NULL};
        if (!n || !(n->b = parse_body(p, ends)))
                return NULL;
        advance(p);
        n->a = target;
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_macro(struct parser *p, unsigned line) {
        struct jnode *n = node(p, JN_MACRO, line);
        if (!n)
                return NULL;
        if (cur(p)->type != JT_NAME) {
                expect_type(p, JT_NAME, "a macro name");
                return NULL;
        }
        n->name = arena_strndup(p->a, cur(p)->s, cur(p)->n);
        n->name_len = cur(p)->n;
        advance(p);
        if (expect_op(p, "(") < 0)
                return NULL;
        struct nvec params = {0}, defs = {0};
        while (!is_op(p, ")")) {
                if (params.n && expect_op(p, ",") < 0)
                        return NULL;
                if (cur(p)->type != JT_NAME) {
                        expect_type(p, JT_NAME, "a parameter name");
                        return NULL;
                }
                struct jnode *pn = node(p, JN_NAME, cur(p)->line);
                if (!pn)
                        return NULL;
                pn->name = arena_strndup(p->a, cur(p)->s, cur(p)->n);
                pn->name_len = cur(p)->n;
                advance(p);
                struct jnode *def = NULL;
                if (is_op(p, "=")) {
                        advance(p);
                        if (!(def = parse_expression(p, true)))
                                return NULL;
                } else if (defs.n && defs.v[defs.n - 1]) {
                        perr(p, line, -EINVAL, "non-default macro argument follows default argument");
                        return NULL;
                }
                if (nvec_push(p, &params, pn) < 0 || nvec_push(p, &defs, def) < 0)
                        return NULL;
        }
        advance(p);
        if (expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"endmacro", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        advance(p);
        n->kids = params.v;
        n->n_kids = params.n;
        n->kw_vals = defs.v;
        return expect_block_end(p) < 0 ? NULL : n;
}

/* {% with a = 1, b = x %} ... {% endwith %} */
static struct jnode *parse_with(struct parser *p, unsigned line) {
        struct jnode *n = node(p, JN_WITH, line);
        struct nvec names = {0}, vals = {0};
        if (!n)
                return NULL;
        while (!(cur(p)->type == JT_BLOCK_END)) {
                if (names.n && expect_op(p, ",") < 0)
                        return NULL;
                struct jtok *t = cur(p);
                if (t->type != JT_NAME) {
                        expect_type(p, JT_NAME, "a variable name");
                        return NULL;
                }
                struct jnode *target = node(p, JN_NAME, t->line);
                if (!target)
                        return NULL;
                target->name = arena_strndup(p->a, t->s, t->n);
                target->name_len = t->n;
                advance(p);
                struct jnode *v;
                if (expect_op(p, "=") < 0 || !(v = parse_expression(p, true)) || nvec_push(p, &names, target) < 0 ||
                    nvec_push(p, &vals, v) < 0)
                        return NULL;
        }
        advance(p);
        static const char *const ends[] = {"endwith", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        advance(p);
        n->kids = names.v;
        n->n_kids = names.n;
        n->kw_vals = vals.v;
        return expect_block_end(p) < 0 ? NULL : n;
}

/* {% filter upper|replace('a', 'b') %} ... {% endfilter %} */
static struct jnode *parse_filter_block(struct parser *p, unsigned line) {
        struct jnode *n = node(p, JN_FILTER_BLOCK, line);
        struct nvec chain = {0};
        if (!n)
                return NULL;
        do {
                if (chain.n)
                        advance(p); /* the '|' */
                struct jtok *t = cur(p);
                if (t->type != JT_NAME) {
                        expect_type(p, JT_NAME, "a filter name");
                        return NULL;
                }
                int id = jinja_filter_lookup(t->s, t->n);
                if (id < 0) {
                        perr(p, line, -EINVAL, "unsupported filter '%.*s'", (int) t->n, t->s);
                        return NULL;
                }
                struct jnode *f = node(p, JN_FILTER, t->line);
                if (!f)
                        return NULL;
                f->op = id;
                f->name = arena_strndup(p->a, t->s, t->n);
                f->name_len = t->n;
                advance(p);
                if (is_op(p, "(") && parse_call_args(p, f) < 0)
                        return NULL;
                if (nvec_push(p, &chain, f) < 0)
                        return NULL;
        } while (is_op(p, "|"));
        if (expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"endfilter", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        advance(p);
        n->kids = chain.v;
        n->n_kids = chain.n;
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_statement(struct parser *p) {
        struct jtok *t = cur(p);
        unsigned line = t->line;
        if (t->type != JT_NAME) {
                char b[64];
                perr(p, line, -EINVAL, "expected a tag name after '{%%', found %s", describe(t, b, sizeof(b)));
                return NULL;
        }
        if (!enter(p))
                return NULL;
        struct jnode *n = NULL;
        advance(p);
        if (tok_is(t, JT_NAME, "for"))
                n = parse_for(p, line);
        else if (tok_is(t, JT_NAME, "if"))
                n = parse_if(p, line);
        else if (tok_is(t, JT_NAME, "set"))
                n = parse_set(p, line);
        else if (tok_is(t, JT_NAME, "macro"))
                n = parse_macro(p, line);
        else if (tok_is(t, JT_NAME, "break") || tok_is(t, JT_NAME, "continue")) {
                if ((n = node(p, tok_is(t, JT_NAME, "break") ? JN_BREAK : JN_CONTINUE, line)) && expect_block_end(p) < 0)
                        n = NULL;
        } else if (tok_is(t, JT_NAME, "with")) {
                n = parse_with(p, line);
        } else if (tok_is(t, JT_NAME, "filter")) {
                n = parse_filter_block(p, line);
        } else if (tok_is(t, JT_NAME, "generation")) {
                /* transformers' AssistantTracker: renders its body unchanged. */
                static const char *const ends[] = {"endgeneration", NULL};
                if (expect_block_end(p) >= 0 && (n = parse_body(p, ends))) {
                        advance(p);
                        if (expect_block_end(p) < 0)
                                n = NULL;
                }
        } else {
                static const char *const ends[] = {"endfor", "endif", "endset", "endmacro", "else", "elif", "endgeneration",
                                                   "endwith", "endfilter", NULL};
                for (size_t i = 0; ends[i]; i++)
                        if (tok_is(t, JT_NAME, ends[i])) {
                                perr(p, line, -EINVAL, "unexpected '{%% %s %%}' with no open block it could close", ends[i]);
                                return NULL;
                        }
                perr(p, line, -EINVAL, "unsupported construct: '{%% %.*s %%}' tag", (int) (t->n > 40 ? 40 : t->n), t->s);
                return NULL;
        }
        p->depth--;
        return n;
}

/* Statements until a {% NAME %} with NAME in ends (NULL: end of template);
 * stops with the NAME token current. */
static struct jnode *parse_body(struct parser *p, const char *const *ends) {
        unsigned line = cur(p)->line;
        struct jnode *body = node(p, JN_BODY, line);
        struct nvec kids = {0};
        if (!body)
                return NULL;
        for (;;) {
                struct jtok *t = cur(p);
                struct jnode *n = NULL;
                if (t->type == JT_EOF) {
                        if (ends) {
                                const char *closer = ends[0];
                                for (size_t i = 0; ends[i]; i++)
                                        if (strncmp(ends[i], "end", 3) == 0)
                                                closer = ends[i];
                                perr(p, t->line, -EINVAL, "unexpected end of template: a block opened on line %u needs '{%% %s %%}'",
                                     line, closer);
                                return NULL;
                        }
                        break;
                }
                if (t->type == JT_DATA) {
                        if (!(n = node(p, JN_TEXT, t->line)))
                                return NULL;
                        n->name = t->s;
                        n->name_len = t->n;
                        advance(p);
                } else if (t->type == JT_VAR_BEGIN) {
                        advance(p);
                        if (!(n = node(p, JN_OUTPUT, t->line)) || !(n->a = parse_tuple(p, true, false)))
                                return NULL;
                        if (expect_type(p, JT_VAR_END, "'}}'") < 0)
                                return NULL;
                } else if (t->type == JT_BLOCK_BEGIN) {
                        struct jtok *name = peek(p, 1);
                        if (ends)
                                for (size_t i = 0; ends[i]; i++)
                                        if (tok_is(name, JT_NAME, ends[i])) {
                                                advance(p);
                                                goto done;
                                        }
                        advance(p);
                        if (!(n = parse_statement(p)))
                                return NULL;
                } else {
                        char b[64];
                        perr(p, t->line, -EINVAL, "unexpected %s", describe(t, b, sizeof(b)));
                        return NULL;
                }
                if (nvec_push(p, &kids, n) < 0)
                        return NULL;
        }
done:
        body->kids = kids.v;
        body->n_kids = kids.n;
        return body;
}

int jinja_parse(const char *src, size_t len, struct jinja_template **ret, struct vkinfer_err *err) {
        struct jinja_template *t = calloc(1, sizeof(*t));
        if (!t)
                return err_set(err, -ENOMEM, "chat template: out of memory");
        char *norm;
        size_t n, n_toks;
        struct jtok *toks;
        int r = jinja_normalize(&t->arena, src, len, &norm, &n, err);
        if (r >= 0)
                r = jinja_lex(&t->arena, norm, n, &toks, &n_toks, err);
        if (r < 0) {
                jinja_template_free(t);
                return r;
        }
        struct parser p = {.a = &t->arena, .t = toks, .n = n_toks, .err = err};
        t->root = parse_body(&p, NULL);
        if (!t->root) {
                jinja_template_free(t);
                return p.failed ? p.r : err_set(err, -EINVAL, "chat template: parse failed");
        }
        *ret = t;
        return 0;
}

void jinja_template_free(struct jinja_template *t) {
        if (!t)
                return;
        arena_free_all(&t->arena);
        free(t);
}
