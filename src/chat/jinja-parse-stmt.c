/* The Jinja parser, statements: {% for %}, {% if %}, {% set %}, {% macro %},
 * {% with %}, {% filter %}, and the template body; jinja_parse itself. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chat/jinja-parser.h"

static struct jnode *parse_body(struct parser *p, const char *const *ends);

static int expect_block_end(struct parser *p) {
        return jp_expect_type(p, JT_BLOCK_END, "'%}'");
}

/* Assignment target: name, ns.attr, or a tuple of names. */
static struct jnode *parse_target(struct parser *p, bool allow_attr) {
        unsigned line = jp_cur(p)->line;
        struct nvec names = {0};
        bool parens = jp_is_op(p, "(");
        if (parens)
                jp_advance(p);
        for (;;) {
                struct jtok *t = jp_cur(p);
                if (t->type != JT_NAME) {
                        jp_expect_type(p, JT_NAME, "a variable name");
                        return NULL;
                }
                struct jnode *n = jp_node(p, JN_NAME, t->line);
                if (!n)
                        return NULL;
                n->name = arena_strndup(p->a, t->s, t->n);
                n->name_len = t->n;
                jp_advance(p);
                if (allow_attr && names.n == 0 && jp_is_op(p, ".")) {
                        jp_advance(p);
                        struct jtok *at = jp_cur(p);
                        if (at->type != JT_NAME) {
                                jp_expect_type(p, JT_NAME, "an attribute name");
                                return NULL;
                        }
                        struct jnode *a = jp_node(p, JN_ATTR, at->line);
                        if (!a)
                                return NULL;
                        a->a = n;
                        a->name = arena_strndup(p->a, at->s, at->n);
                        a->name_len = at->n;
                        jp_advance(p);
                        return a;
                }
                if (jp_nvec_push(p, &names, n) < 0)
                        return NULL;
                if (!jp_is_op(p, ","))
                        break;
                jp_advance(p);
        }
        if (parens && jp_expect_op(p, ")") < 0)
                return NULL;
        if (names.n == 1 && !parens)
                return names.v[0];
        struct jnode *n = jp_node(p, JN_TUPLE, line);
        if (!n)
                return NULL;
        n->kids = names.v;
        n->n_kids = names.n;
        return n;
}

