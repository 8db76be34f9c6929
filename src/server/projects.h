/* projects — what other services need of projects (svc_projects.c). Owner: srvcore. */
#ifndef CLEARML_SERVER_PROJECTS_H
#define CLEARML_SERVER_PROJECTS_H

#include <jansson.h>
#include <sqlite3.h>

#include "server/server.h"

/* The project document (new reference) or NULL. */
json_t *project_load(sqlite3 *db, const char *id);
/* 1 when the project exists and who may see it (own company or public). */
int project_visible(sqlite3 *db, const struct identity *who, const char *id);
/* Create name (and missing parents) inside the caller's transaction; extra may hold description,
 * tags, system_tags, default_output_destination. 0 and out_id; -2 duplicate; -1 error; r filled. */
int project_create(sqlite3 *db, const struct identity *who, const char *name, const json_t *extra,
                   char out_id[33], struct reply *r);

#endif
