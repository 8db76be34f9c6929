/*
 * event_scroll — navigation states of the events sample/page calls in SQLite (see
 * event_scroll.h). States are small JSON documents keyed by a random hex id; a load checks the
 * kind and the company so that one caller's scroll_id never opens another's state, and an
 * expired row reads as missing even before it is swept.
 */
#include <stdlib.h>
#include <string.h>

#include "server/event_scroll.h"
#include "server/server.h"
#include "server/store_sql.h"
#include "util.h"

json_t *
event_scroll_load(sqlite3 *db, const char *kind, const char *company, const char *id)
{
	if (!id || !*id || strlen(id) > 64)
		return NULL;
	sqlite3_stmt *st = sq_prepare(db, "SELECT doc FROM event_scroll WHERE id = ? AND kind = ?"
	                                  " AND company = ? AND expires > ?");
	if (!st)
		return NULL;
	sq_bind_text(st, 1, id);
	sq_bind_text(st, 2, kind);
	sq_bind_text(st, 3, company);
	sqlite3_bind_int64(st, 4, now_ms());
	json_t *doc = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		doc = sq_col_json(st, 0, 0);
		if (!json_is_object(doc)) {
			json_decref(doc);
			doc = NULL;
		}
	}
	sqlite3_finalize(st);
	return doc;
}

int
event_scroll_save(sqlite3 *db, const char *kind, const char *company, const char *id,
                  const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return -1;
	if (strlen(text) > EVENT_SCROLL_MAX_DOC) {
		log_warn("events: scroll state %s too large, not kept", id);
		free(text);
		return -1;
	}
	int64_t now = now_ms();
	int rc = -1;
	if (db_begin(db) != 0) {
		free(text);
		return -1;
	}
	sqlite3_stmt *del = sq_prepare(db, "DELETE FROM event_scroll WHERE expires <= ?");
	sqlite3_stmt *ins = sq_prepare(db, "INSERT OR REPLACE INTO event_scroll(id, kind, company,"
	                                   " expires, doc) VALUES (?,?,?,?,?)");
	if (del && ins) {
		sqlite3_bind_int64(del, 1, now);
		sq_bind_text(ins, 1, id);
		sq_bind_text(ins, 2, kind);
		sq_bind_text(ins, 3, company);
		sqlite3_bind_int64(ins, 4, now + EVENT_SCROLL_TTL_MS);
		sqlite3_bind_text(ins, 5, text, -1, SQLITE_STATIC);
		if (sqlite3_step(del) == SQLITE_DONE && sqlite3_step(ins) == SQLITE_DONE)
			rc = 0;
		else
			log_error("events: scroll state: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	if (rc == 0)
		rc = db_commit(db);   /* rolls back itself when it fails */
	else
		db_rollback(db);
	free(text);
	return rc;
}
