/* The Manager owns vkinferd's sd-event loop, its listeners (each an HTTP
 * server), the engine (models + scheduler thread) and the requests in
 * flight, as systemd's own daemons are built. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "accept.h"
#include "config.h"
#include "vkinfer/engine.h"

struct http_server;
struct http_exchange;
struct bus_request;
struct submitter;
typedef struct sd_bus sd_bus;

struct manager {
        sd_event *event;
        struct config config;
        const struct config_source *source; /* how config was built, for reloads */
        struct vkinfer_engine *engine;
        struct submitter *submitter; /* submits requests to the engine off the loop */
        struct http_server *unix_server;
        struct http_server *tcp_server;
        bool socket_activated;
        struct acceptor_budget connections; /* of every listener */
        int notify_fd; /* eventfd: the scheduler thread wakes the loop through it */
        sd_event_source *notify_source;
        sd_event_source *drain_timer;
        sd_event_source *reap_timer; /* looks for clients that hung up while waiting */
        struct http_exchange *exchanges; /* generation requests in flight (list) */
        unsigned n_exchanges;
        sd_bus *bus;
        struct bus_request *bus_requests; /* D-Bus requests in flight (list) */
        unsigned n_bus_requests;
        uint64_t next_bus_request_id;
        bool draining;
        bool drain_expired; /* the drain timeout cancelled what was left */
        uint64_t drain_deadline_usec;
};

int manager_new(struct manager **ret);
struct manager *manager_free(struct manager *m);
/* Loads models, opens listeners; logs and returns an error on failure. */
int manager_startup(struct manager *m);
/* Runs the loop until SIGTERM/SIGINT (then drains) or a fatal error. */
int manager_run(struct manager *m);
/* Starts draining: new requests get 503, running ones may finish until the
 * drain timeout, then the loop exits. */
void manager_begin_drain(struct manager *m);
/* Called by http.c when an exchange ends, to let draining finish. */
void manager_exchange_done(struct manager *m);
