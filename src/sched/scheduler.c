/* The scheduler thread: the only user of the runners (and so of the GPU).
 * Each step admits waiting requests while sequences and cache allow, then
 * builds one batch per model from every running sequence: one decode token
 * each, plus chunks of prompts still being read, within max_batch_tokens
 * (continuous batching). After the step it samples each sequence's next
 * token with the sequence's own sampler, turns it into text, and wakes the
 * client. Cancelled and finished sequences free their cache at once. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/engine-internal.h"

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* Lock held. Marks r finished and wakes its client. */
static void finish(struct vkinfer_request *r, enum vkinfer_finish how, const char *error) {
        if (r->finish != VKINFER_RUNNING)
                return;
        text_filter_flush(&r->filter, &r->content, &r->reasoning);
        r->finish = how;
        if (error)
                snprintf(r->error, sizeof(r->error), "%.255s", error);
        if (r->notify)
                r->notify(r->userdata);
}

/* Lock held. The scheduler lets go of r: the client frees it later, or it
 * is freed now when the client already has. */
static void release(struct vkinfer_request *r) {
        if (r->has_seq) {
                r->m->runner->ops->seq_close(r->m->runner, r->seq);
                r->has_seq = false;
        }
        r->in_scheduler = false;
        r->m->refs--;
        if (r->client_gone)
                request_destroy(r);
}

/* Lock held. Drops finished and cancelled sequences from the running list. */
static void retire(struct vkinfer_engine *e) {
        struct vkinfer_request **pp = &e->running;
        while (*pp) {
                struct vkinfer_request *r = *pp;
                if (r->cancel)
                        finish(r, VKINFER_FINISH_CANCELLED, NULL);
                if (r->finish == VKINFER_RUNNING) {
                        pp = &r->next;
                        continue;
                }
                *pp = r->next;
                r->next = NULL;
                e->n_running--;
                release(r);
        }
}

/* Lock held. Drops cancelled requests from anywhere in the queue, so a
 * client that left does not wait for a slot only to be dropped then. */
static void sweep_queue(struct vkinfer_engine *e) {
        struct vkinfer_request **pp = &e->queue_head, *prev = NULL;
        while (*pp) {
                struct vkinfer_request *r = *pp;
                if (!r->cancel) {
                        prev = r;
                        pp = &r->next;
                        continue;
                }
                *pp = r->next;
                if (e->queue_tail == r)
                        e->queue_tail = prev;
                e->n_queued--;
                r->next = NULL;
                finish(r, VKINFER_FINISH_CANCELLED, NULL);
                release(r);
        }
}

void scheduler_unqueue(struct vkinfer_engine *e, struct vkinfer_request *r) {
        if (r == e->admitting)
                return; /* admit() sees the cancel when it has the lock again */
        struct vkinfer_request **pp = &e->queue_head, *prev = NULL;
        while (*pp && *pp != r) {
                prev = *pp;
                pp = &prev->next;
        }
        if (!*pp)
                return; /* running, or already out */
        *pp = r->next;
        if (e->queue_tail == r)
                e->queue_tail = prev;
        e->n_queued--;
        r->next = NULL;
        finish(r, VKINFER_FINISH_CANCELLED, NULL);
        release(r);
        pthread_cond_signal(&e->wake); /* a retired model may be unloaded now */
}

/* Lock held; released while the device is opened and the weights upload.
 * Gives m a new runner after its device was lost (see lose_device): returns
 * false, with the reason in err, when that fails too. */
static bool reopen(struct vkinfer_engine *e, struct engine_model *m, struct vkinfer_err *err) {
        if (m->runner)
                return true;
        struct runner *run = NULL;
        pthread_mutex_unlock(&e->lock);
        int r = engine_reopen_runner(e, m, &run, err);
        pthread_mutex_lock(&e->lock);
        if (r < 0)
                return false;
        m->runner = run;
        return true;
}

