/*
 * svc_serving — serving.* (see serving.h). Behaviour kept from upstream (apiserver/bll/serving):
 *
 * - A container is one row of serving_containers, live while now < last call + its timeout
 *   (register's `timeout`, 600 s when a status report registered it). Every read ignores the
 *   expired ones; serving_prune() deletes them. unregister of an unknown container is fine.
 * - register stores the model description; a status report replaces it with the report (the
 *   register time, timeout and ip stay) and appends one statistics sample (the averages of list
 *   values of machine_stats, as upstream writes its Elasticsearch document). Samples are kept
 *   STATS_RETENTION_MS and at most STATS_MAX_ROWS in all, oldest dropped first.
 * - Containers without endpoint_url are "loading"; the others are grouped by url.
 * - get_endpoint_metrics_history is upstream's date histogram over the samples: buckets of
 *   max(interval, 40) s from the epoch; per container and bucket the max (requests) or average
 *   of the metric; the total the sum or the average over the containers that reported in the
 *   bucket; requests charts only the buckets with samples, others every bucket of the range;
 *   the last, incomplete bucket (beyond to - 0.9 interval) dropped; dates in epoch ms.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/serving.h"
#include "server/store_sql.h"
#include "server/svc_txn.h"
#include "server/worker_stats.h"
#include "util.h"

#define DEFAULT_TIMEOUT_SEC 600
#define MIN_CHART_INTERVAL 40
#define STATS_RETENTION_MS (31LL * 86400 * 1000)
#define STATS_MAX_ROWS 2000000
#define FIELD_MAX 4096               /* any string field of a report */
#define MAX_REFERENCES 256
#define MAX_TAGS 256
#define MAX_STAT_VALUES 1024         /* machine_stats list lengths */
#define MAX_CHART_BUCKETS 20000
#define MAX_CHART_INSTANCES 1000
#define PRUNE_EVERY_MS 60000

const char serving_schema[] =
	"CREATE TABLE IF NOT EXISTS serving_containers(company TEXT NOT NULL, id TEXT NOT NULL,"
	"  url TEXT, ip TEXT, register_time INTEGER NOT NULL, timeout INTEGER NOT NULL,"
	"  last_activity INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (company, id));"
	"CREATE INDEX IF NOT EXISTS serving_containers_url ON serving_containers(company, url);"
	"CREATE TABLE IF NOT EXISTS serving_stats(company TEXT NOT NULL, url TEXT NOT NULL,"
	"  container TEXT NOT NULL, ts INTEGER NOT NULL, requests_num REAL, requests_min REAL,"
	"  latency_ms REAL, uptime_sec REAL, cpu_usage REAL, cpu_num REAL, gpu_usage REAL,"
	"  gpu_num REAL, memory_free REAL, memory_used REAL, memory_total REAL,"
	"  gpu_memory_free REAL, gpu_memory_used REAL, gpu_memory_total REAL, disk_free_home REAL,"
	"  network_rx REAL, network_tx REAL);"
	"CREATE INDEX IF NOT EXISTS serving_stats_url ON serving_stats(company, url, ts);"
	"CREATE INDEX IF NOT EXISTS serving_stats_ts ON serving_stats(ts);";

/* A live row: last call + timeout still ahead (times in epoch µs, timeout in s). */
#define LIVE_SQL "last_activity + timeout * 1000000 > ?2"

/* ---------------------------------------------------------------- reading a report */

static int
opt_string(const json_t *body, const char *k, json_t *doc, int number_ok, struct reply *r)
{
	json_t *v = json_object_get(body, k);
	if (!v || json_is_null(v))
		return 0;
	if (number_ok && json_is_integer(v)) {
		json_object_set_new(doc, k, json_sprintf("%lld", (long long)json_integer_value(v)));
		return 0;
	}
	if (number_ok && json_is_real(v)) {
		json_object_set_new(doc, k, json_sprintf("%g", json_real_value(v)));
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) > FIELD_MAX) {
		reply_err(r, 400, 12, "Validation error (expected a string of at most %d characters): "
		          "field=%s", FIELD_MAX, k);
		return -1;
	}
	json_object_set(doc, k, v);
	return 0;
}

static int
opt_strings(const json_t *body, const char *k, json_t *doc, struct reply *r)
{
	json_t *v = json_object_get(body, k);
	if (!v || json_is_null(v))
		return 0;
	size_t i;
	json_t *e;
	int ok = json_is_array(v) && json_array_size(v) <= MAX_TAGS;
	json_array_foreach(v, i, e)
		if (!json_is_string(e) || json_string_length(e) > FIELD_MAX)
			ok = 0;
	if (!ok) {
		reply_err(r, 400, 12, "Validation error (expected a list of strings): field=%s", k);
		return -1;
	}
	json_object_set(doc, k, v);
	return 0;
}

