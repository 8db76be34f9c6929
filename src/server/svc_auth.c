/*
 * svc_auth — auth.login (Basic key:secret, or Bearer to refresh a token), auth.logout, and the
 * caller's own credential pairs: create (the clear secret is returned once and stored only
 * hashed), get, revoke, edit; auth.fixed_users_mode for clients that probe it.
 */
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/server.h"
#include "util.h"

static void
auth_login(struct req *q, struct reply *r)
{
	long long exp = 0;
	if (req_int(q, r, "expiration_sec", 0, &exp) != 0)
		return;
	if (exp > AUTH_MAX_EXPIRATION_SEC || exp < 0) {
		reply_err(r, 400, 12, "Validation error (Invalid expiration_sec, allowed range is 0 to %lld)",
		          AUTH_MAX_EXPIRATION_SEC);
		return;
	}
	const char *h = q->authorization;
	if (!h || !*h) {
		reply_err(r, 401, 20, "Unauthorized (missing credentials)");
		return;
	}
	while (*h == ' ')
		h++;
	struct identity who;
	if (strncasecmp(h, "Basic ", 6) == 0) {
		h += 6;
		while (*h == ' ')
			h++;
		size_t n = 0;
		unsigned char *dec = b64_decode(h, strlen(h), 1, &n);
		if (!dec || memchr(dec, '\0', n)) {
			free(dec);
			reply_err(r, 401, 21, "Bad credentials (malformed basic authorization)");
			return;
		}
		char *colon = strchr((char *)dec, ':');
		if (!colon) {
			explicit_bzero(dec, n);
			free(dec);
			reply_err(r, 401, 21, "Bad credentials (malformed basic authorization)");
			return;
		}
		*colon = '\0';
		int rc = credentials_check(q->db, (const char *)dec, colon + 1,
		                           q->worker_header ? q->worker_header : q->client_ip, &who);
		explicit_bzero(dec, n);
		free(dec);
		if (rc == -2) {
			reply_err(r, 500, 100, "General data error (credentials lookup failed)");
			return;
		}
		if (rc != 0) {
			reply_err(r, 401, 22, "Invalid credentials");
			return;
		}
	} else if (strncasecmp(h, "Bearer ", 7) == 0) {
		json_t *claims = NULL;
		if (jwt_verify(q->srv->jwt_secret, sizeof(q->srv->jwt_secret), h + 7, now_ms() / 1000,
		               &claims) != 0 || identity_from_claims(claims, &who) != 0 ||
		    auth_revoked(q->db, json_string_value(json_object_get(claims, "session_id"))) != 0) {
			json_decref(claims);
			reply_err(r, 401, 30, "Invalid token");
			return;
		}
		json_decref(claims);
	} else {
		reply_err(r, 401, 10, "Bad authorization type (expected Basic or Bearer)");
		return;
	}
	char *tok = auth_make_token(q->srv, &who, exp);
	if (!tok) {
		reply_err(r, 500, 1, "Internal error (token signing failed)");
		return;
	}
	reply_data(r, json_pack("{s:s}", "token", tok));
	free(tok);
}

/* Revoke the caller's session: the token (and every copy of it) stops working. */
static void
auth_logout(struct req *q, struct reply *r)
{
	const char *h = q->authorization;
	while (h && *h == ' ')
		h++;
	json_t *claims = NULL;
	if (h && strncasecmp(h, "Bearer ", 7) == 0 &&
	    jwt_verify(q->srv->jwt_secret, sizeof(q->srv->jwt_secret), h + 7, now_ms() / 1000,
	               &claims) == 0) {
		const char *sid = json_string_value(json_object_get(claims, "session_id"));
		json_t *exp = json_object_get(claims, "exp");
		int64_t until = json_is_number(exp) ? (int64_t)json_number_value(exp) : INT64_MAX;
		if (sid && auth_revoke_session(q->db, sid, until) != 0) {
			json_decref(claims);
			reply_err(r, 500, 100, "General data error (revoking session)");
			return;
		}
	}
	json_decref(claims);
	reply_data(r, json_object());
}

