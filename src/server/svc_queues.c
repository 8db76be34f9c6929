/*
 * svc_queues — the queues.* endpoints of clearml-server-lite (spec clearml-api §2.3, §4):
 * create/update/delete, get_all/get_by_id/get_default, add/remove/clear, the four move
 * operations, peek/get_num_entries, metadata, and queues.get_next_task — one BEGIN IMMEDIATE
 * transaction that pops the head, so however many workers race each task is handed out once.
 * Storage is queue_store.c; task status restores go through task_store (server.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/getall.h"
#include "server/longpoll.h"
#include "server/queue_store.h"
#include "server/store_sql.h"
#include "server/svc_txn.h"
#include "server/workers.h"
#include "util.h"

/* Commit, or turn a failed commit into a 500. */
/* The queue exists and belongs to the caller's company (queues are company data). */
static int
queue_visible(struct req *q, const char *queue_id)
{
	char company[64];
	queue_company_of(q->db, queue_id, company, sizeof company);
	return queue_exists(q->db, queue_id) && strcmp(company, sq_company(q)) == 0;
}

static int
metadata_as_list(const struct req *q)
{
	return !req_version_ge(q, 2, 17);
}

static int
require_queue(struct req *q, struct reply *r, const char **out)
{
	if (req_str(q, r, "queue", 1, out) != 0)
		return -1;
	if (!queue_visible(q, *out)) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", *out);
		return -1;
	}
	return 0;
}

static long long
max_entries_of(struct req *q, struct reply *r, int *err)
{
	long long m = -1;
	*err = 0;
	json_t *v = json_object_get(q->body, "max_task_entries");
	if (v && !json_is_null(v) && req_int(q, r, "max_task_entries", 0, &m) != 0)
		*err = 1;
	return m;
}

static void
h_create(struct req *q, struct reply *r)
{
	const char *name = NULL, *display = NULL;
	if (req_str(q, r, "name", 1, &name) != 0 || req_str(q, r, "display_name", 0, &display) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	char id[33];
	if (queue_create(q->db, q->who, name, json_object_get(q->body, "tags"),
	                 json_object_get(q->body, "system_tags"),
	                 json_object_get(q->body, "metadata"), display, id, r) == 0)
		reply_data(r, json_pack("{s:s}", "id", id));
	sq_finish(q, r);
}

static void
h_get_by_id(struct req *q, struct reply *r)
{
	const char *id;
	int err;
	if (req_str(q, r, "queue", 1, &id) != 0)
		return;
	long long max = max_entries_of(q, r, &err);
	if (err)
		return;
	json_t *qq = queue_visible(q, id) ? queue_to_json(q->db, id, max, metadata_as_list(q)) : NULL;
	if (!qq) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", id);
		return;
	}
	reply_data(r, json_pack("{s:o}", "queue", qq));
}

/* Replace entries[].task by {id, name} (get_all_ex). */
static void
entries_with_names(sqlite3 *db, json_t *queue)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(queue, "entries"), i, e) {
		const char *tid = json_string_value(json_object_get(e, "task"));
		if (!tid)
			continue;
		json_t *t = task_load(db, tid);
		json_t *name = t ? json_object_get(t, "name") : NULL;
		json_object_set_new(e, "task", json_pack("{s:s,s:O}", "id", tid, "name",
		                                          name ? name : json_null()));
		json_decref(t);
	}
}

static const char *const q_pattern_fields[] = {"name", NULL};
static const char *const q_list_fields[] = {"id", "tags", "system_tags", "metadata.*", NULL};
static const char *const q_none[] = {NULL};

static const struct getall_spec queue_getall_spec = {
	.pattern_fields = q_pattern_fields,
	.list_fields = q_list_fields,
	.range_fields = q_none,
	.datetime_fields = q_none,
	.text_fields = q_pattern_fields,
	.hidden_by_default = q_none,
	.hidden_tag = 1,
	.hidden_system_tag = "k8s-glue",
	.hidden_unless_name = 1,
};

static void
get_all_impl(struct req *q, struct reply *r, int ex)
{
	int err;
	long long max = max_entries_of(q, r, &err);
	if (err || getall_check(q->body, r) != 0)
		return;
	json_t *ids = queue_ids_of_company(q->db, sq_company(q)), *docs = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *qq = queue_to_json(q->db, json_string_value(idv), max, metadata_as_list(q));
		if (!qq)
			continue;
		if (ex) {
			entries_with_names(q->db, qq);
			json_object_set_new(qq, "workers", workers_of_queue(q->db, sq_company(q),
			                                                    json_string_value(idv)));
		}
		json_array_append_new(docs, qq);
	}
	json_decref(ids);
	getall_reply(q, r, docs, &queue_getall_spec, "queues");
	json_decref(docs);
}

