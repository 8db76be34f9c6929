/*
 * api — the ClearML REST client: auth.login (Basic) → Bearer JWT, claims read without
 * verification, refresh before expiry, one re-login on 401, retries with jittered exponential
 * back-off, 503 maintenance waits, json-lines batch calls, envelope parsing. One libcurl easy
 * handle per session, so connections are reused. Owner: api.c (+ jwt.c for claims).
 *
 * Calls are blocking. A caller in an event loop bounds them with opts.deadline_ms and/or a cancel
 * flag (a signal handler sets it) so a dead server never stalls the loop for long.
 */
#ifndef CLEARML_API_H
#define CLEARML_API_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

struct api_session;

/* Why a call failed. http_status 0 = transport error (no HTTP reply). code/subcode come from the
 * envelope's meta.result_code/result_subcode when there was one. msg is human-readable and
 * names the URL and the cause ("connection refused", "401 invalid credentials"). */
struct api_error {
	int http_status;
	int code;
	int subcode;
	char msg[1024];
};

/* Claims read from the JWT (no signature check). Strings are "" when absent. */
struct api_claims {
	char api_version[16];    /* "2.31"; default "2.1" ("2.2" when env == "prod") */
	char server_version[32]; /* default "1.0.0" */
	char feature_set[32];    /* default "basic" */
	char user[128];
	char role[64];
	char company[128];
	char env[64];
	int service_account_type;
	int64_t exp;             /* epoch seconds; 0 = never expires */
	char tenant[128];        /* enterprise "tenant" claim (owner-token impersonation) */
	int64_t iat;             /* issued at, epoch seconds; 0 = absent */
};

struct api_settings {
	char *host;              /* api.api_server, trailing '/' stripped */
	char *access_key, *secret_key;
	char *auth_token;        /* CLEARML_AUTH_TOKEN: used instead of key/secret */
	char *default_method;    /* "GET" | "POST" | "PUT" */
	char *worker_header;     /* X-ClearML-Worker: the hostname */
	int verify_cert;
	long token_threshold_sec;     /* api.auth.token_expiration_threshold_sec (43200) */
	long request_token_expiration_sec; /* 0 = not sent */
	int wait_on_maintenance_forever;
	int initial_connect_retries;  /* first login: connect retries (4); 0 = policy default */
	double backoff_factor, backoff_max; /* 1.0 / 120.0 */
	long max_req_size;            /* batch split size (15 MiB) */
	/* Added by the api owner: */
	long connect_timeout_ms, read_timeout_ms; /* 0 = the §3.1 policy (3/10 s first, 10/30 s, 30/30 s) */
	char *ca_bundle;              /* api.verify_certificate given as a CA file path (as requests'
	                               * verify=), else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE; NULL = system */
};

/* Fill settings from an effective config tree (api.* keys) and the environment variables of
 * §2.6/§3 (CLEARML_API_HOST, CLEARML_AUTH_TOKEN, CLEARML_API_DEFAULT_REQ_METHOD,
 * CLEARML_API_HOST_VERIFY_CERT, CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE, ...). */
void api_settings_from_config(struct api_settings *s, const json_t *config_root);
void api_settings_free(struct api_settings *s);

/* Takes ownership of nothing; copies what it needs. */
struct api_session *api_session_new(const struct api_settings *s);
void api_session_free(struct api_session *sess);

/* A session-wide cancel flag (e.g. set by a SIGTERM handler): every call, login and back-off
 * sleep of this session checks it at least every 100 ms and fails when it is non-zero. */
void api_session_set_cancel(struct api_session *sess, volatile sig_atomic_t *cancel);

/* Log in now (fails fast per initial_connect_retries). 0 or -1 with err. */
int api_login(struct api_session *sess, struct api_error *err);
const struct api_claims *api_claims(const struct api_session *sess);
/* --use-owner-token (§3.6): a new session acting as `user`, logged in through base's token with
 * X-Clearml-Impersonate-As (POST/GET per default method, /v2.5/auth.login); when the new token's
 * tenant differs from a non-empty `company`, logged in again adding X-Clearml-Tenant. The session's
 * token is what the task gets as CLEARML_AUTH_TOKEN. NULL with err on failure. */
struct api_session *api_session_impersonate(struct api_session *base, const char *user,
                                            const char *company, struct api_error *err);
const char *api_token(const struct api_session *sess);
/* Compare the server's api_version claim with "2.13" etc.: <0, 0, >0. */
int api_version_cmp(const struct api_session *sess, const char *version);

struct api_call_opts {
	const char *version;   /* "2.5", "2.14", ... or NULL for the unversioned URL */
	const char *method;    /* NULL = the session's default method */
	int64_t deadline_ms;   /* give up after this long, retries and transfers included
	                        * (0 = policy: retry "forever") */
	volatile sig_atomic_t *cancel; /* non-zero → stop retrying and fail */
};

/* POST/GET service.action with a JSON object body (borrowed). On result_code 200 returns 0 and,
 * when data_out is not NULL, a new reference to the envelope's `data` object. Otherwise -1 with err
 * filled (the envelope's code/subcode/message when the server answered). */
int api_call(struct api_session *sess, const char *endpoint, const char *version, json_t *req,
             json_t **data_out, struct api_error *err);
int api_call_ex(struct api_session *sess, const char *endpoint, json_t *req,
                const struct api_call_opts *opts, json_t **data_out, struct api_error *err);
/* json-lines batch (Content-Type: application/json-lines); body is the joined lines. Sent with
 * POST unless opts->method says otherwise; split at max_req_size on line boundaries (the integer
 * counters of the replies' data, e.g. added/errors, are summed).
 * Errors, for all calls: err->http_status is 0 when no HTTP answer was had (connection refused,
 * time-out, deadline, cancel: worth retrying later), else the status of the last reply (4xx: the
 * server refused, retrying the same request will not help). */
int api_call_batch(struct api_session *sess, const char *endpoint, const char *body, size_t len,
                   const struct api_call_opts *opts, json_t **data_out, struct api_error *err);

/* Pure helpers, exposed for unit tests. */
/* The largest reply body accepted from endpoint: 1 MiB for auth.login, 64 MiB for reads
 * (get*, debug images, scalars...), 4 MiB for every other call. A longer reply fails the call
 * ("larger than N MiB"), is not retried, and never holds more than the bound in memory. */
size_t api_reply_bound(const char *endpoint);
char *api_build_url(const char *host, const char *version, const char *endpoint);
int api_parse_envelope(const char *body, size_t len, int http_status, json_t **data_out,
                       struct api_error *err);
int api_parse_jwt_claims(const char *token, struct api_claims *claims);
/* Batch splitting: length of the chunk of whole lines starting at off, at most max bytes (a
 * longer single line is returned alone); the '\n' after it is not counted. */
size_t api_batch_chunk(const char *body, size_t len, size_t off, size_t max);

#endif
