/*
 * svc_users — users.*: get_current_user, get_by_id, get_all(_ex) (active_in_projects: the users
 * with tasks or models in those projects and their subprojects, or in any when the list is
 * empty), update, delete, preferences (kept per user in server_meta and changed by dotted paths,
 * as the real server does), and auth.create_user. A user is a row of `users`; email, given and
 * family name and avatar live in `user_profiles`. Creating, deleting and editing other users
 * takes an admin (or system/root) of the same company.
 */
#include <string.h>

#include <stdint.h>
#include <stdio.h>

#include "server/getall.h"
#include "server/server.h"
#include "util.h"

#define USER_FIELD_MAX 256    /* name, email, given/family name, avatar */
#define PREFS_DEPTH_MAX 32

static int
is_admin(const struct identity *who)
{
	return !strcmp(who->role, "admin") || !strcmp(who->role, "system") ||
	       !strcmp(who->role, "root");
}

/* The JSON object a one-column query (one text parameter) reads, or a new {} when there is none
 * or it is not an object. */
static json_t *
load_object(sqlite3 *db, const char *sql, const char *key)
{
	sqlite3_stmt *st = db_stmt(db, sql);
	json_t *doc = NULL;
	if (st) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
		db_stmt_done(st);
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = json_object();
	}
	return doc;
}

/* The stored profile {email, given_name, family_name, avatar} (new object, maybe empty). */
static json_t *
user_profile(sqlite3 *db, const char *id)
{
	return load_object(db, "SELECT doc FROM user_profiles WHERE id = ?", id);
}

static int
profile_save(sqlite3 *db, const char *id, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	sqlite3_stmt *st = text ? db_stmt(db, "INSERT INTO user_profiles(id, email, doc) "
	                                      "VALUES(?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
	                                      "email = excluded.email, doc = excluded.doc") : NULL;
	int rc = -1;
	if (st) {
		const char *email = json_string_value(json_object_get(doc, "email"));
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (email)
			sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqlite3_extended_errcode(db) ==
		     SQLITE_CONSTRAINT_UNIQUE ? -2 : -1;
		db_stmt_done(st);
	}
	free(text);
	return rc;
}

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
	if (u) {
		json_t *prof = user_profile(db, id);
		json_object_update(u, prof);
		json_decref(prof);
	}
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

static const char *const user_pattern[] = {"name", "email", "given_name", "family_name", NULL};
static const char *const user_list[] = {"id", "role", NULL};
static const char *const user_dt[] = {"created", NULL};
static const char *const user_text[] = {"name", "email", "id", NULL};

static const struct getall_spec user_spec = {
	.pattern_fields = user_pattern,
	.list_fields = user_list,
	.datetime_fields = user_dt,
	.text_fields = user_text,
};

/* Adds to set the ids (keys) of the projects of `ids` and of all their subprojects. */
static int
with_subprojects(sqlite3 *db, const char *company, const json_t *ids, json_t *set)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT p.id FROM projects p, projects top WHERE "
	                               "top.id = ?1 AND top.company = ?2 AND p.company = ?2 AND "
	                               "(p.id = top.id OR substr(p.name, 1, length(top.name) + 1) = "
	                               "top.name || '/')");
	if (!st)
		return -1;
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, json_string_value(v), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, company, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_object_set_new(set, (const char *)sqlite3_column_text(st, 0), json_true());
	}
	db_stmt_done(st);
	return 0;
}

/* The users (keys of a new object) who created tasks or models of the company — in any project
 * when projects is empty, else in those and their subprojects. NULL on a database error. */
