/* HTTP routing and exchanges: one struct http_exchange per request, created
 * on MHD's first call for it and freed in its completion callback. Generation
 * requests are handed to the engine; their connections are suspended while
 * waiting and resumed when the scheduler thread signals new output. Each
 * connection has request-deadline to send a whole request (struct peer). */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "access.h"
#include "api.h"
#include "log.h"
#include "manager.h"
#include "params.h"
#include "submit.h"

struct http_server {
        struct manager *m;
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer;
        struct acceptor *acceptor; /* accepts and screens, then hands to MHD */
        bool is_unix;
        uint64_t deadline_usec;   /* request-deadline */
        uint64_t handoff_accepted; /* the connection MHD is being given */
};

/* Where a connection stands against request-deadline. */
enum deadline_state {
        DEADLINE_RECEIVING, /* a request is arriving: past the deadline, 408 */
        DEADLINE_IDLE,      /* between requests: past it, closed without a word */
        DEADLINE_ANSWERED,  /* answered before all of it came: closed without a word */
        DEADLINE_OFF,       /* the whole request is in */
};

struct peer {
        struct http_server *s;
        int fd;
        bool known;
        struct ucred cred;
        gid_t *groups; /* SO_PEERGROUPS; NULL where the kernel has none */
        size_t n_groups;
        sd_event_source *deadline; /* the whole request must arrive by then */
        enum deadline_state state;
};

/* A growable string. */
struct strbuf {
        char *p;
        size_t len, cap;
};

static int sb_append(struct strbuf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 256;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p)
                        return -ENOMEM;
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
        return 0;
}

enum route {
        ROUTE_NONE,
        ROUTE_HEALTH,
        ROUTE_MODELS,
        ROUTE_STATUS,
        ROUTE_CHAT,
        ROUTE_COMPLETIONS,
};

struct http_exchange {
        struct manager *m;
        struct http_server *server;
        struct MHD_Connection *conn;
        enum route route;
        bool responded;
        /* request body */
        struct strbuf body;
        bool too_large;
        /* generation */
        bool started;
        struct api_request api;
        struct submit_job job; /* with the submission thread while submitting */
        bool submitting;
        struct vkinfer_request *req;
        char id[64];
        long created;
        atomic_bool pending; /* set by the scheduler thread */
        bool suspended;
        bool in_list;
        bool first_chunk_sent, finished, stream_done;
        bool shutdown; /* cancelled by the drain timeout */
        struct strbuf content, reasoning; /* non-streamed answer */
        struct strbuf out;                /* streamed bytes not yet sent */
        size_t out_pos;
        uint32_t prompt_tokens, completion_tokens;
        enum vkinfer_finish finish;
        char error[256];
        json_t *logprobs;   /* non-streamed answer's, accumulated */
        size_t text_offset; /* completions' logprobs text_offset */
        struct http_exchange *prev, *next;
};

static void update_timer(struct http_server *s);

