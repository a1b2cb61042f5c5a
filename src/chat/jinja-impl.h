/* Internals of the Jinja interpreter shared by jinja-*.c: the arena, the
 * value type, the AST, and the render context. Not a public API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/jinja.h"

/* ---- Arena: every parse-time and render-time object lives in one, freed
 * all at once. A cap turns runaway templates into an error, not an OOM. */
struct arena_chunk;
struct arena {
        struct arena_chunk *head;
        size_t used, limit; /* bytes handed out so far, and the cap (0: none) */
        bool exhausted;
};
void *arena_alloc(struct arena *a, size_t size); /* zeroed; NULL when over the cap */
void arena_free_all(struct arena *a);
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* ---- Values: immutable once built, except namespaces (set ns.x = ...). */
enum jv_type {
        JV_UNDEF, /* s = the name that was missing, for messages */
        JV_NONE,
        JV_BOOL,
        JV_INT,
        JV_FLOAT,
        JV_STR,
        JV_LIST, /* also tuples (is_tuple) */
        JV_DICT,
        JV_NS,   /* namespace(): a dict whose attributes can be set */
        JV_LOOP, /* the `loop` variable of a for */
        JV_FUNC, /* a global function or a bound method */
        JV_MACRO,
};

struct jdict;
struct jloop;
struct jnode;

struct jv {
        enum jv_type t;
        bool is_tuple;
        /* A lazy result of select/map/items/...: one pass, always true, no
         * len(), not printable; modelled as a list with these flags. */
        bool is_gen, consumed;
        /* dict.keys()/values()/items(): a list that prints as dict_keys([...])
         * and so on, and equals no list. */
        uint8_t view;
        union {
                bool b;
                int64_t i;
                double f;
                struct {
                        const char *p;
                        size_t n;
                } s;
                struct {
                        struct jv **v;
                        size_t n;
                } l;
                struct jdict *d;
                struct jloop *loop;
                struct {
                        int id;            /* enum jfunc */
                        struct jv *self;   /* bound object for methods, else NULL */
                        const char *name;
                } fn;
                struct {
                        const struct jnode *node;
                        struct jframe *frame; /* where it was defined */
                } macro;
        };
};

struct jdict {
        struct jv **keys, **vals;
        size_t n, cap;
};

struct jloop {
        struct jv *items; /* JV_LIST being iterated */
        size_t index0;
        struct jv *last_changed; /* loop.changed()'s previous arguments, or NULL */
};

/* ---- AST */
enum jn_kind {
        /* statements */
        JN_BODY,     /* kids: statements */
        JN_TEXT,     /* name/name_len: literal text */
        JN_OUTPUT,   /* a: expression */
        JN_IF,       /* a: cond, b: then (BODY), c: else (BODY or IF) */
        JN_FOR,      /* a: target, b: iterable, c: filter cond, d: body, e: else body */
        JN_SET,      /* a: target, b: value */
        JN_SET_BLOCK, /* a: target, b: body */
        JN_MACRO,    /* name, kids: parameter NAMEs, kw_vals: defaults (NULL for none), b: body */
        JN_BREAK,
        JN_CONTINUE,
        JN_WITH,     /* kids: target NAMEs, kw_vals: their values, b: body */
        JN_FILTER_BLOCK, /* kids: JN_FILTERs with no input, applied in order to b's output */
        /* expressions */
        JN_CONST,    /* val */
        JN_NAME,     /* name */
        JN_ATTR,     /* a.name */
        JN_ITEM,     /* a[b] */
        JN_SLICE,    /* a[b:c:d], each of b/c/d may be NULL */
        JN_CALL,     /* a(kids..., kw...) */
        JN_FILTER,   /* a | name(kids..., kw...); op: filter id */
        JN_TEST,     /* a is [not] name(kids...); op: test id, negate */
        JN_BINOP,    /* a op b */
        JN_NEG,      /* -a */
        JN_POS,      /* +a */
        JN_NOT,      /* not a */
        JN_AND,
        JN_OR,
        JN_COND,     /* b if a else c (c may be NULL) */
        JN_COMPARE,  /* kids[0] ops[0] kids[1] ops[1] kids[2] ... */
        JN_LIST,
        JN_TUPLE,
        JN_DICTLIT,  /* kids: keys, kw_vals: values (n_kids of each) */
        JN_CONCAT,   /* kids joined with ~ */
};