static struct jnode *parse_for(struct parser *p, unsigned line) {
        struct jnode *n = jp_node(p, JN_FOR, line);
        if (!n || !(n->a = parse_target(p, false)))
                return NULL;
        if (!jp_is_name(p, "in")) {
                jp_expect_type(p, JT_EOF, "'in'");
                return NULL;
        }
        jp_advance(p);
        if (!(n->b = jp_parse_tuple(p, false, false)))
                return NULL;
        if (jp_is_name(p, "if")) {
                jp_advance(p);
                if (!(n->c = jp_parse_expression(p, true)))
                        return NULL;
        }
        if (jp_is_name(p, "recursive")) {
                jp_perr(p, line, -EINVAL, "unsupported construct: recursive for loops");
                return NULL;
        }
        if (expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"endfor", "else", NULL};
        if (!(n->d = parse_body(p, ends)))
                return NULL;
        if (jp_is_name(p, "else")) {
                jp_advance(p);
                if (expect_block_end(p) < 0)
                        return NULL;
                static const char *const ends2[] = {"endfor", NULL};
                if (!(n->e = parse_body(p, ends2)))
                        return NULL;
        }
        jp_advance(p); /* endfor */
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_if(struct parser *p, unsigned line) {
        struct jnode *n = jp_node(p, JN_IF, line);
        if (!n || !(n->a = jp_parse_tuple(p, true, false)) || expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"elif", "else", "endif", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        if (jp_is_name(p, "elif")) {
                unsigned l2 = jp_cur(p)->line;
                jp_advance(p);
                /* The nested if consumes the final endif. */
                n->c = parse_if(p, l2);
                return n->c ? n : NULL;
        }
        if (jp_is_name(p, "else")) {
                jp_advance(p);
                if (expect_block_end(p) < 0)
                        return NULL;
                static const char *const ends2[] = {"endif", NULL};
                if (!(n->c = parse_body(p, ends2)))
                        return NULL;
        }
        jp_advance(p); /* endif */
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_set(struct parser *p, unsigned line) {
        struct jnode *target = parse_target(p, true);
        if (!target)
                return NULL;
        if (jp_is_op(p, "=")) {
                jp_advance(p);
                struct jnode *n = jp_node(p, JN_SET, line);
                if (!n || !(n->b = jp_parse_tuple(p, true, false)) || expect_block_end(p) < 0)
                        return NULL;
                n->a = target;
                return n;
        }
        if (jp_is_op(p, "|")) {
                jp_perr(p, line, -EINVAL, "unsupported construct: filtered {%% set %%} block");
                return NULL;
        }
        if (expect_block_end(p) < 0)
                return NULL;
        struct jnode *n = jp_node(p, JN_SET_BLOCK, line);
        static const char *const ends[] = {"endset", NULL};
        if (!n || !(n->b = parse_body(p, ends)))
                return NULL;
        jp_advance(p);
        n->a = target;
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_macro(struct parser *p, unsigned line) {
        struct jnode *n = jp_node(p, JN_MACRO, line);
        if (!n)
                return NULL;
        if (jp_cur(p)->type != JT_NAME) {
                jp_expect_type(p, JT_NAME, "a macro name");
                return NULL;
        }
        n->name = arena_strndup(p->a, jp_cur(p)->s, jp_cur(p)->n);
        n->name_len = jp_cur(p)->n;
        jp_advance(p);
        if (jp_expect_op(p, "(") < 0)
                return NULL;
        struct nvec params = {0}, defs = {0};
        while (!jp_is_op(p, ")")) {
                if (params.n && jp_expect_op(p, ",") < 0)
                        return NULL;
                if (jp_cur(p)->type != JT_NAME) {
                        jp_expect_type(p, JT_NAME, "a parameter name");
                        return NULL;
                }
                struct jnode *pn = jp_node(p, JN_NAME, jp_cur(p)->line);
                if (!pn)
                        return NULL;
                pn->name = arena_strndup(p->a, jp_cur(p)->s, jp_cur(p)->n);
                pn->name_len = jp_cur(p)->n;
                jp_advance(p);
                struct jnode *def = NULL;
                if (jp_is_op(p, "=")) {
                        jp_advance(p);
                        if (!(def = jp_parse_expression(p, true)))
                                return NULL;
                } else if (defs.n && defs.v[defs.n - 1]) {
                        jp_perr(p, line, -EINVAL, "non-default macro argument follows default argument");
                        return NULL;
                }
                if (jp_nvec_push(p, &params, pn) < 0 || jp_nvec_push(p, &defs, def) < 0)
                        return NULL;
        }
        jp_advance(p);
        if (expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"endmacro", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        jp_advance(p);
        n->kids = params.v;
        n->n_kids = params.n;
        n->kw_vals = defs.v;
        return expect_block_end(p) < 0 ? NULL : n;
}

/* {% with a = 1, b = x %} ... {% endwith %} */
static struct jnode *parse_with(struct parser *p, unsigned line) {
        struct jnode *n = jp_node(p, JN_WITH, line);
        struct nvec names = {0}, vals = {0};
        if (!n)
                return NULL;
        while (!(jp_cur(p)->type == JT_BLOCK_END)) {
                if (names.n && jp_expect_op(p, ",") < 0)
                        return NULL;
                struct jtok *t = jp_cur(p);
                if (t->type != JT_NAME) {
                        jp_expect_type(p, JT_NAME, "a variable name");
                        return NULL;
                }
                struct jnode *target = jp_node(p, JN_NAME, t->line);
                if (!target)
                        return NULL;
                target->name = arena_strndup(p->a, t->s, t->n);
                target->name_len = t->n;
                jp_advance(p);
                struct jnode *v;
                if (jp_expect_op(p, "=") < 0 || !(v = jp_parse_expression(p, true)) || jp_nvec_push(p, &names, target) < 0 ||
                    jp_nvec_push(p, &vals, v) < 0)
                        return NULL;
        }
        jp_advance(p);
        static const char *const ends[] = {"endwith", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        jp_advance(p);
        n->kids = names.v;
        n->n_kids = names.n;
        n->kw_vals = vals.v;
        return expect_block_end(p) < 0 ? NULL : n;
}

/* {% filter upper|replace('a', 'b') %} ... {% endfilter %} */
static struct jnode *parse_filter_block(struct parser *p, unsigned line) {
        struct jnode *n = jp_node(p, JN_FILTER_BLOCK, line);
        struct nvec chain = {0};
        if (!n)
                return NULL;
        do {
                if (chain.n)
                        jp_advance(p); /* the '|' */
                struct jtok *t = jp_cur(p);
                if (t->type != JT_NAME) {
                        jp_expect_type(p, JT_NAME, "a filter name");
                        return NULL;
                }
                int id = jinja_filter_lookup(t->s, t->n);
                if (id < 0) {
                        jp_perr(p, line, -EINVAL, "unsupported filter '%.*s'", (int) t->n, t->s);
                        return NULL;
                }
                struct jnode *f = jp_node(p, JN_FILTER, t->line);
                if (!f)
                        return NULL;
                f->op = id;
                f->name = arena_strndup(p->a, t->s, t->n);
                f->name_len = t->n;
                jp_advance(p);
                if (jp_is_op(p, "(") && jp_parse_call_args(p, f) < 0)
                        return NULL;
                if (jp_nvec_push(p, &chain, f) < 0)
                        return NULL;
        } while (jp_is_op(p, "|"));
        if (expect_block_end(p) < 0)
                return NULL;
        static const char *const ends[] = {"endfilter", NULL};
        if (!(n->b = parse_body(p, ends)))
                return NULL;
        jp_advance(p);
        n->kids = chain.v;
        n->n_kids = chain.n;
        return expect_block_end(p) < 0 ? NULL : n;
}

static struct jnode *parse_statement(struct parser *p) {
        struct jtok *t = jp_cur(p);
        unsigned line = t->line;
        if (t->type != JT_NAME) {
                char b[64];
                jp_perr(p, line, -EINVAL, "expected a tag name after '{%%', found %s", jp_describe(t, b, sizeof(b)));
                return NULL;
        }
        if (!jp_enter(p))
                return NULL;
        struct jnode *n = NULL;
        jp_advance(p);
        if (jp_tok_is(t, JT_NAME, "for"))
                n = parse_for(p, line);
        else if (jp_tok_is(t, JT_NAME, "if"))
                n = parse_if(p, line);
        else if (jp_tok_is(t, JT_NAME, "set"))
                n = parse_set(p, line);
        else if (jp_tok_is(t, JT_NAME, "macro"))
                n = parse_macro(p, line);
        else if (jp_tok_is(t, JT_NAME, "break") || jp_tok_is(t, JT_NAME, "continue")) {
                if ((n = jp_node(p, jp_tok_is(t, JT_NAME, "break") ? JN_BREAK : JN_CONTINUE, line)) && expect_block_end(p) < 0)
                        n = NULL;
        } else if (jp_tok_is(t, JT_NAME, "with")) {
                n = parse_with(p, line);
        } else if (jp_tok_is(t, JT_NAME, "filter")) {
                n = parse_filter_block(p, line);
        } else if (jp_tok_is(t, JT_NAME, "generation")) {
                /* transformers' AssistantTracker: renders its body unchanged. */
                static const char *const ends[] = {"endgeneration", NULL};
                if (expect_block_end(p) >= 0 && (n = parse_body(p, ends))) {
                        jp_advance(p);
                        if (expect_block_end(p) < 0)
                                n = NULL;
                }
        } else {
                static const char *const ends[] = {"endfor", "endif", "endset", "endmacro", "else", "elif", "endgeneration",
                                                   "endwith", "endfilter", NULL};
                for (size_t i = 0; ends[i]; i++)
                        if (jp_tok_is(t, JT_NAME, ends[i])) {
                                jp_perr(p, line, -EINVAL, "unexpected '{%% %s %%}' with no open block it could close", ends[i]);
                                return NULL;
                        }
                jp_perr(p, line, -EINVAL, "unsupported construct: '{%% %.*s %%}' tag", (int) (t->n > 40 ? 40 : t->n), t->s);
                return NULL;
        }
        p->depth--;
        return n;
}

/* Statements until a {% NAME %} with NAME in ends (NULL: end of template);
 * stops with the NAME token current. */
static struct jnode *parse_body(struct parser *p, const char *const *ends) {
        unsigned line = jp_cur(p)->line;
        struct jnode *body = jp_node(p, JN_BODY, line);
        struct nvec kids = {0};
        if (!body)
                return NULL;
        for (;;) {
                struct jtok *t = jp_cur(p);
                struct jnode *n = NULL;
                if (t->type == JT_EOF) {
                        if (ends) {
                                const char *closer = ends[0];
                                for (size_t i = 0; ends[i]; i++)
                                        if (strncmp(ends[i], "end", 3) == 0)
                                                closer = ends[i];
                                jp_perr(p, t->line, -EINVAL, "unexpected end of template: a block opened on line %u needs '{%% %s %%}'",
                                     line, closer);
                                return NULL;
                        }
                        break;
                }
                if (t->type == JT_DATA) {
                        if (!(n = jp_node(p, JN_TEXT, t->line)))
                                return NULL;
                        n->name = t->s;
                        n->name_len = t->n;
                        jp_advance(p);
                } else if (t->type == JT_VAR_BEGIN) {
                        jp_advance(p);
                        if (!(n = jp_node(p, JN_OUTPUT, t->line)) || !(n->a = jp_parse_tuple(p, true, false)))
                                return NULL;
                        if (jp_expect_type(p, JT_VAR_END, "'}}'") < 0)
                                return NULL;
                } else if (t->type == JT_BLOCK_BEGIN) {
                        struct jtok *name = jp_peek(p, 1);
                        if (ends)
                                for (size_t i = 0; ends[i]; i++)
                                        if (jp_tok_is(name, JT_NAME, ends[i])) {
                                                jp_advance(p);
                                                goto done;
                                        }
                        jp_advance(p);
                        if (!(n = parse_statement(p)))
                                return NULL;
                } else {
                        char b[64];
                        jp_perr(p, t->line, -EINVAL, "unexpected %s", jp_describe(t, b, sizeof(b)));
                        return NULL;
                }
                if (jp_nvec_push(p, &kids, n) < 0)
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
