/* The Jinja parser: tokens to an AST, with Jinja2's operator precedence
 * (jinja2/parser.py). This file: the token helpers and the expressions;
 * jinja-parse-stmt.c: the statements. Filters and tests are resolved here,
 * so a template naming an unsupported one fails at load time even in a
 * branch that would not run, and every unsupported tag is refused by name. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chat/jinja-parser.h"

int jp_perr(struct parser *p, unsigned line, int r, const char *fmt, ...) {
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

struct jtok *jp_cur(struct parser *p) {
        return &p->t[p->pos];
}

struct jtok *jp_peek(struct parser *p, size_t k) {
        size_t i = p->pos + k;
        return i < p->n ? &p->t[i] : &p->t[p->n - 1];
}

void jp_advance(struct parser *p) {
        if (p->pos + 1 < p->n)
                p->pos++;
}

bool jp_tok_is(const struct jtok *t, enum jtok_type type, const char *s) {
        if (t->type != type)
                return false;
        return !s || (t->n == strlen(s) && memcmp(t->s, s, t->n) == 0);
}

bool jp_is_op(struct parser *p, const char *s) {
        return jp_tok_is(jp_cur(p), JT_OP, s);
}
bool jp_is_name(struct parser *p, const char *s) {
        return jp_tok_is(jp_cur(p), JT_NAME, s);
}

const char *jp_describe(const struct jtok *t, char *buf, size_t size) {
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

int jp_expect_op(struct parser *p, const char *s) {
        if (jp_is_op(p, s)) {
                jp_advance(p);
                return 0;
        }
        char b[64];
        return jp_perr(p, jp_cur(p)->line, -EINVAL, "expected '%s', found %s", s, jp_describe(jp_cur(p), b, sizeof(b)));
}

int jp_expect_type(struct parser *p, enum jtok_type type, const char *what) {
        if (jp_cur(p)->type == type) {
                jp_advance(p);
                return 0;
        }
        char b[64];
        return jp_perr(p, jp_cur(p)->line, -EINVAL, "expected %s, found %s", what, jp_describe(jp_cur(p), b, sizeof(b)));
}

struct jnode *jp_node(struct parser *p, enum jn_kind kind, unsigned line) {
        struct jnode *n = arena_alloc(p->a, sizeof(*n));
        if (!n) {
                jp_perr(p, line, -ENOMEM, "out of memory");
                return NULL;
        }
        n->kind = kind;
        n->line = line;
        return n;
}


int jp_nvec_push(struct parser *p, struct nvec *v, struct jnode *x) {
        if (v->n == v->cap) {
                size_t cap = v->cap ? v->cap * 2 : 4;
                struct jnode **nv = arena_alloc(p->a, cap * sizeof(*nv));
                if (!nv)
                        return jp_perr(p, jp_cur(p)->line, -ENOMEM, "out of memory");
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
                jp_perr(p, jp_cur(p)->line, -ENOMEM, "out of memory");
        else
                v->t = t;
        return v;
}

static struct jnode *parse_unary(struct parser *p, bool with_filter);
static struct jnode *parse_primary(struct parser *p);
static struct jnode *parse_postfix(struct parser *p, struct jnode *n);
static struct jnode *parse_filter_expr(struct parser *p, struct jnode *n);

bool jp_enter(struct parser *p) {
        if (++p->depth > MAX_PARSE_DEPTH) {
                jp_perr(p, jp_cur(p)->line, -ELOOP, "template nested deeper than %u levels", MAX_PARSE_DEPTH);
                return false;
        }
        return true;
}

/* (args, name=kw...) after the '(' */
int jp_parse_call_args(struct parser *p, struct jnode *n) {
        struct nvec args = {0}, kwv = {0};
        const char **kwn = NULL;
        size_t kwcap = 0;
        if (jp_expect_op(p, "(") < 0)
                return p->r;
        while (!jp_is_op(p, ")")) {
                if (args.n + kwv.n > 0 && jp_expect_op(p, ",") < 0)
                        return p->r;
                if (jp_is_op(p, ")"))
                        break;
                if (jp_is_op(p, "*") || jp_is_op(p, "**"))
                        return jp_perr(p, jp_cur(p)->line, -EINVAL, "unsupported construct: *args / **kwargs in a call");
                if (jp_cur(p)->type == JT_NAME && jp_tok_is(jp_peek(p, 1), JT_OP, "=")) {
                        if (kwv.n == kwcap) {
                                size_t cap = kwcap ? kwcap * 2 : 4;
                                const char **nk = arena_alloc(p->a, cap * sizeof(*nk));
                                if (!nk)
                                        return jp_perr(p, jp_cur(p)->line, -ENOMEM, "out of memory");
                                if (kwv.n)
                                        memcpy(nk, kwn, kwv.n * sizeof(*nk));
                                kwn = nk;
                                kwcap = cap;
                        }
                        kwn[kwv.n] = arena_strndup(p->a, jp_cur(p)->s, jp_cur(p)->n);
                        jp_advance(p);
                        jp_advance(p);
                        struct jnode *v = jp_parse_expression(p, true);
                        if (!v || jp_nvec_push(p, &kwv, v) < 0)
                                return p->r;
                } else {
                        if (kwv.n)
                                return jp_perr(p, jp_cur(p)->line, -EINVAL, "positional argument after keyword argument");
                        struct jnode *v = jp_parse_expression(p, true);
                        if (!v || jp_nvec_push(p, &args, v) < 0)
                                return p->r;
                }
        }
        jp_advance(p);
        n->kids = args.v;
        n->n_kids = args.n;
        n->kw_names = kwn;
        n->kw_vals = kwv.v;
        n->n_kw = kwv.n;
        return 0;
}

