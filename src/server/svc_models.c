/*
 * svc_models — models.*: create, get_by_id, get_by_task_id, get_all(_ex), get_by_id_ex,
 * get_frameworks, edit, update, update_for_task, set_ready, publish_many, delete, delete_many,
 * archive_many, unarchive_many, add_or_update_metadata, delete_metadata, update_tags.
 *
 * Behaviour follows the real server's models service: a model belongs to a company (or is
 * public, company ""), may name the task that created it (`task`), and is "ready" once published
 * (create defaults ready=true). Deleting a model re-points the tasks that use it as input at
 * "__DELETED__<id>" (only with force) and drops it from its creating task's outputs; a model of a
 * published task needs force. Metadata is {key: {key, type, value}}; clients up to 2.16 read it
 * as an empty list, as upstream returns it.
 */
#include <string.h>

#include "server/front.h"
#include "server/getall.h"
#include "server/models.h"
#include "server/projects.h"
#include "server/ref_expand.h"
#include "server/svc_tasks.h"
#include "util.h"

static const char *const model_pattern[] = {"name", "comment", NULL};
static const char *const model_list[] = {"tags", "system_tags", "framework", "uri", "id", "user",
                                         "project", "task", "parent", "metadata.*", "ready", NULL};
static const char *const model_range[] = {"created", "last_metrics.*", "last_iteration", NULL};
static const char *const model_dt[] = {"last_update", "last_change", NULL};
static const char *const model_text[] = {"name", "id", "comment", "parent", "task", "project",
                                         NULL};
static const char *const model_hidden[] = {"ui_cache", "company_origin", NULL};

static const struct getall_spec model_spec = {
	.pattern_fields = model_pattern,
	.list_fields = model_list,
	.range_fields = model_range,
	.datetime_fields = model_dt,
	.text_fields = model_text,
	.hidden_by_default = model_hidden,
	.hidden_tag = 1,
	.hidden_system_tag = "hidden",
};

/* The reply view: nulls left out, tags sorted, metadata [] for clients up to 2.16. */
static void
model_view(const struct req *q, json_t *m)
{
	const char *key;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(m, tmp, key, val)
		if (json_is_null(val))
			json_object_del(m, key);
	static const char *const tags[] = {"tags", "system_tags", NULL};
	for (const char *const *k = tags; *k; k++)
		if (json_is_array(json_object_get(m, *k)))
			json_object_set_new(m, *k, sorted_tags(json_object_get(m, *k)));
	last_metrics_sort(m);
	if (!req_version_ge(q, 2, 17) && json_object_get(m, "metadata"))
		json_object_set_new(m, "metadata", json_array());
}

static void
model_stamp(json_t *m, json_t *fields, const struct identity *who, int touch_update)
{
	stamp(m, fields, who, touch_update);
}

int
model_publish_of_task(struct req *q, const char *model_id)
{
	json_t *m = model_load(q->db, model_id);
	const char *c = sget(m, "company");
	int rc = 0;
	if (m && c && !strcmp(c, q->who->company) && !json_is_true(json_object_get(m, "ready"))) {
		json_object_set_new(m, "ready", json_true());
		model_stamp(m, NULL, q->who, 1);
		rc = model_save(q->db, m);
	}
	json_decref(m);
	return rc;
}

/* ---------------------------------------------------------------- input checks */

static int
check_labels(struct reply *r, const json_t *labels)
{
	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels)) {
		reply_err(r, 400, 12, "Validation error (labels must be a dict): field=labels");
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)(uintptr_t)labels, k, v) {
		if (!json_is_integer(v) &&
		    !(json_is_real(v) && json_real_value(v) == (double)(json_int_t)json_real_value(v))) {
			reply_err(r, 400, 12, "Validation error (labels values must be integers): key=%s", k);
			return -1;
		}
	}
	return 0;
}

