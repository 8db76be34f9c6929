/*
 * svc_pipelines — pipelines.start_pipeline (clone a pipeline controller with the run's Args,
 * name the run "<project> #N", enqueue it), pipelines.delete_runs (delete controller runs of a
 * project with their steps, never all of them), and the include_pipeline_steps option of
 * tasks.stop / archive / unarchive / delete and their *_many forms: a controller's steps are the
 * company's tasks whose parent it is, handled (forced) before the controller itself.
 *
 * The task operations are the task service's own handlers, looked up through the router, so a
 * pipeline call does exactly what the same calls made one by one would.
 */
#include <stdio.h>
#include <string.h>

#include "server/front.h"
#include "server/getall.h"
#include "server/svc_tasks.h"
#include "server/workers.h"
#include "util.h"

#define PIPELINE_MAX_ARGS 1000
#define PIPELINE_MAX_STEPS 10000

/* The handler the task service registers for name at the caller's version. */
static handler_fn
task_handler(const struct req *q, const char *name)
{
	const struct endpoint *e = router_find(name, q->ver_major, q->ver_minor);
	return e ? e->fn : NULL;
}

/* Run fn with body (not stolen) as the request; 0 with *data (new, may be NULL) or the error
 * copied into r and -1. */
static int
call_task(struct req *q, struct reply *r, handler_fn fn, json_t *body, json_t **data)
{
	struct req sub = *q;
	sub.body = body;
	sub.batch = NULL;
	struct reply one = {0};
	fn(&sub, &one);
	if (one.code && one.code != 200) {
		reply_err(r, one.code, one.subcode, "%s", one.msg ? one.msg : "");
		reply_clear(&one);
		return -1;
	}
	if (data)
		*data = one.data ? json_incref(one.data) : NULL;
	reply_clear(&one);
	return 0;
}

/* Ids (new array) of the steps of task_id when it is a pipeline controller of the company. */
static json_t *
steps_of(struct req *q, const char *task_id)
{
	json_t *ids = json_array();
	json_t *t = task_load(q->db, task_id);
	const char *type = sget(t, "type"), *company = sget(t, "company");
	if (!t || !type || strcmp(type, "controller") != 0 || !company ||
	    strcmp(company, q->who->company) != 0) {
		json_decref(t);
		return ids;
	}
	json_decref(t);
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM tasks WHERE company = ? AND "
	                                  "json_extract(doc, '$.parent') = ? ORDER BY created");
	if (!st)
		return ids;
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, task_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && json_array_size(ids) < PIPELINE_MAX_STEPS)
		if (sqlite3_column_text(st, 0) && strcmp((const char *)sqlite3_column_text(st, 0),
		                                         task_id) != 0)
			json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	return ids;
}

int
pipeline_steps_run(struct req *q, struct reply *r, handler_fn fn)
{
	int include = 0;
	const char *task = NULL;
	if (req_bool(q, r, "include_pipeline_steps", 0, &include) != 0)
		return -1;
	if (!include || req_str(q, r, "task", 0, &task) != 0 || !task)
		return r->code ? -1 : 0;
	json_t *steps = steps_of(q, task);
	size_t i;
	json_t *id;
	int rc = 0;
	json_array_foreach(steps, i, id) {
		json_t *body = json_deep_copy(q->body);
		json_object_del(body, "include_pipeline_steps");
		json_object_set(body, "task", id);
		json_object_set_new(body, "force", json_true());
		rc = call_task(q, r, fn, body, NULL);
		json_decref(body);
		if (rc != 0)
			break;
	}
	json_decref(steps);
	return rc;
}

/* ---------------------------------------------------------------- start_pipeline */

