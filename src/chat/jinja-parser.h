/* The Jinja parser's shared parts (jinja-parse.c: helpers and expressions;
 * jinja-parse-stmt.c: statements and the entry point). Internal to them. */
#pragma once

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

/* A growable array of node pointers in the arena. */
struct nvec {
        struct jnode **v;
        size_t n, cap;
};

int jp_perr(struct parser *p, unsigned line, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct jtok *jp_cur(struct parser *p);
struct jtok *jp_peek(struct parser *p, size_t k);
void jp_advance(struct parser *p);
bool jp_tok_is(const struct jtok *t, enum jtok_type type, const char *s);
bool jp_is_op(struct parser *p, const char *s);
bool jp_is_name(struct parser *p, const char *s);
const char *jp_describe(const struct jtok *t, char *buf, size_t size);
int jp_expect_op(struct parser *p, const char *s);
int jp_expect_type(struct parser *p, enum jtok_type type, const char *what);
struct jnode *jp_node(struct parser *p, enum jn_kind kind, unsigned line);
int jp_nvec_push(struct parser *p, struct nvec *v, struct jnode *x);
bool jp_enter(struct parser *p);
int jp_parse_call_args(struct parser *p, struct jnode *n);
struct jnode *jp_parse_expression(struct parser *p, bool with_condexpr);
struct jnode *jp_parse_tuple(struct parser *p, bool with_condexpr, bool explicit_parens);