/* metadata as {key: {key, type, value}} from a dict or a list of items. NULL with r filled. */
static json_t *
norm_metadata(struct reply *r, const json_t *v)
{
	json_t *out = json_object();
	if (!v || json_is_null(v))
		return out;
	size_t i;
	json_t *e;
	const char *k;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (!json_is_object(e) || !sget(e, "key")) {
				json_decref(out);
				reply_err(r, 400, 12, "Validation error (metadata items need a key): item=%zu", i);
				return NULL;
			}
			json_object_set(out, sget(e, "key"), e);
		}
		return out;
	}
	if (!json_is_object(v)) {
		json_decref(out);
		reply_err(r, 400, 12, "Validation error (metadata must be a dict or a list)");
		return NULL;
	}
	json_object_foreach((json_t *)(uintptr_t)v, k, e) {
		if (!json_is_object(e)) {
			json_decref(out);
			reply_err(r, 400, 12, "Validation error (metadata values must be objects): key=%s", k);
			return NULL;
		}
		json_t *item = json_deep_copy(e);
		if (!sget(item, "key"))
			json_object_set_new(item, "key", json_string(k));
		json_object_set_new(out, k, item);
	}
	return out;
}

/* The task a model may name: one the caller may write. 0, or -1 with r filled (400/101, 403/21). */
static int
check_task_ref(struct req *q, struct reply *r, const char *task)
{
	json_t *t = task_for_write(q, r, task);
	json_decref(t);
	return t ? 0 : -1;
}

static int
check_project_ref(struct req *q, struct reply *r, const char *project)
{
	if (project && *project && !project_visible(q->db, q->who, project)) {
		reply_err(r, 400, 401, "Invalid project id: id=%s", project);
		return -1;
	}
	return 0;
}

static const char *const string_fields[] = {"name", "comment", "uri", "project", "parent",
                                            "framework", "task", NULL};
static const char *const dict_fields[] = {"design", "labels", "ui_cache", NULL};

/* Types of the user-settable fields, shared by create and edit/update. */
static int
check_model_fields(struct req *q, struct reply *r, const json_t *b)
{
	for (const char *const *k = string_fields; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (v && !json_is_null(v) && !json_is_string(v)) {
			reply_err(r, 400, 12, "Validation error (expected a string): field=%s", *k);
			return -1;
		}
	}
	for (const char *const *k = dict_fields; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (v && !json_is_null(v) && !json_is_object(v)) {
			reply_err(r, 400, 12, "Validation error (expected a dict): field=%s", *k);
			return -1;
		}
	}
	static const char *const lists[] = {"tags", "system_tags", NULL};
	for (const char *const *k = lists; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (v && !json_is_null(v) && !is_str_list(v)) {
			reply_err(r, 400, 12, "Validation error (expected a list of strings): field=%s", *k);
			return -1;
		}
	}
	json_t *ready = json_object_get(b, "ready");
	if (ready && !json_is_null(ready) && !json_is_boolean(ready)) {
		reply_err(r, 400, 12, "Validation error (expected a boolean): field=ready");
		return -1;
	}
	const char *name = sget(b, "name");
	if (name) {
		while (*name == ' ')
			name++;
		if (strlen(name) < 3) {
			reply_err(r, 400, 12, "Validation error (name must be at least 3 characters): "
			          "name=%s", sget(b, "name"));
			return -1;
		}
	}
	if (check_labels(r, json_object_get(b, "labels")) != 0)
		return -1;
	const char *task = sget(b, "task");
	if (task && *task && strncmp(task, "__DELETED__", 11) != 0 && check_task_ref(q, r, task) != 0)
		return -1;
	return check_project_ref(q, r, sget(b, "project"));
}

/* Copy the user-settable fields of b into m (and fields). */
static void
apply_model_fields(const json_t *b, json_t *m, json_t *fields, struct reply *r, int *bad)
{
	for (const char *const *k = string_fields; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v)
			continue;
		if (!strcmp(*k, "task") && json_is_string(v) &&
		    !strncmp(json_string_value(v), "__DELETED__", 11))
			continue;
		json_object_set(m, *k, v);
		json_object_set(fields, *k, v);
	}
	for (const char *const *k = dict_fields; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v)
			continue;
		json_object_set(m, *k, json_is_null(v) ? json_object() : v);
		json_object_set(fields, *k, json_object_get(m, *k));
	}
	static const char *const lists[] = {"tags", "system_tags", NULL};
	for (const char *const *k = lists; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v)
			continue;
		json_object_set_new(m, *k, sorted_tags(v));
		json_object_set(fields, *k, json_object_get(m, *k));
	}
	json_t *ready = json_object_get(b, "ready");
	if (json_is_boolean(ready)) {
		json_object_set(m, "ready", ready);
		json_object_set(fields, "ready", ready);
	}
	if (json_object_get(b, "metadata")) {
		json_t *md = norm_metadata(r, json_object_get(b, "metadata"));
		if (!md) {
			*bad = 1;
			return;
		}
		json_object_set_new(m, "metadata", md);
		json_object_set(fields, "metadata", md);
	}
}

