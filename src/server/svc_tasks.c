/*
 * svc_tasks — tasks.*: create, validate, get_by_id, get_all(_ex), get_by_id_ex, clone, delete,
 * get_types, archive, update_batch and the *_many forms, and the service's endpoint table.
 *
 * The families live in files named for them: svc_tasks_status.c (the status machine's
 * endpoints), svc_tasks_edit.c (edit, update, requirements, the input checks),
 * svc_tasks_params.c (hyper-parameters, configuration), svc_tasks_artifacts.c (artifacts, model
 * links); task_write.c holds the one write skeleton they all use (begin → load for write →
 * mutate → conditional save → commit → reply).
 */
#include <string.h>
#include <strings.h>

#include "server/front.h"
#include "server/getall.h"
#include "server/models.h"
#include "server/projects.h"
#include "server/svc_tasks.h"
#include "server/status_history.h"
#include "server/task_page.h"
#include "util.h"

/* ---------------------------------------------------------------- create / read */

static void
tasks_create(struct req *q, struct reply *r)
{
	if (task_check_fields(q, r, 1) != 0 || task_check_refs(q, r, q->body) != 0)
		return;
	const json_t *b = q->body;
	char id[33], now[48];
	gen_hex_id(id);
	db_now_iso(now, sizeof(now));
	json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "id", id, "name",
	                      sget(b, "name"), "type", sget(b, "type"), "status", "created", "user",
	                      q->who->user, "company", q->who->company, "created", now, "last_update",
	                      now, "last_change", now, "last_changed_by", q->who->user,
	                      "last_iteration", 0);
	json_object_set_new(t, "comment", json_string(sget(b, "comment") ? sget(b, "comment") : ""));
	json_object_set_new(t, "tags", sorted_tags(json_object_get(b, "tags")));
	json_object_set_new(t, "system_tags", sorted_tags(json_object_get(b, "system_tags")));
	static const char *const copy[] = {"project", "parent", NULL};
	for (const char *const *k = copy; *k; k++)
		if (sget(b, *k) && *sget(b, *k))
			json_object_set(t, *k, json_object_get(b, *k));
	json_t *exec = json_is_object(json_object_get(b, "execution"))
	                   ? json_deep_copy(json_object_get(b, "execution")) : json_object();
	if (json_is_object(json_object_get(b, "hyperparams"))) {
		json_t *hp = norm_hyperparams(json_object_get(b, "hyperparams"), r);
		if (!hp)
			goto fail;
		json_object_set_new(t, "hyperparams", hp);
	}
	if (json_is_object(json_object_get(b, "configuration"))) {
		json_t *cf = norm_configuration(json_object_get(b, "configuration"), r);
		if (!cf)
			goto fail;
		json_object_set_new(t, "configuration", cf);
	}
	legacy_inputs(q, exec, t);
	if (!json_object_get(exec, "artifacts"))
		json_object_set_new(exec, "artifacts", json_array());
	if (!json_object_get(exec, "test_split"))
		json_object_set_new(exec, "test_split", json_integer(0));
	json_object_set_new(t, "execution", exec);
	{
		/* script is always there, with the real server's defaults */
		json_t *s = json_is_object(json_object_get(b, "script"))
		                ? json_deep_copy(json_object_get(b, "script")) : json_object();
		strip_script(s);
		static const char *const dflt[][2] = {{"binary", "python"}, {"repository", ""},
		                                       {"entry_point", ""}};
		for (size_t i = 0; i < ARRAY_LEN(dflt); i++)
			if (!json_object_get(s, dflt[i][0]))
				json_object_set_new(s, dflt[i][0], json_string(dflt[i][1]));
		json_object_set_new(t, "script", s);
	}
	json_t *out = json_object();
	if (sget(b, "output_dest"))
		json_object_set(out, "destination", json_object_get(b, "output_dest"));
	json_object_set_new(t, "output", out);
	json_t *models = json_is_object(json_object_get(b, "models"))
	                     ? json_deep_copy(json_object_get(b, "models"))
	                 : json_is_object(json_object_get(t, "models"))
	                     ? json_incref(json_object_get(t, "models")) : json_object();
	if (!json_is_array(json_object_get(models, "input")))
		json_object_set_new(models, "input", json_array());
	if (!json_is_array(json_object_get(models, "output")))
		json_object_set_new(models, "output", json_array());
	json_object_set_new(t, "models", models);
	if (json_is_object(json_object_get(b, "container")) && !json_object_get(t, "container"))
		json_object_set(t, "container", json_object_get(b, "container"));
	json_object_set_new(t, "runtime", json_is_object(json_object_get(b, "runtime"))
	                                      ? json_deep_copy(json_object_get(b, "runtime"))
	                                      : json_object());
	if (task_begin(q, r) != 0)
		goto fail;
	if (task_save(q->db, t) != 0 ||
	    status_history_add(q->db, id, NULL, "created", "", "", q->who->user, q->worker_header)) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (saving task)");
		goto fail;
	}
	if (task_commit(q, r) != 0)
		goto fail;
	reply_data(r, json_pack("{s:s}", "id", id));
