/* Chat templates: render a conversation exactly as the model's own Jinja
 * template (GGUF tokenizer.chat_template) renders it under Hugging Face
 * transformers' apply_chat_template, and recognise the template's family.
 *
 * The renderer is a Jinja2 subset (src/chat/jinja*.c); a template using
 * anything outside it fails with an error naming the construct and line,
 * never with a guess. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

/* Families vkinfer serves; the later daemon picks reasoning parsing and stop
 * tokens by family. */
enum chat_family {
        CHAT_FAMILY_UNKNOWN,
        CHAT_FAMILY_DEEPSEEK_V3,       /* <｜User｜>/<｜Assistant｜>, no reasoning block */
        CHAT_FAMILY_DEEPSEEK_R1,       /* V3 turns; the reply opens with "<think>\n" */
        CHAT_FAMILY_DEEPSEEK_V3_1,     /* hybrid: "<think>" or "<think></think>" by `thinking` */
        CHAT_FAMILY_CHATML,            /* Qwen2.5: <|im_start|>role ... <|im_end|> */
        CHAT_FAMILY_R1_DISTILL_QWEN,   /* R1 format on Qwen2.5 */
        CHAT_FAMILY_R1_DISTILL_LLAMA,  /* R1 format on Llama 3 */
        CHAT_FAMILY_LLAMA3,            /* <|start_header_id|>role<|end_header_id|> */
};

/* Recognises the family from the template text alone (NULL: unknown).
 * DeepSeek turn markers select the DeepSeek families: V3.1 by its empty
 * "<think></think>", R1 by opening the reply with "<think>\n" or by dropping
 * earlier turns' reasoning (split on '</think>'), plain V3 otherwise; R1
 * proper keeps V3's multiple-system-prompt logic (is_first_sp).
 * The R1 distills on Qwen and on Llama ship near-identical templates; they
 * are told apart by the tool-call condition their published templates use
 * (`message['tool_calls']` for Qwen, `message['content'] is none` for
 * Llama). Both behave the same for reasoning and stop tokens. */
enum chat_family chat_template_detect(const char *template_src);

/* "deepseek-v3", "deepseek-r1", "deepseek-v3.1", "chatml", "r1-distill-qwen",
 * "r1-distill-llama", "llama3", "unknown". */
const char *chat_family_name(enum chat_family f);

struct chat_message {
        const char *role;
        const char *content;           /* NULL renders as None */
        const char *reasoning_content; /* may be NULL: then the key is absent */
};

struct chat_render_opts {
        const char *bos_token, *eos_token; /* NULL: the variable is left undefined */
        bool add_generation_prompt;
        /* Extra template variables, e.g. enable_thinking = "true". Each value
         * is JSON text; a value that is not valid JSON is an error. */
        const char *const *var_names;
        const char *const *var_values_json;
        size_t n_vars;
        /* "YYYY-MM-DD" seen by strftime_now(); NULL: today, local time. */
        const char *date_override;
};

/* A parsed template, for rendering many conversations. Rendering does not
 * modify it, so one template may be applied from several threads at once. */
struct chat_template;

/* Parses template_src (UTF-8). On failure *ret is untouched and err names
 * the line and construct. */
int chat_template_new(const char *template_src, struct chat_template **ret, struct vkinfer_err *err);
/* Accepts NULL; returns NULL. */
struct chat_template *chat_template_free(struct chat_template *t);
enum chat_family chat_template_family(const struct chat_template *t);

/* Renders `messages`, a JSON array of message objects (role, content, and
 * whatever else the template reads: tool_calls, reasoning_content, ...).
 * The template sees what transformers' apply_chat_template passes: messages,
 * tools and documents (None unless given as extra variables),
 * add_generation_prompt, bos_token, eos_token, and the extra variables of
 * opts (opts may be NULL; extras override the others). *ret is malloc'd and
 * NUL-terminated; on failure it is untouched and err says why, with the
 * message of raise_exception() when the template raised. */
int chat_template_apply(const struct chat_template *t, json_t *messages, const struct chat_render_opts *opts,
                        char **ret, struct vkinfer_err *err);

/* One-shot forms: parse, render, free. */
int chat_template_render_json(const char *template_src, json_t *messages, const struct chat_render_opts *opts,
                              char **ret, struct vkinfer_err *err);
int chat_template_render(const char *template_src, const struct chat_message *msgs, size_t n,
                         const struct chat_render_opts *opts, char **ret, struct vkinfer_err *err);
