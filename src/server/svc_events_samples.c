/*
 * svc_events_samples — the plots and debug images views of a task over SQLite:
 *   events.plots / events.debug_images (2.7): pages of whole iterations per task, newest first,
 *     moving earlier or later from the last page with the same scroll_id; refresh rebuilds the
 *     state (new metrics and variants, recycled image names) and starts again from the newest.
 *   events.get_plot_sample / next_plot_sample: the plots of one metric at one iteration, then
 *     the next/previous metric or iteration.
 *   events.get_debug_image_sample / next_debug_image_sample: one image of a variant, then the
 *     next/previous variant or iteration.
 * The scroll_id names a state kept by event_scroll.c; the rules (what a page holds, which
 * variants qualify) live in event_samples.c, this file only asks SQL for the rows.
 *
 * An image variant that recycles its file names (the SDK's max history) is only shown from
 * the iteration after the last reuse of its newest file: older events point at files that now
 * hold newer images.
 */
#include <stdlib.h>
#include <string.h>

#include "server/event_samples.h"
#include "server/event_scroll.h"
#include "server/event_store.h"
#include "server/models.h"
#include "server/server.h"
#include "server/store_sql.h"
#include "server/svc_txn.h"
#include "util.h"

#define T_PLOT "plot"
#define T_IMAGE "training_debug_image"
#define URL_SQL "json_extract(doc, '$.url')"

#define KIND_PAGES "pages"
#define KIND_PLOT_SAMPLE "plot_sample"
#define KIND_IMAGE_SAMPLE "image_sample"

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The caller may read this task (or model with model_events); else r is filled. */
static int
readable(struct req *q, struct reply *r, const char *id)
{
	int model = json_is_true(json_object_get(q->body, "model_events"));
	json_t *d = model ? model_load(q->db, id) : task_load(q->db, id);
	const char *c = sget(d, "company");
	int ok = d && (!c || !*c || strcmp(c, sq_company(q)) == 0);
	json_decref(d);
	if (ok)
		return 0;
	if (model)
		reply_err(r, 400, 201, "Invalid model id: id=%s", id);
	else
		reply_err(r, 400, 101, "Invalid task id: id=%s", id);
	return -1;
}

static void
db_error(struct reply *r)
{
	reply_err(r, 500, 100, "General data error (database query failed)");
}

/* ---- states: what a task has reported ---------------------------------------------------- */

/*
 * Per image variant (of one metric, or all when metric is NULL): the newest iteration, the
 * smallest of its files' newest iterations (before it the files were overwritten) and the
 * last iteration before the newest one that used the newest file. Columns: metric, variant,
 * min_iter, max_iter, last_invalid (NULL when the newest file was never reused).
 */
static sqlite3_stmt *
image_variants_stmt(sqlite3 *db, const char *task, const char *metric)
{
	char *sql = xasprintf(
		"WITH img AS (SELECT metric, variant, iter, " URL_SQL " AS url FROM events"
		"  WHERE task = ?1 AND type = '" T_IMAGE "' AND iter IS NOT NULL"
		"  AND " URL_SQL " IS NOT NULL%s),"
		" u AS (SELECT metric, variant, url, iter,"
		"  MAX(iter) OVER (PARTITION BY metric, variant, url) AS mx FROM img),"
		" per_url AS (SELECT metric, variant, url, mx,"
		"  MAX(CASE WHEN iter < mx THEN iter END) AS prev FROM u GROUP BY metric, variant, url),"
		" ranked AS (SELECT metric, variant, mx, prev,"
		"  MIN(mx) OVER (PARTITION BY metric, variant) AS mn,"
		"  ROW_NUMBER() OVER (PARTITION BY metric, variant ORDER BY mx DESC, url DESC) AS rn"
		"  FROM per_url)"
		" SELECT metric, variant, mn, mx, prev FROM ranked WHERE rn = 1"
		" ORDER BY metric, variant",
		metric ? " AND metric = ?2" : "");
	sqlite3_stmt *st = sq_prepare(db, sql);
	free(sql);
	if (!st)
		return NULL;
	sq_bind_text(st, 1, task);
	if (metric)
		sq_bind_text(st, 2, metric);
	return st;
}