fail:
	json_decref(t);
}

static void
tasks_validate(struct req *q, struct reply *r)
{
	if (task_check_fields(q, r, 1) != 0 || task_check_refs(q, r, q->body) != 0)
		return;
	reply_data(r, json_object());
}

static void
tasks_get_by_id(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	json_t *t = task_for_read(q, r, id);
	if (!t)
		return;
	task_view_apply(t, q->ver_major, q->ver_minor);
	json_object_del(t, "enqueue_status");
	reply_data(r, json_pack("{s:o}", "task", t));
}

static const char *const task_pattern[] = {"name", "comment", "report", NULL};
static const char *const task_list[] = {"id", "user", "tags", "system_tags", "type", "status",
                                        "project", "parent", "hyperparams.*", "execution.queue",
                                        "models.input.model", "runtime.*", NULL};
static const char *const task_range[] = {"started", "active_duration", "last_iteration",
                                         "last_metrics.*", NULL};
static const char *const task_dt[] = {"status_changed", "last_update", "last_change", "created",
                                      NULL};
static const char *const task_text[] = {"name", "id", "comment", "script.repository",
                                        "script.entry_point", NULL};
static const char *const task_hidden_fields[] = {"enqueue_status", "company_origin", NULL};

static const struct getall_spec task_spec = {
	.pattern_fields = task_pattern,
	.list_fields = task_list,
	.range_fields = task_range,
	.datetime_fields = task_dt,
	.text_fields = task_text,
	.hidden_by_default = task_hidden_fields,
	.hidden_tag = 1,
	.hidden_system_tag = "hidden",
};

/* A list of plain values usable as an SQL prefilter (no exclusions/operators/null). */
static json_t *
plain_list(const json_t *v)
{
	if (json_is_string(v))
		return json_pack("[O]", v);
	if (!json_is_array(v) || json_array_size(v) == 0)
		return NULL;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		if (!s || s[0] == '-' || !strncmp(s, "__$", 3))
			return NULL;
	}
	return json_incref((json_t *)(uintptr_t)v);
}