static struct jnode *parse_primary(struct parser *p) {
        struct jtok *t = jp_cur(p);
        struct jnode *n;
        char b[64];
        switch (t->type) {
        case JT_NAME: {
                static const struct {
                        const char *s;
                        int kind; /* 0 none, 1 true, 2 false */
                } consts[] = {{"none", 0}, {"None", 0}, {"true", 1}, {"True", 1}, {"false", 2}, {"False", 2}};
                for (size_t i = 0; i < ELEMENTSOF(consts); i++)
                        if (jp_tok_is(t, JT_NAME, consts[i].s)) {
                                if (!(n = jp_node(p, JN_CONST, t->line)))
                                        return NULL;
                                n->val = consts[i].kind == 0 ? &jv_none_s : consts[i].kind == 1 ? &jv_true_s : &jv_false_s;
                                jp_advance(p);
                                return n;
                        }
                if (!(n = jp_node(p, JN_NAME, t->line)))
                        return NULL;
                n->name = arena_strndup(p->a, t->s, t->n);
                n->name_len = t->n;
                jp_advance(p);
                return n;
        }
        case JT_STRING: {
                /* Adjacent literals concatenate, as in Python. */
                size_t total = 0, i = p->pos;
                while (p->t[i].type == JT_STRING)
                        total += p->t[i++].n;
                char *s = arena_alloc(p->a, total + 1);
                if (!(n = jp_node(p, JN_CONST, t->line)) || !s || !(n->val = const_val(p, JV_STR)))
                        return jp_perr(p, t->line, -ENOMEM, "out of memory"), NULL;
                size_t o = 0;
                while (jp_cur(p)->type == JT_STRING) {
                        if (jp_cur(p)->n)
                                memcpy(s + o, jp_cur(p)->s, jp_cur(p)->n);
                        o += jp_cur(p)->n;
                        jp_advance(p);
                }
                n->val->s.p = s;
                n->val->s.n = total;
                return n;
        }
        case JT_INT:
        case JT_FLOAT:
                if (!(n = jp_node(p, JN_CONST, t->line)) || !(n->val = const_val(p, t->type == JT_INT ? JV_INT : JV_FLOAT)))
                        return NULL;
                if (t->type == JT_INT)
                        n->val->i = t->i;
                else
                        n->val->f = t->f;
                jp_advance(p);
                return n;
        case JT_OP:
                if (jp_is_op(p, "(")) {
                        jp_advance(p);
                        n = jp_parse_tuple(p, true, true);
                        if (!n || jp_expect_op(p, ")") < 0)
                                return NULL;
                        return n;
                }
                if (jp_is_op(p, "[")) {
                        jp_advance(p);
                        struct nvec items = {0};
                        while (!jp_is_op(p, "]")) {
                                if (items.n && jp_expect_op(p, ",") < 0)
                                        return NULL;
                                if (jp_is_op(p, "]"))
                                        break;
                                struct jnode *x = jp_parse_expression(p, true);
                                if (!x || jp_nvec_push(p, &items, x) < 0)
                                        return NULL;
                        }
                        jp_advance(p);
                        if (!(n = jp_node(p, JN_LIST, t->line)))
                                return NULL;
                        n->kids = items.v;
                        n->n_kids = items.n;
                        return n;
                }
                if (jp_is_op(p, "{")) {
                        jp_advance(p);
                        struct nvec keys = {0}, vals = {0};
                        while (!jp_is_op(p, "}")) {
                                if (keys.n && jp_expect_op(p, ",") < 0)
                                        return NULL;
                                if (jp_is_op(p, "}"))
                                        break;
                                struct jnode *k = jp_parse_expression(p, true);
                                if (!k || jp_expect_op(p, ":") < 0)
                                        return NULL;
                                struct jnode *v = jp_parse_expression(p, true);
                                if (!v || jp_nvec_push(p, &keys, k) < 0 || jp_nvec_push(p, &vals, v) < 0)
                                        return NULL;
                        }
                        jp_advance(p);
                        if (!(n = jp_node(p, JN_DICTLIT, t->line)))
                                return NULL;
                        n->kids = keys.v;
                        n->kw_vals = vals.v;
                        n->n_kids = keys.n;
                        return n;
                }
                /* fallthrough */
        default:
                jp_perr(p, t->line, -EINVAL, "unexpected %s in an expression", jp_describe(t, b, sizeof(b)));
                return NULL;
        }
}