static void
create_credentials(struct req *q, struct reply *r)
{
	const char *label = NULL;
	if (req_str(q, r, "label", 0, &label) != 0)
		return;
	char key[AUTH_ACCESS_KEY_LEN + 1], secret[80];
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (database busy)");
		return;
	}
	if (credentials_create(q->db, q->who->user, label, key, secret) != 0 || db_commit(q->db) != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (could not store credentials)");
		return;
	}
	json_t *c = json_pack("{s:s,s:s}", "access_key", key, "secret_key", secret);
	if (label)
		json_object_set_new(c, "label", json_string(label));
	explicit_bzero(secret, sizeof(secret));
	reply_data(r, json_pack("{s:o}", "credentials", c));
}

static void
get_credentials(struct req *q, struct reply *r)
{
	sqlite3_stmt *st = db_stmt(q->db, "SELECT access_key, label, last_used, last_used_from "
	                                  "FROM credentials WHERE user = ? AND revoked = 0 ORDER BY created");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->user, -1, SQLITE_STATIC);
	json_t *arr = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *c = json_pack("{s:s}", "access_key", (const char *)sqlite3_column_text(st, 0));
		static const char *const cols[] = {NULL, "label", "last_used", "last_used_from"};
		for (int i = 1; i < 4; i++)
			if (sqlite3_column_text(st, i))
				json_object_set_new(c, cols[i], json_string((const char *)sqlite3_column_text(st, i)));
		json_array_append_new(arr, c);
	}
	db_stmt_done(st);
	reply_data(r, json_pack("{s:o}", "credentials", arr));
}

static void
revoke_credentials(struct req *q, struct reply *r)
{
	const char *key;
	if (req_str(q, r, "access_key", 1, &key) != 0)
		return;
	sqlite3_stmt *st = db_stmt(q->db, "UPDATE credentials SET revoked = 1 "
	                                  "WHERE access_key = ? AND user = ? AND revoked = 0");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->who->user, -1, SQLITE_STATIC);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	int n = ok ? sqlite3_changes(q->db) : 0;
	db_stmt_done(st);
	if (!ok) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	reply_data(r, json_pack("{s:i}", "revoked", n));
}

static void
edit_credentials(struct req *q, struct reply *r)
{
	const char *key, *label = NULL;
	if (req_str(q, r, "access_key", 1, &key) != 0 || req_str(q, r, "label", 0, &label) != 0)
		return;
	sqlite3_stmt *st = db_stmt(q->db, "UPDATE credentials SET label = ? "
	                                  "WHERE access_key = ? AND user = ? AND revoked = 0");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	if (label)
		sqlite3_bind_text(st, 1, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, q->who->user, -1, SQLITE_STATIC);
	int n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(q->db) : 0;
	db_stmt_done(st);
	reply_data(r, json_pack("{s:i}", "updated", n));
}

static void
fixed_users_mode(struct req *q, struct reply *r)
{
	(void)q;
	reply_data(r, json_pack("{s:b,s:{s:b},s:{}}", "enabled", 0, "guest", "enabled", 0,
	                        "server_errors"));
}

const struct endpoint svc_auth_endpoints[] = {
	{"auth.login", "1.0", EP_LOGIN, auth_login},
	{"auth.logout", "2.2", 0, auth_logout},
	{"auth.create_credentials", "1.0", 0, create_credentials},
	{"auth.get_credentials", "1.0", 0, get_credentials},
	{"auth.revoke_credentials", "1.0", 0, revoke_credentials},
	{"auth.edit_credentials", "2.19", 0, edit_credentials},
	{"auth.fixed_users_mode", "1.0", EP_NO_AUTH, fixed_users_mode},
	{0},
};
