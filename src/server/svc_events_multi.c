/*
 * svc_events_multi — the events.* reads over several tasks (or models) and the raw scalar
 * stream: get_multi_task_metrics, multi_task_scalar_metrics_iter_histogram,
 * get_multi_task_plots, scalar_metrics_iter_raw. Same store as svc_events.c (event_store.c);
 * shapes per the real server's events.conf.
 *
 * A metrics filter is [{metric, variants?}]: a metric with no variants takes all of them.
 */
#include <stdlib.h>
#include <string.h>

#include "server/models.h"
#include "server/server.h"
#include "server/store_sql.h"
#include "util.h"

#define SINGLE_VALUE_ITER (-2147483648LL)
#define RAW_DEFAULT_BATCH 10000
#define RAW_MAX_BATCH 100000

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The caller may read this task (or model with model_events): its document, else NULL with
 * r filled (400/101, 400/201). */
static json_t *
readable(struct req *q, struct reply *r, const char *id, int model)
{
	json_t *d = model ? model_load(q->db, id) : task_load(q->db, id);
	const char *c = sget(d, "company");
	if (!d || !c || (*c && strcmp(c, q->who->company) != 0)) {
		json_decref(d);
		if (model)
			reply_err(r, 400, 201, "Invalid model id: id=%s", id);
		else
			reply_err(r, 400, 101, "Invalid task id: id=%s", id);
		return NULL;
	}
	return d;
}

/* The tasks list of the body, each readable: a new object id → name, or NULL with r filled. */
static json_t *
task_names(struct req *q, struct reply *r)
{
	int model = json_is_true(json_object_get(q->body, "model_events"));
	json_t *ids = json_object_get(q->body, "tasks");
	if (!json_is_array(ids) || !json_array_size(ids)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return NULL;
	}
	json_t *out = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v)) {
			json_decref(out);
			reply_err(r, 400, 12, "Validation error (tasks must be strings)");
			return NULL;
		}
		json_t *d = readable(q, r, json_string_value(v), model);
		if (!d) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, json_string_value(v), json_string(sget(d, "name") ? sget(d, "name") : ""));
		json_decref(d);
	}
	return out;
}

/* 1 when (metric, variant) passes the metrics filter (absent or empty: everything). */
static int
metric_wanted(const json_t *filter, const char *metric, const char *variant)
{
	if (!json_is_array(filter) || !json_array_size(filter))
		return 1;
	size_t i;
	json_t *f;
	json_array_foreach(filter, i, f) {
		if (!sget(f, "metric") || strcmp(sget(f, "metric"), metric) != 0)
			continue;
		json_t *vs = json_object_get(f, "variants");
		if (!json_is_array(vs) || !json_array_size(vs))
			return 1;
		size_t k;
		json_t *v;
		json_array_foreach(vs, k, v)
			if (json_is_string(v) && !strcmp(json_string_value(v), variant))
				return 1;
	}
	return 0;
}

static json_t *
obj_child(json_t *parent, const char *key)
{
	json_t *c = json_object_get(parent, key);
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(parent, key, c);
	}
	return c;
}

static void
h_get_multi_task_metrics(struct req *q, struct reply *r)
{
	json_t *names = task_names(q, r);
	if (!names)
		return;
	const char *type = sget(q->body, "event_type");
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT DISTINCT metric, variant FROM events WHERE task = ?1"
	                                     " AND (?2 IS NULL OR type = ?2)");
	json_t *set = json_object();
	const char *id;
	json_t *nv;
	json_object_foreach(names, id, nv) {
		if (!st)
			break;
		sqlite3_reset(st);
		sq_bind_text(st, 1, id);
		sq_bind_text(st, 2, type);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *vars = obj_child(set, sq_col_text(st, 0));
			json_object_set_new(vars, sq_col_text(st, 1), json_true());
		}
	}
	sqlite3_finalize(st);
	json_decref(names);
	json_t *keys = json_array();
	const char *m;
	json_t *vars;
	json_object_foreach(set, m, vars)
		json_array_append_new(keys, json_string(m));
	json_t *sorted = sq_sorted_strings(keys);
	json_decref(keys);
	json_t *out = json_array();
	size_t i;
	json_t *mv;
	json_array_foreach(sorted, i, mv) {
		json_t *vk = json_array();
		const char *v;
		json_t *x;
		json_object_foreach(json_object_get(set, json_string_value(mv)), v, x)
			json_array_append_new(vk, json_string(v));
		json_array_append_new(out, json_pack("{s:O,s:o}", "metric", mv, "variants",
		                                     sq_sorted_strings(vk)));
		json_decref(vk);
	}
	json_decref(sorted);
	json_decref(set);
	reply_data(r, json_pack("{s:o}", "metrics", out));
}

