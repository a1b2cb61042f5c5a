/* Chat templates: the public API over the Jinja interpreter, and family
 * recognition by the template's text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat-template.h"
#include "chat/jinja.h"

struct chat_template {
        struct jinja_template *tpl;
        enum chat_family family;
};

static bool has(const char *s, const char *needle) {
        return strstr(s, needle) != NULL;
}

enum chat_family chat_template_detect(const char *src) {
        if (!src)
                return CHAT_FAMILY_UNKNOWN;
        if (has(src, "<｜User｜>") && has(src, "<｜Assistant｜>")) {
                /* V3.1 closes an empty reasoning block itself when not thinking. */
                if (has(src, "<think></think>"))
                        return CHAT_FAMILY_DEEPSEEK_V3_1;
                /* R1 and its distills open the reply with "<think>\n", or (later
                 * R1 revisions) at least drop earlier turns' reasoning. */
                if (has(src, "<｜Assistant｜><think>\\n") || has(src, "<｜Assistant｜><think>\n") ||
                    has(src, ".split('</think>')")) {
                        if (has(src, "is_first_sp"))
                                return CHAT_FAMILY_DEEPSEEK_R1;
                        if (has(src, "message['content'] is none"))
                                return CHAT_FAMILY_R1_DISTILL_LLAMA;
                        return CHAT_FAMILY_R1_DISTILL_QWEN;
                }
                return CHAT_FAMILY_DEEPSEEK_V3;
        }
        if (has(src, "<|im_start|>") && has(src, "<|im_end|>"))
                return CHAT_FAMILY_CHATML;
        if (has(src, "<|start_header_id|>") && has(src, "<|end_header_id|>"))
                return CHAT_FAMILY_LLAMA3;
        return CHAT_FAMILY_UNKNOWN;
}

const char *chat_family_name(enum chat_family f) {
        switch (f) {
        case CHAT_FAMILY_DEEPSEEK_V3: return "deepseek-v3";
        case CHAT_FAMILY_DEEPSEEK_R1: return "deepseek-r1";
        case CHAT_FAMILY_DEEPSEEK_V3_1: return "deepseek-v3.1";
        case CHAT_FAMILY_CHATML: return "chatml";
        case CHAT_FAMILY_R1_DISTILL_QWEN: return "r1-distill-qwen";
        case CHAT_FAMILY_R1_DISTILL_LLAMA: return "r1-distill-llama";
        case CHAT_FAMILY_LLAMA3: return "llama3";
        case CHAT_FAMILY_UNKNOWN: break;
        }
        return "unknown";
}

int chat_template_new(const char *template_src, struct chat_template **ret, struct vkinfer_err *err) {
        if (!template_src)
                return err_set(err, -EINVAL, "chat template: none given");
        struct chat_template *t = calloc(1, sizeof(*t));
        if (!t)
                return err_set(err, -ENOMEM, "chat template: out of memory");
        int r = jinja_parse(template_src, strlen(template_src), &t->tpl, err);
        if (r < 0) {
                free(t);
                return r;
        }
        t->family = chat_template_detect(template_src);
        *ret = t;
        return 0;
}

struct chat_template *chat_template_free(struct chat_template *t) {
        if (t) {
                jinja_template_free(t->tpl);
                free(t);
        }
        return NULL;
}

enum chat_family chat_template_family(const struct chat_template *t) {
        return t ? t->family : CHAT_FAMILY_UNKNOWN;
}

/* The variables transformers passes: messages, tools and documents (None
 * unless given), add_generation_prompt, the special tokens, then the
 * caller's extras (which may override all of these). The caller's JSON is
 * only read, so concurrent renderings may share it. */
