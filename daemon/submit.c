/* submit.h: one worker thread running vkinfer_engine_submit. */
#include "submit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>

struct submitter {
        struct vkinfer_engine *engine;
        int notify_fd;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        struct submit_job *head, *tail;
        bool stop;
};

static void job_done(struct submitter *s, struct submit_job *j) {
        atomic_store(&j->done, true); /* publishes r, req and err */
        eventfd_write(s->notify_fd, 1);
}

static void *worker(void *arg) {
        struct submitter *s = arg;
        pthread_mutex_lock(&s->lock);
        for (;;) {
                while (!s->head && !s->stop)
                        pthread_cond_wait(&s->wake, &s->lock);
                struct submit_job *j = s->head;
                if (!j)
                        break; /* stopping, nothing left */
                s->head = j->next;
                if (!s->head)
                        s->tail = NULL;
                if (s->stop) {
                        j->r = -ESHUTDOWN;
                        snprintf(j->err.message, sizeof(j->err.message), "vkinferd is shutting down");
                        job_done(s, j);
                        continue;
                }
                pthread_mutex_unlock(&s->lock);
                j->r = vkinfer_engine_submit(s->engine, j->params, j->notify, j->userdata, &j->req, &j->err);
                job_done(s, j);
                pthread_mutex_lock(&s->lock);
        }
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int submitter_new(struct vkinfer_engine *e, int notify_fd, struct submitter **ret) {
        struct submitter *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->engine = e;
        s->notify_fd = notify_fd;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->wake, NULL);
        int r = pthread_create(&s->thread, NULL, worker, s);
        if (r != 0) {
                pthread_mutex_destroy(&s->lock);
                pthread_cond_destroy(&s->wake);
                free(s);
                return -r;
        }
        *ret = s;
        return 0;
}

void submitter_queue(struct submitter *s, struct submit_job *j) {
        j->next = NULL;
        j->req = NULL;
        atomic_store(&j->done, false);
        pthread_mutex_lock(&s->lock);
        if (s->tail)
                s->tail->next = j;
        else
                s->head = j;
        s->tail = j;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
}

struct submitter *submitter_free(struct submitter *s) {
        if (!s)
                return NULL;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        free(s);
        return NULL;
}