/* The pages state of one task: its metrics and variants that pass `metrics` (null: all). */
static json_t *
page_task_state(sqlite3 *db, const char *task, const char *type, const json_t *metrics)
{
	sqlite3_stmt *st;
	int image = strcmp(type, T_IMAGE) == 0;
	if (image) {
		st = image_variants_stmt(db, task, NULL);
	} else {
		st = sq_prepare(db, "SELECT metric, variant FROM events WHERE task = ? AND type = ?"
		                    " GROUP BY metric, variant ORDER BY metric, variant");
		if (st) {
			sq_bind_text(st, 1, task);
			sq_bind_text(st, 2, type);
		}
	}
	if (!st)
		return NULL;
	json_t *mlist = json_array();
	json_t *cur = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *m = sq_col_text(st, 0), *v = sq_col_text(st, 1);
		if (!samples_wanted(metrics, m, v))
			continue;
		if (!cur || strcmp(sget(cur, "metric"), m) != 0) {
			if (json_array_size(mlist) >= SAMPLES_MAX_METRICS)
				break;
			cur = json_pack("{s:s,s:[]}", "metric", m, "variants");
			json_array_append_new(mlist, cur);
		}
		json_t *vars = json_object_get(cur, "variants");
		if (json_array_size(vars) >= SAMPLES_MAX_VARIANTS)
			continue;
		json_t *vs = json_pack("{s:s}", "variant", v);
		if (image && sqlite3_column_type(st, 4) != SQLITE_NULL)
			json_object_set_new(vs, "last_invalid_iteration",
			                    json_integer(sqlite3_column_int64(st, 4)));
		json_array_append_new(vars, vs);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(mlist);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "task", task, "metrics", mlist);
}

static json_t *
page_tasks_init(sqlite3 *db, const json_t *task_metrics, const char *type)
{
	json_t *tasks = json_array();
	size_t i;
	json_t *tm;
	json_array_foreach(task_metrics, i, tm) {
		json_t *ts = page_task_state(db, sget(tm, "task"), type, json_object_get(tm, "metrics"));
		if (!ts) {
			json_decref(tasks);
			return NULL;
		}
		json_array_append_new(tasks, ts);
	}
	return tasks;
}

/* ---- events.plots / events.debug_images -------------------------------------------------- */

/* The state's metric names as a JSON array text for json_each (caller frees). */
static char *
metric_names(const json_t *task_state)
{
	json_t *names = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(task_state, "metrics"), i, m)
		json_array_append(names, json_object_get(m, "metric"));
	char *s = json_dumps(names, JSON_COMPACT);
	json_decref(names);
	return s;
}

