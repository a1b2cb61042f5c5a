#include "api.h"
#include "params.h"

#include "vkinfer/vkinfer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>


static int fail(char *err, size_t size, const char **ret_param, const char *param, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t size, const char **ret_param, const char *param, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
        *ret_param = param;
        return -EINVAL;
}

/* A number field within [lo, hi]; absent or null leaves *v alone. */
static int get_int(json_t *root, const char *key, long long lo, long long hi, long long *v, bool *present,
                   char *err, size_t size, const char **ret_param) {
        json_t *j = json_object_get(root, key);
        if (present)
                *present = false;
        if (!j || json_is_null(j))
                return 0;
        if (!json_is_integer(j))
                return fail(err, size, ret_param, key, "'%s' must be an integer", key);
        long long x = json_integer_value(j);
        if (x < lo || x > hi)
                return fail(err, size, ret_param, key, "'%s' must be between %lld and %lld", key, lo, hi);
        *v = x;
        if (present)
                *present = true;
        return 0;
}

static int get_bool(json_t *root, const char *key, bool *v, char *err, size_t size, const char **ret_param) {
        json_t *j = json_object_get(root, key);
        if (!j || json_is_null(j))
                return 0;
        if (!json_is_boolean(j))
                return fail(err, size, ret_param, key, "'%s' must be a boolean", key);
        *v = json_is_true(j);
        return 0;
}

/* Message content: a string, null, or an array of {"type":"text","text":...}
 * parts, which are joined. Returns a string owned by root (parts are joined
 * into a new JSON string stored back into the message). */
static int message_content(json_t *msg, const char **ret, char *err, size_t size, const char **ret_param) {
        json_t *c = json_object_get(msg, "content");
        if (!c || json_is_null(c)) {
                *ret = "";
                return 0;
        }
        if (json_is_string(c)) {
                *ret = json_string_value(c);
                return 0;
        }
        if (!json_is_array(c))
                return fail(err, size, ret_param, "messages", "message content must be a string or an array of parts");
        size_t total = 0, i;
        json_t *part;
        json_array_foreach(c, i, part) {
                json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
                if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 || !json_is_string(text))
                        return fail(err, size, ret_param, "messages", "only text content parts are supported");
                total += json_string_length(text);
        }
        char *joined = malloc(total + 1), *p = joined;
        if (!joined)
                return -ENOMEM;
        json_array_foreach(c, i, part) {
                json_t *text = json_object_get(part, "text");
                memcpy(p, json_string_value(text), json_string_length(text));
                p += json_string_length(text);
        }
        *p = 0;
        json_t *s = json_stringn_nocheck(joined, total);
        free(joined);
        if (!s)
                return -ENOMEM;
        json_object_set_new(msg, "content", s); /* root now owns it */
        *ret = json_string_value(s);
        return 0;
}

static int parse_messages(json_t *root, struct api_request *r, char *err, size_t size, const char **ret_param) {
        json_t *msgs = json_object_get(root, "messages");
        if (!msgs)
                return fail(err, size, ret_param, "messages", "'messages' is required");
        if (!json_is_array(msgs) || json_array_size(msgs) == 0)
                return fail(err, size, ret_param, "messages", "'messages' must be a non-empty array");
        r->messages = calloc(json_array_size(msgs), sizeof(*r->messages));
        if (!r->messages)
                return -ENOMEM;
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m) {
                if (!json_is_object(m))
                        return fail(err, size, ret_param, "messages", "messages[%zu] must be an object", i);
                json_t *role = json_object_get(m, "role");
                if (!json_is_string(role))
                        return fail(err, size, ret_param, "messages", "messages[%zu].role must be a string", i);
                char why[160];
                r->messages[i].role = params_role(json_string_value(role), why, sizeof(why));
                if (!r->messages[i].role)
                        return fail(err, size, ret_param, "messages", "messages[%zu]: %s", i, why);
                int ret = message_content(m, &r->messages[i].content, err, size, ret_param);
                if (ret < 0)
                        return ret;
                json_t *reasoning = json_object_get(m, "reasoning_content");
                if (reasoning && !json_is_null(reasoning) && !json_is_string(reasoning))
                        return fail(err, size, ret_param, "messages", "messages[%zu].reasoning_content must be a string", i);
                r->messages[i].reasoning_content = json_is_string(reasoning) ? json_string_value(reasoning) : NULL;
        }
        r->params.messages = r->messages;
        r->params.n_messages = json_array_size(msgs);
        return 0;
}

