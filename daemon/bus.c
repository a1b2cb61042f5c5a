/* org.vkinfer.Inference1 over sd-bus. Each Chat/Complete call creates a
 * request object /org/vkinfer/Inference1/request/N implementing
 * org.vkinfer.Inference1.Request (Cancel, Delta, Finished); it disappears
 * after Finished. With the option cancel_on_disconnect, a caller that leaves
 * the bus cancels its requests (off by default, so that a one-shot
 * `busctl call` can start a chat that others watch). On the
 * system bus the signals go only to the caller (other users must not read
 * them); on a session bus they are broadcast, so `gdbus monitor` shows them. */
#include "bus.h"
#include "params.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>

#include "access.h"
#include "log.h"
#include "manager.h"
#include "submit.h"
#include "vkinfer/vkinfer.h"

#define BUS_NAME "org.vkinfer.Inference1"
#define BUS_PATH "/org/vkinfer/Inference1"
#define BUS_IFACE "org.vkinfer.Inference1"
#define BUS_REQ_IFACE "org.vkinfer.Inference1.Request"
#define BUS_MAX_OPTIONS 32

struct bus_request {
        struct manager *m;
        uint64_t id;
        char path[96];
        char *sender;
        char *model;
        sd_bus_slot *slot;
        sd_bus_track *track;
        sd_bus_message *call; /* Chat/Complete, answered once submitted */
        struct submit_job job;  /* with the submission thread while submitting */
        bool submitting;
        bool caller_left;       /* with cancel_on_disconnect, while submitting */
        struct vkinfer_request *req;
        atomic_bool pending;
        bool finished;
        bool shutdown;     /* cancelled by the drain timeout */
        bool track_caller; /* cancel when the caller leaves the bus */
        /* storage the engine params point into */
        struct vkinfer_message *messages;
        char **strings;
        size_t n_strings;
        const char *stop[PARAMS_MAX_STOP];
        struct vkinfer_gen_params params; /* what the job submits */
        struct bus_request *prev, *next;
};

static const char *error_name(int r) {
        switch (r) {
        case -ENOENT: return "org.vkinfer.Error.UnknownModel";
        case -E2BIG: return "org.vkinfer.Error.ContextExceeded";
        case -EBUSY: case -EAGAIN: return "org.vkinfer.Error.Busy";
        case -EINVAL: return "org.vkinfer.Error.InvalidArgument";
        case -ENODEV: case -ESHUTDOWN: return "org.vkinfer.Error.Unavailable";
        default: return "org.vkinfer.Error.Internal";
        }
}

/* allow-users / allow-groups, as on the socket: the caller's uid from the
 * bus, its groups from the bus or, where the bus does not give them, from
 * /proc (sd-bus's augmentation). */
static int check_caller(sd_bus_message *msg, struct manager *m, sd_bus_error *error) {
        if (!access_restricted(&m->config))
                return 0;
        sd_bus_creds *c = NULL;
        uid_t uid;
        gid_t gid;
        const gid_t *sup = NULL;
        bool allowed = false;
        int r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS |
                                                       SD_BUS_CREDS_AUGMENT, &c);
        if (r >= 0 && sd_bus_creds_get_euid(c, &uid) >= 0) {
                int n = sd_bus_creds_get_supplementary_gids(c, &sup);
                allowed = (sd_bus_creds_get_egid(c, &gid) >= 0 && access_allowed(&m->config, uid, &gid, 1)) ||
                          access_allowed(&m->config, uid, sup, n > 0 ? (size_t) n : 0);
                if (!allowed)
                        log_info("D-Bus %s from %s (uid %u): refused by allow-users / allow-groups",
                                 sd_bus_message_get_member(msg), sd_bus_message_get_sender(msg), (unsigned) uid);
        } else {
                log_info("D-Bus %s from %s: cannot identify the caller (%s), refused", sd_bus_message_get_member(msg),
                         sd_bus_message_get_sender(msg), strerror(r < 0 ? -r : ENODATA));
        }
        sd_bus_creds_unref(c);
        if (allowed)
                return 0;
        return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                "this user may not use vkinferd (allow-users / allow-groups)");
}