/* The next page of one task (iters iterations at most); updates task_state. NULL on error. */
static json_t *
task_page(sqlite3 *db, json_t *task_state, const char *type, long long iters, int earlier,
          size_t max_events)
{
	if (!json_array_size(json_object_get(task_state, "metrics")))
		return json_array();
	int image = strcmp(type, T_IMAGE) == 0;
	const char *op = NULL;
	int64_t bound = 0;
	int ranged = samples_page_range(task_state, &earlier, &op, &bound);
	char *names = metric_names(task_state);
	if (!names)
		return NULL;
	const char *task = sget(task_state, "task");

	/* the iterations of this page, then every event between the first and the last */
	char *sql = xasprintf("SELECT DISTINCT iter FROM events WHERE task = ?1 AND type = ?2"
	                      " AND iter IS NOT NULL AND metric IN (SELECT value FROM json_each(?3))"
	                      "%s%s%s ORDER BY iter %s LIMIT ?5",
	                      image ? " AND " URL_SQL " IS NOT NULL" : "",
	                      ranged ? " AND iter " : "", ranged ? (*op == '<' ? "< ?4" : "> ?4") : "",
	                      earlier ? "DESC" : "ASC");
	sqlite3_stmt *st = sq_prepare(db, sql);
	free(sql);
	if (!st) {
		free(names);
		return NULL;
	}
	sq_bind_text(st, 1, task);
	sq_bind_text(st, 2, type);
	sq_bind_text(st, 3, names);
	if (ranged)
		sqlite3_bind_int64(st, 4, bound);
	sqlite3_bind_int64(st, 5, iters);
	int64_t lo = 0, hi = 0;
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t it = sqlite3_column_int64(st, 0);
		if (!n || it < lo)
			lo = it;
		if (!n || it > hi)
			hi = it;
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(names);
		return NULL;
	}
	if (!n) {
		free(names);
		return json_array();
	}

	sql = xasprintf("SELECT iter, metric, variant, doc FROM events WHERE task = ?1 AND type = ?2"
	                " AND iter BETWEEN ?4 AND ?5 AND metric IN (SELECT value FROM json_each(?3))"
	                "%s ORDER BY iter DESC, metric, variant, %s",
	                image ? " AND " URL_SQL " IS NOT NULL" : "",
	                image ? URL_SQL " DESC, seq DESC" : "timestamp DESC, seq DESC");
	st = sq_prepare(db, sql);
	free(sql);
	if (!st) {
		free(names);
		return NULL;
	}
	sq_bind_text(st, 1, task);
	sq_bind_text(st, 2, type);
	sq_bind_text(st, 3, names);
	sqlite3_bind_int64(st, 4, lo);
	sqlite3_bind_int64(st, 5, hi);
	struct samples_page pg;
	samples_page_begin(&pg, task_state, max_events);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int take = samples_page_row(&pg, sqlite3_column_int64(st, 0), sq_col_text(st, 1),
		                            sq_col_text(st, 2));
		if (take < 0)
			break;
		if (take)
			samples_page_take(&pg, event_row_json(st, 3, -1));
	}
	sqlite3_finalize(st);
	free(names);
	json_t *its = samples_page_end(&pg, task_state);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(its);
		return NULL;
	}
	return its;
}