static json_t *
active_users(sqlite3 *db, const char *company, const json_t *projects)
{
	json_t *in = json_object();
	if (json_array_size(projects) && with_subprojects(db, company, projects, in) != 0) {
		json_decref(in);
		return NULL;
	}
	static const char *const sql[] = {
		"SELECT DISTINCT json_extract(doc, '$.user'), project FROM tasks WHERE company = ?",
		"SELECT DISTINCT json_extract(doc, '$.user'), project FROM models WHERE company = ?",
	};
	json_t *users = json_object();
	for (size_t k = 0; k < ARRAY_LEN(sql); k++) {
		sqlite3_stmt *st = db_stmt(db, sql[k]);
		if (!st) {
			json_decref(in);
			json_decref(users);
			return NULL;
		}
		sqlite3_bind_text(st, 1, company, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *u = (const char *)sqlite3_column_text(st, 0);
			const char *p = (const char *)sqlite3_column_text(st, 1);
			if (u && (!json_array_size(projects) || (p && json_object_get(in, p))))
				json_object_set_new(users, u, json_true());
		}
		db_stmt_done(st);
	}
	json_decref(in);
	return users;
}

static void
get_all(struct req *q, struct reply *r)
{
	if (getall_check(q->body, r) != 0)
		return;
	const json_t *projects = json_object_get(q->body, "active_in_projects");
	if (projects && !json_is_null(projects) && !json_is_array(projects)) {
		reply_err(r, 400, 12, "Validation error (expected a list): field=active_in_projects");
		return;
	}
	json_t *active = json_is_array(projects) && req_version_ge(q, 2, 8)
	                         ? active_users(q->db, q->who->company, projects) : NULL;
	if (json_is_array(projects) && req_version_ge(q, 2, 8) && !active) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM users WHERE company = ? ORDER BY created");
	if (!st) {
		json_decref(active);
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	json_t *ids = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (id && (!active || json_object_get(active, id)))
			json_array_append_new(ids, json_string(id));
	}
	db_stmt_done(st);
	json_decref(active);
	json_t *users = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		json_t *u = user_doc(q->db, json_string_value(v));
		if (u)
			json_array_append_new(users, u);
	}
	json_decref(ids);
	json_t *body = q->body;
	json_t *narrowed = json_deep_copy(q->body);
	json_object_del(narrowed, "active_in_projects");
	q->body = narrowed;
	getall_reply(q, r, users, &user_spec, "users");
	q->body = body;
	json_decref(narrowed);
	json_decref(users);
}

/* ---------------------------------------------------------------- creating and editing users */

static int
field_ok(struct reply *r, const char *field, const char *v, int nonempty)
{
	if (!v)
		return 1;
	size_t n = strlen(v);
	if ((nonempty && n == 0) || n > USER_FIELD_MAX) {
		reply_err(r, 400, 12, "Validation error (%s must be 1 to %d characters): field=%s",
		          field, USER_FIELD_MAX, field);
		return 0;
	}
	return 1;
}

/* given_name / family_name / avatar / email of the body into prof; 0 or -1 with r filled. */
static int
profile_fields(struct req *q, struct reply *r, json_t *prof)
{
	static const char *const keys[] = {"email", "given_name", "family_name", "avatar", NULL};
	for (const char *const *k = keys; *k; k++) {
		const char *v = NULL;
		if (req_str(q, r, *k, 0, &v) != 0 || !field_ok(r, *k, v, !strcmp(*k, "email")))
			return -1;
		if (v)
			json_object_set_new(prof, *k, json_string(v));
	}
	return 0;
}