int api_request_parse(enum api_kind kind, const char *body, size_t len, struct api_request *r, char *err,
                      size_t size, const char **ret_param) {
        memset(r, 0, sizeof(*r));
        r->kind = kind;
        *ret_param = NULL;
        json_error_t jerr;
        /* jansson refuses invalid UTF-8 and NUL bytes in strings. */
        r->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!r->root)
                return fail(err, size, ret_param, NULL, "invalid JSON body: %s (line %d, column %d)", jerr.text,
                            jerr.line, jerr.column);
        json_t *root = r->root;
        if (!json_is_object(root))
                return fail(err, size, ret_param, NULL, "the request body must be a JSON object");

        struct vkinfer_gen_params *p = &r->params;
        p->max_tokens = -1;
        p->top_logprobs = -1;
        p->sampling = (struct vkinfer_sampling){.temperature = 1.0f, .top_p = 1.0f, .repeat_penalty = 1.0f};

        json_t *model = json_object_get(root, "model");
        if (model && !json_is_null(model)) {
                if (!json_is_string(model))
                        return fail(err, size, ret_param, "model", "'model' must be a string");
                p->model = json_string_value(model);
        }
        r->model_name = p->model;

        int ret;
        if (kind == API_CHAT) {
                if ((ret = parse_messages(root, r, err, size, ret_param)) < 0)
                        return ret;
                json_t *kw = json_object_get(root, "chat_template_kwargs");
                if (kw && !json_is_null(kw)) {
                        if (!json_is_object(kw))
                                return fail(err, size, ret_param, "chat_template_kwargs", "'chat_template_kwargs' must be an object");
                        r->template_vars = json_dumps(kw, JSON_COMPACT);
                        p->template_vars_json = r->template_vars;
                }
        } else {
                json_t *prompt = json_object_get(root, "prompt");
                if (json_is_array(prompt) && json_array_size(prompt) == 1)
                        prompt = json_array_get(prompt, 0);
                if (!prompt)
                        return fail(err, size, ret_param, "prompt", "'prompt' is required");
                if (!json_is_string(prompt))
                        return fail(err, size, ret_param, "prompt", "'prompt' must be a string");
                p->prompt = json_string_value(prompt);
        }

        long long v;
        bool present;
        if ((ret = get_int(root, "n", 1, 1, &v, NULL, err, size, ret_param)) < 0)
                return fail(err, size, ret_param, "n", "only n = 1 is supported");
        /* The numeric parameters, with the ranges D-Bus requests get too. */
        const char *k;
        for (size_t i = 0; (k = params_key(i)); i++) {
                json_t *j = json_object_get(root, k);
                char why[160];
                if (!j || json_is_null(j))
                        continue;
                bool whole = params_is_integer(k);
                if (whole ? !json_is_integer(j) : !json_is_number(j))
                        return fail(err, size, ret_param, k, "'%s' must be %s", k, whole ? "an integer" : "a number");
                if (params_set(p, k, json_number_value(j), why, sizeof(why)) < 0)
                        return fail(err, size, ret_param, k, "%s", why);
        }
        struct vkinfer_sampling *s = &p->sampling;
        json_t *seed = json_object_get(root, "seed");
        if (seed && !json_is_null(seed)) {
                char why[160];
                if (!json_is_integer(seed))
                        return fail(err, size, ret_param, "seed", "'seed' must be an integer");
                if (params_set_seed(s, json_integer_value(seed), why, sizeof(why)) < 0)
                        return fail(err, size, ret_param, "seed", "%s", why);
        }

        json_t *stop = json_object_get(root, "stop");
        if (stop && !json_is_null(stop)) {
                size_t n = json_is_string(stop) ? 1 : json_is_array(stop) ? json_array_size(stop) : SIZE_MAX;
                char why[160];
                if (n == SIZE_MAX)
                        return fail(err, size, ret_param, "stop", "'stop' must be a string or an array of strings");
                if (params_check_stop_count(n, why, sizeof(why)) < 0)
                        return fail(err, size, ret_param, "stop", "%s", why);
                r->stop = calloc(n ? n : 1, sizeof(*r->stop));
                if (!r->stop)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        json_t *e = json_is_string(stop) ? stop : json_array_get(stop, i);
                        if (!json_is_string(e))
                                return fail(err, size, ret_param, "stop", "each stop sequence must be a string");
                        if (params_check_stop(json_string_length(e), why, sizeof(why)) < 0)
                                return fail(err, size, ret_param, "stop", "%s", why);
                        r->stop[i] = json_string_value(e);
                }
                p->stop = r->stop;
                p->n_stop = n;
        }

        bool logprobs = false;
        if (kind == API_CHAT) {
                if ((ret = get_bool(root, "logprobs", &logprobs, err, size, ret_param)) < 0)
                        return ret;
                if ((ret = get_int(root, "top_logprobs", 0, 20, &v, &present, err, size, ret_param)) < 0)
                        return ret;
                if (present && !logprobs)
                        return fail(err, size, ret_param, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
                if (logprobs)
                        p->top_logprobs = present ? (int32_t) v : 0;
        } else {
                if ((ret = get_int(root, "logprobs", 0, 20, &v, &present, err, size, ret_param)) < 0)
                        return ret;
                if (present)
                        p->top_logprobs = (int32_t) v;
        }

        if ((ret = get_bool(root, "ignore_eos", &p->ignore_eos, err, size, ret_param)) < 0)
                return ret;
        if ((ret = get_bool(root, "stream", &r->stream, err, size, ret_param)) < 0)
                return ret;
        json_t *so = json_object_get(root, "stream_options");
        if (so && !json_is_null(so)) {
                if (!json_is_object(so))
                        return fail(err, size, ret_param, "stream_options", "'stream_options' must be an object");
                if ((ret = get_bool(so, "include_usage", &r->include_usage, err, size, ret_param)) < 0)
                        return ret;
        }
        return 0;
}

