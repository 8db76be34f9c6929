/*
 * Client behaviour of api.c against a scripted HTTP/1.1 responder on 127.0.0.1:0 (a thread per
 * connection answering a script of canned replies and recording every request): re-login on 401,
 * retries on 503 and dropped connections, read timeouts, garbage replies, fail-fast first login,
 * GET/POST switch, json-lines batches, headers, deadline and cancel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "jwt.h"
#include "util.h"

/* ------------------------------------------------------------------ the responder */

struct canned {
	int status;
	const char *body;        /* NULL → an empty 200 envelope */
	int delay_ms;            /* wait before answering */
	int drop;                /* close the connection without a reply */
	volatile sig_atomic_t *set_flag; /* set to 1 when this reply is served */
	const char *headers;     /* extra header lines, each ending in \r\n */
};

#define MAX_SCRIPT 32
#define MAX_REQ 64
#define MAX_CONN 32

struct responder {
	int lfd;
	int port;
	pthread_t acceptor;
	pthread_t conns[MAX_CONN];
	int nconns;
	pthread_mutex_t mu;
	struct canned script[MAX_SCRIPT];
	int nscript, next;
	struct canned fallback;  /* once the script is used up */
	char *req[MAX_REQ];      /* request line + headers + body, as received */
	int nreq;
	volatile int stop;
};

struct conn_arg {
	struct responder *r;
	int fd;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Read one request into b; 0 ok, -1 closed/stopped. */
static int
read_request(struct responder *r, int fd, struct buf *b)
{
	buf_reset(b);
	size_t need = 0;
	for (;;) {
		char *hdr_end = b->len ? strstr(b->data, "\r\n\r\n") : NULL;
		if (hdr_end && !need) {
			size_t hlen = (size_t)(hdr_end - b->data) + 4;
			size_t clen = 0;
			for (char *p = b->data; p < hdr_end; p = strstr(p, "\r\n") + 2) {
				if (strncasecmp(p, "Content-Length:", 15) == 0)
					clen = strtoul(p + 15, NULL, 10);
				if (!strstr(p, "\r\n"))
					break;
			}
			need = hlen + clen;
		}
		if (need && b->len >= need)
			return 0;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, 50);
		if (r->stop)
			return -1;
		if (pr <= 0)
			continue;
		char tmp[4096];
		ssize_t n = recv(fd, tmp, sizeof tmp, 0);
		if (n <= 0)
			return -1;
		if (buf_append(b, tmp, (size_t)n) != 0)
			return -1;
	}
}

static void *
conn_main(void *p)
{
	struct conn_arg *a = p;
	struct responder *r = a->r;
	int fd = a->fd;
	free(a);
	struct buf b;
	buf_init(&b, 1 << 24);
	while (!r->stop && read_request(r, fd, &b) == 0) {
		struct canned c;
		pthread_mutex_lock(&r->mu);
		if (r->nreq < MAX_REQ)
			r->req[r->nreq++] = xstrdup(b.data);
		c = r->next < r->nscript ? r->script[r->next++] : r->fallback;
		pthread_mutex_unlock(&r->mu);
		if (c.set_flag)
			*c.set_flag = 1;
		if (c.drop)
			break;
		for (int waited = 0; waited < c.delay_ms && !r->stop; waited += 20)
			sleep_ms(20);
		const char *body = c.body ? c.body
		                          : "{\"meta\":{\"result_code\":200,\"result_subcode\":0,"
		                            "\"result_msg\":\"OK\"},\"data\":{}}";
		char head[256];
		int hl = snprintf(head, sizeof head,
		                  "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		                  "%sContent-Length: %zu\r\n\r\n",
		                  c.status ? c.status : 200, c.headers ? c.headers : "", strlen(body));
		send_all(fd, head, (size_t)hl);
		send_all(fd, body, strlen(body));
	}
	buf_free(&b);
	close(fd);
	return NULL;
}