static void
metric_pages(struct req *q, struct reply *r, const char *type)
{
	long long iters = 1;
	int earlier = 1, refresh = 0;
	const char *scroll = NULL;
	if (req_int(q, r, "iters", 0, &iters) != 0 ||
	    req_bool(q, r, "navigate_earlier", 0, &earlier) != 0 ||
	    req_bool(q, r, "refresh", 0, &refresh) != 0 ||
	    req_str(q, r, "scroll_id", 0, &scroll) != 0)
		return;
	if (iters < 1) {
		reply_err(r, 400, 12, "Validation error (value is less than minimum 1): field=iters");
		return;
	}
	if (iters > SAMPLES_MAX_ITERS)
		iters = SAMPLES_MAX_ITERS;
	const char *why = NULL;
	json_t *tm = samples_task_metrics(json_object_get(q->body, "metrics"), &why);
	if (!tm) {
		reply_err(r, 400, 12, "Validation error (invalid field): field=%s", why);
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(tm, i, e) {
		if (readable(q, r, sget(e, "task")) != 0) {
			json_decref(tm);
			return;
		}
	}
	const char *company = sq_company(q);
	char id[65];
	json_t *state = scroll && *scroll ? event_scroll_load(q->db, KIND_PAGES, company, scroll)
	                                  : NULL;
	if (state) {
		snprintf(id, sizeof id, "%s", scroll);
	} else {
		gen_hex_id(id);
		state = json_object();
	}
	if (!json_is_array(json_object_get(state, "tasks")) || refresh) {
		json_t *tasks = page_tasks_init(q->db, tm, type);
		if (!tasks) {
			json_decref(tm);
			json_decref(state);
			db_error(r);
			return;
		}
		json_object_set_new(state, "tasks", tasks);
	}
	json_decref(tm);

	json_t *out = json_array();
	size_t budget = SAMPLES_MAX_PAGE_EVENTS;
	json_array_foreach(json_object_get(state, "tasks"), i, e) {
		json_t *its = task_page(q->db, e, type, iters, earlier, budget);
		if (!its) {
			json_decref(out);
			json_decref(state);
			db_error(r);
			return;
		}
		size_t k;
		json_t *it;
		json_array_foreach(its, k, it) {
			size_t c = json_array_size(json_object_get(it, "events"));
			budget = c < budget ? budget - c : 0;
		}
		json_array_append_new(out, json_pack("{s:s,s:o}", "task", sget(e, "task"),
		                                     "iterations", its));
	}
	if (event_scroll_save(q->db, KIND_PAGES, company, id, state) != 0) {
		json_decref(out);
		json_decref(state);
		db_error(r);
		return;
	}
	json_decref(state);
	reply_data(r, json_pack("{s:s,s:o}", "scroll_id", id, "metrics", out));
}

static void
h_plots(struct req *q, struct reply *r)
{
	metric_pages(q, r, T_PLOT);
}

static void
h_debug_images(struct req *q, struct reply *r)
{
	metric_pages(q, r, T_IMAGE);
}

/* ---- the sample calls: common parts -------------------------------------------------------- */

struct sample_req {
	const char *task, *metric, *variant, *scroll;
	long long iteration;
	int has_iteration, refresh, current_metric;
};

static int
sample_req_parse(struct req *q, struct reply *r, struct sample_req *s, int with_variant)
{
	memset(s, 0, sizeof *s);
	s->current_metric = 1;
	if (req_str(q, r, "task", 1, &s->task) != 0 || req_str(q, r, "metric", 1, &s->metric) != 0 ||
	    (with_variant && req_str(q, r, "variant", 1, &s->variant) != 0) ||
	    req_int(q, r, "iteration", 0, &s->iteration) != 0 ||
	    req_bool(q, r, "refresh", 0, &s->refresh) != 0 ||
	    req_bool(q, r, "navigate_current_metric", 0, &s->current_metric) != 0 ||
	    req_str(q, r, "scroll_id", 0, &s->scroll) != 0)
		return -1;
	json_t *it = json_object_get(q->body, "iteration");
	s->has_iteration = it && !json_is_null(it);
	return readable(q, r, s->task);
}

/*
 * The state a get_*_sample call continues (scroll_id) or a new one (*fresh set, id filled).
 * A known state must be for the same task, the same navigation mode and, when navigating one
 * metric, the same metric. NULL with r filled.
 */
static json_t *
sample_state(struct req *q, struct reply *r, const char *kind, const struct sample_req *s,
             char id[65], int *fresh)
{
	json_t *st = s->scroll && *s->scroll ?
		event_scroll_load(q->db, kind, sq_company(q), s->scroll) : NULL;
	*fresh = !st;
	if (!st) {
		gen_hex_id(id);
		return json_pack("{s:s,s:s,s:b}", "task", s->task, "metric", s->metric,
		                 "navigate_current_metric", s->current_metric);
	}
	snprintf(id, 65, "%s", s->scroll);
	int cur = json_is_true(json_object_get(st, "navigate_current_metric"));
	const char *m = sget(st, "metric");
	if (strcmp(sq_str(json_object_get(st, "task")), s->task) != 0 || cur != s->current_metric ||
	    (cur && (!m || strcmp(m, s->metric) != 0))) {
		json_decref(st);
		reply_err(r, 400, 1104, "Invalid scroll id: Task and metric stored in the state do"
		          " not match the passed ones, scroll_id=%s", id);
		return NULL;
	}
	return st;
}

/* next_*_sample: the state of scroll_id, which must be for the task. NULL with r filled. */
static json_t *
next_state(struct req *q, struct reply *r, const char *kind, const char **task,
           const char **scroll, int *earlier, int *next_iter)
{
	*earlier = 1;
	*next_iter = 0;
	if (req_str(q, r, "task", 1, task) != 0 || req_str(q, r, "scroll_id", 0, scroll) != 0 ||
	    req_bool(q, r, "navigate_earlier", 0, earlier) != 0 ||
	    req_bool(q, r, "next_iteration", 0, next_iter) != 0 || readable(q, r, *task) != 0)
		return NULL;
	json_t *st = *scroll ? event_scroll_load(q->db, kind, sq_company(q), *scroll) : NULL;
	if (!st || strcmp(sq_str(json_object_get(st, "task")), *task) != 0) {
		json_decref(st);
		reply_err(r, 400, 1104, "Invalid scroll id: scroll_id=%s", *scroll ? *scroll : "");
		return NULL;
	}
	return st;
}

/* Reply {scroll_id, <key>: val, min_iteration, max_iteration} with the range of `range`. */
static void
sample_reply(struct reply *r, const char *id, const char *key, json_t *val, const json_t *range)
{
	json_t *mn = json_object_get(range, "min_iteration");
	json_t *mx = json_object_get(range, "max_iteration");
	reply_data(r, json_pack("{s:s,s:o,s:O,s:O}", "scroll_id", id, key, val, "min_iteration",
	                        mn ? mn : json_null(), "max_iteration", mx ? mx : json_null()));
}

static int
save_or_fail(struct req *q, struct reply *r, const char *kind, const char *id, json_t *state)
{
	if (event_scroll_save(q->db, kind, sq_company(q), id, state) == 0)
		return 0;
	db_error(r);
	return -1;
}

/* Bind the named parameters a statement has (:task, :metric, :variant, :iter, :min). */
struct nbind {
	const char *task, *metric, *variant;
	int64_t iter, min;
};

static void
bind_named(sqlite3_stmt *st, const struct nbind *b)
{
	int i;
	if ((i = sqlite3_bind_parameter_index(st, ":task")) > 0)
		sq_bind_text(st, i, b->task);
	if ((i = sqlite3_bind_parameter_index(st, ":metric")) > 0)
		sq_bind_text(st, i, b->metric);
	if ((i = sqlite3_bind_parameter_index(st, ":variant")) > 0)
		sq_bind_text(st, i, b->variant);
	if ((i = sqlite3_bind_parameter_index(st, ":iter")) > 0)
		sqlite3_bind_int64(st, i, b->iter);
	if ((i = sqlite3_bind_parameter_index(st, ":min")) > 0)
		sqlite3_bind_int64(st, i, b->min);
}

/* Point the state at the sample now shown (its metric, variant, iteration). */
static void
state_follow(json_t *state, const json_t *ev, int with_variant)
{
	json_object_set(state, "metric", json_object_get(ev, "metric"));
	if (with_variant)
		json_object_set(state, "variant", json_object_get(ev, "variant"));
	json_object_set(state, "iteration", json_object_get(ev, "iter"));
}

/* ---- plot samples -------------------------------------------------------------------------- */

/* metric_states of a plot sample state: per metric (only the state's one when navigating a
 * single metric) the first and last iteration with plots. 0 or -1. */
static int
plot_metric_states(sqlite3 *db, json_t *state)
{
	int one = json_is_true(json_object_get(state, "navigate_current_metric"));
	sqlite3_stmt *st = sq_prepare(db, one ?
		"SELECT metric, MIN(iter), MAX(iter) FROM events WHERE task = ? AND type = '" T_PLOT "'"
		" AND iter IS NOT NULL AND metric = ? GROUP BY metric ORDER BY metric" :
		"SELECT metric, MIN(iter), MAX(iter) FROM events WHERE task = ? AND type = '" T_PLOT "'"
		" AND iter IS NOT NULL GROUP BY metric ORDER BY metric LIMIT 5000");
	if (!st)
		return -1;
	sq_bind_text(st, 1, sget(state, "task"));
	if (one)
		sq_bind_text(st, 2, sget(state, "metric"));
	json_t *ms = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(ms, json_pack("{s:s,s:I,s:I}", "name", sq_col_text(st, 0),
		                      "min_iteration", (json_int_t)sqlite3_column_int64(st, 1),
		                      "max_iteration", (json_int_t)sqlite3_column_int64(st, 2)));
	sqlite3_finalize(st);
	json_object_set_new(state, "metric_states", ms);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The plots of the first (iteration, metric) under cond, newest first when desc: every variant
 * of that metric at that iteration, by variant name. *out an array (maybe empty); 0 or -1. */
static int
plot_events(sqlite3 *db, const char *cond, const struct nbind *b, int desc, json_t **out)
{
	*out = NULL;
	const char *d = desc ? "DESC" : "ASC";
	char *sql = xasprintf("SELECT iter, metric FROM events WHERE task = :task AND type = '"
	                      T_PLOT "' AND iter IS NOT NULL AND (%s) ORDER BY iter %s, metric %s"
	                      " LIMIT 1", cond, d, d);
	sqlite3_stmt *st = sq_prepare(db, sql);
	free(sql);
	if (!st)
		return -1;
	bind_named(st, b);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
		*out = json_array();
		return 0;
	}
	struct nbind at = *b;
	at.iter = sqlite3_column_int64(st, 0);
	char *metric = xstrdup(sq_col_text(st, 1));
	sqlite3_finalize(st);
	at.metric = metric;
	st = sq_prepare(db, "SELECT doc FROM events WHERE task = :task AND type = '" T_PLOT "'"
	                    " AND iter = :iter AND metric = :metric ORDER BY variant, seq LIMIT "
	                    "100");
	if (!st) {
		free(metric);
		return -1;
	}
	bind_named(st, &at);
	json_t *evs = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	       json_array_size(evs) < SAMPLES_MAX_PLOT_EVENTS)
		json_array_append_new(evs, event_row_json(st, 0, -1));
	sqlite3_finalize(st);
	free(metric);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(evs);
		return -1;
	}
	*out = evs;
	return 0;
}

