/* A Jinja2-subset interpreter, just big enough to render the chat templates
 * that models ship in tokenizer.chat_template, byte for byte as Hugging Face
 * renders them: ImmutableSandboxedEnvironment with trim_blocks and
 * lstrip_blocks on, loopcontrols, raise_exception, strftime_now, and the
 * json.dumps-based tojson filter.
 *
 * Anything outside the subset fails with an error naming the construct and
 * its line; nothing is silently skipped. Hostile templates are bounded:
 * nesting depth, evaluation steps, memory and output size are all capped. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "util/util.h"

struct jinja_template;

/* Limits against hostile templates. Zero fields take the defaults below. */
struct jinja_limits {
        size_t max_output;   /* bytes of rendered text */
        size_t max_memory;   /* bytes of values allocated while rendering */
        uint64_t max_steps;  /* expression evaluations + loop iterations */
        unsigned max_depth;  /* nesting of expressions, statements and macro calls */
};

#define JINJA_DEFAULT_MAX_OUTPUT (64u << 20)
#define JINJA_DEFAULT_MAX_MEMORY (512u << 20)
#define JINJA_DEFAULT_MAX_STEPS 50000000ull
#define JINJA_DEFAULT_MAX_DEPTH 500u

/* Parses template source (UTF-8, len bytes, NULs refused). On failure *ret is
 * untouched and err names the line and the construct. */
int jinja_parse(const char *src, size_t len, struct jinja_template **ret, struct vkinfer_err *err);

/* Accepts NULL. */
void jinja_template_free(struct jinja_template *t);

/* A template variable: its value is only read, never referenced or changed,
 * so the same JSON may be rendered from several threads at once. */
struct jinja_var {
        const char *name;
        json_t *value;
};

/* Renders with the variables vars[0..n_vars) (a later one of the same name
 * wins). date_override, when non-NULL, is "YYYY-MM-DD" and
 * fixes what strftime_now() sees; otherwise the local time is used.
 * limits may be NULL. *ret is malloc'd and NUL-terminated; *ret_len (may be
 * NULL) is its length, which tells a NUL the template wrote itself. */
int jinja_render(const struct jinja_template *t, const struct jinja_var *vars, size_t n_vars, const char *date_override,
                 const struct jinja_limits *limits, char **ret, size_t *ret_len,
                 struct vkinfer_err *err);