static void *
acceptor_main(void *p)
{
	struct responder *r = p;
	while (!r->stop) {
		struct pollfd pfd = { .fd = r->lfd, .events = POLLIN };
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&r->mu);
		if (r->nconns >= MAX_CONN) {
			pthread_mutex_unlock(&r->mu);
			close(fd);
			continue;
		}
		struct conn_arg *a = xmalloc(sizeof *a);
		a->r = r;
		a->fd = fd;
		pthread_create(&r->conns[r->nconns++], NULL, conn_main, a);
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

static int
listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t sl = sizeof sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static struct responder *
responder_start(const struct canned *script, int n)
{
	struct responder *r = xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	assert_true(n <= MAX_SCRIPT);
	for (int i = 0; i < n; i++)
		r->script[i] = script[i];
	r->nscript = n;
	r->lfd = listen_local(&r->port);
	assert_int_equal(listen(r->lfd, 16), 0);
	pthread_create(&r->acceptor, NULL, acceptor_main, r);
	return r;
}

static void
responder_stop(struct responder *r)
{
	r->stop = 1;
	pthread_join(r->acceptor, NULL);
	for (int i = 0; i < r->nconns; i++)
		pthread_join(r->conns[i], NULL);
	close(r->lfd);
	for (int i = 0; i < r->nreq; i++)
		free(r->req[i]);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static int
nreq(struct responder *r)
{
	pthread_mutex_lock(&r->mu);
	int n = r->nreq;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* The value of header name in request i ("" when absent); static buffer. */
static const char *
req_header(struct responder *r, int i, const char *name)
{
	static char val[1024];
	val[0] = '\0';
	const char *p = r->req[i];
	size_t nl = strlen(name);
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncmp(p, "\r\n", 2) == 0)
			break;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = strcspn(v, "\r");
			snprintf(val, sizeof val, "%.*s", (int)vl, v);
			break;
		}
	}
	return val;
}

static const char *
req_body(struct responder *r, int i)
{
	const char *p = strstr(r->req[i], "\r\n\r\n");
	return p ? p + 4 : "";
}

static int
req_line_is(struct responder *r, int i, const char *method, const char *path)
{
	char want[512];
	snprintf(want, sizeof want, "%s %s HTTP/1.1\r\n", method, path);
	return strncmp(r->req[i], want, strlen(want)) == 0;
}

/* ------------------------------------------------------------------ fixtures */

static char *
b64url(const char *s)
{
	char *b = api_b64_encode(s, strlen(s));
	size_t o = 0;
	for (size_t i = 0; b[i]; i++) {
		if (b[i] == '=')
			continue;
		b[o++] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
	}
	b[o] = '\0';
	return b;
}

/* A login reply whose token carries these claims (JSON object text). Caller frees. */
static char *
login_reply(const char *claims)
{
	char *h = b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	char *c = b64url(claims);
	char *body = xasprintf("{\"meta\":{\"result_code\":200,\"result_subcode\":0,\"result_msg\":"
	                       "\"OK\"},\"data\":{\"token\":\"%s.%s.c2ln\"}}",
	                       h, c);
	free(h);
	free(c);
	return body;
}

static char *g_login; /* default login reply: api 2.31, never expires */

static const char *ERR401 = "{\"meta\":{\"result_code\":401,\"result_subcode\":22,"
                            "\"result_msg\":\"Invalid user credentials\"},\"data\":{}}";
static const char *ERR401_TOKEN = "{\"meta\":{\"result_code\":401,\"result_subcode\":30,"
                                  "\"result_msg\":\"Invalid token\"},\"data\":{}}";
static const char *OK_X = "{\"meta\":{\"result_code\":200,\"result_subcode\":0,"
                          "\"result_msg\":\"OK\"},\"data\":{\"x\":42}}";
static const char *ERR503 = "{\"meta\":{\"result_code\":503,\"result_subcode\":0,"
                            "\"result_msg\":\"Service Unavailable\"},\"data\":{}}";

static void
settings_for(struct api_settings *s, int port)
{
	memset(s, 0, sizeof *s);
	s->host = xasprintf("http://127.0.0.1:%d/", port);
	s->access_key = xstrdup("AKEY");
	s->secret_key = xstrdup("SSECRET");
	s->default_method = xstrdup("GET");
	s->worker_header = xstrdup("test-host");
	s->verify_cert = 1;
	s->token_threshold_sec = 43200;
	s->wait_on_maintenance_forever = 1;
	s->initial_connect_retries = 2;
	s->backoff_factor = 0.001;
	s->backoff_max = 0.05;
	s->max_req_size = 15728640;
	s->connect_timeout_ms = 2000;
	s->read_timeout_ms = 5000;
}