static void
h_get_plot_sample(struct req *q, struct reply *r)
{
	struct sample_req s;
	if (sample_req_parse(q, r, &s, 0) != 0)
		return;
	char id[65];
	int fresh;
	json_t *state = sample_state(q, r, KIND_PLOT_SAMPLE, &s, id, &fresh);
	if (!state)
		return;
	json_t *evs = NULL;
	if ((fresh || s.refresh) && plot_metric_states(q->db, state) != 0)
		goto fail;
	const json_t *ms = samples_find_state(json_object_get(state, "metric_states"), s.metric,
	                                      NULL);
	if (ms) {
		struct nbind b = {.task = s.task, .metric = s.metric, .iter = s.iteration};
		if (plot_events(q->db, s.has_iteration ? "metric = :metric AND iter <= :iter" :
		                "metric = :metric", &b, 1, &evs) != 0)
			goto fail;
		if (json_array_size(evs)) {
			state_follow(state, json_array_get(evs, 0), 0);
			ms = samples_find_state(json_object_get(state, "metric_states"),
			                        sget(state, "metric"), NULL);
		}
	}
	json_t *range = json_deep_copy(ms);
	if (save_or_fail(q, r, KIND_PLOT_SAMPLE, id, state) == 0)
		sample_reply(r, id, "events", evs ? evs : json_array(), range);
	else
		json_decref(evs);
	json_decref(range);
	json_decref(state);
	return;
fail:
	json_decref(evs);
	json_decref(state);
	db_error(r);
}

