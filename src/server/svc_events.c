/*
 * svc_events — events.* of clearml-server-lite (spec clearml-api §2.6, §6): add / add_batch
 * (json-lines; invalid events skipped and counted; one transaction, one prepared statement and
 * one task update per task per batch), the task log in the 2.9 paging form (search_after on the
 * timestamp plus every event of the last timestamp, so nothing is lost across pages) and the
 * 1.7 scroll form, get_task_events with an opaque cursor, the scalar listings the SDK reads, and
 * deletion. Storage: event_store.c.
 */
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "server/event_store.h"
#include "server/models.h"
#include "server/server.h"
#include "server/store_sql.h"
#include "server/svc_txn.h"
#include "util.h"

#define SINGLE_VALUE_ITER (-2147483648LL)

static void
md5_hex(const char *s, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_Digest(s, strlen(s), md, &n, EVP_md5(), NULL) != 1)
		n = 0;
	for (unsigned int i = 0; i < n && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * (n < 16 ? n : 16)] = '\0';
}

/* ---- ingest ---------------------------------------------------------------------------- */

struct ev_task {
	char *id;
	json_t *doc;       /* NULL when the task cannot take events */
	const char *why;   /* reason when doc is NULL */
	int added;
	int has_iter;
	int64_t max_iter;
	int is_model;      /* model_event: doc is a model document */
};

struct ev_tasks {
	struct ev_task *v;
	size_t n, cap;
	size_t last;       /* batches are nearly always one task: check it first */
};

static struct ev_task *
ev_task_get(struct ev_tasks *ts, struct req *q, const char *task_id, int allow_locked,
            int model_event)
{
	if (ts->n && strcmp(ts->v[ts->last].id, task_id) == 0)
		return &ts->v[ts->last];
	for (size_t i = 0; i < ts->n; i++) {
		if (strcmp(ts->v[i].id, task_id) == 0) {
			ts->last = i;
			return &ts->v[i];
		}
	}
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 4;
		ts->v = xreallocarray(ts->v, ts->cap, sizeof *ts->v);
	}
	struct ev_task *t = &ts->v[ts->n];
	memset(t, 0, sizeof *t);
	t->id = xstrdup(task_id);
	t->is_model = model_event;
	t->doc = model_event ? model_load(q->db, task_id) : task_load(q->db, task_id);
	if (!t->doc) {
		t->why = model_event ? "Invalid model id" : "Invalid task id";
	} else if (model_event) {
		const char *c = json_string_value(json_object_get(t->doc, "company"));
		if (c && strcmp(c, sq_company(q)) != 0) {
			t->why = "Invalid model id";
			json_decref(t->doc);
			t->doc = NULL;
		}
	} else {
		const char *c = json_string_value(json_object_get(t->doc, "company"));
		const char *st = json_string_value(json_object_get(t->doc, "status"));
		if (c && strcmp(c, sq_company(q)) != 0) {
			t->why = "Invalid task id";
		} else if (!allow_locked && st && (strcmp(st, "published") == 0 ||
		                                   strcmp(st, "publishing") == 0)) {
			t->why = "Task is published or publishing";
		}
		if (t->why) {
			json_decref(t->doc);
			t->doc = NULL;
		}
	}
	ts->last = ts->n++;
	return t;
}

static void
ev_tasks_free(struct ev_tasks *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		free(ts->v[i].id);
		json_decref(ts->v[i].doc);
	}
	free(ts->v);
}

/* last_metrics[md5(metric)][md5(variant)] as the real server keeps it (spec §3.1). */
static void
update_last_metrics(json_t *doc, const json_t *ev)
{
	json_t *val = json_object_get(ev, "value");
	if (!json_is_number(val))
		return;
	double v = json_number_value(val);
	const char *metric = json_string_value(json_object_get(ev, "metric"));
	const char *variant = json_string_value(json_object_get(ev, "variant"));
	json_t *itv = json_object_get(ev, "iter");
	json_int_t it = json_is_integer(itv) ? json_integer_value(itv) : 0;
	char mh[33], vh[33];
	md5_hex(metric ? metric : "", mh);
	md5_hex(variant ? variant : "", vh);
	json_t *lm = json_object_get(doc, "last_metrics");
	if (!json_is_object(lm)) {
		lm = json_object();
		json_object_set_new(doc, "last_metrics", lm);
	}
	json_t *mm = json_object_get(lm, mh);
	if (!json_is_object(mm)) {
		mm = json_object();
		json_object_set_new(lm, mh, mm);
	}
	json_t *e = json_object_get(mm, vh);
	if (!json_is_object(e)) {
		e = json_pack("{s:s,s:s,s:I}", "metric", metric ? metric : "", "variant",
		              variant ? variant : "", "count", (json_int_t)0);
		json_object_set_new(mm, vh, e);
	}
	json_int_t count = json_integer_value(json_object_get(e, "count"));
	json_t *minv = json_object_get(e, "min_value"), *maxv = json_object_get(e, "max_value");
	if (count == 0 || !json_is_number(minv) || v < json_number_value(minv)) {
		json_object_set_new(e, "min_value", json_real(v));
		json_object_set_new(e, "min_value_iteration", json_integer(it));
	}
	if (count == 0 || !json_is_number(maxv) || v > json_number_value(maxv)) {
		json_object_set_new(e, "max_value", json_real(v));
		json_object_set_new(e, "max_value_iteration", json_integer(it));
	}
	if (count == 0) {
		json_object_set_new(e, "first_value", json_real(v));
		json_object_set_new(e, "first_value_iteration", json_integer(it));
	}
	json_t *mean = json_object_get(e, "mean_value");
	double m = json_is_number(mean) && count > 0 ? json_number_value(mean) : 0.0;
	m = (m * (double)count + v) / (double)(count + 1);
	json_object_set_new(e, "mean_value", json_real(round(m * 100.0) / 100.0));
	json_object_set_new(e, "count", json_integer(count + 1));
	json_object_set_new(e, "value", json_real(v));
	json_t *xl = json_object_get(ev, "x_axis_label");
	if (json_is_string(xl))
		json_object_set(e, "x_axis_label", xl);
}

