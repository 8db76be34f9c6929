/*
 * svc_server — server.* and debug.*: server.info (three handler versions as upstream: 1.0, 2.8
 * which adds the server uid, 2.12 which drops it again), server.report_stats_option, debug.ping.
 * None of these need credentials except the stats option.
 */
#include <string.h>

#include "server/longpoll.h"
#include "server/status_history.h"
#include "server/server.h"
#include "util.h"
#include "version.h"

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = env_get(name);
	return v ? v : dflt;
}

/* What server-lite adds beyond the open-source server, for clients that check (our agent):
 * long_poll_max_sec > 0 means queues.get_next_task takes wait_sec; status_history_max > 0 means
 * tasks.get_status_history answers (that many newest changes per task, status_history.c). */
static json_t *
lite_capabilities(void)
{
	return json_pack("{s:i,s:i}", "long_poll_max_sec", longpoll_open() ? LONGPOLL_MAX_WAIT_SEC : 0,
	                 "status_history_max", STATUS_HISTORY_MAX);
}

static json_t *
info_common(void)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "version",
	                 env_or("CLEARML_SERVER_VERSION", CLEARML_SERVER_LITE_VERSION), "build",
	                 env_or("CLEARML_SERVER_BUILD", ""), "commit", env_or("CLEARML_SERVER_COMMIT", ""),
	                 "api_version", CLEARML_SERVER_LITE_API_VERSION, "clearml_lite",
	                 lite_capabilities());
}

/* The server's uid: made once, kept in server_meta. */
static void
server_uid(sqlite3 *db, char out[33])
{
	out[0] = '\0';
	sqlite3_stmt *st = db_stmt(db, "SELECT value FROM server_meta WHERE key = 'uid'");
	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
	db_stmt_done(st);
	if (out[0])
		return;
	gen_hex_id(out);
	st = db_stmt(db, "INSERT OR IGNORE INTO server_meta(key, value) VALUES('uid', ?)");
	if (st) {
		sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
		sqlite3_step(st);
		db_stmt_done(st);
	}
	st = db_stmt(db, "SELECT value FROM server_meta WHERE key = 'uid'");
	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
	db_stmt_done(st);
}

static void
server_info_1_0(struct req *q, struct reply *r)
{
	(void)q;
	reply_data(r, info_common());
}

static void
server_info_2_8(struct req *q, struct reply *r)
{
	json_t *d = info_common();
	char uid[33];
	server_uid(q->db, uid);
	json_object_set_new(d, "uid", json_string(uid));
	reply_data(r, d);
}

static void
report_stats_option(struct req *q, struct reply *r)
{
	(void)q;
	reply_data(r, json_pack("{s:b,s:b,s:n,s:n}", "supported", 0, "enabled", 0, "enabled_time",
	                        "enabled_version"));
}

static void
debug_ping(struct req *q, struct reply *r)
{
	json_t *d = json_pack("{s:s}", "msg", "ClearML server");
	json_object_update(d, q->body);
	reply_data(r, d);
}

const struct endpoint svc_server_endpoints[] = {
	{"server.info", "1.0", EP_NO_AUTH, server_info_1_0},
	{"server.info", "2.8", EP_NO_AUTH, server_info_2_8},
	{"server.info", "2.12", EP_NO_AUTH, server_info_1_0},
	{"server.report_stats_option", "1.0", 0, report_stats_option},
	{"debug.ping", "1.0", EP_NO_AUTH, debug_ping},
	{0},
};
