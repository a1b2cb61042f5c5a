#include "manager.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "submit.h"

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        eventfd_t v;
        (void) eventfd_read(fd, &v);
        http_server_dispatch_notifications(m);
        if (m->bus)
                bus_dispatch_notifications(m);
        return 0;
}

#define REAP_INTERVAL_USEC 500000
/* After the drain timeout, how long the cancelled requests have to send
 * their last answer. */
#define DRAIN_GRACE_USEC 5000000

static int on_reap_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        http_server_reap_vanished(m);
        sd_event_source_set_time(s, usec + REAP_INTERVAL_USEC);
        sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

static void finish_drain_if_idle(struct manager *m) {
        if (m->draining && m->n_exchanges == 0 && m->n_bus_requests == 0)
                sd_event_exit(m->event, 0);
}

/* Cancels what still runs, so that every client gets a terminal answer
 * (an error saying vkinferd is shutting down), then exits when they are
 * all out, or after a grace period. */
static int on_drain_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        if (m->drain_expired) {
                log_warning("%u request(s) still not ended after their cancellation; exiting",
                            m->n_exchanges + m->n_bus_requests);
                sd_event_exit(m->event, 0);
                return 0;
        }
        m->drain_expired = true;
        log_warning("drain timeout: cancelling %u request(s) still running (%u HTTP, %u D-Bus)",
                    m->n_exchanges + m->n_bus_requests, m->n_exchanges, m->n_bus_requests);
        http_server_cancel_all(m);
        if (m->bus)
                bus_cancel_all(m);
        sd_event_source_set_time(s, usec + DRAIN_GRACE_USEC);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

void manager_begin_drain(struct manager *m) {
        if (m->draining)
                return;
        m->draining = true;
        sd_notify(0, "STOPPING=1\nSTATUS=Draining requests in flight");
        log_info("stopping: %u request(s) in flight, waiting up to %us", m->n_exchanges + m->n_bus_requests,
                 m->config.drain_timeout_sec);
        http_server_quiesce(m->unix_server);
        http_server_quiesce(m->tcp_server);
        uint64_t now;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        sd_event_add_time(m->event, &m->drain_timer, CLOCK_MONOTONIC,
                          now + (uint64_t) m->config.drain_timeout_sec * 1000000ull, 0, on_drain_timeout, m);
        finish_drain_if_idle(m);
}

void manager_exchange_done(struct manager *m) {
        finish_drain_if_idle(m);
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        manager_begin_drain(userdata);
        return 0;
}

/* SIGHUP: re-reads the configuration and brings the served models in line
 * with it. Requests in flight go on: a model that is removed or whose file
 * changed keeps serving them and is unloaded after the last one; new
 * requests go to the new set. The listeners, the device and the scheduler's
 * limits stay as they were started (they take effect at the next start); the
 * other keys (access lists, max-body, timeouts) apply at once. */
static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        struct config next;
        char err[512] = "";
        sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
        config_init(&next);
        int r = config_build(&next, m->source, err, sizeof(err));
        if (r < 0) {
                log_error("reload: %s; keeping the running configuration", err[0] ? err : strerror(-r));
                config_free(&next);
                sd_notify(0, "READY=1\nSTATUS=Reload failed; serving the previous configuration");
                return 0;
        }
        /* Drop what is gone or changed. */
        for (size_t i = 0; i < m->config.n_models; i++) {
                const struct config_model *old = &m->config.models[i];
                bool keep = false;
                for (size_t j = 0; j < next.n_models; j++)
                        keep |= strcmp(next.models[j].name, old->name) == 0 && strcmp(next.models[j].path, old->path) == 0 &&
                                next.models[j].context == old->context;
                if (!keep && vkinfer_engine_remove_model(m->engine, old->name) == 0)
                        log_info("reload: model '%s' removed (running requests finish first)", old->name);
        }
        /* Load what is new. */
        size_t loaded = 0, failed = 0;
        for (size_t j = 0; j < next.n_models; j++) {
                bool have = false;
                for (size_t i = 0; i < vkinfer_engine_model_count(m->engine); i++)
                        have |= strcmp(vkinfer_engine_model(m->engine, i)->name, next.models[j].name) == 0;
                if (have)
                        continue;
                struct vkinfer_error verr = {{0}};
                sd_notifyf(0, "STATUS=Loading model %s", next.models[j].name);
                if (vkinfer_engine_add_model(m->engine, next.models[j].name, next.models[j].path, next.models[j].context,
                                             &verr) < 0) {
                        log_error("reload: cannot load model '%s': %s", next.models[j].name, verr.message);
                        failed++;
                } else {
                        log_info("reload: model '%s' loaded from %s", next.models[j].name, next.models[j].path);
                        loaded++;
                }
        }
        /* Keep the listener settings of the running instance; take the rest. */
        free(next.socket_path);
        next.socket_path = m->config.socket_path;
        m->config.socket_path = NULL;
        config_free(&m->config);
        m->config = next;
        m->connections.max = acceptor_connection_cap(m->config.max_connections);
        log_info("reload: done, %zu model(s) served (%zu loaded, %zu failed)", vkinfer_engine_model_count(m->engine),
                 loaded, failed);
        sd_notifyf(0, "READY=1\nSTATUS=Serving %zu model(s) on %s", vkinfer_engine_model_count(m->engine),
                   m->config.socket_path);
        return 0;
}