static void
h_multi_task_scalar_histogram(struct req *q, struct reply *r)
{
	json_t *names = task_names(q, r);
	if (!names)
		return;
	json_t *filter = json_object_get(q->body, "metrics");
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT metric, variant, iter, value FROM events WHERE"
	                                     " task = ? AND type = 'training_stats_scalar' AND iter != ?"
	                                     " ORDER BY metric, variant, iter, seq");
	json_t *out = json_object();
	const char *id;
	json_t *nv;
	json_object_foreach(names, id, nv) {
		if (!st)
			break;
		sqlite3_reset(st);
		sq_bind_text(st, 1, id);
		sqlite3_bind_int64(st, 2, SINGLE_VALUE_ITER);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *metric = sq_col_text(st, 0), *variant = sq_col_text(st, 1);
			if (!metric_wanted(filter, metric, variant))
				continue;
			json_t *td = json_object_get(obj_child(obj_child(out, metric), variant), id);
			if (!td) {
				td = json_pack("{s:[],s:[],s:O}", "x", "y", "name", nv);
				json_object_set_new(obj_child(obj_child(out, metric), variant), id, td);
			}
			json_array_append_new(json_object_get(td, "x"), json_integer(sqlite3_column_int64(st, 2)));
			json_array_append_new(json_object_get(td, "y"), json_real(sqlite3_column_double(st, 3)));
		}
	}
	sqlite3_finalize(st);
	json_decref(names);
	reply_data(r, json_pack("{s:o}", "metrics", out));
}

/* The last iteration's plots per task, metric and variant. */
static void
h_get_multi_task_plots(struct req *q, struct reply *r)
{
	json_t *names = task_names(q, r);
	if (!names)
		return;
	json_t *filter = json_object_get(q->body, "metrics");
	sqlite3_stmt *st = sq_prepare(q->db,
		"SELECT e.metric, e.variant, e.iter, e.doc FROM events e WHERE e.task = ?1 AND e.type ="
		" 'plot' AND e.iter = (SELECT MAX(x.iter) FROM events x WHERE x.task = ?1 AND x.type ="
		" 'plot' AND x.metric = e.metric AND x.variant = e.variant) ORDER BY e.metric, e.variant,"
		" e.seq");
	json_t *out = json_object();
	int total = 0;
	const char *id;
	json_t *nv;
	json_object_foreach(names, id, nv) {
		if (!st)
			break;
		sqlite3_reset(st);
		sq_bind_text(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *metric = sq_col_text(st, 0), *variant = sq_col_text(st, 1);
			if (!metric_wanted(filter, metric, variant))
				continue;
			char iter[32];
			snprintf(iter, sizeof(iter), "%lld", (long long)sqlite3_column_int64(st, 2));
			json_t *byiter = obj_child(obj_child(obj_child(out, metric), variant), id);
			json_t *slot = json_object_get(byiter, iter);
			if (!slot) {
				slot = json_pack("{s:O,s:[]}", "name", nv, "plots");
				json_object_set_new(byiter, iter, slot);
			}
			json_t *doc = sq_col_json(st, 3, 0);
			json_array_append_new(json_object_get(slot, "plots"), doc);
			total++;
		}
	}
	sqlite3_finalize(st);
	json_decref(names);
	reply_data(r, json_pack("{s:o,s:i,s:i,s:s}", "plots", out, "returned", total, "total", total,
	                        "scroll_id", ""));
}