static struct peer *peer_of(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

/* ---- responses ---- */

static enum MHD_Result respond(struct http_exchange *x, unsigned status, const char *content_type, char *body) {
        struct peer *p = peer_of(x->conn);
        if (p && p->deadline && p->state == DEADLINE_RECEIVING) /* answered before the whole request came */
                p->state = DEADLINE_ANSWERED;
        if (!body) { /* the answer could not be built: not a 200 */
                status = 500;
                content_type = "application/json";
                body = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
        }
        struct MHD_Response *resp = MHD_create_response_from_buffer(body ? strlen(body) : 0, body, MHD_RESPMEM_MUST_FREE);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", content_type);
        enum MHD_Result r = MHD_queue_response(x->conn, status, resp);
        MHD_destroy_response(resp);
        x->responded = true;
        return r;
}

static enum MHD_Result respond_json(struct http_exchange *x, unsigned status, char *json) {
        return respond(x, status, "application/json", json);
}

static enum MHD_Result respond_error(struct http_exchange *x, unsigned status, const char *msg, const char *param) {
        log_info("-> %u %s", status, msg);
        return respond_json(x, status, api_error_json((int) status, msg, param));
}

/* ---- peers ---- */

/* request-deadline passed: a client that sends its request slowly (a byte a
 * second, say) is cut off however steadily it trickles, which MHD's idle
 * timeout does not do. The socket is shut down under MHD, which then sees
 * the end and closes the connection its usual way. */
static int on_deadline(sd_event_source *src, uint64_t usec, void *userdata) {
        struct peer *p = userdata;
        if (p->state == DEADLINE_OFF)
                return 0;
        if (p->state == DEADLINE_RECEIVING) {
                /* Nothing was written on this connection since the last answer. */
                log_info("-> 408 the request did not arrive within request-deadline (%llus)",
                         (unsigned long long) (p->s->deadline_usec / 1000000));
                char *body = api_error_json(408, "the request did not arrive within request-deadline", NULL);
                char head[160];
                int n = snprintf(head, sizeof(head),
                                 "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                 body ? strlen(body) : 0);
                if (send(p->fd, head, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) == n && body)
                        (void) send(p->fd, body, strlen(body), MSG_NOSIGNAL | MSG_DONTWAIT);
                free(body);
        }
        p->state = DEADLINE_OFF;
        shutdown(p->fd, SHUT_RDWR);
        struct http_server *s = p->s; /* p may be freed by MHD_run */
        MHD_run(s->mhd);
        update_timer(s);
        return 0;
}

static void deadline_arm(struct peer *p, uint64_t at, enum deadline_state state) {
        p->state = state;
        sd_event_source_set_time(p->deadline, at);
        sd_event_source_set_enabled(p->deadline, SD_EVENT_ONESHOT);
}

static void deadline_off(struct MHD_Connection *conn) {
        struct peer *p = peer_of(conn);
        if (p && p->deadline && p->state != DEADLINE_OFF) {
                p->state = DEADLINE_OFF;
                sd_event_source_set_enabled(p->deadline, SD_EVENT_OFF);
        }
}

/* MHD has a request line: a next request on a kept-alive connection now has
 * request-deadline to arrive whole (a first one counts from its accept). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
        struct http_server *s = cls;
        struct peer *p = peer_of(conn);
        if (p && p->deadline && p->state == DEADLINE_IDLE) {
                uint64_t now, at = 0;
                sd_event_now(s->m->event, CLOCK_MONOTONIC, &now);
                sd_event_source_get_time(p->deadline, &at);
                deadline_arm(p, at < now + s->deadline_usec ? at : now + s->deadline_usec, DEADLINE_RECEIVING);
        }
        return NULL; /* no exchange yet: on_request makes it */
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        struct http_server *s = cls;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                s->m->connections.open++;
                struct peer *p = calloc(1, sizeof(*p));
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                socklen_t len = sizeof(p ? p->cred : (struct ucred){0});
                if (p && ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &len) == 0) {
                        p->known = true;
                        if (access_socket_groups(ci->connect_fd, &p->groups, &p->n_groups) < 0)
                                p->groups = NULL;
                }
                if (p && ci) {
                        p->s = s;
                        p->fd = ci->connect_fd;
                        /* Without its timer a connection still has MHD's idle timeout. */
                        if (sd_event_add_time(s->m->event, &p->deadline, CLOCK_MONOTONIC,
                                              s->handoff_accepted + s->deadline_usec, 0, on_deadline, p) < 0)
                                p->deadline = NULL;
                        p->state = DEADLINE_RECEIVING;
                }
                *socket_context = p;
        } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                s->m->connections.open--;
                struct peer *p = *socket_context;
                if (p) {
                        free(p->groups);
                        sd_event_source_disable_unref(p->deadline);
                }
                free(p);
                *socket_context = NULL;
        }
}

/* allow-users / allow-groups against the peer's uid, its process's group
 * and its supplementary groups (the user's groups in the group database
 * where the kernel cannot tell). */
static bool peer_allowed(const struct config *c, const struct peer *p) {
        if (!access_restricted(c))
                return true;
        if (!p || !p->known)
                return false;
        if (p->groups)
                return access_allowed(c, p->cred.uid, &p->cred.gid, 1) ||
                       access_allowed(c, p->cred.uid, p->groups, p->n_groups);
        gid_t *g = NULL;
        size_t n = 0;
        bool ok = access_user_groups(p->cred.uid, p->cred.gid, &g, &n) >= 0 && access_allowed(c, p->cred.uid, g, n);
        free(g);
        return ok || access_allowed(c, p->cred.uid, NULL, 0);
}

