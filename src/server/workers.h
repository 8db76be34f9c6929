/*
 * workers — what other services need of the worker table (svc_workers.c); the cross-service part
 * used by srvcore is in server.h. Owner: srvq.
 */
#ifndef CLEARML_SERVER_WORKERS_H
#define CLEARML_SERVER_WORKERS_H

#include <jansson.h>
#include <sqlite3.h>

/* Live workers of a company that serve queue_id, as queues.get_all_ex lists them:
 * [{name, ip, key, task: {id, name} | null}] (new reference). */
json_t *workers_of_queue(sqlite3 *db, const char *company, const char *queue_id);

#endif
