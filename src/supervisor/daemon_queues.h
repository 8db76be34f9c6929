/*
 * daemon_queues — the daemon's queues (spec §4.1): names or ids → ids (queues.get_all with a
 * case-insensitive exact match, --create-queue, the server's default queue), their names and tags
 * for the "Listening to queues" table. Owner: daemon_queues.c (moved out of daemon.c).
 */
#ifndef CLEARML_DAEMON_QUEUES_H
#define CLEARML_DAEMON_QUEUES_H

#include <stddef.h>

#include "agent/cli.h"
#include "api.h"

struct queue_ref {
	char *id;
	char *name;
	char *tags; /* comma-joined, for the table */
};

/* A view of the daemon's queue list and what resolving it needs. */
struct dq {
	struct api_session *api;
	const struct strlist *names; /* what to resolve (empty: the default queue) */
	int create_queue;
	const char *worker_id;
	struct queue_ref **q;
	size_t *nq;
};

int dq_resolve(struct dq *d);  /* 0, or -1 (message printed) */
int dq_describe(struct dq *d); /* names and tags by id; unknown ids are an error */
void dq_print_table(const struct dq *d);
json_t *dq_ids_json(const struct dq *d);
void dq_free(struct dq *d);

#endif