/* include_subprojects: the project list plus every project below them ("a" → "a/b", "a/b/c"). */
static json_t *
expand_subprojects(struct req *q, const json_t *projects)
{
	json_t *out = json_deep_copy(projects);
	sqlite3_stmt *st = db_stmt(q->db, "SELECT c.id FROM projects p JOIN projects c "
	                                  "ON c.company = p.company AND substr(c.name, 1, length(p.name) + 1) "
	                                  "= p.name || '/' WHERE p.id = ? AND p.company = ?");
	if (!st)
		return out;
	size_t i;
	json_t *pid;
	json_array_foreach(projects, i, pid) {
		sqlite3_bind_text(st, 1, json_string_value(pid), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(out, json_string((const char *)sqlite3_column_text(st, 0)));
		sqlite3_reset(st);
	}
	db_stmt_done(st);
	return out;
}

static void tasks_get_all_in(struct req *q, struct reply *r);

/*
 * What the real server adds to projected results: an embedded document named by only_fields
 * comes back as {} when the task has none (the SDK's Dataset reads runtime this way), and
 * get_all_ex joins execution.queue into {id, name} when the projection reaches inside it.
 */
static void
tasks_reply_fixups(struct req *q, json_t *tasks)
{
	json_t *of = json_object_get(q->body, "only_fields");
	if (!of)
		of = json_object_get(q->body, "projection");
	if (!json_is_array(of))
		return;
	static const char *const embedded[] = {"runtime", "script", "execution", "output", "models",
	                                       "hyperparams", "configuration", "container",
	                                       "last_metrics", NULL};
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		for (const char *const *k = embedded; *k; k++)
			if (!json_object_get(t, *k) && task_projection_names(of, *k, 0))
				json_object_set_new(t, *k, json_object());
	}
}

static void
tasks_get_all(struct req *q, struct reply *r)
{
	json_t *proj = json_object_get(q->body, "project");
	if (json_is_true(json_object_get(q->body, "include_subprojects")) && proj) {
		json_t *plain = plain_list(proj);
		if (plain) {
			json_t *body = json_deep_copy(q->body);
			json_object_set_new(body, "project", expand_subprojects(q, plain));
			json_decref(plain);
			struct req sub = *q;
			sub.body = body;
			tasks_get_all_in(&sub, r);
			json_decref(body);
			return;
		}
	}
	tasks_get_all_in(q, r);
}

static void
tasks_get_all_in(struct req *q, struct reply *r)
{
	if (getall_check(q->body, r) != 0)
		return;
	json_t *docs = NULL;
	int paged = tasks_page_docs(q, r, &task_spec, task_view_apply, &docs);
	if (paged < 0)
		return;
	if (paged)
		goto query;
	json_t *ids = plain_list(json_object_get(q->body, "id"));
	json_t *projects = ids ? NULL : plain_list(json_object_get(q->body, "project"));
	sqlite3_stmt *st;
	if (ids)
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE id IN (SELECT value FROM json_each(?1)) "
		                    "AND (company = ?2 OR company = '') ORDER BY created");
	else if (projects)
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE project IN (SELECT value FROM "
		                    "json_each(?1)) AND (company = ?2 OR company = '') ORDER BY created");
	else
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE (company = ?2 OR company = '') "
		                    "ORDER BY created");
	if (!st) {
		json_decref(ids);
		json_decref(projects);
		reply_err(r, 500, 100, "General data error");
		return;
	}
	char *list = ids ? json_dumps(ids, JSON_COMPACT) : projects ? json_dumps(projects, JSON_COMPACT)
	                                                          : NULL;
	if (list)
		sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
	docs = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(d)) {
			task_view_apply(d, q->ver_major, q->ver_minor);
			json_array_append_new(docs, d);
		} else {
			json_decref(d);
		}
	}
	db_stmt_done(st);
	free(list);
	json_decref(ids);
	json_decref(projects);
query:;
	json_t *out = NULL;
	char *scroll = NULL;
	if (getall_query_join(docs, q->body, &task_spec, r, &out, &scroll, tasks_join, q) == 0) {
		tasks_reply_fixups(q, out);
		json_t *data = json_pack("{s:o}", "tasks", out);
		if (scroll)
			json_object_set_new(data, "scroll_id", json_string(scroll));
		free(scroll);
		reply_data(r, data);
	}
	json_decref(docs);
}

/* tasks.get_by_id_ex: `id` checked with required_fields (400/11), then the get_all query. */
static void
tasks_get_by_id_ex(struct req *q, struct reply *r)
{
	json_t *id = json_object_get(q->body, "id");
	if (!id || json_is_null(id)) {
		reply_err(r, 400, 11, "Missing required fields: id");
		return;
	}
	tasks_get_all(q, r);
}
struct delete_args {
	struct common c;
	int return_urls, delete_output_models;
};

