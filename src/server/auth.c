/*
 * auth — JWT HS256 tokens, base64, secret hashing and the credentials/users tables.
 *
 * Secrets are never stored in clear: a credential row holds "pbkdf2_sha256$iter$salt$hash" and
 * checks compare in constant time. Tokens carry the whole identity, so checking a Bearer token
 * needs no database access (like the real server, the user is not looked up again).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server/auth.h"
#include "util.h"
#include "version.h"

#define PBKDF2_ITER 10000
#define SALT_LEN 16
#define HASH_LEN 32

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
b64url_encode(const unsigned char *p, size_t n)
{
	char *out = xmalloc(n / 3 * 4 + 5);
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

static int
b64_val(char c, int std)
{
	const char *alpha = std ? b64std : b64url;
	const char *p = c ? strchr(alpha, c) : NULL;
	return p ? (int)(p - alpha) : -1;
}

unsigned char *
b64_decode(const char *s, size_t slen, int std, size_t *outlen)
{
	while (slen > 0 && s[slen - 1] == '=')
		slen--;
	if (slen % 4 == 1)
		return NULL;
	unsigned char *out = xmalloc(slen / 4 * 3 + 4);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < slen; i++) {
		int v = b64_val(s[i], std);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static char *
hs256(const unsigned char *secret, size_t secret_len, const char *data, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data, len, mac, &maclen))
		return NULL;
	return b64url_encode(mac, maclen);
}

char *
jwt_sign(const unsigned char *secret, size_t secret_len, const json_t *claims)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char *payload = json_dumps(claims, JSON_COMPACT);
	if (!payload)
		return NULL;
	char *h = b64url_encode((const unsigned char *)header, strlen(header));
	char *p = b64url_encode((const unsigned char *)payload, strlen(payload));
	free(payload);
	char *signing = xasprintf("%s.%s", h, p);
	free(h);
	free(p);
	char *sig = hs256(secret, secret_len, signing, strlen(signing));
	if (!sig) {
		free(signing);
		return NULL;
	}
	char *tok = xasprintf("%s.%s", signing, sig);
	free(signing);
	free(sig);
	return tok;
}

int
jwt_verify(const unsigned char *secret, size_t secret_len, const char *token, int64_t now_sec,
           json_t **claims)
{
	*claims = NULL;
	if (!token || strlen(token) > 16384)
		return -1;
	const char *d1 = strchr(token, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return -1;
	char *sig = hs256(secret, secret_len, token, (size_t)(d2 - token));
	if (!sig)
		return -1;
	int ok = ct_streq(sig, d2 + 1);
	free(sig);
	if (!ok)
		return -1;
	size_t hl, pl;
	unsigned char *hdr = b64_decode(token, (size_t)(d1 - token), 0, &hl);
	unsigned char *pay = b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), 0, &pl);
	json_t *h = hdr ? json_loadb((const char *)hdr, hl, 0, NULL) : NULL;
	json_t *c = pay ? json_loadb((const char *)pay, pl, 0, NULL) : NULL;
	free(hdr);
	free(pay);
	int rc = -1;
	const char *alg = json_string_value(json_object_get(h, "alg"));
	if (alg && strcmp(alg, "HS256") == 0 && json_is_object(c)) {
		json_t *exp = json_object_get(c, "exp");
		if (!exp)
			rc = 0;
		else if (json_is_number(exp) && json_number_value(exp) > (double)now_sec)
			rc = 0;
	}
	json_decref(h);
	if (rc == 0)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

static void
copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

int
identity_from_claims(const json_t *claims, struct identity *who)
{
	const json_t *id = json_object_get(claims, "identity");
	const char *user = json_string_value(json_object_get(id, "user"));
	const char *company = json_string_value(json_object_get(id, "company"));
	if (!user || !company || !*user)
		return -1;
	const char *role = json_string_value(json_object_get(id, "role"));
	const char *un = json_string_value(json_object_get(id, "user_name"));
	const char *cn = json_string_value(json_object_get(id, "company_name"));
	copy_str(who->user, sizeof(who->user), user);
	copy_str(who->company, sizeof(who->company), company);
	copy_str(who->role, sizeof(who->role), role ? role : "user");
	copy_str(who->user_name, sizeof(who->user_name), un ? un : "");
	copy_str(who->company_name, sizeof(who->company_name), cn ? cn : "");
	return 0;
}

int
ct_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return 0;
	return CRYPTO_memcmp(a, b, la) == 0;
}

static void
hexenc(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexdec(const char *s, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];
			int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
			if (d < 0)
				return -1;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

static int
pbkdf2(const char *secret, const unsigned char *salt, int iter, unsigned char out[HASH_LEN])
{
	return PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt, SALT_LEN, iter, EVP_sha256(),
	                         HASH_LEN, out) == 1 ? 0 : -1;
}

char *
secret_hash(const char *secret)
{
	unsigned char salt[SALT_LEN], h[HASH_LEN];
	char salthex[2 * SALT_LEN + 1], hhex[2 * HASH_LEN + 1];
	random_bytes(salt, sizeof(salt));
	if (pbkdf2(secret, salt, PBKDF2_ITER, h) != 0)
		return NULL;
	hexenc(salt, SALT_LEN, salthex);
	hexenc(h, HASH_LEN, hhex);
	return xasprintf("pbkdf2_sha256$%d$%s$%s", PBKDF2_ITER, salthex, hhex);
}

int
secret_verify(const char *secret, const char *stored)
{
	static const char pfx[] = "pbkdf2_sha256$";
	if (!secret || !stored || strncmp(stored, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	const char *p = stored + sizeof(pfx) - 1;
	const char *d1 = strchr(p, '$');
	const char *d2 = d1 ? strchr(d1 + 1, '$') : NULL;
	if (!d1 || !d2 || (size_t)(d2 - d1 - 1) != 2 * SALT_LEN || strlen(d2 + 1) != 2 * HASH_LEN)
		return 0;
	char itxt[16];
	if ((size_t)(d1 - p) >= sizeof(itxt))
		return 0;
	memcpy(itxt, p, (size_t)(d1 - p));
	itxt[d1 - p] = '\0';
	long long iter;
	if (parse_long(itxt, 1, 10000000, &iter) != 0)
		return 0;
	unsigned char salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
	if (hexdec(d1 + 1, SALT_LEN, salt) != 0 || hexdec(d2 + 1, HASH_LEN, want) != 0)
		return 0;
	if (pbkdf2(secret, salt, (int)iter, got) != 0)
		return 0;
	return CRYPTO_memcmp(got, want, HASH_LEN) == 0;
}

void
gen_access_key(char out[AUTH_ACCESS_KEY_LEN + 1])
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	int n = 0;
	while (n < AUTH_ACCESS_KEY_LEN) {
		unsigned char b[32];
		random_bytes(b, sizeof(b));
		for (size_t i = 0; i < sizeof(b) && n < AUTH_ACCESS_KEY_LEN; i++)
			if (b[i] < 252) /* 7 * 36: no modulo bias */
				out[n++] = alpha[b[i] % 36];
	}
	out[n] = '\0';
}

