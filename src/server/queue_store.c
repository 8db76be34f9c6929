/*
 * queue_store — queues and their ordered entries in SQLite, shared by queues.* (svc_queues.c),
 * tasks.enqueue/dequeue (svc_tasks.c, through server.h) and workers.get_all (svc_workers.c).
 *
 * Model (spec clearml-api §4): a queue row (id, company, name unique per company, tags,
 * system_tags, metadata, times) and one queue_entries row per queued task with an integer `pos`;
 * list order is ORDER BY pos. Append = max(pos)+1, pop = min(pos), to-front = min(pos)-1; the
 * relative moves renumber the queue (rare, small). Times are epoch microseconds. Every writer is
 * called inside the caller's BEGIN IMMEDIATE transaction, which is what makes get_next_task's
 * pop atomic across threads and processes.
 */
#include <stdlib.h>
#include <string.h>

#include "server/longpoll.h"
#include "server/queue_store.h"
#include "server/store_sql.h"
#include "server/worker_stats.h"
#include "util.h"

const char svc_queues_schema[] =
	"CREATE TABLE IF NOT EXISTS queues ("
	"  id TEXT PRIMARY KEY,"
	"  company TEXT NOT NULL DEFAULT '',"
	"  user TEXT NOT NULL DEFAULT '',"
	"  name TEXT NOT NULL,"
	"  display_name TEXT,"
	"  created INTEGER NOT NULL,"
	"  last_update INTEGER NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '[]',"
	"  system_tags TEXT NOT NULL DEFAULT '[]',"
	"  metadata TEXT NOT NULL DEFAULT '{}');"
	"CREATE UNIQUE INDEX IF NOT EXISTS queues_company_name ON queues(company, name);"
	"CREATE TABLE IF NOT EXISTS queue_entries ("
	"  queue TEXT NOT NULL,"
	"  task TEXT NOT NULL,"
	"  pos INTEGER NOT NULL,"
	"  added INTEGER NOT NULL,"
	"  PRIMARY KEY (queue, task));"
	"CREATE INDEX IF NOT EXISTS queue_entries_order ON queue_entries(queue, pos);"
	"CREATE INDEX IF NOT EXISTS queue_entries_task ON queue_entries(task);";

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
queue_exists(sqlite3 *db, const char *queue_id)
{
	if (!queue_id)
		return 0;
	sqlite3_stmt *st = sq_prepare(db, "SELECT 1 FROM queues WHERE id = ?");
	if (!st)
		return 0;
	sq_bind_text(st, 1, queue_id);
	int found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

void
queue_touch(sqlite3 *db, const char *queue_id)
{
	sqlite3_stmt *st = sq_prepare(db, "UPDATE queues SET last_update = ? WHERE id = ?");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, sq_now_us());
	sq_bind_text(st, 2, queue_id);
	step_done(st);
	/* a point for queues.get_queue_metrics at every change, not only at the 10 s sampler */
	queue_stats_note_change(db, queue_id);
}