static void
h_next_plot_sample(struct req *q, struct reply *r)
{
	const char *task, *scroll = NULL;
	int earlier, next_iter;
	json_t *state = next_state(q, r, KIND_PLOT_SAMPLE, &task, &scroll, &earlier, &next_iter);
	if (!state)
		return;
	int one = json_is_true(json_object_get(state, "navigate_current_metric"));
	json_t *itv = json_object_get(state, "iteration");
	const char *op = earlier ? "<" : ">";
	char *cond;
	if (!json_is_integer(itv))
		cond = xstrdup(one ? "metric = :metric" : "1");
	else if (next_iter || one)
		cond = xasprintf("%siter %s :iter", one ? "metric = :metric AND " : "", op);
	else
		cond = xasprintf("(iter = :iter AND metric %s :metric) OR iter %s :iter", op, op);
	struct nbind b = {.task = task, .metric = sget(state, "metric"),
	                  .iter = json_integer_value(itv)};
	json_t *evs;
	int rc = plot_events(q->db, cond, &b, earlier, &evs);
	free(cond);
	if (rc != 0) {
		json_decref(state);
		db_error(r);
		return;
	}
	if (!json_array_size(evs)) {
		sample_reply(r, scroll, "events", evs, NULL);
		json_decref(state);
		return;
	}
	state_follow(state, json_array_get(evs, 0), 0);
	json_t *range = json_deep_copy(samples_find_state(json_object_get(state, "metric_states"),
	                                                  sget(state, "metric"), NULL));
	if (save_or_fail(q, r, KIND_PLOT_SAMPLE, scroll, state) == 0)
		sample_reply(r, scroll, "events", evs, range);
	else
		json_decref(evs);
	json_decref(range);
	json_decref(state);
}

