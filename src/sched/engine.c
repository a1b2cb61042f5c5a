/* The engine behind include/vkinfer/engine.h: loading models (weights,
 * tokenizer, chat template, runner), turning a request into prompt tokens
 * (rendering and tokenizing on the caller's thread, so every error comes
 * back before any GPU work), and the request handle the caller polls. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/engine-internal.h"

#define ENGINE_DEFAULT_CTX 4096
#define ENGINE_DEFAULT_QUEUE 64
#define ENGINE_DEFAULT_SEQS 16
#define ENGINE_DEFAULT_BATCH 512

static int fail(struct vkinfer_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct vkinfer_error *err, int r, const char *fmt, ...) {
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return r;
}

int vkinfer_engine_new(const struct vkinfer_engine_config *config, struct vkinfer_engine **ret,
                       struct vkinfer_error *err) {
        struct vkinfer_engine *e = calloc(1, sizeof(*e));
        if (!e)
                return fail(err, -ENOMEM, "out of memory");
        e->config = *config;
        e->config.kv_cache_type = NULL; /* parsed into kv_type */
        if (runner_kv_type_parse(config->kv_cache_type, &e->kv_type) < 0) {
                free(e);
                return fail(err, -EINVAL, "KV cache type '%s': use auto, f16 or f32", config->kv_cache_type);
        }
        /* Own copies: the caller's strings may go (the daemon frees its old
         * configuration on reload, and models load later from these). */
        e->config.device = config->device ? strdup(config->device) : NULL;
        e->config.cache_dir = config->cache_dir ? strdup(config->cache_dir) : NULL;
        if ((config->device && !e->config.device) || (config->cache_dir && !e->config.cache_dir)) {
                free((char *) e->config.device);
                free((char *) e->config.cache_dir);
                free(e);
                return fail(err, -ENOMEM, "out of memory");
        }
        if (!e->config.queue_size)
                e->config.queue_size = ENGINE_DEFAULT_QUEUE;
        if (!e->config.max_sequences)
                e->config.max_sequences = ENGINE_DEFAULT_SEQS;
        if (!e->config.max_batch_tokens)
                e->config.max_batch_tokens = ENGINE_DEFAULT_BATCH;
        pthread_mutex_init(&e->lock, NULL);
        pthread_cond_init(&e->wake, NULL);
        int r = scheduler_start(e);
        if (r < 0) {
                free((char *) e->config.device);
                free((char *) e->config.cache_dir);
                free(e);
                return fail(err, r, "cannot start the scheduler thread: %s", strerror(-r));
        }
        *ret = e;
        return 0;
}

static bool model_active(const struct engine_model *m) {
        return m->loaded && !m->retired;
}

static void model_unload(struct engine_model *m) {
        if (m->runner)
                m->runner->ops->destroy(m->runner);
        chat_template_free(m->tmpl);
        tokenizer_free(m->tok);
        model_free(m->model);
        gguf_close(m->gguf);
        free(m->name);
        free(m->path);
        free(m->arch);
        free(m->bos_text);
        free(m->eos_text);
        free(m->eog_ids);
        memset(m, 0, sizeof(*m));
}

void vkinfer_engine_free(struct vkinfer_engine *e) {
        if (!e)
                return;
        scheduler_stop(e);
        for (size_t i = 0; i < ENGINE_MAX_MODELS; i++)
                model_unload(&e->models[i]);
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->wake);
        free((char *) e->config.device);
        free((char *) e->config.cache_dir);
        free(e);
}

static char *token_text(const struct tokenizer *t, int32_t id) {
        size_t len;
        const char *p = id >= 0 ? tokenizer_token_piece(t, id, &len) : NULL;
        if (!p)
                return NULL;
        char *s = malloc(len + 1);
        if (s) {
                memcpy(s, p, len);
                s[len] = 0;
        }
        return s;
}

struct progress_relay {
        struct vkinfer_engine *e;
        const char *name;
};

