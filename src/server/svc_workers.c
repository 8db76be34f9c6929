/*
 * svc_workers — workers.* of clearml-server-lite (spec clearml-api §2.5, §5) and the worker
 * table: register/unregister, status_report (auto-register, heartbeat, current task), get_all /
 * get_count with last_seen, tag and glob filters, and the runtime properties the open-source
 * server lacks (get/set, with optional expiry). A worker lives until it is silent longer than its
 * register timeout: workers_expire() (called by the server's background thread) deletes it, and
 * every read also ignores expired rows so the answer never depends on that thread's timing.
 * Times are epoch microseconds.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "server/organization.h"
#include "server/projects.h"
#include "server/queue_store.h"
#include "server/store_sql.h"
#include "server/svc_txn.h"
#include "server/worker_stats.h"
#include "server/workers.h"
#include "util.h"

const char svc_workers_schema[] =
	"CREATE TABLE IF NOT EXISTS workers ("
	"  company TEXT NOT NULL,"
	"  user TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  user_name TEXT NOT NULL DEFAULT '',"
	"  company_name TEXT NOT NULL DEFAULT '',"
	"  ip TEXT,"
	"  register_time INTEGER NOT NULL,"
	"  timeout INTEGER NOT NULL,"
	"  last_activity_time INTEGER NOT NULL,"
	"  last_report_time INTEGER,"
	"  tags TEXT NOT NULL DEFAULT '[]',"
	"  system_tags TEXT NOT NULL DEFAULT '[]',"
	"  queues TEXT NOT NULL DEFAULT '[]',"
	"  queue TEXT,"
	"  task TEXT,"
	"  project TEXT,"
	"  machine_stats TEXT,"
	"  PRIMARY KEY (company, user, id));"
	"CREATE INDEX IF NOT EXISTS workers_task ON workers(task);"
	"CREATE TABLE IF NOT EXISTS worker_props ("
	"  company TEXT NOT NULL,"
	"  user TEXT NOT NULL,"
	"  worker TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  value TEXT,"
	"  expiry INTEGER,"          /* epoch ms, NULL = never */
	"  PRIMARY KEY (company, user, worker, key));";

/* A row is alive while now <= last_activity_time + timeout. */
#define ALIVE_SQL "(last_activity_time + timeout * 1000000) >= ?"

static const char *
user_of(const struct req *q)
{
	return q->who ? q->who->user : "";
}

