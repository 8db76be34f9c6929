/*
 * svc_users — the minimum set of users.*: get_current_user (the server's own tests need the user
 * and company ids from it), get_by_id, get_all, and preferences kept per user in server_meta.
 */
#include <string.h>

#include "server/server.h"
#include "util.h"

/* {id, name, given_name, family_name, company{id, name}, role, created} or NULL. */
static json_t *
user_doc(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, company, name, role, created FROM users WHERE id = ?");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	json_t *u = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 2);
		const char *company = (const char *)sqlite3_column_text(st, 1);
		const char *created = (const char *)sqlite3_column_text(st, 4);
		char given[128] = "", family[128] = "";
		if (name) {
			const char *sp = strchr(name, ' ');
			snprintf(given, sizeof(given), "%.*s", sp ? (int)(sp - name) : (int)strlen(name), name);
			snprintf(family, sizeof(family), "%s", sp ? sp + 1 : "");
		}
		u = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:s}", "id",
		              (const char *)sqlite3_column_text(st, 0), "name", name ? name : "",
		              "given_name", given, "family_name", family, "company", "id",
		              company ? company : "", "name",
		              company && !strcmp(company, SRV_DEFAULT_COMPANY) ? SRV_DEFAULT_COMPANY_NAME : "",
		              "role", sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3)
		                                                 : "user");
		if (created)
			json_object_set_new(u, "created", json_string(created));
	}
	db_stmt_done(st);
	return u;
}

static void
get_current_user(struct req *q, struct reply *r)
{
	json_t *u = user_doc(q->db, q->who->user);
	if (!u) {
		/* a token minted for a user that is gone: answer from the token itself */
		u = json_pack("{s:s,s:s,s:{s:s,s:s},s:s}", "id", q->who->user, "name", q->who->user_name,
		              "company", "id", q->who->company, "name", q->who->company_name, "role",
		              q->who->role);
	}
	reply_data(r, json_pack("{s:o,s:{},s:{s:i}}", "user", u, "getting_started", "settings",
	                        "max_download_items", 1000));
}

static void
get_by_id(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "user", 1, &id) != 0)
		return;
	json_t *u = user_doc(q->db, id);
	if (!u || strcmp(json_string_value(json_object_get(json_object_get(u, "company"), "id")),
	                 q->who->company) != 0) {
		json_decref(u);
		reply_err(r, 400, 12, "Invalid user id: id=%s", id);
		return;
	}
	reply_data(r, json_pack("{s:o}", "user", u));
}

static void
get_all(struct req *q, struct reply *r)
{
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM users WHERE company = ? ORDER BY created");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	json_t *ids = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	json_t *users = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		json_t *u = user_doc(q->db, json_string_value(v));
		if (u)
			json_array_append_new(users, u);
	}
	json_decref(ids);
	reply_data(r, json_pack("{s:o}", "users", users));
}

static void
get_preferences(struct req *q, struct reply *r)
{
	char *key = xasprintf("prefs:%s", q->who->user);
	sqlite3_stmt *st = db_stmt(q->db, "SELECT value FROM server_meta WHERE key = ?");
	json_t *prefs = NULL;
	if (st) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			prefs = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
		db_stmt_done(st);
	}
	free(key);
	if (!json_is_object(prefs)) {
		json_decref(prefs);
		prefs = json_object();
	}
	reply_data(r, json_pack("{s:o}", "preferences", prefs));
}

static void
set_preferences(struct req *q, struct reply *r)
{
	json_t *p = json_object_get(q->body, "preferences");
	if (!json_is_object(p)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=preferences");
		return;
	}
	char *text = json_dumps(p, JSON_COMPACT);
	char *key = xasprintf("prefs:%s", q->who->user);
	sqlite3_stmt *st = db_stmt(q->db, "INSERT INTO server_meta(key, value) VALUES(?, ?) "
	                                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
	int ok = 0;
	if (st && text) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	db_stmt_done(st);
	free(key);
	free(text);
	if (!ok) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	reply_data(r, json_pack("{s:i,s:{}}", "updated", 1, "fields"));
}

const struct endpoint svc_users_endpoints[] = {
	{"users.get_current_user", "1.0", 0, get_current_user},
	{"users.get_by_id", "1.0", 0, get_by_id},
	{"users.get_all", "1.0", 0, get_all},
	{"users.get_all_ex", "1.0", 0, get_all},
	{"users.get_preferences", "1.0", 0, get_preferences},
	{"users.set_preferences", "1.0", 0, set_preferences},
	{0},
};