/* ---- generation ---- */

static void on_engine_notify(void *userdata) {
        /* Scheduler thread: only flag the exchange and wake the loop. */
        struct http_exchange *x = userdata;
        atomic_store(&x->pending, true);
        eventfd_write(x->m->notify_fd, 1);
}

static void list_add(struct http_exchange *x) {
        struct manager *m = x->m;
        x->next = m->exchanges;
        if (m->exchanges)
                m->exchanges->prev = x;
        m->exchanges = x;
        m->n_exchanges++;
        x->in_list = true;
}

static void list_remove(struct http_exchange *x) {
        if (!x->in_list)
                return;
        struct manager *m = x->m;
        if (x->prev)
                x->prev->next = x->next;
        else
                m->exchanges = x->next;
        if (x->next)
                x->next->prev = x->prev;
        m->n_exchanges--;
        x->in_list = false;
}

/* Moves the engine's new output into the exchange (events for streams, the
 * accumulated answer otherwise). */
static void collect_output(struct http_exchange *x) {
        if (!x->req || x->finished)
                return;
        struct vkinfer_output o = {0};
        vkinfer_request_take(x->req, &o);
        x->prompt_tokens = o.prompt_tokens;
        x->completion_tokens = o.completion_tokens;
        bool has_text = (o.content && *o.content) || (o.reasoning && *o.reasoning) || o.n_logprobs;
        json_t *lp = o.n_logprobs ? api_logprobs_json(&x->api, o.logprobs, o.n_logprobs, &x->text_offset) : NULL;
        if (x->api.stream) {
                if (has_text || !x->first_chunk_sent) {
                        if (has_text || o.finish == VKINFER_RUNNING) {
                                char *ev = api_chunk_event(&x->api, x->id, x->created, o.content, o.reasoning, lp,
                                                           !x->first_chunk_sent, VKINFER_RUNNING);
                                if (ev)
                                        sb_append(&x->out, ev, strlen(ev));
                                free(ev);
                                x->first_chunk_sent = true;
                        }
                }
        } else {
                if (o.content)
                        sb_append(&x->content, o.content, strlen(o.content));
                if (o.reasoning)
                        sb_append(&x->reasoning, o.reasoning, strlen(o.reasoning));
                if (lp) {
                        if (x->logprobs)
                                api_logprobs_merge(x->logprobs, json_incref(lp));
                        else
                                x->logprobs = json_incref(lp);
                }
        }
        json_decref(lp);
        if (o.finish == VKINFER_FINISH_CANCELLED && x->shutdown) {
                /* Not the client's doing: say why it ends. */
                o.finish = VKINFER_FINISH_ERROR;
                snprintf(o.error, sizeof(o.error), "vkinferd is shutting down: the drain timeout cancelled the request");
        }
        if (o.finish != VKINFER_RUNNING) {
                x->finished = true;
                x->finish = o.finish;
                snprintf(x->error, sizeof(x->error), "%s", o.error);
                if (x->api.stream) {
                        char *ev;
                        if (o.finish == VKINFER_FINISH_ERROR) {
                                char *e = api_error_json(x->shutdown ? 503 : 500,
                                                         o.error[0] ? o.error : "generation failed", NULL);
                                if (e && asprintf(&ev, "data: %s\n\n", e) >= 0) {
                                        sb_append(&x->out, ev, strlen(ev));
                                        free(ev);
                                }
                                free(e);
                        } else {
                                ev = api_chunk_event(&x->api, x->id, x->created, NULL, NULL, NULL, !x->first_chunk_sent,
                                                     o.finish);
                                if (ev)
                                        sb_append(&x->out, ev, strlen(ev));
                                free(ev);
                        }
                        if (x->api.include_usage) {
                                ev = api_usage_event(&x->api, x->id, x->created, x->prompt_tokens, x->completion_tokens);
                                if (ev)
                                        sb_append(&x->out, ev, strlen(ev));
                                free(ev);
                        }
                        sb_append(&x->out, "data: [DONE]\n\n", 14);
                }
                log_info("%s finished: %s, %u prompt + %u completion tokens", x->id,
                         api_finish_reason(o.finish) ? api_finish_reason(o.finish) : "?", x->prompt_tokens,
                         x->completion_tokens);
        }
        free(o.content);
        free(o.reasoning);
        free(o.logprobs);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
        struct http_exchange *x = cls;
        collect_output(x);
        size_t avail = x->out.len - x->out_pos;
        if (avail > 0) {
                size_t n = avail < max ? avail : max;
                memcpy(buf, x->out.p + x->out_pos, n);
                x->out_pos += n;
                return (ssize_t) n;
        }
        if (x->finished)
                return MHD_CONTENT_READER_END_OF_STREAM;
        /* Nothing yet: sleep until the scheduler signals. */
        x->suspended = true;
        MHD_suspend_connection(x->conn);
        return 0;
}