static int
worker_exists(sqlite3 *db, const char *company, const char *user, const char *id, int64_t now)
{
	sqlite3_stmt *st = sq_prepare(db, "SELECT 1 FROM workers WHERE company = ? AND user = ?"
	                                  " AND id = ? AND " ALIVE_SQL);
	if (!st)
		return 0;
	sq_bind_text(st, 1, company);
	sq_bind_text(st, 2, user);
	sq_bind_text(st, 3, id);
	sqlite3_bind_int64(st, 4, now);
	int found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* Check the queue ids of a register/status_report; 0, or -1 with r filled (701). */
static int
check_queues(struct req *q, struct reply *r, json_t *queues)
{
	if (!queues || json_is_null(queues))
		return 0;
	if (!json_is_array(queues)) {
		reply_err(r, 400, 12, "Validation error (queues must be a list of queue ids)");
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(queues, i, e) {
		if (!json_is_string(e)) {
			reply_err(r, 400, 12, "Validation error (queues must be a list of queue ids)");
			return -1;
		}
		char company[64];
		queue_company_of(q->db, json_string_value(e), company, sizeof company);
		if (!queue_exists(q->db, json_string_value(e)) || strcmp(company, sq_company(q)) != 0) {
			reply_err(r, 400, 701, "Invalid queue id: id=%s", json_string_value(e));
			return -1;
		}
	}
	return 0;
}

static int
check_tags(struct reply *r, json_t *tags, const char *field)
{
	if (tags && !json_is_null(tags) && sq_tags_valid(tags) != 0) {
		reply_err(r, 400, 12, "Validation error (%s must be a list of strings)", field);
		return -1;
	}
	return 0;
}

/* Insert or overwrite the worker row (register, or auto-register from status_report). */
static int
upsert_worker(struct req *q, const char *id, long long timeout, json_t *tags, json_t *stags,
              json_t *queues, int64_t now)
{
	sqlite3_stmt *st = sq_prepare(q->db,
		"INSERT OR REPLACE INTO workers(company, user, id, user_name, company_name, ip,"
		" register_time, timeout, last_activity_time, last_report_time, tags, system_tags,"
		" queues) VALUES (?,?,?,?,?,?,?,?,?,NULL,?,?,?)");
	if (!st)
		return -1;
	char *t = sq_json_text(json_is_array(tags) ? tags : NULL);
	char *s = sq_json_text(json_is_array(stags) ? stags : NULL);
	char *qq = sq_json_text(json_is_array(queues) ? queues : NULL);
	sq_bind_text(st, 1, sq_company(q));
	sq_bind_text(st, 2, user_of(q));
	sq_bind_text(st, 3, id);
	sq_bind_text(st, 4, q->who ? q->who->user_name : "");
	sq_bind_text(st, 5, q->who ? q->who->company_name : SRV_DEFAULT_COMPANY_NAME);
	sq_bind_text(st, 6, q->client_ip);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, timeout);
	sqlite3_bind_int64(st, 9, now);
	sq_bind_text(st, 10, json_is_array(tags) ? t : "[]");
	sq_bind_text(st, 11, json_is_array(stags) ? s : "[]");
	sq_bind_text(st, 12, json_is_array(queues) ? qq : "[]");
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	free(t);
	free(s);
	free(qq);
	return rc;
}

static void
h_register(struct req *q, struct reply *r)
{
	const char *id;
	long long timeout = q->srv && q->srv->worker_timeout_sec > 0 ? q->srv->worker_timeout_sec : 600;
	if (req_str(q, r, "worker", 1, &id) != 0 || req_int(q, r, "timeout", 0, &timeout) != 0)
		return;
	if (!*id) {
		reply_err(r, 400, 1001, "Invalid worker id");
		return;
	}
	if (timeout <= 0) {
		reply_err(r, 400, 1002, "Worker registration failed (timeout must be positive): "
		          "timeout=%lld", timeout);
		return;
	}
	json_t *queues = json_object_get(q->body, "queues");
	json_t *tags = json_object_get(q->body, "tags"), *stags = json_object_get(q->body, "system_tags");
	if (check_tags(r, tags, "tags") || check_tags(r, stags, "system_tags"))
		return;
	if (sq_begin(q, r) != 0)
		return;
	if (check_queues(q, r, queues) == 0 &&
	    queue_resources_set(q->db, queues, json_object_get(q->body, "resources"), r) == 0) {
		if (upsert_worker(q, id, timeout, tags, stags, queues, sq_now_us()) != 0)
			reply_err(r, 400, 1002, "Worker registration failed: %s", sqlite3_errmsg(q->db));
		else
			reply_data(r, json_object());
	}
	sq_finish(q, r);
}

static void
h_unregister(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "worker", 1, &id) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	sqlite3_stmt *st = sq_prepare(q->db, "DELETE FROM workers WHERE company = ? AND user = ?"
	                                     " AND id = ?");
	if (st) {
		sq_bind_text(st, 1, sq_company(q));
		sq_bind_text(st, 2, user_of(q));
		sq_bind_text(st, 3, id);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	reply_data(r, json_object());
	sq_finish(q, r);
}

static void
h_status_report(struct req *q, struct reply *r)
{
	const char *id, *task = NULL, *queue = NULL;
	long long ts = 0;
	if (req_str(q, r, "worker", 1, &id) != 0 || req_int(q, r, "timestamp", 1, &ts) != 0 ||
	    req_str(q, r, "task", 0, &task) != 0 || req_str(q, r, "queue", 0, &queue) != 0)
		return;
	if (!*id) {
		reply_err(r, 400, 1001, "Invalid worker id");
		return;
	}
	json_t *queues = json_object_get(q->body, "queues");
	json_t *tags = json_object_get(q->body, "tags"), *stags = json_object_get(q->body, "system_tags");
	json_t *stats = json_object_get(q->body, "machine_stats");
	if (check_tags(r, tags, "tags") || check_tags(r, stags, "system_tags"))
		return;
	if (sq_begin(q, r) != 0)
		return;
	int64_t now = sq_now_us();
	json_t *tdoc = NULL;
	if (task && *task) {
		tdoc = task_load(q->db, task);
		const char *tc = tdoc ? json_string_value(json_object_get(tdoc, "company")) : NULL;
		if (!tdoc || (tc && strcmp(tc, sq_company(q)) != 0)) {
			reply_err(r, 400, 101, "Invalid task id: id=%s", task);
			goto done;
		}
	}
	if (check_queues(q, r, queues) != 0)
		goto done;
	if (!worker_exists(q->db, sq_company(q), user_of(q), id, now)) {
		long long dflt = q->srv && q->srv->worker_timeout_sec > 0 ? q->srv->worker_timeout_sec : 600;
		if (upsert_worker(q, id, dflt, tags, stags, queues, now) != 0) {
			reply_err(r, 400, 1002, "Worker registration failed: %s", sqlite3_errmsg(q->db));
			goto done;
		}
	}
	const char *project = tdoc ? json_string_value(json_object_get(tdoc, "project")) : NULL;
	char *stats_text = stats && json_is_object(stats) ? sq_json_text(stats) : NULL;
	char *queues_text = json_is_array(queues) && json_array_size(queues) ? sq_json_text(queues)
	                                                                      : NULL;
	char *tags_text = json_is_array(tags) ? sq_json_text(tags) : NULL;
	char *stags_text = json_is_array(stags) ? sq_json_text(stags) : NULL;
	sqlite3_stmt *st = sq_prepare(q->db,
		"UPDATE workers SET ip = COALESCE(?1, ip), last_activity_time = ?2,"
		" last_report_time = ?2, queue = ?3, task = ?4, project = ?5,"
		" machine_stats = COALESCE(?6, machine_stats), queues = COALESCE(?7, queues),"
		" tags = COALESCE(?8, tags), system_tags = COALESCE(?9, system_tags)"
		" WHERE company = ?10 AND user = ?11 AND id = ?12");
	int rc = -1;
	if (st) {
		sq_bind_text(st, 1, q->client_ip);
		sqlite3_bind_int64(st, 2, now);
		sq_bind_text(st, 3, queue && *queue ? queue : NULL);
		sq_bind_text(st, 4, task && *task ? task : NULL);
		sq_bind_text(st, 5, project && *project ? project : NULL);
		sq_bind_text(st, 6, stats_text);
		sq_bind_text(st, 7, queues_text);
		sq_bind_text(st, 8, tags_text);
		sq_bind_text(st, 9, stags_text);
		sq_bind_text(st, 10, sq_company(q));
		sq_bind_text(st, 11, user_of(q));
		sq_bind_text(st, 12, id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_finalize(st);
	}
	free(stats_text);
	free(queues_text);
	free(tags_text);
	free(stags_text);
	if (rc != 0) {
		reply_err(r, 500, 100, "Database error: %s", sqlite3_errmsg(q->db));
		goto done;
	}
	if (worker_stats_record(q->db, sq_company(q), id, task && *task, ts, stats) != 0) {
		reply_err(r, 500, 100, "Database error (recording machine statistics)");
		goto done;
	}
	if (tdoc && task_touch_worker(q->db, task, id) != 0) {
		reply_err(r, 500, 100, "Database error (updating the task)");
		goto done;
	}
	reply_data(r, json_object());
done:
	json_decref(tdoc);
	sq_finish(q, r);
}

/* {id, name} of the worker's current project. */
static json_t *
project_ref(sqlite3 *db, const char *project_id)
{
	json_t *p = project_load(db, project_id);
	json_t *name = p ? json_object_get(p, "name") : NULL;
	json_t *ref = json_pack("{s:s,s:s}", "id", project_id, "name", sq_str(name));
	json_decref(p);
	return ref;
}

static json_t *
queue_ref(sqlite3 *db, const char *queue_id)
{
	json_t *qq = queue_to_json(db, queue_id, 1, 1);
	if (!qq)
		return NULL;
	json_t *out = json_pack("{s:s,s:O}", "id", queue_id, "name", json_object_get(qq, "name"));
	json_t *dn = json_object_get(qq, "display_name");
	if (dn)
		json_object_set(out, "display_name", dn);
	json_t *head = json_array_get(json_object_get(qq, "entries"), 0);
	if (head) {
		const char *tid = json_string_value(json_object_get(head, "task"));
		json_t *t = task_load(db, tid);
		json_t *tn = t ? json_object_get(t, "name") : NULL;
		json_object_set_new(out, "next_task", json_pack("{s:s,s:s}", "id", tid, "name",
		                                                sq_str(tn)));
		json_decref(t);
	}
	json_object_set_new(out, "num_tasks", json_integer(queue_count(db, queue_id)));
	json_decref(qq);
	return out;
}

#define WORKER_COLS "company, user, id, user_name, company_name, ip, register_time, timeout," \
	" last_activity_time, last_report_time, tags, system_tags, queues, queue, task, project"

/* One worker entry in the §5 shape from a row of WORKER_COLS. */
static json_t *
worker_entry(sqlite3 *db, sqlite3_stmt *st)
{
	const char *company = sq_col_text(st, 0), *user = sq_col_text(st, 1), *id = sq_col_text(st, 2);
	json_t *w = json_object();
	char *key = xasprintf("worker_%s_%s_%s", company, user, id);
	json_object_set_new(w, "key", json_string(key));
	free(key);
	json_object_set_new(w, "id", json_string(id));
	json_object_set_new(w, "user", json_pack("{s:s,s:s}", "id", user, "name", sq_col_text(st, 3)));
	json_object_set_new(w, "company", json_pack("{s:s,s:s}", "id", company, "name",
	                                            sq_col_text(st, 4)));
	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		json_object_set_new(w, "ip", json_string(sq_col_text(st, 5)));
	json_object_set_new(w, "register_time", sq_iso(sqlite3_column_int64(st, 6)));
	json_object_set_new(w, "register_timeout", json_integer(sqlite3_column_int64(st, 7)));
	json_object_set_new(w, "last_activity_time", sq_iso(sqlite3_column_int64(st, 8)));
	if (sqlite3_column_type(st, 9) != SQLITE_NULL)
		json_object_set_new(w, "last_report_time", sq_iso(sqlite3_column_int64(st, 9)));
	json_t *tags = sq_col_json(st, 10, 1), *stags = sq_col_json(st, 11, 1);
	json_object_set_new(w, "tags", sq_sorted_strings(tags));
	json_object_set_new(w, "system_tags", sq_sorted_strings(stags));
	json_decref(tags);
	json_decref(stags);

	/* As upstream: `queue` is shown only when it is one of the worker's `queues`. */
	json_t *queues = sq_col_json(st, 12, 1), *qlist = json_array();
	const char *cur_queue = sqlite3_column_type(st, 13) != SQLITE_NULL ? sq_col_text(st, 13) : NULL;
	size_t i;
	json_t *qv;
	json_array_foreach(queues, i, qv) {
		json_t *ref = json_is_string(qv) ? queue_ref(db, json_string_value(qv)) : NULL;
		if (!ref)
			continue;
		json_array_append_new(qlist, ref);
		if (cur_queue && strcmp(cur_queue, json_string_value(qv)) == 0)
			json_object_set(w, "queue", ref);
	}
	json_decref(queues);
	json_object_set_new(w, "queues", qlist);
	if (sqlite3_column_type(st, 14) != SQLITE_NULL) {
		const char *tid = sq_col_text(st, 14);
		json_t *t = task_load(db, tid);
		json_t *name = t ? json_object_get(t, "name") : NULL;
		json_t *li = t ? json_object_get(t, "last_iteration") : NULL;
		/* running_time: ms since the task started (upstream), 0 before it did */
		int64_t started = t ? iso_time_parse(sq_str(json_object_get(t, "started"))) : -1;
		int64_t running = started > 0 ? (sq_now_us() - started) / 1000 : 0;
		json_object_set_new(w, "task", json_pack("{s:s,s:s,s:I,s:I}", "id", tid,
		                    "name", sq_str(name),
		                    "running_time", (json_int_t)(running > 0 ? running : 0),
		                    "last_iteration", (json_int_t)(json_is_integer(li) ?
		                        json_integer_value(li) : 0)));
		json_decref(t);
	}
	if (sqlite3_column_type(st, 15) != SQLITE_NULL)
		json_object_set_new(w, "project", project_ref(db, sq_col_text(st, 15)));
	return w;
}

/* Workers of the caller's company passing the get_all/get_count filters (new array). */
static json_t *
select_workers(struct req *q, struct reply *r, long long dflt_last_seen, int build)
{
	long long last_seen = dflt_last_seen;
	json_t *ls = json_object_get(q->body, "last_seen");
	if (json_is_null(ls))
		last_seen = 0;
	else if (ls && req_int(q, r, "last_seen", 0, &last_seen) != 0)
		return NULL;
	const char *pattern = NULL;
	if (req_str(q, r, "worker_pattern", 0, &pattern) != 0)
		return NULL;
	size_t ntags = 0, nstags = 0;
	const char **tags = sq_str_list(json_object_get(q->body, "tags"), &ntags);
	const char **stags = sq_str_list(json_object_get(q->body, "system_tags"), &nstags);
	int64_t now = sq_now_us();
	json_t *out = json_array();
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT " WORKER_COLS " FROM workers WHERE company = ?"
	                                     " AND " ALIVE_SQL " AND last_activity_time >= ?"
	                                     " ORDER BY register_time, id");
	if (!st) {
		reply_err(r, 500, 100, "Database error");
		json_decref(out);
		out = NULL;
		goto out;
	}
	sq_bind_text(st, 1, sq_company(q));
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, last_seen > 0 ? now - last_seen * 1000000 : 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (pattern && *pattern && fnmatch(pattern, sq_col_text(st, 2), 0) != 0)
			continue;
		json_t *wt = sq_col_json(st, 10, 1), *ws = sq_col_json(st, 11, 1);
		int keep = (!tags || sq_tags_match(tags, ntags, wt)) &&
		           (!stags || sq_tags_match(stags, nstags, ws));
		json_decref(wt);
		json_decref(ws);
		if (keep)
			json_array_append_new(out, build ? worker_entry(q->db, st) : json_null());
	}
	sqlite3_finalize(st);
out:
	free(tags);
	free(stags);
	return out;
}