static int
delete_one(struct task_write *w)
{
	struct delete_args *a = w->arg;
	struct req *q = w->q;
	const char *id = a->c.task;
	if (!a->c.force && strcmp(w->status, "created") != 0 &&
	    !has_tag(w->task, "system_tags", "archived")) {
		reply_err(w->r, 400, 123, "Task cannot be deleted (only created or archived tasks can be "
		          "deleted without force): id=%s, status=%s", id, w->status);
		return TW_FAIL;
	}
	queue_remove_task(q->db, NULL, id);
	struct task_cleanup c;
	if (task_cleanup_outputs(q, w->r, w->task, a->c.force, 1, a->delete_output_models, &c) != 0) {
		task_cleanup_free(&c);
		return TW_FAIL;
	}
	if (events_delete_for_task(q->db, id) < 0 || task_delete_row(q->db, id) != 0) {
		task_cleanup_free(&c);
		reply_err(w->r, 500, 100, "General data error (deleting task)");
		return TW_FAIL;
	}
	w->data = json_pack("{s:b,s:i,s:i,s:i,s:o}", "deleted", 1, "updated_children",
	                    c.updated_children, "updated_models", c.updated_models, "deleted_models",
	                    c.deleted_models, "urls", task_cleanup_urls(&c, a->return_urls));
	task_cleanup_free(&c);
	return TW_KEEP;
}

static void
tasks_delete(struct req *q, struct reply *r)
{
	struct delete_args a = {.delete_output_models = 1};
	if (common_args(q, r, &a.c) || req_bool(q, r, "return_file_urls", 0, &a.return_urls) ||
	    req_bool(q, r, "delete_output_models", 0, &a.delete_output_models) ||
	    pipeline_steps_run(q, r, tasks_delete) != 0)
		return;
	task_write(q, r, a.c.task, "task", delete_one, &a);
}