void
gen_secret_key(char out[80])
{
	unsigned char b[50];
	random_bytes(b, sizeof(b));
	char *s = b64url_encode(b, sizeof(b));
	copy_str(out, 80, s);
	free(s);
}

int
credentials_create(sqlite3 *db, const char *user, const char *label,
                   char key[AUTH_ACCESS_KEY_LEN + 1], char secret[80])
{
	gen_access_key(key);
	gen_secret_key(secret);
	char *hash = secret_hash(secret);
	if (!hash)
		return -1;
	char now[48];
	db_now_iso(now, sizeof(now));
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO credentials(access_key, user, secret_hash, label, "
	                               "created, revoked) VALUES(?,?,?,?,?,0)");
	int rc = -1;
	if (st) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
		if (label)
			sqlite3_bind_text(st, 4, label, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		if (rc)
			log_error("db: insert credentials: %s", sqlite3_errmsg(db));
		db_stmt_done(st);
	}
	free(hash);
	return rc;
}

static int
identity_row(sqlite3_stmt *st, int col, struct identity *who)
{
	/* columns: id, company, name, role */
	const char *id = (const char *)sqlite3_column_text(st, col);
	const char *company = (const char *)sqlite3_column_text(st, col + 1);
	const char *name = (const char *)sqlite3_column_text(st, col + 2);
	const char *role = (const char *)sqlite3_column_text(st, col + 3);
	if (!id || !company)
		return -1;
	memset(who, 0, sizeof(*who));
	copy_str(who->user, sizeof(who->user), id);
	copy_str(who->company, sizeof(who->company), company);
	copy_str(who->user_name, sizeof(who->user_name), name ? name : "");
	copy_str(who->role, sizeof(who->role), role ? role : "user");
	copy_str(who->company_name, sizeof(who->company_name),
	         strcmp(company, SRV_DEFAULT_COMPANY) == 0 ? SRV_DEFAULT_COMPANY_NAME : "");
	return 0;
}

