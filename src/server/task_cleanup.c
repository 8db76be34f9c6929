/*
 * task_cleanup — what happens to a task's outputs when it is deleted or reset (the real
 * server's cleanup_task): published children and published output models block it without
 * force; draft output models go with the task unless another task uses them as input (those are
 * only detached); published ones stay, re-pointed at "__DELETED__<task>" (delete) or detached
 * (reset); children are re-parented to "__DELETED__<task>".
 */
#include <string.h>

#include "server/models.h"
#include "server/svc_tasks.h"
#include "util.h"

static int
in_list(const json_t *list, const char *s)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), s))
			return 1;
	return 0;
}

static int
has_model(const json_t *models, const char *id)
{
	size_t i;
	json_t *m;
	json_array_foreach(models, i, m)
		if (sget(m, "id") && !strcmp(sget(m, "id"), id))
			return 1;
	return 0;
}

/* The task's output models, split by ready: *published and *draft (new arrays). 0, or -1 with r
 * filled (400/123) when a published one blocks and force is off. */
static int
output_models(sqlite3 *db, struct reply *r, const json_t *task, int force, json_t **published,
              json_t **draft)
{
	const char *id = sget(task, "id");
	*published = json_array();
	*draft = json_array();
	json_t *own = models_of_task(db, id);
	size_t i;
	json_t *m, *e;
	json_array_foreach(own, i, m)
		json_array_append(json_is_true(json_object_get(m, "ready")) ? *published : *draft, m);
	json_decref(own);
	if (!force && json_array_size(*published)) {
		reply_err(r, 400, 123, "Task cannot be deleted (has output models, use force=True): "
		          "task=%s, models=%zu", id, json_array_size(*published));
		return -1;
	}
	json_array_foreach(json_object_get(json_object_get(task, "models"), "output"), i, e) {
		const char *mid = sget(e, "model");
		if (!mid || has_model(*published, mid) || has_model(*draft, mid))
			continue;
		m = model_load(db, mid);
		if (!m)
			continue;
		int ready = json_is_true(json_object_get(m, "ready"));
		if (ready && !force) {
			json_decref(m);
			reply_err(r, 400, 123, "Task cannot be deleted (has output model, use force=True): "
			          "task=%s, model=%s", id, mid);
			return -1;
		}
		json_array_append_new(ready ? *published : *draft, m);
	}
	return 0;
}

static int
published_children(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*) FROM tasks WHERE status = 'published' AND "
	                               "json_extract(doc, '$.parent') = ?");
	int n = 0;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		db_stmt_done(st);
	}
	return n;
}

static int
reparent_children(struct req *q, const char *id)
{
	json_t *kids = json_array();
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM tasks WHERE json_extract(doc, '$.parent') = ?");
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(kids, json_string((const char *)sqlite3_column_text(st, 0)));
		db_stmt_done(st);
	}
	int n = 0;
	char *dead = xasprintf("__DELETED__%s", id);
	size_t i;
	json_t *k;
	json_array_foreach(kids, i, k) {
		json_t *kt = task_load(q->db, json_string_value(k));
		if (kt) {
			json_object_set_new(kt, "parent", json_string(dead));
			stamp(kt, NULL, q->who, 0);
			if (task_save(q->db, kt) == 0)
				n++;
			json_decref(kt);
		}
	}
	free(dead);
	json_decref(kids);
	return n;
}

/* Point a model's task at task_to (NULL: unset it). */
static int
set_model_task(struct req *q, json_t *m, const char *task_to)
{
	if (task_to)
		json_object_set_new(m, "task", json_string(task_to));
	else
		json_object_del(m, "task");
	char now[48];
	db_now_iso(now, sizeof(now));
	json_object_set_new(m, "last_change", json_string(now));
	json_object_set_new(m, "last_changed_by", json_string(q->who->user));
	return model_save(q->db, m);
}

int
task_cleanup_outputs(struct req *q, struct reply *r, const json_t *task, int force,
                     int update_children, int delete_output_models, struct task_cleanup *c)
{
	memset(c, 0, sizeof(*c));
	c->model_urls = json_array();
	c->artifact_urls = json_array();
	const char *id = sget(task, "id");
	int n = force ? 0 : published_children(q->db, id);
	if (n) {
		reply_err(r, 400, 123, "Task cannot be deleted (has children, use force=True): task=%s, "
		          "children=%d", id, n);
		return -1;
	}
	json_t *published, *draft;
	int rc = output_models(q->db, r, task, force, &published, &draft);
	if (rc != 0)
		goto out;
	size_t i;
	json_t *m, *a;
	json_array_foreach(json_object_get(json_object_get(task, "execution"), "artifacts"), i, a) {
		const char *mode = sget(a, "mode"), *uri = sget(a, "uri");
		if ((!mode || !strcmp(mode, "output")) && uri && *uri && !in_list(c->artifact_urls, uri))
			json_array_append_new(c->artifact_urls, json_string(uri));
	}
	json_t *in_use = json_array();
	json_array_foreach(draft, i, m) {
		json_t *users = tasks_using_model(q->db, sget(m, "id"));
		if (json_array_size(users))
			json_array_append_new(in_use, json_string(sget(m, "id")));
		else if (sget(m, "uri") && *sget(m, "uri") && !in_list(c->model_urls, sget(m, "uri")))
			json_array_append_new(c->model_urls, json_string(sget(m, "uri")));
		json_decref(users);
	}
	if (update_children)
		c->updated_children = reparent_children(q, id);
	char *dead = xasprintf("__DELETED__%s", id);
	json_array_foreach(draft, i, m) {
		if (delete_output_models) {
			if (in_list(in_use, sget(m, "id")))
				rc |= set_model_task(q, m, NULL);
			else if (model_delete_row(q->db, sget(m, "id")) == 0)
				c->deleted_models++;
		} else {
			rc |= set_model_task(q, m, update_children ? dead : NULL);
			c->updated_models += update_children;
		}
	}
	json_array_foreach(published, i, m) {
		rc |= set_model_task(q, m, update_children ? dead : NULL);
		c->updated_models += update_children;
	}
	if (!delete_output_models)
		json_array_clear(c->model_urls);
	free(dead);
	json_decref(in_use);
	if (rc != 0)
		reply_err(r, 500, 100, "General data error (updating task models)");
out:
	json_decref(published);
	json_decref(draft);
	return rc ? -1 : 0;
}

json_t *
task_cleanup_urls(const struct task_cleanup *c, int return_file_urls)
{
	if (!return_file_urls)
		return json_null();
	return json_pack("{s:O,s:[],s:O}", "model_urls", c->model_urls, "event_urls",
	                 "artifact_urls", c->artifact_urls);
}

void
task_cleanup_free(struct task_cleanup *c)
{
	json_decref(c->model_urls);
	json_decref(c->artifact_urls);
	c->model_urls = c->artifact_urls = NULL;
}