static void
tasks_clone(struct req *q, struct reply *r)
{
	const char *id, *s = NULL;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	static const char *const strs[] = {"new_task_name", "new_task_comment", "new_task_parent",
	                                   "new_task_project", "new_project_name", NULL};
	for (const char *const *k = strs; *k; k++)
		if (req_str(q, r, *k, 0, &s) != 0)
			return;
	if (task_begin(q, r) != 0)
		return;
	json_t *src = task_for_read(q, r, id);
	if (!src) {
		db_rollback(q->db);
		return;
	}
	const json_t *b = q->body;
	char nid[33], now[48];
	gen_hex_id(nid);
	db_now_iso(now, sizeof(now));
	json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "id", nid, "status", "created",
	                      "user", q->who->user, "company", q->who->company, "created", now,
	                      "last_update", now, "last_change", now, "last_changed_by", q->who->user,
	                      "last_iteration", 0);
	static const char *const copy[] = {"type", "script", "hyperparams", "configuration",
	                                   "container", "project", "comment", "tags", NULL};
	for (const char *const *k = copy; *k; k++)
		if (json_object_get(src, *k))
			json_object_set_new(t, *k, json_deep_copy(json_object_get(src, *k)));
	json_object_set_new(t, "name", json_string(sget(b, "new_task_name") ? sget(b, "new_task_name")
	                                                                   : sget(src, "name")));
	json_t *st = json_deep_copy(json_object_get(src, "system_tags"));
	if (!st)
		st = json_array();
	json_object_set_new(t, "system_tags", st);
	remove_tag(t, "system_tags", "development");
	remove_tag(t, "system_tags", "archived");
	json_t *exec = json_is_object(json_object_get(src, "execution"))
	                   ? json_deep_copy(json_object_get(src, "execution")) : json_object();
	json_object_del(exec, "queue");
	json_t *arts = json_object_get(exec, "artifacts");
	for (size_t i = json_array_size(arts); i > 0; i--) {
		const char *mode = sget(json_array_get(arts, i - 1), "mode");
		if (!mode || strcmp(mode, "input") != 0)
			json_array_remove(arts, i - 1);
	}
	json_t *ov = json_object_get(b, "execution_overrides");
	if (json_is_object(ov))
		json_object_update(exec, ov);
	json_object_set_new(t, "execution", exec);
	json_t *src_in = json_object_get(json_object_get(src, "models"), "input");
	json_t *models = json_pack("{s:o,s:[]}", "input", json_is_array(src_in)
	                                                     ? json_deep_copy(src_in) : json_array(),
	                           "output");
	json_object_set_new(t, "models", models);
	/* before 2.13 execution_overrides.model names the input model; an override is always checked */
	int validate = json_is_true(json_object_get(b, "validate_references"));
	json_t *ovm = json_is_object(ov) ? json_object_get(ov, "model") : NULL;
	if (json_is_string(ovm) && !req_version_ge(q, 2, 13)) {
		json_object_set_new(models, "input", *json_string_value(ovm)
		                                         ? json_pack("[{s:s,s:O,s:s}]", "name",
		                                                     "Input Model", "model", ovm,
		                                                     "updated", now)
		                                         : json_array());
		json_object_del(exec, "model");
		validate = 1;
	}
	const char *dest = sget(json_object_get(src, "output"), "destination");
	json_object_set_new(t, "output", dest ? json_pack("{s:s}", "destination", dest) : json_object());
	json_object_set_new(t, "runtime", json_object());
	const char *parent = sget(src, "parent") ? sget(src, "parent") : id;
	json_object_set_new(t, "parent", json_string(sget(b, "new_task_parent") ? sget(b, "new_task_parent")
	                                                                       : parent));
	static const struct {
		const char *from, *to;
	} over[] = {{"new_task_comment", "comment"}, {"new_task_tags", "tags"},
	            {"new_task_system_tags", "system_tags"}, {"new_task_project", "project"},
	            {"new_task_hyperparams", "hyperparams"},
	            {"new_task_configuration", "configuration"},
	            {"new_task_container", "container"}, {"new_task_input_models", "models.input"}};
	for (size_t i = 0; i < ARRAY_LEN(over); i++) {
		json_t *v = json_object_get(b, over[i].from);
		if (!v || json_is_null(v))
			continue;
		if (!strcmp(over[i].to, "models.input"))
			json_object_set(json_object_get(t, "models"), "input", v);
		else if (!strcmp(over[i].to, "tags") || !strcmp(over[i].to, "system_tags"))
			json_object_set_new(t, over[i].to, sorted_tags(v));
		else
			json_object_set(t, over[i].to, v);
	}
	if (validate) {
		size_t k;
		json_t *e;
		json_array_foreach(json_object_get(json_object_get(t, "models"), "input"), k, e) {
			json_t *m = model_for_read(q->db, q->who, sget(e, "model"), 1, r);
			if (!m) {
				db_rollback(q->db);
				json_decref(t);
				json_decref(src);
				return;
			}
			json_decref(m);
		}
	}
	json_t *data = json_pack("{s:s}", "id", nid);
	const char *pname = sget(b, "new_project_name");
	if (pname && *pname) {
		char pid[33];
		if (project_create(q->db, q->who, pname, NULL, pid, r) != 0) {
			db_rollback(q->db);
			json_decref(t);
			json_decref(src);
			json_decref(data);
			return;
		}
		json_object_set_new(t, "project", json_string(pid));
		json_object_set_new(data, "new_project", json_pack("{s:s,s:s}", "id", pid, "name", pname));
	}
	json_decref(src);
	const char *proj = sget(t, "project");
	if (proj && *proj && !project_visible(q->db, q->who, proj)) {
		db_rollback(q->db);
		json_decref(t);
		json_decref(data);
		reply_err(r, 400, 16, "Fields value error (expecting Project id): project=%s", proj);
		return;
	}
	if (task_save(q->db, t) != 0 ||
	    status_history_add(q->db, nid, NULL, "created", "", "", q->who->user, q->worker_header)) {
		db_rollback(q->db);
		json_decref(t);
		json_decref(data);
		reply_err(r, 500, 100, "General data error (saving task)");
		return;
	}
	json_decref(t);
	if (task_commit(q, r) != 0) {
		json_decref(data);
		return;
	}
	reply_data(r, data);
}