static void
h_get_all(struct req *q, struct reply *r)
{
	get_all_impl(q, r, 0);
}

static void
h_get_all_ex(struct req *q, struct reply *r)
{
	get_all_impl(q, r, 1);
}

static void
h_get_default(struct req *q, struct reply *r)
{
	char id[33], name[256];
	if (queue_get_default(q->db, sq_company(q), id, name, sizeof name, r) == 0)
		reply_data(r, json_pack("{s:s,s:s}", "id", id, "name", name));
}

static int
set_json_col(sqlite3 *db, const char *col, const char *queue_id, json_t *v)
{
	char *sql = xasprintf("UPDATE queues SET %s = ? WHERE id = ?", col);
	sqlite3_stmt *st = sq_prepare(db, sql);
	free(sql);
	if (!st)
		return -1;
	char *text = json_is_string(v) ? NULL : sq_json_text(v);
	sq_bind_text(st, 1, json_is_string(v) ? json_string_value(v) : text);
	sq_bind_text(st, 2, queue_id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	free(text);
	return rc;
}

static void
h_update(struct req *q, struct reply *r)
{
	const char *id, *name = NULL, *display = NULL;
	if (req_str(q, r, "queue", 1, &id) != 0 || req_str(q, r, "name", 0, &name) != 0 ||
	    req_str(q, r, "display_name", 0, &display) != 0)
		return;
	json_t *tags = json_object_get(q->body, "tags");
	json_t *stags = json_object_get(q->body, "system_tags");
	json_t *md = json_object_get(q->body, "metadata");
	if (sq_tags_valid(tags) || sq_tags_valid(stags)) {
		reply_err(r, 400, 16, "Field value error (tags must be strings not starting with __$)");
		return;
	}
	if (sq_begin(q, r) != 0)
		return;
	if (!queue_visible(q, id)) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", id);
		goto done;
	}
	json_t *fields = json_object();
	int rc = 0;
	if (name) {
		char other[33];
		char company[64];
		queue_company_of(q->db, id, company, sizeof company);
		if (strlen(name) < 3) {
			reply_err(r, 400, 800, "Data validation error (Queue name must be at least 3 "
			          "characters long): name=%s", name);
			json_decref(fields);
			goto done;
		}
		if (queue_find_by_name(q->db, company, name, other) && strcmp(other, id) != 0) {
			reply_err(r, 400, 801, "Value combination already exists (unique field already "
			          "contains this value): name=%s", name);
			json_decref(fields);
			goto done;
		}
		json_t *v = json_string(name);
		rc |= set_json_col(q->db, "name", id, v);
		json_object_set_new(fields, "name", v);
	}
	if (display) {
		json_t *v = json_string(display);
		rc |= set_json_col(q->db, "display_name", id, v);
		json_object_set_new(fields, "display_name", v);
	}
	if (json_is_array(tags)) {
		rc |= set_json_col(q->db, "tags", id, tags);
		json_object_set(fields, "tags", tags);
	}
	if (json_is_array(stags)) {
		rc |= set_json_col(q->db, "system_tags", id, stags);
		json_object_set(fields, "system_tags", stags);
	}
	if (md && !json_is_null(md)) {
		json_t *norm = json_object();
		size_t i;
		json_t *e;
		if (json_is_array(md)) {
			json_array_foreach(md, i, e) {
				const char *k = json_string_value(json_object_get(e, "key"));
				if (k)
					json_object_set(norm, k, e);
			}
		} else if (json_is_object(md)) {
			json_object_update(norm, md);
		}
		rc |= set_json_col(q->db, "metadata", id, norm);
		json_object_set_new(fields, "metadata", norm);
	}
	if (rc) {
		json_decref(fields);
		reply_err(r, 500, 100, "Database error: %s", sqlite3_errmsg(q->db));
		goto done;
	}
	int updated = json_object_size(fields) > 0;
	if (updated) {
		int64_t now = sq_now_us();
		sqlite3_stmt *st = sq_prepare(q->db, "UPDATE queues SET last_update = ? WHERE id = ?");
		if (st) {
			sqlite3_bind_int64(st, 1, now);
			sq_bind_text(st, 2, id);
			sqlite3_step(st);
			sqlite3_finalize(st);
		}
		json_object_set_new(fields, "last_update", sq_iso(now));
	}
	reply_data(r, json_pack("{s:i,s:o}", "updated", updated, "fields", fields));
done:
	sq_finish(q, r);
}

