/*
 * api — the ClearML REST client (spec/clearml-agent.md §3, spec/clearml-api.md §1).
 *
 * A session owns one libcurl easy handle driven through a private multi handle: the multi handle
 * keeps the connection cache (keep-alive, reuse across calls) and lets us wake every 100 ms during
 * a transfer to honour the caller's cancel flag and deadline and to enforce a read timeout that
 * means what Python's does (no byte moved for N seconds), not a total transfer time.
 *
 * Call flow: refresh the token when it expires within the threshold → request → retry transport
 * errors and 429/502/503/509 with jittered exponential back-off (503 loops while the server says
 * it is under maintenance) → on 401 log in again once and repeat the call once → parse the
 * envelope. The first login of a session fails fast (initial_connect_retries) with a message that
 * names the URL and the cause; later calls retry until their deadline or cancel flag says stop.
 *
 * Credentials live only in request headers (never in URLs we print, never in log lines).
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "jwt.h"
#include "util.h"
#include "version.h"

/* Bounds of one reply body, by what the endpoint can legitimately return (api_reply_bound). */
#define API_REPLY_LOGIN ((size_t)1 << 20)
#define API_REPLY_ACTION ((size_t)4 << 20)
#define API_REPLY_READ ((size_t)64 << 20)
#define API_POLL_MS 100                       /* cancel/deadline/read-timeout granularity */
#define API_LARGE_BODY 15000                  /* §3.1: bodies above this get 30/30 s */
#define API_WARN_AFTER 3                      /* consecutive failures before warnings show */

struct api_session {
	struct api_settings s;   /* our own copies */
	char *host_shown;        /* host without user:password@ for messages */
	CURL *easy;
	CURLM *multi;
	char *token;
	struct api_claims claims;
	int logged_in_once;      /* the first login is the fail-fast one */
	int requests_done;       /* 0 → first-request timeouts */
	int fail_streak;
	int maintenance_logged;
	volatile sig_atomic_t *cancel; /* session-wide cancel flag (api_session_set_cancel) */
	char *imp_user, *imp_tenant;   /* impersonation headers for the next login (§3.6) */
	int env_token;                 /* our token came from CLEARML_AUTH_TOKEN: write it back */
	char agent_header[64];
	char errbuf[CURL_ERROR_SIZE];
};

/* One HTTP exchange's outcome. */
struct http_result {
	long status;             /* 0 = no HTTP reply */
	int retryable;           /* transport error worth another attempt */
	int stopped;             /* cancelled or past the deadline: never retried */
	char cause[256];         /* transport cause, "" when an HTTP reply came */
	long retry_after;        /* Retry-After seconds (429/503), -1 when none */
	struct buf body;
};

struct xfer_ctx {
	struct buf *body;
	long *retry_after;       /* seconds from a Retry-After header, -1 when none */
	int64_t last_activity;
	curl_off_t last_ul;
	int overflow;
};

/* ------------------------------------------------------------------ pure helpers */

/* snprintf that may truncate by design (messages). */
static void strf(char *dst, size_t n, const char *fmt, ...) ATTR_PRINTF(3, 4);
static void
strf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