static void
tasks_get_types(struct req *q, struct reply *r)
{
	/* the types the company's tasks use (in the given projects), as the real server answers */
	json_t *projects = json_object_get(q->body, "projects");
	if (projects && !json_is_null(projects) && !is_str_list(projects)) {
		reply_err(r, 400, 12, "Validation error (projects must be a list of strings)");
		return;
	}
	char *plist = json_array_size(projects) ? json_dumps(projects, JSON_COMPACT) : NULL;
	sqlite3_stmt *st = db_stmt(q->db, "SELECT DISTINCT json_extract(doc, '$.type') ty FROM tasks "
	                                  "WHERE (company = ?1 OR company = '') AND ty IS NOT NULL AND "
	                                  "(?2 IS NULL OR project IN (SELECT value FROM json_each(?2))) "
	                                  "ORDER BY ty");
	if (!st) {
		free(plist);
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	if (plist)
		sqlite3_bind_text(st, 2, plist, -1, SQLITE_STATIC);
	json_t *types = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(types, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	free(plist);
	reply_data(r, json_pack("{s:o}", "types", types));
}

static void
tasks_make_public(struct req *q, struct reply *r)
{
	docs_set_public(q, r, 1, task_load, task_save, 101, "task");
}

static void
tasks_make_private(struct req *q, struct reply *r)
{
	docs_set_public(q, r, 0, task_load, task_save, 101, "task");
}

/* ---------------------------------------------------------------- batch calls */

/* Run a single-task handler with body = item (the caller's request otherwise). r_item gets its
 * reply; the caller owns and clears it. */
static void
run_single(struct req *q, handler_fn fn, json_t *item, struct reply *r_item)
{
	struct req sub = *q;
	sub.body = item;
	sub.batch = NULL;
	fn(&sub, r_item);
}

static void
tasks_update_batch(struct req *q, struct reply *r)
{
	json_t *items = q->batch;
	if (!items && json_object_get(q->body, "task"))
		items = json_pack("[O]", q->body);
	else
		json_incref(items);
	if (json_array_size(items) == 0) {
		json_decref(items);
		reply_err(r, 400, 17, "Batch request contains no items");
		return;
	}
	int updated = 0;
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		struct reply one = {0};
		run_single(q, tasks_update, item, &one);
		if (!one.code || one.code == 200)
			updated++;
		reply_clear(&one);
	}
	json_decref(items);
	reply_data(r, json_pack("{s:i}", "updated", updated));
}

/* {ids*: [...], ...options} → {succeeded: [{id, ...}], failed: [{id, error: {codes, msg, data}}]} */
static void
many(struct req *q, struct reply *r, handler_fn fn)
{
	json_t *ids = json_object_get(q->body, "ids");
	if (!is_str_list(ids) || json_array_size(ids) == 0) {
		reply_err(r, 400, 12, "Validation error (ids: a non-empty list of task ids is required)");
		return;
	}
	json_t *ok = json_array(), *bad = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *item = json_deep_copy(q->body);
		json_object_del(item, "ids");
		json_object_set(item, "task", idv);
		struct reply one = {0};
		run_single(q, fn, item, &one);
		if (!one.code || one.code == 200) {
			json_t *d = one.data ? json_deep_copy(one.data) : json_object();
			json_object_set(d, "id", idv);
			json_array_append_new(ok, d);
		} else {
			json_array_append_new(bad, json_pack("{s:O,s:{s:[i,i],s:s,s:{}}}", "id", idv, "error",
			                                     "codes", one.code, one.subcode, "msg",
			                                     one.msg ? one.msg : "", "data"));
		}
		reply_clear(&one);
		json_decref(item);
	}
	reply_data(r, json_pack("{s:o,s:o}", "succeeded", ok, "failed", bad));
}

