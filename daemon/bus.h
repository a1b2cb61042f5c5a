/* The D-Bus interface org.vkinfer.Inference1 (sd-bus), for desktop programs:
 * properties, ListModels, and Chat/Complete, which return the object path of
 * a request that emits Delta and Finished signals and can be cancelled.
 * Requests go to the same engine and scheduler as HTTP ones. */
#pragma once

#include <stdbool.h>

struct manager;
struct bus_request;

/* Connects to the system bus, or the user's session bus for --user, and
 * takes the name. Failing to reach a bus is not fatal for the daemon. */
int bus_start(struct manager *m, bool user_bus);
void bus_stop(struct manager *m);
/* Emits the signals of requests that have new output (scheduler woke us). */
void bus_dispatch_notifications(struct manager *m);
/* Cancels every request (end of the drain timeout): each finishes with
 * reason error, saying that vkinferd is shutting down. */
void bus_cancel_all(struct manager *m);