int manager_new(struct manager **ret) {
        struct manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        config_init(&m->config);
        m->notify_fd = -1;
        int r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        signal(SIGPIPE, SIG_IGN);
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_terminate, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, on_terminate, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_reload, m)) < 0)
                goto fail;
        /* Sends WATCHDOG=1 at half of WatchdogSec from the loop itself, so a
         * wedged loop is noticed. */
        (void) sd_event_set_watchdog(m->event, true);
        m->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->notify_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(m->event, &m->notify_source, m->notify_fd, EPOLLIN, on_notify, m);
        if (r < 0)
                goto fail;
        uint64_t now;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(m->event, &m->reap_timer, CLOCK_MONOTONIC, now + REAP_INTERVAL_USEC, 0, on_reap_timer, m);
        if (r < 0)
                goto fail;
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        http_server_cancel_all(m);
        /* First: no job may run on an exchange or bus request freed below. */
        m->submitter = submitter_free(m->submitter);
        if (m->bus)
                bus_stop(m);
        m->unix_server = http_server_free(m->unix_server);
        m->tcp_server = http_server_free(m->tcp_server);
        vkinfer_engine_free(m->engine);
        sd_event_source_unref(m->notify_source);
        sd_event_source_unref(m->drain_timer);
        sd_event_source_unref(m->reap_timer);
        if (m->notify_fd >= 0)
                close(m->notify_fd);
        if (m->config.socket_path && !m->socket_activated)
                unlink(m->config.socket_path);
        sd_event_unref(m->event);
        config_free(&m->config);
        free(m);
        return NULL;
}

/* Weights uploading: the service status shows how far it got. */
static void on_load_progress(void *userdata, const char *model, uint64_t done, uint64_t total) {
        static int last = -1;
        int pct = total ? (int) (done * 100 / total) : 100;
        if (pct / 5 == last / 5 && pct != 100)
                return;
        last = pct;
        sd_notifyf(0, "STATUS=Loading model %s: %d%% of %.0f MiB on the device", model, pct, (double) total / 1048576.0);
}

int manager_startup(struct manager *m) {
        struct config *c = &m->config;
        struct vkinfer_engine_config ec = {
                .device = c->device,
                .cache_dir = c->cache_dir,
                .kv_cache_type = c->kv_cache_type,
                .queue_size = c->queue_size,
                .max_sequences = c->max_sequences,
                .max_batch_tokens = c->max_batch_tokens,
                .load_progress = on_load_progress,
        };
        struct vkinfer_error err = {{0}};
        char buf[512] = "";
        if (c->n_models == 0) {
                log_error("no model configured: use --model FILE or a [model NAME] section");
                return -EINVAL;
        }
        sd_notify(0, "STATUS=Opening the GPU");
        int r = vkinfer_engine_new(&ec, &m->engine, &err);
        if (r < 0) {
                log_error("cannot start the engine: %s", err.message);
                return r;
        }
        if ((r = submitter_new(m->engine, m->notify_fd, &m->submitter)) < 0) {
                log_error("cannot start the submission thread: %s", strerror(-r));
                return r;
        }
        for (size_t i = 0; i < c->n_models; i++) {
                sd_notifyf(0, "STATUS=Loading model %s (%zu/%zu)", c->models[i].name, i + 1, c->n_models);
                log_info("loading model '%s' from %s", c->models[i].name, c->models[i].path);
                r = vkinfer_engine_add_model(m->engine, c->models[i].name, c->models[i].path, c->models[i].context, &err);
                if (r < 0) {
                        log_error("cannot load model '%s': %s", c->models[i].name, err.message);
                        return r;
                }
        }
        m->connections.max = acceptor_connection_cap(c->max_connections);
        int fd;
        r = listen_unix(c, &fd, &m->socket_activated, buf, sizeof(buf));
        if (r < 0) {
                log_error("cannot listen: %s", buf[0] ? buf : strerror(-r));
                return r;
        }
        r = http_server_new(m, fd, true, &m->unix_server);
        if (r < 0) {
                log_error("cannot start HTTP on the socket: %s", strerror(-r));
                return r;
        }
        log_info("listening on %s%s", c->socket_path, m->socket_activated ? " (socket activation)" : "");
        if (c->dbus) {
                r = bus_start(m, c->user_instance);
                if (r < 0)
                        log_warning("D-Bus interface not available (%s bus: %s), continuing without it",
                                    c->user_instance ? "session" : "system", strerror(-r));
                else
                        log_info("D-Bus name org.vkinfer.Inference1 on the %s bus", c->user_instance ? "session" : "system");
        }
        if (c->tcp_listen) {
                buf[0] = 0;
                r = listen_tcp(c->tcp_listen, &fd, buf, sizeof(buf));
                if (r < 0) {
                        log_error("cannot listen on tcp %s: %s", c->tcp_listen, buf[0] ? buf : strerror(-r));
                        return r;
                }
                r = http_server_new(m, fd, false, &m->tcp_server);
                if (r < 0)
                        return r;
                log_info("listening on tcp %s", c->tcp_listen);
        }
        return 0;
}

int manager_run(struct manager *m) {
        sd_notifyf(0, "READY=1\nSTATUS=Serving %zu model(s) on %s", vkinfer_engine_model_count(m->engine),
                   m->config.socket_path);
        return sd_event_loop(m->event);
}