/* archive / unarchive one task: the `archived` system tag; queued tasks are dequeued first. */
static int
archive_one(struct task_write *w)
{
	int archive = *(int *)w->arg;
	json_t *t = w->task;
	const char *id = sget(t, "id");
	int changed = has_tag(t, "system_tags", "archived") != archive;
	if (archive && !strcmp(w->status, "queued")) {
		queue_remove_task(w->q->db, NULL, id);
		const char *back = sget(t, "enqueue_status") ? sget(t, "enqueue_status") : "created";
		json_t *f = NULL, *extra = json_pack("{s:n}", "enqueue_status");
		char tgt[32];
		snprintf(tgt, sizeof(tgt), "%s", back);
		int rc = change_status(w->q, w->r, t, tgt, 1, "", "", extra, &f);
		json_decref(extra);
		json_decref(f);
		if (rc != 0)
			return TW_FAIL;
		status_of(t, w->status);
	}
	w->data = json_pack("{s:i}", archive ? "archived" : "unarchived", changed);
	const char *reason = sget(w->q->body, "status_reason"), *message = sget(w->q->body, "status_message");
	if (archive && reason)
		json_object_set_new(t, "status_reason", json_string(reason));
	if (archive && message)
		json_object_set_new(t, "status_message", json_string(message));
	if (!changed && !(archive && (reason || message)))
		return TW_KEEP;
	json_t *st = json_object_get(t, "system_tags");
	if (!json_is_array(st)) {
		st = json_array();
		json_object_set_new(t, "system_tags", st);
	}
	if (archive)
		json_array_append_new(st, json_string("archived"));
	else
		remove_tag(t, "system_tags", "archived");
	json_object_set_new(t, "system_tags", sorted_tags(st));
	stamp(t, NULL, w->q->who, 0);
	return TW_SAVE;
}

static void task_archive_one(struct req *q, struct reply *r);
static void task_unarchive_one(struct req *q, struct reply *r);

static void
set_archived(struct req *q, struct reply *r, int archive)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) == 0 &&
	    pipeline_steps_run(q, r, archive ? task_archive_one : task_unarchive_one) == 0)
		task_write(q, r, id, "task", archive_one, &archive);
}

static void task_archive_one(struct req *q, struct reply *r) { set_archived(q, r, 1); }
static void task_unarchive_one(struct req *q, struct reply *r) { set_archived(q, r, 0); }

static void
tasks_archive(struct req *q, struct reply *r)
{
	json_t *ids = json_object_get(q->body, "tasks");
	if (!is_str_list(ids)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return;
	}
	int n = 0;
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *item = json_pack("{s:O}", "task", idv);
		static const char *const pass[] = {"status_reason", "status_message",
		                                   "include_pipeline_steps", NULL};
		for (const char *const *k = pass; *k; k++)
			if (json_object_get(q->body, *k))
				json_object_set(item, *k, json_object_get(q->body, *k));
		struct reply one = {0};
		run_single(q, task_archive_one, item, &one);
		json_decref(item);
		if (one.code && one.code != 200) {
			reply_err(r, one.code, one.subcode, "%s", one.msg ? one.msg : "");
			reply_clear(&one);
			return;
		}
		n += (int)json_integer_value(json_object_get(one.data, "archived"));
		reply_clear(&one);
	}
	reply_data(r, json_pack("{s:i}", "archived", n));
}

#define MANY(fn_many, fn_one) \
	static void fn_many(struct req *q, struct reply *r) { many(q, r, fn_one); }