static void
h_get_all(struct req *q, struct reply *r)
{
	json_t *w = select_workers(q, r, 3600, 1);
	if (w)
		reply_data(r, json_pack("{s:o}", "workers", w));
}

static void
h_get_count(struct req *q, struct reply *r)
{
	json_t *w = select_workers(q, r, 0, 0);
	if (w) {
		reply_data(r, json_pack("{s:I}", "count", (json_int_t)json_array_size(w)));
		json_decref(w);
	}
}

static void
h_get_runtime_properties(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "worker", 1, &id) != 0)
		return;
	int64_t now = now_ms();
	json_t *props = json_array();
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT key, value, expiry FROM worker_props"
	                                     " WHERE company = ? AND user = ? AND worker = ?"
	                                     " AND (expiry IS NULL OR expiry > ?) ORDER BY key");
	if (st) {
		sq_bind_text(st, 1, sq_company(q));
		sq_bind_text(st, 2, user_of(q));
		sq_bind_text(st, 3, id);
		sqlite3_bind_int64(st, 4, now);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *p = json_pack("{s:s,s:s}", "key", sq_col_text(st, 0),
			                      "value", sq_col_text(st, 1));
			if (sqlite3_column_type(st, 2) == SQLITE_NULL)
				json_object_set_new(p, "expiry", json_null());
			else /* seconds left, rounded up */
				json_object_set_new(p, "expiry", json_integer(
					(sqlite3_column_int64(st, 2) - now + 999) / 1000));
			json_array_append_new(props, p);
		}
		sqlite3_finalize(st);
	}
	reply_data(r, json_pack("{s:o}", "runtime_properties", props));
}