static struct api_session *
session_for(struct responder *r, void (*tweak)(struct api_settings *))
{
	struct api_settings s;
	settings_for(&s, r->port);
	if (tweak)
		tweak(&s);
	struct api_session *sess = api_session_new(&s);
	api_settings_free(&s);
	assert_non_null(sess);
	return sess;
}

static int
call_x(struct api_session *sess, struct api_error *err)
{
	json_t *req = json_pack("{s:s}", "task", "t1");
	json_t *data = NULL;
	int rc = api_call(sess, "tasks.get_by_id", "2.5", req, &data, err);
	json_decref(req);
	if (rc == 0) {
		assert_int_equal(json_integer_value(json_object_get(data, "x")), 42);
		json_decref(data);
	}
	return rc;
}

/* ------------------------------------------------------------------ tests */

static void
test_login_and_headers(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 2);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	assert_string_equal(api_claims(sess)->api_version, "2.31");
	assert_int_equal(api_version_cmp(sess, "2.13"), 1);
	assert_int_equal(api_version_cmp(sess, "2.31"), 0);
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 2);

	/* login: unversioned, default method, HTTP Basic with base64("AKEY:SSECRET") */
	assert_true(req_line_is(r, 0, "GET", "/auth.login"));
	assert_string_equal(req_header(r, 0, "Authorization"), "Basic QUtFWTpTU0VDUkVU");
	/* the call: versioned URL, JSON body, Bearer and the identification headers */
	assert_true(req_line_is(r, 1, "GET", "/v2.5/tasks.get_by_id"));
	char *want = xasprintf("Bearer %s", api_token(sess));
	assert_string_equal(req_header(r, 1, "Authorization"), want);
	free(want);
	assert_string_equal(req_header(r, 1, "Content-Type"), "application/json");
	assert_string_equal(req_header(r, 1, "X-ClearML-Worker"), "test-host");
	assert_string_equal(req_header(r, 1, "X-Trains-Worker"), "test-host");
	assert_string_equal(req_header(r, 1, "X-ClearML-Agent"), "api-1.9.2");
	assert_string_equal(req_header(r, 1, "X-Trains-Agent"), "api-1.9.2");
	assert_string_equal(req_body(r, 1), "{\"task\":\"t1\"}");
	api_session_free(sess);
	responder_stop(r);
}

static void
test_call_logs_in_lazily(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 200, OK_X, 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 3);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(call_x(sess, &err), 0);
	/* one login, then two calls on the same token */
	assert_int_equal(nreq(r), 3);
	assert_true(req_line_is(r, 0, "GET", "/auth.login"));
	assert_true(req_line_is(r, 2, "GET", "/v2.5/tasks.get_by_id"));
	assert_int_equal(r->nconns, 1); /* keep-alive: one connection for all three */
	api_session_free(sess);
	responder_stop(r);
}

static void
test_401_relogin_then_success(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL },
		                   { 401, ERR401_TOKEN, 0, 0, NULL, NULL },
		                   { 200, g_login, 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 4);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 4);
	assert_true(req_line_is(r, 2, "GET", "/auth.login"));
	assert_true(req_line_is(r, 3, "GET", "/v2.5/tasks.get_by_id"));
	api_session_free(sess);
	responder_stop(r);
}

static void
test_401_twice_fails_once_relogged(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL },
		                   { 401, ERR401_TOKEN, 0, 0, NULL, NULL },
		                   { 200, g_login, 0, 0, NULL, NULL },
		                   { 401, ERR401_TOKEN, 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 5);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), -1);
	assert_int_equal(err.code, 401);
	assert_int_equal(err.subcode, 30);
	assert_int_equal(nreq(r), 4); /* exactly one re-login and one repeat */
	assert_non_null(strstr(err.msg, "Invalid token"));
	api_session_free(sess);
	responder_stop(r);
}

static void
test_503_twice_then_success(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL },
		                   { 503, ERR503, 0, 0, NULL, NULL },
		                   { 503, "maintenance", 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 4);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 4);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_502_429_retried(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 502, "bad gateway", 0, 0, NULL, NULL },
		                   { 429, "slow down", 0, 0, NULL, NULL }, { 509, "", 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 5);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 5);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_dropped_connection_then_success(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 0, NULL, 0, 1, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 3);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 3);
	api_session_free(sess);
	responder_stop(r);
}

static void
short_read_timeout(struct api_settings *s)
{
	s->read_timeout_ms = 300;
}