static int
touches_last_update(const json_t *fields)
{
	static const char *const keys[] = {"uri", "framework", "design", "labels", "ready",
	                                   "metadata", "system_tags", "tags", NULL};
	for (const char *const *k = keys; *k; k++)
		if (json_object_get(fields, *k))
			return 1;
	return 0;
}

static json_t *
new_model_doc(struct req *q, const char *company)
{
	char id[33], now[48];
	gen_hex_id(id);
	db_now_iso(now, sizeof(now));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[],s:[],s:s,s:b,s:i}", "id", id, "user",
	                 q->who->user, "company", company, "created", now, "last_update", now,
	                 "last_change", now, "last_changed_by", q->who->user, "tags", "system_tags",
	                 "uri", "", "ready", 1, "last_iteration", 0);
}

/* ---------------------------------------------------------------- create / read */

static void
models_create(struct req *q, struct reply *r)
{
	const json_t *b = q->body;
	const char *name, *uri;
	int public = 0;
	if (req_str(q, r, "name", 1, &name) || req_str(q, r, "uri", 1, &uri) ||
	    req_bool(q, r, "public", 0, &public) || check_model_fields(q, r, b) != 0)
		return;
	if (task_begin(q, r) != 0)
		return;
	json_t *m = new_model_doc(q, public ? "" : q->who->company);
	json_t *fields = json_object();
	int bad = 0;
	apply_model_fields(b, m, fields, r, &bad);
	json_decref(fields);
	if (!json_object_get(m, "metadata"))
		json_object_set_new(m, "metadata", json_object());
	if (bad || model_save(q->db, m) != 0) {
		db_rollback(q->db);
		if (!bad)
			reply_err(r, 500, 100, "General data error (saving model)");
		json_decref(m);
		return;
	}
	if (task_commit(q, r) == 0)
		reply_data(r, json_pack("{s:s,s:b}", "id", sget(m, "id"), "created", 1));
	json_decref(m);
}

static void
models_get_by_id(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "model", 1, &id) != 0)
		return;
	json_t *m = model_for_read(q->db, q->who, id, 1, r);
	if (!m)
		return;
	model_view(q, m);
	json_t *out = getall_project(m, json_object_get(q->body, "only_fields"), model_hidden);
	json_decref(m);
	reply_data(r, json_pack("{s:o}", "model", out));
}

static void
models_get_by_task_id(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	json_t *t = task_load(q->db, id);
	const char *c = sget(t, "company");
	if (!t || !c || strcmp(c, q->who->company) != 0) {
		json_decref(t);
		reply_err(r, 400, 101, "Invalid task id: id=%s", id);
		return;
	}
	json_t *out = json_object_get(json_object_get(t, "models"), "output");
	size_t n = json_array_size(out);
	const char *mid = n ? sget(json_array_get(out, n - 1), "model") : NULL;
	if (!mid) {
		json_decref(t);
		reply_err(r, 400, 122, "Task is missing fields: field=models.output");
		return;
	}
	json_t *m = model_for_read(q->db, q->who, mid, 1, r);
	json_decref(t);
	if (!m)
		return;
	model_view(q, m);
	reply_data(r, json_pack("{s:o}", "model", m));
}

/* get_all_ex include_stats: stats.labels_count of each model of the reply, counted on the stored
 * document whatever only_fields kept */
static void
add_label_stats(const json_t *docs, json_t *out)
{
	json_t *count = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d)
		if (sget(d, "id"))
			json_object_set_new(count, sget(d, "id"),
			                    json_integer((json_int_t)json_object_size(
			                            json_object_get(d, "labels"))));
	json_array_foreach(out, i, d) {
		json_t *n = sget(d, "id") ? json_object_get(count, sget(d, "id")) : NULL;
		if (n)
			json_object_set_new(d, "stats", json_pack("{s:O}", "labels_count", n));
	}
	json_decref(count);
}