/* err->msg = formatted text (truncated to fit). */
static void errf(struct api_error *err, const char *fmt, ...) ATTR_PRINTF(2, 3);
static void
errf(struct api_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

char *
api_build_url(const char *host, const char *version, const char *endpoint)
{
	size_t hl = host ? strlen(host) : 0;
	while (hl > 0 && host[hl - 1] == '/')
		hl--;
	while (endpoint && *endpoint == '/')
		endpoint++;
	if (!endpoint)
		endpoint = "";
	if (version && (version[0] == 'v' || version[0] == 'V'))
		version++;
	if (version && *version)
		return xasprintf("%.*s/v%s/%s", (int)hl, host ? host : "", version, endpoint);
	return xasprintf("%.*s/%s", (int)hl, host ? host : "", endpoint);
}

/* "https://user:pass@host:8008/x" → "https://host:8008/x"; caller frees. */
static char *
url_without_userinfo(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *auth_start = scheme ? scheme + 3 : url;
	const char *path = auth_start + strcspn(auth_start, "/?#");
	const char *at = NULL;
	for (const char *p = auth_start; p < path; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(auth_start - url), url, at + 1);
}

/* Copy up to n bytes of text for a message: control characters become spaces. */
static void
text_excerpt(char *dst, size_t dstlen, const char *src, size_t len, size_t n)
{
	size_t o = 0;
	if (len > n)
		len = n;
	for (size_t i = 0; i < len && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[o] = '\0';
}

int
api_parse_envelope(const char *body, size_t len, int http_status, json_t **data_out,
                   struct api_error *err)
{
	struct api_error tmp;
	if (!err)
		err = &tmp;
	memset(err, 0, sizeof *err);
	err->http_status = http_status;
	if (data_out)
		*data_out = NULL;

	json_error_t jerr;
	json_t *root = body && len ? json_loadb(body, len, 0, &jerr) : NULL;
	if (!json_is_object(root)) {
		char excerpt[201];
		text_excerpt(excerpt, sizeof excerpt, body ? body : "", body ? len : 0, 200);
		err->code = http_status;
		errf(err, "HTTP %d, reply is not a JSON envelope: %s%s",
		         http_status, len ? "" : "(empty body)", excerpt);
		json_decref(root);
		return -1;
	}
	const json_t *meta = json_object_get(root, "meta");
	const json_t *rc = json_object_get(meta, "result_code");
	if (!json_is_object(meta) || !json_is_number(rc)) {
		err->code = http_status;
		errf(err, "HTTP %d, reply has no meta.result_code", http_status);
		json_decref(root);
		return -1;
	}
	double code = json_number_value(rc), subcode = json_number_value(json_object_get(meta,
	                                                                             "result_subcode"));
	err->code = code > -1e6 && code < 1e6 ? (int)code : -1;
	err->subcode = subcode > -1e9 && subcode < 1e9 ? (int)subcode : -1;
	const char *msg = json_string_value(json_object_get(meta, "result_msg"));
	if (err->code != 200) {
		errf(err, "%d/%d: %s", err->code, err->subcode,
		         msg && *msg ? msg : "(no message)");
		json_decref(root);
		return -1;
	}
	if (data_out) {
		json_t *data = json_object_get(root, "data");
		*data_out = json_is_object(data) ? json_incref(data) : json_object();
	}
	json_decref(root);
	return 0;
}

/* Dotted-integer comparison: "2.13" vs "2.9" → > 0. Missing parts count as 0. */
static int
version_cmp(const char *a, const char *b)
{
	while ((a && *a) || (b && *b)) {
		long long x = 0, y = 0;
		while (a && *a >= '0' && *a <= '9' && x < 1000000000)
			x = x * 10 + (*a++ - '0');
		while (b && *b >= '0' && *b <= '9' && y < 1000000000)
			y = y * 10 + (*b++ - '0');
		if (x != y)
			return x < y ? -1 : 1;
		while (a && *a && *a != '.')
			a++;
		while (b && *b && *b != '.')
			b++;
		if (a && *a == '.')
			a++;
		if (b && *b == '.')
			b++;
	}
	return 0;
}

/* ------------------------------------------------------------------ settings */

static const char *
conf_str(const json_t *root, const char *path)
{
	const char *v = cfg_str(root, path, NULL);
	return v && *v ? v : NULL;
}

static char *
upper_method(const char *m)
{
	if (!m)
		return NULL;
	if (strcasecmp(m, "get") == 0)
		return xstrdup("GET");
	if (strcasecmp(m, "post") == 0)
		return xstrdup("POST");
	if (strcasecmp(m, "put") == 0)
		return xstrdup("PUT");
	log_warn("api: ignoring unknown default request method \"%s\" (use GET, POST or PUT)", m);
	return NULL;
}

void
api_settings_from_config(struct api_settings *s, const json_t *root)
{
	memset(s, 0, sizeof *s);
	const char *host = env_get("CLEARML_API_HOST");
	if (!host)
		host = env_get("TRAINS_API_HOST");
	if (!host)
		host = conf_str(root, "api.api_server");
	if (!host)
		host = conf_str(root, "api.host");
	if (host) {
		size_t n = strlen(host);
		while (n > 0 && host[n - 1] == '/')
			n--;
		s->host = xstrndup(host, n);
	}

	const char *ak = env_get("CLEARML_API_ACCESS_KEY");
	if (!ak)
		ak = env_get("TRAINS_API_ACCESS_KEY");
	if (!ak)
		ak = conf_str(root, "api.credentials.access_key");
	const char *sk = env_get("CLEARML_API_SECRET_KEY");
	if (!sk)
		sk = env_get("TRAINS_API_SECRET_KEY");
	if (!sk)
		sk = conf_str(root, "api.credentials.secret_key");
	s->access_key = ak ? xstrdup(ak) : NULL;
	s->secret_key = sk ? xstrdup(sk) : NULL;
	const char *tok = env_get("CLEARML_AUTH_TOKEN");
	if (!tok)
		tok = env_get("TRAINS_AUTH_TOKEN");
	s->auth_token = tok ? xstrdup(tok) : NULL;

	s->default_method = upper_method(env_get("CLEARML_API_DEFAULT_REQ_METHOD"));
	if (!s->default_method)
		s->default_method = upper_method(conf_str(root, "api.http.default_method"));
	if (!s->default_method)
		s->default_method = xstrdup("GET");

	char hostname[256] = "";
	if (gethostname(hostname, sizeof hostname - 1) != 0)
		snprintf(hostname, sizeof hostname, "localhost");
	hostname[sizeof hostname - 1] = '\0';
	s->worker_header = xstrdup(hostname);

	s->verify_cert = cfg_bool(root, "api.verify_certificate", 1);
	/* requests' verify= also takes a CA bundle path, and clearml.conf passes it through */
	const char *vc = conf_str(root, "api.verify_certificate");
	if (vc && parse_bool(vc) < 0) {
		s->verify_cert = 1;
		s->ca_bundle = path_expand(vc);
	}
	if (!s->ca_bundle) {
		const char *ca = env_get("REQUESTS_CA_BUNDLE");
		if (!ca)
			ca = env_get("CURL_CA_BUNDLE");
		if (ca)
			s->ca_bundle = xstrdup(ca);
	}
	if (env_get("CLEARML_API_HOST_VERIFY_CERT"))
		s->verify_cert = env_bool("CLEARML_API_HOST_VERIFY_CERT", s->verify_cert);
	else if (env_get("TRAINS_API_HOST_VERIFY_CERT"))
		s->verify_cert = env_bool("TRAINS_API_HOST_VERIFY_CERT", s->verify_cert);

	s->token_threshold_sec = (long)cfg_num(root, "api.auth.token_expiration_threshold_sec", 43200);
	s->request_token_expiration_sec =
	    (long)cfg_num(root, "api.auth.request_token_expiration_sec", 0);
	if (s->request_token_expiration_sec < 0)
		s->request_token_expiration_sec = 0;
	s->wait_on_maintenance_forever = cfg_bool(root, "api.http.wait_on_maintenance_forever", 1);

	/* §3.3.2: default true → 4 connect retries on the first login; an integer sets the count;
	 * false → the configured connect retries. */
	s->initial_connect_retries = 4;
	const char *icr = env_get("CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE");
	if (icr) {
		long long n;
		if (parse_long(icr, 0, 100000, &n) == 0) {
			if (n > 0)
				s->initial_connect_retries = (int)n;
		} else if (parse_bool(icr) == 0) {
			long long c = (long long)cfg_num(root, "api.http.retries.connect", 240);
			s->initial_connect_retries = c > 0 && c < 100000 ? (int)c : 240;
		}
	}

	s->backoff_factor = cfg_num(root, "api.http.retries.backoff_factor", 1.0);
	s->backoff_max = cfg_num(root, "api.http.retries.backoff_max", 120.0);
	if (s->backoff_factor < 0)
		s->backoff_factor = 0;
	if (s->backoff_max <= 0)
		s->backoff_max = 120.0;
	s->max_req_size = (long)cfg_num(root, "api.http.max_req_size", 15728640);
	if (s->max_req_size <= 0)
		s->max_req_size = 15728640;
}

void
api_settings_free(struct api_settings *s)
{
	if (!s)
		return;
	free(s->host);
	free(s->access_key);
	free(s->secret_key);
	free(s->auth_token);
	free(s->default_method);
	free(s->worker_header);
	free(s->ca_bundle);
	memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------ session */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Header values must not carry CR/LF: the hostname and tokens come from outside. */
static void
header_safe(char *s)
{
	for (; s && *s; s++)
		if (*s == '\r' || *s == '\n')
			*s = ' ';
}

struct api_session *
api_session_new(const struct api_settings *s)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != 0) {
		log_error("api: libcurl failed to initialise");
		return NULL;
	}
	struct api_session *sess = xcalloc(1, sizeof *sess);
	sess->s = *s;
	sess->s.host = xstrdup(s->host ? s->host : "");
	size_t hl = strlen(sess->s.host);
	while (hl > 0 && sess->s.host[hl - 1] == '/')
		sess->s.host[--hl] = '\0';
	sess->s.access_key = dup_or_null(s->access_key);
	sess->s.secret_key = dup_or_null(s->secret_key);
	sess->s.auth_token = dup_or_null(s->auth_token);
	sess->s.default_method = xstrdup(s->default_method && *s->default_method ? s->default_method
	                                                                         : "GET");
	if (s->worker_header && *s->worker_header) {
		sess->s.worker_header = xstrdup(s->worker_header);
	} else {
		char hostname[256] = "";
		if (gethostname(hostname, sizeof hostname - 1) != 0 || !hostname[0])
			snprintf(hostname, sizeof hostname, "localhost");
		hostname[sizeof hostname - 1] = '\0';
		sess->s.worker_header = xstrdup(hostname);
	}
	header_safe(sess->s.worker_header);
	if (sess->s.backoff_max <= 0)
		sess->s.backoff_max = 120.0;
	if (sess->s.backoff_factor < 0)
		sess->s.backoff_factor = 0;
	if (sess->s.max_req_size <= 0)
		sess->s.max_req_size = 15728640;
	if (sess->s.initial_connect_retries <= 0)
		sess->s.initial_connect_retries = 4;
	sess->s.ca_bundle = dup_or_null(s->ca_bundle);
	if (!sess->s.ca_bundle) {
		/* settings built by hand (not from a config) still get the environment's CA file */
		const char *ca = env_get("REQUESTS_CA_BUNDLE");
		if (!ca)
			ca = env_get("CURL_CA_BUNDLE");
		sess->s.ca_bundle = dup_or_null(ca);
	}
	const char *env_tok = getenv("CLEARML_AUTH_TOKEN");
	sess->env_token = env_tok && sess->s.auth_token && strcmp(env_tok, sess->s.auth_token) == 0;
	sess->host_shown = url_without_userinfo(sess->s.host);
	snprintf(sess->agent_header, sizeof sess->agent_header, "api-%s", CLEARML_AGENT_VERSION);
	api_parse_jwt_claims(NULL, &sess->claims); /* defaults until we log in */

	sess->easy = curl_easy_init();
	sess->multi = curl_multi_init();
	if (!sess->easy || !sess->multi) {
		log_error("api: cannot create a libcurl handle");
		api_session_free(sess);
		return NULL;
	}
	if (!sess->s.verify_cert)
		log_warn("api: TLS certificate verification is disabled for %s", sess->host_shown);
	return sess;
}

void
api_session_free(struct api_session *sess)
{
	if (!sess)
		return;
	if (sess->easy)
		curl_easy_cleanup(sess->easy);
	if (sess->multi)
		curl_multi_cleanup(sess->multi);
	if (sess->token) {
		explicit_bzero(sess->token, strlen(sess->token));
		free(sess->token);
	}
	if (sess->s.secret_key)
		explicit_bzero(sess->s.secret_key, strlen(sess->s.secret_key));
	api_settings_free(&sess->s);
	free(sess->imp_user);
	free(sess->imp_tenant);
	free(sess->host_shown);
	free(sess);
}

void
api_session_set_cancel(struct api_session *sess, volatile sig_atomic_t *cancel)
{
	sess->cancel = cancel;
}

const struct api_claims *
api_claims(const struct api_session *sess)
{
	return &sess->claims;
}

const char *
api_token(const struct api_session *sess)
{
	return sess->token;
}

int
api_version_cmp(const struct api_session *sess, const char *version)
{
	return version_cmp(sess->claims.api_version, version);
}

/* ------------------------------------------------------------------ reply bounds */

size_t
api_reply_bound(const char *endpoint)
{
	const char *action = endpoint ? strchr(endpoint, '.') : NULL;
	action = action ? action + 1 : "";
	if (strcmp(endpoint ? endpoint : "", "auth.login") == 0)
		return API_REPLY_LOGIN;
	/* reads return objects (a task with its diff, a page of events, lists): generous; every
	 * other call (status changes, pings, reports, batches of events) answers with a short
	 * envelope of counters and ids */
	if (strncmp(action, "get", 3) == 0 || strncmp(action, "download", 8) == 0 ||
	    strncmp(action, "debug", 5) == 0 || strncmp(action, "scalar", 6) == 0 ||
	    strncmp(action, "vector", 6) == 0 || strncmp(action, "multi", 5) == 0)
		return API_REPLY_READ;
	return API_REPLY_ACTION;
}

/* ------------------------------------------------------------------ one HTTP exchange */

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer_ctx *x = userdata;
	size_t n = size * nmemb;
	x->last_activity = mono_ms();
	if (buf_append(x->body, ptr, n) != 0) {
		x->overflow = 1;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	return n;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer_ctx *x = userdata;
	size_t n = size * nmemb;
	x->last_activity = mono_ms();
	static const char name[] = "retry-after:";
	if (n > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
		/* Only the delta-seconds form; an HTTP date is ignored (back-off applies). */
		char val[32];
		size_t vl = n - (sizeof name - 1);
		if (vl >= sizeof val)
			vl = sizeof val - 1;
		memcpy(val, ptr + sizeof name - 1, vl);
		val[vl] = '\0';
		long long secs;
		if (parse_long(str_trim(val), 0, 86400, &secs) == 0)
			*x->retry_after = (long)secs;
	}
	return n;
}

static int
on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
            curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	struct xfer_ctx *x = userdata;
	if (ulnow != x->last_ul) {
		x->last_ul = ulnow;
		x->last_activity = mono_ms();
	}
	return 0;
}