/* [a], [a:b], [a:b:c] after the '[' */
static struct jnode *parse_subscript(struct parser *p, struct jnode *obj, unsigned line) {
        struct jnode *parts[3] = {NULL, NULL, NULL};
        bool slice = false;
        if (!jp_is_op(p, ":")) {
                if (!(parts[0] = jp_parse_expression(p, true)))
                        return NULL;
        }
        if (jp_is_op(p, ":")) {
                slice = true;
                jp_advance(p);
                if (!jp_is_op(p, "]") && !jp_is_op(p, ":") && !(parts[1] = jp_parse_expression(p, true)))
                        return NULL;
                if (jp_is_op(p, ":")) {
                        jp_advance(p);
                        if (!jp_is_op(p, "]") && !(parts[2] = jp_parse_expression(p, true)))
                                return NULL;
                }
        }
        if (jp_expect_op(p, "]") < 0)
                return NULL;
        struct jnode *n = jp_node(p, slice ? JN_SLICE : JN_ITEM, line);
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
                unsigned line = jp_cur(p)->line;
                if (jp_is_op(p, ".")) {
                        jp_advance(p);
                        struct jtok *t = jp_cur(p);
                        if (t->type == JT_NAME) {
                                struct jnode *a = jp_node(p, JN_ATTR, line);
                                if (!a)
                                        return NULL;
                                a->a = n;
                                a->name = arena_strndup(p->a, t->s, t->n);
                                a->name_len = t->n;
                                jp_advance(p);
                                n = a;
                        } else if (t->type == JT_INT) {
                                struct jnode *k = jp_node(p, JN_CONST, line), *a = jp_node(p, JN_ITEM, line);
                                if (!k || !a || !(k->val = const_val(p, JV_INT)))
                                        return NULL;
                                k->val->i = t->i;
                                a->a = n;
                                a->b = k;
                                jp_advance(p);
                                n = a;
                        } else {
                                char b[64];
                                jp_perr(p, line, -EINVAL, "expected an attribute name after '.', found %s", jp_describe(t, b, sizeof(b)));
                                return NULL;
                        }
                } else if (jp_is_op(p, "[")) {
                        jp_advance(p);
                        n = parse_subscript(p, n, line);
                } else if (jp_is_op(p, "(")) {
                        struct jnode *c = jp_node(p, JN_CALL, line);
                        if (!c)
                                return NULL;
                        c->a = n;
                        if (jp_parse_call_args(p, c) < 0)
                                return NULL;
                        n = c;
                } else
                        break;
        }
        return n;
}