static void
count_error(json_t *info, int *errors, const char *why)
{
	json_t *c = json_object_get(info, why);
	json_object_set_new(info, why, json_integer(c ? json_integer_value(c) + 1 : 1));
	(*errors)++;
}

static void
add_events(struct req *q, struct reply *r, json_t *events, int allow_locked)
{
	size_t n = json_array_size(events);
	if (n == 0) {
		reply_err(r, 400, 17, "Batch request contains no items");
		return;
	}
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "Database error (could not start a transaction)");
		return;
	}
	struct event_insert ins;
	if (event_insert_begin(q->db, &ins) != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "Database error (events)");
		return;
	}
	int64_t now = now_ms();
	struct ev_tasks ts = {0};
	json_t *info = json_object();
	int added = 0, errors = 0, failed = 0;
	size_t i;
	json_t *ev;
	json_array_foreach(events, i, ev) {
		char *evkey = NULL;
		const char *why = NULL;
		if (event_normalize(ev, q->worker_header, now, &evkey, &why) != 0) {
			count_error(info, &errors, why);
			continue;
		}
		int model_event = json_is_true(json_object_get(ev, "model_event"));
		if (model_event && !strcmp(json_string_value(json_object_get(ev, "type")), "log")) {
			count_error(info, &errors, "Task log events are not supported for models");
			free(evkey);
			continue;
		}
		struct ev_task *t = ev_task_get(&ts, q, json_string_value(json_object_get(ev, "task")),
		                                allow_locked, model_event);
		if (!t->doc) {
			count_error(info, &errors, t->why);
			free(evkey);
			continue;
		}
		/* The log text is stored as received, outside the JSON document. */
		json_t *msg = json_object_get(ev, "msg");
		if (json_is_string(msg)) {
			json_incref(msg);
			json_object_del(ev, "msg");
		} else {
			msg = NULL;
		}
		int rc = event_insert(&ins, sq_company(q), ev, msg ? json_string_value(msg) : NULL,
		                      msg ? json_string_length(msg) : 0, evkey);
		if (msg) {
			json_object_set_new(ev, "msg", msg);
		}
		free(evkey);
		if (rc != 0) {
			failed = 1;
			break;
		}
		added++;
		t->added++;
		json_t *it = json_object_get(ev, "iter");
		if (json_is_integer(it) && json_integer_value(it) != SINGLE_VALUE_ITER) {
			int64_t v = json_integer_value(it);
			if (!t->has_iter || v > t->max_iter)
				t->max_iter = v;
			t->has_iter = 1;
		}
		if (strcmp(json_string_value(json_object_get(ev, "type")), "training_stats_scalar") == 0)
			update_last_metrics(t->doc, ev);
	}
	event_insert_end(&ins);

	/* One task update per task per batch. */
	char iso[64];
	iso_time(now * 1000, iso, sizeof iso);
	for (size_t k = 0; !failed && k < ts.n; k++) {
		struct ev_task *t = &ts.v[k];
		if (!t->doc || !t->added)
			continue;
		if (t->has_iter) {
			json_t *cur = json_object_get(t->doc, "last_iteration");
			if (!json_is_integer(cur) || json_integer_value(cur) < t->max_iter)
				json_object_set_new(t->doc, "last_iteration", json_integer(t->max_iter));
		}
		json_object_set_new(t->doc, "last_update", json_string(iso));
		json_object_set_new(t->doc, "last_change", json_string(iso));
		if ((t->is_model ? model_save(q->db, t->doc) : task_save(q->db, t->doc)) != 0)
			failed = 1;
	}
	ev_tasks_free(&ts);
	if (failed) {
		db_rollback(q->db);
		json_decref(info);
		reply_err(r, 500, 100, "Database error (storing events): %s", sqlite3_errmsg(q->db));
		return;
	}
	if (added == 0) {
		db_rollback(q->db);
		char *s = sq_json_text(info);
		reply_err(r, 400, 131, "Events not added: errors=%d, errors_info=%s", errors, s);
		free(s);
		json_decref(info);
		return;
	}
	if (db_commit(q->db) != 0) {
		json_decref(info);
		reply_err(r, 500, 100, "Database error (commit failed)");
		return;
	}
	reply_data(r, json_pack("{s:i,s:i,s:o}", "added", added, "errors", errors,
	                        "errors_info", info));
}

static void
h_add(struct req *q, struct reply *r)
{
	int allow_locked = 0;
	if (req_bool(q, r, "allow_locked", 0, &allow_locked) != 0)
		return;
	json_t *one = json_array();
	json_array_append(one, q->body);
	add_events(q, r, one, allow_locked);
	json_decref(one);
}