static void
create_user(struct req *q, struct reply *r)
{
	const char *name, *company, *email, *role = "user";
	if (req_str(q, r, "name", 1, &name) || req_str(q, r, "company", 1, &company) ||
	    req_str(q, r, "email", 1, &email) || req_str(q, r, "role", 0, &role) ||
	    !field_ok(r, "name", name, 1))
		return;
	if (!is_admin(q->who)) {
		reply_err(r, 403, 0, "Forbidden (only an admin creates users): role=%s", q->who->role);
		return;
	}
	if (strcmp(q->who->role, "root") != 0 && strcmp(company, q->who->company) != 0) {
		reply_err(r, 400, 1, "Invalid id (cannot create user in another company): company=%.64s",
		          company);
		return;
	}
	static const char *const roles[] = {"admin", "superuser", "user", "annotator", NULL};
	const char *const *k = roles;
	while (*k && strcmp(*k, role) != 0)
		k++;
	if (!*k) {
		reply_err(r, 400, 12, "Validation error (role must be one of admin, superuser, user, "
		          "annotator): role=%.32s", role);
		return;
	}
	json_t *prof = json_object();
	if (profile_fields(q, r, prof) != 0) {
		json_decref(prof);
		return;
	}
	char id[33], now[48];
	gen_hex_id(id);
	db_now_iso(now, sizeof(now));
	if (db_begin(q->db) != 0) {
		json_decref(prof);
		reply_err(r, 500, 100, "General data error (busy)");
		return;
	}
	sqlite3_stmt *st = db_stmt(q->db, "INSERT INTO users(id, company, name, role, created) "
	                                  "VALUES(?,?,?,?,?)");
	int rc = -1;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, company, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, role, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		db_stmt_done(st);
	}
	if (rc == 0)
		rc = profile_save(q->db, id, prof);
	json_decref(prof);
	if (rc != 0 || db_commit(q->db) != 0) {
		db_rollback(q->db);
		if (rc == -2)
			reply_err(r, 400, 12, "Validation error (a user with this email exists): "
			          "email=%.256s", email);
		else
			reply_err(r, 500, 100, "General data error (creating the user)");
		return;
	}
	reply_data(r, json_pack("{s:s}", "id", id));
}

/* The user row's company, for the checks of update/delete; 0 when it exists. */
static int
user_company(sqlite3 *db, const char *id, char out[64])
{
	sqlite3_stmt *st = db_stmt(db, "SELECT company FROM users WHERE id = ?");
	int rc = -1;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
			snprintf(out, 64, "%s", (const char *)sqlite3_column_text(st, 0));
			rc = 0;
		}
		db_stmt_done(st);
	}
	return rc;
}

static void
delete_user(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "user", 1, &id) != 0)
		return;
	char company[64];
	if (!is_admin(q->who)) {
		reply_err(r, 403, 0, "Forbidden (only an admin deletes users): role=%s", q->who->role);
		return;
	}
	if (user_company(q->db, id, company) != 0 || strcmp(company, q->who->company) != 0) {
		reply_err(r, 400, 12, "Invalid user id: id=%.64s", id);
		return;
	}
	if (!strcmp(id, q->who->user)) {
		reply_err(r, 400, 12, "Invalid user id (a user cannot delete itself): id=%.64s", id);
		return;
	}
	static const char *const sql[] = {
		"DELETE FROM credentials WHERE user = ?",
		"DELETE FROM user_profiles WHERE id = ?",
		"DELETE FROM server_meta WHERE key = 'prefs:' || ?",
		"DELETE FROM users WHERE id = ?",
	};
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (busy)");
		return;
	}
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < ARRAY_LEN(sql); k++) {
		sqlite3_stmt *st = db_stmt(q->db, sql[k]);
		if (!st) {
			rc = -1;
			break;
		}
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		db_stmt_done(st);
	}
	if (rc != 0 || db_commit(q->db) != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (deleting the user)");
		return;
	}
	/* its credentials are gone; a token it already holds lapses at its expiry */
	reply_data(r, json_object());
}

static void
update_user(struct req *q, struct reply *r)
{
	const char *id, *name = NULL;
	if (req_str(q, r, "user", 1, &id) || req_str(q, r, "name", 0, &name) ||
	    !field_ok(r, "name", name, 1))
		return;
	char company[64];
	if (user_company(q->db, id, company) != 0 || strcmp(company, q->who->company) != 0) {
		reply_err(r, 400, 12, "Invalid user id: id=%.64s", id);
		return;
	}
	if (strcmp(id, q->who->user) != 0 && !is_admin(q->who)) {
		reply_err(r, 403, 0, "Forbidden (only an admin edits other users): role=%s",
		          q->who->role);
		return;
	}
	json_t *prof = user_profile(q->db, id);
	json_t *changed = json_object();
	if (profile_fields(q, r, changed) != 0) {
		json_decref(prof);
		json_decref(changed);
		return;
	}
	json_object_del(changed, "email"); /* the email identifies the user: not editable here */
	json_object_update(prof, changed);
	if (name)
		json_object_set_new(changed, "name", json_string(name));
	int rc = db_begin(q->db);
	if (rc == 0 && name) {
		sqlite3_stmt *st = db_stmt(q->db, "UPDATE users SET name = ? WHERE id = ?");
		rc = -1;
		if (st) {
			sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
			db_stmt_done(st);
		}
	}
	if (rc == 0)
		rc = profile_save(q->db, id, prof);
	json_decref(prof);
	if (rc != 0 || db_commit(q->db) != 0) {
		db_rollback(q->db);
		json_decref(changed);
		reply_err(r, 500, 100, "General data error (updating the user)");
		return;
	}
	int n = json_object_size(changed) ? 1 : 0;
	reply_data(r, json_pack("{s:i,s:o}", "updated", n, "fields", changed));
}

