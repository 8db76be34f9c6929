/*
 * svc_reports_query — the reads of reports.*: get_all_ex (reports of given projects, or all),
 * get_tags (the user tags the company's reports use), get_task_data (the tasks, or models, a
 * report shows, with their events).
 *
 * Nothing here queries tasks or events itself: get_all_ex is tasks.get_all_ex restricted to
 * type report with hidden documents included, and get_task_data is tasks|models.get_all_ex
 * followed by the events service's multi-task reads (scalar histograms, plots, debug images,
 * single values), each called through the router with a body built from the request, so the
 * reports see whatever those endpoints serve.
 */
#include <string.h>

#include "server/front.h"
#include "server/reports.h"
#include "server/svc_tasks.h"
#include "util.h"

#define REPORT_MAX_PROJECTS 1000   /* project ids one get_all_ex may name */

int
reports_call(struct req *q, struct reply *r, const char *endpoint, json_t *body, json_t **data)
{
	*data = NULL;
	const struct endpoint *ep = router_find(endpoint, q->ver_major, q->ver_minor);
	if (!ep) {
		reply_err(r, 500, 100, "General data error (no handler for %s)", endpoint);
		return -1;
	}
	struct req sub = *q;
	sub.endpoint = endpoint;
	sub.body = body;
	sub.batch = NULL;
	struct reply one = {0};
	ep->fn(&sub, &one);
	if (one.code && one.code != 200) {
		reply_err(r, one.code, one.subcode, "%s", one.msg ? one.msg : "");
		reply_clear(&one);
		return -1;
	}
	*data = one.data ? json_incref(one.data) : json_object();
	reply_clear(&one);
	return 0;
}

/* ---------------------------------------------------------------- get_all_ex */

/* The request's project field as a list (a string, null or a list of strings and nulls): a new
 * array, or NULL with r filled. */
static json_t *
project_list(struct reply *r, const json_t *v)
{
	if (json_is_string(v) || json_is_null(v))
		return json_pack("[O]", v);
	if (!json_is_array(v) || json_array_size(v) > REPORT_MAX_PROJECTS)
		goto bad;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (!json_is_string(e) && !json_is_null(e))
			goto bad;
	return json_deep_copy(v);
bad:
	reply_err(r, 400, 12, "Validation error (expected a list of project ids): field=project");
	return NULL;
}

static int
in_list(const json_t *list, const char *s)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *v = json_string_value(e);
		if (s ? v && !strcmp(v, s) : json_is_null(e))
			return 1;
	}
	return 0;
}

/* include_subprojects: every project below the named ones is added to the list. */
static void
add_subprojects(struct req *q, json_t *list)
{
	sqlite3_stmt *st = db_stmt(q->db, "SELECT c.id FROM projects p JOIN projects c ON "
	                                  "c.company = p.company AND substr(c.name, 1, "
	                                  "length(p.name) + 1) = p.name || '/' WHERE p.id = ? AND "
	                                  "(p.company = ? OR p.company = '')");
	if (!st)
		return;
	size_t n = json_array_size(list);
	for (size_t i = 0; i < n; i++) {
		const char *id = json_string_value(json_array_get(list, i));
		if (!id)
			continue;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW && json_array_size(list) < 4 * REPORT_MAX_PROJECTS) {
			const char *c = (const char *)sqlite3_column_text(st, 0);
			if (c && !in_list(list, c))
				json_array_append_new(list, json_string(c));
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	db_stmt_done(st);
}

/* The ".reports" projects named by the list or lying directly below one it names (null: the
 * root), as upstream brings a project down to its reports: a new array (maybe empty). */
static json_t *
reports_projects_of(struct req *q, const json_t *list)
{
	json_t *out = json_array();
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id, json_extract(doc, '$.parent') FROM projects "
	                                  "WHERE (company = ? OR company = '') AND (name = '"
	                                  REPORTS_PROJECT "' OR substr(name, -9) = '/"
	                                  REPORTS_PROJECT "')");
	if (!st)
		return out;
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *parent = (const char *)sqlite3_column_text(st, 1);
		if (id && (in_list(list, id) || in_list(list, parent && *parent ? parent : NULL)))
			json_array_append_new(out, json_string(id));
	}
	db_stmt_done(st);
	return out;
}