static void
models_get_all(struct req *q, struct reply *r)
{
	if (getall_check(q->body, r) != 0)
		return;
	int allow_public = 1, include_stats = 0;
	if (req_bool(q, r, "allow_public", 0, &allow_public) != 0 ||
	    req_bool(q, r, "include_stats", 0, &include_stats) != 0)
		return;
	sqlite3_stmt *st = db_stmt(q->db, "SELECT doc FROM models WHERE company = ?1 OR "
	                                  "(?2 AND company = '') ORDER BY created");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, allow_public);
	json_t *docs = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(d)) {
			model_view(q, d);
			json_array_append_new(docs, d);
		} else {
			json_decref(d);
		}
	}
	db_stmt_done(st);
	/* include_subprojects: the project filter covers every project below the ones named */
	json_t *body = q->body, *wide = NULL;
	const json_t *proj = json_object_get(body, "project");
	int subs = 0;
	if (req_bool(q, r, "include_subprojects", 0, &subs) != 0) {
		json_decref(docs);
		return;
	}
	if (subs && proj && !json_is_null(proj)) {
		json_t *ids = json_is_array(proj) ? json_incref((json_t *)(uintptr_t)proj)
		                                  : json_pack("[O]", proj);
		char *text = project_ids_expand(q->db, ids, 1);
		json_t *all = text ? json_loads(text, 0, NULL) : NULL;
		free(text);
		/* a null in the list (models without a project) stays */
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v)
			if (json_is_null(v) && all)
				json_array_append(all, v);
		json_decref(ids);
		if (!json_is_array(all)) {
			json_decref(all);
			json_decref(docs);
			reply_err(r, 500, 100, "General data error");
			return;
		}
		wide = json_copy(body);
		json_object_set_new(wide, "project", all);
		q->body = wide;
	}
	getall_reply(q, r, docs, &model_spec, "models");
	q->body = body;
	json_decref(wide);
	if (include_stats && !r->code)
		add_label_stats(docs, json_object_get(r->data, "models"));
	if (!r->code && ref_expand_wanted(q))
		ref_expand_ids(json_object_get(r->data, "models"), ref_model_paths);
	json_decref(docs);
}

static void
models_get_by_id_ex(struct req *q, struct reply *r)
{
	json_t *id = json_object_get(q->body, "id");
	if (!id || json_is_null(id)) {
		reply_err(r, 400, 11, "Missing required fields: id");
		return;
	}
	models_get_all(q, r);
}

static void
models_get_frameworks(struct req *q, struct reply *r)
{
	json_t *projects = json_object_get(q->body, "projects");
	sqlite3_stmt *st = db_stmt(q->db, "SELECT DISTINCT json_extract(doc, '$.framework') f, project "
	                                  "FROM models WHERE (company = ? OR company = '') AND f IS "
	                                  "NOT NULL AND f != '' ORDER BY f");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	json_t *out = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 1);
		int want = !json_array_size(projects);
		size_t i;
		json_t *e;
		json_array_foreach(projects, i, e)
			if (p && json_is_string(e) && !strcmp(json_string_value(e), p))
				want = 1;
		size_t n = json_array_size(out);
		if (want && f && (!n || strcmp(json_string_value(json_array_get(out, n - 1)), f) != 0))
			json_array_append_new(out, json_string(f));
	}
	db_stmt_done(st);
	reply_data(r, json_pack("{s:o}", "frameworks", out));
}

/* ---------------------------------------------------------------- the write skeleton */

/*
 * One write of one model: begin → load it (own company: 400/201 otherwise) → mutate → save →
 * commit → reply with the mutation's data. Mirrors task_write() for models.
 */
struct model_write {
	struct req *q;
	struct reply *r;
	json_t *model;
	json_t *data;
	void *arg;
};

typedef int (*model_mutate_fn)(struct model_write *w);

static int
model_write(struct req *q, struct reply *r, const char *id, model_mutate_fn mutate, void *arg)
{
	struct model_write w = {.q = q, .r = r, .arg = arg};
	if (task_begin(q, r) != 0)
		return -1;
	w.model = model_for_read(q->db, q->who, id, 0, r);
	if (!w.model)
		goto fail;
	int rc = mutate(&w);
	if (rc == TW_FAIL)
		goto fail;
	if (rc == TW_SAVE && model_save(q->db, w.model) != 0) {
		reply_err(r, 500, 100, "General data error (saving model)");
		goto fail;
	}
	json_decref(w.model);
	if (task_commit(q, r) != 0) {
		json_decref(w.data);
		return -1;
	}
	reply_data(r, w.data ? w.data : json_object());
	return 0;
fail:
	if (!r->code || r->code == 200)
		reply_err(r, 500, 100, "General data error (model)");
	db_rollback(q->db);
	json_decref(w.model);
	json_decref(w.data);
	return -1;
}