/* ---- debug image samples ------------------------------------------------------------------- */

/* variant_states of an image sample state (the state's metric only when navigating one). */
static int
image_variant_states(sqlite3 *db, json_t *state)
{
	int one = json_is_true(json_object_get(state, "navigate_current_metric"));
	sqlite3_stmt *st = image_variants_stmt(db, sget(state, "task"),
	                                       one ? sget(state, "metric") : NULL);
	if (!st)
		return -1;
	json_t *vs = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(vs, json_pack("{s:s,s:s,s:I,s:I}", "metric", sq_col_text(st, 0),
		                      "name", sq_col_text(st, 1),
		                      "min_iteration", (json_int_t)sqlite3_column_int64(st, 2),
		                      "max_iteration", (json_int_t)sqlite3_column_int64(st, 3)));
	sqlite3_finalize(st);
	json_object_set_new(state, "variant_states", vs);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The first image event of sql (bound from b) into *ev (NULL when none). 0 or -1. */
static int
image_one(sqlite3 *db, const char *sql, const struct nbind *b, json_t **ev)
{
	*ev = NULL;
	sqlite3_stmt *st = sq_prepare(db, sql);
	if (!st)
		return -1;
	bind_named(st, b);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ev = event_row_json(st, 0, -1);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The image of the next/previous variant at the state's iteration (same_iteration) or of the
 * first/last variant of the next/previous iteration: one scan in iteration order (the
 * events_by_iter index), stopped at the first iteration holding a candidate. */
static int
image_next(sqlite3 *db, const json_t *state, int earlier, int same_iteration, json_t **ev)
{
	*ev = NULL;
	json_t *cands = samples_image_candidates(state, earlier, same_iteration);
	if (!json_array_size(cands)) {
		json_decref(cands);
		return 0;
	}
	json_t *itv = json_object_get(state, "iteration");
	const char *where = same_iteration ? "iter = :iter" :
	                    !json_is_integer(itv) ? "1" : earlier ? "iter < :iter" : "iter > :iter";
	char *sql = xasprintf("SELECT iter, metric, variant, " URL_SQL ", doc FROM events"
	                      " WHERE task = :task AND type = '" T_IMAGE "' AND %s"
	                      " AND " URL_SQL " IS NOT NULL ORDER BY iter %s",
	                      where, earlier ? "DESC" : "ASC");
	sqlite3_stmt *st = sq_prepare(db, sql);
	free(sql);
	if (!st) {
		json_decref(cands);
		return -1;
	}
	struct nbind b = {.task = sget(state, "task"), .iter = json_integer_value(itv)};
	bind_named(st, &b);
	struct samples_pick pick;
	samples_pick_begin(&pick, cands, earlier);
	json_decref(cands);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (samples_pick_row(&pick, sqlite3_column_int64(st, 0), sq_col_text(st, 1),
		                     sq_col_text(st, 2), sq_col_text(st, 3), sq_col_text(st, 4)))
			break;
	}
	sqlite3_finalize(st);
	char *doc = samples_pick_end(&pick);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(doc);
		return -1;
	}
	if (doc) {
		*ev = json_loads(doc, 0, NULL);
		free(doc);
		if (!*ev)
			return -1;
	}
	return 0;
}