/* ---- request objects ---- */

static void request_unlink(struct bus_request *br) {
        struct manager *m = br->m;
        if (br->prev)
                br->prev->next = br->next;
        else if (m->bus_requests == br)
                m->bus_requests = br->next;
        if (br->next)
                br->next->prev = br->prev;
        br->prev = br->next = NULL;
        m->n_bus_requests--;
}

static void request_free(struct bus_request *br) {
        if (!br)
                return;
        /* bus_stop frees requests still submitting only once the submission
         * thread has stopped (every job done). */
        if (br->submitting && atomic_load(&br->job.done) && br->job.r >= 0)
                br->req = br->job.req;
        vkinfer_request_free(br->req); /* no notify after this */
        sd_bus_message_unref(br->call);
        request_unlink(br);
        sd_bus_slot_unref(br->slot);
        sd_bus_track_unref(br->track);
        for (size_t i = 0; i < br->n_strings; i++)
                free(br->strings[i]);
        free(br->strings);
        free(br->messages);
        free(br->sender);
        free(br->model);
        struct manager *m = br->m;
        free(br);
        manager_exchange_done(m);
}

static int method_cancel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct bus_request *br = userdata;
        int r = check_caller(msg, br->m, error);
        if (r < 0)
                return r;
        if (br->req && !br->finished)
                vkinfer_request_cancel(br->req);
        return sd_bus_reply_method_return(msg, NULL);
}

static int property_model(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct bus_request *br = userdata;
        return sd_bus_message_append(reply, "s", br->model ? br->model : "");
}

static const sd_bus_vtable request_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Model", "s", property_model, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("Delta", "ss", SD_BUS_PARAM(content) SD_BUS_PARAM(reasoning), 0),
        SD_BUS_SIGNAL_WITH_NAMES("Finished", "sa{sv}", SD_BUS_PARAM(reason) SD_BUS_PARAM(usage), 0),
        SD_BUS_VTABLE_END,
};

static int emit(struct bus_request *br, const char *member, sd_bus_message **ret) {
        int r = sd_bus_message_new_signal(br->m->bus, ret, br->path, BUS_REQ_IFACE, member);
        if (r >= 0 && br->m->config.user_instance == false)
                r = sd_bus_message_set_destination(*ret, br->sender);
        return r;
}

static void send_finished(struct bus_request *br, const struct vkinfer_output *o) {
        sd_bus_message *s = NULL;
        const char *reason = o->finish == VKINFER_FINISH_STOP ? "stop"
                             : o->finish == VKINFER_FINISH_LENGTH ? "length"
                             : o->finish == VKINFER_FINISH_CANCELLED ? "cancelled"
                                                                     : "error";
        int r = emit(br, "Finished", &s);
        if (r >= 0)
                r = sd_bus_message_append(s, "sa{sv}", reason, o->finish == VKINFER_FINISH_ERROR ? 3 : 2,
                                          "prompt_tokens", "u", o->prompt_tokens, "completion_tokens", "u",
                                          o->completion_tokens, "error", "s", o->error);
        if (r >= 0)
                r = sd_bus_send(br->m->bus, s, NULL);
        if (r < 0)
                log_warning("%s: cannot send Finished: %s", br->path, strerror(-r));
        sd_bus_message_unref(s);
}

/* br's job is done: Chat/Complete get their answer, the request object or
 * the error. */
static void submitted(struct bus_request *br) {
        struct manager *m = br->m;
        br->submitting = false;
        int r = br->job.r;
        if (r < 0) {
                const char *msg = br->job.err.message[0] ? br->job.err.message : strerror(-r);
                (void) sd_bus_reply_method_errorf(br->call, error_name(r), "%s", msg);
                log_info("%s: refused: %s", br->path, msg);
                request_free(br);
                return;
        }
        br->req = br->job.req;
        if (!br->model && !(br->model = strdup(vkinfer_request_model(br->req))))
                log_warning("%s: out of memory", br->path);
        r = sd_bus_reply_method_return(br->call, "o", br->path);
        br->call = sd_bus_message_unref(br->call);
        if (r < 0)
                log_warning("%s: cannot answer the call: %s", br->path, strerror(-r));
        log_info("%s: %s request from %s", br->path, br->messages ? "chat" : "completion", br->sender);
        if (m->drain_expired)
                br->shutdown = true;
        if (m->drain_expired || br->caller_left || r < 0)
                vkinfer_request_cancel(br->req);
        atomic_store(&br->pending, true); /* output may have come already */
}

