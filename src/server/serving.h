/*
 * serving — serving.* (svc_serving.c): model-serving containers register and report their
 * state and request statistics; the UI lists endpoints, loading instances, the details of one
 * endpoint and its metric charts. Upstream keeps containers in Redis (expiring keys) and the
 * statistics in Elasticsearch; here both are SQLite tables, containers expire after their
 * timeout and statistics after a fixed retention. Owner: org.
 */
#ifndef CLEARML_SERVER_SERVING_H
#define CLEARML_SERVER_SERVING_H

#include <sqlite3.h>
#include <stdint.h>

#include "server/server.h"

extern const char serving_schema[];
extern const struct endpoint svc_serving_endpoints[];

/* Drop expired containers and statistics past retention (the background thread). */
void serving_prune(sqlite3 *db, int64_t now_ms_);

#endif
