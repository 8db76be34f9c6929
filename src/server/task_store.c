/*
 * task_store — the core schema (users, credentials, projects, tasks, server_meta) and task
 * documents in SQLite.
 *
 * A task is one JSON document (column doc) holding every field as the API returns it, plus a few
 * columns derived from it on every save (company, status, project, name, created, last_update,
 * tags) so lookups and the status condition of an update run on indexes. Internal fields that
 * replies leave out by default (enqueue_status) live in the document too; the services strip them.
 */
#include <string.h>

#include "server/server.h"
#include "server/status_history.h"
#include "server/tasks.h"
#include "util.h"

const char svc_core_schema[] =
	"CREATE TABLE IF NOT EXISTS server_meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS revoked_sessions(session_id TEXT PRIMARY KEY, exp INTEGER);"
	"CREATE TABLE IF NOT EXISTS users(id TEXT PRIMARY KEY, company TEXT NOT NULL, name TEXT, "
	"  role TEXT, created TEXT);"
	"CREATE TABLE IF NOT EXISTS user_profiles(id TEXT PRIMARY KEY REFERENCES users(id) "
	"  ON DELETE CASCADE, email TEXT, doc TEXT NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS user_profiles_email ON user_profiles(email);"
	"CREATE TABLE IF NOT EXISTS credentials(access_key TEXT PRIMARY KEY, "
	"  user TEXT NOT NULL REFERENCES users(id), secret_hash TEXT NOT NULL, label TEXT, "
	"  created TEXT, last_used TEXT, last_used_from TEXT, revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS projects(id TEXT PRIMARY KEY, company TEXT NOT NULL, "
	"  name TEXT NOT NULL, created TEXT, last_update TEXT, doc TEXT NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS projects_name ON projects(company, name);"
	"CREATE TABLE IF NOT EXISTS tasks(id TEXT PRIMARY KEY, company TEXT NOT NULL, "
	"  status TEXT NOT NULL, project TEXT, name TEXT, created TEXT, last_update TEXT, tags TEXT, "
	"  doc TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status, last_update);"
	"CREATE INDEX IF NOT EXISTS tasks_project ON tasks(project);"
	"CREATE INDEX IF NOT EXISTS tasks_created ON tasks(created);";

json_t *
task_load(sqlite3 *db, const char *task_id)
{
	if (!task_id)
		return NULL;
	sqlite3_stmt *st = db_stmt(db, "SELECT doc FROM tasks WHERE id = ?");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	json_t *doc = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		if (text)
			doc = json_loadb(text, (size_t)n, 0, NULL);
		if (!json_is_object(doc)) {
			log_error("task %s: stored document is not an object", task_id);
			json_decref(doc);
			doc = NULL;
		}
	}
	db_stmt_done(st);
	return doc;
}

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int
task_save(sqlite3 *db, const json_t *task)
{
	const char *id = sget(task, "id");
	if (!id)
		return -1;
	char *text = json_dumps(task, JSON_COMPACT);
	if (!text)
		return -1;
	const json_t *tagv = json_object_get(task, "tags");
	char *tags = json_is_array(tagv) ? json_dumps(tagv, JSON_COMPACT) : NULL;
	sqlite3_stmt *st = db_stmt(db,
		"INSERT INTO tasks(id, company, status, project, name, created, last_update, tags, doc) "
		"VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(id) DO UPDATE SET company=?2, status=?3, "
		"project=?4, name=?5, created=?6, last_update=?7, tags=?8, doc=?9");
	int rc = -1;
	if (st) {
		const char *company = sget(task, "company");
		const char *status = sget(task, "status");
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, company ? company : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, status ? status : "created", -1, SQLITE_STATIC);
		if (sget(task, "project"))
			sqlite3_bind_text(st, 4, sget(task, "project"), -1, SQLITE_STATIC);
		if (sget(task, "name"))
			sqlite3_bind_text(st, 5, sget(task, "name"), -1, SQLITE_STATIC);
		if (sget(task, "created"))
			sqlite3_bind_text(st, 6, sget(task, "created"), -1, SQLITE_STATIC);
		if (sget(task, "last_update"))
			sqlite3_bind_text(st, 7, sget(task, "last_update"), -1, SQLITE_STATIC);
		if (tags)
			sqlite3_bind_text(st, 8, tags, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, text, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		if (rc)
			log_error("db: save task %s: %s", id, sqlite3_errmsg(db));
		db_stmt_done(st);
	}
	free(tags);
	free(text);
	return rc;
}