/* Lock held. Moves queued requests to running while there is room. */
static void admit(struct vkinfer_engine *e) {
        sweep_queue(e);
        while (e->queue_head && e->n_running < e->config.max_sequences) {
                struct vkinfer_request *r = e->queue_head;
                struct vkinfer_err err = {{0}};
                int ret = 0;
                e->admitting = r; /* reopen() lets go of the lock */
                bool opened = r->cancel || reopen(e, r->m, &err);
                e->admitting = NULL;
                if (!opened) {
                        char why[sizeof(err.msg)];
                        snprintf(why, sizeof(why), "%s", err.msg);
                        err_set(&err, -EIO, "the device was lost and model '%s' cannot be loaded again: %s",
                                r->m->name, why);
                        ret = -EIO;
                } else if (!r->cancel) {
                        ret = r->m->runner->ops->seq_open(r->m->runner, r->n_prompt + r->max_new, &r->seq, &err);
                }
                if (ret == -ENOSPC)
                        break; /* wait until a running sequence frees its cache */
                e->queue_head = r->next;
                if (!e->queue_head)
                        e->queue_tail = NULL;
                e->n_queued--;
                r->next = NULL;
                if (r->cancel || ret < 0) {
                        finish(r, r->cancel ? VKINFER_FINISH_CANCELLED : VKINFER_FINISH_ERROR, err.msg);
                        release(r);
                        continue;
                }
                r->has_seq = true;
                r->t_admit = now_ms();
                r->next = e->running;
                e->running = r;
                e->n_running++;
        }
}

/* Lock held. Feeds one sampled token of r through the decoder and the
 * stop/reasoning filter, and ends r when it should end. */
static void emit_token(struct vkinfer_request *r, int32_t tok) {
        const struct tokenizer *t = r->m->tok;
        r->n_generated++;
        r->t_last = now_ms();
        if (r->n_generated == 1)
                r->t_first = r->t_last;
        if (tokenizer_is_eog(t, tok)) {
                finish(r, VKINFER_FINISH_STOP, NULL);
                return;
        }
        const char *text = NULL;
        size_t len = 0;
        if (tokenizer_is_special(t, tok)) {
                /* Control tokens are not text, except the reasoning markers
                 * some vocabularies mark as control. */
                size_t n;
                const char *s = tokenizer_token_text(t, tok, &n);
                if (s && (strcmp(s, "<think>") == 0 || strcmp(s, "</think>") == 0)) {
                        text = s;
                        len = n;
                }
        } else {
                (void) tokenizer_decoder_push(r->decoder, tok, &text, &len, NULL);
        }
        if (len && text_filter_feed(&r->filter, text, len, &r->content, &r->reasoning)) {
                finish(r, VKINFER_FINISH_STOP, NULL);
                return;
        }
        r->last_token = tok;
        if (r->n_generated >= r->max_new || r->n_cached + 1 >= r->m->runner->n_ctx) {
                const char *rest;
                size_t rn = 0;
                tokenizer_decoder_flush(r->decoder, &rest, &rn);
                if (rn)
                        text_filter_feed(&r->filter, rest, rn, &r->content, &r->reasoning);
                finish(r, VKINFER_FINISH_LENGTH, NULL);
                return;
        }
        if (r->notify && (r->content.len || r->reasoning.len))
                r->notify(r->userdata);
}

/* The chosen token's log-probability and the n best alternatives, from raw
 * logits (before penalties and sampling filters). */