static void
h_add_batch(struct req *q, struct reply *r)
{
	if (q->batch) {
		add_events(q, r, q->batch, 0);
		return;
	}
	/* A plain JSON object is a batch of one event; an empty body is an empty batch. */
	json_t *one = json_array();
	if (json_object_size(q->body) > 0)
		json_array_append(one, q->body);
	add_events(q, r, one, 0);
	json_decref(one);
}

/* ---- reads ------------------------------------------------------------------------------ */

/* The task must exist and be visible to the caller (public tasks too). */
static json_t *
visible_task(struct req *q, struct reply *r, const char *task_id)
{
	int model = json_is_true(json_object_get(q->body, "model_events"));
	json_t *t = model ? model_load(q->db, task_id) : task_load(q->db, task_id);
	const char *c = t ? json_string_value(json_object_get(t, "company")) : NULL;
	if (!t || (c && *c && strcmp(c, sq_company(q)) != 0)) {
		json_decref(t);
		if (model)
			reply_err(r, 400, 201, "Invalid model id: id=%s", task_id);
		else
			reply_err(r, 400, 101, "Invalid task id: id=%s", task_id);
		return NULL;
	}
	return t;
}

static int
batch_size_of(struct req *q, struct reply *r, long long dflt, long long max, long long *out)
{
	*out = dflt;
	if (req_int(q, r, "batch_size", 0, out) != 0)
		return -1;
	if (*out <= 0)
		*out = dflt;
	if (*out > max)
		*out = max;
	return 0;
}

/* Cursor "<prefix><a>_<b>" → 0, or -1 when it is not one of ours. */
static int
parse_cursor(const char *s, const char *prefix, int64_t *a, int64_t *b)
{
	if (!s || !str_starts_with(s, prefix))
		return -1;
	s += strlen(prefix);
	const char *us = strchr(s, '_');
	if (!us || us == s)
		return -1;
	char head[32];
	size_t hl = (size_t)(us - s);
	if (hl >= sizeof head)
		return -1;
	memcpy(head, s, hl);
	head[hl] = '\0';
	long long x, y;
	if (parse_long(head, INT64_MIN, INT64_MAX, &x) != 0 ||
	    parse_long(us + 1, INT64_MIN, INT64_MAX, &y) != 0)
		return -1;
	*a = x;
	*b = y;
	return 0;
}

static void
reverse_array(json_t *arr)
{
	size_t n = json_array_size(arr);
	for (size_t i = 0; i < n / 2; i++) {
		json_t *a = json_incref(json_array_get(arr, i));
		json_t *b = json_incref(json_array_get(arr, n - 1 - i));
		json_array_set_new(arr, i, b);
		json_array_set_new(arr, n - 1 - i, a);
	}
}

/* Append log rows of a statement (columns: seq, timestamp, doc, msg) to out; remembers the
 * last row's timestamp and seq. Returns rows appended. */
static long long
collect_log(sqlite3_stmt *st, json_t *out, int64_t *last_ts, int64_t *last_seq)
{
	long long n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		*last_seq = sqlite3_column_int64(st, 0);
		*last_ts = sqlite3_column_int64(st, 1);
		json_array_append_new(out, event_row_json(st, 2, 3));
		n++;
	}
	return n;
}

/* SQL for a metrics filter — items "metric" or {metric, variants[]} — appended to b as
 * " AND [NOT] ((metric = ? [AND variant IN (?, …)]) OR …)"; nothing for an empty filter. Bind
 * the values with metric_filter_bind() in the same order. */
static void
metric_filter_sql(struct buf *b, const json_t *filter, int negate)
{
	if (!json_is_array(filter) || json_array_size(filter) == 0)
		return;
	buf_puts(b, negate ? " AND NOT (" : " AND (");
	size_t i, k, n = 0;
	json_t *f, *v;
	json_array_foreach(filter, i, f) {
		const char *m = json_is_string(f) ? json_string_value(f)
		                                  : json_string_value(json_object_get(f, "metric"));
		if (!m)
			continue;
		buf_puts(b, n++ ? " OR (metric = ?" : "(metric = ?");
		json_t *vs = json_object_get(f, "variants");
		size_t nv = 0;
		json_array_foreach(vs, k, v) {
			if (json_is_string(v))
				buf_puts(b, nv++ ? ", ?" : " AND variant IN (?");
		}
		buf_puts(b, nv ? "))" : ")");
	}
	if (n == 0)
		buf_puts(b, "1");
	buf_puts(b, ")");
}

static int
metric_filter_bind(sqlite3_stmt *st, int idx, const json_t *filter)
{
	size_t i, k;
	json_t *f, *v;
	json_array_foreach(filter, i, f) {
		const char *m = json_is_string(f) ? json_string_value(f)
		                                  : json_string_value(json_object_get(f, "metric"));
		if (!m)
			continue;
		sq_bind_text(st, idx++, m);
		json_array_foreach(json_object_get(f, "variants"), k, v) {
			if (json_is_string(v))
				sq_bind_text(st, idx++, json_string_value(v));
		}
	}
	return idx;
}