static int
opt_reference(const json_t *body, json_t *doc, struct reply *r)
{
	json_t *v = json_object_get(body, "reference");
	if (!v || json_is_null(v))
		return 0;
	static const char *const types[] = {"app_id", "app_instance", "model", "task", "url", NULL};
	int ok = json_is_array(v) && json_array_size(v) <= MAX_REFERENCES;
	size_t i;
	json_t *e;
	json_t *out = json_array();
	json_array_foreach(v, i, e) {
		const char *t = json_string_value(json_object_get(e, "type"));
		json_t *val = json_object_get(e, "value");
		int known = 0;
		for (const char *const *p = types; t && *p; p++)
			known |= !strcmp(*p, t);
		if (!known || !json_is_string(val) || json_string_length(val) > FIELD_MAX) {
			ok = 0;
			break;
		}
		json_array_append_new(out, json_pack("{s:s,s:O}", "type", t, "value", val));
	}
	if (!ok) {
		json_decref(out);
		reply_err(r, 400, 12, "Validation error (reference items need a type of app_id, "
		          "app_instance, model, task or url and a string value)");
		return -1;
	}
	json_object_set_new(doc, "reference", out);
	return 0;
}

static int
opt_number(const json_t *body, const char *k, int integer, json_t *doc, struct reply *r)
{
	json_t *v = json_object_get(body, k);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || (integer && !json_is_integer(v))) {
		reply_err(r, 400, 12, "Validation error (expected %s): field=%s",
		          integer ? "an integer" : "a number", k);
		return -1;
	}
	json_object_set(doc, k, v);
	return 0;
}

/* machine_stats as workers report it: numbers or lists of numbers, bounded. */
static int
opt_machine_stats(const json_t *body, json_t *doc, struct reply *r)
{
	json_t *v = json_object_get(body, "machine_stats");
	if (!v || json_is_null(v))
		return 0;
	int ok = json_is_object(v) && json_object_size(v) <= 64;
	const char *k;
	json_t *e;
	json_object_foreach((json_t *)(uintptr_t)v, k, e) {
		if (json_is_array(e)) {
			size_t i;
			json_t *x;
			if (json_array_size(e) > MAX_STAT_VALUES)
				ok = 0;
			json_array_foreach(e, i, x)
				if (!json_is_number(x))
					ok = 0;
		} else if (!json_is_number(e) && !json_is_null(e)) {
			ok = 0;
		}
	}
	if (!ok) {
		reply_err(r, 400, 12, "Validation error (machine_stats holds numbers or lists of "
		          "numbers)");
		return -1;
	}
	json_object_set(doc, "machine_stats", v);
	return 0;
}