static void
h_set_runtime_properties(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "worker", 1, &id) != 0)
		return;
	json_t *props = json_object_get(q->body, "runtime_properties");
	if (!json_is_array(props)) {
		reply_err(r, 400, 12, "Validation error (runtime_properties must be a list of "
		          "{key, value, expiry?})");
		return;
	}
	size_t i;
	json_t *p;
	json_array_foreach(props, i, p) {
		json_t *k = json_object_get(p, "key"), *v = json_object_get(p, "value");
		json_t *e = json_object_get(p, "expiry");
		if (!json_is_string(k) || (v && !json_is_null(v) && !json_is_string(v) &&
		                           !json_is_number(v)) ||
		    (e && !json_is_null(e) && !json_is_integer(e))) {
			reply_err(r, 400, 12, "Validation error (runtime property %zu: key must be a "
			          "string, value a string, expiry an integer)", i);
			return;
		}
	}
	if (sq_begin(q, r) != 0)
		return;
	sqlite3_stmt *ins = sq_prepare(q->db, "INSERT OR REPLACE INTO worker_props"
	                                      "(company, user, worker, key, value, expiry)"
	                                      " VALUES (?,?,?,?,?,?)");
	sqlite3_stmt *del = sq_prepare(q->db, "DELETE FROM worker_props WHERE company = ?"
	                                      " AND user = ? AND worker = ? AND key = ?");
	if (!ins || !del) {
		sqlite3_finalize(ins);
		sqlite3_finalize(del);
		reply_err(r, 500, 100, "Database error");
		sq_finish(q, r);
		return;
	}
	/* Upstream answers with the Redis keys it set and deleted. */
	json_t *added = json_array(), *removed = json_array();
	int64_t now = now_ms();
	json_array_foreach(props, i, p) {
		json_t *v = json_object_get(p, "value"), *e = json_object_get(p, "expiry");
		const char *key = json_string_value(json_object_get(p, "key"));
		char *rkey = xasprintf("worker_%s_%s_%s_prop_%s", sq_company(q), user_of(q), id, key);
		int drop = json_is_integer(e) && json_integer_value(e) == 0; /* expiry 0 deletes */
		sqlite3_stmt *st = drop ? del : ins;
		char *vtext = json_is_number(v) ? sq_json_text(v) : NULL;
		sqlite3_reset(st);
		sq_bind_text(st, 1, sq_company(q));
		sq_bind_text(st, 2, user_of(q));
		sq_bind_text(st, 3, id);
		sq_bind_text(st, 4, key);
		if (!drop) {
			sq_bind_text(st, 5, vtext ? vtext : json_is_string(v) ? json_string_value(v) : "");
			if (json_is_integer(e) && json_integer_value(e) > 0)
				sqlite3_bind_int64(st, 6, now + json_integer_value(e) * 1000);
			else
				sqlite3_bind_null(st, 6);
		}
		int rc = sqlite3_step(st);
		free(vtext);
		if (rc != SQLITE_DONE) {
			free(rkey);
			reply_err(r, 500, 100, "Database error: %s", sqlite3_errmsg(q->db));
			break;
		}
		json_array_append_new(drop ? removed : added, json_string(rkey));
		free(rkey);
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	if (!r->code)
		reply_data(r, json_pack("{s:O,s:O,s:[]}", "added", added, "removed", removed, "errors"));
	json_decref(added);
	json_decref(removed);
	sq_finish(q, r);
}