void api_request_done(struct api_request *r) {
        free(r->messages);
        free(r->stop);
        free(r->template_vars);
        json_decref(r->root);
        memset(r, 0, sizeof(*r));
}

int api_status_for_errno(int r) {
        switch (r) {
        case -EINVAL: case -E2BIG: case -EILSEQ: return 400;
        case -ENOENT: return 404;
        case -EBUSY: case -EAGAIN: return 429;
        case -ENODEV: case -ESHUTDOWN: return 503;
        default: return 500;
        }
}

char *api_error_json(int status, const char *message, const char *param) {
        const char *type = status == 404 ? "not_found_error"
                           : status == 429 ? "rate_limit_error"
                           : status >= 500 ? "server_error"
                           : status == 413 ? "invalid_request_error"
                                           : "invalid_request_error";
        json_t *e = json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", message, "type", type, "param",
                              param ? json_string(param) : json_null(), "code",
                              status == 404 && param && strcmp(param, "model") == 0 ? json_string("model_not_found") : json_null());
        char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        return s;
}

void api_make_id(enum api_kind kind, char *buf, size_t size) {
        uint8_t b[12];
        if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t) sizeof(b))
                memset(b, 0x5a, sizeof(b));
        int n = snprintf(buf, size, "%s", kind == API_CHAT ? "chatcmpl-" : "cmpl-");
        for (size_t i = 0; i < sizeof(b) && (size_t) n + 2 < size; i++)
                n += snprintf(buf + n, size - n, "%02x", b[i]);
}

const char *api_finish_reason(enum vkinfer_finish f) {
        switch (f) {
        case VKINFER_FINISH_STOP: return "stop";
        case VKINFER_FINISH_LENGTH: return "length";
        case VKINFER_FINISH_CANCELLED: return "cancelled";
        case VKINFER_FINISH_ERROR: return "error";
        default: return NULL;
        }
}