/* Raise the task's last_iteration to at least iteration. */
static void
task_iteration_max(struct req *q, const char *task, long long iteration)
{
	json_t *t = task ? task_load(q->db, task) : NULL;
	if (!t)
		return;
	if (json_integer_value(json_object_get(t, "last_iteration")) < iteration) {
		json_object_set_new(t, "last_iteration", json_integer(iteration));
		stamp(t, NULL, q->who, 1);
		task_save(q->db, t);
	}
	json_decref(t);
}

/* ---------------------------------------------------------------- edit / update */

static int
edit_model(struct model_write *w)
{
	long long iteration = -1;
	if (req_int(w->q, w->r, "iteration", 0, &iteration) != 0)
		return TW_FAIL;
	json_t *fields = json_object();
	int bad = 0;
	apply_model_fields(w->q->body, w->model, fields, w->r, &bad);
	if (bad) {
		json_decref(fields);
		return TW_FAIL;
	}
	const char *task = sget(w->model, "task");
	if (task && iteration >= 0)
		task_iteration_max(w->q, task, iteration);
	if (!json_object_size(fields)) {
		json_decref(fields);
		w->data = json_pack("{s:i}", "updated", 0);
		return TW_KEEP;
	}
	if (json_object_get(fields, "uri"))
		json_object_set_new(w->model, "ui_cache", json_object());
	model_stamp(w->model, fields, w->q->who, touches_last_update(fields));
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	return TW_SAVE;
}

static void
models_edit(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "model", 1, &id) || check_model_fields(q, r, q->body) != 0)
		return;
	model_write(q, r, id, edit_model, NULL);
}

/* ---------------------------------------------------------------- update_for_task */

struct for_task {
	const char *task, *uri, *override;
	long long iteration;
};

static json_t *
output_model_item(const char *model_id)
{
	char now[48];
	db_now_iso(now, sizeof(now));
	return json_pack("{s:s,s:s,s:s}", "model", model_id, "name", "Output Model", "updated", now);
}

static int
update_for_task(struct task_write *w)
{
	struct for_task *a = w->arg;
	struct req *q = w->q;
	struct reply *r = w->r;
	json_t *t = w->task;
	if (strcmp(w->status, "created") != 0 && strcmp(w->status, "in_progress") != 0) {
		reply_err(r, 400, 110, "Invalid task status (model can only be updated for tasks in the "
		          "created or in_progress states): id=%s", a->task);
		return TW_FAIL;
	}
	json_t *models = json_object_get(t, "models");
	if (!json_is_object(models)) {
		models = json_object();
		json_object_set_new(t, "models", models);
	}
	json_t *outs = json_object_get(models, "output");
	size_t n = json_array_size(outs);
	const char *existing = n ? sget(json_array_get(outs, n - 1), "model") : NULL;
	json_t *m = NULL;
	int created = 0;
	if (a->override) {
		m = model_for_read(q->db, q->who, a->override, 0, r);
		if (!m)
			return TW_FAIL;
	} else if (existing && (m = model_load(q->db, existing)) != NULL) {
		json_t *fields = json_object();
		int bad = 0;
		apply_model_fields(q->body, m, fields, r, &bad);
		json_object_del(m, "task");
		json_object_set_new(m, "task", json_string(a->task));
		if (bad || model_save(q->db, m) != 0) {
			json_decref(fields);
			json_decref(m);
			if (!bad)
				reply_err(r, 500, 100, "General data error (saving model)");
			return TW_FAIL;
		}
		if (a->iteration >= 0 && json_integer_value(json_object_get(t, "last_iteration")) <
		                             a->iteration)
			json_object_set_new(t, "last_iteration", json_integer(a->iteration));
		stamp(t, NULL, q->who, 1);
		w->data = json_pack("{s:s,s:b,s:i,s:o}", "id", existing, "created", 0, "updated", 1,
		                    "fields", fields);
		json_decref(m);
		return TW_SAVE;
	} else {
		json_t *exec = json_object_get(t, "execution");
		m = new_model_doc(q, q->who->company);
		json_t *fields = json_object();
		int bad = 0;
		apply_model_fields(q->body, m, fields, r, &bad);
		json_decref(fields);
		if (bad) {
			json_decref(m);
			return TW_FAIL;
		}
		if (!json_object_get(q->body, "name"))
			json_object_set(m, "name", json_object_get(t, "name"));
		if (!json_object_get(q->body, "comment")) {
			char *c = xasprintf("Created by task `%s` (%s)", sget(t, "name") ? sget(t, "name") : "",
			                    a->task);
			json_object_set_new(m, "comment", json_string(c));
			free(c);
		}
		json_object_set_new(m, "task", json_string(a->task));
		if (sget(t, "project"))
			json_object_set(m, "project", json_object_get(t, "project"));
		if (sget(exec, "framework"))
			json_object_set(m, "framework", json_object_get(exec, "framework"));
		const char *parent = sget(json_array_get(json_object_get(models, "input"), 0), "model");
		if (parent)
			json_object_set_new(m, "parent", json_string(parent));
		if (json_is_object(json_object_get(exec, "model_desc")))
			json_object_set(m, "design", json_object_get(exec, "model_desc"));
		if (json_is_object(json_object_get(exec, "model_labels")))
			json_object_set(m, "labels", json_object_get(exec, "model_labels"));
		json_object_set_new(m, "ready", json_boolean(!strcmp(w->status, "published")));
		json_object_set_new(m, "metadata", json_object());
		if (model_save(q->db, m) != 0) {
			json_decref(m);
			reply_err(r, 500, 100, "General data error (saving model)");
			return TW_FAIL;
		}
		created = 1;
	}
	json_object_set_new(models, "output", json_pack("[o]", output_model_item(sget(m, "id"))));
	if (a->iteration >= 0 && json_integer_value(json_object_get(t, "last_iteration")) < a->iteration)
		json_object_set_new(t, "last_iteration", json_integer(a->iteration));
	stamp(t, NULL, q->who, 1);
	w->data = json_pack("{s:s,s:b}", "id", sget(m, "id"), "created", created);
	json_decref(m);
	return TW_SAVE;
}

