/* The OpenAI-compatible request and response bodies: parsing a request's
 * JSON into engine parameters (every field type-checked), and building the
 * completion, chunk, model-list and error JSON. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "vkinfer/engine.h"

enum api_kind {
        API_CHAT,       /* POST /v1/chat/completions */
        API_COMPLETION, /* POST /v1/completions */
};

struct api_request {
        enum api_kind kind;
        json_t *root; /* owns every string the params point to */
        struct vkinfer_gen_params params;
        struct vkinfer_message *messages;
        const char **stop;
        char *template_vars; /* JSON text, or NULL */
        bool stream;
        bool include_usage;
        const char *model_name; /* as requested, for responses */
};

/* Parses body; on failure returns -EINVAL with an OpenAI-style message in err
 * and the offending parameter's name in *ret_param (or NULL). */
int api_request_parse(enum api_kind kind, const char *body, size_t len, struct api_request *ret,
                      char *err, size_t err_size, const char **ret_param);
void api_request_done(struct api_request *r);

/* {"error": {...}} as a malloc'd string. */
char *api_error_json(int status, const char *message, const char *param);
/* HTTP status for an engine errno. */
int api_status_for_errno(int r);

/* A unique "chatcmpl-..." / "cmpl-..." id. */
void api_make_id(enum api_kind kind, char *buf, size_t size);

const char *api_finish_reason(enum vkinfer_finish f);

/* Logprobs of new tokens in the request's shape: for chat, {"content":
 * [{token, logprob, bytes, top_logprobs}...]}; for completions, {tokens,
 * token_logprobs, top_logprobs, text_offset} (*text_offset advances). */
json_t *api_logprobs_json(const struct api_request *r, const struct vkinfer_token_logprob *lp, size_t n,
                          size_t *text_offset);
/* Appends b's entries to a (both in the same shape); takes b. */
void api_logprobs_merge(json_t *a, json_t *b);

/* The whole non-streamed response; logprobs may be NULL (borrowed). */
char *api_completion_json(const struct api_request *r, const char *id, long created, const char *content,
                          const char *reasoning, json_t *logprobs, enum vkinfer_finish finish,
                          uint32_t prompt_tokens, uint32_t completion_tokens);
/* One SSE "data: {...}\n\n" event. first: the chat chunk carries the role. */
char *api_chunk_event(const struct api_request *r, const char *id, long created, const char *content,
                      const char *reasoning, json_t *logprobs, bool first, enum vkinfer_finish finish);
char *api_usage_event(const struct api_request *r, const char *id, long created, uint32_t prompt_tokens,
                      uint32_t completion_tokens);
char *api_models_json(struct vkinfer_engine *e, long created);
/* GET /status: device, models, queue, running sequences, KV-cache use. */
char *api_status_json(struct vkinfer_engine *e, bool draining);