int
credentials_check(sqlite3 *db, const char *key, const char *secret, const char *from,
                  struct identity *who)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT c.secret_hash, u.id, u.company, u.name, u.role "
	                               "FROM credentials c JOIN users u ON u.id = c.user "
	                               "WHERE c.access_key = ? AND c.revoked = 0");
	if (!st)
		return -2;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = -1;
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(st, 0);
		if (secret_verify(secret, hash) && identity_row(st, 1, who) == 0)
			rc = 0;
	} else if (step != SQLITE_DONE) {
		rc = -2;
	}
	db_stmt_done(st);
	if (rc == 0) {
		char now[48];
		db_now_iso(now, sizeof(now));
		st = db_stmt(db, "UPDATE credentials SET last_used = ?, last_used_from = ? "
		                 "WHERE access_key = ?");
		if (st) {
			sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
			if (from)
				sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
			sqlite3_step(st); /* best effort: a busy database must not fail the login */
			db_stmt_done(st);
		}
	}
	return rc;
}

int
user_identity(sqlite3 *db, const char *user_id, struct identity *who)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, company, name, role FROM users WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, user_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_ROW ? identity_row(st, 0, who) : -1;
	db_stmt_done(st);
	return rc;
}

int
user_ensure_default(sqlite3 *db, char out_id[33])
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id FROM users ORDER BY created LIMIT 1");
	if (!st)
		return -1;
	int rc = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		copy_str(out_id, 33, (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	db_stmt_done(st);
	if (rc == 0)
		return 0;
	gen_hex_id(out_id);
	char now[48];
	db_now_iso(now, sizeof(now));
	st = db_stmt(db, "INSERT INTO users(id, company, name, role, created) VALUES(?,?,?,?,?)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, out_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, SRV_DEFAULT_COMPANY, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, "Default User", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, "admin", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc)
		log_error("db: insert user: %s", sqlite3_errmsg(db));
	db_stmt_done(st);
	return rc;
}

char *
auth_make_token(const struct server *srv, const struct identity *who, long long expiration_sec)
{
	char sid[33];
	gen_hex_id(sid);
	long long now = (long long)(now_ms() / 1000);
	if (expiration_sec <= 0)
		expiration_sec = AUTH_DEFAULT_EXPIRATION_SEC;
	json_t *claims = json_pack("{s:{s:s,s:s,s:s,s:s,s:s},s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
	                           "identity", "user", who->user, "company", who->company,
	                           "role", who->role, "user_name", who->user_name,
	                           "company_name", who->company_name,
	                           "iat", (json_int_t)now, "exp", (json_int_t)(now + expiration_sec),
	                           "session_id", sid, "env", "<unknown>", "auth_type", "Bearer",
	                           "api_version", CLEARML_SERVER_LITE_API_VERSION,
	                           "server_version", CLEARML_SERVER_LITE_VERSION,
	                           "server_build", "", "feature_set", "basic");
	if (!claims)
		return NULL;
	char *tok = jwt_sign(srv->jwt_secret, sizeof(srv->jwt_secret), claims);
	json_decref(claims);
	return tok;
}

static _Atomic unsigned g_revoke_gen;

unsigned
auth_revoke_generation(void)
{
	return g_revoke_gen;
}

int
auth_revoke_session(sqlite3 *db, const char *session_id, int64_t exp)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT OR REPLACE INTO revoked_sessions(session_id, exp) "
	                               "VALUES(?, ?)");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, exp);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	if (rc == 0)
		g_revoke_gen++;
	return rc;
}

int
auth_revoked(sqlite3 *db, const char *session_id)
{
	if (!session_id)
		return 0;
	sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM revoked_sessions WHERE session_id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	db_stmt_done(st);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

void
auth_revoked_expire(sqlite3 *db, int64_t now_sec)
{
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM revoked_sessions WHERE exp < ?");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, now_sec);
	sqlite3_step(st);
	db_stmt_done(st);
}