/* The stored document of a register or status report (new object), or NULL with r filled. */
static json_t *
report_doc(struct req *q, struct reply *r, int status_report)
{
	const char *cid, *ename, *mname;
	if (req_str(q, r, "container_id", 1, &cid) != 0 ||
	    req_str(q, r, "endpoint_name", 1, &ename) != 0 ||
	    req_str(q, r, "model_name", 1, &mname) != 0)
		return NULL;
	if (!*cid || strlen(cid) > 256 || strlen(ename) > FIELD_MAX || strlen(mname) > FIELD_MAX) {
		reply_err(r, 400, 12, "Validation error (container_id must be 1 to 256 characters, "
		          "names at most %d)", FIELD_MAX);
		return NULL;
	}
	json_t *doc = json_pack("{s:s,s:s,s:s}", "container_id", cid, "endpoint_name", ename,
	                        "model_name", mname);
	static const char *const strs[] = {"endpoint_url", "model_source", "model_version",
	                                   "preprocess_artifact", "input_type", NULL};
	int rc = 0;
	for (const char *const *k = strs; *k && rc == 0; k++)
		rc = opt_string(q->body, *k, doc, 0, r);
	if (rc == 0)
		rc = opt_string(q->body, "input_size", doc, 1, r);
	if (rc == 0)
		rc = opt_strings(q->body, "tags", doc, r);
	if (rc == 0)
		rc = opt_strings(q->body, "system_tags", doc, r);
	if (rc == 0)
		rc = opt_reference(q->body, doc, r);
	if (rc == 0 && status_report) {
		rc = opt_number(q->body, "uptime_sec", 1, doc, r);
		if (rc == 0)
			rc = opt_number(q->body, "requests_num", 1, doc, r);
		if (rc == 0)
			rc = opt_number(q->body, "requests_min", 0, doc, r);
		if (rc == 0)
			rc = opt_number(q->body, "latency_ms", 1, doc, r);
		if (rc == 0)
			rc = opt_machine_stats(q->body, doc, r);
	}
	if (rc != 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int
save_container(struct req *q, const json_t *doc, const char *ip, int64_t register_time,
               long long timeout, int64_t now)
{
	const char *url = json_string_value(json_object_get(doc, "endpoint_url"));
	char *text = sq_json_text(doc);
	sqlite3_stmt *st = db_stmt(q->db, "INSERT OR REPLACE INTO serving_containers(company, id, "
	                                  "url, ip, register_time, timeout, last_activity, doc) "
	                                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	int rc = -1;
	if (st) {
		sqlite3_bind_text(st, 1, sq_company(q), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, json_string_value(json_object_get(doc, "container_id")), -1,
		                  SQLITE_STATIC);
		sq_bind_text(st, 3, url && *url ? url : NULL);
		sq_bind_text(st, 4, ip);
		sqlite3_bind_int64(st, 5, register_time);
		sqlite3_bind_int64(st, 6, timeout);
		sqlite3_bind_int64(st, 7, now);
		sqlite3_bind_text(st, 8, text, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		db_stmt_done(st);
	}
	free(text);
	return rc;
}

/* ---------------------------------------------------------------- register / report */

static void
serving_register(struct req *q, struct reply *r)
{
	long long timeout = DEFAULT_TIMEOUT_SEC;
	if (req_int(q, r, "timeout", 0, &timeout) != 0)
		return;
	if (timeout < 1) {
		reply_err(r, 400, 12, "Validation error (timeout must be at least 1): timeout=%lld",
		          timeout);
		return;
	}
	json_t *doc = report_doc(q, r, 0);
	if (!doc)
		return;
	if (sq_begin(q, r) == 0) {
		int64_t now = sq_now_us();
		if (save_container(q, doc, q->client_ip, now, timeout, now) != 0)
			reply_err(r, 500, 100, "General data error (%s)", sqlite3_errmsg(q->db));
		else
			reply_data(r, json_object());
		sq_finish(q, r);
	}
	json_decref(doc);
}

static void
serving_unregister(struct req *q, struct reply *r)
{
	const char *cid;
	if (req_str(q, r, "container_id", 1, &cid) != 0)
		return;
	if (sq_begin(q, r) != 0)
		return;
	sqlite3_stmt *st = db_stmt(q->db, "DELETE FROM serving_containers WHERE company = ?1 AND "
	                                  "id = ?2");
	if (st) {
		sqlite3_bind_text(st, 1, sq_company(q), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
	}
	if (!st || sqlite3_step(st) != SQLITE_DONE)
		reply_err(r, 500, 100, "General data error");
	else
		reply_data(r, json_object());
	if (st)
		db_stmt_done(st);
	sq_finish(q, r);
}

/* List values average to one number and count how many there were (upstream's
 * _get_average_value); scalars count one. 0 when there is nothing. */
static int
stat_avg(const json_t *v, double *avg, double *count)
{
	if (json_is_number(v)) {
		*avg = json_number_value(v);
		*count = 1;
		return 1;
	}
	if (!json_is_array(v) || !json_array_size(v))
		return 0;
	double sum = 0;
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x)
		sum += json_number_value(x);
	*count = (double)json_array_size(v);
	*avg = sum / *count;
	return 1;
}

enum {
	SC_REQUESTS_NUM, SC_REQUESTS_MIN, SC_LATENCY, SC_UPTIME, SC_CPU_USAGE, SC_CPU_NUM,
	SC_GPU_USAGE, SC_GPU_NUM, SC_MEM_FREE, SC_MEM_USED, SC_MEM_TOTAL, SC_GMEM_FREE,
	SC_GMEM_USED, SC_GMEM_TOTAL, SC_DISK_FREE, SC_NET_RX, SC_NET_TX, NSC
};

static const char *const g_stat_cols[NSC] = {
	"requests_num", "requests_min", "latency_ms", "uptime_sec", "cpu_usage", "cpu_num",
	"gpu_usage", "gpu_num", "memory_free", "memory_used", "memory_total", "gpu_memory_free",
	"gpu_memory_used", "gpu_memory_total", "disk_free_home", "network_rx", "network_tx",
};

static int
record_sample(struct req *q, const json_t *doc, int64_t now_us)
{
	double val[NSC];
	int have[NSC];
	memset(have, 0, sizeof(have));
	static const char *const top[] = {"requests_num", "requests_min", "latency_ms", "uptime_sec"};
	for (int i = 0; i < 4; i++) {
		json_t *v = json_object_get(doc, top[i]);
		if ((have[i] = json_is_number(v)))
			val[i] = json_number_value(v);
	}
	const json_t *ms = json_object_get(doc, "machine_stats");
	if (json_is_object(ms)) {
		double c;
		have[SC_CPU_USAGE] = have[SC_CPU_NUM] =
			stat_avg(json_object_get(ms, "cpu_usage"), &val[SC_CPU_USAGE], &val[SC_CPU_NUM]);
		have[SC_GPU_USAGE] = have[SC_GPU_NUM] =
			stat_avg(json_object_get(ms, "gpu_usage"), &val[SC_GPU_USAGE], &val[SC_GPU_NUM]);
		static const char *const mem[2] = {"memory", "gpu_memory"};
		for (int m = 0; m < 2; m++) {
			int base = m ? SC_GMEM_FREE : SC_MEM_FREE;
			char k[32];
			snprintf(k, sizeof(k), "%s_free", mem[m]);
			have[base] = stat_avg(json_object_get(ms, k), &val[base], &c);
			snprintf(k, sizeof(k), "%s_used", mem[m]);
			have[base + 1] = stat_avg(json_object_get(ms, k), &val[base + 1], &c);
			val[base + 2] = round(((have[base] ? val[base] : 0) +
			                       (have[base + 1] ? val[base + 1] : 0)) * 1000) / 1000;
			have[base + 2] = 1;
		}
		static const int scal[3] = {SC_DISK_FREE, SC_NET_RX, SC_NET_TX};
		for (int i = 0; i < 3; i++) {
			json_t *v = json_object_get(ms, g_stat_cols[scal[i]]);
			if ((have[scal[i]] = json_is_number(v)))
				val[scal[i]] = json_number_value(v);
		}
	}
	sqlite3_stmt *st = db_stmt(q->db,
		"INSERT INTO serving_stats(company, url, container, ts, requests_num, requests_min,"
		" latency_ms, uptime_sec, cpu_usage, cpu_num, gpu_usage, gpu_num, memory_free,"
		" memory_used, memory_total, gpu_memory_free, gpu_memory_used, gpu_memory_total,"
		" disk_free_home, network_rx, network_tx) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		" ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, sq_company(q), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, json_string_value(json_object_get(doc, "endpoint_url")), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json_string_value(json_object_get(doc, "container_id")), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_us / 1000);
	for (int i = 0; i < NSC; i++) {
		if (have[i])
			sqlite3_bind_double(st, 5 + i, val[i]);
		else
			sqlite3_bind_null(st, 5 + i);
	}
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	return rc;
}

static void
serving_status_report(struct req *q, struct reply *r)
{
	const char *url = NULL;
	if (req_str(q, r, "endpoint_url", 0, &url) != 0)
		return;
	if (!url || !*url) {
		reply_err(r, 400, 12, "Validation error (Missing required field 'endpoint_url')");
		return;
	}
	json_t *doc = report_doc(q, r, 1);
	if (!doc)
		return;
	if (sq_begin(q, r) != 0) {
		json_decref(doc);
		return;
	}
	int64_t now = sq_now_us(), register_time = now;
	long long timeout = DEFAULT_TIMEOUT_SEC;
	char ip[64] = "";
	sqlite3_stmt *st = db_stmt(q->db, "SELECT register_time, timeout, ip FROM serving_containers"
	                                  " WHERE company = ?1 AND id = ?3 AND " LIVE_SQL);
	if (st) {
		sqlite3_bind_text(st, 1, sq_company(q), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_text(st, 3, json_string_value(json_object_get(doc, "container_id")), -1,
		                  SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			register_time = sqlite3_column_int64(st, 0);
			timeout = sqlite3_column_int64(st, 1);
			snprintf(ip, sizeof(ip), "%s", sq_col_text(st, 2));
		}
		db_stmt_done(st);
	}
	const char *use_ip = q->client_ip && *q->client_ip ? q->client_ip : ip;
	if (!st || save_container(q, doc, use_ip, register_time, timeout, now) != 0 ||
	    record_sample(q, doc, now) != 0)
		reply_err(r, 500, 100, "General data error (%s)", sqlite3_errmsg(q->db));
	else
		reply_data(r, json_object());
	sq_finish(q, r);
	json_decref(doc);
}

/* ---------------------------------------------------------------- reading containers */

struct entry {
	json_t *doc;
	int64_t register_time, last_activity;
};

/* Live containers of the company: url NULL → the loading ones, "" → every one with a url,
 * else those of that url. *n gets the count; a new array (caller frees with entries_free). */
static struct entry *
load_entries(struct req *q, const char *url, size_t *n)
{
	const char *sql = !url ? "SELECT doc, register_time, last_activity FROM serving_containers"
	                         " WHERE company = ?1 AND url IS NULL AND " LIVE_SQL
	                         " ORDER BY register_time, id"
	                  : !*url ? "SELECT doc, register_time, last_activity FROM serving_containers"
	                            " WHERE company = ?1 AND url IS NOT NULL AND " LIVE_SQL
	                            " ORDER BY url, register_time, id"
	                          : "SELECT doc, register_time, last_activity FROM serving_containers"
	                            " WHERE company = ?1 AND url = ?3 AND " LIVE_SQL
	                            " ORDER BY register_time, id";
	sqlite3_stmt *st = db_stmt(q->db, sql);
	struct entry *out = NULL;
	size_t cap = 0;
	*n = 0;
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, sq_company(q), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, sq_now_us());
	if (url && *url)
		sqlite3_bind_text(st, 3, url, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *doc = sq_col_json(st, 0, 0);
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			out = xreallocarray(out, cap, sizeof(*out));
		}
		out[*n].doc = doc;
		out[*n].register_time = sqlite3_column_int64(st, 1);
		out[*n].last_activity = sqlite3_column_int64(st, 2);
		(*n)++;
	}
	db_stmt_done(st);
	return out;
}

static void
entries_free(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(e[i].doc);
	free(e);
}

static json_t *
field_or_null(const json_t *doc, const char *k)
{
	json_t *v = json_object_get(doc, k);
	return v ? json_incref(v) : json_null();
}

/* Python's round(x, digits): half to even at the last digit. */
static double
py_round(double x, int digits)
{
	double m = pow(10, digits);
	return nearbyint(x * m) / m;
}

/* The summary of one url's containers e[0..n) (upstream _get_summary). */
static json_t *
endpoint_summary(const struct entry *e, size_t n)
{
	double up_max = 0, req_total = 0, rmin_sum = 0, lat_sum = 0;
	int up_have = 0, rmin_n = 0, lat_n = 0;
	int64_t last = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *v;
		if (json_is_number(v = json_object_get(e[i].doc, "uptime_sec")) &&
		    (!up_have || json_number_value(v) > up_max))
			up_max = json_number_value(v), up_have = 1;
		if (json_is_number(v = json_object_get(e[i].doc, "requests_num")))
			req_total += json_number_value(v);
		if (json_is_number(v = json_object_get(e[i].doc, "requests_min")))
			rmin_sum += json_number_value(v), rmin_n++;
		if (json_is_number(v = json_object_get(e[i].doc, "latency_ms")))
			lat_sum += json_number_value(v), lat_n++;
		if (e[i].last_activity > last)
			last = e[i].last_activity;
	}
	return json_pack("{s:o,s:o,s:o,s:I,s:o,s:I,s:o,s:o,s:o}",
	                 "endpoint", field_or_null(e[0].doc, "endpoint_name"),
	                 "model", field_or_null(e[0].doc, "model_name"),
	                 "url", field_or_null(e[0].doc, "endpoint_url"),
	                 "instances", (json_int_t)n,
	                 "uptime_sec", up_have ? json_integer((json_int_t)up_max) : json_null(),
	                 "requests", (json_int_t)req_total,
	                 "requests_min", rmin_n ? json_real(py_round(rmin_sum / rmin_n, 2))
	                                        : json_null(),
	                 "latency_ms", lat_n ? json_integer((json_int_t)py_round(lat_sum / lat_n, 0))
	                                     : json_null(),
	                 "last_update", sq_iso(last));
}

static void
serving_get_endpoints(struct req *q, struct reply *r)
{
	size_t n;
	struct entry *e = load_entries(q, "", &n);
	json_t *list = json_array();
	for (size_t i = 0; i < n;) {
		const char *url = json_string_value(json_object_get(e[i].doc, "endpoint_url"));
		size_t j = i + 1;
		while (j < n && url &&
		       !strcmp(url, sq_str(json_object_get(e[j].doc, "endpoint_url"))))
			j++;
		json_array_append_new(list, endpoint_summary(e + i, j - i));
		i = j;
	}
	entries_free(e, n);
	reply_data(r, json_pack("{s:o}", "endpoints", list));
}

static void
serving_get_loading_instances(struct req *q, struct reply *r)
{
	size_t n;
	struct entry *e = load_entries(q, NULL, &n);
	json_t *list = json_array();
	int64_t now = sq_now_us();
	for (size_t i = 0; i < n; i++) {
		const json_t *d = e[i].doc;
		json_array_append_new(list, json_pack(
			"{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o}",
			"id", field_or_null(d, "container_id"), "endpoint", field_or_null(d, "endpoint_name"),
			"url", field_or_null(d, "endpoint_url"), "model", field_or_null(d, "model_name"),
			"model_source", field_or_null(d, "model_source"),
			"model_version", field_or_null(d, "model_version"),
			"preprocess_artifact", field_or_null(d, "preprocess_artifact"),
			"input_type", field_or_null(d, "input_type"),
			"input_size", field_or_null(d, "input_size"),
			"uptime_sec", field_or_null(d, "uptime_sec"),
			"age_sec", (json_int_t)((now - e[i].register_time) / 1000000),
			"last_update", sq_iso(e[i].last_activity)));
	}
	entries_free(e, n);
	reply_data(r, json_pack("{s:o}", "instances", list));
}

/* cpu_count / gpu_count of an instance: how many values its machine_stats usage held. */
static json_int_t
usage_count(const json_t *doc, const char *k)
{
	json_t *v = json_object_get(json_object_get(doc, "machine_stats"), k);
	return json_is_array(v) ? (json_int_t)json_array_size(v) : v && !json_is_null(v) ? 1 : 0;
}

static void
serving_get_endpoint_details(struct req *q, struct reply *r)
{
	const char *url;
	if (req_str(q, r, "endpoint_url", 1, &url) != 0)
		return;
	size_t n = 0;
	struct entry *e = *url ? load_entries(q, url, &n) : NULL;
	if (!n) {
		entries_free(e, n);
		reply_err(r, 400, 1052, "No container instances found for service url: url=%s", url);
		return;
	}
	json_t *instances = json_array();
	double up_max = 0;
	int up_have = 0;
	int64_t last = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *d = e[i].doc;
		json_t *up = json_object_get(d, "uptime_sec");
		if (json_is_number(up) && (!up_have || json_number_value(up) > up_max))
			up_max = json_number_value(up), up_have = 1;
		if (e[i].last_activity > last)
			last = e[i].last_activity;
		json_t *ref = json_object_get(d, "reference");
		json_array_append_new(instances, json_pack(
			"{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I}",
			"id", field_or_null(d, "container_id"), "uptime_sec", field_or_null(d, "uptime_sec"),
			"requests", field_or_null(d, "requests_num"),
			"requests_min", field_or_null(d, "requests_min"),
			"latency_ms", field_or_null(d, "latency_ms"),
			"last_update", sq_iso(e[i].last_activity),
			"reference", ref ? json_incref(ref) : json_array(),
			"cpu_count", usage_count(d, "cpu_usage"), "gpu_count", usage_count(d, "gpu_usage")));
	}
	const json_t *f = e[0].doc;
	reply_data(r, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
		"endpoint", field_or_null(f, "endpoint_name"), "model", field_or_null(f, "model_name"),
		"url", field_or_null(f, "endpoint_url"),
		"preprocess_artifact", field_or_null(f, "preprocess_artifact"),
		"input_type", field_or_null(f, "input_type"), "input_size", field_or_null(f, "input_size"),
		"model_source", field_or_null(f, "model_source"),
		"model_version", field_or_null(f, "model_version"),
		"uptime_sec", up_have ? json_integer((json_int_t)up_max) : json_null(),
		"last_update", sq_iso(last), "instances", instances));
	entries_free(e, n);
}