/* "<last part of the project name>" for the first run, then "<…> #N", N the runs so far */
static int
name_run(struct req *q, struct reply *r, const char *task_id)
{
	json_t *t = task_load(q->db, task_id);
	const char *pid = sget(t, "project");
	char *prefix = NULL;
	if (pid) {
		sqlite3_stmt *st = db_stmt(q->db, "SELECT name FROM projects WHERE id = ?");
		if (st) {
			sqlite3_bind_text(st, 1, pid, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
				const char *name = (const char *)sqlite3_column_text(st, 0);
				const char *slash = strrchr(name, '/');
				prefix = xstrdup(slash ? slash + 1 : name);
			}
			db_stmt_done(st);
		}
	}
	if (!prefix) {
		json_decref(t);
		return 0;
	}
	int count = 0;
	sqlite3_stmt *st = db_stmt(q->db, "SELECT name, doc FROM tasks WHERE project = ?");
	if (st) {
		sqlite3_bind_text(st, 1, pid, -1, SQLITE_STATIC);
		size_t n = strlen(prefix);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st, 0);
			const char *doc = (const char *)sqlite3_column_text(st, 1);
			if (!name || !doc)
				continue;
			json_t *d = json_loads(doc, 0, NULL);
			int pipeline = has_tag(d, "system_tags", "pipeline");
			json_decref(d);
			if (!pipeline)
				continue;
			/* the name ends with the prefix, or with "<prefix> #<digits>" */
			size_t len = strlen(name);
			const char *end = name + len;
			const char *h = end;
			while (h > name && h[-1] >= '0' && h[-1] <= '9')
				h--;
			if (h < end && h - name >= 2 && h[-1] == '#' && h[-2] == ' ')
				end = h - 2;
			if ((size_t)(end - name) >= n && !memcmp(end - n, prefix, n))
				count++;
		}
		db_stmt_done(st);
	}
	char *name = count > 0 ? xasprintf("%s #%d", prefix, count) : xstrdup(prefix);
	free(prefix);
	json_t *body = json_pack("{s:s,s:s,s:b}", "task", task_id, "name", name, "force", 1);
	free(name);
	json_decref(t);
	int rc = call_task(q, r, task_handler(q, "tasks.edit"), body, NULL);
	json_decref(body);
	return rc;
}

static void
start_pipeline(struct req *q, struct reply *r)
{
	const char *task, *queue = NULL;
	int verify = 0;
	if (req_str(q, r, "task", 1, &task) || req_str(q, r, "queue", 0, &queue) ||
	    req_bool(q, r, "verify_watched_queue", 0, &verify))
		return;
	const json_t *args = json_object_get(q->body, "args");
	if (args && !json_is_null(args) &&
	    (!json_is_array(args) || json_array_size(args) > PIPELINE_MAX_ARGS)) {
		reply_err(r, 400, 12, "Validation error (args must be a list of at most %d {name, "
		          "value}): field=args", PIPELINE_MAX_ARGS);
		return;
	}
	json_t *params = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(args, i, a) {
		const json_t *n = json_object_get(a, "name"), *v = json_object_get(a, "value");
		if (!json_is_object(a) || !json_is_string(n) || (v && !json_is_null(v) &&
		                                                 !json_is_string(v))) {
			json_decref(params);
			reply_err(r, 400, 12, "Validation error (each arg is {name: string, value: "
			          "string}): field=args");
			return;
		}
		json_array_append_new(params, json_pack("{s:s,s:O,s:s}", "section", "Args", "name", n,
		                                        "value", json_is_string(v)
		                                                         ? json_string_value(v) : ""));
	}
	handler_fn clone = task_handler(q, "tasks.clone");
	handler_fn edit_params = task_handler(q, "tasks.edit_hyper_params");
	handler_fn enqueue = task_handler(q, "tasks.enqueue");
	if (!clone || !edit_params || !enqueue || !task_handler(q, "tasks.edit")) {
		json_decref(params);
		reply_err(r, 500, 100, "General data error (task service missing)");
		return;
	}
	json_t *body = json_pack("{s:s}", "task", task), *data = NULL;
	int rc = call_task(q, r, clone, body, &data);
	json_decref(body);
	const char *id = sget(data, "id");
	if (rc != 0 || !id) {
		json_decref(params);
		json_decref(data);
		if (rc == 0)
			reply_err(r, 500, 100, "General data error (clone)");
		return;
	}
	char *run = xstrdup(id);
	json_decref(data);
	if (json_array_size(params)) {
		body = json_pack("{s:s,s:O,s:s,s:b}", "task", run, "hyperparams", params,
		                 "replace_hyperparams", "section", "force", 1);
		rc = call_task(q, r, edit_params, body, NULL);
		json_decref(body);
	}
	json_decref(params);
	if (rc == 0)
		rc = name_run(q, r, run);
	json_t *enq = NULL;
	if (rc == 0) {
		body = json_pack("{s:s,s:s,s:s}", "task", run, "status_message", "Starting pipeline",
		                 "status_reason", "");
		if (queue)
			json_object_set_new(body, "queue", json_string(queue));
		rc = call_task(q, r, enqueue, body, &enq);
		json_decref(body);
	}
	if (rc != 0) {
		free(run);
		json_decref(enq);
		return;
	}
	int queued = (int)json_integer_value(json_object_get(enq, "queued")) > 0 ||
	             json_object_get(enq, "queued") == NULL;
	json_t *out = json_pack("{s:s,s:b}", "pipeline", run, "enqueued", queued);
	if (verify && queued) {
		json_t *t = task_load(q->db, run);
		const char *qid = sget(json_object_get(t, "execution"), "queue");
		json_t *w = qid ? workers_of_queue(q->db, q->who->company, qid) : NULL;
		json_object_set_new(out, "queue_watched", json_boolean(json_array_size(w) > 0));
		json_decref(w);
		json_decref(t);
	}
	json_decref(enq);
	free(run);
	reply_data(r, out);
}