/* The parameter a context error is about: max_tokens (or
 * max_completion_tokens) only when it was given and the engine says the
 * prompt plus it is too long; else the prompt or the messages. */
static const char *context_param(const struct api_request *a, const char *msg) {
        if (a->params.max_tokens >= 0 && strstr(msg, "max_tokens")) {
                json_t *mct = json_object_get(a->root, "max_completion_tokens");
                return mct && !json_is_null(mct) ? "max_completion_tokens" : "max_tokens";
        }
        return a->kind == API_CHAT ? "messages" : "prompt";
}

static enum MHD_Result continue_generation(struct http_exchange *x);

/* Parses the request and hands it to the submission thread (rendering and
 * tokenizing a long prompt would hold up every client); the connection
 * sleeps until the job is done (see submitted). */
static enum MHD_Result start_generation(struct http_exchange *x) {
        enum api_kind kind = x->route == ROUTE_CHAT ? API_CHAT : API_COMPLETION;
        char err[512];
        const char *param = NULL;
        int r = api_request_parse(kind, x->body.p ? x->body.p : "", x->body.len, &x->api, err, sizeof(err), &param);
        if (r < 0)
                return respond_error(x, r == -ENOMEM ? 500 : 400, r == -ENOMEM ? "out of memory" : err, param);
        /* The body limit holds it already; the rule is D-Bus's too. */
        if (params_check_prompt_size(&x->api.params, x->m->config.max_body_bytes, err, sizeof(err)) < 0)
                return respond_error(x, 413, err, kind == API_CHAT ? "messages" : "prompt");
        api_make_id(kind, x->id, sizeof(x->id));
        x->created = (long) time(NULL);
        list_add(x); /* before submit: a notify may come at once */
        x->job = (struct submit_job){.params = &x->api.params, .notify = on_engine_notify, .userdata = x};
        x->submitting = true;
        submitter_queue(x->m->submitter, &x->job);
        x->suspended = true;
        MHD_suspend_connection(x->conn);
        return MHD_YES;
}

/* The submission thread is done with x's job: the error, or the answer
 * starts. */
static enum MHD_Result submitted(struct http_exchange *x) {
        if (!atomic_load(&x->job.done)) { /* woken by an early notify */
                x->suspended = true;
                MHD_suspend_connection(x->conn);
                return MHD_YES;
        }
        x->submitting = false;
        int r = x->job.r;
        if (r < 0) {
                list_remove(x);
                int status = api_status_for_errno(r);
                const char *msg = x->job.err.message[0] ? x->job.err.message : strerror(-r);
                return respond_error(x, (unsigned) status, msg,
                                     r == -ENOENT ? "model" : r == -E2BIG ? context_param(&x->api, msg) : NULL);
        }
        x->req = x->job.req;
        if (x->m->drain_expired) { /* the drain timeout passed while it was submitted */
                x->shutdown = true;
                vkinfer_request_cancel(x->req);
        }
        /* The request's own copy: a reload may unload the default model
         * (and free its name) while this answer is still being written. */
        if (!x->api.model_name)
                x->api.model_name = vkinfer_request_model(x->req);
        log_info("%s queued (%s, %s)", x->id, x->api.model_name, x->api.stream ? "stream" : "whole");
        if (x->api.stream) {
                struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, x, NULL);
                if (!resp)
                        return MHD_NO;
                MHD_add_response_header(resp, "Content-Type", "text/event-stream");
                MHD_add_response_header(resp, "Cache-Control", "no-cache");
                enum MHD_Result res = MHD_queue_response(x->conn, MHD_HTTP_OK, resp);
                MHD_destroy_response(resp);
                x->responded = true;
                return res;
        }
        return continue_generation(x); /* it may even be done already */
}