static void relay_progress(void *userdata, uint64_t done, uint64_t total) {
        struct progress_relay *p = userdata;
        p->e->config.load_progress(p->e->config.load_progress_data, p->name, done, total);
}

static int runner_for(struct vkinfer_engine *e, struct engine_model *m, uint32_t n_ctx, struct runner **ret,
                      struct vkinfer_err *err) {
        struct progress_relay relay = {e, m->name};
        return runner_open_progress(e->config.device, e->config.cache_dir, e->kv_type, m->model, n_ctx, e->config.max_sequences,
                                    e->config.load_progress ? relay_progress : NULL, &relay, ret, err);
}

int engine_reopen_runner(struct vkinfer_engine *e, struct engine_model *m, struct runner **ret,
                         struct vkinfer_err *err) {
        return runner_for(e, m, m->info.n_ctx, ret, err);
}

int vkinfer_engine_add_model(struct vkinfer_engine *e, const char *name, const char *path, uint32_t n_ctx,
                             struct vkinfer_error *err) {
        struct engine_model *m = NULL;
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < ENGINE_MAX_MODELS; i++) {
                if (model_active(&e->models[i]) && strcmp(e->models[i].name, name) == 0) {
                        pthread_mutex_unlock(&e->lock);
                        return fail(err, -EEXIST, "a model named '%s' is already loaded", name);
                }
                if (!m && !e->models[i].loaded && !e->models[i].name)
                        m = &e->models[i];
        }
        if (m)
                m->name = strdup(name); /* claims the slot */
        pthread_mutex_unlock(&e->lock);
        if (!m)
                return fail(err, -E2BIG, "at most %d models", ENGINE_MAX_MODELS);
        if (!m->name)
                return fail(err, -ENOMEM, "out of memory");
        struct vkinfer_err verr = {{0}};
        int r;
        if ((r = gguf_open(path, &m->gguf, &verr)) < 0 || (r = model_load(m->gguf, &m->model, &verr)) < 0 ||
            (r = tokenizer_new_from_gguf(m->gguf, &m->tok, &verr)) < 0) {
                fail(err, r, "%s: %s", path, verr.msg);
                model_unload(m);
                return r;
        }
        struct gguf_str tmpl;
        if (gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl, NULL) == 0) {
                char *src = gguf_str_dup(tmpl);
                /* A template we cannot parse only disables chat for the model;
                 * requests then say why. */
                if (src && chat_template_new(src, &m->tmpl, &verr) < 0)
                        m->tmpl = NULL;
                free(src);
        }
        m->path = strdup(path);
        m->arch = strdup(model_arch_name(m->model->hp.arch));
        m->bos_text = token_text(m->tok, tokenizer_bos(m->tok));
        m->eos_text = token_text(m->tok, tokenizer_eos(m->tok));
        if (!m->name || !m->path || !m->arch) {
                model_unload(m);
                return fail(err, -ENOMEM, "out of memory");
        }
        int32_t n_vocab = tokenizer_n_vocab(m->tok);
        for (int32_t id = 0; id < n_vocab; id++)
                if (tokenizer_is_eog(m->tok, id)) {
                        int32_t *v = realloc(m->eog_ids, (m->n_eog + 1) * sizeof(*v));
                        if (!v) {
                                model_unload(m);
                                return fail(err, -ENOMEM, "out of memory");
                        }
                        m->eog_ids = v;
                        m->eog_ids[m->n_eog++] = id;
                }
        uint32_t ctx_train = m->model->hp.n_ctx_train;
        if (n_ctx == 0)
                n_ctx = ctx_train && ctx_train < ENGINE_DEFAULT_CTX ? ctx_train : ENGINE_DEFAULT_CTX;
        if ((r = runner_for(e, m, n_ctx, &m->runner, &verr)) < 0) {
                fail(err, r, "%s: %s", path, verr.msg);
                model_unload(m);
                return r;
        }
        uint64_t params = 0;
        for (size_t i = 0; i < m->model->n_tensors; i++)
                params += m->model->tensors[i]->n_elements;
        m->info = (struct vkinfer_model_info){
                .name = m->name,
                .path = m->path,
                .architecture = m->arch,
                .n_ctx = n_ctx,
                .kv_cache_type = m->runner->kv_value_bytes == 2 ? "f16" : "f32",
                .n_params = params,
                .has_chat_template = m->tmpl != NULL,
        };
        pthread_mutex_lock(&e->lock);
        m->loaded = true;
        pthread_mutex_unlock(&e->lock);
        return 0;
}