static json_t *
load_preferences(sqlite3 *db, const char *user)
{
	char *key = xasprintf("prefs:%s", user);
	json_t *prefs = load_object(db, "SELECT value FROM server_meta WHERE key = ?", key);
	free(key);
	return prefs;
}

static void
get_preferences(struct req *q, struct reply *r)
{
	reply_data(r, json_pack("{s:o}", "preferences", load_preferences(q->db, q->who->user)));
}

/* No key starts with '$'; only top-level keys may hold '.' (a path); bounded depth. */
static int
prefs_keys_ok(struct reply *r, const json_t *v, int depth)
{
	if (depth > PREFS_DEPTH_MAX) {
		reply_err(r, 400, 12, "Validation error (preferences nested deeper than %d)",
		          PREFS_DEPTH_MAX);
		return 0;
	}
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (!prefs_keys_ok(r, x, depth + 1))
				return 0;
		return 1;
	}
	json_object_foreach((json_t *)(uintptr_t)v, k, x) {
		if (k[0] == '$' || (depth > 0 && strchr(k, '.'))) {
			reply_err(r, 400, 13, "Fields value error (Key %.128s is invalid. Keys cannot start "
			          "with '$' or contain '.'.)", k);
			return 0;
		}
		if (!prefs_keys_ok(r, x, depth + 1))
			return 0;
	}
	return 1;
}

/* prefs[a][b]… = value for the dotted path "a.b…", making the objects on the way; 0, or -1 when
 * a step is not an object (or a path part is empty). */
static int
prefs_set_path(json_t *prefs, const char *path, json_t *value)
{
	json_t *at = prefs;
	for (;;) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n == 0 || !json_is_object(at))
			return -1;
		char *part = xstrndup(path, n);
		if (!dot) {
			json_object_set(at, part, value);
			free(part);
			return 0;
		}
		json_t *next = json_object_get(at, part);
		if (!next) {
			next = json_object();
			json_object_set_new(at, part, next);
		}
		free(part);
		at = next;
		path = dot + 1;
	}
}

static void
set_preferences(struct req *q, struct reply *r)
{
	json_t *p = json_object_get(q->body, "preferences");
	if (!json_is_object(p)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=preferences");
		return;
	}
	if (!prefs_keys_ok(r, p, 0))
		return;
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (busy)");
		return;
	}
	json_t *prefs = load_preferences(q->db, q->who->user);
	const char *k;
	json_t *v;
	json_object_foreach(p, k, v) {
		if (prefs_set_path(prefs, k, v) != 0) {
			db_rollback(q->db);
			json_decref(prefs);
			reply_err(r, 400, 13, "Invalid preferences update: key=%.128s", k);
			return;
		}
	}
	char *text = json_dumps(prefs, JSON_COMPACT);
	json_decref(prefs);
	char *key = xasprintf("prefs:%s", q->who->user);
	sqlite3_stmt *st = text ? db_stmt(q->db, "INSERT INTO server_meta(key, value) VALUES(?, ?) "
	                                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
	                        : NULL;
	int ok = 0;
	if (st) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		db_stmt_done(st);
	}
	free(key);
	free(text);
	if (!ok || db_commit(q->db) != 0) {
		db_rollback(q->db);
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
	{"users.update", "1.0", 0, update_user},
	{"users.delete", "1.0", 0, delete_user},
	{"auth.create_user", "1.0", 0, create_user},
	{0},
};