static void
test_slow_reply_times_out_and_retries(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 200, OK_X, 1500, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 3);
	struct api_session *sess = session_for(r, short_read_timeout);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 3); /* the slow one was abandoned, the retry answered */
	api_session_free(sess);
	responder_stop(r);
}

static void
test_slow_reply_with_deadline_fails_timed_out(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	r->fallback = (struct canned){ 200, OK_X, 3000, 0, NULL, NULL };
	struct api_session *sess = session_for(r, short_read_timeout);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	struct api_call_opts opts = { .version = "2.5", .deadline_ms = 1000 };
	json_t *data = NULL;
	assert_int_equal(api_call_ex(sess, "tasks.get_by_id", NULL, &opts, &data, &err), -1);
	assert_null(data);
	assert_int_equal(err.http_status, 0);
	assert_non_null(strstr(err.msg, "timed out"));
	assert_non_null(strstr(err.msg, "tasks.get_by_id"));
	api_session_free(sess);
	responder_stop(r);
}

static void
test_garbage_json(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL },
		                   { 200, "{\"meta\": {\"result_code\": 2", 0, 0, NULL, NULL },
		                   { 500, "<html>Failed processing request</html>", 0, 0, NULL, NULL },
		                   { 200, "[1,2,3]", 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 4);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), -1);
	assert_int_equal(err.http_status, 200);
	assert_non_null(strstr(err.msg, "not a JSON envelope"));
	assert_int_equal(call_x(sess, &err), -1);
	assert_int_equal(err.http_status, 500);
	assert_int_equal(err.code, 500);
	assert_non_null(strstr(err.msg, "Failed processing request"));
	assert_int_equal(call_x(sess, &err), -1);
	assert_non_null(strstr(err.msg, "not a JSON envelope"));
	assert_int_equal(nreq(r), 4); /* a 500 is an answer, not retried */
	api_session_free(sess);
	responder_stop(r);
}

static void
test_wrong_credentials_fail_fast(void **state)
{
	(void)state;
	struct canned script[] = { { 401, ERR401, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	r->fallback = (struct canned){ 200, g_login, 0, 0, NULL, NULL };
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), -1);
	assert_int_equal(nreq(r), 1);
	char *url = xasprintf("http://127.0.0.1:%d/auth.login", r->port);
	assert_non_null(strstr(err.msg, url));
	free(url);
	assert_non_null(strstr(err.msg, "401 invalid credentials"));
	assert_non_null(strstr(err.msg, "Invalid user credentials"));
	assert_null(strstr(err.msg, "SSECRET"));
	assert_null(strstr(err.msg, "QUtFWTpTU0VDUkVU"));
	assert_int_equal(err.code, 401);
	assert_int_equal(err.subcode, 22);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_connection_refused_fails_fast(void **state)
{
	(void)state;
	int port;
	int fd = listen_local(&port); /* bound, never listening: connect is refused */
	struct api_settings s;
	settings_for(&s, port);
	free(s.host);
	s.host = xasprintf("http://user:hidden-pw@127.0.0.1:%d", port);
	struct api_session *sess = api_session_new(&s);
	api_settings_free(&s);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), -1);
	assert_int_equal(err.http_status, 0);
	assert_non_null(strstr(err.msg, "connection refused"));
	char *url = xasprintf("http://127.0.0.1:%d/auth.login", port);
	assert_non_null(strstr(err.msg, url));
	free(url);
	assert_null(strstr(err.msg, "hidden-pw"));
	api_session_free(sess);
	close(fd);
}

static void
use_post(struct api_settings *s)
{
	free(s->default_method);
	s->default_method = xstrdup("POST");
}

static void
test_method_switch(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 200, OK_X, 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 3);
	struct api_session *sess = session_for(r, use_post);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	struct api_call_opts opts = { .method = "PUT" };
	json_t *data = NULL;
	assert_int_equal(api_call_ex(sess, "workers.get_all", NULL, &opts, &data, &err), 0);
	json_decref(data);
	assert_int_equal(nreq(r), 3);
	assert_true(req_line_is(r, 0, "POST", "/auth.login"));
	assert_true(req_line_is(r, 1, "POST", "/v2.5/tasks.get_by_id"));
	assert_true(req_line_is(r, 2, "PUT", "/workers.get_all"));
	assert_string_equal(req_body(r, 2), "{}");
	api_session_free(sess);
	responder_stop(r);
}

static void
small_batches(struct api_settings *s)
{
	s->max_req_size = 50;
}

