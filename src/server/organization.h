/*
 * organization — organization.get_user_companies, get_entities_count and get_project_usages
 * (svc_organization.c), and the resources a worker declares for its queues at
 * workers.register, which project usages weigh running time by. Owner: org.
 */
#ifndef CLEARML_SERVER_ORGANIZATION_H
#define CLEARML_SERVER_ORGANIZATION_H

#include <jansson.h>
#include <sqlite3.h>

#include "server/server.h"

extern const char organization_schema[];
extern const struct endpoint svc_organization_endpoints[];

/* workers.register's `resources` {cpu_usage, gpu_usage} replace those of every queue listed
 * (inside the caller's transaction), as the real server stores them on the queue. A resources
 * value that is not an object, or an empty queue list, changes nothing. 0, or -1 with r filled
 * (400/12 for a non-number usage, 500/100 on a database error). */
int queue_resources_set(sqlite3 *db, const json_t *queues, const json_t *resources,
                        struct reply *r);

#endif