/* Run one log query: task, filter, then the optional timestamp/seq bounds and limit. */
static long long
log_query(struct req *q, const char *task, const json_t *filter, const char *where,
          const char *order_limit, int nbind, const int64_t *binds, json_t *out,
          int64_t *last_ts, int64_t *last_seq)
{
	struct buf sql;
	buf_init(&sql, 1u << 16);
	buf_puts(&sql, "SELECT seq, timestamp, doc, msg FROM events WHERE task = ? AND type = 'log'");
	metric_filter_sql(&sql, filter, 0);
	buf_puts(&sql, where);
	buf_puts(&sql, order_limit);
	sqlite3_stmt *st = sq_prepare(q->db, sql.data);
	buf_free(&sql);
	if (!st)
		return -1;
	sq_bind_text(st, 1, task);
	int idx = metric_filter_bind(st, 2, filter);
	for (int i = 0; i < nbind; i++)
		sqlite3_bind_int64(st, idx++, binds[i]);
	long long n = collect_log(st, out, last_ts, last_seq);
	sqlite3_finalize(st);
	return n;
}

static long long
log_total(struct req *q, const char *task, const json_t *filter)
{
	struct buf sql;
	buf_init(&sql, 1u << 16);
	buf_puts(&sql, "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE task = ? AND type = 'log'");
	metric_filter_sql(&sql, filter, 0);
	buf_puts(&sql, " LIMIT ?)");
	sqlite3_stmt *st = sq_prepare(q->db, sql.data);
	buf_free(&sql);
	if (!st)
		return 0;
	sq_bind_text(st, 1, task);
	int idx = metric_filter_bind(st, 2, filter);
	sqlite3_bind_int64(st, idx, EVENT_LOG_TOTAL_CAP);
	long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return n;
}

/* events.get_task_log, handler 2.9 (spec §6.3). */
static void
h_get_task_log(struct req *q, struct reply *r)
{
	const char *task, *order = NULL;
	long long batch, from = 0;
	int earlier = 1;
	if (req_str(q, r, "task", 1, &task) != 0 || req_bool(q, r, "navigate_earlier", 0, &earlier) != 0 ||
	    req_int(q, r, "from_timestamp", 0, &from) != 0 || req_str(q, r, "order", 0, &order) != 0 ||
	    batch_size_of(q, r, 5000, 10000, &batch) != 0)
		return;
	if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		reply_err(r, 400, 12, "Validation error (order must be asc or desc): order=%s", order);
		return;
	}
	json_t *t = visible_task(q, r, task);
	if (!t)
		return;
	json_decref(t);
	const json_t *filter = json_object_get(q->body, "metrics");
	json_t *events = json_array();
	int64_t last_ts = 0, last_seq = 0;
	int64_t b1[2] = {from, batch};
	long long got = log_query(q, task, filter,
		from ? (earlier ? " AND timestamp < ?" : " AND timestamp > ?") : "",
		earlier ? " ORDER BY timestamp DESC, seq DESC LIMIT ?" : " ORDER BY timestamp, seq LIMIT ?",
		from ? 2 : 1, from ? b1 : b1 + 1, events, &last_ts, &last_seq);
	if (got < 0) {
		json_decref(events);
		reply_err(r, 500, 100, "Database error");
		return;
	}
	if (got > 0) {
		/* The rest of the last timestamp, so the next page (from_timestamp = last_ts) loses
		 * nothing. */
		int64_t b2[2] = {last_ts, last_seq};
		log_query(q, task, filter,
		          earlier ? " AND timestamp = ? AND seq < ?" : " AND timestamp = ? AND seq > ?",
		          earlier ? " ORDER BY seq DESC" : " ORDER BY seq", 2, b2, events, &last_ts,
		          &last_seq);
	}
	if (order && ((earlier && strcmp(order, "asc") == 0) || (!earlier && strcmp(order, "desc") == 0)))
		reverse_array(events);
	long long total = log_total(q, task, filter);
	reply_data(r, json_pack("{s:o,s:I,s:I}", "events", events, "returned",
	                        (json_int_t)json_array_size(events), "total", (json_int_t)total));
}

/* events.get_task_log, handler 1.7: scroll through the log from the head (oldest) or the tail;
 * `order` reverses a page when it differs from the scroll direction. */
static void
h_get_task_log_v17(struct req *q, struct reply *r)
{
	const char *task, *order = "desc", *from = "head", *scroll = NULL;
	long long batch;
	if (req_str(q, r, "task", 1, &task) != 0 || req_str(q, r, "order", 0, &order) != 0 ||
	    req_str(q, r, "from", 0, &from) != 0 || req_str(q, r, "scroll_id", 0, &scroll) != 0 ||
	    batch_size_of(q, r, 500, 10000, &batch) != 0)
		return;
	json_t *t = visible_task(q, r, task);
	if (!t)
		return;
	json_decref(t);
	int asc = strcmp(from, "tail") != 0;
	int64_t cts = 0, cseq = 0;
	int have = scroll && parse_cursor(scroll, "lg_", &cts, &cseq) == 0;
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT seq, timestamp, doc, msg FROM events WHERE task = ?1 AND type = 'log' %s"
	         " ORDER BY timestamp %s, seq %s LIMIT ?4",
	         !have ? "" : asc ? "AND (timestamp > ?2 OR (timestamp = ?2 AND seq > ?3))"
	                          : "AND (timestamp < ?2 OR (timestamp = ?2 AND seq < ?3))",
	         asc ? "ASC" : "DESC", asc ? "ASC" : "DESC");
	sqlite3_stmt *st = sq_prepare(q->db, sql);
	if (!st) {
		reply_err(r, 500, 100, "Database error");
		return;
	}
	sq_bind_text(st, 1, task);
	if (have) {
		sqlite3_bind_int64(st, 2, cts);
		sqlite3_bind_int64(st, 3, cseq);
	}
	sqlite3_bind_int64(st, 4, batch);
	json_t *events = json_array();
	int64_t lts = cts, lseq = cseq;
	long long got = collect_log(st, events, &lts, &lseq);
	sqlite3_finalize(st);
	if ((asc && strcmp(order, "desc") == 0) || (!asc && strcmp(order, "asc") == 0))
		reverse_array(events);
	char *next = got || have ? xasprintf("lg_%" PRId64 "_%" PRId64, lts, lseq) : xstrdup("FFFF");
	long long total = event_count(q->db, task, "log", EVENT_LOG_TOTAL_CAP);
	reply_data(r, json_pack("{s:o,s:I,s:I,s:s}", "events", events, "returned", (json_int_t)got,
	                        "total", (json_int_t)total, "scroll_id", next));
	free(next);
}