static void
test_batch_split(void **state)
{
	(void)state;
	const char *added = "{\"meta\":{\"result_code\":200,\"result_subcode\":0,\"result_msg\":"
	                    "\"OK\"},\"data\":{\"added\":2,\"errors\":0}}";
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 200, added, 0, 0, NULL, NULL },
		                   { 200, added, 0, 0, NULL, NULL }, { 200, added, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 4);
	struct api_session *sess = session_for(r, small_batches);
	/* 20-byte lines: two fit in 50 bytes (41 with the separator), three do not */
	const char *line = "{\"msg\":\"0123456789\"}";
	assert_int_equal(strlen(line), 20);
	char *body = xasprintf("%s\n%s\n%s\n%s\n%s", line, line, line, line, line);
	struct api_error err;
	json_t *data = NULL;
	assert_int_equal(
	    api_call_batch(sess, "events.add_batch", body, strlen(body), NULL, &data, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(data, "added")), 6);
	json_decref(data);
	assert_int_equal(nreq(r), 4);
	char *two = xasprintf("%s\n%s", line, line);
	for (int i = 1; i <= 3; i++) {
		assert_true(req_line_is(r, i, "POST", "/events.add_batch"));
		assert_string_equal(req_header(r, i, "Content-Type"), "application/json-lines");
		assert_string_equal(req_body(r, i), i < 3 ? two : line);
	}
	free(two);
	free(body);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_batch_single_request(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 200, NULL, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 2);
	struct api_session *sess = session_for(r, NULL);
	const char *body = "{\"a\":1}\n{\"b\":2}";
	struct api_error err;
	assert_int_equal(
	    api_call_batch(sess, "events.add_batch", body, strlen(body), NULL, NULL, &err), 0);
	assert_int_equal(nreq(r), 2);
	assert_string_equal(req_body(r, 1), body);
	assert_string_equal(req_header(r, 1, "Content-Type"), "application/json-lines");
	api_session_free(sess);
	responder_stop(r);
}

static void
slower_backoff(struct api_settings *s)
{
	s->backoff_factor = 0.05;
	s->backoff_max = 0.2;
}

static void
test_deadline_honoured(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	r->fallback = (struct canned){ 503, ERR503, 0, 0, NULL, NULL }; /* maintenance forever */
	struct api_session *sess = session_for(r, slower_backoff);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	struct api_call_opts opts = { .version = "2.5", .deadline_ms = 600 };
	assert_int_equal(api_call_ex(sess, "tasks.ping", NULL, &opts, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "deadline exceeded"));
	assert_non_null(strstr(err.msg, "503"));
	assert_true(nreq(r) >= 3);
	api_session_free(sess);
	responder_stop(r);
}

static volatile sig_atomic_t g_cancel;

static void
test_cancel_honoured(void **state)
{
	(void)state;
	g_cancel = 0;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 503, ERR503, 0, 0, NULL, NULL },
		                   { 503, ERR503, 0, 0, &g_cancel, NULL } };
	struct responder *r = responder_start(script, 3);
	r->fallback = (struct canned){ 503, ERR503, 0, 0, NULL, NULL };
	struct api_session *sess = session_for(r, slower_backoff);
	struct api_error err;
	struct api_call_opts opts = { .version = "2.5", .cancel = &g_cancel };
	assert_int_equal(api_call_ex(sess, "tasks.ping", NULL, &opts, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "cancelled"));
	assert_int_equal(nreq(r), 3); /* stopped right after the reply that raised the flag */

	/* a session-wide flag stops the login as well */
	api_session_set_cancel(sess, &g_cancel);
	struct api_error err2;
	assert_int_equal(api_call(sess, "tasks.ping", NULL, NULL, NULL, &err2), -1);
	assert_non_null(strstr(err2.msg, "cancelled"));
	assert_int_equal(nreq(r), 3); /* nothing was sent */
	api_session_free(sess);
	responder_stop(r);
}