static void
models_update_for_task(struct req *q, struct reply *r)
{
	struct for_task a = {.iteration = -1};
	if (req_str(q, r, "task", 1, &a.task) || req_str(q, r, "uri", 0, &a.uri) ||
	    req_str(q, r, "override_model_id", 0, &a.override) ||
	    req_int(q, r, "iteration", 0, &a.iteration) || check_model_fields(q, r, q->body) != 0)
		return;
	int has_uri = a.uri && *a.uri, has_override = a.override && *a.override;
	if (has_uri == has_override) {
		reply_err(r, 400, 11, "Missing required fields (exactly one field is required): "
		          "fields=uri,override_model_id");
		return;
	}
	if (!has_override)
		a.override = NULL;
	task_write(q, r, a.task, "task models", update_for_task, &a);
}

/* ---------------------------------------------------------------- set_ready / publish */

struct ready_args {
	int force_publish_task, publish_task;
};

static int
set_ready(struct model_write *w)
{
	struct ready_args *a = w->arg;
	struct req *q = w->q;
	json_t *m = w->model;
	if (json_is_true(json_object_get(m, "ready"))) {
		reply_err(w->r, 400, 203, "Model is ready: model=%s", sget(m, "id"));
		return TW_FAIL;
	}
	json_t *published = json_null();
	const char *task = sget(m, "task");
	json_t *t = task && a->publish_task ? task_load(q->db, task) : NULL;
	if (t && sget(t, "company") && !strcmp(sget(t, "company"), q->who->company) &&
	    strcmp(sget(t, "status"), "published") != 0) {
		json_t *fields = NULL;
		if (task_publish_in_txn(q, w->r, t, a->force_publish_task, &fields) != 0) {
			json_decref(t);
			return TW_FAIL;
		}
		published = json_pack("{s:s,s:{s:i,s:o}}", "id", task, "data", "updated", 1, "fields",
		                      fields);
	}
	json_decref(t);
	json_object_set_new(m, "ready", json_true());
	model_stamp(m, NULL, q->who, 1);
	w->data = json_pack("{s:i,s:o}", "updated", 1, "published_task", published);
	return TW_SAVE;
}

static int
ready_args(struct req *q, struct reply *r, struct ready_args *a)
{
	a->force_publish_task = 0;
	a->publish_task = 1;
	return req_bool(q, r, "force_publish_task", 0, &a->force_publish_task) ||
	       req_bool(q, r, "publish_task", 0, &a->publish_task) ? -1 : 0;
}