int
task_get_status(sqlite3 *db, const char *task_id, char *out, size_t outlen)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT status FROM tasks WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	int rc = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		snprintf(out, outlen, "%s", s ? s : "");
		rc = 0;
	}
	db_stmt_done(st);
	return rc;
}

int
task_force_status(sqlite3 *db, const char *task_id, const char *status, const char *reason,
                  const char *message, const char *by)
{
	json_t *t = task_load(db, task_id);
	if (!t)
		return -1;
	const char *old = sget(t, "status");
	if ((!old || strcmp(old, status) != 0) &&
	    status_history_add(db, task_id, old, status, reason, message, by, NULL) != 0) {
		json_decref(t);
		return -1;
	}
	char now[48];
	db_now_iso(now, sizeof(now));
	json_object_set_new(t, "status", json_string(status));
	json_object_set_new(t, "status_reason", json_string(reason ? reason : ""));
	json_object_set_new(t, "status_message", json_string(message ? message : ""));
	json_object_set_new(t, "status_changed", json_string(now));
	json_object_set_new(t, "last_update", json_string(now));
	json_object_set_new(t, "last_change", json_string(now));
	int rc = task_save(db, t);
	json_decref(t);
	return rc;
}

int
task_touch_worker(sqlite3 *db, const char *task_id, const char *worker)
{
	json_t *t = task_load(db, task_id);
	if (!t)
		return -1;
	char now[48];
	db_now_iso(now, sizeof(now));
	if (worker)
		json_object_set_new(t, "last_worker", json_string(worker));
	json_object_set_new(t, "last_worker_report", json_string(now));
	json_object_set_new(t, "last_update", json_string(now));
	json_object_set_new(t, "last_change", json_string(now));
	int rc = task_save(db, t);
	json_decref(t);
	return rc;
}

int
task_save_if_status(sqlite3 *db, const json_t *task, const char *old_status)
{
	const char *id = sget(task, "id");
	const char *status = sget(task, "status");
	if (!id || !status)
		return -1;
	char *text = json_dumps(task, JSON_COMPACT);
	if (!text)
		return -1;
	const json_t *tagv = json_object_get(task, "tags");
	char *tags = json_is_array(tagv) ? json_dumps(tagv, JSON_COMPACT) : NULL;
	sqlite3_stmt *st = db_stmt(db,
		"UPDATE tasks SET status=?1, project=?2, name=?3, last_update=?4, tags=?5, doc=?6 "
		"WHERE id=?7 AND status=?8");
	int rc = -1;
	if (st) {
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
		if (sget(task, "project"))
			sqlite3_bind_text(st, 2, sget(task, "project"), -1, SQLITE_STATIC);
		if (sget(task, "name"))
			sqlite3_bind_text(st, 3, sget(task, "name"), -1, SQLITE_STATIC);
		if (sget(task, "last_update"))
			sqlite3_bind_text(st, 4, sget(task, "last_update"), -1, SQLITE_STATIC);
		if (tags)
			sqlite3_bind_text(st, 5, tags, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, old_status, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = sqlite3_changes(db) > 0 ? 1 : 0;
		else
			log_error("db: update task %s: %s", id, sqlite3_errmsg(db));
		db_stmt_done(st);
	}
	free(tags);
	free(text);
	return rc;
}

int
task_delete_row(sqlite3 *db, const char *task_id)
{
	if (status_history_delete(db, task_id) != 0)
		return -1;
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM tasks WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	return rc;
}