static int
entry_exists(sqlite3 *db, const char *queue_id, const char *task_id)
{
	sqlite3_stmt *st = sq_prepare(db, "SELECT 1 FROM queue_entries WHERE queue = ? AND task = ?");
	if (!st)
		return 0;
	sq_bind_text(st, 1, queue_id);
	sq_bind_text(st, 2, task_id);
	int found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

int
queue_add_task(sqlite3 *db, const char *queue_id, const char *task_id, struct reply *r)
{
	if (!queue_exists(db, queue_id)) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", queue_id ? queue_id : "");
		return -1;
	}
	if (entry_exists(db, queue_id, task_id)) {
		reply_err(r, 400, 706, "Failed adding task to queue since task is already queued: "
		          "task=%s, queue=%s", task_id, queue_id);
		return -1;
	}
	sqlite3_stmt *st = sq_prepare(db,
		"INSERT INTO queue_entries(queue, task, pos, added) VALUES (?1, ?2,"
		" COALESCE((SELECT MAX(pos) FROM queue_entries WHERE queue = ?1), 0) + 1, ?3)");
	if (!st) {
		reply_err(r, 500, 100, "Database error");
		return -1;
	}
	sq_bind_text(st, 1, queue_id);
	sq_bind_text(st, 2, task_id);
	sqlite3_bind_int64(st, 3, sq_now_us());
	if (step_done(st) != 0) {
		reply_err(r, 500, 100, "Database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	queue_touch(db, queue_id);
	longpoll_notify(); /* parked get_next_task calls retry (they wait for this commit) */
	return 0;
}

int
queue_remove_task(sqlite3 *db, const char *queue_id, const char *task_id)
{
	sqlite3_stmt *st;
	if (queue_id) {
		st = sq_prepare(db, "DELETE FROM queue_entries WHERE queue = ? AND task = ?");
		if (!st)
			return 0;
		sq_bind_text(st, 1, queue_id);
		sq_bind_text(st, 2, task_id);
	} else {
		st = sq_prepare(db, "DELETE FROM queue_entries WHERE task = ?");
		if (!st)
			return 0;
		sq_bind_text(st, 1, task_id);
	}
	if (step_done(st) != 0)
		return 0;
	int n = sqlite3_changes(db);
	if (n > 0 && queue_id)
		queue_touch(db, queue_id);
	return n;
}

int
queue_find_by_name(sqlite3 *db, const char *company, const char *name, char out_id[33])
{
	out_id[0] = '\0';
	sqlite3_stmt *st = sq_prepare(db, "SELECT id FROM queues WHERE company = ? AND name = ?");
	if (!st)
		return 0;
	sq_bind_text(st, 1, company);
	sq_bind_text(st, 2, name);
	int found = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out_id, 33, "%s", sq_col_text(st, 0));
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

/* Metadata arrives as [{key, type, value}] (or already keyed); stored keyed by key. */
static json_t *
normalize_metadata(json_t *md)
{
	json_t *out = json_object();
	size_t i;
	json_t *e;
	if (json_is_array(md)) {
		json_array_foreach(md, i, e) {
			const char *k = json_string_value(json_object_get(e, "key"));
			if (json_is_object(e) && k)
				json_object_set_new(out, k, json_deep_copy(e));
		}
	} else if (json_is_object(md)) {
		const char *k;
		json_object_foreach(md, k, e) {
			if (json_is_object(e)) {
				json_t *item = json_deep_copy(e);
				json_object_set_new(item, "key", json_string(k));
				json_object_set_new(out, k, item);
			}
		}
	}
	return out;
}

int
queue_create(sqlite3 *db, const struct identity *who, const char *name, json_t *tags,
             json_t *system_tags, json_t *metadata, const char *display_name,
             char out_id[33], struct reply *r)
{
	const char *company = who ? who->company : SRV_DEFAULT_COMPANY;
	if (!name || strlen(name) < 3) {
		reply_err(r, 400, 800, "Data validation error (Queue name must be at least 3 "
		          "characters long): name=%s", name ? name : "");
		return -1;
	}
	if (sq_tags_valid(tags) || sq_tags_valid(system_tags)) {
		reply_err(r, 400, 16, "Field value error (tags must be strings not starting with __$)");
		return -1;
	}
	char existing[33];
	if (queue_find_by_name(db, company, name, existing)) {
		reply_err(r, 400, 801, "Value combination already exists (unique field already "
		          "contains this value): name=%s, company=%s", name, company);
		return -1;
	}
	gen_hex_id(out_id);
	json_t *t = tags && json_is_array(tags) ? json_incref(tags) : json_array();
	json_t *s = system_tags && json_is_array(system_tags) ? json_incref(system_tags)
	                                                     : json_array();
	json_t *m = normalize_metadata(metadata);
	char *ts = sq_json_text(t), *ss = sq_json_text(s), *ms = sq_json_text(m);
	int64_t now = sq_now_us();
	int rc = -1;
	sqlite3_stmt *st = sq_prepare(db,
		"INSERT INTO queues(id, company, user, name, display_name, created, last_update,"
		" tags, system_tags, metadata) VALUES (?,?,?,?,?,?,?,?,?,?)");
	if (st) {
		sq_bind_text(st, 1, out_id);
		sq_bind_text(st, 2, company);
		sq_bind_text(st, 3, who ? who->user : "");
		sq_bind_text(st, 4, name);
		sq_bind_text(st, 5, display_name);
		sqlite3_bind_int64(st, 6, now);
		sqlite3_bind_int64(st, 7, now);
		sq_bind_text(st, 8, ts);
		sq_bind_text(st, 9, ss);
		sq_bind_text(st, 10, ms);
		rc = step_done(st);
	}
	if (rc != 0)
		reply_err(r, 500, 100, "Database error: %s", sqlite3_errmsg(db));
	free(ts);
	free(ss);
	free(ms);
	json_decref(t);
	json_decref(s);
	json_decref(m);
	return rc;
}

int
queue_get_default(sqlite3 *db, const char *company, char out_id[33], char *out_name,
                  size_t namelen, struct reply *r)
{
	sqlite3_stmt *st = sq_prepare(db,
		"SELECT id, name, system_tags FROM queues WHERE company = ?"
		" AND system_tags LIKE '%\"default\"%' ORDER BY rowid");
	if (!st) {
		reply_err(r, 500, 100, "Database error");
		return -1;
	}
	sq_bind_text(st, 1, company);
	int found = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *stags = sq_col_json(st, 2, 1);
		const char *want[] = {"default"};
		if (sq_tags_match(want, 1, stags)) {
			if (found++ == 0) {
				snprintf(out_id, 33, "%s", sq_col_text(st, 0));
				if (out_name && namelen)
					snprintf(out_name, namelen, "%s", sq_col_text(st, 1));
			}
		}
		json_decref(stags);
	}
	sqlite3_finalize(st);
	if (found == 0) {
		reply_err(r, 400, 707, "No queue is tagged as the default queue for this company: "
		          "company=%s", company);
		return -1;
	}
	if (found > 1) {
		reply_err(r, 400, 708, "More than one queue is tagged as the default queue for this "
		          "company: company=%s", company);
		return -1;
	}
	return 0;
}

int
queue_resolve_for_enqueue(sqlite3 *db, const struct identity *who, const char *queue_id,
                          const char *queue_name, char out_id[33], struct reply *r)
{
	const char *company = who ? who->company : SRV_DEFAULT_COMPANY;
	out_id[0] = '\0';
	if (queue_id && *queue_id) {
		if (!queue_exists(db, queue_id)) {
			reply_err(r, 400, 701, "Invalid queue id: id=%s", queue_id);
			return -1;
		}
		snprintf(out_id, 33, "%s", queue_id);
		return 0;
	}
	if (queue_name && *queue_name) {
		if (queue_find_by_name(db, company, queue_name, out_id))
			return 0;
		return queue_create(db, who, queue_name, NULL, NULL, NULL, NULL, out_id, r);
	}
	return queue_get_default(db, company, out_id, NULL, 0, r);
}

/* One text column of a queue into out ("" when the queue is unknown); sql is a constant. */
static void
queue_text_col(sqlite3 *db, const char *sql, const char *queue_id, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	sqlite3_stmt *st = sq_prepare(db, sql);
	if (!st)
		return;
	sq_bind_text(st, 1, queue_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, outlen, "%s", sq_col_text(st, 0));
	sqlite3_finalize(st);
}

void
queue_name_of(sqlite3 *db, const char *queue_id, char *out, size_t outlen)
{
	queue_text_col(db, "SELECT name FROM queues WHERE id = ?", queue_id, out, outlen);
}

void
queue_company_of(sqlite3 *db, const char *queue_id, char *out, size_t outlen)
{
	queue_text_col(db, "SELECT company FROM queues WHERE id = ?", queue_id, out, outlen);
}

json_t *
queue_to_json(sqlite3 *db, const char *queue_id, long long max_entries, int metadata_as_list)
{
	sqlite3_stmt *st = sq_prepare(db,
		"SELECT id, company, user, name, display_name, created, last_update, tags,"
		" system_tags, metadata FROM queues WHERE id = ?");
	if (!st)
		return NULL;
	sq_bind_text(st, 1, queue_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return NULL;
	}
	json_t *q = json_object();
	json_object_set_new(q, "id", json_string(sq_col_text(st, 0)));
	json_object_set_new(q, "company", json_string(sq_col_text(st, 1)));
	if (*sq_col_text(st, 2))
		json_object_set_new(q, "user", json_string(sq_col_text(st, 2)));
	json_object_set_new(q, "name", json_string(sq_col_text(st, 3)));
	if (sqlite3_column_type(st, 4) != SQLITE_NULL)
		json_object_set_new(q, "display_name", json_string(sq_col_text(st, 4)));
	json_object_set_new(q, "created", sq_iso(sqlite3_column_int64(st, 5)));
	json_object_set_new(q, "last_update", sq_iso(sqlite3_column_int64(st, 6)));
	json_t *tags = sq_col_json(st, 7, 1), *stags = sq_col_json(st, 8, 1);
	json_object_set_new(q, "tags", sq_sorted_strings(tags));
	json_object_set_new(q, "system_tags", sq_sorted_strings(stags));
	json_decref(tags);
	json_decref(stags);
	if (metadata_as_list)
		json_object_set_new(q, "metadata", json_array());
	else
		json_object_set_new(q, "metadata", sq_col_json(st, 9, 0));
	sqlite3_finalize(st);

	json_t *entries = json_array();
	st = sq_prepare(db, "SELECT task, added FROM queue_entries WHERE queue = ? ORDER BY pos"
	                    " LIMIT ?");
	if (st) {
		sq_bind_text(st, 1, queue_id);
		sqlite3_bind_int64(st, 2, max_entries < 0 ? -1 : max_entries);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *e = json_object();
			json_object_set_new(e, "task", json_string(sq_col_text(st, 0)));
			json_object_set_new(e, "added", sq_iso(sqlite3_column_int64(st, 1)));
			json_array_append_new(entries, e);
		}
		sqlite3_finalize(st);
	}
	json_object_set_new(q, "entries", entries);
	return q;
}