static void
h_get_task_events(struct req *q, struct reply *r)
{
	const char *task, *type = "*", *order = "asc", *scroll = NULL;
	long long batch;
	int count_total = 1;
	if (req_str(q, r, "task", 1, &task) != 0 || req_str(q, r, "event_type", 0, &type) != 0 ||
	    req_str(q, r, "order", 0, &order) != 0 || req_str(q, r, "scroll_id", 0, &scroll) != 0 ||
	    req_bool(q, r, "count_total", 0, &count_total) != 0 ||
	    batch_size_of(q, r, 500, 10000, &batch) != 0)
		return;
	json_t *t = visible_task(q, r, task);
	if (!t)
		return;
	json_decref(t);
	int all = !*type || strcmp(type, "*") == 0;
	int desc = strcmp(order, "desc") == 0;
	int64_t cit = 0, cseq = 0;
	int have = scroll && *scroll && parse_cursor(scroll, "ev_", &cit, &cseq) == 0;
	char sql[640];
	snprintf(sql, sizeof sql,
	         "SELECT seq, COALESCE(iter, 0), doc, msg FROM events WHERE task = ?1 %s %s"
	         " ORDER BY COALESCE(iter, 0) %s, seq %s LIMIT ?5",
	         all ? "" : "AND type = ?2",
	         !have ? "" : desc ? "AND (COALESCE(iter, 0) < ?3 OR (COALESCE(iter, 0) = ?3 AND seq < ?4))"
	                           : "AND (COALESCE(iter, 0) > ?3 OR (COALESCE(iter, 0) = ?3 AND seq > ?4))",
	         desc ? "DESC" : "ASC", desc ? "DESC" : "ASC");
	sqlite3_stmt *st = sq_prepare(q->db, sql);
	if (!st) {
		reply_err(r, 500, 100, "Database error");
		return;
	}
	sq_bind_text(st, 1, task);
	if (!all)
		sq_bind_text(st, 2, type);
	if (have) {
		sqlite3_bind_int64(st, 3, cit);
		sqlite3_bind_int64(st, 4, cseq);
	}
	sqlite3_bind_int64(st, 5, batch);
	json_t *events = json_array();
	int64_t lit = cit, lseq = cseq;
	long long got = collect_log(st, events, &lit, &lseq);
	sqlite3_finalize(st);
	long long total = count_total ? event_count(q->db, task, all ? NULL : type, 0) : 0;
	char *next = xasprintf("ev_%" PRId64 "_%" PRId64, lit, lseq);
	reply_data(r, json_pack("{s:o,s:I,s:I,s:s}", "events", events, "returned", (json_int_t)got,
	                        "total", (json_int_t)total, "scroll_id", next));
	free(next);
}

static void
h_get_scalar_metrics_and_variants(struct req *q, struct reply *r)
{
	const char *task;
	if (req_str(q, r, "task", 1, &task) != 0)
		return;
	json_t *t = visible_task(q, r, task);
	if (!t)
		return;
	json_decref(t);
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT DISTINCT metric, variant FROM events WHERE"
	                                     " task = ? AND type = 'training_stats_scalar'"
	                                     " ORDER BY metric, variant");
	if (!st) {
		reply_err(r, 500, 100, "Database error");
		return;
	}
	sq_bind_text(st, 1, task);
	json_t *metrics = json_object();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *m = sq_col_text(st, 0), *v = sq_col_text(st, 1);
		json_t *mo = json_object_get(metrics, m);
		if (!mo) {
			mo = json_object();
			json_object_set_new(metrics, m, mo);
		}
		json_object_set_new(mo, v, json_pack("{s:s}", "name", v));
	}
	sqlite3_finalize(st);
	reply_data(r, json_pack("{s:o}", "metrics", metrics));
}

/* Does metrics filter [{metric, variants[]}] (or absent) let metric/variant through? */
static int
metric_wanted(const json_t *filter, const char *metric, const char *variant)
{
	if (!json_is_array(filter) || json_array_size(filter) == 0)
		return 1;
	size_t i;
	json_t *f;
	json_array_foreach(filter, i, f) {
		const char *m = json_string_value(json_object_get(f, "metric"));
		if (json_is_string(f))
			m = json_string_value(f);
		if (!m || strcmp(m, metric) != 0)
			continue;
		json_t *vs = json_object_get(f, "variants");
		if (!json_is_array(vs) || json_array_size(vs) == 0)
			return 1;
		size_t k;
		json_t *v;
		json_array_foreach(vs, k, v) {
			if (json_is_string(v) && strcmp(json_string_value(v), variant) == 0)
				return 1;
		}
	}
	return 0;
}