static void
test_token_refresh_before_expiry(void **state)
{
	(void)state;
	char claims[256];
	snprintf(claims, sizeof claims, "{\"api_version\":\"2.31\",\"exp\":%lld}",
	         (long long)now_sec() + 60); /* within the 12 h threshold */
	char *soon = login_reply(claims);
	struct canned script[] = { { 200, soon, 0, 0, NULL, NULL }, { 200, g_login, 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL }, { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 4);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	assert_true(api_claims(sess)->exp > 0);
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 4);
	assert_true(req_line_is(r, 1, "GET", "/auth.login")); /* refreshed before the call */
	/* the refresh went with the (old) credentials */
	assert_string_equal(req_header(r, 1, "Authorization"), "Basic QUtFWTpTU0VDUkVU");
	free(soon);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_short_token_refreshed_at_half_life(void **state)
{
	(void)state;
	/* A 1 h token is good for 30 min: no login before each call (upstream would, since 1 h is
	 * under the 12 h threshold). */
	char claims[256];
	long long now = (long long)now_sec();
	snprintf(claims, sizeof claims, "{\"iat\":%lld,\"exp\":%lld}", now - 100, now + 3500);
	char *hour = login_reply(claims);
	struct canned script[] = { { 200, hour, 0, 0, NULL, NULL }, { 200, OK_X, 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 3);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 3);
	assert_true(req_line_is(r, 2, "GET", "/v2.5/tasks.get_by_id"));
	free(hour);
	api_session_free(sess);
	responder_stop(r);
}

static void
no_maintenance_wait(struct api_settings *s)
{
	s->wait_on_maintenance_forever = 0;
}

static void
test_503_is_an_answer_without_maintenance_wait(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 503, ERR503, 0, 0, NULL, NULL },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 3);
	struct api_session *sess = session_for(r, no_maintenance_wait);
	struct api_error err;
	assert_int_equal(call_x(sess, &err), -1);
	assert_int_equal(err.http_status, 503);
	assert_int_equal(err.code, 503);
	assert_int_equal(nreq(r), 2);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_first_login_bounded_in_maintenance(void **state)
{
	(void)state;
	struct canned script[] = { { 503, ERR503, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	r->fallback = (struct canned){ 503, ERR503, 0, 0, NULL, NULL };
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), -1);
	assert_int_equal(err.http_status, 503); /* a transient failure the caller may retry */
	assert_int_equal(nreq(r), 3);
	api_session_free(sess);
	responder_stop(r);
}

/* Run fn with stderr captured into a file; returns what was written (caller frees). */
static char *
capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/test_api_client_XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t n = lseek(fd, 0, SEEK_END);
	char *out = xcalloc(1, (size_t)n + 1);
	assert_int_equal(pread(fd, out, (size_t)n, 0), n);
	close(fd);
	return out;
}

static int
count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void
calls_for_warnings(void *arg)
{
	struct api_session *sess = arg;
	struct api_error err;
	assert_int_equal(call_x(sess, &err), 0); /* two 502s: quiet */
	assert_int_equal(call_x(sess, &err), 0); /* four 502s: warned from the third on */
	assert_int_equal(call_x(sess, &err), 0); /* three 503s: one maintenance line */
}

static void
test_retry_warnings_after_three_failures(void **state)
{
	(void)state;
	struct canned script[] = {
		{ 200, g_login, 0, 0, NULL, NULL }, { 502, "", 0, 0, NULL, NULL },     { 502, "", 0, 0, NULL, NULL },
		{ 200, OK_X, 0, 0, NULL, NULL },    { 502, "", 0, 0, NULL, NULL },     { 502, "", 0, 0, NULL, NULL },
		{ 502, "", 0, 0, NULL, NULL },      { 502, "", 0, 0, NULL, NULL },     { 200, OK_X, 0, 0, NULL, NULL },
		{ 503, ERR503, 0, 0, NULL, NULL },  { 503, ERR503, 0, 0, NULL, NULL }, { 503, ERR503, 0, 0, NULL, NULL },
		{ 200, OK_X, 0, 0, NULL, NULL },
	};
	struct responder *r = responder_start(script, 13);
	struct api_session *sess = session_for(r, NULL);
	log_set_level(LOG_WARN);
	char *err = capture_stderr(calls_for_warnings, sess);
	log_set_level(LOG_ERROR);
	assert_int_equal(nreq(r), 13);
	assert_int_equal(count_of(err, "retrying"), 2);    /* attempts 4 and 5 of the second call */
	assert_non_null(strstr(err, "HTTP 502"));
	assert_non_null(strstr(err, "/v2.5/tasks.get_by_id"));
	assert_int_equal(count_of(err, "undergoing maintenance"), 1);
	assert_null(strstr(err, api_token(sess)));
	assert_null(strstr(err, "SSECRET"));
	free(err);
	api_session_free(sess);
	responder_stop(r);
}