static void token_logprob(const struct tokenizer *t, const float *logits, uint32_t n_vocab, int32_t tok, int32_t n,
                          struct vkinfer_token_logprob *ret) {
        double max = logits[0], sum = 0;
        for (uint32_t v = 1; v < n_vocab; v++)
                if (logits[v] > max)
                        max = logits[v];
        for (uint32_t v = 0; v < n_vocab; v++)
                sum += exp((double) logits[v] - max);
        double lse = max + log(sum);
        memset(ret, 0, sizeof(*ret));
        size_t len = 0;
        const char *p = tokenizer_token_piece(t, tok, &len);
        len = len < sizeof(ret->text) ? len : sizeof(ret->text) - 1;
        if (p)
                memcpy(ret->text, p, len);
        ret->text_len = (uint32_t) len;
        ret->logprob = (float) ((double) logits[tok] - lse);
        /* The n best: insertion into a short sorted list. */
        int32_t best[VKINFER_MAX_TOP_LOGPROBS];
        uint32_t nb = 0;
        for (uint32_t v = 0; v < n_vocab && n > 0; v++) {
                if (nb == (uint32_t) n && logits[v] <= logits[best[nb - 1]])
                        continue;
                uint32_t k = nb < (uint32_t) n ? nb++ : nb - 1;
                while (k > 0 && logits[best[k - 1]] < logits[v]) {
                        best[k] = best[k - 1];
                        k--;
                }
                best[k] = (int32_t) v;
        }
        for (uint32_t k = 0; k < nb; k++) {
                p = tokenizer_token_piece(t, best[k], &len);
                len = len < sizeof(ret->top[k].text) ? len : sizeof(ret->top[k].text) - 1;
                if (p)
                        memcpy(ret->top[k].text, p, len);
                ret->top[k].text_len = (uint32_t) len;
                ret->top[k].logprob = (float) ((double) logits[best[k]] - lse);
        }
        ret->n_top = nb;
}

struct batch {
        struct runner_item *items;
        struct vkinfer_request **owners;
        size_t n, cap;
        float *logits;
        size_t logits_rows;
};

static int batch_reserve(struct batch *b, size_t n, uint32_t n_vocab) {
        if (n > b->cap) {
                struct runner_item *it = realloc(b->items, n * sizeof(*it));
                if (it)
                        b->items = it;
                struct vkinfer_request **ow = realloc(b->owners, n * sizeof(*ow));
                if (ow)
                        b->owners = ow;
                if (!it || !ow)
                        return -ENOMEM;
                b->cap = n;
        }
        if ((size_t) n * n_vocab > b->logits_rows) {
                float *l = realloc(b->logits, n * n_vocab * sizeof(float));
                if (!l)
                        return -ENOMEM;
                b->logits = l;
                b->logits_rows = n * n_vocab;
        }
        return 0;
}

/* Lock held. The device under m's runner is lost (VK_ERROR_DEVICE_LOST, or
 * another error that leaves its state unknown): every sequence of m ends
 * with an error, and the runner goes. The next request for m opens a new
 * one (reopen), so the daemon serves again once the driver has recovered;
 * other models are not touched. */
static void lose_device(struct vkinfer_engine *e, struct engine_model *m, const char *why) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the device was lost (%.180s); model '%s' is loaded again for the next request",
                 why, m->name);
        for (struct vkinfer_request *r = e->running; r; r = r->next)
                if (r->m == m) {
                        finish(r, VKINFER_FINISH_ERROR, msg);
                        if (r->has_seq) {
                                m->runner->ops->seq_close(m->runner, r->seq);
                                r->has_seq = false;
                        }
                }
        struct runner *old = m->runner;
        m->runner = NULL;
        pthread_mutex_unlock(&e->lock);
        old->ops->destroy(old);
        pthread_mutex_lock(&e->lock);
}