/* Average consecutive points into at most `samples` buckets (x: the bucket's first x). */
static void
downsample(json_t *x, json_t *y, long long samples, json_t **xo, json_t **yo)
{
	size_t n = json_array_size(x);
	if (samples <= 0 || n <= (size_t)samples) {
		*xo = json_incref(x);
		*yo = json_incref(y);
		return;
	}
	*xo = json_array();
	*yo = json_array();
	for (long long b = 0; b < samples; b++) {
		size_t lo = (size_t)((double)b * (double)n / (double)samples);
		size_t hi = (size_t)((double)(b + 1) * (double)n / (double)samples);
		if (hi <= lo)
			continue;
		double s = 0;
		for (size_t i = lo; i < hi; i++)
			s += json_number_value(json_array_get(y, i));
		json_array_append(*xo, json_array_get(x, lo));
		json_array_append_new(*yo, json_real(s / (double)(hi - lo)));
	}
}

static void
h_scalar_metrics_iter_histogram(struct req *q, struct reply *r)
{
	const char *task, *key = "iter";
	long long samples = 2000;
	if (req_str(q, r, "task", 1, &task) != 0 || req_int(q, r, "samples", 0, &samples) != 0 ||
	    req_str(q, r, "key", 0, &key) != 0)
		return;
	if (samples < 1 || samples > 6000) {
		reply_err(r, 400, 12, "Validation error (samples must be 1..6000): samples=%lld", samples);
		return;
	}
	int by_iter = strcmp(key, "iter") == 0, by_iso = strcmp(key, "iso_time") == 0;
	if (!by_iter && !by_iso && strcmp(key, "timestamp") != 0) {
		reply_err(r, 400, 12, "Validation error (key must be iter, timestamp or iso_time): "
		          "key=%s", key);
		return;
	}
	json_t *t = visible_task(q, r, task);
	if (!t)
		return;
	json_decref(t);
	json_t *filter = json_object_get(q->body, "metrics");
	sqlite3_stmt *st = sq_prepare(q->db, by_iter
		? "SELECT metric, variant, COALESCE(iter, 0), timestamp, value,"
		  " json_extract(doc, '$.x_axis_label') FROM events WHERE task = ? AND"
		  " type = 'training_stats_scalar' AND COALESCE(iter, 0) != -2147483648"
		  " ORDER BY metric, variant, COALESCE(iter, 0), seq"
		: "SELECT metric, variant, COALESCE(iter, 0), timestamp, value,"
		  " json_extract(doc, '$.x_axis_label') FROM events WHERE task = ? AND"
		  " type = 'training_stats_scalar' AND COALESCE(iter, 0) != -2147483648"
		  " ORDER BY metric, variant, timestamp, seq");
	if (!st) {
		reply_err(r, 500, 100, "Database error");
		return;
	}
	sq_bind_text(st, 1, task);
	json_t *out = json_object();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *m = sq_col_text(st, 0), *v = sq_col_text(st, 1);
		if (!metric_wanted(filter, m, v))
			continue;
		json_t *mo = json_object_get(out, m);
		if (!mo) {
			mo = json_object();
			json_object_set_new(out, m, mo);
		}
		json_t *vo = json_object_get(mo, v);
		if (!vo) {
			vo = json_pack("{s:s,s:[],s:[]}", "name", v, "x", "y");
			json_object_set_new(mo, v, vo);
		}
		if (sqlite3_column_type(st, 5) == SQLITE_TEXT && !json_object_get(vo, "x_axis_label"))
			json_object_set_new(vo, "x_axis_label", json_string(sq_col_text(st, 5)));
		json_t *xv;
		if (by_iter)
			xv = json_integer(sqlite3_column_int64(st, 2));
		else if (by_iso)
			xv = sq_iso(sqlite3_column_int64(st, 3) * 1000);
		else
			xv = json_integer(sqlite3_column_int64(st, 3));
		json_array_append_new(json_object_get(vo, "x"), xv);
		json_array_append_new(json_object_get(vo, "y"), json_real(sqlite3_column_double(st, 4)));
	}
	sqlite3_finalize(st);
	const char *mk, *vk;
	json_t *mo, *vo;
	json_object_foreach(out, mk, mo) {
		json_object_foreach(mo, vk, vo) {
			json_t *xo, *yo;
			downsample(json_object_get(vo, "x"), json_object_get(vo, "y"), samples, &xo, &yo);
			json_object_set_new(vo, "x", xo);
			json_object_set_new(vo, "y", yo);
		}
	}
	reply_data(r, out);
}

/* Events of one type of a task, newest `iters` iterations per metric/variant (plots, images). */
static json_t *
latest_per_variant(sqlite3 *db, const char *task, const char *type, long long iters,
                   const json_t *filter)
{
	json_t *out = json_array();
	sqlite3_stmt *st = sq_prepare(db, "SELECT metric, variant, COALESCE(iter, 0), doc FROM events"
	                                  " WHERE task = ? AND type = ? ORDER BY metric, variant,"
	                                  " COALESCE(iter, 0) DESC, seq DESC");
	if (!st)
		return out;
	sq_bind_text(st, 1, task);
	sq_bind_text(st, 2, type);
	char *cur = NULL;
	long long seen = 0;
	int64_t last_iter = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *m = sq_col_text(st, 0), *v = sq_col_text(st, 1);
		int64_t it = sqlite3_column_int64(st, 2);
		if (!metric_wanted(filter, m, v))
			continue;
		char *mv = xasprintf("%s\x1f%s", m, v);
		if (!cur || strcmp(cur, mv) != 0) {
			free(cur);
			cur = mv;
			last_iter = it;
			seen = 1;
		} else {
			free(mv);
			if (it != last_iter) {
				last_iter = it;
				seen++;
			}
		}
		if (seen <= iters)
			json_array_append_new(out, event_row_json(st, 3, -1));
	}
	free(cur);
	sqlite3_finalize(st);
	return out;
}

