/*
 * status_print — `daemon --status` (spec §8.3): print the worker's schedule (uptime / downtime,
 * from --uptime/--downtime or agent.uptime/agent.downtime), the server's `force` runtime property
 * of the worker, and the queues it would listen to with their force_workers tags; then the
 * caller exits (status 1, as upstream). Read-only: no instance slot, no config dump, no worker
 * registration, no task pulled. Owner: status_print.c (the schedule semantics belong to the
 * scheduler; this only prints what is configured).
 */
#ifndef CLEARML_STATUS_PRINT_H
#define CLEARML_STATUS_PRINT_H

#include <stddef.h>
#include <jansson.h>

#include "agent/cli.h"
#include "api.h"

struct status_queue {
	const char *name;
	const char *tags; /* comma-joined */
};

void status_print(FILE *out, struct api_session *api, const json_t *cfg_root,
                  const struct cli_opts *o, const char *worker_id, const struct status_queue *q,
                  size_t nq);

#endif
