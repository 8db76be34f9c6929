/*
 * status_history — every status change of a task, kept by the server (an addition beyond
 * upstream: the real server keeps only the latest status and its times).
 *
 * One row per change: when, from → to, the status_reason and status_message it set, the user
 * who asked and the worker (X-ClearML-Worker) of that request. Rows are written by the one
 * status path (change_status), tasks.edit's status field, task_force_status (queue operations
 * and the watchdog, user "" there) and task creation (from null), always inside the
 * transaction that changes the task, so the history and the task never disagree. A task keeps
 * its newest STATUS_HISTORY_MAX entries; reason and message are cut to STATUS_HISTORY_TEXT
 * bytes (on a UTF-8 boundary). Deleting the task deletes its history (task_delete_row).
 *
 * tasks.get_status_history {task} answers {history: [{time, from_status, to_status,
 * status_reason, status_message, user, worker}]}, oldest first; the caller must be able to read
 * the task, as for tasks.get_by_id. The real server has no such endpoint, so no real reply
 * schema changes.
 */
#include <string.h>

#include "server/status_history.h"
#include "server/svc_tasks.h"
#include "util.h"

const char status_history_schema[] =
	"CREATE TABLE IF NOT EXISTS task_status_history(seq INTEGER PRIMARY KEY AUTOINCREMENT, "
	"  task TEXT NOT NULL, time TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL, "
	"  reason TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '', "
	"  user TEXT NOT NULL DEFAULT '', worker TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS task_status_history_task ON task_status_history(task, seq);";

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
static int
cut_len(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return (int)n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

static void
bind_cut(sqlite3_stmt *st, int i, const char *s)
{
	s = s ? s : "";
	sqlite3_bind_text(st, i, s, cut_len(s, STATUS_HISTORY_TEXT), SQLITE_STATIC);
}

int
status_history_add(sqlite3 *db, const char *task_id, const char *from, const char *to,
                   const char *reason, const char *message, const char *user, const char *worker)
{
	if (!task_id || !to)
		return -1;
	char now[48];
	db_now_iso(now, sizeof(now));
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO task_status_history(task, time, from_status, "
	                               "to_status, reason, message, user, worker) "
	                               "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
	if (from)
		sqlite3_bind_text(st, 3, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
	bind_cut(st, 5, reason);
	bind_cut(st, 6, message);
	bind_cut(st, 7, user);
	bind_cut(st, 8, worker);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	if (rc != 0) {
		log_error("db: status history of %s: %s", task_id, sqlite3_errmsg(db));
		return -1;
	}
	/* keep the newest STATUS_HISTORY_MAX: everything at or below the (MAX+1)-th newest goes */
	st = db_stmt(db, "DELETE FROM task_status_history WHERE task = ?1 AND seq <= "
	                 "(SELECT seq FROM task_status_history WHERE task = ?1 "
	                 "ORDER BY seq DESC LIMIT 1 OFFSET ?2)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, STATUS_HISTORY_MAX);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	return rc;
}

int
status_history_delete(sqlite3 *db, const char *task_id)
{
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM task_status_history WHERE task = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	return rc;
}

static json_t *
col_str(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? json_stringn(s, (size_t)sqlite3_column_bytes(st, i)) : json_null();
}

json_t *
status_history_get(sqlite3 *db, const char *task_id)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT time, from_status, to_status, reason, message, user, "
	                               "worker FROM task_status_history WHERE task = ? ORDER BY seq");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	json_t *out = json_array();
	static const char *const keys[] = {"time", "from_status", "to_status", "status_reason",
	                                   "status_message", "user", "worker"};
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *e = json_object();
		for (int i = 0; i < (int)ARRAY_LEN(keys); i++) {
			json_t *v = col_str(st, i);
			json_object_set_new(e, keys[i], v ? v : json_string(""));
		}
		json_array_append_new(out, e);
	}
	db_stmt_done(st);
	if (rc != SQLITE_DONE) {
		json_decref(out);
		return NULL;
	}
	return out;
}

void
tasks_get_status_history(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	if (strlen(id) > 64) {
		reply_err(r, 400, 12, "Validation error (task id too long): task");
		return;
	}
	json_t *t = task_for_read(q, r, id);
	if (!t)
		return;
	json_decref(t);
	json_t *h = status_history_get(q->db, id);
	if (!h) {
		reply_err(r, 500, 100, "General data error (reading status history)");
		return;
	}
	reply_data(r, json_pack("{s:o}", "history", h));
}
