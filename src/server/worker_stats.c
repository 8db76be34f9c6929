/*
 * worker_stats — see worker_stats.h. Upstream behaviour kept (apiserver/bll/workers/stats.py,
 * bll/queue/queue_metrics.py): the category of a metric is its key up to the first '_'; list
 * values are variants "0", "1", … and scalars the variant "total"; a zero scalar is not stored;
 * the chart interval is at least 40 s; histogram keys are multiples of the interval from the
 * epoch with empty buckets 0, and the last, incomplete bucket is dropped; only the known
 * machine_stats keys are kept.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/store_sql.h"
#include "server/svc_txn.h"
#include "server/worker_stats.h"
#include "util.h"

#define MIN_CHART_INTERVAL 40
#define MAX_BUCKETS 20000
#define MAX_VARIANTS 64

struct tier {
	int64_t bucket_ms;
	int64_t keep_ms;
};

static const struct tier g_tiers[] = {
	{10 * 1000LL, 26 * 3600 * 1000LL},
	{300 * 1000LL, 8 * 86400 * 1000LL},
	{3600 * 1000LL, 8 * 86400 * 1000LL},
};
#define NTIERS ((int)ARRAY_LEN(g_tiers))

/* The MachineStats fields of the real server; the index is the stored metric number. */
static const char *const g_metrics[] = {
	"cpu_usage",       "cpu_temperature", "gpu_usage",     "gpu_temperature", "gpu_memory_free",
	"gpu_memory_used", "memory_used",     "memory_free",   "network_tx",      "network_rx",
	"disk_free_home",  "disk_free_temp",  "disk_read",     "disk_write",
};
#define NMETRICS ((int)ARRAY_LEN(g_metrics))

const char worker_stats_schema[] =
	"CREATE TABLE IF NOT EXISTS worker_stats ("
	"  tier INTEGER NOT NULL, metric INTEGER NOT NULL, ts INTEGER NOT NULL,"
	"  company TEXT NOT NULL, worker TEXT NOT NULL, variant INTEGER NOT NULL,"
	"  n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,"
	"  PRIMARY KEY (tier, metric, ts, company, worker, variant)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS worker_activity ("
	"  tier INTEGER NOT NULL, ts INTEGER NOT NULL, company TEXT NOT NULL, worker TEXT NOT NULL,"
	"  active INTEGER NOT NULL,"
	"  PRIMARY KEY (tier, ts, company, worker)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS worker_stat_keys ("
	"  company TEXT NOT NULL, worker TEXT NOT NULL, metric INTEGER NOT NULL,"
	"  last_ts INTEGER NOT NULL,"
	"  PRIMARY KEY (company, worker, metric)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS queue_stats ("
	"  tier INTEGER NOT NULL, queue TEXT NOT NULL, ts INTEGER NOT NULL, company TEXT NOT NULL,"
	"  len_max INTEGER NOT NULL, wait_max REAL NOT NULL,"
	"  PRIMARY KEY (tier, queue, ts)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS queue_stats_ts ON queue_stats(tier, ts);";

/* ---------------------------------------------------------------- pure helpers */

int
worker_stats_tier_for(long long interval_sec)
{
	int t = 0;
	for (int i = 0; i < NTIERS; i++)
		if (g_tiers[i].bucket_ms <= interval_sec * 1000)
			t = i;
	return t;
}

size_t
worker_stats_buckets(double from_sec, double to_sec, long long interval_sec, int64_t *keys,
                     size_t max)
{
	if (interval_sec < 1 || to_sec <= from_sec)
		return 0;
	int64_t iv = (int64_t)interval_sec * 1000;
	int64_t first = (int64_t)floor(from_sec * 1000.0 / (double)iv) * iv;
	int64_t last = (int64_t)floor(to_sec * 1000.0 / (double)iv) * iv;
	size_t n = 0;
	for (int64_t k = first; k <= last && n < max; k += iv)
		keys[n++] = k;
	return n;
}

static int
metric_index(const char *key)
{
	for (int i = 0; i < NMETRICS; i++)
		if (!strcmp(g_metrics[i], key))
			return i;
	return -1;
}

static void
metric_category(int m, char *out, size_t outlen)
{
	const char *k = g_metrics[m];
	size_t n = strcspn(k, "_");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, k, n);
	out[n] = '\0';
}

/* ---------------------------------------------------------------- writing */