/* Lock held on entry and exit; released while the runner computes. */
static void step_model(struct vkinfer_engine *e, struct engine_model *m, struct batch *b) {
        struct runner *run = m->runner;
        if (!run)
                return; /* lost with its device; nothing of m runs */
        if (batch_reserve(b, e->n_running, run->n_vocab) < 0)
                return;
        b->n = 0;
        uint32_t budget = e->config.max_batch_tokens < run->max_tokens ? e->config.max_batch_tokens : run->max_tokens;
        /* Decode tokens first: a running answer never waits on a prompt. */
        for (struct vkinfer_request *r = e->running; r; r = r->next)
                if (r->m == m && r->finish == VKINFER_RUNNING && r->n_cached >= r->n_prompt && budget > 0) {
                        b->items[b->n] = (struct runner_item){r->seq, &r->last_token, 1, r->n_cached, true};
                        b->owners[b->n++] = r;
                        budget--;
                }
        for (struct vkinfer_request *r = e->running; r; r = r->next)
                if (r->m == m && r->finish == VKINFER_RUNNING && r->n_cached < r->n_prompt && budget > 0) {
                        uint32_t chunk = r->n_prompt - r->n_cached;
                        if (chunk > budget)
                                chunk = budget;
                        b->items[b->n] = (struct runner_item){r->seq, r->prompt + r->n_cached, chunk, r->n_cached,
                                                              r->n_cached + chunk == r->n_prompt};
                        b->owners[b->n++] = r;
                        budget -= chunk;
                }
        if (b->n == 0)
                return;

        pthread_mutex_unlock(&e->lock);
        struct vkinfer_err err = {{0}};
        int ret = run->ops->step(run, b->items, b->n, b->logits, &err);
        /* Sampling needs no lock: the samplers belong to this thread. */
        int32_t *next = calloc(b->n, sizeof(*next));
        struct vkinfer_token_logprob *lp = calloc(b->n, sizeof(*lp));
        size_t row = 0;
        if (ret >= 0 && next)
                for (size_t i = 0; i < b->n; i++)
                        if (b->items[i].want_logits) {
                                struct vkinfer_request *r = b->owners[i];
                                float *logits = b->logits + row++ * run->n_vocab;
                                if (r->ignore_eos)
                                        for (size_t k = 0; k < m->n_eog; k++)
                                                if ((uint32_t) m->eog_ids[k] < run->n_vocab)
                                                        logits[m->eog_ids[k]] = -INFINITY;
                                next[i] = sampler_sample(&r->sampler, logits);
                                sampler_accept(&r->sampler, next[i]);
                                if (r->top_logprobs >= 0 && lp)
                                        token_logprob(m->tok, logits, run->n_vocab, next[i], r->top_logprobs, &lp[i]);
                        }
        pthread_mutex_lock(&e->lock);

        if (ret == -EIO) {
                lose_device(e, m, err.msg);
                free(next);
                free(lp);
                return;
        }
        for (size_t i = 0; i < b->n; i++) {
                struct vkinfer_request *r = b->owners[i];
                if (ret < 0 || !next) {
                        finish(r, VKINFER_FINISH_ERROR, ret < 0 ? err.msg : "out of memory");
                        continue;
                }
                r->n_cached += b->items[i].n_tokens;
                if (b->items[i].want_logits && r->finish == VKINFER_RUNNING) {
                        if (r->top_logprobs >= 0 && lp) {
                                struct vkinfer_token_logprob *v =
                                        realloc(r->logprobs, (r->n_logprobs + 1) * sizeof(*v));
                                if (v) {
                                        r->logprobs = v;
                                        r->logprobs[r->n_logprobs++] = lp[i];
                                }
                        }
                        emit_token(r, next[i]);
                }
        }
        free(next);
        free(lp);
}

static void *scheduler_main(void *arg) {
        struct vkinfer_engine *e = arg;
        struct batch b = {0};
        pthread_mutex_lock(&e->lock);
        for (;;) {
                retire(e);
                admit(e);
                engine_reap_models(e);
                if (e->stop)
                        break;
                if (!e->running) {
                        pthread_cond_wait(&e->wake, &e->lock);
                        continue;
                }
                for (size_t i = 0; i < ENGINE_MAX_MODELS; i++)
                        if (e->models[i].loaded)
                                step_model(e, &e->models[i], &b);
        }
        /* Stopping: whatever runs or waits ends as cancelled. */
        for (struct vkinfer_request *r = e->running; r; r = r->next)
                r->cancel = true;
        retire(e);
        while (e->queue_head) {
                struct vkinfer_request *r = e->queue_head;
                e->queue_head = r->next;
                e->n_queued--;
                finish(r, VKINFER_FINISH_CANCELLED, NULL);
                release(r);
        }
        e->queue_tail = NULL;
        pthread_mutex_unlock(&e->lock);
        free(b.items);
        free(b.owners);
        free(b.logits);
        return NULL;
}

int scheduler_start(struct vkinfer_engine *e) {
        int r = pthread_create(&e->thread, NULL, scheduler_main, e);
        if (r != 0)
                return -r;
        e->thread_started = true;
        return 0;
}

void scheduler_stop(struct vkinfer_engine *e) {
        if (!e->thread_started)
                return;
        pthread_mutex_lock(&e->lock);
        e->stop = true;
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->lock);
        pthread_join(e->thread, NULL);
        e->thread_started = false;
}