enum jn_op {
        OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW,
        OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
};

struct jnode {
        enum jn_kind kind;
        int op;
        bool negate;
        unsigned line;
        struct jnode *a, *b, *c, *d, *e;
        struct jnode **kids;
        size_t n_kids;
        const char **kw_names; /* keyword argument names, n_kw of them */
        struct jnode **kw_vals;
        size_t n_kw;
        int *ops; /* JN_COMPARE: n_kids - 1 operators */
        const char *name;
        size_t name_len;
        struct jv *val;
};

struct jinja_template {
        struct arena arena;
        struct jnode *root;
};

/* ---- Lexer (jinja-lex.c) */
enum jtok_type {
        JT_EOF,
        JT_DATA,
        JT_VAR_BEGIN,
        JT_VAR_END,
        JT_BLOCK_BEGIN,
        JT_BLOCK_END,
        JT_NAME,
        JT_STRING,  /* unescaped value in s/n */
        JT_INT,
        JT_FLOAT,
        JT_OP,      /* s/n: the operator text */
};

struct jtok {
        enum jtok_type type;
        unsigned line;
        const char *s;
        size_t n;
        int64_t i;
        double f;
};

/* Checks source (valid UTF-8, no NUL) and normalizes it as Jinja does:
 * \r\n and \r read as \n, one trailing newline dropped. */
int jinja_normalize(struct arena *a, const char *src, size_t len, char **ret, size_t *ret_n, struct vkinfer_err *err);
/* Splits normalized source into tokens (arena-allocated array). */
int jinja_lex(struct arena *a, const char *src, size_t len, struct jtok **ret, size_t *ret_n,
              struct vkinfer_err *err);

/* ---- Builtins (jinja-builtins.c) */
enum jfunc {
        JF_NONE = 0,
        /* globals */
        JF_NAMESPACE, JF_RANGE, JF_DICT, JF_RAISE_EXCEPTION, JF_STRFTIME_NOW, JF_LOOP_CYCLE, JF_LOOP_CHANGED,
        /* str methods */
        JF_S_SPLIT, JF_S_RSPLIT, JF_S_STARTSWITH, JF_S_ENDSWITH, JF_S_STRIP, JF_S_LSTRIP,
        JF_S_RSTRIP, JF_S_LOWER, JF_S_UPPER, JF_S_REPLACE, JF_S_FIND, JF_S_RFIND, JF_S_COUNT,
        JF_S_TITLE, JF_S_CAPITALIZE, JF_S_JOIN, JF_S_SPLITLINES, JF_S_ISDIGIT, JF_S_ISSPACE,
        JF_S_ISALPHA, JF_S_ISALNUM, JF_S_ISUPPER, JF_S_ISLOWER, JF_S_INDEX, JF_S_ISDECIMAL,
        JF_S_ISNUMERIC, JF_S_ISASCII,
        /* dict methods */
        JF_D_ITEMS, JF_D_KEYS, JF_D_VALUES, JF_D_GET,
        /* list methods (read-only) */
        JF_L_INDEX, JF_L_COUNT,
};

/* Filter and test ids are indexes into tables; -1 when unknown. */
int jinja_filter_lookup(const char *name, size_t n);
int jinja_test_lookup(const char *name, size_t n);
/* The method id of `name` on a value of type t; JF_NONE when there is none. */
int jinja_method_lookup(enum jv_type t, const char *name, size_t n);
/* Global functions; JF_NONE when unknown. */
int jinja_global_lookup(const char *name, size_t n);