static json_t *usage_json(uint32_t prompt, uint32_t completion) {
        return json_pack("{s:i, s:i, s:i}", "prompt_tokens", (json_int_t) prompt, "completion_tokens",
                         (json_int_t) completion, "total_tokens", (json_int_t) prompt + completion);
}

static char *dump_event(json_t *j) {
        char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!body)
                return NULL;
        char *ev = NULL;
        if (asprintf(&ev, "data: %s\n\n", body) < 0)
                ev = NULL;
        free(body);
        return ev;
}

/* A token's text as valid UTF-8 (invalid bytes become U+FFFD) and its bytes. */
static json_t *token_text(const char *p, size_t n) {
        char buf[256];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 4 < sizeof(buf);) {
                unsigned char c = (unsigned char) p[i];
                size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
                bool ok = len && i + len <= n;
                for (size_t k = 1; ok && k < len; k++)
                        ok = ((unsigned char) p[i + k] >> 6) == 2;
                if (ok) {
                        memcpy(buf + o, p + i, len);
                        o += len;
                        i += len;
                } else {
                        memcpy(buf + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                }
        }
        json_t *s = json_stringn(buf, o);
        return s ? s : json_string("");
}

static json_t *token_bytes(const char *p, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_integer((unsigned char) p[i]));
        return a;
}

json_t *api_logprobs_json(const struct api_request *r, const struct vkinfer_token_logprob *lp, size_t n,
                          size_t *text_offset) {
        if (r->kind == API_CHAT) {
                json_t *content = json_array();
                for (size_t i = 0; i < n; i++) {
                        json_t *top = json_array();
                        for (uint32_t k = 0; k < lp[i].n_top; k++)
                                json_array_append_new(top, json_pack("{s:o, s:f, s:o}", "token",
                                                                     token_text(lp[i].top[k].text, lp[i].top[k].text_len),
                                                                     "logprob", (double) lp[i].top[k].logprob, "bytes",
                                                                     token_bytes(lp[i].top[k].text, lp[i].top[k].text_len)));
                        json_array_append_new(content, json_pack("{s:o, s:f, s:o, s:o}", "token",
                                                                 token_text(lp[i].text, lp[i].text_len), "logprob",
                                                                 (double) lp[i].logprob, "bytes",
                                                                 token_bytes(lp[i].text, lp[i].text_len),
                                                                 "top_logprobs", top));
                }
                return json_pack("{s:o}", "content", content);
        }
        json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
        for (size_t i = 0; i < n; i++) {
                json_array_append_new(tokens, token_text(lp[i].text, lp[i].text_len));
                json_array_append_new(lps, json_real(lp[i].logprob));
                json_t *top = json_object();
                for (uint32_t k = 0; k < lp[i].n_top; k++) {
                        json_t *t = token_text(lp[i].top[k].text, lp[i].top[k].text_len);
                        json_object_set_new(top, json_string_value(t), json_real(lp[i].top[k].logprob));
                        json_decref(t);
                }
                json_array_append_new(tops, top);
                json_array_append_new(offs, json_integer((json_int_t) *text_offset));
                *text_offset += lp[i].text_len;
        }
        return json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops,
                         "text_offset", offs);
}

void api_logprobs_merge(json_t *a, json_t *b) {
        const char *key;
        json_t *v;
        json_object_foreach(b, key, v) {
                json_t *dst = json_object_get(a, key);
                if (json_is_array(dst))
                        json_array_extend(dst, v);
        }
        json_decref(b);
}

char *api_completion_json(const struct api_request *r, const char *id, long created, const char *content,
                          const char *reasoning, json_t *logprobs, enum vkinfer_finish finish,
                          uint32_t prompt_tokens, uint32_t completion_tokens) {
        json_t *choice;
        if (r->kind == API_CHAT) {
                json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", content ? content : "");
                if (reasoning && *reasoning)
                        json_object_set_new(msg, "reasoning_content", json_string(reasoning));
                choice = json_pack("{s:i, s:o, s:O, s:s?}", "index", 0, "message", msg, "logprobs",
                                   logprobs ? logprobs : json_null(), "finish_reason", api_finish_reason(finish));
        } else {
                choice = json_pack("{s:i, s:s, s:O, s:s?}", "index", 0, "text", content ? content : "", "logprobs",
                                   logprobs ? logprobs : json_null(), "finish_reason", api_finish_reason(finish));
        }
        json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:[o], s:o}", "id", id, "object",
                              r->kind == API_CHAT ? "chat.completion" : "text_completion", "created",
                              (json_int_t) created, "model", r->model_name ? r->model_name : "", "choices", choice,
                              "usage", usage_json(prompt_tokens, completion_tokens));
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return s;
}