/* Remove every entry of a queue; tasks that came from it get their status back. Returns the
 * ids whose status was restored (what clear_queue reports), in queue order. */
static json_t *
clear_entries(sqlite3 *db, const char *queue_id, const char *why, const char *by)
{
	json_t *ids = queue_task_ids(db, queue_id), *restored = json_array();
	char *reason = xasprintf("Queue %s was %s", queue_id, why);
	size_t i;
	json_t *t;
	json_array_foreach(ids, i, t) {
		queue_remove_task(db, queue_id, json_string_value(t));
		if (queue_restore_task_status(db, json_string_value(t), queue_id, reason, by) > 0)
			json_array_append(restored, t);
	}
	free(reason);
	json_decref(ids);
	return restored;
}

static void
h_delete(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0;
	if (req_str(q, r, "queue", 1, &id) != 0 || req_bool(q, r, "force", 0, &force) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	if (!queue_visible(q, id)) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", id);
	} else if (!force && queue_count(q->db, id) > 0) {
		reply_err(r, 400, 702, "Queue is not empty: queue=%s", id);
	} else {
		json_decref(clear_entries(q->db, id, "deleted", q->who->user));
		if (queue_delete_row(q->db, id) != 0)
			reply_err(r, 500, 100, "Database error: %s", sqlite3_errmsg(q->db));
		else
			reply_data(r, json_pack("{s:i}", "deleted", 1));
	}
	sq_finish(q, r);
}

static int
require_task(struct req *q, struct reply *r, const char **out)
{
	if (req_str(q, r, "task", 1, out) != 0)
		return -1;
	return 0;
}

