/*
 * event_store — task events (logs, scalars, vectors, plots, debug images) in SQLite for
 * clearml-server-lite (spec clearml-api §6): the schema, the §6.1 normalization of an incoming
 * event (pure, unit-tested), batched inserts with one prepared statement, and deletion.
 *
 * Ingest is the hot path (the agent ships ~1 MiB packets of 64 KiB log events): a batch is one
 * transaction and one statement; the log text goes in its own column exactly as received.
 * Non-log events carry an overwrite key (task-iter-metric-variant-key, like the real server's
 * md5 id) with a partial unique index, so a re-sent scalar replaces the old one.
 */
#include <stdlib.h>
#include <string.h>

#include "server/event_store.h"
#include "server/server.h"
#include "server/store_sql.h"
#include "util.h"

const char svc_events_schema[] =
	"CREATE TABLE IF NOT EXISTS events ("
	"  seq INTEGER PRIMARY KEY,"
	"  task TEXT NOT NULL,"
	"  company TEXT NOT NULL DEFAULT '',"
	"  type TEXT NOT NULL,"
	"  timestamp INTEGER NOT NULL,"
	"  iter INTEGER,"
	"  metric TEXT NOT NULL DEFAULT '',"
	"  variant TEXT NOT NULL DEFAULT '',"
	"  evkey TEXT,"
	"  value REAL,"
	"  msg TEXT,"
	"  doc TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS events_by_time ON events(task, type, timestamp);"
	"CREATE INDEX IF NOT EXISTS events_by_iter ON events(task, type, iter);"
	"CREATE UNIQUE INDEX IF NOT EXISTS events_by_key ON events(task, type, evkey)"
	"  WHERE evkey IS NOT NULL;"
	/* navigation states behind the plots / debug images scroll_id (event_scroll.c) */
	"CREATE TABLE IF NOT EXISTS event_scroll ("
	"  id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  company TEXT NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  doc TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS event_scroll_by_expiry ON event_scroll(expires);";

static const char *const event_types[] = {
	"training_stats_scalar", "training_stats_vector", "training_debug_image", "plot", "log",
};

/* An integer from a JSON number that must be integral and fit int64. */
static int
json_int64(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= -9.2233720368547758e18 && d < 9.2233720368547758e18) {
			*out = (int64_t)d;
			return 0;
		}
		return -1;
	}
	if (json_is_string(v)) {
		long long x;
		if (parse_long(json_string_value(v), INT64_MIN, INT64_MAX, &x) == 0) {
			*out = x;
			return 0;
		}
	}
	return -1;
}

int
event_normalize(json_t *ev, const char *worker_header, int64_t now_ms_val, char **evkey_out,
                const char **why)
{
	*evkey_out = NULL;
	if (!json_is_object(ev)) {
		*why = "Event must be a JSON object";
		return -1;
	}
	json_t *tv = json_object_get(ev, "type");
	if (!json_is_string(tv) || !*json_string_value(tv)) {
		*why = "Event must have a 'type' field";
		return -1;
	}
	char type[64];
	if (json_string_length(tv) >= sizeof type) {
		*why = "Invalid event type";
		return -1;
	}
	snprintf(type, sizeof type, "%s", json_string_value(tv));
	for (char *p = type; *p; p++)
		if (*p == ' ')
			*p = '_';
	int known = 0;
	for (size_t i = 0; i < ARRAY_LEN(event_types); i++)
		known |= strcmp(type, event_types[i]) == 0;
	if (!known) {
		*why = "Invalid event type";
		return -1;
	}
	json_object_set_new(ev, "type", json_string(type));
	json_t *task = json_object_get(ev, "task");
	if (!json_is_string(task) || !*json_string_value(task)) {
		*why = "Event must have a 'task' field";
		return -1;
	}

	json_t *ts = json_object_get(ev, "timestamp");
	if (!ts || json_is_null(ts)) {
		ts = json_object_get(ev, "ts");
		if (ts && !json_is_null(ts))
			json_object_set(ev, "timestamp", ts);
		else
			json_object_set_new(ev, "timestamp", json_integer(now_ms_val));
	}
	json_object_del(ev, "ts");
	int64_t t;
	if (json_int64(json_object_get(ev, "timestamp"), &t) != 0) {
		*why = "Invalid timestamp";
		return -1;
	}
	json_object_set_new(ev, "timestamp", json_integer(t));

	json_t *it = json_object_get(ev, "iter");
	if (it && !json_is_null(it)) {
		int64_t iv;
		if (json_int64(it, &iv) != 0) {
			*why = "Iteration value out of range";
			return -1;
		}
		json_object_set_new(ev, "iter", json_integer(iv));
	} else if (it) {
		json_object_del(ev, "iter");
	}
	if (!json_is_string(json_object_get(ev, "metric")))
		json_object_set_new(ev, "metric", json_string(""));
	if (!json_is_string(json_object_get(ev, "variant")))
		json_object_set_new(ev, "variant", json_string(""));
	json_t *wv = json_object_get(ev, "worker");
	if ((!json_is_string(wv) || !*json_string_value(wv)) && worker_header && *worker_header)
		json_object_set_new(ev, "worker", json_string(worker_header));
	json_t *values = json_object_get(ev, "values");
	if (values) {
		json_object_set(ev, "value", values);
		json_object_del(ev, "values");
	}
	if (!json_is_boolean(json_object_get(ev, "model_event")))
		json_object_set_new(ev, "model_event", json_false());
	char iso[64];
	iso_time(now_ms_val * 1000, iso, sizeof iso);
	json_object_set_new(ev, "@timestamp", json_string(iso));

	if (strcmp(type, "log") != 0) {
		struct buf k;
		buf_init(&k, 1u << 20);
		static const char *const idf[] = {"task", "iter", "metric", "variant", "key"};
		for (size_t i = 0; i < ARRAY_LEN(idf); i++) {
			json_t *v = json_object_get(ev, idf[i]);
			if (!v)
				continue;
			if (k.len)
				buf_puts(&k, "-");
			if (json_is_string(v))
				buf_puts(&k, json_string_value(v));
			else if (json_is_integer(v))
				buf_printf(&k, "%lld", (long long)json_integer_value(v));
			else {
				char *s = sq_json_text(v);
				buf_puts(&k, s);
				free(s);
			}
		}
		*evkey_out = buf_steal(&k);
		buf_free(&k);
	}
	return 0;
}