/* ---------------------------------------------------------------- metric charts */

struct chart_metric {
	const char *name;         /* metric_type */
	int col;                  /* SC_* */
	const char *title;
	int sum;                  /* total over instances: sum (else average) */
	double mul;               /* 0: none */
};

static const struct chart_metric g_charts[] = {
	{"requests", SC_REQUESTS_NUM, "Number of Requests", 1, 0},
	{"requests_min", SC_REQUESTS_MIN, "Requests per Minute", 1, 0},
	{"latency_ms", SC_LATENCY, "Average Latency (ms)", 0, 0},
	{"cpu_count", SC_CPU_NUM, "CPU Count", 1, 0},
	{"gpu_count", SC_GPU_NUM, "GPU Count", 1, 0},
	{"cpu_util", SC_CPU_USAGE, "Average CPU Load (%)", 0, 0},
	{"gpu_util", SC_GPU_USAGE, "Average GPU Utilization (%)", 0, 0},
	{"ram_total", SC_MEM_TOTAL, "RAM Total (GB)", 1, 1.0 / 1024},
	{"ram_used", SC_MEM_USED, "RAM Used (GB)", 1, 1.0 / 1024},
	{"ram_free", SC_MEM_FREE, "RAM Free (GB)", 1, 1.0 / 1024},
	{"gpu_ram_total", SC_GMEM_TOTAL, "GPU RAM Total (GB)", 1, 1.0 / 1024},
	{"gpu_ram_used", SC_GMEM_USED, "GPU RAM Used (GB)", 1, 1.0 / 1024},
	{"gpu_ram_free", SC_GMEM_FREE, "GPU RAM Free (GB)", 1, 1.0 / 1024},
	{"network_rx", SC_NET_RX, "Network Throughput RX (MBps)", 1, 0},
	{"network_tx", SC_NET_TX, "Network Throughput TX (MBps)", 1, 0},
};