/* scroll ids: "lite-raw-<offset>-<batch size>" (the batch size is not resent with the scroll). */
static void
h_scalar_metrics_iter_raw(struct req *q, struct reply *r)
{
	const char *task, *scroll = NULL;
	long long batch = RAW_DEFAULT_BATCH;
	int count_total = 0;
	if (req_str(q, r, "task", 1, &task) || req_str(q, r, "scroll_id", 0, &scroll) ||
	    req_int(q, r, "batch_size", 0, &batch) || req_bool(q, r, "count_total", 0, &count_total))
		return;
	json_t *metric = json_object_get(q->body, "metric");
	const char *mname = sget(metric, "metric");
	if (!mname) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=metric.metric");
		return;
	}
	const char *key = sget(q->body, "key") ? sget(q->body, "key") : "iter";
	if (strcmp(key, "iter") && strcmp(key, "timestamp") && strcmp(key, "iso_time")) {
		reply_err(r, 400, 12, "Validation error (key must be iter, timestamp or iso_time)");
		return;
	}
	long long offset = 0;
	if (scroll && *scroll) {
		const char *p = scroll + 9, *dash = strrchr(scroll, '-');
		char num[32];
		if (strncmp(scroll, "lite-raw-", 9) != 0 || !dash || dash <= p ||
		    (size_t)(dash - p) >= sizeof(num)) {
			reply_err(r, 400, 1104, "Invalid scroll id: scroll_id=%s", scroll);
			return;
		}
		memcpy(num, p, (size_t)(dash - p));
		num[dash - p] = '\0';
		if (parse_long(num, 0, 1LL << 40, &offset) != 0 ||
		    parse_long(dash + 1, 1, RAW_MAX_BATCH, &batch) != 0) {
			reply_err(r, 400, 1104, "Invalid scroll id: scroll_id=%s", scroll);
			return;
		}
	}
	if (batch < 1)
		batch = RAW_DEFAULT_BATCH;
	if (batch > RAW_MAX_BATCH)
		batch = RAW_MAX_BATCH;
	int model = json_is_true(json_object_get(q->body, "model_events"));
	json_t *d = readable(q, r, task, model);
	if (!d)
		return;
	json_decref(d);
	json_t *filter = json_pack("[{s:s,s:O}]", "metric", mname, "variants",
	                           json_is_array(json_object_get(metric, "variants"))
	                               ? json_object_get(metric, "variants") : json_null());
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT variant, iter, value, timestamp FROM events WHERE"
	                                     " task = ? AND type = 'training_stats_scalar' AND metric = ?"
	                                     " ORDER BY iter, seq");
	json_t *vars = json_object();
	long long seen = 0, returned = 0;
	if (st) {
		sq_bind_text(st, 1, task);
		sq_bind_text(st, 2, mname);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *variant = sq_col_text(st, 0);
			if (!metric_wanted(filter, mname, variant))
				continue;
			long long n = seen++;
			if (n < offset || returned >= batch)
				continue;
			returned++;
			json_t *vd = json_object_get(vars, variant);
			if (!vd) {
				vd = json_pack("{s:[],s:[]}", key, "y");
				json_object_set_new(vars, variant, vd);
			}
			json_t *x;
			if (!strcmp(key, "iter"))
				x = json_integer(sqlite3_column_int64(st, 1));
			else if (!strcmp(key, "timestamp"))
				x = json_integer(sqlite3_column_int64(st, 3));
			else
				x = sq_iso(sqlite3_column_int64(st, 3) * 1000);
			json_array_append_new(json_object_get(vd, key), x);
			json_array_append_new(json_object_get(vd, "y"), json_real(sqlite3_column_double(st, 2)));
		}
		sqlite3_finalize(st);
	}
	json_decref(filter);
	char *sid = xasprintf("lite-raw-%lld-%lld", offset + returned, batch);
	json_t *data = json_pack("{s:o,s:I,s:s}", "variants", vars, "returned", (json_int_t)returned,
	                         "scroll_id", sid);
	free(sid);
	if (count_total)
		json_object_set_new(data, "total", json_integer(seen));
	reply_data(r, data);
}

const struct endpoint svc_events_multi_endpoints[] = {
	{"events.get_multi_task_metrics", "2.22", 0, h_get_multi_task_metrics},
	{"events.multi_task_scalar_metrics_iter_histogram", "1.0", 0, h_multi_task_scalar_histogram},
	{"events.get_multi_task_plots", "2.1", 0, h_get_multi_task_plots},
	{"events.scalar_metrics_iter_raw", "2.16", 0, h_scalar_metrics_iter_raw},
	{NULL, NULL, 0, NULL},
};