json_t *
queue_ids_of_company(sqlite3 *db, const char *company)
{
	json_t *ids = json_array();
	sqlite3_stmt *st = sq_prepare(db, "SELECT id FROM queues WHERE company = ? ORDER BY rowid");
	if (!st)
		return ids;
	sq_bind_text(st, 1, company);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ids, json_string(sq_col_text(st, 0)));
	sqlite3_finalize(st);
	return ids;
}

int
queue_pop_head(sqlite3 *db, const char *queue_id, const char *only_task, char **task_out,
               int64_t *added_us)
{
	*task_out = NULL;
	sqlite3_stmt *st = sq_prepare(db, "SELECT task, added FROM queue_entries WHERE queue = ?"
	                                  " ORDER BY pos LIMIT 1");
	if (!st)
		return -1;
	sq_bind_text(st, 1, queue_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	char *task = xstrdup(sq_col_text(st, 0));
	int64_t added = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	if (only_task && strcmp(only_task, task) != 0) {
		free(task);
		return 0;
	}
	st = sq_prepare(db, "DELETE FROM queue_entries WHERE queue = ? AND task = ?");
	if (!st) {
		free(task);
		return -1;
	}
	sq_bind_text(st, 1, queue_id);
	sq_bind_text(st, 2, task);
	if (step_done(st) != 0) {
		free(task);
		return -1;
	}
	queue_touch(db, queue_id);
	*task_out = task;
	if (added_us)
		*added_us = added;
	return 1;
}

int
queue_count(sqlite3 *db, const char *queue_id)
{
	sqlite3_stmt *st = sq_prepare(db, "SELECT COUNT(*) FROM queue_entries WHERE queue = ?");
	if (!st)
		return -1;
	sq_bind_text(st, 1, queue_id);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return n;
}

char *
queue_peek(sqlite3 *db, const char *queue_id)
{
	sqlite3_stmt *st = sq_prepare(db, "SELECT task FROM queue_entries WHERE queue = ?"
	                                  " ORDER BY pos LIMIT 1");
	if (!st)
		return NULL;
	sq_bind_text(st, 1, queue_id);
	char *t = sqlite3_step(st) == SQLITE_ROW ? xstrdup(sq_col_text(st, 0)) : NULL;
	sqlite3_finalize(st);
	return t;
}

json_t *
queue_task_ids(sqlite3 *db, const char *queue_id)
{
	json_t *ids = json_array();
	sqlite3_stmt *st = sq_prepare(db, "SELECT task FROM queue_entries WHERE queue = ?"
	                                  " ORDER BY pos");
	if (!st)
		return ids;
	sq_bind_text(st, 1, queue_id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ids, json_string(sq_col_text(st, 0)));
	sqlite3_finalize(st);
	return ids;
}

long long
queue_move_index(long long from, long long n, enum queue_move how, long long count)
{
	long long to;
	switch (how) {
	case QMOVE_FORWARD:
		to = from - count;
		break;
	case QMOVE_BACKWARD:
		to = from + count;
		break;
	case QMOVE_FRONT:
		to = 0;
		break;
	case QMOVE_BACK:
	default:
		to = n - 1;
		break;
	}
	if (to < 0)
		to = 0;
	if (to > n - 1)
		to = n - 1;
	return to;
}

int
queue_move_task(sqlite3 *db, const char *queue_id, const char *task_id, enum queue_move how,
                long long count, struct reply *r)
{
	if (!queue_exists(db, queue_id) || !entry_exists(db, queue_id, task_id)) {
		reply_err(r, 400, 703, "Invalid queue id or task not in queue: queue=%s, task=%s",
		          queue_id, task_id);
		return -1;
	}
	json_t *ids = queue_task_ids(db, queue_id);
	long long n = (long long)json_array_size(ids), from = -1;
	for (long long i = 0; i < n; i++) {
		if (strcmp(json_string_value(json_array_get(ids, (size_t)i)), task_id) == 0) {
			from = i;
			break;
		}
	}
	if (from < 0) {
		json_decref(ids);
		reply_err(r, 400, 703, "Invalid queue id or task not in queue: queue=%s, task=%s",
		          queue_id, task_id);
		return -1;
	}
	long long to = queue_move_index(from, n, how, count);
	if (to != from) {
		json_t *moved = json_incref(json_array_get(ids, (size_t)from));
		json_array_remove(ids, (size_t)from);
		json_array_insert_new(ids, (size_t)to, moved);
		sqlite3_stmt *st = sq_prepare(db, "UPDATE queue_entries SET pos = ? WHERE queue = ?"
		                                  " AND task = ?");
		if (!st) {
			json_decref(ids);
			reply_err(r, 400, 705, "Failed adding task back to queue during reposition");
			return -1;
		}
		for (long long i = 0; i < n; i++) {
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, i + 1);
			sq_bind_text(st, 2, queue_id);
			sq_bind_text(st, 3, json_string_value(json_array_get(ids, (size_t)i)));
			if (sqlite3_step(st) != SQLITE_DONE) {
				sqlite3_finalize(st);
				json_decref(ids);
				reply_err(r, 400, 705, "Failed adding task back to queue during reposition");
				return -1;
			}
		}
		sqlite3_finalize(st);
		queue_touch(db, queue_id);
	}
	json_decref(ids);
	return (int)to;
}