static int
stop_requested(const struct api_session *sess, const struct api_call_opts *opts)
{
	return (sess->cancel && *sess->cancel) || (opts && opts->cancel && *opts->cancel);
}

struct request {
	const char *method;
	const char *url;          /* full URL (may hold a query string) */
	const char *shown_url;    /* for messages */
	const char *body;
	size_t body_len;
	const char *content_type;
	const char *auth_header;  /* "Authorization: ..." */
	const char *extra_headers[3]; /* NULL-terminated, complete "Name: value" lines */
	int64_t deadline;         /* monotonic ms; 0 = none */
};

static void
describe_curl_error(struct api_session *sess, CURLcode rc, struct http_result *res)
{
	long os_errno = 0;
	curl_easy_getinfo(sess->easy, CURLINFO_OS_ERRNO, &os_errno);
	res->retryable = 1;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED || os_errno == 0)
			strf(res->cause, sizeof res->cause, "connection refused");
		else
			strf(res->cause, sizeof res->cause, "cannot connect: %s",
			         strerror((int)os_errno));
		break;
	case CURLE_OPERATION_TIMEDOUT:
		strf(res->cause, sizeof res->cause, "timed out (connecting)");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		strf(res->cause, sizeof res->cause, "cannot resolve host name");
		break;
	case CURLE_GOT_NOTHING:
		strf(res->cause, sizeof res->cause,
		         "connection closed by the server without a reply");
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		strf(res->cause, sizeof res->cause, "connection broken: %s",
		         sess->errbuf[0] ? sess->errbuf : curl_easy_strerror(rc));
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		res->retryable = 0;
		strf(res->cause, sizeof res->cause,
		     "TLS certificate verification failed: %s (a private CA goes in REQUESTS_CA_BUNDLE; "
		     "api.verify_certificate: false turns the check off)",
		     sess->errbuf[0] ? sess->errbuf : curl_easy_strerror(rc));
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_WRITE_ERROR:
		res->retryable = 0;
		strf(res->cause, sizeof res->cause, "%s",
		     sess->errbuf[0] ? sess->errbuf : curl_easy_strerror(rc));
		break;
	default:
		strf(res->cause, sizeof res->cause, "%s",
		     sess->errbuf[0] ? sess->errbuf : curl_easy_strerror(rc));
		break;
	}
}