/* One container's samples in one bucket. */
struct cell {
	double agg;               /* max or sum of values */
	int docs, vals;
};

static json_t *
chart_value(double v, double mul)
{
	return v != 0 && !isnan(v) ? json_real(py_round(v * (mul ? mul : 1.0), 2)) : json_integer(0);
}

static int
number_field(struct req *q, struct reply *r, const char *k, double *out)
{
	json_t *v = json_object_get(q->body, k);
	if (!json_is_number(v) || json_number_value(v) < 0) {
		reply_err(r, 400, 12, "Validation error (%s must be a number >= 0)", k);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

static void
serving_get_metrics_history(struct req *q, struct reply *r)
{
	const char *url, *type = "requests";
	double from, to;
	long long interval;
	int instance_charts = 1;
	if (req_str(q, r, "endpoint_url", 1, &url) != 0 || number_field(q, r, "from_date", &from) ||
	    number_field(q, r, "to_date", &to) || req_int(q, r, "interval", 1, &interval) != 0 ||
	    req_str(q, r, "metric_type", 0, &type) != 0 ||
	    req_bool(q, r, "instance_charts", 0, &instance_charts) != 0)
		return;
	if (interval < 1) {
		reply_err(r, 400, 12, "Validation error (interval must be at least 1)");
		return;
	}
	const struct chart_metric *m = NULL;
	for (size_t i = 0; i < ARRAY_LEN(g_charts); i++)
		if (!strcmp(g_charts[i].name, type))
			m = &g_charts[i];
	if (!m) {
		reply_err(r, 400, 12, "Validation error (unknown metric_type): metric_type=%s", type);
		return;
	}
	if (from >= to) {
		reply_err(r, 400, 16, "Invalid value for fields (from_date must be less than to_date)");
		return;
	}
	if (interval < MIN_CHART_INTERVAL)
		interval = MIN_CHART_INTERVAL;
	json_t *total_dates = json_array(), *total_vals = json_array(), *insts = json_object();
	json_t *data = json_pack("{s:I,s:{s:s,s:o,s:o},s:o}", "computed_interval",
	                         (json_int_t)interval, "total", "title", m->title, "dates",
	                         total_dates, "values", total_vals, "instances", insts);
	int64_t *keys = xcalloc(MAX_CHART_BUCKETS, sizeof(*keys));
	size_t nb = worker_stats_buckets(from, to, interval, keys, MAX_CHART_BUCKETS);
	int64_t iv = interval * 1000;
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT container, ts, %s FROM serving_stats WHERE company = ?1 "
	         "AND url = ?2 AND ts >= ?3 AND ts <= ?4", g_stat_cols[m->col]);
	sqlite3_stmt *st = db_stmt(q->db, sql);
	if (!st || !nb) {
		if (st)
			db_stmt_done(st);
		free(keys);
		reply_data(r, data);
		return;
	}
	sqlite3_bind_text(st, 1, sq_company(q), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)ceil(from * 1000));
	sqlite3_bind_int64(st, 4, (int64_t)floor(to * 1000));
	/* containers → index; cells[inst * nb + bucket] */
	json_t *index = json_object();
	struct cell *cells = NULL;
	size_t ninst = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *cid = sq_col_text(st, 0);
		int64_t b = (sqlite3_column_int64(st, 1) / iv) * iv;
		if (b < keys[0] || b > keys[nb - 1])
			continue;
		size_t bi = (size_t)((b - keys[0]) / iv);
		json_t *ix = json_object_get(index, cid);
		if (!ix) {
			if (ninst >= MAX_CHART_INSTANCES)
				continue;
			json_object_set_new(index, cid, ix = json_integer((json_int_t)ninst));
			cells = xreallocarray(cells, (ninst + 1) * nb, sizeof(*cells));
			memset(cells + ninst * nb, 0, nb * sizeof(*cells));
			ninst++;
		}
		struct cell *c = &cells[(size_t)json_integer_value(ix) * nb + bi];
		c->docs++;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			double v = sqlite3_column_double(st, 2);
			if (m->col == SC_REQUESTS_NUM)
				c->agg = c->vals && c->agg > v ? c->agg : v;
			else
				c->agg += v;
			c->vals++;
		}
	}
	db_stmt_done(st);
	if (!ninst) {
		json_decref(index);
		free(keys);
		reply_data(r, data);
		return;
	}
	double last_valid = (to - 0.9 * (double)interval) * 1000;
	json_t **ivals = xcalloc(ninst, sizeof(*ivals));
	for (size_t i = 0; i < ninst; i++)
		ivals[i] = json_array();
	for (size_t b = 0; b < nb; b++) {
		if ((double)keys[b] > last_valid)
			break;
		double tot = 0;
		int present = 0;
		for (size_t i = 0; i < ninst; i++)
			present += cells[i * nb + b].docs > 0;
		if (m->col == SC_REQUESTS_NUM && !present)
			continue; /* min_doc_count 1 */
		for (size_t i = 0; i < ninst; i++) {
			const struct cell *c = &cells[i * nb + b];
			double sample = !c->vals ? 0 : m->col == SC_REQUESTS_NUM ? c->agg
			                                                         : c->agg / c->vals;
			if (c->docs)
				tot += sample;
			json_array_append_new(ivals[i], chart_value(sample, m->mul));
		}
		if (!m->sum && present)
			tot /= present;
		json_array_append_new(total_dates, json_integer(keys[b]));
		json_array_append_new(total_vals, chart_value(tot, m->mul));
	}
	if (instance_charts) {
		const char *cid;
		json_t *ix;
		json_object_foreach(index, cid, ix) {
			size_t i = (size_t)json_integer_value(ix);
			json_object_set_new(insts, cid, json_pack("{s:s,s:O,s:O}", "title", cid, "dates",
			                                          total_dates, "values", ivals[i]));
		}
	}
	for (size_t i = 0; i < ninst; i++)
		json_decref(ivals[i]);
	free(ivals);
	free(cells);
	free(keys);
	json_decref(index);
	reply_data(r, data);
}

