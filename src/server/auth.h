/*
 * auth — tokens and credentials of clearml-server-lite: JWT HS256 (OpenSSL HMAC), base64/url,
 * salted PBKDF2-HMAC-SHA256 secret hashes, credential pairs in the database, the first user.
 * Owner: srvcore (auth.c).
 */
#ifndef CLEARML_SERVER_AUTH_H
#define CLEARML_SERVER_AUTH_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

#define AUTH_DEFAULT_EXPIRATION_SEC 2592000LL   /* 30 days */
#define AUTH_MAX_EXPIRATION_SEC 31536000LL      /* one year */
#define AUTH_ACCESS_KEY_LEN 30

/* base64url without padding (JWT); caller frees. */
char *b64url_encode(const unsigned char *p, size_t n);
/* Decode base64url (padding optional) or, with std != 0, standard base64 (padding optional).
 * Returns a malloc'd buffer (NUL-terminated) and its length, or NULL when not valid. */
unsigned char *b64_decode(const char *s, size_t slen, int std, size_t *outlen);

/* Sign claims (not stolen) → "header.payload.signature" (caller frees). */
char *jwt_sign(const unsigned char *secret, size_t secret_len, const json_t *claims);
/* Verify signature, algorithm and exp (against now_sec). 0 and *claims (new ref), or -1. */
int jwt_verify(const unsigned char *secret, size_t secret_len, const char *token, int64_t now_sec,
               json_t **claims);
/* Fill an identity from the claims' "identity" object. 0, or -1 when incomplete. */
int identity_from_claims(const json_t *claims, struct identity *who);

/* "pbkdf2_sha256$<iter>$<salt hex>$<hash hex>" (caller frees). */
char *secret_hash(const char *secret);
/* 1 when secret matches the stored hash (constant-time compare), else 0. */
int secret_verify(const char *secret, const char *stored);
/* Constant-time equality of two strings (length leaks only). */
int ct_streq(const char *a, const char *b);

/* New pair: access key 30 chars A-Z0-9, secret token_urlsafe(50) style (67 chars). */
void gen_access_key(char out[AUTH_ACCESS_KEY_LEN + 1]);
void gen_secret_key(char out[80]);

/* Store a new credential pair for user (secret hashed). 0 or -1. */
int credentials_create(sqlite3 *db, const char *user, const char *label,
                       char key[AUTH_ACCESS_KEY_LEN + 1], char secret[80]);
/* Check key/secret (Basic); fills who and records last_used/last_used_from.
 * 0 ok, -1 unknown/revoked key or wrong secret, -2 database error. */
int credentials_check(sqlite3 *db, const char *key, const char *secret, const char *from,
                      struct identity *who);
/* The identity of a user id (for tokens minted from a Bearer refresh). 0 or -1. */
int user_identity(sqlite3 *db, const char *user_id, struct identity *who);
/* The first user (created on a fresh database): 0 and its id in out, or -1. */
int user_ensure_default(sqlite3 *db, char out_id[33]);

/* Session revocation (auth.logout): revoke a token's session_id until exp; check one.
 * auth_revoked() is 1 when revoked, 0 when not, -1 on a database error. A process-wide counter
 * moves on every revocation so token caches know to check again. */
int auth_revoke_session(sqlite3 *db, const char *session_id, int64_t exp);
int auth_revoked(sqlite3 *db, const char *session_id);
unsigned auth_revoke_generation(void);
/* Forget revocations whose tokens have expired anyway. */
void auth_revoked_expire(sqlite3 *db, int64_t now_sec);

/* Mint a login token for who; expiration_sec <= 0 → default. Caller frees. */
char *auth_make_token(const struct server *srv, const struct identity *who, long long expiration_sec);

#endif