int chat_template_apply(const struct chat_template *t, json_t *messages, const struct chat_render_opts *opts,
                        char **ret, struct vkinfer_err *err) {
        if (!json_is_array(messages))
                return err_set(err, -EINVAL, "chat template: messages must be a JSON array");
        size_t n_extra = opts ? opts->n_vars : 0, n = 0;
        struct jinja_var *vars = calloc(n_extra + 6, sizeof(*vars));
        json_t **owned = calloc(n_extra + 6, sizeof(*owned));
        size_t n_owned = 0;
        int r = vars && owned ? 0 : -ENOMEM;
        if (r >= 0) {
                vars[n++] = (struct jinja_var){"messages", messages};
                owned[n_owned++] = json_null();
                vars[n++] = (struct jinja_var){"tools", owned[n_owned - 1]};
                vars[n++] = (struct jinja_var){"documents", owned[n_owned - 1]};
                owned[n_owned++] = json_boolean(opts && opts->add_generation_prompt);
                vars[n++] = (struct jinja_var){"add_generation_prompt", owned[n_owned - 1]};
        }
        if (r >= 0 && opts && opts->bos_token) {
                if (!(owned[n_owned++] = json_string(opts->bos_token)))
                        r = err_set(err, -EINVAL, "chat template: bos_token is not valid UTF-8");
                vars[n++] = (struct jinja_var){"bos_token", owned[n_owned - 1]};
        }
        if (r >= 0 && opts && opts->eos_token) {
                if (!(owned[n_owned++] = json_string(opts->eos_token)))
                        r = err_set(err, -EINVAL, "chat template: eos_token is not valid UTF-8");
                vars[n++] = (struct jinja_var){"eos_token", owned[n_owned - 1]};
        }
        for (size_t i = 0; r >= 0 && i < n_extra; i++) {
                json_error_t jerr;
                const char *name = opts->var_names[i], *val = opts->var_values_json[i];
                if (!name || !val || !*name) {
                        r = err_set(err, -EINVAL, "chat template: variable %zu has no name or value", i);
                        break;
                }
                if (!(owned[n_owned++] = json_loads(val, JSON_DECODE_ANY, &jerr))) {
                        r = err_set(err, -EINVAL, "chat template: value of variable '%s' is not JSON: %s", name, jerr.text);
                        break;
                }
                vars[n++] = (struct jinja_var){name, owned[n_owned - 1]};
        }
        if (r == -ENOMEM)
                err_set(err, r, "chat template: out of memory");
        char *out = NULL;
        size_t len = 0;
        if (r >= 0)
                r = jinja_render(t->tpl, vars, n, opts ? opts->date_override : NULL, NULL, &out, &len, err);
        /* A C string cannot carry a NUL; refuse rather than cut the prompt. */
        if (r >= 0 && memchr(out, 0, len)) {
                free(out);
                r = err_set(err, -EINVAL, "chat template: the rendered prompt contains a NUL character");
        } else if (r >= 0)
                *ret = out;
        for (size_t i = 0; owned && i < n_owned; i++)
                json_decref(owned[i]);
        free(owned);
        free(vars);
        return r;
}

int chat_template_render_json(const char *template_src, json_t *messages, const struct chat_render_opts *opts,
                              char **ret, struct vkinfer_err *err) {
        struct chat_template *t;
        int r = chat_template_new(template_src, &t, err);
        if (r < 0)
                return r;
        r = chat_template_apply(t, messages, opts, ret, err);
        chat_template_free(t);
        return r;
}

int chat_template_render(const char *template_src, const struct chat_message *msgs, size_t n,
                         const struct chat_render_opts *opts, char **ret, struct vkinfer_err *err) {
        json_t *arr = json_array();
        int r = arr ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_t *m = json_object();
                if (!m || json_array_append_new(arr, m) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (!msgs[i].role || json_object_set_new(m, "role", json_string(msgs[i].role)) < 0)
                        r = err_set(err, -EINVAL, "chat template: message %zu has no role or one that is not UTF-8", i);
                else if (json_object_set_new(m, "content", msgs[i].content ? json_string(msgs[i].content) : json_null()) < 0)
                        r = err_set(err, -EINVAL, "chat template: content of message %zu is not valid UTF-8", i);
                else if (msgs[i].reasoning_content &&
                         json_object_set_new(m, "reasoning_content", json_string(msgs[i].reasoning_content)) < 0)
                        r = err_set(err, -EINVAL, "chat template: reasoning_content of message %zu is not valid UTF-8", i);
        }
        if (r == -ENOMEM)
                err_set(err, r, "chat template: out of memory");
        if (r >= 0)
                r = chat_template_render_json(template_src, arr, opts, ret, err);
        json_decref(arr);
        return r;
}
