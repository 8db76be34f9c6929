/*
 * tasks — task internals shared by svc_tasks.c and task_store.c (and unit tests): the status
 * state machine of §3.3, the type/status enums, the conditional save, the version-dependent
 * task view. Owner: srvcore.
 */
#ifndef CLEARML_SERVER_TASKS_H
#define CLEARML_SERVER_TASKS_H

#include <jansson.h>
#include <sqlite3.h>

#include "server/server.h"

/* 1 when from → to is allowed without force (same status always is), else 0. */
int task_status_allowed(const char *from, const char *to);
/* 1 for a valid status / type enum value. */
int task_status_valid(const char *s);
int task_type_valid(const char *s);
/* Save the task only if its stored status is still old_status: 1 saved, 0 lost the race, -1 error. */
int task_save_if_status(sqlite3 *db, const json_t *task, const char *old_status);
/* Delete a task row. 0 or -1. */
int task_delete_row(sqlite3 *db, const char *task_id);
/* The reply view of a stored task for a requested version (new reference): below 2.13 the
 * execution.docker_cmd / execution.model / output.model copies, below 2.9 the legacy
 * execution.parameters / model_desc copies; tags sorted. Internal fields are kept (projection
 * drops them). */
json_t *task_view(const json_t *task, int ver_major, int ver_minor);
/* The same, in place, on a document the caller owns. */
void task_view_apply(json_t *task, int ver_major, int ver_minor);
/* Split "image arg1 arg2" into container {image, arguments} (new object). */
json_t *task_container_from_docker_cmd(const char *docker_cmd);
/* sorts execution.artifacts (when exec is an object holding an array) by key, then mode */
void task_sort_artifacts(json_t *exec);

#endif