/* ---------------------------------------------------------------- retention */

void
serving_prune(sqlite3 *db, int64_t now)
{
	static int64_t last;
	if (now - last < PRUNE_EVERY_MS)
		return;
	last = now;
	if (db_begin(db) != 0)
		return;
	sqlite3_stmt *a = db_stmt(db, "DELETE FROM serving_containers WHERE "
	                              "last_activity + timeout * 1000000 <= ?1");
	sqlite3_stmt *b;
	int rc = -1;
	if (a) {
		sqlite3_bind_int64(a, 1, now * 1000);
		rc = sqlite3_step(a) == SQLITE_DONE ? 0 : -1;
		db_stmt_done(a);
	}
	if (rc == 0 && (b = db_stmt(db, "DELETE FROM serving_stats WHERE ts < ?1")) != NULL) {
		sqlite3_bind_int64(b, 1, now - STATS_RETENTION_MS);
		rc = sqlite3_step(b) == SQLITE_DONE ? 0 : -1;
		db_stmt_done(b);
	}
	/* The row cap: drop the oldest beyond it (ts index; rowid order is insertion order). */
	if (rc == 0 && (b = db_stmt(db, "DELETE FROM serving_stats WHERE rowid <= (SELECT max(rowid)"
	                                " FROM serving_stats) - ?1")) != NULL) {
		sqlite3_bind_int64(b, 1, STATS_MAX_ROWS);
		rc = sqlite3_step(b) == SQLITE_DONE ? 0 : -1;
		db_stmt_done(b);
	}
	if (rc == 0)
		db_commit(db);
	else
		db_rollback(db);
}

const struct endpoint svc_serving_endpoints[] = {
	{"serving.register_container", "2.31", 0, serving_register},
	{"serving.unregister_container", "2.31", 0, serving_unregister},
	{"serving.container_status_report", "2.31", 0, serving_status_report},
	{"serving.get_endpoints", "2.31", 0, serving_get_endpoints},
	{"serving.get_loading_instances", "2.31", 0, serving_get_loading_instances},
	{"serving.get_endpoint_details", "2.31", 0, serving_get_endpoint_details},
	{"serving.get_endpoint_metrics_history", "2.31", 0, serving_get_metrics_history},
	{NULL, NULL, 0, NULL},
};