static void
models_set_ready(struct req *q, struct reply *r)
{
	const char *id;
	struct ready_args a;
	if (req_str(q, r, "model", 1, &id) || ready_args(q, r, &a))
		return;
	model_write(q, r, id, set_ready, &a);
}

/* ---------------------------------------------------------------- delete */

static int
delete_model(struct model_write *w)
{
	int force = *(int *)w->arg;
	struct req *q = w->q;
	json_t *m = w->model;
	const char *id = sget(m, "id");
	char *dead = xasprintf("__DELETED__%s", id);
	json_t *users = tasks_using_model(q->db, id);
	int rc = 0;
	if (json_array_size(users) && !force) {
		reply_err(w->r, 400, 205, "Model is used by tasks (as execution model, use force=True to "
		          "delete): num_tasks=%zu", json_array_size(users));
		rc = -1;
		goto out;
	}
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
		rc |= task_relink_model(q->db, json_string_value(u), "input", id, dead);
	const char *task = sget(m, "task");
	json_t *t = task ? task_load(q->db, task) : NULL;
	if (t) {
		if (!strcmp(sget(t, "status") ? sget(t, "status") : "", "published")) {
			if (!force) {
				json_decref(t);
				reply_err(w->r, 400, 206, "Task that created this model exists (and published, "
				          "use force=True to delete): task=%s", task);
				rc = -1;
				goto out;
			}
			rc |= task_relink_model(q->db, task, "output", id, dead);
			json_decref(t);
			t = task_load(q->db, task);
			char now[48], *err;
			db_now_iso(now, sizeof(now));
			err = xasprintf("model deleted on %s", now);
			json_t *o = json_object_get(t, "output");
			if (!json_is_object(o)) {
				o = json_object();
				json_object_set_new(t, "output", o);
			}
			json_object_set_new(o, "error", json_string(err));
			free(err);
			stamp(t, NULL, q->who, 0);
			rc |= task_save(q->db, t);
		} else {
			rc |= task_relink_model(q->db, task, "output", id, NULL);
		}
		json_decref(t);
	}
	if (rc == 0)
		rc = model_delete_row(q->db, id);
	if (rc == 0 && events_delete_for_task(q->db, id) < 0)
		rc = -1;
	if (rc != 0)
		reply_err(w->r, 500, 100, "General data error (deleting model)");
	else
		w->data = json_pack("{s:b,s:s}", "deleted", 1, "url", sget(m, "uri") ? sget(m, "uri") : "");
out:
	json_decref(users);
	free(dead);
	return rc ? TW_FAIL : TW_KEEP;
}

static void
models_delete(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0;
	if (req_str(q, r, "model", 1, &id) || req_bool(q, r, "force", 0, &force))
		return;
	model_write(q, r, id, delete_model, &force);
}

/* ---------------------------------------------------------------- archive, tags, metadata */

static int
archive_model(struct model_write *w)
{
	int archive = *(int *)w->arg;
	json_t *m = w->model;
	int has = has_tag(m, "system_tags", "archived");
	w->data = json_pack("{s:i}", archive ? "archived" : "unarchived", has != archive);
	if (has == archive)
		return TW_KEEP;
	json_t *st = json_object_get(m, "system_tags");
	if (!json_is_array(st)) {
		st = json_array();
		json_object_set_new(m, "system_tags", st);
	}
	if (archive)
		json_array_append_new(st, json_string("archived"));
	else
		remove_tag(m, "system_tags", "archived");
	json_object_set_new(m, "system_tags", sorted_tags(json_object_get(m, "system_tags")));
	model_stamp(m, NULL, w->q->who, 0);
	return TW_SAVE;
}

static int
add_or_update_metadata(struct model_write *w)
{
	int replace = 0;
	if (req_bool(w->q, w->r, "replace_metadata", 0, &replace) != 0)
		return TW_FAIL;
	json_t *items = json_object_get(w->q->body, "metadata");
	if (!json_is_array(items)) {
		reply_err(w->r, 400, 12, "Validation error (required field missing): field=metadata");
		return TW_FAIL;
	}
	json_t *md = norm_metadata(w->r, items);
	if (!md)
		return TW_FAIL;
	json_t *cur = json_object_get(w->model, "metadata");
	if (replace || !json_is_object(cur))
		json_object_set_new(w->model, "metadata", md);
	else {
		json_object_update(cur, md);
		json_decref(md);
	}
	model_stamp(w->model, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "updated", 1);
	return TW_SAVE;
}

