/*
 * status_history — server-lite's record of every status change of a task (an addition beyond
 * upstream, see status_history.c). Owner: web.
 */
#ifndef CLEARML_SERVER_STATUS_HISTORY_H
#define CLEARML_SERVER_STATUS_HISTORY_H

#include <jansson.h>
#include <sqlite3.h>

#include "server/server.h"

#define STATUS_HISTORY_MAX 200      /* entries kept per task: the newest */
#define STATUS_HISTORY_TEXT 1024    /* bytes kept of a status_reason / status_message */

extern const char status_history_schema[];

/* Record one change inside the caller's transaction: from (NULL at creation) → to, with the
 * reason and message set by it, the user who asked (NULL/"" when the server did it itself) and
 * the worker header of the request (NULL/""). Older entries beyond STATUS_HISTORY_MAX go. 0 or -1. */
int status_history_add(sqlite3 *db, const char *task_id, const char *from, const char *to,
                       const char *reason, const char *message, const char *user,
                       const char *worker);
/* Drop a task's history (with the task). 0 or -1. */
int status_history_delete(sqlite3 *db, const char *task_id);
/* A task's history, oldest first (new array), or NULL on a database error. */
json_t *status_history_get(sqlite3 *db, const char *task_id);

/* tasks.get_status_history {task} → {history: [...]} (the endpoint). */
void tasks_get_status_history(struct req *q, struct reply *r);

#endif