static void
h_add_task(struct req *q, struct reply *r)
{
	const char *qid, *tid;
	int update_exec = 1;
	if (req_str(q, r, "queue", 1, &qid) != 0 || require_task(q, r, &tid) != 0 ||
	    req_bool(q, r, "update_execution_queue", 0, &update_exec) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	json_t *t = task_load(q->db, tid);
	if (!t) {
		reply_err(r, 400, 101, "Invalid task id: id=%s", tid);
	} else if (queue_add_task(q->db, qid, tid, r) == 0) {
		if (update_exec) {
			json_t *exec = json_object_get(t, "execution");
			if (!json_is_object(exec)) {
				exec = json_object();
				json_object_set_new(t, "execution", exec);
			}
			json_object_set_new(exec, "queue", json_string(qid));
			if (task_save(q->db, t) != 0)
				reply_err(r, 500, 100, "Database error (saving task)");
		}
		if (!r->code)
			reply_data(r, json_pack("{s:i}", "added", 1));
	}
	json_decref(t);
	sq_finish(q, r);
}

static void
h_remove_task(struct req *q, struct reply *r)
{
	const char *qid, *tid;
	int update_status = 0;
	if (req_str(q, r, "queue", 1, &qid) != 0 || require_task(q, r, &tid) != 0 ||
	    req_bool(q, r, "update_task_status", 0, &update_status) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	/* Like the real server, an unknown queue is "invalid queue or task not queued" too. */
	int n = queue_remove_task(q->db, qid, tid);
	if (n == 0) {
		reply_err(r, 400, 703, "Invalid queue id or task not in queue: queue=%s, task=%s",
		          qid, tid);
	} else {
		if (update_status) {
			char *reason = xasprintf("Task was removed from the queue %s", qid);
			queue_restore_task_status(q->db, tid, qid, reason, q->who->user);
			free(reason);
		}
		reply_data(r, json_pack("{s:i}", "removed", n));
	}
	sq_finish(q, r);
}

static void
h_clear_queue(struct req *q, struct reply *r)
{
	const char *qid;
	if (req_str(q, r, "queue", 1, &qid) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	if (!queue_visible(q, qid))
		reply_err(r, 400, 701, "Invalid queue id: id=%s", qid);
	else
		reply_data(r, json_pack("{s:o}", "removed_tasks", clear_entries(q->db, qid, "cleared", q->who->user)));
	sq_finish(q, r);
}

/* Claimers of this process take turns here before BEGIN IMMEDIATE: SQLite's busy handler
 * sleeps in steps of up to 100 ms, so 20 racing agents would otherwise mostly sleep. The
 * transaction is still what makes the pop atomic (other processes, other writers). */
static pthread_mutex_t g_claim_lock = PTHREAD_MUTEX_INITIALIZER;

static void get_next_task_locked(struct req *q, struct reply *r);

static void
h_get_next_task(struct req *q, struct reply *r)
{
	pthread_mutex_lock(&g_claim_lock);
	get_next_task_locked(q, r);
	pthread_mutex_unlock(&g_claim_lock);
}

static void
get_next_task_locked(struct req *q, struct reply *r)
{
	const char *qid, *only = NULL;
	int task_info = 0;
	long long wait_sec = 0;
	if (req_str(q, r, "queue", 1, &qid) != 0 || req_bool(q, r, "get_task_info", 0, &task_info) != 0 ||
	    req_str(q, r, "task", 0, &only) != 0 || req_int(q, r, "wait_sec", 0, &wait_sec) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	if (!queue_visible(q, qid)) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", qid);
		sq_finish(q, r);
		return;
	}
	char *task = NULL;
	int64_t added = 0;
	int rc = queue_pop_head(q->db, qid, only && *only ? only : NULL, &task, &added);
	if (rc < 0) {
		reply_err(r, 500, 100, "Database error: %s", sqlite3_errmsg(q->db));
	} else if (rc == 0) {
		/* long-poll (server-lite's addition, advertised in server.info): park until a task
		 * comes or wait_sec (capped) has passed */
		int64_t now = now_ms(), until = q->wait_until_ms;
		if (!until && wait_sec > 0)
			until = now + (wait_sec > LONGPOLL_MAX_WAIT_SEC ? LONGPOLL_MAX_WAIT_SEC : wait_sec) * 1000;
		if (until > now && longpoll_open())
			r->suspend_until_ms = until;
		else
			reply_data(r, json_object());
	} else {
		json_t *data = json_pack("{s:{s:s,s:o}}", "entry", "task", task, "added", sq_iso(added));
		json_t *t = task_load(q->db, task);
		const char *status = t ? json_string_value(json_object_get(t, "status")) : NULL;
		/* A task stopped while it sat in the queue (stop races enqueue) goes out as queued,
		 * as the real server does, so the agent's tasks.started is a valid transition. */
		if (status && strcmp(status, "stopped") == 0)
			task_force_status(q->db, task, "queued", "", "", q->who->user);
		if (task_info && t) {
			json_t *c = json_object_get(t, "company"), *u = json_object_get(t, "user");
			json_object_set_new(data, "task_info",
			                    json_pack("{s:s,s:s}", "company", sq_str(c),
			                              "user", sq_str(u)));
		}
		json_decref(t);
		reply_data(r, data);
	}
	free(task);
	sq_finish(q, r);
}

static void
move_impl(struct req *q, struct reply *r, enum queue_move how)
{
	const char *qid, *tid;
	long long count = 1;
	if (req_str(q, r, "queue", 1, &qid) != 0 || require_task(q, r, &tid) != 0)
		return;
	if ((how == QMOVE_FORWARD || how == QMOVE_BACKWARD) &&
	    req_int(q, r, "count", 0, &count) != 0)
		return;
	if (count < 0) {
		reply_err(r, 400, 12, "Validation error (count must be >= 0): count=%lld", count);
		return;
	}
	if (sq_begin(q, r) != 0)
		return;
	int pos = queue_move_task(q->db, qid, tid, how, count, r);
	if (pos >= 0)
		reply_data(r, json_pack("{s:i}", "position", pos));
	sq_finish(q, r);
}

static void h_move_forward(struct req *q, struct reply *r) { move_impl(q, r, QMOVE_FORWARD); }
static void h_move_backward(struct req *q, struct reply *r) { move_impl(q, r, QMOVE_BACKWARD); }
static void h_move_front(struct req *q, struct reply *r) { move_impl(q, r, QMOVE_FRONT); }
static void h_move_back(struct req *q, struct reply *r) { move_impl(q, r, QMOVE_BACK); }

static void
h_peek_task(struct req *q, struct reply *r)
{
	const char *qid;
	if (require_queue(q, r, &qid) != 0)
		return;
	char *t = queue_peek(q->db, qid);
	reply_data(r, json_pack("{s:o}", "task", t ? json_string(t) : json_null()));
	free(t);
}

static void
h_get_num_entries(struct req *q, struct reply *r)
{
	const char *qid;
	if (require_queue(q, r, &qid) != 0)
		return;
	reply_data(r, json_pack("{s:i}", "num", queue_count(q->db, qid)));
}

static json_t *
load_metadata(sqlite3 *db, const char *qid)
{
	sqlite3_stmt *st = sq_prepare(db, "SELECT metadata FROM queues WHERE id = ?");
	json_t *md = NULL;
	if (st) {
		sq_bind_text(st, 1, qid);
		if (sqlite3_step(st) == SQLITE_ROW)
			md = sq_col_json(st, 0, 0);
		sqlite3_finalize(st);
	}
	return md ? md : json_object();
}

static void
h_add_or_update_metadata(struct req *q, struct reply *r)
{
	const char *qid;
	int replace = 0;
	if (req_str(q, r, "queue", 1, &qid) != 0 || req_bool(q, r, "replace_metadata", 0, &replace) != 0)
		return;
	json_t *items = json_object_get(q->body, "metadata");
	if (!json_is_array(items)) {
		reply_err(r, 400, 12, "Validation error (metadata must be a list of {key, type, value})");
		return;
	}
	if (sq_begin(q, r) != 0)
		return;
	if (!queue_visible(q, qid)) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", qid);
	} else {
		json_t *md = replace ? json_object() : load_metadata(q->db, qid);
		size_t i;
		json_t *e;
		json_array_foreach(items, i, e) {
			const char *k = json_string_value(json_object_get(e, "key"));
			if (k)
				json_object_set(md, k, e);
		}
		if (set_json_col(q->db, "metadata", qid, md) != 0)
			reply_err(r, 500, 100, "Database error");
		else {
			queue_touch(q->db, qid);
			reply_data(r, json_pack("{s:i}", "updated", 1));
		}
		json_decref(md);
	}
	sq_finish(q, r);
}

static void
h_delete_metadata(struct req *q, struct reply *r)
{
	const char *qid;
	if (req_str(q, r, "queue", 1, &qid) != 0)
		return;
	json_t *keys = json_object_get(q->body, "keys");
	if (!json_is_array(keys)) {
		reply_err(r, 400, 12, "Validation error (keys must be a list)");
		return;
	}
	if (sq_begin(q, r) != 0)
		return;
	if (!queue_visible(q, qid)) {
		reply_err(r, 400, 701, "Invalid queue id: id=%s", qid);
	} else {
		json_t *md = load_metadata(q->db, qid);
		size_t i, before = json_object_size(md);
		json_t *k;
		json_array_foreach(keys, i, k) {
			if (json_is_string(k))
				json_object_del(md, json_string_value(k));
		}
		int updated = json_object_size(md) != before;
		if (updated && set_json_col(q->db, "metadata", qid, md) != 0)
			reply_err(r, 500, 100, "Database error");
		else
			reply_data(r, json_pack("{s:i}", "updated", updated));
		json_decref(md);
	}
	sq_finish(q, r);
}

const struct endpoint svc_queues_endpoints[] = {
	{"queues.create", "2.4", 0, h_create},
	{"queues.get_by_id", "2.4", 0, h_get_by_id},
	{"queues.get_all", "2.4", 0, h_get_all},
	{"queues.get_all_ex", "2.4", 0, h_get_all_ex},
	{"queues.get_default", "2.4", 0, h_get_default},
	{"queues.update", "2.4", 0, h_update},
	{"queues.delete", "2.4", 0, h_delete},
	{"queues.add_task", "2.4", 0, h_add_task},
	{"queues.remove_task", "2.4", 0, h_remove_task},
	{"queues.clear_queue", "1.0", 0, h_clear_queue},
	{"queues.get_next_task", "1.0", 0, h_get_next_task},
	{"queues.move_task_forward", "2.4", 0, h_move_forward},
	{"queues.move_task_backward", "2.4", 0, h_move_backward},
	{"queues.move_task_to_front", "2.4", 0, h_move_front},
	{"queues.move_task_to_back", "2.4", 0, h_move_back},
	{"queues.peek_task", "2.15", 0, h_peek_task},
	{"queues.get_num_entries", "2.15", 0, h_get_num_entries},
	{"queues.add_or_update_metadata", "2.13", 0, h_add_or_update_metadata},
	{"queues.delete_metadata", "2.13", 0, h_delete_metadata},
	{NULL, NULL, 0, NULL},
};