void
reports_get_all_ex(struct req *q, struct reply *r)
{
	json_t *body = json_deep_copy(q->body), *data = NULL;
	json_object_set_new(body, "type", json_pack("[s]", REPORT_TYPE));
	/* reports are hidden tasks: this listing is where they are not hidden */
	json_object_set_new(body, "search_hidden", json_true());
	json_t *pv = json_object_get(q->body, "project");
	int subprojects = json_is_true(json_object_get(q->body, "include_subprojects"));
	json_object_del(body, "include_subprojects");
	if (pv) {
		json_t *list = project_list(r, pv);
		if (!list)
			goto out;
		if (subprojects)
			add_subprojects(q, list);
		json_t *reports = reports_projects_of(q, list);
		json_decref(list);
		if (!json_array_size(reports)) {
			json_decref(reports);
			reply_data(r, json_pack("{s:[]}", "tasks"));
			goto out;
		}
		json_object_set_new(body, "project", reports);
	}
	if (reports_call(q, r, "tasks.get_all_ex", body, &data) == 0)
		reply_data(r, data);
out:
	json_decref(body);
}

/* ---------------------------------------------------------------- get_tags */

void
reports_get_tags(struct req *q, struct reply *r)
{
	sqlite3_stmt *st = db_stmt(q->db, "SELECT DISTINCT j.value FROM tasks t, "
	                                  "json_each(t.doc, '$.tags') j WHERE t.company = ? AND "
	                                  "json_extract(t.doc, '$.type') = '" REPORT_TYPE "' AND "
	                                  "j.type = 'text' ORDER BY j.value");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	json_t *tags = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(tags, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	reply_data(r, json_pack("{s:o}", "tags", tags));
}

/* ---------------------------------------------------------------- get_task_data */

/* Of an events request object, the keys that pass through to the events endpoint. */
static void
copy_keys(json_t *dst, const json_t *src, const char *const *keys)
{
	for (const char *const *k = keys; *k; k++) {
		json_t *v = json_object_get(src, *k);
		if (v && !json_is_null(v))
			json_object_set(dst, *k, v);
	}
}

/* An events endpoint over all tasks, its reply's `key` stored in res as `as`. 0 or -1. */
static int
multi_events(struct req *q, struct reply *r, json_t *res, const char *endpoint, json_t *body,
             const char *key, const char *as)
{
	json_t *data = NULL;
	int rc = reports_call(q, r, endpoint, body, &data);
	json_decref(body);
	if (rc != 0)
		return -1;
	json_t *v = json_object_get(data, key);
	json_object_set(res, as, v ? v : json_object());
	json_decref(data);
	return 0;
}

/* Insert the iterations of src into dst ([{iter, events}], newest first), merging equal ones. */
static void
merge_iterations(json_t *dst, const json_t *src)
{
	size_t i;
	json_t *it;
	json_array_foreach(src, i, it) {
		json_int_t n = json_integer_value(json_object_get(it, "iter"));
		size_t j, pos = json_array_size(dst);
		json_t *d, *same = NULL;
		json_array_foreach(dst, j, d) {
			json_int_t m = json_integer_value(json_object_get(d, "iter"));
			if (m == n) {
				same = d;
				break;
			}
			if (m < n) {
				pos = j;
				break;
			}
		}
		if (same)
			json_array_extend(json_object_get(same, "events"), json_object_get(it, "events"));
		else
			json_array_insert_new(dst, pos, json_deep_copy(it));
	}
}

/*
 * debug_images {iters, metrics}: events.debug_images for every task and requested metric (all
 * metrics when none is named), regrouped as upstream answers: one entry per task, its
 * iterations across the metrics. 0 or -1.
 */
static int
debug_images(struct req *q, struct reply *r, json_t *res, const json_t *tasks, const json_t *spec,
             int model)
{
	json_t *metrics = json_object_get(spec, "metrics");
	json_t *reqs = json_array();
	size_t i, k;
	json_t *t, *m;
	json_array_foreach(tasks, i, t) {
		if (!json_array_size(metrics))
			json_array_append_new(reqs, json_pack("{s:O}", "task", t));
		json_array_foreach(metrics, k, m) {
			json_t *one = json_pack("{s:O}", "task", t);
			static const char *const keys[] = {"metric", "variants", NULL};
			copy_keys(one, m, keys);
			json_array_append_new(reqs, one);
		}
	}
	json_t *body = json_pack("{s:o,s:b}", "metrics", reqs, "model_events", model);
	static const char *const keys[] = {"iters", NULL};
	copy_keys(body, spec, keys);
	json_t *data = NULL;
	int rc = reports_call(q, r, "events.debug_images", body, &data);
	json_decref(body);
	if (rc != 0)
		return -1;
	json_t *out = json_array();
	json_array_foreach(tasks, i, t) {
		json_t *iters = json_array();
		json_array_foreach(json_object_get(data, "metrics"), k, m)
			if (json_equal(json_object_get(m, "task"), t))
				merge_iterations(iters, json_object_get(m, "iterations"));
		json_array_append_new(out, json_pack("{s:O,s:o}", "task", t, "iterations", iters));
	}
	json_decref(data);
	json_object_set_new(res, "debug_images", out);
	return 0;
}

void
reports_get_task_data(struct req *q, struct reply *r)
{
	static const char *const events[] = {"debug_images", "plots",
	                                     "scalar_metrics_iter_histogram",
	                                     "single_value_metrics", NULL};
	int model = 0;
	if (req_bool(q, r, "model_events", 0, &model) != 0)
		return;
	for (const char *const *k = events; *k; k++) {
		json_t *v = json_object_get(q->body, *k);
		if (v && !json_is_null(v) && !json_is_object(v)) {
			reply_err(r, 400, 12, "Validation error (expected an object): field=%s", *k);
			return;
		}
	}
	json_t *body = json_deep_copy(q->body), *res = NULL;
	for (const char *const *k = events; *k; k++)
		json_object_del(body, *k);
	json_object_del(body, "model_events");
	int rc = reports_call(q, r, model ? "models.get_all_ex" : "tasks.get_all_ex", body, &res);
	json_decref(body);
	if (rc != 0)
		return;
	json_t *tasks = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(res, model ? "models" : "tasks"), i, t)
		if (json_is_string(json_object_get(t, "id")))
			json_array_append(tasks, json_object_get(t, "id"));
	if (model) {
		/* the reply's list is "tasks" whatever was searched, as upstream */
		json_object_set(res, "tasks", json_object_get(res, "models"));
		json_object_del(res, "models");
	}
	const json_t *b = q->body;
	json_t *spec;
	int n = (int)json_array_size(tasks);
	if ((spec = json_object_get(b, "debug_images")) && json_is_object(spec)) {
		if (!n)
			json_object_set_new(res, "debug_images", json_array());
		else if (debug_images(q, r, res, tasks, spec, model) != 0)
			goto fail;
	}
	if ((spec = json_object_get(b, "plots")) && json_is_object(spec)) {
		static const char *const keys[] = {"iters", "metrics", "last_iters_per_task_metric",
		                                   NULL};
		json_t *eb = json_pack("{s:O,s:b}", "tasks", tasks, "model_events", model);
		copy_keys(eb, spec, keys);
		if (!n) {
			json_object_set_new(res, "plots", json_object());
			json_decref(eb);
		} else if (multi_events(q, r, res, "events.get_multi_task_plots", eb, "plots",
		                        "plots")) {
			goto fail;
		}
	}
	if ((spec = json_object_get(b, "scalar_metrics_iter_histogram")) && json_is_object(spec)) {
		static const char *const keys[] = {"samples", "key", "metrics", NULL};
		json_t *eb = json_pack("{s:O,s:b}", "tasks", tasks, "model_events", model);
		copy_keys(eb, spec, keys);
		if (!n) {
			json_object_set_new(res, "scalar_metrics_iter_histogram", json_object());
			json_decref(eb);
		} else if (multi_events(q, r, res, "events.multi_task_scalar_metrics_iter_histogram", eb,
		                        "metrics", "scalar_metrics_iter_histogram")) {
			goto fail;
		}
	}
	if ((spec = json_object_get(b, "single_value_metrics")) && json_is_object(spec)) {
		json_t *eb = json_pack("{s:O,s:b}", "tasks", tasks, "model_events", model);
		if (!n) {
			json_object_set_new(res, "single_value_metrics", json_array());
			json_decref(eb);
		} else if (multi_events(q, r, res, "events.get_task_single_value_metrics", eb, "tasks",
		                        "single_value_metrics")) {
			goto fail;
		}
	}
	json_decref(tasks);
	reply_data(r, res);
	return;
fail:
	json_decref(tasks);
	json_decref(res);
}
