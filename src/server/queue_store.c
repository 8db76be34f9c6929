/* queue_store — STUB until the queues work lands (owner: queues/workers/events helper). */
#include "server/server.h"

const char svc_queues_schema[] = "";
int queue_exists(sqlite3 *db, const char *queue_id) { (void)db; (void)queue_id; return 0; }
int
queue_add_task(sqlite3 *db, const char *queue_id, const char *task_id, struct reply *r)
{
	(void)db; (void)task_id;
	reply_err(r, 400, 701, "Invalid queue id: id=%s", queue_id);
	return -1;
}
int queue_remove_task(sqlite3 *db, const char *q, const char *t) { (void)db; (void)q; (void)t; return 0; }
int
queue_resolve_for_enqueue(sqlite3 *db, const struct identity *who, const char *queue_id,
                          const char *queue_name, char out_id[33], struct reply *r)
{
	(void)db; (void)who; (void)queue_id; (void)queue_name; out_id[0] = '\0';
	reply_err(r, 400, 707, "No queue is tagged as the default queue for this company");
	return -1;
}
void queue_name_of(sqlite3 *db, const char *q, char *out, size_t n) { (void)db; (void)q; if (n) out[0] = '\0'; }
