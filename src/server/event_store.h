/*
 * event_store — internal API of the events table, used by svc_events.c (events_delete_for_task
 * is in server.h for tasks.reset/delete). One row per event: indexed columns (task, type,
 * timestamp, iter, metric, variant) for the queries, `msg` kept apart so log text is stored as
 * received and never re-encoded, `doc` = the rest of the normalized event as JSON. `seq` (the
 * rowid) is the insertion order: log events sort by (timestamp, seq).
 */
#ifndef CLEARML_EVENT_STORE_H
#define CLEARML_EVENT_STORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#define EVENT_LOG_TOTAL_CAP 10000   /* get_task_log `total` is capped like ES's hit count */

/* Normalize one event in place (spec §6.1): type spaces → '_' and a known type, task present,
 * `ts` → timestamp, timestamp default now_ms, worker from the header when missing, metric /
 * variant "" when missing, iter an int64, `values` → `value`, model_event false, @timestamp.
 * Returns 0, or -1 with *why set to a static reason (the errors_info key).
 * *evkey_out: for non-log events the overwrite identity "task-iter-metric-variant-key" over
 * the fields present (caller frees); NULL for log events. */
int event_normalize(json_t *ev, const char *worker_header, int64_t now_ms, char **evkey_out,
                    const char **why);

/* Prepared inserts for one batch (inside the caller's transaction). */
struct event_insert {
	sqlite3 *db;
	sqlite3_stmt *st;
};
int event_insert_begin(sqlite3 *db, struct event_insert *ins);
/* Insert a normalized event (msg already removed from it; msg may be NULL). Non-log events
 * with an existing evkey replace the old row. 0 or -1. */
int event_insert(struct event_insert *ins, const char *company, json_t *ev, const char *msg,
                 size_t msglen, const char *evkey);
void event_insert_end(struct event_insert *ins);

/* A stored row back as the event object (doc + msg), new reference. */
json_t *event_row_json(sqlite3_stmt *st, int doc_col, int msg_col);

/* Number of events of a task of one type (NULL: all types), capped at cap when cap > 0. */
long long event_count(sqlite3 *db, const char *task, const char *type, long long cap);

/* Delete every event of a task; the count, or -1. */
long long event_delete_task(sqlite3 *db, const char *task_id);

#endif