static struct jnode *parse_filter_expr(struct parser *p, struct jnode *n) {
        while (n) {
                unsigned line = jp_cur(p)->line;
                if (jp_is_op(p, "|")) {
                        jp_advance(p);
                        if (jp_cur(p)->type != JT_NAME) {
                                jp_expect_type(p, JT_NAME, "a filter name");
                                return NULL;
                        }
                        struct jtok *t = jp_cur(p);
                        int id = jinja_filter_lookup(t->s, t->n);
                        if (id < 0) {
                                jp_perr(p, line, -EINVAL, "unsupported filter '%.*s'", (int) t->n, t->s);
                                return NULL;
                        }
                        jp_advance(p);
                        struct jnode *f = jp_node(p, JN_FILTER, line);
                        if (!f)
                                return NULL;
                        f->a = n;
                        f->op = id;
                        f->name = arena_strndup(p->a, t->s, t->n);
                        f->name_len = t->n;
                        if (jp_is_op(p, "(") && jp_parse_call_args(p, f) < 0)
                                return NULL;
                        n = f;
                } else if (jp_is_name(p, "is")) {
                        jp_advance(p);
                        bool negate = false;
                        if (jp_is_name(p, "not")) {
                                negate = true;
                                jp_advance(p);
                        }
                        struct jtok *t = jp_cur(p);
                        if (t->type != JT_NAME) {
                                jp_expect_type(p, JT_NAME, "a test name");
                                return NULL;
                        }
                        int id = jinja_test_lookup(t->s, t->n);
                        if (id < 0) {
                                jp_perr(p, line, -EINVAL, "unsupported test '%.*s'", (int) t->n, t->s);
                                return NULL;
                        }
                        jp_advance(p);
                        struct jnode *f = jp_node(p, JN_TEST, line);
                        if (!f)
                                return NULL;
                        f->a = n;
                        f->op = id;
                        f->negate = negate;
                        f->name = arena_strndup(p->a, t->s, t->n);
                        f->name_len = t->n;
                        struct jtok *c = jp_cur(p);
                        if (jp_is_op(p, "(")) {
                                if (jp_parse_call_args(p, f) < 0)
                                        return NULL;
                        } else if ((c->type == JT_NAME || c->type == JT_STRING || c->type == JT_INT ||
                                    c->type == JT_FLOAT || jp_is_op(p, "[") || jp_is_op(p, "{")) &&
                                   !jp_is_name(p, "else") && !jp_is_name(p, "or") && !jp_is_name(p, "and")) {
                                if (jp_is_name(p, "is")) {
                                        jp_perr(p, line, -EINVAL, "you cannot chain multiple tests with 'is'");
                                        return NULL;
                                }
                                struct jnode *arg = parse_postfix(p, parse_primary(p));
                                if (!arg || !(f->kids = arena_alloc(p->a, sizeof(*f->kids))))
                                        return NULL;
                                f->kids[0] = arg;
                                f->n_kids = 1;
                        }
                        n = f;
                } else if (jp_is_op(p, "(")) {
                        struct jnode *c = jp_node(p, JN_CALL, line);
                        if (!c)
                                return NULL;
                        c->a = n;
                        if (jp_parse_call_args(p, c) < 0)
                                return NULL;
                        n = c;
                } else
                        break;
        }
        return n;
}