static void
h_get_task_plots(struct req *q, struct reply *r)
{
	const char *task;
	long long iters = 1;
	if (req_str(q, r, "task", 1, &task) != 0 || req_int(q, r, "iters", 0, &iters) != 0)
		return;
	json_t *t = visible_task(q, r, task);
	if (!t)
		return;
	json_decref(t);
	json_t *plots = latest_per_variant(q->db, task, "plot", iters > 0 ? iters : 1,
	                                   json_object_get(q->body, "metrics"));
	size_t n = json_array_size(plots);
	reply_data(r, json_pack("{s:o,s:I,s:I,s:s}", "plots", plots, "returned", (json_int_t)n,
	                        "total", (json_int_t)n, "scroll_id", "FFFF"));
}

static void
h_get_task_latest_scalar_values(struct req *q, struct reply *r)
{
	const char *task;
	if (req_str(q, r, "task", 1, &task) != 0)
		return;
	json_t *t = visible_task(q, r, task);
	if (!t)
		return;
	sqlite3_stmt *st = sq_prepare(q->db,
		"SELECT metric, variant, COALESCE(iter, 0), timestamp, value FROM events WHERE task = ?"
		" AND type = 'training_stats_scalar' ORDER BY metric, variant, COALESCE(iter, 0) DESC,"
		" seq DESC");
	if (!st) {
		json_decref(t);
		reply_err(r, 500, 100, "Database error");
		return;
	}
	sq_bind_text(st, 1, task);
	json_t *metrics = json_array(), *cur_m = NULL, *cur_v = NULL;
	int64_t last_iter = 0, last_ts = 0;
	double sum = 0;
	int cnt = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *m = sq_col_text(st, 0), *v = sq_col_text(st, 1);
		int64_t it = sqlite3_column_int64(st, 2), ts = sqlite3_column_int64(st, 3);
		double val = sqlite3_column_double(st, 4);
		if (it > last_iter)
			last_iter = it;
		if (ts > last_ts)
			last_ts = ts;
		if (!cur_m || strcmp(json_string_value(json_object_get(cur_m, "name")), m) != 0) {
			cur_m = json_pack("{s:s,s:[]}", "name", m, "variants");
			json_array_append_new(metrics, cur_m);
			cur_v = NULL;
		}
		if (!cur_v || strcmp(json_string_value(json_object_get(cur_v, "name")), v) != 0) {
			if (cur_v && cnt)
				json_object_set_new(cur_v, "last_100_value", json_real(sum / cnt));
			cur_v = json_pack("{s:s,s:f}", "name", v, "last_value", val);
			json_array_append_new(json_object_get(cur_m, "variants"), cur_v);
			sum = 0;
			cnt = 0;
		}
		if (cnt < 100) {
			sum += val;
			cnt++;
		}
	}
	if (cur_v && cnt)
		json_object_set_new(cur_v, "last_100_value", json_real(sum / cnt));
	sqlite3_finalize(st);
	json_t *name = json_object_get(t, "name"), *status = json_object_get(t, "status");
	reply_data(r, json_pack("{s:o,s:I,s:O,s:O,s:I}", "metrics", metrics, "last_iter",
	                        (json_int_t)last_iter, "name", name ? name : json_null(),
	                        "status", status ? status : json_null(),
	                        "last_timestamp", (json_int_t)last_ts));
	json_decref(t);
}

static void
h_get_task_metrics(struct req *q, struct reply *r)
{
	const char *type = NULL;
	if (req_str(q, r, "event_type", 1, &type) != 0)
		return;
	size_t n = 0;
	const char **tasks = sq_str_list(json_object_get(q->body, "tasks"), &n);
	if (!tasks) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return;
	}
	json_t *out = json_array();
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT DISTINCT metric FROM events WHERE task = ?"
	                                     " AND type = ? ORDER BY metric");
	for (size_t i = 0; st && i < n; i++) {
		sqlite3_reset(st);
		sq_bind_text(st, 1, tasks[i]);
		sq_bind_text(st, 2, type);
		json_t *ms = json_array();
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(ms, json_string(sq_col_text(st, 0)));
		json_array_append_new(out, json_pack("{s:s,s:o}", "task", tasks[i], "metrics", ms));
	}
	sqlite3_finalize(st);
	free(tasks);
	reply_data(r, json_pack("{s:o}", "metrics", out));
}