static void
h_get_debug_image_sample(struct req *q, struct reply *r)
{
	struct sample_req s;
	if (sample_req_parse(q, r, &s, 1) != 0)
		return;
	char id[65];
	int fresh;
	json_t *state = sample_state(q, r, KIND_IMAGE_SAMPLE, &s, id, &fresh);
	if (!state)
		return;
	json_t *ev = NULL;
	if ((fresh || s.refresh) && image_variant_states(q->db, state) != 0)
		goto fail;
	const json_t *vs = samples_find_state(json_object_get(state, "variant_states"), s.metric,
	                                      s.variant);
	if (vs) {
		struct nbind b = {.task = s.task, .metric = s.metric, .variant = s.variant,
		                  .iter = s.iteration,
		                  .min = json_integer_value(json_object_get(vs, "min_iteration"))};
		char *sql = xasprintf("SELECT doc FROM events WHERE task = :task AND type = '" T_IMAGE
		                      "' AND metric = :metric AND variant = :variant"
		                      " AND " URL_SQL " IS NOT NULL AND iter >= :min%s"
		                      " ORDER BY iter DESC, " URL_SQL " DESC, seq DESC LIMIT 1",
		                      s.has_iteration ? " AND iter <= :iter" : "");
		int rc = image_one(q->db, sql, &b, &ev);
		free(sql);
		if (rc != 0)
			goto fail;
		if (ev) {
			state_follow(state, ev, 1);
			vs = samples_find_state(json_object_get(state, "variant_states"),
			                        sget(state, "metric"), sget(state, "variant"));
		}
	}
	json_t *range = json_deep_copy(vs);
	if (save_or_fail(q, r, KIND_IMAGE_SAMPLE, id, state) == 0)
		sample_reply(r, id, "event", ev ? ev : json_null(), range);
	else
		json_decref(ev);
	json_decref(range);
	json_decref(state);
	return;
fail:
	json_decref(ev);
	json_decref(state);
	db_error(r);
}

static void
h_next_debug_image_sample(struct req *q, struct reply *r)
{
	const char *task, *scroll = NULL;
	int earlier, next_iter;
	json_t *state = next_state(q, r, KIND_IMAGE_SAMPLE, &task, &scroll, &earlier, &next_iter);
	if (!state)
		return;
	json_t *ev = NULL;
	int rc = next_iter ? 0 : image_next(q->db, state, earlier, 1, &ev);
	if (rc == 0 && !ev)
		rc = image_next(q->db, state, earlier, 0, &ev);
	if (rc != 0) {
		json_decref(state);
		db_error(r);
		return;
	}
	if (!ev) {
		sample_reply(r, scroll, "event", json_null(), NULL);
		json_decref(state);
		return;
	}
	state_follow(state, ev, 1);
	json_t *range = json_deep_copy(samples_find_state(json_object_get(state, "variant_states"),
	                                                  sget(state, "metric"),
	                                                  sget(state, "variant")));
	if (save_or_fail(q, r, KIND_IMAGE_SAMPLE, scroll, state) == 0)
		sample_reply(r, scroll, "event", ev, range);
	else
		json_decref(ev);
	json_decref(range);
	json_decref(state);
}

const struct endpoint svc_events_samples_endpoints[] = {
	{"events.debug_images", "2.7", 0, h_debug_images},
	{"events.plots", "2.20", 0, h_plots},
	{"events.get_debug_image_sample", "2.12", 0, h_get_debug_image_sample},
	{"events.next_debug_image_sample", "2.12", 0, h_next_debug_image_sample},
	{"events.get_plot_sample", "2.20", 0, h_get_plot_sample},
	{"events.next_plot_sample", "2.20", 0, h_next_plot_sample},
	{NULL, NULL, 0, NULL},
};