static int
add_value(sqlite3 *db, const char *company, const char *worker, int metric, int variant,
          int64_t ts, double v)
{
	for (int t = 0; t < NTIERS; t++) {
		sqlite3_stmt *st = db_stmt(db,
			"INSERT INTO worker_stats(tier, metric, ts, company, worker, variant, n, sum, min,"
			" max) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?7)"
			" ON CONFLICT DO UPDATE SET n = n + 1, sum = sum + excluded.sum,"
			" min = MIN(min, excluded.min), max = MAX(max, excluded.max)");
		if (!st)
			return -1;
		int64_t b = ts - ts % g_tiers[t].bucket_ms;
		sqlite3_bind_int(st, 1, t);
		sqlite3_bind_int(st, 2, metric);
		sqlite3_bind_int64(st, 3, b);
		sqlite3_bind_text(st, 4, company, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, worker, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, variant);
		sqlite3_bind_double(st, 7, v);
		int rc = sqlite3_step(st);
		db_stmt_done(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

static int
note_key(sqlite3 *db, const char *company, const char *worker, int metric, int64_t ts)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO worker_stat_keys(company, worker, metric, last_ts)"
	                               " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET"
	                               " last_ts = MAX(last_ts, excluded.last_ts)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, metric);
	sqlite3_bind_int64(st, 4, ts);
	int rc = sqlite3_step(st);
	db_stmt_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
note_activity(sqlite3 *db, const char *company, const char *worker, int active, int64_t ts)
{
	for (int t = 0; t < NTIERS; t++) {
		sqlite3_stmt *st = db_stmt(db,
			"INSERT INTO worker_activity(tier, ts, company, worker, active)"
			" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET"
			" active = MAX(active, excluded.active)");
		if (!st)
			return -1;
		sqlite3_bind_int(st, 1, t);
		sqlite3_bind_int64(st, 2, ts - ts % g_tiers[t].bucket_ms);
		sqlite3_bind_text(st, 3, company, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, worker, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, active);
		int rc = sqlite3_step(st);
		db_stmt_done(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

int
worker_stats_record(sqlite3 *db, const char *company, const char *worker, int has_task,
                    int64_t ts, const json_t *machine_stats)
{
	if (ts <= 0)
		return 0;
	if (ts < 100000000000LL)
		ts *= 1000;
	/* A clock far off must not fill buckets no retention reaches: older than the longest
	 * retention is dropped, more than a day ahead is taken as now. */
	int64_t now = now_ms();
	if (ts < now - g_tiers[NTIERS - 1].keep_ms)
		return 0;
	if (ts > now + 86400 * 1000LL)
		ts = now;
	if (note_activity(db, company, worker, has_task, ts) != 0)
		return -1;
	if (!json_is_object(machine_stats))
		return 0;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)(uintptr_t)machine_stats, key, v) {
		int m = metric_index(key);
		if (m < 0)
			continue;
		int stored = 0;
		if (json_is_array(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) {
				if (i >= MAX_VARIANTS || !json_is_number(e))
					continue;
				if (add_value(db, company, worker, m, (int)i, ts, json_number_value(e)) != 0)
					return -1;
				stored = 1;
			}
		} else if (json_is_number(v) && json_number_value(v) != 0.0) {
			if (add_value(db, company, worker, m, -1, ts, json_number_value(v)) != 0)
				return -1;
			stored = 1;
		}
		if (stored && note_key(db, company, worker, m, ts) != 0)
			return -1;
	}
	return 0;
}

/* Queue samples use 5 s buckets in the finest tier (upstream's queue metrics interval), the
 * worker tiers' buckets above it. */
static int64_t
queue_bucket_ms(int t)
{
	return t == 0 ? 5000 : g_tiers[t].bucket_ms;
}

static int
sample_queues(sqlite3 *db, const char *only_queue, int64_t now_us, int own_txn)
{
	if (own_txn && db_begin(db) != 0)
		return -1;
	sqlite3_stmt *sel = db_stmt(db,
		"SELECT q.id, q.company, COUNT(e.task), COALESCE(AVG(?1 - e.added), 0)"
		" FROM queues q LEFT JOIN queue_entries e ON e.queue = q.id"
		" WHERE ?2 IS NULL OR q.id = ?2 GROUP BY q.id");
	int rc = sel ? 0 : -1;
	json_t *rows = json_array();
	if (sel) {
		sqlite3_bind_int64(sel, 1, now_us);
		sq_bind_text(sel, 2, only_queue);
	}
	while (sel && sqlite3_step(sel) == SQLITE_ROW) {
		json_array_append_new(rows, json_pack("{s:s,s:s,s:I,s:f}", "q", sq_col_text(sel, 0),
		                                      "c", sq_col_text(sel, 1),
		                                      "n", (json_int_t)sqlite3_column_int64(sel, 2),
		                                      "w", sqlite3_column_double(sel, 3) / 1e6));
	}
	if (sel)
		db_stmt_done(sel);
	int64_t ts = now_us / 1000;
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r) {
		for (int t = 0; t < NTIERS && rc == 0; t++) {
			sqlite3_stmt *st = db_stmt(db,
				"INSERT INTO queue_stats(tier, queue, ts, company, len_max, wait_max)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET"
				" len_max = MAX(len_max, excluded.len_max),"
				" wait_max = MAX(wait_max, excluded.wait_max)");
			if (!st) {
				rc = -1;
				break;
			}
			sqlite3_bind_int(st, 1, t);
			sq_bind_text(st, 2, json_string_value(json_object_get(r, "q")));
			sqlite3_bind_int64(st, 3, ts - ts % queue_bucket_ms(t));
			sq_bind_text(st, 4, json_string_value(json_object_get(r, "c")));
			sqlite3_bind_int64(st, 5, json_integer_value(json_object_get(r, "n")));
			sqlite3_bind_double(st, 6, json_real_value(json_object_get(r, "w")));
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = -1;
			db_stmt_done(st);
		}
	}
	json_decref(rows);
	if (own_txn) {
		if (rc == 0)
			rc = db_commit(db);
		else
			db_rollback(db);
	}
	return rc;
}

int
queue_stats_sample(sqlite3 *db, int64_t now_us, int own_txn)
{
	return sample_queues(db, NULL, now_us, own_txn);
}

int
queue_stats_note_change(sqlite3 *db, const char *queue_id)
{
	return sample_queues(db, queue_id, sq_now_us(), 0);
}

void
worker_stats_prune(sqlite3 *db, int64_t now)
{
	if (db_begin(db) != 0)
		return;
	for (int t = 0; t < NTIERS; t++) {
		int64_t cut = now - g_tiers[t].keep_ms;
		for (int m = 0; m < NMETRICS; m++) {
			sqlite3_stmt *st = db_stmt(db, "DELETE FROM worker_stats WHERE tier = ?1"
			                               " AND metric = ?2 AND ts < ?3");
			if (!st)
				break;
			sqlite3_bind_int(st, 1, t);
			sqlite3_bind_int(st, 2, m);
			sqlite3_bind_int64(st, 3, cut);
			sqlite3_step(st);
			db_stmt_done(st);
		}
		static const char *const other[] = {
			"DELETE FROM worker_activity WHERE tier = ?1 AND ts < ?2",
			"DELETE FROM queue_stats WHERE tier = ?1 AND ts < ?2",
		};
		for (size_t k = 0; k < ARRAY_LEN(other); k++) {
			sqlite3_stmt *st = db_stmt(db, other[k]);
			if (!st)
				continue;
			sqlite3_bind_int(st, 1, t);
			sqlite3_bind_int64(st, 2, cut);
			sqlite3_step(st);
			db_stmt_done(st);
		}
	}
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM worker_stat_keys WHERE last_ts < ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, now - g_tiers[NTIERS - 1].keep_ms);
		sqlite3_step(st);
		db_stmt_done(st);
	}
	db_commit(db);
}

void
worker_stats_tick(sqlite3 *db, int64_t now)
{
	static _Thread_local int64_t last_sample, last_prune;
	if (now - last_sample >= 10000) {
		last_sample = now;
		queue_stats_sample(db, now * 1000, 1);
	}
	if (now - last_prune >= 60000) {
		last_prune = now;
		worker_stats_prune(db, now);
	}
}

/* ---------------------------------------------------------------- request checks */

struct range {
	double from, to;
	long long interval;   /* effective (≥ MIN_CHART_INTERVAL) */
	int64_t *keys;
	size_t nkeys;         /* after the incomplete last bucket is dropped */
};

static int
number_field(struct req *q, struct reply *r, const char *name, double *out)
{
	json_t *v = json_object_get(q->body, name);
	if (!json_is_number(v) || json_number_value(v) < 0) {
		reply_err(r, 400, 12, "Validation error (%s: a number >= 0 is required)", name);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

/* from_date*, to_date*, interval* as the upstream StatsReportBase; 0 or -1 with r filled. */
static int
read_range(struct req *q, struct reply *r, struct range *g)
{
	long long iv = 0;
	if (number_field(q, r, "from_date", &g->from) || number_field(q, r, "to_date", &g->to) ||
	    req_int(q, r, "interval", 1, &iv))
		return -1;
	if (iv < 1) {
		reply_err(r, 400, 12, "Validation error (interval: must be >= 1)");
		return -1;
	}
	if (g->from >= g->to) {
		reply_err(r, 400, 16, "invalid value for fields (from_date must be less than to_date)");
		return -1;
	}
	g->interval = iv < MIN_CHART_INTERVAL ? MIN_CHART_INTERVAL : iv;
	if ((g->to - g->from) / (double)g->interval > MAX_BUCKETS) {
		reply_err(r, 400, 16, "invalid value for fields (more than %d intervals between "
		          "from_date and to_date)", MAX_BUCKETS);
		return -1;
	}
	g->keys = xcalloc(MAX_BUCKETS + 2, sizeof(int64_t));
	g->nkeys = worker_stats_buckets(g->from, g->to, g->interval, g->keys, MAX_BUCKETS + 2);
	return 0;
}

static json_t *
worker_ids_json(struct req *q, struct reply *r)
{
	json_t *w = json_object_get(q->body, "worker_ids");
	if (!w || json_is_null(w))
		return NULL;
	if (!json_is_array(w)) {
		reply_err(r, 400, 12, "Validation error (worker_ids must be a list of strings)");
		return (json_t *)-1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(w, i, e)
		if (!json_is_string(e)) {
			reply_err(r, 400, 12, "Validation error (worker_ids must be a list of strings)");
			return (json_t *)-1;
		}
	return json_array_size(w) ? w : NULL;
}

/* Index of a bucket key, or -1. */
static long
key_index(const struct range *g, int64_t bucket)
{
	if (!g->nkeys || bucket < g->keys[0])
		return -1;
	long i = (long)((bucket - g->keys[0]) / ((int64_t)g->interval * 1000));
	return (size_t)i < g->nkeys ? i : -1;
}

static json_t *
dates_json(const struct range *g, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(g->keys[i]));
	return a;
}

/* ---------------------------------------------------------------- workers.get_stats */

enum agg { AGG_AVG, AGG_MIN, AGG_MAX };
static const char *const g_agg_names[] = {"avg", "min", "max"};

struct acc {
	double sum, min, max;
	long long n;
};

struct series {              /* one worker's buckets of one metric */
	char *worker;
	struct acc *total;       /* nkeys */
	struct acc *var[MAX_VARIANTS + 1];   /* index variant + 1 (0 = "total") */
	struct series *next;
};

static void
acc_add(struct acc *a, long long n, double sum, double mn, double mx)
{
	if (!a->n) {
		a->min = mn;
		a->max = mx;
	} else {
		if (mn < a->min)
			a->min = mn;
		if (mx > a->max)
			a->max = mx;
	}
	a->n += n;
	a->sum += sum;
}

static double
acc_value(const struct acc *a, enum agg g)
{
	if (!a->n)
		return 0.0;
	return g == AGG_AVG ? a->sum / (double)a->n : g == AGG_MIN ? a->min : a->max;
}

static json_t *
values_json(const struct acc *a, size_t n, enum agg g)
{
	json_t *v = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(v, json_real(a ? acc_value(&a[i], g) : 0.0));
	return v;
}

static void
series_free(struct series *s)
{
	while (s) {
		struct series *n = s->next;
		free(s->worker);
		free(s->total);
		for (int i = 0; i <= MAX_VARIANTS; i++)
			free(s->var[i]);
		free(s);
		s = n;
	}
}

static int
series_cmp(const void *a, const void *b)
{
	const struct series *x = *(const struct series *const *)a, *y = *(const struct series *const *)b;
	return strcmp(x->worker, y->worker);
}

/* Read one metric's buckets per worker (linked list, in worker order). The rows come in the
 * primary key's order (time first) and are summed into the interval buckets here: no temporary
 * B-tree for a GROUP BY, one pass over the range. */
static struct series *
load_metric(sqlite3 *db, const char *company, int metric, const struct range *g,
            const char *workers_text, int *err)
{
	int tier = worker_stats_tier_for(g->interval);
	int64_t ivms = g->interval * 1000;
	sqlite3_stmt *st = db_stmt(db,
		"SELECT worker, variant, ts, n, sum, min, max"
		" FROM worker_stats WHERE tier = ?2 AND metric = ?3 AND ts >= ?4 AND ts <= ?5"
		" AND company = ?6 AND (?7 IS NULL OR worker IN (SELECT value FROM json_each(?7)))");
	if (!st) {
		*err = 1;
		return NULL;
	}
	sqlite3_bind_int(st, 2, tier);
	sqlite3_bind_int(st, 3, metric);
	sqlite3_bind_int64(st, 4, (int64_t)(g->from * 1000) - (int64_t)(g->from * 1000) %
	                              g_tiers[tier].bucket_ms);
	sqlite3_bind_int64(st, 5, (int64_t)(g->to * 1000));
	sqlite3_bind_text(st, 6, company, -1, SQLITE_STATIC);
	sq_bind_text(st, 7, workers_text);
	json_t *index = json_object();
	struct series **all = NULL, *cur = NULL;
	size_t nall = 0, cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *w = sq_col_text(st, 0);
		if (!cur || strcmp(cur->worker, w) != 0) {
			json_t *ix = json_object_get(index, w);
			if (ix) {
				cur = all[json_integer_value(ix)];
			} else {
				if (nall == cap) {
					cap = cap ? cap * 2 : 16;
					all = xrealloc(all, cap * sizeof(*all));
				}
				cur = xcalloc(1, sizeof(*cur));
				cur->worker = xstrdup(w);
				cur->total = xcalloc(g->nkeys ? g->nkeys : 1, sizeof(struct acc));
				json_object_set_new(index, w, json_integer((json_int_t)nall));
				all[nall++] = cur;
			}
		}
		int64_t ts = sqlite3_column_int64(st, 2);
		long k = key_index(g, ts - ts % ivms);
		if (k < 0)
			continue;
		int var = sqlite3_column_int(st, 1);
		if (var < -1 || var >= MAX_VARIANTS)
			continue;
		long long n = sqlite3_column_int64(st, 3);
		double sum = sqlite3_column_double(st, 4), mn = sqlite3_column_double(st, 5),
		       mx = sqlite3_column_double(st, 6);
		acc_add(&cur->total[k], n, sum, mn, mx);
		if (!cur->var[var + 1])
			cur->var[var + 1] = xcalloc(g->nkeys ? g->nkeys : 1, sizeof(struct acc));
		acc_add(&cur->var[var + 1][k], n, sum, mn, mx);
	}
	db_stmt_done(st);
	json_decref(index);
	struct series *head = NULL;
	if (nall) {
		qsort(all, nall, sizeof(*all), series_cmp);
		for (size_t i = nall; i-- > 0;) {
			all[i]->next = head;
			head = all[i];
		}
	}
	free(all);
	return head;
}

static json_t *
worker_entry_for(json_t *workers, json_t *index, const char *worker)
{
	json_t *w = json_object_get(index, worker);
	if (w)
		return w;
	w = json_pack("{s:s,s:[]}", "worker", worker, "metrics");
	json_array_append_new(workers, w);
	json_object_set(index, worker, w);
	return w;
}

static json_t *
metric_entry_for(json_t *worker, const char *metric, const char *variant, json_t *dates)
{
	json_t *metrics = json_object_get(worker, "metrics");
	size_t i;
	json_t *m;
	json_array_foreach(metrics, i, m) {
		const char *mv = json_string_value(json_object_get(m, "variant"));
		if (!strcmp(json_string_value(json_object_get(m, "metric")), metric) &&
		    ((!variant && !mv) || (variant && mv && !strcmp(variant, mv))))
			return m;
	}
	(void)dates; /* upstream before 2.x had the dates here; now each aggregation has its own */
	m = json_pack("{s:s,s:[]}", "metric", metric, "stats");
	if (variant)
		json_object_set_new(m, "variant", json_string(variant));
	json_array_append_new(metrics, m);
	return m;
}

static int
nvariants(const struct series *s, int *only)
{
	int c = 0;
	for (int i = 0; i <= MAX_VARIANTS; i++)
		if (s->var[i]) {
			c++;
			*only = i;
		}
	return c;
}

static void
variant_name(int idx, char *out, size_t outlen)
{
	if (idx == 0)
		snprintf(out, outlen, "total");
	else
		snprintf(out, outlen, "%d", idx - 1);
}

static void
h_get_stats(struct req *q, struct reply *r)
{
	struct range g = {0};
	json_t *items = json_object_get(q->body, "items");
	if (!json_is_array(items) || json_array_size(items) == 0) {
		reply_err(r, 400, 12, "Validation error (items: a non-empty list of {key, aggregation} "
		          "is required)");
		return;
	}
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) {
		json_t *k = json_object_get(it, "key"), *a = json_object_get(it, "aggregation");
		const char *as = json_string_value(a);
		if (!json_is_string(k) || (a && !json_is_null(a) && (!as || (strcmp(as, "avg") &&
		                                                       strcmp(as, "min") &&
		                                                       strcmp(as, "max"))))) {
			reply_err(r, 400, 12, "Validation error (items[%zu]: key is required, aggregation "
			          "one of avg, min, max)", i);
			return;
		}
	}
	int by_variant = 0, by_resource = 0;
	if (req_bool(q, r, "split_by_variant", 0, &by_variant) ||
	    req_bool(q, r, "split_by_resource", 0, &by_resource))
		return;
	json_t *wids = worker_ids_json(q, r);
	if (wids == (json_t *)-1)
		return;
	if (read_range(q, r, &g) != 0)
		return;
	char *wtext = wids ? sq_json_text(wids) : NULL;
	/* cut the last, incomplete interval (10 % tolerance), as upstream */
	size_t nk = g.nkeys;
	while (nk > 0 && (double)g.keys[nk - 1] >= (g.to - 0.9 * (double)g.interval) * 1000.0)
		nk--;
	json_t *dates = dates_json(&g, nk);
	json_t *workers = json_array(), *index = json_object();
	int err = 0;
	json_array_foreach(items, i, it) {
		const char *key = json_string_value(json_object_get(it, "key"));
		const char *as = json_string_value(json_object_get(it, "aggregation"));
		enum agg ag = !as || !strcmp(as, "avg") ? AGG_AVG : !strcmp(as, "min") ? AGG_MIN : AGG_MAX;
		int m = metric_index(key);
		if (m < 0)
			continue;
		struct series *list = load_metric(q->db, sq_company(q), m, &g, wtext, &err);
		int resource = by_resource && str_starts_with(key, "gpu_");
		for (struct series *s = list; s; s = s->next) {
			json_t *w = worker_entry_for(workers, index, s->worker);
			int only = 0, nv = nvariants(s, &only);
			if (by_variant) {
				for (int v = 0; v <= MAX_VARIANTS; v++) {
					if (!s->var[v])
						continue;
					char vn[16];
					variant_name(v, vn, sizeof(vn));
					json_t *me = metric_entry_for(w, key, vn, dates);
					json_array_append_new(json_object_get(me, "stats"), json_pack(
						"{s:s,s:O,s:o,s:[]}", "aggregation", g_agg_names[ag], "dates", dates,
						"values", values_json(s->var[v], nk, ag), "resource_series"));
				}
				continue;
			}
			json_t *rs = json_array();
			if (resource && nv > 1) {
				for (int v = 0; v <= MAX_VARIANTS; v++) {
					if (!s->var[v])
						continue;
					char vn[16];
					variant_name(v, vn, sizeof(vn));
					json_array_append_new(rs, json_pack("{s:s,s:o}", "name", vn, "values",
					                                    values_json(s->var[v], nk, ag)));
				}
			}
			json_t *me = metric_entry_for(w, key, NULL, dates);
			json_array_append_new(json_object_get(me, "stats"), json_pack(
				"{s:s,s:O,s:o,s:o}", "aggregation", g_agg_names[ag], "dates", dates,
				"values", values_json(s->total, nk, ag), "resource_series", rs));
		}
		series_free(list);
		if (err)
			break;
	}
	if (err) {
		reply_err(r, 500, 100, "General data error (reading worker statistics)");
		json_decref(workers);
	} else {
		reply_data(r, json_pack("{s:o}", "workers", workers));
	}
	json_decref(index);
	json_decref(dates);
	free(wtext);
	free(g.keys);
}

/* ---------------------------------------------------------------- get_metric_keys */

static void
h_get_metric_keys(struct req *q, struct reply *r)
{
	json_t *wids = worker_ids_json(q, r);
	if (wids == (json_t *)-1)
		return;
	char *wtext = wids ? sq_json_text(wids) : NULL;
	sqlite3_stmt *st = db_stmt(q->db, "SELECT DISTINCT metric FROM worker_stat_keys"
	                                  " WHERE company = ?1 AND (?2 IS NULL OR worker IN"
	                                  " (SELECT value FROM json_each(?2))) ORDER BY metric");
	if (!st) {
		free(wtext);
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, sq_company(q), -1, SQLITE_STATIC);
	sq_bind_text(st, 2, wtext);
	json_t *cats = json_array(), *index = json_object();
	while (sqlite3_step(st) == SQLITE_ROW) {
		int m = sqlite3_column_int(st, 0);
		if (m < 0 || m >= NMETRICS)
			continue;
		char cat[32];
		metric_category(m, cat, sizeof(cat));
		json_t *c = json_object_get(index, cat);
		if (!c) {
			c = json_pack("{s:s,s:[]}", "name", cat, "metric_keys");
			json_array_append_new(cats, c);
			json_object_set(index, cat, c);
		}
		json_array_append_new(json_object_get(c, "metric_keys"), json_string(g_metrics[m]));
	}
	db_stmt_done(st);
	json_decref(index);
	if (json_array_size(cats) == 0) {
		json_decref(cats);
		reply_err(r, 400, 1005, "worker stats not found (no statistic metrics found for the "
		          "company %s and workers %s)", sq_company(q), wtext ? wtext : "[]");
	} else {
		reply_data(r, json_pack("{s:o}", "categories", cats));
	}
	free(wtext);
}

/* ---------------------------------------------------------------- get_activity_report */

static void
h_get_activity_report(struct req *q, struct reply *r)
{
	struct range g = {0};
	if (read_range(q, r, &g) != 0)
		return;
	int tier = worker_stats_tier_for(g.interval);
	int64_t ivms = g.interval * 1000;
	long long *total = xcalloc(g.nkeys ? g.nkeys : 1, sizeof(long long));
	long long *active = xcalloc(g.nkeys ? g.nkeys : 1, sizeof(long long));
	sqlite3_stmt *st = db_stmt(q->db,
		"SELECT (ts / ?1) * ?1, COUNT(DISTINCT worker),"
		" COUNT(DISTINCT CASE WHEN active THEN worker END) FROM worker_activity"
		" WHERE tier = ?2 AND ts >= ?3 AND ts <= ?4 AND company = ?5 GROUP BY ts / ?1");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		goto out;
	}
	sqlite3_bind_int64(st, 1, ivms);
	sqlite3_bind_int(st, 2, tier);
	sqlite3_bind_int64(st, 3, (int64_t)(g.from * 1000) - (int64_t)(g.from * 1000) %
	                              g_tiers[tier].bucket_ms);
	sqlite3_bind_int64(st, 4, (int64_t)(g.to * 1000));
	sqlite3_bind_text(st, 5, sq_company(q), -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long k = key_index(&g, sqlite3_column_int64(st, 0));
		if (k < 0)
			continue;
		total[k] = sqlite3_column_int64(st, 1);
		active[k] = sqlite3_column_int64(st, 2);
	}
	db_stmt_done(st);
	/* The last bucket [key, key + interval) always reaches past to_date, so it is never
	 * complete; upstream drops it every time (its cutoff compares ms keys with seconds). */
	size_t n = g.nkeys;
	if (n)
		n--;
	json_t *tc = json_array(), *ac = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(tc, json_integer(total[i]));
		json_array_append_new(ac, json_integer(active[i]));
	}
	reply_data(r, json_pack("{s:{s:o,s:o},s:{s:o,s:o}}",
	                        "total", "dates", dates_json(&g, n), "counts", tc,
	                        "active", "dates", dates_json(&g, n), "counts", ac));
