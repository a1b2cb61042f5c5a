/* Submitting requests to the engine off the event loop: rendering the chat
 * template and tokenizing a long prompt take long enough (a 1 MB prompt,
 * a good part of a second) to stall every other client if done on the loop.
 * One worker thread takes the jobs in order; the loop learns that a job is
 * done through the Manager's eventfd and picks the result up. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "vkinfer/engine.h"

struct submit_job {
        /* set by the loop; params and what it points to must stay until done */
        const struct vkinfer_gen_params *params;
        vkinfer_notify_fn notify;
        void *userdata;
        /* set by the worker, to read once done */
        int r;
        struct vkinfer_request *req;
        struct vkinfer_error err;
        atomic_bool done;
        struct submit_job *next; /* the worker's queue */
};

struct submitter;

/* Starts the worker; a finished job writes to notify_fd. */
int submitter_new(struct vkinfer_engine *e, int notify_fd, struct submitter **ret);
/* Queues j (loop thread); j must not move or go until it is done. */
void submitter_queue(struct submitter *s, struct submit_job *j);
/* Waits for the job running, if any; jobs never started end with
 * -ESHUTDOWN. Then joins the worker and frees s. NULL ok. */
struct submitter *submitter_free(struct submitter *s);