static struct jnode *parse_unary(struct parser *p, bool with_filter) {
        unsigned line = jp_cur(p)->line;
        struct jnode *n;
        if (!jp_enter(p))
                return NULL;
        if (jp_is_op(p, "-") || jp_is_op(p, "+")) {
                bool neg = jp_is_op(p, "-");
                jp_advance(p);
                struct jnode *x = parse_unary(p, false);
                if (!x || !(n = jp_node(p, neg ? JN_NEG : JN_POS, line)))
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
        struct jnode *n = jp_node(p, JN_BINOP, line);
        if (n) {
                n->op = op;
                n->a = a;
                n->b = b;
        }
        return n;
}

static struct jnode *parse_pow(struct parser *p) {
        struct jnode *n = parse_unary(p, true);
        while (n && jp_is_op(p, "**")) {
                unsigned line = jp_cur(p)->line;
                jp_advance(p);
                n = binop(p, OP_POW, n, parse_unary(p, true), line);
        }
        return n;
}

static struct jnode *parse_math2(struct parser *p) {
        struct jnode *n = parse_pow(p);
        for (;;) {
                int op = jp_is_op(p, "*") ? OP_MUL : jp_is_op(p, "/") ? OP_DIV : jp_is_op(p, "//") ? OP_FLOORDIV : jp_is_op(p, "%") ? OP_MOD : 0;
                if (!n || !op)
                        return n;
                unsigned line = jp_cur(p)->line;
                jp_advance(p);
                n = binop(p, op, n, parse_pow(p), line);
        }
}

static struct jnode *parse_concat(struct parser *p) {
        unsigned line = jp_cur(p)->line;
        struct jnode *n = parse_math2(p);
        if (!n || !jp_is_op(p, "~"))
                return n;
        struct nvec items = {0};
        if (jp_nvec_push(p, &items, n) < 0)
                return NULL;
        while (jp_is_op(p, "~")) {
                jp_advance(p);
                struct jnode *x = parse_math2(p);
                if (!x || jp_nvec_push(p, &items, x) < 0)
                        return NULL;
        }
        if (!(n = jp_node(p, JN_CONCAT, line)))
                return NULL;
        n->kids = items.v;
        n->n_kids = items.n;
        return n;
}

static struct jnode *parse_math1(struct parser *p) {
        struct jnode *n = parse_concat(p);
        for (;;) {
                int op = jp_is_op(p, "+") ? OP_ADD : jp_is_op(p, "-") ? OP_SUB : 0;
                if (!n || !op)
                        return n;
                unsigned line = jp_cur(p)->line;
                jp_advance(p);
                n = binop(p, op, n, parse_concat(p), line);
        }
}

static struct jnode *parse_compare(struct parser *p) {
        unsigned line = jp_cur(p)->line;
        struct jnode *n = parse_math1(p);
        if (!n)
                return NULL;
        struct nvec kids = {0};
        int ops[64];
        size_t n_ops = 0;
        if (jp_nvec_push(p, &kids, n) < 0)
                return NULL;
        for (;;) {
                int op = 0;
                if (jp_is_op(p, "=="))
                        op = OP_EQ;
                else if (jp_is_op(p, "!="))
                        op = OP_NE;
                else if (jp_is_op(p, "<"))
                        op = OP_LT;
                else if (jp_is_op(p, "<="))
                        op = OP_LE;
                else if (jp_is_op(p, ">"))
                        op = OP_GT;
                else if (jp_is_op(p, ">="))
                        op = OP_GE;
                else if (jp_is_name(p, "in"))
                        op = OP_IN;
                else if (jp_is_name(p, "not") && jp_tok_is(jp_peek(p, 1), JT_NAME, "in")) {
                        op = OP_NOTIN;
                        jp_advance(p);
                }
                if (!op)
                        break;
                if (n_ops == ELEMENTSOF(ops))
                        return jp_perr(p, line, -E2BIG, "comparison chain too long"), NULL;
                jp_advance(p);
                struct jnode *x = parse_math1(p);
                if (!x || jp_nvec_push(p, &kids, x) < 0)
                        return NULL;
                ops[n_ops++] = op;
        }
        if (n_ops == 0)
                return n;
        struct jnode *c = jp_node(p, JN_COMPARE, line);
        if (!c || !(c->ops = arena_alloc(p->a, n_ops * sizeof(int))))
                return NULL;
        memcpy(c->ops, ops, n_ops * sizeof(int));
        c->kids = kids.v;
        c->n_kids = kids.n;
        return c;
}

static struct jnode *parse_not(struct parser *p) {
        if (jp_is_name(p, "not")) {
                unsigned line = jp_cur(p)->line;
                jp_advance(p);
                if (!jp_enter(p))
                        return NULL;
                struct jnode *x = parse_not(p), *n;
                p->depth--;
                if (!x || !(n = jp_node(p, JN_NOT, line)))
                        return NULL;
                n->a = x;
                return n;
        }
        return parse_compare(p);
}

static struct jnode *parse_and(struct parser *p) {
        struct jnode *n = parse_not(p);
        while (n && jp_is_name(p, "and")) {
                unsigned line = jp_cur(p)->line;
                jp_advance(p);
                struct jnode *b = parse_not(p), *x;
                if (!b || !(x = jp_node(p, JN_AND, line)))
                        return NULL;
                x->a = n;
                x->b = b;
                n = x;
        }
        return n;
}

static struct jnode *parse_or(struct parser *p) {
        struct jnode *n = parse_and(p);
        while (n && jp_is_name(p, "or")) {
                unsigned line = jp_cur(p)->line;
                jp_advance(p);
                struct jnode *b = parse_and(p), *x;
                if (!b || !(x = jp_node(p, JN_OR, line)))
                        return NULL;
                x->a = n;
                x->b = b;
                n = x;
        }
        return n;
}

struct jnode *jp_parse_expression(struct parser *p, bool with_condexpr) {
        if (!jp_enter(p))
                return NULL;
        struct jnode *n = parse_or(p);
        while (with_condexpr && n && jp_is_name(p, "if")) {
                unsigned line = jp_cur(p)->line;
                jp_advance(p);
                struct jnode *cond = parse_or(p), *other = NULL, *x;
                if (!cond)
                        return NULL;
                if (jp_is_name(p, "else")) {
                        jp_advance(p);
                        if (!(other = jp_parse_expression(p, true)))
                                return NULL;
                }
                if (!(x = jp_node(p, JN_COND, line)))
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
struct jnode *jp_parse_tuple(struct parser *p, bool with_condexpr, bool explicit_parens) {
        unsigned line = jp_cur(p)->line;
        struct nvec items = {0};
        bool comma = false;
        for (;;) {
                if (items.n) {
                        if (!jp_is_op(p, ","))
                                break;
                        jp_advance(p);
                        comma = true;
                }
                if (jp_is_op(p, ")") || jp_cur(p)->type == JT_VAR_END || jp_cur(p)->type == JT_BLOCK_END ||
                    (items.n && (jp_is_name(p, "if") || jp_is_name(p, "in"))))
                        break;
                struct jnode *x = jp_parse_expression(p, with_condexpr);
                if (!x || jp_nvec_push(p, &items, x) < 0)
                        return NULL;
        }
        if (items.n == 1 && !comma)
                return items.v[0];
        if (items.n == 0 && !explicit_parens) {
                char b[64];
                jp_perr(p, line, -EINVAL, "expected an expression, found %s", jp_describe(jp_cur(p), b, sizeof(b)));
                return NULL;
        }
        struct jnode *n = jp_node(p, JN_TUPLE, line);
        if (!n)
                return NULL;
        n->kids = items.v;
        n->n_kids = items.n;
        return n;
}