/* Called again after a resume, for a non-streamed answer. */
static enum MHD_Result continue_generation(struct http_exchange *x) {
        collect_output(x);
        if (!x->finished) {
                x->suspended = true;
                MHD_suspend_connection(x->conn);
                return MHD_YES;
        }
        if (x->finish == VKINFER_FINISH_ERROR)
                return respond_error(x, x->shutdown ? 503 : 500, x->error[0] ? x->error : "generation failed", NULL);
        if (!x->logprobs && x->api.params.top_logprobs >= 0) /* no token at all */
                x->logprobs = api_logprobs_json(&x->api, NULL, 0, &x->text_offset);
        return respond_json(x, 200, api_completion_json(&x->api, x->id, x->created, x->content.p, x->reasoning.p,
                                                        x->logprobs, x->finish, x->prompt_tokens, x->completion_tokens));
}

/* ---- routing ---- */

static enum route route_for(const char *url, const char **ret_method) {
        static const struct {
                const char *url, *method;
                enum route route;
        } routes[] = {
                {"/health", "GET", ROUTE_HEALTH},
                {"/v1/models", "GET", ROUTE_MODELS},
                {"/status", "GET", ROUTE_STATUS},
                {"/v1/chat/completions", "POST", ROUTE_CHAT},
                {"/v1/completions", "POST", ROUTE_COMPLETIONS},
        };
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
                if (strcmp(url, routes[i].url) == 0) {
                        *ret_method = routes[i].method;
                        return routes[i].route;
                }
        return ROUTE_NONE;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        struct http_server *s = cls;
        struct manager *m = s->m;
        struct http_exchange *x = *con_cls;