int vkinfer_engine_remove_model(struct vkinfer_engine *e, const char *name) {
        int r = -ENOENT;
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < ENGINE_MAX_MODELS; i++)
                if (model_active(&e->models[i]) && strcmp(e->models[i].name, name) == 0) {
                        e->models[i].retired = true;
                        r = 0;
                }
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->lock);
        return r;
}

void engine_reap_models(struct vkinfer_engine *e) {
        for (size_t i = 0; i < ENGINE_MAX_MODELS; i++)
                if (e->models[i].loaded && e->models[i].retired && e->models[i].refs == 0)
                        model_unload(&e->models[i]);
}

uint64_t vkinfer_engine_validation_messages(struct vkinfer_engine *e) {
        uint64_t n = 0;
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < ENGINE_MAX_MODELS; i++) {
                struct runner *r = e->models[i].runner;
                if (e->models[i].loaded && r && r->ops->validation_messages)
                        n += r->ops->validation_messages(r);
        }
        pthread_mutex_unlock(&e->lock);
        return n;
}

/* The i-th model that takes requests. */
static struct engine_model *active_model(const struct vkinfer_engine *e, size_t i) {
        for (size_t k = 0; k < ENGINE_MAX_MODELS; k++)
                if (model_active(&e->models[k]) && i-- == 0)
                        return (struct engine_model *) &e->models[k];
        return NULL;
}

/* Both under the lock: the scheduler thread unloads retired models, which
 * clears their slots while these walk them. */
size_t vkinfer_engine_model_count(const struct vkinfer_engine *e) {
        struct vkinfer_engine *me = (struct vkinfer_engine *) e;
        size_t n = 0;
        pthread_mutex_lock(&me->lock);
        for (size_t k = 0; k < ENGINE_MAX_MODELS; k++)
                n += model_active(&e->models[k]);
        pthread_mutex_unlock(&me->lock);
        return n;
}

const struct vkinfer_model_info *vkinfer_engine_model(const struct vkinfer_engine *e, size_t i) {
        struct vkinfer_engine *me = (struct vkinfer_engine *) e;
        pthread_mutex_lock(&me->lock);
        struct engine_model *m = active_model(e, i);
        pthread_mutex_unlock(&me->lock);
        return m ? &m->info : NULL;
}

const char *vkinfer_engine_device_name(const struct vkinfer_engine *e) {
        struct vkinfer_engine *me = (struct vkinfer_engine *) e;
        pthread_mutex_lock(&me->lock);
        const char *name = "none";
        for (size_t i = 0; i < ENGINE_MAX_MODELS; i++) {
                const struct engine_model *m = active_model(e, i);
                if (!m)
                        break;
                if (m->runner) { /* NULL while reopened after a lost device */
                        name = m->runner->ops->device_name(m->runner);
                        break;
                }
        }
        /* A copy: the runner may go (a lost device) once the lock is let go. */
        snprintf(me->device_name, sizeof(me->device_name), "%s", name);
        pthread_mutex_unlock(&me->lock);
        return me->device_name;
}

void vkinfer_engine_stats(struct vkinfer_engine *e, struct vkinfer_engine_stats *ret) {
        memset(ret, 0, sizeof(*ret));
        pthread_mutex_lock(&e->lock);
        ret->queued = e->n_queued;
        ret->running = e->n_running;
        for (size_t i = 0; i < ENGINE_MAX_MODELS; i++) {
                uint64_t used, total;
                if (!e->models[i].loaded || !e->models[i].runner)
                        continue;
                e->models[i].runner->ops->kv_usage(e->models[i].runner, &used, &total);
                ret->kv_blocks_used += used;
                ret->kv_blocks_total += total;
        }
        pthread_mutex_unlock(&e->lock);
}