int
queue_restore_task_status(sqlite3 *db, const char *task_id, const char *queue_id,
                          const char *reason, const char *by)
{
	json_t *t = task_load(db, task_id);
	if (!t)
		return 0;
	const char *tq = json_string_value(json_object_get(json_object_get(t, "execution"), "queue"));
	if (!tq || strcmp(tq, queue_id) != 0) {
		json_decref(t);
		return 0;
	}
	const char *prev = json_string_value(json_object_get(t, "enqueue_status"));
	char *target = xstrdup(prev && *prev ? prev : "created");
	json_decref(t);
	int rc = task_force_status(db, task_id, target, reason ? reason : "", "", by);
	free(target);
	if (rc != 0)
		return -1;
	t = task_load(db, task_id);
	if (!t)
		return -1;
	json_t *exec = json_object_get(t, "execution");
	if (json_is_object(exec))
		json_object_del(exec, "queue");
	json_object_del(t, "enqueue_status");
	rc = task_save(db, t);
	json_decref(t);
	return rc == 0 ? 1 : -1;
}

int
queue_delete_row(sqlite3 *db, const char *queue_id)
{
	sqlite3_stmt *st = sq_prepare(db, "DELETE FROM queue_entries WHERE queue = ?");
	if (!st)
		return -1;
	sq_bind_text(st, 1, queue_id);
	if (step_done(st) != 0)
		return -1;
	st = sq_prepare(db, "DELETE FROM queues WHERE id = ?");
	if (!st)
		return -1;
	sq_bind_text(st, 1, queue_id);
	if (step_done(st) != 0)
		return -1;
	return sqlite3_changes(db) > 0 ? 0 : -1;
}

int
queue_ensure_default(sqlite3 *db, const struct identity *who)
{
	const char *company = who ? who->company : SRV_DEFAULT_COMPANY;
	sqlite3_stmt *st = sq_prepare(db, "SELECT 1 FROM queues WHERE company = ? LIMIT 1");
	if (!st)
		return -1;
	sq_bind_text(st, 1, company);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return -1;
	struct reply r = {0};
	char id[33];
	json_t *stags = json_pack("[s]", "default");
	int res = queue_create(db, who, "default", NULL, stags, NULL, NULL, id, &r);
	json_decref(stags);
	if (res != 0)
		log_error("creating the default queue: %s", r.msg ? r.msg : "?");
	free(r.msg);
	json_decref(r.data);
	return res;
}