        if (!x) {
                x = calloc(1, sizeof(*x));
                if (!x)
                        return MHD_NO;
                x->m = m;
                x->server = s;
                x->conn = conn;
                *con_cls = x;
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
                const struct peer *p = ci ? ci->socket_context : NULL;
                if (p && p->known)
                        log_info("%s %s from pid %d uid %u gid %u", method, url, (int) p->cred.pid,
                                 (unsigned) p->cred.uid, (unsigned) p->cred.gid);
                else
                        log_info("%s %s from %s", method, url, s->is_unix ? "unknown peer" : "tcp");
                if (s->is_unix && !peer_allowed(&m->config, p))
                        return respond_error(x, 403, "this user may not use vkinferd (allow-users / allow-groups)", NULL);
                /* A TCP peer cannot be identified, so allow lists shut TCP out. */
                if (!s->is_unix && (m->config.n_allow_users || m->config.n_allow_groups))
                        return respond_error(x, 403, "allow-users / allow-groups are set: use the Unix socket", NULL);
                const char *want = NULL;
                x->route = route_for(url, &want);
                if (x->route == ROUTE_NONE)
                        return respond_error(x, 404, "unknown path", NULL);
                if (strcmp(method, want) != 0) {
                        enum MHD_Result r = respond_error(x, 405, "method not allowed", NULL);
                        return r;
                }
                if (m->draining && (x->route == ROUTE_CHAT || x->route == ROUTE_COMPLETIONS))
                        return respond_error(x, 503, "vkinferd is shutting down", NULL);
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > m->config.max_body_bytes)
                        return respond_error(x, 413, "request body too large", NULL);
                return MHD_YES;
        }

        if (*upload_data_size) {
                if (!x->responded && !x->too_large) {
                        if (x->body.len + *upload_data_size > m->config.max_body_bytes)
                                x->too_large = true;
                        else if (sb_append(&x->body, upload_data, *upload_data_size) < 0)
                                x->too_large = true;
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        deadline_off(conn); /* the whole request is in */
        if (x->responded)
                return MHD_YES;
        if (x->too_large)
                return respond_error(x, 413, "request body too large", NULL);

        switch (x->route) {
        case ROUTE_HEALTH: {
                struct vkinfer_engine_stats st;
                vkinfer_engine_stats(m->engine, &st);
                /* No model (a reload could load none) serves nothing: not ok. */
                size_t n = vkinfer_engine_model_count(m->engine);
                char *body = NULL;
                if (asprintf(&body, "{\"status\":\"%s\",%s\"models\":%zu,\"queued\":%u,\"running\":%u}",
                             m->draining ? "draining" : n == 0 ? "unavailable" : "ok",
                             !m->draining && n == 0 ? "\"message\":\"no model is loaded\"," : "", n, st.queued,
                             st.running) < 0)
                        body = NULL;
                return respond_json(x, m->draining || n == 0 ? 503 : 200, body);
        }
        case ROUTE_MODELS:
                return respond_json(x, 200, api_models_json(m->engine, (long) time(NULL)));
        case ROUTE_STATUS:
                return respond_json(x, 200, api_status_json(m->engine, m->draining));
        case ROUTE_CHAT:
        case ROUTE_COMPLETIONS:
                if (!x->started) {
                        x->started = true;
                        return start_generation(x);
                }
                if (x->submitting)
                        return submitted(x);
                return continue_generation(x);
        default:
                return respond_error(x, 404, "unknown path", NULL);
        }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        struct http_exchange *x = *con_cls;
        /* A next request on this connection: the idle allowance, then its
         * own deadline (from its request line, see on_uri). Closing
         * connections are freed before this could fire. */
        struct peer *p = peer_of(conn);
        struct http_server *s = cls;
        if (p && p->deadline) {
                uint64_t now;
                sd_event_now(s->m->event, CLOCK_MONOTONIC, &now);
                deadline_arm(p, now + (uint64_t) s->m->config.request_timeout_sec * 1000000ull + s->deadline_usec,
                             DEADLINE_IDLE);
        }
        if (!x)
                return;
        /* Only MHD_stop_daemon ends a connection during its submission, and
         * the submission thread is stopped (every job done) before. */
        if (x->submitting && atomic_load(&x->job.done) && x->job.r >= 0)
                x->req = x->job.req;
        if (x->req) {
                if (!x->finished)
                        log_info("%s: client went away, cancelling", x->id);
                vkinfer_request_free(x->req); /* no notify after this returns */
        }
        list_remove(x);
        api_request_done(&x->api);
        free(x->body.p);
        free(x->content.p);
        free(x->reasoning.p);
        free(x->out.p);
        json_decref(x->logprobs);
        struct manager *m = x->m;
        free(x);
        *con_cls = NULL;
        manager_exchange_done(m); /* a drain may wait for it */
}

/* MHD's own messages (a client that vanished mid-answer, say) are routine:
 * they go to the debug level, shown with VKINFER_DEBUG=1. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        static int debug = -1;
        if (debug < 0)
                debug = getenv("VKINFER_DEBUG") != NULL;
        if (!debug)
                return;
        char line[512];
        vsnprintf(line, sizeof(line), fmt, ap);
        line[strcspn(line, "\n")] = 0;
        log_print(7, "http: %s", line);
}

/* ---- sd-event glue ---- */

static void update_timer(struct http_server *s) {
        MHD_UNSIGNED_LONG_LONG ms;
        if (MHD_get_timeout(s->mhd, &ms) == MHD_YES) {
                uint64_t now;
                sd_event_now(s->m->event, CLOCK_MONOTONIC, &now);
                sd_event_source_set_time(s->timer, now + ms * 1000);
                sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        } else {
                sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        }
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct http_server *s = userdata;
        MHD_run(s->mhd);
        update_timer(s);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        struct http_server *s = userdata;
        MHD_run(s->mhd);
        update_timer(s);
        return 0;
}

void http_server_dispatch_notifications(struct manager *m) {
        for (struct http_exchange *x = m->exchanges; x; x = x->next) {
                bool submitted = x->submitting && atomic_load(&x->job.done);
                if ((atomic_exchange(&x->pending, false) || submitted) && x->suspended) {
                        x->suspended = false;
                        MHD_resume_connection(x->conn);
                }
        }
        if (m->unix_server) {
                MHD_run(m->unix_server->mhd);
                update_timer(m->unix_server);
        }
        if (m->tcp_server) {
                MHD_run(m->tcp_server->mhd);
                update_timer(m->tcp_server);
        }
}

/* libmicrohttpd does not watch suspended connections, so a client that
 * hangs up while its request waits in the queue (or between tokens) would
 * go unnoticed until the next write: look at their sockets ourselves. Only
 * a hang-up counts (POLLHUP: both directions closed, or an error); a client
 * that half-closes after sending its request (POLLRDHUP) is legal HTTP and
 * still reads the answer. A TCP peer that closed shows as a half-close
 * until a write fails, so it is noticed at the next token or the answer. */
void http_server_reap_vanished(struct manager *m) {
        for (struct http_exchange *x = m->exchanges; x; x = x->next) {
                if (!x->suspended || !x->req || x->finished)
                        continue;
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(x->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (!ci)
                        continue;
                struct pollfd pfd = {.fd = ci->connect_fd, .events = 0};
                if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR))) {
                        log_info("%s: client went away while waiting, cancelling", x->id);
                        vkinfer_request_cancel(x->req);
                }
        }
}