/* ---- Render context (jinja-eval.c) */
struct jframe {
        struct jframe *parent;
        const char **names;
        size_t *name_lens;
        struct jv **vals;
        size_t n, cap;
        bool captured; /* a macro defined here holds on to it */
};

struct jctx {
        struct arena arena;     /* every value of this rendering; capped */
        struct jframe *frame;   /* the current scope */
        struct jframe *top;     /* the template's scope, holding the caller's variables */
        size_t out_limit;       /* cap on the output and on any one string */
        uint64_t steps, step_limit;
        unsigned depth, depth_limit;
        int loopctl; /* 0, 1 = break, 2 = continue */
        bool failed;
        const char *date_override;
        struct vkinfer_err *err;
};

/* Sets the error (first one wins) and returns -EINVAL-like codes. */
int jerr(struct jctx *c, unsigned line, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Value constructors (arena; NULL on memory cap, with the error set). */
struct jv *jv_new(struct jctx *c, enum jv_type t);
struct jv *jv_str(struct jctx *c, const char *p, size_t n); /* copies */
struct jv *jv_str_nocopy(struct jctx *c, const char *p, size_t n);
struct jv *jv_int(struct jctx *c, int64_t i);
struct jv *jv_float(struct jctx *c, double f);
struct jv *jv_bool(struct jctx *c, bool b);
struct jv *jv_list(struct jctx *c, size_t n); /* n NULL slots to fill */
struct jv *jv_dict(struct jctx *c);
int jv_dict_set(struct jctx *c, struct jv *d, struct jv *key, struct jv *val);
struct jv *jv_dict_get(const struct jv *d, const char *key, size_t n);
struct jv *jv_dict_get_v(const struct jv *d, const struct jv *key);
enum { JV_VIEW_NONE, JV_VIEW_KEYS, JV_VIEW_VALUES, JV_VIEW_ITEMS };
struct jv *jv_undef(struct jctx *c, const char *name, size_t n);
/* An undefined value whose message (used when it is misused) is formatted. */
struct jv *jv_undef_fmt(struct jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An undefined value used where a value is needed: Jinja's UndefinedError.
 * Sets the error and returns NULL. */
struct jv *jv_undef_fail(struct jctx *c, unsigned line, const struct jv *v);
extern struct jv jv_none_s, jv_true_s, jv_false_s;

bool jv_truthy(const struct jv *v);
bool jv_equal(const struct jv *a, const struct jv *b);
/* <0, 0, >0; -EINVAL-style failure reported through ok=false. */
int jv_compare(const struct jv *a, const struct jv *b, bool *ok);
const char *jv_type_name(const struct jv *v);
struct jv *jv_from_json(struct jctx *c, json_t *j);

/* A growable string in the render arena. */
struct jbuf {
        char *p;
        size_t n, cap;
};
int jbuf_put(struct jctx *c, struct jbuf *b, const char *s, size_t n);
int jbuf_putc(struct jctx *c, struct jbuf *b, char ch);
/* str(v) as Python prints it (for {{ }}, ~, |string). */
int jv_to_str(struct jctx *c, struct jbuf *b, const struct jv *v, unsigned line);
/* repr(v): inside lists and dicts. */
int jv_repr(struct jctx *c, struct jbuf *b, const struct jv *v, unsigned line);
/* json.dumps(v, ensure_ascii=False, indent=indent (<0: None), sort_keys). */
int jv_to_json(struct jctx *c, struct jbuf *b, const struct jv *v, int indent, bool sort_keys,
               const char *item_sep, const char *key_sep, int level, unsigned line);
void fmt_py_float(double f, char *buf, size_t size);

/* UTF-8 helpers (Python strings count code points). */
size_t utf8_len(const char *s, size_t n);
/* Decodes one code point at s (n bytes left); returns its byte length, at least 1. */
size_t utf8_next(const char *s, size_t n, uint32_t *cp);
size_t utf8_encode(uint32_t cp, char out[4]);
bool py_isspace(uint32_t cp);

/* Evaluation entry points used by jinja-builtins.c. */
struct jv *jinja_call_filter(struct jctx *c, const struct jnode *n, struct jv *in, struct jv **args,
                             size_t n_args, const char **kw_names, struct jv **kw_vals, size_t n_kw);
int jinja_run_test(struct jctx *c, const struct jnode *n, int test, struct jv *v, struct jv **args,
                   size_t n_args, bool *ret);
struct jv *jinja_call_func(struct jctx *c, const struct jnode *n, struct jv *fn, struct jv **args,
                           size_t n_args, const char **kw_names, struct jv **kw_vals, size_t n_kw);
struct jv *jinja_getattr(struct jctx *c, unsigned line, struct jv *obj, const char *name, size_t n);
struct jv *jinja_getitem(struct jctx *c, unsigned line, struct jv *obj, struct jv *key);
/* Iteration: materializes v into a list (strings into characters, dicts into keys). */
struct jv *jinja_iter_list(struct jctx *c, unsigned line, struct jv *v);
int jinja_step(struct jctx *c, unsigned line);

/* ---- Shared helpers of the builtins and filters (jinja-strings.c) */
struct args {
        struct jv **pos;
        size_t n_pos;
        const char **kw_names;
        struct jv **kw_vals;
        size_t n_kw;
};
/* Positional i, else keyword `name`, else NULL. */
struct jv *jarg(const struct args *a, size_t i, const char *name);
/* Fails on more than max_pos positionals or a keyword not in kw_ok. */
int jcheck_args(struct jctx *c, unsigned line, const char *what, const struct args *a, size_t max_pos,
               const char *const *kw_ok);
struct jv *jneed_str(struct jctx *c, unsigned line, struct jv *v, const char *what);
bool jneed_int(struct jctx *c, unsigned line, struct jv *v, const char *what, int64_t *ret);
struct jv *jto_str(struct jctx *c, unsigned line, struct jv *v);
/* str.strip/lstrip/rstrip; chars NULL strips whitespace. */
struct jv *jstr_strip(struct jctx *c, struct jv *s, const struct jv *chars, bool left, bool right);
char jascii_lower(char ch);
char jascii_upper(char ch);
bool jascii_alpha(char ch);
enum casemode { CASE_LOWER, CASE_UPPER, CASE_TITLE, CASE_CAPITALIZE };
struct jv *jstr_case(struct jctx *c, struct jv *s, enum casemode mode);
/* Whether a code point is an upper (lower) case letter. */
bool jchar_is_upper(uint32_t cp);
bool jchar_is_lower(uint32_t cp);
bool jchar_is_title(uint32_t cp);
/* Python's character classes (str.isalpha() etc.) for one code point. */
enum jchar_class { JC_UNPRINTABLE, JC_ALPHA, JC_DECIMAL, JC_DIGIT, JC_NUMERIC };
bool jchar_class(enum jchar_class cls, uint32_t cp);
/* Appends to a list built in place; *cap tracks its storage. */
struct jv *jlist_push(struct jctx *c, struct jv *l, size_t *cap, struct jv *item);
struct jv *jstr_split(struct jctx *c, unsigned line, struct jv *s, struct jv *sep, int64_t maxsplit, bool from_right);
struct jv *jstr_replace(struct jctx *c, unsigned line, struct jv *s, struct jv *old, struct jv *new_, int64_t count);
/* Code point index of the first (last) sub in s, or -1. */
int64_t jstr_find(const struct jv *s, const struct jv *sub, bool from_right);
bool jstr_affix(const struct jv *s, const struct jv *x, bool suffix);
/* sep.join(str(x) for x in seq), optionally of attribute attr; strict
 * refuses non-strings as str.join does. */
struct jv *jstr_join(struct jctx *c, unsigned line, struct jv *seq, struct jv *sep, struct jv *attr, bool strict);
/* Python's `fmt % args` (args: a tuple, or one value). */
struct jv *jstr_percent(struct jctx *c, unsigned line, struct jv *fmt, struct jv *args);