static int
delete_metadata(struct model_write *w)
{
	json_t *keys = json_object_get(w->q->body, "keys");
	if (!is_str_list(keys)) {
		reply_err(w->r, 400, 12, "Validation error (required field missing): field=keys");
		return TW_FAIL;
	}
	json_t *cur = json_object_get(w->model, "metadata");
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k)
		json_object_del(cur, json_string_value(k));
	model_stamp(w->model, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "updated", 1);
	return TW_SAVE;
}

static void
models_add_or_update_metadata(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "model", 1, &id) == 0)
		model_write(q, r, id, add_or_update_metadata, NULL);
}

static void
models_delete_metadata(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "model", 1, &id) == 0)
		model_write(q, r, id, delete_metadata, NULL);
}

/* ---------------------------------------------------------------- batch forms */

/* {ids, ...} → {succeeded: [{id, ...}], failed: [{id, error}]}, one write per id. */
static void
models_many(struct req *q, struct reply *r, model_mutate_fn fn, void *arg)
{
	json_t *ids = json_object_get(q->body, "ids");
	if (!is_str_list(ids) || json_array_size(ids) == 0) {
		reply_err(r, 400, 12, "Validation error (ids: a non-empty list of model ids is required)");
		return;
	}
	json_t *ok = json_array(), *bad = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		struct reply one = {0};
		if (model_write(q, &one, json_string_value(idv), fn, arg) == 0) {
			json_t *d = one.data ? json_deep_copy(one.data) : json_object();
			json_object_set(d, "id", idv);
			json_array_append_new(ok, d);
		} else {
			json_array_append_new(bad, json_pack("{s:O,s:{s:[i,i],s:s,s:{}}}", "id", idv, "error",
			                                     "codes", one.code, one.subcode, "msg",
			                                     one.msg ? one.msg : "", "data"));
		}
		reply_clear(&one);
	}
	reply_data(r, json_pack("{s:o,s:o}", "succeeded", ok, "failed", bad));
}

static void
models_delete_many(struct req *q, struct reply *r)
{
	int force = 0;
	if (req_bool(q, r, "force", 0, &force) == 0)
		models_many(q, r, delete_model, &force);
}

static void
models_publish_many(struct req *q, struct reply *r)
{
	struct ready_args a;
	if (ready_args(q, r, &a) == 0)
		models_many(q, r, set_ready, &a);
}

static void
models_archive_many(struct req *q, struct reply *r)
{
	int archive = 1;
	models_many(q, r, archive_model, &archive);
}

static void
models_unarchive_many(struct req *q, struct reply *r)
{
	int archive = 0;
	models_many(q, r, archive_model, &archive);
}

static void
models_make_public(struct req *q, struct reply *r)
{
	docs_set_public(q, r, 1, model_load, model_save, 201, "model");
}

static void
models_make_private(struct req *q, struct reply *r)
{
	docs_set_public(q, r, 0, model_load, model_save, 201, "model");
}

const struct endpoint svc_models_endpoints[] = {
	{"models.make_public", "2.9", 0, models_make_public},
	{"models.make_private", "2.9", 0, models_make_private},
	{"models.create", "1.0", 0, models_create},
	{"models.get_by_id", "1.0", 0, models_get_by_id},
	{"models.get_by_task_id", "1.0", 0, models_get_by_task_id},
	{"models.get_all", "1.0", 0, models_get_all},
	{"models.get_all_ex", "2.1", 0, models_get_all},
	{"models.get_by_id_ex", "2.11", 0, models_get_by_id_ex},
	{"models.get_frameworks", "2.8", 0, models_get_frameworks},
	{"models.edit", "1.0", 0, models_edit},
	{"models.update", "1.0", 0, models_edit},
	{"models.update_for_task", "1.0", 0, models_update_for_task},
	{"models.set_ready", "1.0", 0, models_set_ready},
	{"models.publish_many", "2.13", 0, models_publish_many},
	{"models.delete", "1.0", 0, models_delete},
	{"models.delete_many", "2.13", 0, models_delete_many},
	{"models.archive_many", "2.13", 0, models_archive_many},
	{"models.unarchive_many", "2.13", 0, models_unarchive_many},
	{"models.add_or_update_metadata", "2.13", 0, models_add_or_update_metadata},
	{"models.delete_metadata", "2.13", 0, models_delete_metadata},
	{0},
};