void
workers_expire(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st = sq_prepare(db, "DELETE FROM workers WHERE NOT " ALIVE_SQL);
	if (st) {
		sqlite3_bind_int64(st, 1, now * 1000);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	st = sq_prepare(db, "DELETE FROM worker_props WHERE expiry IS NOT NULL"
	                    " AND expiry <= ?");
	if (st) {
		sqlite3_bind_int64(st, 1, now);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
}

int
workers_task_has_live_worker(sqlite3 *db, const char *task_id, int64_t now)
{
	sqlite3_stmt *st = sq_prepare(db, "SELECT 1 FROM workers WHERE task = ? AND " ALIVE_SQL
	                                  " LIMIT 1");
	if (!st)
		return 0;
	sq_bind_text(st, 1, task_id);
	sqlite3_bind_int64(st, 2, now * 1000);
	int found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

const struct endpoint svc_workers_endpoints[] = {
	{"workers.register", "2.4", 0, h_register},
	{"workers.unregister", "2.4", 0, h_unregister},
	{"workers.status_report", "2.4", 0, h_status_report},
	{"workers.get_all", "2.4", 0, h_get_all},
	{"workers.get_count", "1.0", 0, h_get_count},
	{"workers.get_runtime_properties", "2.10", 0, h_get_runtime_properties},
	{"workers.set_runtime_properties", "2.10", 0, h_set_runtime_properties},
	{NULL, NULL, 0, NULL},
};

json_t *
workers_of_queue(sqlite3 *db, const char *company, const char *queue_id)
{
	json_t *out = json_array();
	sqlite3_stmt *st = sq_prepare(db, "SELECT company, user, id, ip, queues, task FROM workers"
	                                  " WHERE company = ? AND " ALIVE_SQL " ORDER BY register_time, id");
	if (!st)
		return out;
	sq_bind_text(st, 1, company);
	sqlite3_bind_int64(st, 2, sq_now_us());
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *queues = sq_col_json(st, 4, 1);
		const char *want[] = {queue_id};
		int serves = sq_tags_match(want, 1, queues);
		json_decref(queues);
		if (!serves)
			continue;
		char *key = xasprintf("worker_%s_%s_%s", sq_col_text(st, 0), sq_col_text(st, 1),
		                      sq_col_text(st, 2));
		json_t *w = json_pack("{s:s,s:s,s:s}", "name", sq_col_text(st, 2), "ip",
		                      sq_col_text(st, 3), "key", key);
		free(key);
		if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
			const char *tid = sq_col_text(st, 5);
			json_t *t = task_load(db, tid);
			json_object_set_new(w, "task", json_pack("{s:s,s:s}", "id", tid, "name",
			                                         sq_str(t ? json_object_get(t, "name") : NULL)));
			json_decref(t);
		} else {
			json_object_set_new(w, "task", json_null());
		}
		json_array_append_new(out, w);
	}
	sqlite3_finalize(st);
	return out;
}