/* ---------------------------------------------------------------- delete_runs */

static void
delete_runs(struct req *q, struct reply *r)
{
	const char *project;
	if (req_str(q, r, "project", 1, &project) != 0)
		return;
	json_t *ids = json_object_get(q->body, "ids");
	if (!is_str_list(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > PIPELINE_MAX_STEPS) {
		reply_err(r, 400, 12, "Validation error (ids: a non-empty list of task ids is required)");
		return;
	}
	/* the controller runs of the project: all of them may not go */
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM tasks WHERE company = ? AND project = ? "
	                                  "AND json_extract(doc, '$.type') = 'controller'");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, project, -1, SQLITE_STATIC);
	json_t *runs = json_object();
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_text(st, 0))
			json_object_set_new(runs, (const char *)sqlite3_column_text(st, 0), json_true());
	db_stmt_done(st);
	json_t *del = json_array();
	size_t i, kept;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (json_object_get(runs, json_string_value(v))) {
			json_array_append(del, v);
			json_object_del(runs, json_string_value(v));
		}
	kept = json_object_size(runs);
	json_decref(runs);
	if (kept == 0) {
		json_decref(del);
		reply_err(r, 400, 160, "At least one pipeline run should be left: project=%.64s", project);
		return;
	}
	json_t *ok = json_array(), *bad = json_array();
	handler_fn del_fn = task_handler(q, "tasks.delete");
	json_array_foreach(del, i, v) {
		json_t *body = json_pack("{s:O,s:b,s:b,s:b,s:b,s:s,s:s}", "task", v, "force", 1,
		                         "move_to_trash", 0, "delete_output_models", 1,
		                         "include_pipeline_steps", 1, "status_message", "",
		                         "status_reason", "Pipeline run deleted");
		struct reply one = {0};
		json_t *data = NULL;
		if (del_fn && call_task(q, &one, del_fn, body, &data) == 0) {
			json_t *d = data ? data : json_object();
			json_object_set(d, "id", v);
			json_array_append_new(ok, d);
		} else {
			json_array_append_new(bad, json_pack("{s:O,s:{s:[i,i],s:s,s:{}}}", "id", v, "error",
			                                     "codes", one.code, one.subcode, "msg",
			                                     one.msg ? one.msg : "", "data"));
		}
		reply_clear(&one);
		json_decref(body);
	}
	json_decref(del);
	reply_data(r, json_pack("{s:o,s:o}", "succeeded", ok, "failed", bad));
}

const struct endpoint svc_pipelines_endpoints[] = {
	{"pipelines.start_pipeline", "2.17", 0, start_pipeline},
	{"pipelines.delete_runs", "2.26", 0, delete_runs},
	{0},
};
