/*
 * svc_txn — request helpers shared by the queue, worker and event services (svc_queues.c,
 * svc_workers.c, svc_events.c). Owner: srvq.
 */
#ifndef CLEARML_SVC_TXN_H
#define CLEARML_SVC_TXN_H

#include "server/server.h"

/* Request helpers for the services: the caller's company; a write transaction that fills r
 * with 500/100 when it cannot start; and the end of one — commit unless r holds an error
 * (then roll back), a failed commit becoming 500/100. */
const char *sq_company(const struct req *q);
int sq_begin(struct req *q, struct reply *r);
void sq_finish(struct req *q, struct reply *r);

#endif