static void
h_get_task_single_value_metrics(struct req *q, struct reply *r)
{
	size_t n = 0;
	const char **tasks = sq_str_list(json_object_get(q->body, "tasks"), &n);
	if (!tasks) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return;
	}
	json_t *out = json_array();
	sqlite3_stmt *st = sq_prepare(q->db, "SELECT metric, variant, value, timestamp FROM events"
	                                     " WHERE task = ? AND type = 'training_stats_scalar'"
	                                     " AND iter = ? ORDER BY metric, variant");
	int model = json_is_true(json_object_get(q->body, "model_events"));
	for (size_t i = 0; st && i < n; i++) {
		json_t *t = model ? model_load(q->db, tasks[i]) : task_load(q->db, tasks[i]);
		if (!t)
			continue;
		sqlite3_reset(st);
		sq_bind_text(st, 1, tasks[i]);
		sqlite3_bind_int64(st, 2, SINGLE_VALUE_ITER);
		json_t *vals = json_array();
		json_t *filter = json_object_get(q->body, "metrics");
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (!metric_wanted(filter, sq_col_text(st, 0), sq_col_text(st, 1)))
				continue;
			json_array_append_new(vals, json_pack("{s:s,s:s,s:f,s:I}", "metric",
			                      sq_col_text(st, 0), "variant", sq_col_text(st, 1), "value",
			                      sqlite3_column_double(st, 2), "timestamp",
			                      (json_int_t)sqlite3_column_int64(st, 3)));
		}
		if (json_array_size(filter) && !json_array_size(vals)) {
			/* asked for metrics the task lacks: the task is left out, as upstream */
			json_decref(vals);
			json_decref(t);
			continue;
		}
		json_t *name = json_object_get(t, "name");
		json_array_append_new(out, json_pack("{s:s,s:s,s:o}", "task", tasks[i], "task_name",
		                                     sq_str(name), "values", vals));
		json_decref(t);
	}
	sqlite3_finalize(st);
	free(tasks);
	reply_data(r, json_pack("{s:o}", "tasks", out));
}

static void
h_delete_for_task(struct req *q, struct reply *r)
{
	const char *task;
	int allow_locked = 0;
	if (req_str(q, r, "task", 1, &task) != 0 || req_bool(q, r, "allow_locked", 0, &allow_locked) != 0)
		return;
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "Database error (could not start a transaction)");
		return;
	}
	json_t *t = visible_task(q, r, task);
	if (t) {
		const char *st = json_string_value(json_object_get(t, "status"));
		if (!allow_locked && st && strcmp(st, "published") == 0) {
			reply_err(r, 400, 110, "Invalid task status (Task is published): id=%s", task);
		} else {
			long long n = event_delete_task(q->db, task);
			if (n < 0)
				reply_err(r, 500, 100, "Database error");
			else
				reply_data(r, json_pack("{s:I}", "deleted", (json_int_t)n));
		}
		json_decref(t);
	}
	if (r->code || db_commit(q->db) != 0) {
		db_rollback(q->db);
		if (!r->code)
			reply_err(r, 500, 100, "Database error (commit failed)");
	}
}

static void
h_clear_task_log(struct req *q, struct reply *r)
{
	const char *task;
	long long threshold = 0;
	int allow_locked = 0;
	if (req_str(q, r, "task", 1, &task) != 0 || req_int(q, r, "threshold_sec", 0, &threshold) != 0 ||
	    req_bool(q, r, "allow_locked", 0, &allow_locked) != 0)
		return;
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "Database error (could not start a transaction)");
		return;
	}
	json_t *t = visible_task(q, r, task);
	if (t) {
		const json_t *inc = json_object_get(q->body, "include_metrics");
		const json_t *exc = json_object_get(q->body, "exclude_metrics");
		struct buf sql;
		buf_init(&sql, 1u << 16);
		buf_puts(&sql, "DELETE FROM events WHERE task = ? AND type = 'log' AND timestamp < ?");
		metric_filter_sql(&sql, inc, 0);
		metric_filter_sql(&sql, exc, 1);
		sqlite3_stmt *st = sq_prepare(q->db, sql.data);
		buf_free(&sql);
		if (!st) {
			reply_err(r, 500, 100, "Database error");
		} else {
			sq_bind_text(st, 1, task);
			sqlite3_bind_int64(st, 2, threshold > 0 ? now_ms() - threshold * 1000 : INT64_MAX);
			metric_filter_bind(st, metric_filter_bind(st, 3, inc), exc);
			int rc = sqlite3_step(st);
			sqlite3_finalize(st);
			if (rc != SQLITE_DONE)
				reply_err(r, 500, 100, "Database error");
			else
				reply_data(r, json_pack("{s:I}", "deleted",
				                        (json_int_t)sqlite3_changes64(q->db)));
		}
		json_decref(t);
	}
	if (r->code || db_commit(q->db) != 0) {
		db_rollback(q->db);
		if (!r->code)
			reply_err(r, 500, 100, "Database error (commit failed)");
	}
}

const struct endpoint svc_events_endpoints[] = {
	{"events.add", "1.0", 0, h_add},
	{"events.add_batch", "1.0", 0, h_add_batch},
	{"events.get_task_log", "1.0", 0, h_get_task_log_v17},
	{"events.get_task_log", "1.7", 0, h_get_task_log_v17},
	{"events.get_task_log", "2.9", 0, h_get_task_log},
	{"events.get_task_events", "1.0", 0, h_get_task_events},
	{"events.get_scalar_metrics_and_variants", "1.0", 0, h_get_scalar_metrics_and_variants},
	{"events.scalar_metrics_iter_histogram", "1.0", 0, h_scalar_metrics_iter_histogram},
	{"events.get_task_latest_scalar_values", "1.0", 0, h_get_task_latest_scalar_values},
	{"events.get_task_metrics", "2.7", 0, h_get_task_metrics},
	{"events.get_task_plots", "1.8", 0, h_get_task_plots},
	{"events.get_task_single_value_metrics", "2.20", 0, h_get_task_single_value_metrics},
	{"events.delete_for_task", "1.0", 0, h_delete_for_task},
	{"events.clear_task_log", "2.19", 0, h_clear_task_log},
	{NULL, NULL, 0, NULL},
};