static void
no_worker_header(struct api_settings *s)
{
	free(s->worker_header);
	s->worker_header = NULL;
}

static void
test_worker_header_defaults_to_hostname(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	struct api_session *sess = session_for(r, no_worker_header);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	assert_string_equal(req_header(r, 0, "X-ClearML-Worker"), host);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_impersonation(void **state)
{
	(void)state;
	char *other = login_reply("{\"api_version\":\"2.31\",\"tenant\":\"other\","
	                          "\"identity\":{\"user\":\"u7\"}}");
	char *right = login_reply("{\"api_version\":\"2.31\",\"tenant\":\"c9\","
	                          "\"identity\":{\"user\":\"u7\",\"company\":\"c9\"}}");
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL }, { 200, other, 0, 0, NULL, NULL },
		                   { 200, right, 0, 0, NULL, NULL }, { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 4);
	struct api_session *base = session_for(r, NULL);
	struct api_error err;
	struct api_session *task = api_session_impersonate(base, "u7", "c9", &err);
	assert_non_null(task);
	assert_string_equal(api_claims(task)->tenant, "c9");
	assert_string_equal(api_claims(task)->user, "u7");
	assert_int_equal(call_x(task, &err), 0);
	assert_int_equal(nreq(r), 4);
	char *base_bearer = xasprintf("Bearer %s", api_token(base));
	char *task_bearer = xasprintf("Bearer %s", api_token(task));
	assert_true(req_line_is(r, 1, "GET", "/v2.5/auth.login"));
	assert_string_equal(req_header(r, 1, "Authorization"), base_bearer);
	assert_string_equal(req_header(r, 1, "X-Clearml-Impersonate-As"), "u7");
	assert_string_equal(req_header(r, 1, "X-Clearml-Tenant"), "");
	assert_true(req_line_is(r, 2, "GET", "/v2.5/auth.login"));
	assert_string_equal(req_header(r, 2, "Authorization"), base_bearer);
	assert_string_equal(req_header(r, 2, "X-Clearml-Impersonate-As"), "u7");
	assert_string_equal(req_header(r, 2, "X-Clearml-Tenant"), "c9");
	/* the task's calls carry the impersonated token */
	assert_string_equal(req_header(r, 3, "Authorization"), task_bearer);
	free(base_bearer);
	free(task_bearer);
	free(other);
	free(right);
	api_session_free(task);
	api_session_free(base);
	responder_stop(r);
}

static void
long_backoff_cap(struct api_settings *s)
{
	s->backoff_max = 30.0; /* factor stays 0.001: without Retry-After the retry is at once */
}

static void
test_retry_after_honoured(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL },
		                   { 429, "slow down", 0, 0, NULL, "Retry-After: 3\r\n" },
		                   { 200, OK_X, 0, 0, NULL, NULL },
		                   { 503, ERR503, 0, 0, NULL, "retry-after:  0 \r\n" },
		                   { 200, OK_X, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 5);
	struct api_session *sess = session_for(r, long_backoff_cap);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	/* told to come back in 3 s: a 500 ms deadline ends the wait, nothing more is sent */
	struct api_call_opts opts = { .version = "2.5", .deadline_ms = 500 };
	json_t *data = NULL;
	assert_int_equal(api_call_ex(sess, "tasks.get_by_id", NULL, &opts, &data, &err), -1);
	assert_non_null(strstr(err.msg, "deadline exceeded"));
	assert_non_null(strstr(err.msg, "429"));
	assert_int_equal(nreq(r), 2);
	/* the 200 is still queued; then 503 with "come back now" retries at once */
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(call_x(sess, &err), 0);
	assert_int_equal(nreq(r), 5);
	api_session_free(sess);
	responder_stop(r);
}

static void
with_auth_token(struct api_settings *s)
{
	free(s->access_key);
	free(s->secret_key);
	s->access_key = s->secret_key = NULL;
	s->auth_token = xstrdup("old.token.value");
	s->request_token_expiration_sec = 3600;
}

static void
test_auth_token_bearer_login(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	setenv("CLEARML_AUTH_TOKEN", "old.token.value", 1);
	struct api_session *sess = session_for(r, with_auth_token);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	assert_true(req_line_is(r, 0, "GET", "/auth.login?expiration_sec=3600"));
	assert_string_equal(req_header(r, 0, "Authorization"), "Bearer old.token.value");
	/* the refreshed token is written back for children, as upstream does */
	assert_string_equal(getenv("CLEARML_AUTH_TOKEN"), api_token(sess));
	unsetenv("CLEARML_AUTH_TOKEN");
	api_session_free(sess);
	responder_stop(r);
}

