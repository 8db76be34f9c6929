/*
 * queue_store — internal queue API shared by svc_queues.c and svc_workers.c (the cross-service
 * part lives in server.h). A queue is a row in `queues`; its entries are rows of `queue_entries`
 * with an explicit integer `pos`: list order is `ORDER BY pos`. All writers run inside the
 * caller's db_begin() … db_commit().
 */
#ifndef CLEARML_QUEUE_STORE_H
#define CLEARML_QUEUE_STORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "server/server.h"

enum queue_move { QMOVE_FORWARD, QMOVE_BACKWARD, QMOVE_FRONT, QMOVE_BACK };

/* Create a queue in who's company. 0 with out_id, or -1 with r filled (800 short name,
 * 801 duplicate, 16 bad tags). */
int queue_create(sqlite3 *db, const struct identity *who, const char *name, json_t *tags,
                 json_t *system_tags, json_t *metadata, const char *display_name,
                 char out_id[33], struct reply *r);
/* Id of the queue called `name` in company → 1, or 0 when none. */
int queue_find_by_name(sqlite3 *db, const char *company, const char *name, char out_id[33]);
/* The company's default queue (system tag "default"). 0, or -1 with r filled (707/708). */
int queue_get_default(sqlite3 *db, const char *company, char out_id[33], char *out_name,
                      size_t namelen, struct reply *r);
/* A queue as the API returns it (new reference), NULL when it does not exist.
 * max_entries < 0: all entries. metadata_as_list: v ≤ 2.16 shape ([]). */
json_t *queue_to_json(sqlite3 *db, const char *queue_id, long long max_entries,
                      int metadata_as_list);
/* Ids of all queues of a company, in creation order (new reference, array of strings). */
json_t *queue_ids_of_company(sqlite3 *db, const char *company);
/* Pop the head entry. With only_task, pop only when that task is the head. 1 popped (task id
 * into *task_out, caller frees; added time into *added_us), 0 empty/not head, -1 db error. */
int queue_pop_head(sqlite3 *db, const char *queue_id, const char *only_task, char **task_out,
                   int64_t *added_us);
/* Number of entries, or -1. */
int queue_count(sqlite3 *db, const char *queue_id);
/* Head task id (caller frees) or NULL. */
char *queue_peek(sqlite3 *db, const char *queue_id);
/* Move a task; returns the new 0-based position, or -1 with r filled (703). */
int queue_move_task(sqlite3 *db, const char *queue_id, const char *task_id, enum queue_move how,
                    long long count, struct reply *r);
/* Entries' task ids in order (new reference). */
json_t *queue_task_ids(sqlite3 *db, const char *queue_id);
/* Give a task that left queue_id its status back, as the real server does: only when its
 * execution.queue is that queue, the status becomes enqueue_status (or created), forced, with
 * `reason` (status history: by user `by`); execution.queue and enqueue_status are unset.
 * 1 restored, 0 not this queue's, -1 error. */
int queue_restore_task_status(sqlite3 *db, const char *task_id, const char *queue_id,
                              const char *reason, const char *by);
/* Delete the queue row and its entries. */
int queue_delete_row(sqlite3 *db, const char *queue_id);
/* Bump last_update. */
void queue_touch(sqlite3 *db, const char *queue_id);
/* Company of a queue into out ("" if unknown). */
void queue_company_of(sqlite3 *db, const char *queue_id, char *out, size_t outlen);

/* Pure: new index for a move of the element at `from` in a list of n. */
long long queue_move_index(long long from, long long n, enum queue_move how, long long count);

#endif