/* ---- Submission ---- */

/* Renders the chat with the model's template; *ret_in_think tells whether the
 * prompt leaves the model inside a <think> block (the R1 templates do). */
static int render_chat(struct engine_model *m, const struct vkinfer_gen_params *p, char **ret,
                       struct vkinfer_error *err) {
        if (!m->tmpl)
                return fail(err, -EINVAL, "the model '%s' has no chat template it can use; use /v1/completions",
                            m->name);
        json_t *msgs = json_array();
        for (size_t i = 0; i < p->n_messages; i++) {
                /* A missing content is None to the template, as in transformers. */
                json_t *o = json_pack("{s:s, s:o}", "role", p->messages[i].role, "content",
                                      p->messages[i].content ? json_string(p->messages[i].content) : json_null());
                if (o && p->messages[i].reasoning_content)
                        json_object_set_new(o, "reasoning_content", json_string(p->messages[i].reasoning_content));
                json_array_append_new(msgs, o);
        }
        const char *names[32];
        char *values[32];
        size_t n_vars = 0;
        json_t *vars = NULL;
        if (p->template_vars_json) {
                vars = json_loads(p->template_vars_json, 0, NULL);
                const char *k;
                json_t *v;
                json_object_foreach(vars, k, v) {
                        if (n_vars == 32)
                                break;
                        names[n_vars] = k;
                        values[n_vars++] = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                }
        }
        struct chat_render_opts opts = {
                .bos_token = m->bos_text,
                .eos_token = m->eos_text,
                .add_generation_prompt = true,
                .var_names = names,
                .var_values_json = (const char *const *) values,
                .n_vars = n_vars,
        };
        struct vkinfer_err verr = {{0}};
        int r = chat_template_apply(m->tmpl, msgs, &opts, ret, &verr);
        for (size_t i = 0; i < n_vars; i++)
                free(values[i]);
        json_decref(vars);
        json_decref(msgs);
        if (r < 0)
                return fail(err, -EINVAL, "chat template: %s", verr.msg);
        return 0;
}

static bool family_thinks(enum chat_family f) {
        return f == CHAT_FAMILY_DEEPSEEK_R1 || f == CHAT_FAMILY_DEEPSEEK_V3_1 || f == CHAT_FAMILY_R1_DISTILL_QWEN ||
               f == CHAT_FAMILY_R1_DISTILL_LLAMA;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcmp(s + n - k, suffix) == 0;
}

void request_destroy(struct vkinfer_request *r) {
        if (!r)
                return;
        free(r->model_name);
        free(r->prompt);
        sampler_finish(&r->sampler);
        tokenizer_decoder_free(r->decoder);
        text_filter_finish(&r->filter);
        for (size_t i = 0; i < r->n_stop; i++)
                free(r->stop[i]);
        free(r->stop);
        text_out_reset(&r->content);
        text_out_reset(&r->reasoning);
        free(r->logprobs);
        free(r);
}

static int submit_to(struct vkinfer_engine *e, struct engine_model *m, const struct vkinfer_gen_params *p,
                     vkinfer_notify_fn notify, void *userdata, struct vkinfer_request **ret,
                     struct vkinfer_error *err);

