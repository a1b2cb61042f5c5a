/* Shared between engine.c (models, submission, the request API) and
 * scheduler.c (the thread that owns the GPU). One mutex, e->lock, guards
 * the queue, the running list and every request's output and flags. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "chat/chat-template.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "sample/sampler.h"
#include "sample/text-filter.h"
#include "sched/runner.h"
#include "tokenizer/tokenizer.h"
#include "vkinfer/engine.h"

#define ENGINE_MAX_MODELS 16

struct engine_model {
        bool loaded;   /* the slot holds a model */
        bool retired;  /* removed by a reload: takes no new requests, unloaded when refs is 0 */
        uint32_t refs; /* requests that use it (under e->lock) */
        struct vkinfer_model_info info;
        char *name, *path, *arch;
        struct gguf_file *gguf;
        struct model *model;
        struct tokenizer *tok;
        struct chat_template *tmpl; /* NULL when the file has none */
        char *bos_text, *eos_text;  /* for templates */
        struct runner *runner; /* NULL after a lost device until reopened (scheduler thread) */
        int32_t *eog_ids; /* every end-of-generation token, for ignore_eos */
        size_t n_eog;
};

struct vkinfer_request {
        struct vkinfer_engine *e;
        struct engine_model *m; /* referenced while in_scheduler only */
        /* fixed at submission */
        char *model_name; /* a copy: m may be unloaded while the client still reads r */
        int32_t *prompt;
        uint32_t n_prompt;
        uint32_t max_new; /* tokens to generate at most */
        bool ignore_eos;
        int32_t top_logprobs; /* < 0: none */
        struct sampler sampler;
        struct tokenizer_decoder *decoder;
        struct text_filter filter;
        char **stop; /* owned copies */
        size_t n_stop;
        /* scheduler state (scheduler thread only) */
        bool has_seq;
        uint32_t seq;
        uint32_t n_cached;    /* tokens in the sequence's cache */
        uint32_t n_generated;
        int32_t last_token;
        double t_admit, t_first, t_last; /* monotonic ms */
        /* shared (under e->lock) */
        vkinfer_notify_fn notify; /* NULL once the client let go */
        void *userdata;
        bool cancel;       /* client asked to stop */
        bool client_gone;  /* vkinfer_request_free was called */
        bool in_scheduler; /* queued or running: the scheduler frees it */
        enum vkinfer_finish finish;
        char error[256];
        struct text_out content, reasoning; /* not yet taken */
        struct vkinfer_token_logprob *logprobs; /* not yet taken */
        size_t n_logprobs;
        struct vkinfer_request *next;      /* queue / running list */
};

struct vkinfer_engine {
        struct vkinfer_engine_config config; /* device and cache_dir: own copies */
        enum runner_kv_type kv_type;
        char device_name[256]; /* vkinfer_engine_device_name's answer */
        struct engine_model models[ENGINE_MAX_MODELS]; /* slots; see engine_model.loaded */

        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        bool thread_started, stop;
        struct vkinfer_request *queue_head, *queue_tail;
        uint32_t n_queued;
        struct vkinfer_request *admitting; /* the queue's head while admit() let go of the lock */
        struct vkinfer_request *running;
        uint32_t n_running;
};

/* scheduler.c */
int scheduler_start(struct vkinfer_engine *e);
void scheduler_stop(struct vkinfer_engine *e);
/* Lock held, any thread: takes a cancelled r out of the queue at once, if
 * it waits there, so that its slot is free for the next submission even
 * while the scheduler is in the middle of a step. */
void scheduler_unqueue(struct vkinfer_engine *e, struct vkinfer_request *r);
/* Frees a request nobody references any more (lock held or not needed). */
void request_destroy(struct vkinfer_request *r);
/* Lock held, scheduler thread: unloads retired models no request uses. */
void engine_reap_models(struct vkinfer_engine *e);
/* A new runner for m, as when it was loaded (scheduler thread, lock not held). */
int engine_reopen_runner(struct vkinfer_engine *e, struct engine_model *m, struct runner **ret,
                         struct vkinfer_err *err);