static void
request_timeouts(const struct api_session *sess, size_t body_len, long *connect_ms, long *read_ms)
{
	if (body_len > API_LARGE_BODY) {
		*connect_ms = 30000;
		*read_ms = 30000;
	} else if (sess->requests_done == 0) {
		*connect_ms = 3000;
		*read_ms = 10000;
	} else {
		*connect_ms = 10000;
		*read_ms = 30000;
	}
	if (sess->s.connect_timeout_ms > 0)
		*connect_ms = sess->s.connect_timeout_ms;
	if (sess->s.read_timeout_ms > 0)
		*read_ms = sess->s.read_timeout_ms;
}

/* One request, no retries. Fills res (body reset first). */
static void
http_exchange(struct api_session *sess, const struct request *rq,
              const struct api_call_opts *opts, struct http_result *res)
{
	CURL *e = sess->easy;
	res->status = 0;
	res->retryable = 0;
	res->stopped = 0;
	res->retry_after = -1;
	res->cause[0] = '\0';
	buf_reset(&res->body);
	sess->errbuf[0] = '\0';

	long connect_ms, read_ms;
	request_timeouts(sess, rq->body_len, &connect_ms, &read_ms);

	struct curl_slist *hdrs = NULL, *h;
	char line[512];
	snprintf(line, sizeof line, "Content-Type: %s", rq->content_type);
	hdrs = curl_slist_append(hdrs, line);
	if (rq->auth_header)
		hdrs = curl_slist_append(hdrs, rq->auth_header);
	for (size_t i = 0; i < ARRAY_LEN(rq->extra_headers) && rq->extra_headers[i]; i++)
		hdrs = curl_slist_append(hdrs, rq->extra_headers[i]);
	snprintf(line, sizeof line, "X-ClearML-Worker: %s", sess->s.worker_header);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof line, "X-Trains-Worker: %s", sess->s.worker_header);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof line, "X-ClearML-Agent: %s", sess->agent_header);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof line, "X-Trains-Agent: %s", sess->agent_header);
	hdrs = curl_slist_append(hdrs, line);
	h = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip on large bodies */
	if (!h) {
		curl_slist_free_all(hdrs);
		strf(res->cause, sizeof res->cause, "out of memory building headers");
		return;
	}
	hdrs = h;

	struct xfer_ctx x = { .body = &res->body, .retry_after = &res->retry_after,
		              .last_activity = mono_ms(), .last_ul = 0 };
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, rq->url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
	/* a Content-Length beyond the bound fails before a byte is read */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)res->body.max);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sess->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, sess->s.verify_cert ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, sess->s.verify_cert ? 2L : 0L);
	if (sess->s.ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, sess->s.ca_bundle);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");

	curl_multi_add_handle(sess->multi, e);
	int64_t start = mono_ms();
	int running = 1, connected = 0;
	const char *stop_cause = NULL;
	for (;;) {
		CURLMcode mc = curl_multi_perform(sess->multi, &running);
		if (mc != CURLM_OK) {
			strf(res->cause, sizeof res->cause, "libcurl: %s", curl_multi_strerror(mc));
			break;
		}
		if (!running)
			break;
		mc = curl_multi_poll(sess->multi, NULL, 0, API_POLL_MS, NULL);
		if (mc != CURLM_OK) {
			strf(res->cause, sizeof res->cause, "libcurl: %s", curl_multi_strerror(mc));
			break;
		}
		int64_t now = mono_ms();
		if (stop_requested(sess, opts)) {
			stop_cause = "cancelled";
			break;
		}
		if (rq->deadline && now >= rq->deadline) {
			stop_cause = "deadline exceeded";
			break;
		}
		if (!connected) {
			curl_off_t pre = 0;
			curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
			if (pre > 0) {
				connected = 1;
				if (x.last_activity < start + pre / 1000)
					x.last_activity = start + pre / 1000;
			} else if (now - start > connect_ms + read_ms) {
				strf(res->cause, sizeof res->cause, "timed out (connecting)");
				res->retryable = 1;
				break;
			}
		}
		if (connected && now - x.last_activity > read_ms) {
			strf(res->cause, sizeof res->cause, "timed out (no reply within %ld ms)",
			         read_ms);
			res->retryable = 1;
			break;
		}
	}

	if (!running && !res->cause[0]) {
		int left = 0;
		CURLMsg *m;
		CURLcode rc = CURLE_OK;
		while ((m = curl_multi_info_read(sess->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE && m->easy_handle == e)
				rc = m->data.result;
		if (rc == CURLE_OK) {
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res->status);
		} else if (x.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
			/* more than the endpoint can legitimately return: asking again will not help */
			strf(res->cause, sizeof res->cause,
			     "the server's reply is larger than %zu MiB, more than this call can return; "
			     "refusing it", res->body.max >> 20);
			res->retryable = 0;
		} else {
			describe_curl_error(sess, rc, res);
		}
	}
	if (stop_cause) {
		strf(res->cause, sizeof res->cause, "%s", stop_cause);
		res->stopped = 1;
		res->retryable = 0;
	}
	curl_multi_remove_handle(sess->multi, e);
	/* The slist must outlive the transfer; nothing refers to it once the handle is reset. */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	sess->requests_done++;
}