out:
	free(total);
	free(active);
	free(g.keys);
}

/* ---------------------------------------------------------------- queues.get_queue_metrics */

struct qpoint {
	int64_t date;
	double wait;
	long long len;
};

static void
h_get_queue_metrics(struct req *q, struct reply *r)
{
	int refresh = 0;
	if (req_bool(q, r, "refresh", 0, &refresh) != 0)
		return;
	size_t nids = 0;
	const char **ids = sq_str_list(json_object_get(q->body, "queue_ids"), &nids);
	if (ids && nids == 0) {
		free(ids);
		ids = NULL;
	}
	/* upstream validates with the same StatsReportBase, but keeps intervals below 40 s */
	double from, to;
	long long iv = 0;
	if (number_field(q, r, "from_date", &from) || number_field(q, r, "to_date", &to) ||
	    req_int(q, r, "interval", 1, &iv)) {
		free(ids);
		return;
	}
	if (iv < 1 || from >= to || (to - from + 3600) / (double)iv > 10 * MAX_BUCKETS) {
		reply_err(r, 400, iv < 1 ? 12 : 16, "invalid value for fields (from_date must be less "
		          "than to_date, interval >= 1 and not too small for the range)");
		free(ids);
		return;
	}
	if (refresh) {
		if (sq_begin(q, r) != 0) {
			free(ids);
			return;
		}
		if (queue_stats_sample(q->db, sq_now_us(), 0) != 0)
			reply_err(r, 500, 100, "General data error (sampling queues)");
		sq_finish(q, r);
		if (r->code) {
			free(ids);
			return;
		}
	}
	json_t *idtext_arr = json_array();
	for (size_t i = 0; ids && i < nids; i++)
		json_array_append_new(idtext_arr, json_string(ids[i]));
	char *idtext = ids ? sq_json_text(idtext_arr) : NULL;
	json_decref(idtext_arr);
	int tier = worker_stats_tier_for(iv);
	int64_t ivms = iv * 1000;
	int64_t chart_start = (int64_t)((from - (double)iv) * 1000.0);
	sqlite3_stmt *st = db_stmt(q->db,
		"SELECT queue, (ts / ?1) * ?1 AS b, MAX(wait_max), MAX(len_max) FROM queue_stats"
		" WHERE tier = ?2 AND ts >= ?3 AND ts <= ?4 AND company = ?5"
		" AND (?6 IS NULL OR queue IN (SELECT value FROM json_each(?6)))"
		" AND queue IN (SELECT id FROM queues WHERE company = ?5)"
		" GROUP BY queue, b ORDER BY b, queue");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		free(idtext);
		free(ids);
		return;
	}
	sqlite3_bind_int64(st, 1, ivms);
	sqlite3_bind_int(st, 2, tier);
	sqlite3_bind_int64(st, 3, (int64_t)((from - 3600) * 1000));
	sqlite3_bind_int64(st, 4, (int64_t)(to * 1000));
	sqlite3_bind_text(st, 5, sq_company(q), -1, SQLITE_STATIC);
	sq_bind_text(st, 6, idtext);
	json_t *per_queue = json_object(), *order = json_array();
	/* for the all-queues average: the last point of every queue, carried forward */
	json_t *last = json_object(), *total = json_pack("{s:[],s:[],s:[]}", "dates",
	                                                 "avg_waiting_times", "queue_lengths");
	int64_t cur_b = INT64_MIN;
	int have_cur = 0;