int vkinfer_engine_submit(struct vkinfer_engine *e, const struct vkinfer_gen_params *p, vkinfer_notify_fn notify,
                          void *userdata, struct vkinfer_request **ret, struct vkinfer_error *err) {
        if (!p->messages && !p->prompt)
                return fail(err, -EINVAL, "neither messages nor a prompt");
        /* The model is referenced from here on, so a reload cannot unload it
         * under this request; every failure below drops the reference. */
        pthread_mutex_lock(&e->lock);
        struct engine_model *m = active_model(e, 0);
        if (p->model) {
                m = NULL;
                for (size_t i = 0; i < ENGINE_MAX_MODELS; i++)
                        if (model_active(&e->models[i]) && strcmp(e->models[i].name, p->model) == 0)
                                m = &e->models[i];
        }
        if (m)
                m->refs++;
        pthread_mutex_unlock(&e->lock);
        if (!m && p->model)
                return fail(err, -ENOENT, "the model '%s' does not exist", p->model);
        if (!m)
                return fail(err, -ENODEV, "no model is loaded");
        int r = submit_to(e, m, p, notify, userdata, ret, err);
        if (r < 0) {
                pthread_mutex_lock(&e->lock);
                m->refs--;
                pthread_cond_signal(&e->wake);
                pthread_mutex_unlock(&e->lock);
        }
        return r;
}

static int submit_to(struct vkinfer_engine *e, struct engine_model *m, const struct vkinfer_gen_params *p,
                     vkinfer_notify_fn notify, void *userdata, struct vkinfer_request **ret,
                     struct vkinfer_error *err) {

        char *text = NULL;
        bool parse_think = false, in_think = false, add_bos = tokenizer_add_bos(m->tok);
        int r;
        if (p->messages) {
                if ((r = render_chat(m, p, &text, err)) < 0)
                        return r;
                parse_think = family_thinks(chat_template_family(m->tmpl));
                in_think = parse_think && (ends_with(text, "<think>\n") || ends_with(text, "<think>"));
                /* The templates write the BOS text themselves. */
                if (m->bos_text && strncmp(text, m->bos_text, strlen(m->bos_text)) == 0)
                        add_bos = false;
        } else {
                text = strdup(p->prompt);
                if (!text)
                        return fail(err, -ENOMEM, "out of memory");
        }

        struct vkinfer_request *rq = calloc(1, sizeof(*rq));
        if (!rq) {
                free(text);
                return fail(err, -ENOMEM, "out of memory");
        }
        rq->e = e;
        rq->m = m;
        rq->model_name = strdup(m->name);
        if (!rq->model_name) {
                free(text);
                request_destroy(rq);
                return fail(err, -ENOMEM, "out of memory");
        }
        int32_t *ids = NULL;
        size_t n_ids = 0;
        struct vkinfer_err verr = {{0}};
        r = tokenizer_encode(m->tok, text, strlen(text), add_bos, true, &ids, &n_ids, &verr);
        free(text);
        if (r < 0) {
                request_destroy(rq);
                return fail(err, r == -ENOMEM ? r : -EINVAL, "cannot tokenize the prompt: %s", verr.msg);
        }
        rq->prompt = ids;
        rq->n_prompt = (uint32_t) n_ids;
        uint32_t n_ctx = m->info.n_ctx;
        if (n_ids == 0) {
                request_destroy(rq);
                return fail(err, -EINVAL, "the prompt is empty");
        }
        if (n_ids >= n_ctx) {
                request_destroy(rq);
                return fail(err, -E2BIG, "the prompt has %zu tokens; the context of '%s' holds %u", n_ids, m->name,
                            n_ctx);
        }
        if (p->max_tokens >= 0 && (uint64_t) n_ids + (uint64_t) p->max_tokens > n_ctx) {
                request_destroy(rq);
                return fail(err, -E2BIG, "the prompt (%zu tokens) plus max_tokens (%lld) exceeds the context of %u",
                            n_ids, (long long) p->max_tokens, n_ctx);
        }
        rq->ignore_eos = p->ignore_eos;
        rq->top_logprobs = p->top_logprobs > VKINFER_MAX_TOP_LOGPROBS ? VKINFER_MAX_TOP_LOGPROBS : p->top_logprobs;
        rq->max_new = p->max_tokens >= 0 ? (uint32_t) p->max_tokens : n_ctx - (uint32_t) n_ids;

        if ((r = sampler_init(&rq->sampler, &p->sampling, m->model->hp.n_vocab)) < 0 ||
            (r = tokenizer_decoder_new(m->tok, TOKENIZER_DECODE_REPLACE_INVALID, &rq->decoder)) < 0) {
                request_destroy(rq);
                return fail(err, r, "out of memory");
        }
        size_t first = n_ids > SAMPLER_PENALTY_LAST_N ? n_ids - SAMPLER_PENALTY_LAST_N : 0;
        for (size_t i = first; i < n_ids; i++)
                sampler_accept(&rq->sampler, ids[i]);
        if (p->n_stop) {
                rq->stop = calloc(p->n_stop, sizeof(*rq->stop));
                if (!rq->stop) {
                        request_destroy(rq);
                        return fail(err, -ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < p->n_stop; i++) {
                        rq->stop[i] = strdup(p->stop[i]);
                        if (!rq->stop[i]) {
                                request_destroy(rq);
                                return fail(err, -ENOMEM, "out of memory");
                        }
                        rq->n_stop = i + 1;
                }
        }
        text_filter_init(&rq->filter, (const char *const *) rq->stop, rq->n_stop, parse_think, in_think);
        rq->notify = notify;
        rq->userdata = userdata;

        pthread_mutex_lock(&e->lock);
        if (e->stop || e->n_queued >= e->config.queue_size) {
                bool stopping = e->stop;
                pthread_mutex_unlock(&e->lock);
                request_destroy(rq);
                if (stopping)
                        return fail(err, -ESHUTDOWN, "the engine is shutting down");
                return fail(err, -EBUSY, "the request queue is full (%u waiting)", e->config.queue_size);
        }
        rq->in_scheduler = true;
        if (e->queue_tail)
                e->queue_tail->next = rq;
        else
                e->queue_head = rq;
        e->queue_tail = rq;
        e->n_queued++;
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->lock);
        *ret = rq;
        return 0;
}