/* ------------------------------------------------------------------ retries */

/* 503 is retried only while we wait on maintenance; without that it is the server's answer. */
static int
status_retryable(const struct api_session *sess, long status)
{
	return status == 429 || status == 502 || status == 509 ||
	       (status == 503 && sess->s.wait_on_maintenance_forever);
}

/* Sleep ms in slices of API_POLL_MS; returns -1 when cancel or the deadline stops it. */
static int
backoff_sleep(const struct api_session *sess, const struct api_call_opts *opts, int64_t ms,
              int64_t deadline)
{
	int64_t end = mono_ms() + ms;
	for (;;) {
		if (stop_requested(sess, opts))
			return -1;
		int64_t now = mono_ms();
		if (deadline && now >= deadline)
			return -1;
		if (now >= end)
			return 0;
		int64_t slice = end - now;
		if (slice > API_POLL_MS)
			slice = API_POLL_MS;
		if (deadline && deadline - now < slice)
			slice = deadline - now;
		struct timespec ts = { .tv_sec = (time_t)(slice / 1000),
			               .tv_nsec = (long)(slice % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
			if (stop_requested(sess, opts))
				return -1;
		}
	}
}

static int64_t
backoff_ms(const struct api_settings *s, int attempt)
{
	double d = s->backoff_factor;
	for (int i = 1; i < attempt && d < s->backoff_max; i++)
		d *= 2;
	if (d > s->backoff_max)
		d = s->backoff_max;
	/* Jitter spreads a fleet of agents that lost the server at the same moment. */
	d += d * 0.25 * random_unit();
	return (int64_t)(d * 1000.0);
}

/* Run rq, retrying per policy. max_attempts 0 = no limit (deadline/cancel still apply).
 * Returns 0 when an HTTP reply that is not retried arrived (res->status set), -1 otherwise with
 * res->cause set. */
static int
perform(struct api_session *sess, const struct request *rq, const struct api_call_opts *opts,
        int max_attempts, struct http_result *res)
{
	int in_maintenance = 0;
	char last_cause[sizeof res->cause] = "";
	if (stop_requested(sess, opts) || (rq->deadline && mono_ms() >= rq->deadline)) {
		res->status = 0;
		res->stopped = 1;
		strf(res->cause, sizeof res->cause, "%s before the request was sent",
		     stop_requested(sess, opts) ? "cancelled" : "deadline exceeded");
		return -1;
	}
	for (int attempt = 1;; attempt++) {
		http_exchange(sess, rq, opts, res);
		if (res->stopped && last_cause[0]) {
			/* Stopped mid-transfer after earlier failures: say what those were. */
			char now_cause[sizeof res->cause];
			strf(now_cause, sizeof now_cause, "%s", res->cause);
			strf(res->cause, sizeof res->cause, "%s after %d attempts (last: %s)", now_cause,
			     attempt, last_cause);
		}
		int retry;
		if (res->status > 0 && !status_retryable(sess, res->status)) {
			sess->fail_streak = 0;
			sess->maintenance_logged = 0;
			return 0;
		}
		if (res->status > 0) {
			retry = 1;
			strf(res->cause, sizeof res->cause, "HTTP %ld%s", res->status,
			         res->status == 503 ? " service unavailable" :
			         res->status == 429 ? " too many requests" :
			         res->status == 502 ? " bad gateway" : "");
		} else {
			retry = res->retryable && !res->stopped;
		}
		sess->fail_streak++;
		if (!retry)
			return -1;
		in_maintenance = res->status == 503 && sess->s.wait_on_maintenance_forever;
		if (in_maintenance && !sess->maintenance_logged) {
			log_warn("api: %s is undergoing maintenance (HTTP 503), waiting for it",
			         sess->host_shown);
			sess->maintenance_logged = 1;
		}
		/* max_attempts (the fail-fast first login) bounds maintenance waits too: the
		 * caller owns the retry loop then and says what it waits for. */
		if (max_attempts > 0 && attempt >= max_attempts) {
			if (res->status > 0)
				return 0; /* hand the last reply to the envelope parser */
			return -1;
		}
		if (sess->fail_streak >= API_WARN_AFTER && !in_maintenance)
			log_warn("api: %s %s: %s; retrying (attempt %d)", rq->method, rq->shown_url,
			         res->cause, attempt + 1);
		strf(last_cause, sizeof last_cause, "%s", res->cause);
		int64_t wait = backoff_ms(&sess->s, attempt);
		/* A server that says when to come back is believed, within backoff_max. */
		if (res->status > 0 && res->retry_after >= 0) {
			int64_t ra = (int64_t)res->retry_after * 1000;
			int64_t cap = (int64_t)(sess->s.backoff_max * 1000.0);
			wait = ra > cap ? cap : ra > wait ? ra : wait;
		}
		if (backoff_sleep(sess, opts, wait, rq->deadline) != 0) {
			char prev[200];
			strf(prev, sizeof prev, "%s", res->cause);
			strf(res->cause, sizeof res->cause, "%s after %d attempt%s (last: %s)",
			         stop_requested(sess, opts) ? "cancelled" : "deadline exceeded",
			         attempt, attempt == 1 ? "" : "s", prev);
			res->stopped = 1;
			res->status = 0;
			return -1;
		}
	}
}

/* ------------------------------------------------------------------ login */

static void
set_token(struct api_session *sess, const char *token)
{
	if (sess->token) {
		explicit_bzero(sess->token, strlen(sess->token));
		free(sess->token);
	}
	sess->token = xstrdup(token);
	if (api_parse_jwt_claims(token, &sess->claims) != 0)
		log_debug("api: the server's token is not a readable JWT; using default claims");
	const char *cap = env_get("CLEARML_AGENT_FORCE_MAX_API_VERSION");
	if (cap && version_cmp(sess->claims.api_version, cap) > 0)
		snprintf(sess->claims.api_version, sizeof sess->claims.api_version, "%s", cap);
	/* Upstream writes a refreshed token back where it came from, so children see it. */
	if (sess->env_token)
		setenv("CLEARML_AUTH_TOKEN", token, 1);
}

static int
do_login(struct api_session *sess, const struct api_call_opts *opts, struct api_error *err)
{
	struct api_error tmp;
	if (!err)
		err = &tmp;
	memset(err, 0, sizeof *err);
	/* Impersonation (§3.6) is a versioned login with the expiry in the body; the plain login
	 * is unversioned with the expiry as a query parameter, as upstream sends them. */
	char *url = api_build_url(sess->s.host, sess->imp_user ? "2.5" : NULL, "auth.login");
	char *body = sess->s.request_token_expiration_sec > 0 && sess->imp_user
	                 ? xasprintf("{\"expiration_sec\":%ld}", sess->s.request_token_expiration_sec)
	                 : xstrdup("{}");
	if (sess->s.request_token_expiration_sec > 0 && !sess->imp_user) {
		char *u = xasprintf("%s?expiration_sec=%ld", url, sess->s.request_token_expiration_sec);
		free(url);
		url = u;
	}
	char *shown = url_without_userinfo(url);
	char *imp_hdr = sess->imp_user ? xasprintf("X-Clearml-Impersonate-As: %s", sess->imp_user)
	                               : NULL;
	char *tenant_hdr = sess->imp_user && sess->imp_tenant
	                       ? xasprintf("X-Clearml-Tenant: %s", sess->imp_tenant)
	                       : NULL;
	header_safe(imp_hdr);
	header_safe(tenant_hdr);

	char *auth = NULL;
	/* Impersonating logins go with the agent's own token; refreshes with the current one. */
	const char *bearer = sess->token && !sess->imp_user ? sess->token : sess->s.auth_token;
	if (sess->s.auth_token && *sess->s.auth_token) {
		auth = xasprintf("Authorization: Bearer %s", bearer);
	} else if (sess->s.access_key && *sess->s.access_key && sess->s.secret_key) {
		char *pair = xasprintf("%s:%s", sess->s.access_key, sess->s.secret_key);
		char *b64 = api_b64_encode(pair, strlen(pair));
		auth = xasprintf("Authorization: Basic %s", b64);
		explicit_bzero(pair, strlen(pair));
		explicit_bzero(b64, strlen(b64));
		free(pair);
		free(b64);
	} else if (sess->token) {
		auth = xasprintf("Authorization: Bearer %s", sess->token);
	} else {
		errf(err, "Failed getting token from %s: no credentials configured "
		         "(api.credentials.access_key/secret_key or CLEARML_AUTH_TOKEN)", shown);
		free(url);
		free(shown);
		free(body);
		free(imp_hdr);
		free(tenant_hdr);
		return -1;
	}
	header_safe(auth);

	struct request rq = {
		.method = sess->s.default_method,
		.url = url,
		.shown_url = shown,
		.body = body,
		.body_len = strlen(body),
		.content_type = "application/json",
		.auth_header = auth,
		.extra_headers = { imp_hdr ? imp_hdr : tenant_hdr, imp_hdr ? tenant_hdr : NULL, NULL },
		.deadline = opts && opts->deadline_ms > 0 ? mono_ms() + opts->deadline_ms : 0,
	};
	struct http_result res;
	buf_init(&res.body, api_reply_bound("auth.login"));
	int first = !sess->logged_in_once;
	int max_attempts = first ? sess->s.initial_connect_retries + 1 : 0;
	int rc = perform(sess, &rq, opts, max_attempts, &res);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	if (rc != 0) {
		err->http_status = 0;
		errf(err, "Failed getting token from %s: %s", shown,
		         res.cause);
		goto out;
	}
	json_t *data = NULL;
	struct api_error env;
	if (api_parse_envelope(res.body.data, res.body.len, (int)res.status, &data, &env) != 0) {
		*err = env;
		const char *what = "";
		if (env.code == 401 || res.status == 401)
			what = " invalid credentials";
		else if (env.code == 403 || res.status == 403)
			what = " forbidden";
		errf(err, "Failed getting token from %s: %ld%s (%s)", shown,
		         res.status, what, env.msg);
		rc = -1;
		goto out;
	}
	const char *token = json_string_value(json_object_get(data, "token"));
	if (!token || !*token) {
		err->http_status = (int)res.status;
		err->code = 200;
		errf(err, "Failed getting token from %s: api_server is misconfigured "
		         "(the auth.login reply has no token)", shown);
		json_decref(data);
		rc = -1;
		goto out;
	}
	set_token(sess, token);
	sess->logged_in_once = 1;
	json_decref(data);
	log_debug("api: logged in to %s (api %s, server %s, feature set %s)", sess->host_shown,
	          sess->claims.api_version, sess->claims.server_version, sess->claims.feature_set);
out:
	buf_free(&res.body);
	free(url);
	free(shown);
	free(body);
	free(imp_hdr);
	free(tenant_hdr);
	return rc;
}

int
api_login(struct api_session *sess, struct api_error *err)
{
	return do_login(sess, NULL, err);
}

static int ensure_token(struct api_session *sess, const struct api_call_opts *opts,
                        struct api_error *err);

struct api_session *
api_session_impersonate(struct api_session *base, const char *user, const char *company,
                        struct api_error *err)
{
	struct api_error tmp;
	if (!err)
		err = &tmp;
	memset(err, 0, sizeof *err);
	if (!user || !*user) {
		errf(err, "impersonation needs a user id");
		return NULL;
	}
	if (ensure_token(base, NULL, err) != 0)
		return NULL;
	struct api_settings s = base->s;
	s.access_key = s.secret_key = NULL;
	s.auth_token = base->token;
	struct api_session *sess = api_session_new(&s);
	if (!sess) {
		errf(err, "cannot create a session");
		return NULL;
	}
	sess->cancel = base->cancel;
	sess->env_token = 0; /* the task's token is not the agent's */
	sess->imp_user = xstrdup(user);
	int rc = do_login(sess, NULL, err);
	if (rc == 0 && company && *company && strcmp(sess->claims.tenant, company) != 0) {
		/* The server put the user in another tenant: ask for the task's company. */
		sess->imp_tenant = xstrdup(company);
		rc = do_login(sess, NULL, err);
	}
	/* Later refreshes use the impersonated token itself (a plain Bearer login). */
	free(sess->imp_user);
	free(sess->imp_tenant);
	sess->imp_user = sess->imp_tenant = NULL;
	if (rc != 0) {
		api_session_free(sess);
		return NULL;
	}
	return sess;
}

/* Log in when there is no token, or when it expires within the threshold (§3.3.6). */
static int
ensure_token(struct api_session *sess, const struct api_call_opts *opts, struct api_error *err)
{
	if (sess->token) {
		if (sess->claims.exp == 0)
			return 0;
		/* Upstream refreshes once fewer than threshold (12 h) seconds are left, which means
		 * before every call when the server hands out shorter tokens. We cap the threshold at
		 * half the token's lifetime, so a 1 h token is refreshed every 30 min instead. */
		int64_t threshold = sess->s.token_threshold_sec;
		if (sess->claims.iat > 0 && sess->claims.exp > sess->claims.iat &&
		    (sess->claims.exp - sess->claims.iat) / 2 < threshold)
			threshold = (sess->claims.exp - sess->claims.iat) / 2;
		if (sess->claims.exp - (int64_t)now_sec() - threshold > 0)
			return 0;
		log_debug("api: token expires soon, logging in again");
	}
	return do_login(sess, opts, err);
}

/* ------------------------------------------------------------------ calls */

/* One call (no batch splitting): token, request with retries, one re-login on 401, envelope. */
static int
call_once(struct api_session *sess, const char *endpoint, const char *body, size_t len,
          const char *content_type, const char *method, const struct api_call_opts *opts,
          int64_t deadline, json_t **data_out, struct api_error *err)
{
	struct api_error tmp;
	if (!err)
		err = &tmp;
	memset(err, 0, sizeof *err);
	if (data_out)
		*data_out = NULL;
	if (ensure_token(sess, opts, err) != 0)
		return -1;

	char *url = api_build_url(sess->s.host, opts ? opts->version : NULL, endpoint);
	char *shown = url_without_userinfo(url);
	struct http_result res;
	buf_init(&res.body, api_reply_bound(endpoint));
	int rc = -1;
	for (int relogged = 0;; relogged = 1) {
		char *auth = xasprintf("Authorization: Bearer %s", sess->token);
		header_safe(auth);
		struct request rq = {
			.method = method,
			.url = url,
			.shown_url = shown,
			.body = body,
			.body_len = len,
			.content_type = content_type,
			.auth_header = auth,
			.deadline = deadline,
		};
		log_debug("api: %s %s", method, shown);
		int prc = perform(sess, &rq, opts, 0, &res);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		if (prc != 0) {
			err->http_status = 0;
			errf(err, "%s: %s", shown, res.cause);
			break;
		}
		struct api_error env;
		rc = api_parse_envelope(res.body.data, res.body.len, (int)res.status, data_out, &env);
		if (rc == 0)
			break;
		if ((res.status == 401 || env.code == 401) && !relogged) {
			/* The token was revoked or the server restarted with a new secret. */
			log_debug("api: %s answered 401, logging in again", shown);
			struct api_call_opts lopts = opts ? *opts : (struct api_call_opts){ 0 };
			if (deadline)
				lopts.deadline_ms = deadline - mono_ms() > 0 ? deadline - mono_ms() : 1;
			if (do_login(sess, &lopts, err) != 0)
				break;
			continue;
		}
		*err = env;
		errf(err, "%s: %s", shown, env.msg);
		break;
	}
	buf_free(&res.body);
	free(url);
	free(shown);
	return rc;
}

int
api_call_ex(struct api_session *sess, const char *endpoint, json_t *req,
            const struct api_call_opts *opts, json_t **data_out, struct api_error *err)
{
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (req && !body) {
		if (err) {
			memset(err, 0, sizeof *err);
			errf(err, "%s: cannot encode the request as JSON",
			         endpoint);
		}
		return -1;
	}
	const char *method = opts && opts->method ? opts->method : sess->s.default_method;
	int64_t deadline = opts && opts->deadline_ms > 0 ? mono_ms() + opts->deadline_ms : 0;
	int rc = call_once(sess, endpoint, body ? body : "{}", body ? strlen(body) : 2,
	                   "application/json", method, opts, deadline, data_out, err);
	free(body);
	return rc;
}

int
api_call(struct api_session *sess, const char *endpoint, const char *version, json_t *req,
         json_t **data_out, struct api_error *err)
{
	struct api_call_opts opts = { .version = version };
	return api_call_ex(sess, endpoint, req, &opts, data_out, err);
}

/* Sum the integer counters (added, errors, ...) of batch chunk replies; keep the rest of the last. */
static void
merge_batch_data(json_t *acc, json_t *next)
{
	const char *key;
	json_t *v;
	json_object_foreach(next, key, v) {
		json_t *old = json_object_get(acc, key);
		if (json_is_integer(old) && json_is_integer(v))
			json_object_set_new(acc, key,
			                    json_integer(json_integer_value(old) + json_integer_value(v)));
		else
			json_object_set(acc, key, v);
	}
}

/* Length of the next chunk of body starting at off: whole lines, at most max bytes (a single
 * longer line goes alone). The separator after the chunk is not included. */
size_t
api_batch_chunk(const char *body, size_t len, size_t off, size_t max)
{
	size_t end = off;
	size_t best = 0;
	while (end < len) {
		const char *nl = memchr(body + end, '\n', len - end);
		size_t line_end = nl ? (size_t)(nl - body) : len;
		if (line_end - off > max && best > 0)
			break;
		best = line_end - off;
		end = line_end + 1;
		if (best >= max)
			break;
	}
	return best;
}

int
api_call_batch(struct api_session *sess, const char *endpoint, const char *body, size_t len,
               const struct api_call_opts *opts, json_t **data_out, struct api_error *err)
{
	const char *method = opts && opts->method ? opts->method : "POST";
	int64_t deadline = opts && opts->deadline_ms > 0 ? mono_ms() + opts->deadline_ms : 0;
	size_t max = (size_t)sess->s.max_req_size;
	if (data_out)
		*data_out = NULL;
	if (len <= max) /* the usual case: one request, body as given */
		return call_once(sess, endpoint, body, len, "application/json-lines", method, opts,
		                 deadline, data_out, err);

	json_t *acc = json_object();
	size_t off = 0;
	while (off < len) {
		size_t n = api_batch_chunk(body, len, off, max);
		if (n == 0) { /* an empty line */
			off++;
			continue;
		}
		json_t *data = NULL;
		if (call_once(sess, endpoint, body + off, n, "application/json-lines", method, opts,
		              deadline, &data, err) != 0) {
			json_decref(acc);
			return -1;
		}
		merge_batch_data(acc, data);
		json_decref(data);
		off += n + 1;
	}
	if (data_out)
		*data_out = acc;
	else
		json_decref(acc);
	return 0;
}
