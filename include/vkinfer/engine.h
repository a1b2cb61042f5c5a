/* The engine as vkinferd and `vkinfer run` see it: a set of loaded models and
 * a scheduler thread that owns the GPU and runs every submitted request in
 * one continuous batch. Functions return 0 or a negative errno:
 *   -EINVAL  a bad parameter (HTTP 400)      -ENOENT  unknown model (404)
 *   -E2BIG   prompt + max_tokens over context (400)
 *   -EBUSY   the queue is full (429)         -ENODEV  no usable device (503)
 *   anything else: an internal error (500). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vkinfer_engine;
struct vkinfer_request;

struct vkinfer_error {
        char message[512];
};

struct vkinfer_engine_config {
        const char *device;        /* index or name substring; NULL = automatic */
        const char *cache_dir;     /* pipeline cache folder; NULL = XDG default */
        const char *kv_cache_type; /* "auto" (NULL), "f16" or "f32" */
        uint32_t queue_size;       /* requests waiting at most; 0 = default */
        uint32_t max_sequences;    /* sequences running at once; 0 = default */
        uint32_t max_batch_tokens; /* tokens per scheduler step; 0 = default */
        /* Called while a model's weights go to the device; may be NULL. */
        void (*load_progress)(void *userdata, const char *model, uint64_t done, uint64_t total);
        void *load_progress_data;
};

struct vkinfer_model_info {
        const char *name;         /* what requests name it by */
        const char *path;         /* the GGUF file */
        const char *architecture; /* "deepseek2", "llama", "qwen2" */
        uint32_t n_ctx;           /* context length served */
        const char *kv_cache_type; /* "f16" or "f32": the values its KV cache holds */
        uint64_t n_params;
        bool has_chat_template;
};

int vkinfer_engine_new(const struct vkinfer_engine_config *config, struct vkinfer_engine **ret,
                       struct vkinfer_error *err);
/* Stops the scheduler (cancelling what runs) and frees everything. NULL ok. */
void vkinfer_engine_free(struct vkinfer_engine *e);
/* Loads a model under `name`; n_ctx 0 = the model's own (capped by a default). */
int vkinfer_engine_add_model(struct vkinfer_engine *e, const char *name, const char *path, uint32_t n_ctx,
                             struct vkinfer_error *err);
/* Stops taking requests for the model; it is unloaded once the requests
 * already running on it have finished (a reload uses this). -ENOENT. */
int vkinfer_engine_remove_model(struct vkinfer_engine *e, const char *name);
size_t vkinfer_engine_model_count(const struct vkinfer_engine *e);
/* The i-th model that takes requests, NULL past the last. Its strings stay
 * valid until it is removed: a request must not keep them (see
 * vkinfer_request_model). */
const struct vkinfer_model_info *vkinfer_engine_model(const struct vkinfer_engine *e, size_t i);
/* Vulkan validation messages seen by the engine's devices (only counted
 * with VKINFER_VALIDATION=1); tests fail on any. */
uint64_t vkinfer_engine_validation_messages(struct vkinfer_engine *e);
/* The device's name, for status displays: valid until the next call. */
const char *vkinfer_engine_device_name(const struct vkinfer_engine *e);

struct vkinfer_engine_stats {
        uint32_t queued;      /* waiting for a slot */
        uint32_t running;     /* sequences in the batch */
        uint64_t kv_blocks_used, kv_blocks_total;
};
void vkinfer_engine_stats(struct vkinfer_engine *e, struct vkinfer_engine_stats *ret);

struct vkinfer_message {
        const char *role; /* "system", "user", "assistant" */
        const char *content;
        const char *reasoning_content; /* may be NULL */
};

struct vkinfer_sampling {
        float temperature;       /* 0 = greedy */
        float top_p;             /* 1 = off */
        int32_t top_k;           /* 0 = off */
        float min_p;             /* 0 = off */
        float presence_penalty;  /* 0 = off */
        float frequency_penalty; /* 0 = off */
        float repeat_penalty;    /* 1 = off */
        uint64_t seed;
        bool has_seed; /* else a random seed */
};

struct vkinfer_gen_params {
        const char *model; /* NULL = the default (first) model */
        /* Either a chat (messages, rendered with the model's template) ... */
        const struct vkinfer_message *messages;
        size_t n_messages;
        const char *template_vars_json; /* a JSON object of extra template variables, or NULL */
        /* ... or a raw completion prompt. */
        const char *prompt;
        int64_t max_tokens; /* < 0 = up to the context's end */
        struct vkinfer_sampling sampling;
        const char *const *stop; /* stop strings, never part of the output */
        size_t n_stop;
        int32_t top_logprobs; /* < 0: no logprobs; 0..20: with that many alternatives */
        bool ignore_eos;      /* keep generating past end-of-generation tokens (benchmarks, tests) */
};

/* Called on the scheduler thread whenever a request has new output or has
 * finished; it must only wake the caller's own loop. */
typedef void (*vkinfer_notify_fn)(void *userdata);

/* Validates, renders and tokenizes, then queues the request. Errors come
 * back at once, before any GPU work. */
int vkinfer_engine_submit(struct vkinfer_engine *e, const struct vkinfer_gen_params *params,
                          vkinfer_notify_fn notify, void *userdata, struct vkinfer_request **ret,
                          struct vkinfer_error *err);

enum vkinfer_finish {
        VKINFER_RUNNING = 0,
        VKINFER_FINISH_STOP,      /* EOS or a stop string */
        VKINFER_FINISH_LENGTH,    /* max_tokens or the context's end */
        VKINFER_FINISH_CANCELLED,
        VKINFER_FINISH_ERROR,
};

#define VKINFER_MAX_TOP_LOGPROBS 20

/* A generated token's log-probability under the model (log-softmax of its
 * logits), with the most likely alternatives. Texts are the token's bytes,
 * which may be part of a UTF-8 character. */
struct vkinfer_token_logprob {
        char text[64];
        uint32_t text_len;
        float logprob;
        uint32_t n_top;
        struct {
                char text[64];
                uint32_t text_len;
                float logprob;
        } top[VKINFER_MAX_TOP_LOGPROBS];
};

struct vkinfer_output {
        char *content;   /* new answer text since the last take (malloc'd, maybe "") */
        char *reasoning; /* new <think> text since the last take (malloc'd, maybe "") */
        enum vkinfer_finish finish;
        uint32_t prompt_tokens, completion_tokens;
        double prompt_ms; /* admission to the first generated token */
        double decode_ms; /* first to last generated token */
        struct vkinfer_token_logprob *logprobs; /* with top_logprobs >= 0: one per new token (malloc'd) */
        size_t n_logprobs;
        char error[256]; /* with VKINFER_FINISH_ERROR */
};

/* Takes the output produced since the last call. Free the strings and
 * logprobs with free(). */
void vkinfer_request_take(struct vkinfer_request *r, struct vkinfer_output *ret);
void vkinfer_request_cancel(struct vkinfer_request *r);
/* The name of the model serving r (the default one when it named none):
 * r's own copy, valid until vkinfer_request_free, whatever a reload does. */
const char *vkinfer_request_model(const struct vkinfer_request *r);
/* Cancels if still running and releases the caller's reference. NULL ok. */
void vkinfer_request_free(struct vkinfer_request *r);

#ifdef __cplusplus
}
#endif