void bus_dispatch_notifications(struct manager *m) {
        struct bus_request *next;
        for (struct bus_request *br = m->bus_requests; br; br = next) {
                next = br->next;
                if (br->submitting) {
                        if (!atomic_load(&br->job.done))
                                continue; /* its notifies wait (pending stays set) */
                        submitted(br); /* may free br */
                }
        }
        for (struct bus_request *br = m->bus_requests; br; br = next) {
                next = br->next;
                if (!atomic_exchange(&br->pending, false))
                        continue;
                struct vkinfer_output o = {0};
                vkinfer_request_take(br->req, &o);
                if ((o.content && *o.content) || (o.reasoning && *o.reasoning)) {
                        sd_bus_message *s = NULL;
                        int r = emit(br, "Delta", &s);
                        if (r >= 0)
                                r = sd_bus_message_append(s, "ss", o.content ? o.content : "",
                                                          o.reasoning ? o.reasoning : "");
                        if (r >= 0)
                                r = sd_bus_send(m->bus, s, NULL);
                        sd_bus_message_unref(s);
                }
                if (o.finish == VKINFER_FINISH_CANCELLED && br->shutdown) {
                        /* Not the caller's doing: say why it ends. */
                        o.finish = VKINFER_FINISH_ERROR;
                        snprintf(o.error, sizeof(o.error),
                                 "vkinferd is shutting down: the drain timeout cancelled the request");
                }
                if (o.finish != VKINFER_RUNNING) {
                        br->finished = true;
                        send_finished(br, &o);
                        request_free(br);
                }
                free(o.content);
                free(o.reasoning);
                free(o.logprobs);
        }
}

static void on_bus_notify(void *userdata) {
        struct bus_request *br = userdata; /* scheduler thread */
        atomic_store(&br->pending, true);
        eventfd_write(br->m->notify_fd, 1);
}

static int on_caller_gone(sd_bus_track *t, void *userdata) {
        struct bus_request *br = userdata;
        if (!br->finished && (br->req || br->submitting)) {
                log_info("%s: caller left the bus, cancelling", br->path);
                if (br->req)
                        vkinfer_request_cancel(br->req);
                else
                        br->caller_left = true; /* cancelled once submitted */
        }
        /* Once is enough: drop the tracking (its match goes with it), and
         * return 1, as 0 would have sd-bus call this again at every loop
         * iteration while the track stays empty. */
        br->track = sd_bus_track_unref(br->track);
        return 1;
}

/* ---- options a{sv} ---- */

static char *keep(struct bus_request *br, const char *s) {
        char **v = realloc(br->strings, (br->n_strings + 1) * sizeof(*v));
        if (!v)
                return NULL;
        br->strings = v;
        char *c = strdup(s);
        if (c)
                br->strings[br->n_strings++] = c;
        return c;
}

static int read_number(sd_bus_message *msg, const char *contents, double *ret) {
        union {
                double d;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                int16_t n;
                uint16_t q;
                uint8_t y;
        } v;
        int r = sd_bus_message_read_basic(msg, contents[0], &v);
        if (r < 0)
                return r;
        switch (contents[0]) {
        case 'd': *ret = v.d; break;
        case 'i': *ret = v.i; break;
        case 'u': *ret = v.u; break;
        case 'x': *ret = (double) v.x; break;
        case 't': *ret = (double) v.t; break;
        case 'n': *ret = v.n; break;
        case 'q': *ret = v.q; break;
        case 'y': *ret = v.y; break;
        default: return -EINVAL;
        }
        return 0;
}

/* seed, with the HTTP API's range (params_set_seed). 64-bit values are
 * read exactly (a double rounds them). */