char *api_chunk_event(const struct api_request *r, const char *id, long created, const char *content,
                      const char *reasoning, json_t *logprobs, bool first, enum vkinfer_finish finish) {
        json_t *choice;
        const char *fr = api_finish_reason(finish);
        if (r->kind == API_CHAT) {
                json_t *delta = json_object();
                if (first)
                        json_object_set_new(delta, "role", json_string("assistant"));
                if (content && *content)
                        json_object_set_new(delta, "content", json_string(content));
                else if (first)
                        json_object_set_new(delta, "content", json_string(""));
                if (reasoning && *reasoning)
                        json_object_set_new(delta, "reasoning_content", json_string(reasoning));
                choice = json_pack("{s:i, s:o, s:O, s:o}", "index", 0, "delta", delta, "logprobs",
                                   logprobs ? logprobs : json_null(), "finish_reason", fr ? json_string(fr) : json_null());
        } else {
                choice = json_pack("{s:i, s:s, s:O, s:o}", "index", 0, "text", content ? content : "", "logprobs",
                                   logprobs ? logprobs : json_null(), "finish_reason", fr ? json_string(fr) : json_null());
        }
        return dump_event(json_pack("{s:s, s:s, s:i, s:s, s:[o]}", "id", id, "object",
                                    r->kind == API_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                                    (json_int_t) created, "model", r->model_name ? r->model_name : "", "choices",
                                    choice));
}

char *api_usage_event(const struct api_request *r, const char *id, long created, uint32_t prompt_tokens,
                      uint32_t completion_tokens) {
        return dump_event(json_pack("{s:s, s:s, s:i, s:s, s:[], s:o}", "id", id, "object",
                                    r->kind == API_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                                    (json_int_t) created, "model", r->model_name ? r->model_name : "", "choices",
                                    "usage", usage_json(prompt_tokens, completion_tokens)));
}

char *api_models_json(struct vkinfer_engine *e, long created) {
        json_t *data = json_array();
        for (size_t i = 0; i < vkinfer_engine_model_count(e); i++) {
                const struct vkinfer_model_info *m = vkinfer_engine_model(e, i);
                json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s, s:{s:s, s:i, s:I, s:b}}", "id", m->name,
                                                      "object", "model", "created", (json_int_t) created,
                                                      "owned_by", "vkinfer", "meta", "architecture",
                                                      m->architecture, "context_length", (json_int_t) m->n_ctx,
                                                      "parameters", (json_int_t) m->n_params, "chat_template",
                                                      m->has_chat_template));
        }
        json_t *j = json_pack("{s:s, s:o}", "object", "list", "data", data);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return s;
}

char *api_status_json(struct vkinfer_engine *e, bool draining) {
        struct vkinfer_engine_stats st;
        vkinfer_engine_stats(e, &st);
        json_t *models = json_array();
        for (size_t i = 0; i < vkinfer_engine_model_count(e); i++) {
                const struct vkinfer_model_info *m = vkinfer_engine_model(e, i);
                json_array_append_new(models, json_pack("{s:s, s:s, s:s, s:i, s:s}", "name", m->name, "architecture",
                                                        m->architecture, "path", m->path, "context_length",
                                                        (json_int_t) m->n_ctx, "kv_cache_type", m->kv_cache_type));
        }
        json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:{s:I, s:I}}", "version", vkinfer_version(), "state",
                              draining ? "draining" : "serving", "device", vkinfer_engine_device_name(e), "models",
                              models, "queued", (json_int_t) st.queued, "running", (json_int_t) st.running,
                              "kv_cache", "blocks_used", (json_int_t) st.kv_blocks_used, "blocks_total",
                              (json_int_t) st.kv_blocks_total);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return s;
}