static void
test_force_max_api_version(void **state)
{
	(void)state;
	struct canned script[] = { { 200, g_login, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	struct api_session *sess = session_for(r, NULL);
	setenv("CLEARML_AGENT_FORCE_MAX_API_VERSION", "2.9", 1);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), 0);
	unsetenv("CLEARML_AGENT_FORCE_MAX_API_VERSION");
	assert_string_equal(api_claims(sess)->api_version, "2.9");
	assert_true(api_version_cmp(sess, "2.13") < 0);
	api_session_free(sess);
	responder_stop(r);
}

static void
test_login_without_token_is_misconfigured(void **state)
{
	(void)state;
	struct canned script[] = { { 200, NULL, 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), -1);
	assert_non_null(strstr(err.msg, "misconfigured"));
	api_session_free(sess);
	responder_stop(r);
}

static void
test_first_login_bounded_on_503(void **state)
{
	(void)state;
	/* Not in maintenance mode: the first login gives up after initial_connect_retries. */
	struct canned script[] = { { 502, "gw", 0, 0, NULL, NULL } };
	struct responder *r = responder_start(script, 1);
	r->fallback = (struct canned){ 502, "gw", 0, 0, NULL, NULL };
	struct api_session *sess = session_for(r, NULL);
	struct api_error err;
	assert_int_equal(api_login(sess, &err), -1);
	assert_int_equal(nreq(r), 3); /* 1 + initial_connect_retries (2) */
	assert_non_null(strstr(err.msg, "502"));
	api_session_free(sess);
	responder_stop(r);
}

int
main(void)
{
	g_login = login_reply("{\"api_version\":\"2.31\",\"server_version\":\"2.0.0\","
	                      "\"feature_set\":\"basic\",\"identity\":{\"user\":\"u1\","
	                      "\"company\":\"c1\",\"role\":\"user\"}}");
	log_set_level(LOG_ERROR);
	/* the responder is on 127.0.0.1: a proxy from the environment must not get in between */
	const char *proxies[] = { "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
		                  "ALL_PROXY", "all_proxy" };
	for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
		unsetenv(proxies[i]);
	unsetenv("CLEARML_AUTH_TOKEN");
	unsetenv("CLEARML_AGENT_FORCE_MAX_API_VERSION");
	unsetenv("REQUESTS_CA_BUNDLE");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_and_headers),
		cmocka_unit_test(test_call_logs_in_lazily),
		cmocka_unit_test(test_401_relogin_then_success),
		cmocka_unit_test(test_401_twice_fails_once_relogged),
		cmocka_unit_test(test_503_twice_then_success),
		cmocka_unit_test(test_502_429_retried),
		cmocka_unit_test(test_dropped_connection_then_success),
		cmocka_unit_test(test_slow_reply_times_out_and_retries),
		cmocka_unit_test(test_slow_reply_with_deadline_fails_timed_out),
		cmocka_unit_test(test_garbage_json),
		cmocka_unit_test(test_wrong_credentials_fail_fast),
		cmocka_unit_test(test_connection_refused_fails_fast),
		cmocka_unit_test(test_method_switch),
		cmocka_unit_test(test_batch_split),
		cmocka_unit_test(test_batch_single_request),
		cmocka_unit_test(test_deadline_honoured),
		cmocka_unit_test(test_cancel_honoured),
		cmocka_unit_test(test_token_refresh_before_expiry),
		cmocka_unit_test(test_short_token_refreshed_at_half_life),
		cmocka_unit_test(test_503_is_an_answer_without_maintenance_wait),
		cmocka_unit_test(test_first_login_bounded_in_maintenance),
		cmocka_unit_test(test_retry_warnings_after_three_failures),
		cmocka_unit_test(test_worker_header_defaults_to_hostname),
		cmocka_unit_test(test_impersonation),
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_auth_token_bearer_login),
		cmocka_unit_test(test_force_max_api_version),
		cmocka_unit_test(test_login_without_token_is_misconfigured),
		cmocka_unit_test(test_first_login_bounded_on_503),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(g_login);
	return rc;
}