static int read_seed(sd_bus_message *msg, const char *contents, struct vkinfer_sampling *s, sd_bus_error *error) {
        char why[160];
        int r, k;
        if (contents[0] == 't') {
                uint64_t v = 0;
                if ((r = sd_bus_message_read_basic(msg, 't', &v)) < 0)
                        return r;
                k = v <= PARAMS_SEED_MAX ? params_set_seed(s, (int64_t) v, why, sizeof(why))
                                         : params_set_seed_double(s, (double) v, why, sizeof(why));
        } else if (contents[0] == 'x') {
                int64_t x = 0;
                if ((r = sd_bus_message_read_basic(msg, 'x', &x)) < 0)
                        return r;
                k = params_set_seed(s, x, why, sizeof(why));
        } else {
                double d = 0;
                if ((r = read_number(msg, contents, &d)) < 0)
                        return r;
                k = params_set_seed_double(s, d, why, sizeof(why));
        }
        if (k < 0)
                return sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument", "option %s", why);
        return 0;
}

static int parse_options(sd_bus_message *msg, struct bus_request *br, struct vkinfer_gen_params *p,
                         sd_bus_error *error) {
        /* Keys point into msg, which outlives this call. */
        const char *seen[BUS_MAX_OPTIONS];
        size_t n_seen = 0;
        int r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *key, *contents;
                char type;
                if ((r = sd_bus_message_read(msg, "s", &key)) < 0 ||
                    (r = sd_bus_message_peek_type(msg, &type, &contents)) < 0 ||
                    (r = sd_bus_message_enter_container(msg, 'v', contents)) < 0)
                        return r;
                /* A repeated key is refused, as HTTP refuses a JSON object
                 * with a repeated key. */
                for (size_t i = 0; i < n_seen; i++)
                        if (strcmp(seen[i], key) == 0)
                                return sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument",
                                                         "option '%s' is given twice", key);
                if (n_seen == BUS_MAX_OPTIONS)
                        return sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument",
                                                 "at most %d options", BUS_MAX_OPTIONS);
                seen[n_seen++] = key;
                double x = 0;
                bool numeric = strchr("diuxtnqy", contents[0]) && contents[1] == 0;
                if (strcmp(key, "model") == 0 && strcmp(contents, "s") == 0) {
                        const char *s;
                        if ((r = sd_bus_message_read(msg, "s", &s)) < 0)
                                return r;
                        if (!(p->model = br->model = strdup(s)))
                                return -ENOMEM;
                } else if (strcmp(key, "seed") == 0 && numeric) {
                        if ((r = read_seed(msg, contents, &p->sampling, error)) < 0)
                                return r;
                } else if (strcmp(key, "stop") == 0 && strcmp(contents, "as") == 0) {
                        char **strv = NULL;
                        if ((r = sd_bus_message_read_strv(msg, &strv)) < 0)
                                return r;
                        size_t n = 0;
                        bool empty = false;
                        for (; strv && strv[n]; n++) {
                                empty |= strv[n][0] == 0;
                                if (n < PARAMS_MAX_STOP)
                                        br->stop[n] = keep(br, strv[n]);
                                free(strv[n]);
                        }
                        free(strv);
                        char why[160];
                        if (params_check_stop_count(n, why, sizeof(why)) < 0 ||
                            (empty && params_check_stop(0, why, sizeof(why)) < 0))
                                return sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument", "option 'stop': %s",
                                                         why);
                        p->stop = br->stop;
                        p->n_stop = n;
                } else if (strcmp(key, "ignore_eos") == 0 && strcmp(contents, "b") == 0) {
                        int b;
                        if ((r = sd_bus_message_read(msg, "b", &b)) < 0)
                                return r;
                        p->ignore_eos = b;
                } else if (strcmp(key, "cancel_on_disconnect") == 0 && strcmp(contents, "b") == 0) {
                        int b;
                        if ((r = sd_bus_message_read(msg, "b", &b)) < 0)
                                return r;
                        br->track_caller = b;
                } else if (strcmp(key, "enable_thinking") == 0 && strcmp(contents, "b") == 0) {
                        int b;
                        if ((r = sd_bus_message_read(msg, "b", &b)) < 0)
                                return r;
                        p->template_vars_json = keep(br, b ? "{\"enable_thinking\":true}" : "{\"enable_thinking\":false}");
                } else if (numeric && (r = read_number(msg, contents, &x)) >= 0) {
                        char why[160];
                        int k = params_set(p, key, x, why, sizeof(why));
                        if (k < 0)
                                return sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument", "option %s", why);
                        if (k == 0)
                                return sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument",
                                                         "option '%s' is unknown", key);
                } else {
                        return sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument",
                                                 "option '%s' of type '%s' is not supported", key, contents);
                }
                if (r < 0)
                        return r;
                if ((r = sd_bus_message_exit_container(msg)) < 0 || (r = sd_bus_message_exit_container(msg)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

/* ---- Chat / Complete ---- */

static int start_request(sd_bus_message *msg, struct manager *m, bool chat, sd_bus_error *error) {
        struct bus_request *br = calloc(1, sizeof(*br));
        if (!br)
                return -ENOMEM;
        br->m = m;
        br->id = ++m->next_bus_request_id;
        snprintf(br->path, sizeof(br->path), BUS_PATH "/request/%llu", (unsigned long long) br->id);
        br->next = m->bus_requests;
        if (m->bus_requests)
                m->bus_requests->prev = br;
        m->bus_requests = br;
        m->n_bus_requests++;

        struct vkinfer_gen_params p = {
                .max_tokens = -1,
                .top_logprobs = -1,
                .sampling = {.temperature = 1.0f, .top_p = 1.0f, .repeat_penalty = 1.0f},
        };
        int r;
        if (m->draining) {
                r = sd_bus_error_set(error, "org.vkinfer.Error.Unavailable", "vkinferd is shutting down");
                goto fail;
        }
        if (chat) {
                size_t cap = 0, n = 0;
                if ((r = sd_bus_message_enter_container(msg, 'a', "(ss)")) < 0)
                        goto fail;
                const char *role, *content;
                while ((r = sd_bus_message_read(msg, "(ss)", &role, &content)) > 0) {
                        char why[160];
                        const char *as = params_role(role, why, sizeof(why));
                        if (!as) {
                                r = sd_bus_error_setf(error, "org.vkinfer.Error.InvalidArgument", "messages[%zu]: %s",
                                                      n, why);
                                goto fail;
                        }
                        if (n == cap) {
                                cap = cap ? cap * 2 : 4;
                                struct vkinfer_message *v = realloc(br->messages, cap * sizeof(*v));
                                if (!v) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                                br->messages = v;
                        }
                        br->messages[n++] = (struct vkinfer_message){as, keep(br, content), NULL};
                }
                if (r < 0 || (r = sd_bus_message_exit_container(msg)) < 0)
                        goto fail;
                if (n == 0) {
                        r = sd_bus_error_set(error, "org.vkinfer.Error.InvalidArgument", "no messages");
                        goto fail;
                }
                p.messages = br->messages;
                p.n_messages = n;
        } else {
                const char *prompt;
                if ((r = sd_bus_message_read(msg, "s", &prompt)) < 0)
                        goto fail;
                p.prompt = keep(br, prompt);
        }
        if ((r = parse_options(msg, br, &p, error)) < 0)
                goto fail;

        /* The HTTP body limit, for the prompt's text: over D-Bus it would
         * only be limited by the bus's message size (tens of MB). */
        char why[160];
        if (params_check_prompt_size(&p, m->config.max_body_bytes, why, sizeof(why)) < 0) {
                r = sd_bus_error_setf(error, "org.vkinfer.Error.TooLarge", "%s", why);
                goto fail;
        }
        br->sender = strdup(sd_bus_message_get_sender(msg) ? sd_bus_message_get_sender(msg) : "");
        if (!br->sender) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = sd_bus_add_object_vtable(m->bus, &br->slot, br->path, BUS_REQ_IFACE, request_vtable, br)) < 0)
                goto fail;
        if (br->track_caller && ((r = sd_bus_track_new(m->bus, &br->track, on_caller_gone, br)) < 0 ||
                                 (r = sd_bus_track_add_sender(br->track, msg)) < 0))
                goto fail;
        /* Rendered and tokenized off the loop; the call is answered then. */
        br->params = p;
        br->job = (struct submit_job){.params = &br->params, .notify = on_bus_notify, .userdata = br};
        br->call = sd_bus_message_ref(msg);
        br->submitting = true;
        submitter_queue(m->submitter, &br->job);
        return 1;
fail:
        request_free(br);
        return r;
}