MANY(tasks_stop_many, tasks_stop)
MANY(tasks_enqueue_many, tasks_enqueue)
MANY(tasks_dequeue_many, tasks_dequeue)
MANY(tasks_reset_many, tasks_reset)
MANY(tasks_delete_many, tasks_delete)
MANY(tasks_publish_many, tasks_publish)
MANY(tasks_archive_many, task_archive_one)
MANY(tasks_unarchive_many, task_unarchive_one)
#undef MANY

const struct endpoint svc_tasks_endpoints[] = {
	{"tasks.create", "1.0", 0, tasks_create},
	{"tasks.validate", "1.0", 0, tasks_validate},
	{"tasks.get_by_id", "1.0", 0, tasks_get_by_id},
	{"tasks.get_all", "1.0", 0, tasks_get_all},
	{"tasks.get_all_ex", "1.0", 0, tasks_get_all},
	{"tasks.get_by_id_ex", "1.0", 0, tasks_get_by_id_ex},
	{"tasks.edit", "1.0", 0, tasks_edit},
	{"tasks.update", "1.0", 0, tasks_update},
	{"tasks.enqueue", "1.5", 0, tasks_enqueue},
	{"tasks.dequeue", "1.5", 0, tasks_dequeue},
	{"tasks.started", "1.0", 0, tasks_started},
	{"tasks.stopped", "1.0", 0, tasks_stopped},
	{"tasks.stop", "1.0", 0, tasks_stop},
	{"tasks.completed", "2.2", 0, tasks_completed},
	{"tasks.failed", "1.0", 0, tasks_failed},
	{"tasks.close", "1.0", 0, tasks_close},
	{"tasks.publish", "1.0", 0, tasks_publish},
	{"tasks.reset", "1.0", 0, tasks_reset},
	{"tasks.delete", "1.0", 0, tasks_delete},
	{"tasks.clone", "1.0", 0, tasks_clone},
	{"tasks.ping", "1.0", 0, tasks_ping},
	{"tasks.set_requirements", "1.0", 0, tasks_set_requirements},
	{"tasks.get_hyper_params", "2.9", 0, tasks_get_hyper_params},
	{"tasks.edit_hyper_params", "2.9", 0, tasks_edit_hyper_params},
	{"tasks.delete_hyper_params", "2.9", 0, tasks_delete_hyper_params},
	{"tasks.get_configurations", "2.9", 0, tasks_get_configurations},
	{"tasks.get_configuration_names", "2.9", 0, tasks_get_configuration_names},
	{"tasks.edit_configuration", "2.9", 0, tasks_edit_configuration},
	{"tasks.delete_configuration", "2.9", 0, tasks_delete_configuration},
	{"tasks.add_or_update_artifacts", "2.10", 0, tasks_add_or_update_artifacts},
	{"tasks.delete_artifacts", "2.10", 0, tasks_delete_artifacts},
	{"tasks.add_or_update_model", "2.13", 0, tasks_add_or_update_model},
	{"tasks.delete_models", "2.13", 0, tasks_delete_models},
	{"tasks.get_types", "2.8", 0, tasks_get_types},
	{"tasks.update_batch", "1.0", 0, tasks_update_batch},
	{"tasks.archive", "2.12", 0, tasks_archive},
	{"tasks.make_public", "2.9", 0, tasks_make_public},
	{"tasks.make_private", "2.9", 0, tasks_make_private},
	{"tasks.stop_many", "2.13", 0, tasks_stop_many},
	{"tasks.enqueue_many", "2.13", 0, tasks_enqueue_many},
	{"tasks.dequeue_many", "2.13", 0, tasks_dequeue_many},
	{"tasks.reset_many", "2.13", 0, tasks_reset_many},
	{"tasks.delete_many", "2.13", 0, tasks_delete_many},
	{"tasks.publish_many", "2.13", 0, tasks_publish_many},
	{"tasks.archive_many", "2.13", 0, tasks_archive_many},
	{"tasks.unarchive_many", "2.13", 0, tasks_unarchive_many},
	/* server-lite's own (status_history.c) */
	{"tasks.get_status_history", "2.13", 0, tasks_get_status_history},
	{0},
};