int
event_insert_begin(sqlite3 *db, struct event_insert *ins)
{
	ins->db = db;
	ins->st = sq_prepare(db,
		"INSERT OR REPLACE INTO events(task, company, type, timestamp, iter, metric, variant,"
		" evkey, value, msg, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	return ins->st ? 0 : -1;
}

int
event_insert(struct event_insert *ins, const char *company, json_t *ev, const char *msg,
             size_t msglen, const char *evkey)
{
	sqlite3_stmt *st = ins->st;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, json_string_value(json_object_get(ev, "task")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json_string_value(json_object_get(ev, "type")), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(ev, "timestamp")));
	json_t *it = json_object_get(ev, "iter");
	if (json_is_integer(it))
		sqlite3_bind_int64(st, 5, json_integer_value(it));
	sqlite3_bind_text(st, 6, json_string_value(json_object_get(ev, "metric")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, json_string_value(json_object_get(ev, "variant")), -1, SQLITE_STATIC);
	if (evkey)
		sqlite3_bind_text(st, 8, evkey, -1, SQLITE_STATIC);
	json_t *val = json_object_get(ev, "value");
	if (json_is_number(val))
		sqlite3_bind_double(st, 9, json_number_value(val));
	if (msg)
		sqlite3_bind_text(st, 10, msg, (int)msglen, SQLITE_STATIC);
	char *doc = json_dumps(ev, JSON_COMPACT);
	if (!doc)
		return -1;
	sqlite3_bind_text(st, 11, doc, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(doc);
	if (rc != SQLITE_DONE) {
		log_error("events: insert: %s", sqlite3_errmsg(ins->db));
		return -1;
	}
	return 0;
}

void
event_insert_end(struct event_insert *ins)
{
	sqlite3_finalize(ins->st);
	ins->st = NULL;
}

json_t *
event_row_json(sqlite3_stmt *st, int doc_col, int msg_col)
{
	json_t *ev = sq_col_json(st, doc_col, 0);
	if (msg_col >= 0 && sqlite3_column_type(st, msg_col) != SQLITE_NULL) {
		const char *m = (const char *)sqlite3_column_text(st, msg_col);
		int n = sqlite3_column_bytes(st, msg_col);
		json_t *s = json_stringn_nocheck(m ? m : "", m ? (size_t)n : 0);
		json_object_set_new(ev, "msg", s ? s : json_string(""));
	}
	return ev;
}

long long
event_count(sqlite3 *db, const char *task, const char *type, long long cap)
{
	sqlite3_stmt *st;
	if (cap > 0)
		st = sq_prepare(db, type ? "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE task = ?"
		                           " AND type = ? LIMIT ?)"
		                         : "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE task = ?"
		                           " LIMIT ?)");
	else
		st = sq_prepare(db, type ? "SELECT COUNT(*) FROM events WHERE task = ? AND type = ?"
		                         : "SELECT COUNT(*) FROM events WHERE task = ?");
	if (!st)
		return 0;
	int i = 1;
	sq_bind_text(st, i++, task);
	if (type)
		sq_bind_text(st, i++, type);
	if (cap > 0)
		sqlite3_bind_int64(st, i++, cap);
	long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return n;
}

long long
event_delete_task(sqlite3 *db, const char *task_id)
{
	sqlite3_stmt *st = sq_prepare(db, "DELETE FROM events WHERE task = ?");
	if (!st)
		return -1;
	sq_bind_text(st, 1, task_id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes64(db) : -1;
}

/* server.h contract: 0 on success (however many were deleted), -1 on a database error. */
int
events_delete_for_task(sqlite3 *db, const char *task_id)
{
	return event_delete_task(db, task_id) < 0 ? -1 : 0;
}