#define FLUSH_TOTAL()                                                                         \
	do {                                                                                      \
		if (have_cur && cur_b >= chart_start) {                                               \
			long long tl = 0;                                                                 \
			double tw = 0;                                                                    \
			const char *k_;                                                                   \
			json_t *v_;                                                                       \
			json_object_foreach(last, k_, v_) tl += json_integer_value(json_array_get(v_, 1)); \
			json_object_foreach(last, k_, v_) {                                               \
				if (tl)                                                                       \
					tw += json_real_value(json_array_get(v_, 0)) *                            \
					      (double)json_integer_value(json_array_get(v_, 1)) / (double)tl;      \
			}                                                                                 \
			json_array_append_new(json_object_get(total, "dates"), json_integer(cur_b));      \
			json_array_append_new(json_object_get(total, "avg_waiting_times"), json_real(tw)); \
			json_array_append_new(json_object_get(total, "queue_lengths"), json_integer(tl)); \
		}                                                                                     \
	} while (0)
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *qid = sq_col_text(st, 0);
		int64_t b = sqlite3_column_int64(st, 1);
		double w = sqlite3_column_double(st, 2);
		long long len = sqlite3_column_int64(st, 3);
		if (b != cur_b) {
			FLUSH_TOTAL();
			cur_b = b;
			have_cur = 1;
		}
		json_object_set_new(last, qid, json_pack("[f,I]", w, (json_int_t)len));
		if (b < chart_start)
			continue;
		json_t *e = json_object_get(per_queue, qid);
		if (!e) {
			e = json_pack("{s:s,s:[],s:[],s:[]}", "queue", qid, "dates", "avg_waiting_times",
			              "queue_lengths");
			json_object_set_new(per_queue, qid, e);
			json_array_append_new(order, json_string(qid));
		}
		json_array_append_new(json_object_get(e, "dates"), json_integer(b));
		json_array_append_new(json_object_get(e, "avg_waiting_times"), json_real(w));
		json_array_append_new(json_object_get(e, "queue_lengths"), json_integer(len));
	}
	FLUSH_TOTAL();
#undef FLUSH_TOTAL
	db_stmt_done(st);
	json_t *out = json_array();
	if (ids) {
		size_t i;
		json_t *v;
		json_array_foreach(order, i, v)
			json_array_append(out, json_object_get(per_queue, json_string_value(v)));
	} else if (json_array_size(json_object_get(total, "dates"))) {
		json_object_set_new(total, "queue", json_string("total"));
		json_array_append(out, total);
	}
	reply_data(r, json_pack("{s:o}", "queues", out));
	json_decref(per_queue);
	json_decref(order);
	json_decref(last);
	json_decref(total);
	free(idtext);
	free(ids);
}

const struct endpoint worker_stats_endpoints[] = {
	{"workers.get_stats", "2.4", 0, h_get_stats},
	{"workers.get_metric_keys", "2.4", 0, h_get_metric_keys},
	{"workers.get_activity_report", "2.4", 0, h_get_activity_report},
	{"queues.get_queue_metrics", "2.4", 0, h_get_queue_metrics},
	{NULL, NULL, 0, NULL},
};