void http_server_cancel_all(struct manager *m) {
        for (struct http_exchange *x = m->exchanges; x; x = x->next)
                if (x->req) {
                        x->shutdown = true;
                        vkinfer_request_cancel(x->req);
                }
}

static void on_handoff(void *userdata, int fd, const struct sockaddr *sa, socklen_t len, uint64_t accepted_usec) {
        struct http_server *s = userdata;
        s->handoff_accepted = accepted_usec; /* for on_connection */
        /* The connection counts as MHD's from its STARTED notification on. */
        s->m->connections.open--;
        /* MHD closes fd when it cannot take it. */
        if (MHD_add_connection(s->mhd, fd, sa, len) != MHD_YES)
                log_warning("cannot take a connection: %s", strerror(errno));
        MHD_run(s->mhd);
        update_timer(s);
}

int http_server_new(struct manager *m, int listen_fd, bool is_unix, struct http_server **ret) {
        struct http_server *s = calloc(1, sizeof(*s));
        if (!s) {
                close(listen_fd);
                return -ENOMEM;
        }
        s->m = m;
        s->is_unix = is_unix;
        s->deadline_usec = (uint64_t) m->config.request_deadline_sec * 1000000ull;
        s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME |
                                          MHD_USE_ERROR_LOG,
                                  0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                                  on_connection, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                  MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned) m->config.request_timeout_sec, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                  (size_t) 128 * 1024, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned) CONFIG_MAX_CONNECTIONS, /* ours is m->connections */
                                  MHD_OPTION_END);
        if (!s->mhd) {
                close(listen_fd);
                free(s);
                return -EIO;
        }
        uint32_t line_sec = m->config.request_timeout_sec < m->config.request_deadline_sec
                                    ? m->config.request_timeout_sec
                                    : m->config.request_deadline_sec;
        int r = acceptor_new(m->event, listen_fd, line_sec, &m->connections, on_handoff, s, &s->acceptor);
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (r >= 0)
                r = info ? sd_event_add_io(m->event, &s->io, info->epoll_fd, EPOLLIN, on_io, s) : -EIO;
        if (r >= 0)
                r = sd_event_add_time(m->event, &s->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, s);
        if (r < 0) {
                http_server_free(s);
                return r;
        }
        update_timer(s);
        *ret = s;
        return 0;
}

void http_server_quiesce(struct http_server *s) {
        if (s)
                acceptor_quiesce(s->acceptor);
}

struct http_server *http_server_free(struct http_server *s) {
        if (!s)
                return NULL;
        s->acceptor = acceptor_free(s->acceptor);
        if (s->mhd) {
                /* MHD must not be stopped with suspended connections. */
                for (struct http_exchange *x = s->m->exchanges; x; x = x->next)
                        if (x->server == s && x->suspended) {
                                x->suspended = false;
                                MHD_resume_connection(x->conn);
                        }
                MHD_stop_daemon(s->mhd);
        }
        sd_event_source_unref(s->io);
        sd_event_source_unref(s->timer);
        free(s);
        return NULL;
}