static int method_chat(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = check_caller(msg, userdata, error);
        return r < 0 ? r : start_request(msg, userdata, true, error);
}

static int method_complete(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = check_caller(msg, userdata, error);
        return r < 0 ? r : start_request(msg, userdata, false, error);
}

static int method_list_models(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        sd_bus_message *reply = NULL;
        int r = check_caller(msg, m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sssut)");
        for (size_t i = 0; r >= 0 && i < vkinfer_engine_model_count(m->engine); i++) {
                const struct vkinfer_model_info *mi = vkinfer_engine_model(m->engine, i);
                r = sd_bus_message_append(reply, "(sssut)", mi->name, mi->architecture, mi->path, mi->n_ctx,
                                          mi->n_params);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct manager *m = userdata;
        struct vkinfer_engine_stats st;
        vkinfer_engine_stats(m->engine, &st);
        if (strcmp(property, "Version") == 0)
                return sd_bus_message_append(reply, "s", vkinfer_version());
        if (strcmp(property, "Device") == 0)
                return sd_bus_message_append(reply, "s", vkinfer_engine_device_name(m->engine));
        if (strcmp(property, "QueueLength") == 0)
                return sd_bus_message_append(reply, "u", st.queued);
        if (strcmp(property, "ActiveRequests") == 0)
                return sd_bus_message_append(reply, "u", st.running);
        if (strcmp(property, "Models") == 0) {
                int r = sd_bus_message_open_container(reply, 'a', "s");
                for (size_t i = 0; r >= 0 && i < vkinfer_engine_model_count(m->engine); i++)
                        r = sd_bus_message_append(reply, "s", vkinfer_engine_model(m->engine, i)->name);
                return r < 0 ? r : sd_bus_message_close_container(reply);
        }
        return -ENOENT;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Device", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Models", "as", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("QueueLength", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("ActiveRequests", "u", property_get, 0, 0),
        SD_BUS_METHOD_WITH_NAMES("ListModels", "", "", "a(sssut)", SD_BUS_PARAM(models), method_list_models,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Chat", "a(ss)a{sv}", SD_BUS_PARAM(messages) SD_BUS_PARAM(options), "o",
                                 SD_BUS_PARAM(request), method_chat, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("Complete", "sa{sv}", SD_BUS_PARAM(prompt) SD_BUS_PARAM(options), "o",
                                 SD_BUS_PARAM(request), method_complete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_start(struct manager *m, bool user_bus) {
        int r = user_bus ? sd_bus_open_user(&m->bus) : sd_bus_open_system(&m->bus);
        if (r < 0)
                return r;
        if ((r = sd_bus_add_object_vtable(m->bus, NULL, BUS_PATH, BUS_IFACE, manager_vtable, m)) < 0 ||
            (r = sd_bus_add_object_manager(m->bus, NULL, BUS_PATH)) < 0 ||
            (r = sd_bus_attach_event(m->bus, m->event, 0)) < 0 ||
            (r = sd_bus_request_name(m->bus, BUS_NAME, 0)) < 0) {
                m->bus = sd_bus_flush_close_unref(m->bus);
                return r;
        }
        return 0;
}

void bus_cancel_all(struct manager *m) {
        for (struct bus_request *br = m->bus_requests; br; br = br->next)
                if (br->req) {
                        br->shutdown = true;
                        vkinfer_request_cancel(br->req);
                }
}

void bus_stop(struct manager *m) {
        while (m->bus_requests) {
                request_free(m->bus_requests);
        }
        m->bus = sd_bus_flush_close_unref(m->bus);
}
