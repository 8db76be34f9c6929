/*
 * model_store — model documents in SQLite and the queries that link them to tasks.
 *
 * A model is one JSON document (column doc) as the API returns it, with the columns lookups run
 * on (company, task, project, created) derived on every save. Tasks refer to models from
 * models.input[].model / models.output[].model; a model refers to the task that made it (task).
 */
#include <string.h>

#include "server/models.h"
#include "server/tasks.h"
#include "util.h"

const char svc_models_schema[] =
	"CREATE TABLE IF NOT EXISTS models(id TEXT PRIMARY KEY, company TEXT NOT NULL, task TEXT, "
	"  project TEXT, created TEXT, doc TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS models_task ON models(task);"
	"CREATE INDEX IF NOT EXISTS models_created ON models(company, created);";

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

json_t *
model_load(sqlite3 *db, const char *id)
{
	if (!id)
		return NULL;
	sqlite3_stmt *st = db_stmt(db, "SELECT doc FROM models WHERE id = ?");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	json_t *doc = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		if (text)
			doc = json_loadb(text, (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
		if (!json_is_object(doc)) {
			json_decref(doc);
			doc = NULL;
		}
	}
	db_stmt_done(st);
	return doc;
}

json_t *
model_for_read(sqlite3 *db, const struct identity *who, const char *id, int allow_public,
               struct reply *r)
{
	json_t *m = model_load(db, id);
	const char *c = sget(m, "company");
	if (!m || !c || (strcmp(c, who->company) != 0 && !(allow_public && !*c))) {
		json_decref(m);
		reply_err(r, 400, 201, "Invalid model id: id=%s", id ? id : "");
		return NULL;
	}
	return m;
}

int
model_save(sqlite3 *db, const json_t *model)
{
	const char *id = sget(model, "id");
	char *text = id ? json_dumps(model, JSON_COMPACT) : NULL;
	if (!text)
		return -1;
	sqlite3_stmt *st = db_stmt(db,
		"INSERT INTO models(id, company, task, project, created, doc) VALUES(?1,?2,?3,?4,?5,?6) "
		"ON CONFLICT(id) DO UPDATE SET company=?2, task=?3, project=?4, created=?5, doc=?6");
	int rc = -1;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, sget(model, "company") ? sget(model, "company") : "", -1,
		                  SQLITE_STATIC);
		if (sget(model, "task"))
			sqlite3_bind_text(st, 3, sget(model, "task"), -1, SQLITE_STATIC);
		if (sget(model, "project"))
			sqlite3_bind_text(st, 4, sget(model, "project"), -1, SQLITE_STATIC);
		if (sget(model, "created"))
			sqlite3_bind_text(st, 5, sget(model, "created"), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		if (rc)
			log_error("db: save model %s: %s", id, sqlite3_errmsg(db));
		db_stmt_done(st);
	}
	free(text);
	return rc;
}

int
model_delete_row(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM models WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	return rc;
}

json_t *
models_of_task(sqlite3 *db, const char *task_id)
{
	json_t *out = json_array();
	sqlite3_stmt *st = db_stmt(db, "SELECT doc FROM models WHERE task = ? ORDER BY created");
	if (!st)
		return out;
	sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(d))
			json_array_append_new(out, d);
		else
			json_decref(d);
	}
	db_stmt_done(st);
	return out;
}

json_t *
tasks_using_model(sqlite3 *db, const char *model_id)
{
	json_t *out = json_array();
	sqlite3_stmt *st = db_stmt(db, "SELECT t.id FROM tasks t, json_each(t.doc, '$.models.input') e "
	                               "WHERE json_extract(e.value, '$.model') = ?");
	if (!st)
		return out;
	sqlite3_bind_text(st, 1, model_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(out, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	return out;
}

int
task_relink_model(sqlite3 *db, const char *task_id, const char *kind, const char *model_id,
                  const char *new_id)
{
	json_t *t = task_load(db, task_id);
	if (!t)
		return -1;
	json_t *list = json_object_get(json_object_get(t, "models"), kind);
	int changed = 0;
	for (size_t i = json_array_size(list); i > 0; i--) {
		json_t *e = json_array_get(list, i - 1);
		if (!sget(e, "model") || strcmp(sget(e, "model"), model_id) != 0)
			continue;
		if (new_id)
			json_object_set_new(e, "model", json_string(new_id));
		else
			json_array_remove(list, i - 1);
		changed = 1;
	}
	int rc = changed ? task_save(db, t) : 0;
	json_decref(t);
	return rc;
}