/* ---- The request handle ---- */

static char *take_text(struct text_out *o) {
        char *s = o->p ? o->p : strdup("");
        memset(o, 0, sizeof(*o));
        return s;
}

void vkinfer_request_take(struct vkinfer_request *r, struct vkinfer_output *ret) {
        memset(ret, 0, sizeof(*ret));
        pthread_mutex_lock(&r->e->lock);
        ret->content = take_text(&r->content);
        ret->reasoning = take_text(&r->reasoning);
        ret->logprobs = r->logprobs;
        ret->n_logprobs = r->n_logprobs;
        r->logprobs = NULL;
        r->n_logprobs = 0;
        ret->finish = r->finish;
        ret->prompt_tokens = r->n_prompt;
        ret->completion_tokens = r->n_generated;
        if (r->t_first > 0) {
                ret->prompt_ms = r->t_first - r->t_admit;
                ret->decode_ms = r->t_last - r->t_first;
        }
        snprintf(ret->error, sizeof(ret->error), "%s", r->error);
        pthread_mutex_unlock(&r->e->lock);
}

void vkinfer_request_cancel(struct vkinfer_request *r) {
        if (!r)
                return;
        pthread_mutex_lock(&r->e->lock);
        r->cancel = true;
        scheduler_unqueue(r->e, r);
        pthread_cond_signal(&r->e->wake);
        pthread_mutex_unlock(&r->e->lock);
}

const char *vkinfer_request_model(const struct vkinfer_request *r) {
        return r->model_name;
}

void vkinfer_request_free(struct vkinfer_request *r) {
        if (!r)
                return;
        struct vkinfer_engine *e = r->e;
        pthread_mutex_lock(&e->lock);
        r->notify = NULL; /* from here on the scheduler never calls back */
        r->cancel = true;
        scheduler_unqueue(e, r); /* before client_gone: it must not free r */
        r->client_gone = true;
        bool mine = !r->in_scheduler;
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->lock);
        if (mine)
                request_destroy(r);
}
