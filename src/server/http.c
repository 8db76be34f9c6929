/*
 * http — the wire side of clearml-server-lite: libmicrohttpd (internal thread pool, epoll) in
 * front, and the pure request decoding behind it (path, query-string merge, JSON / json-lines
 * body, the envelope), which the fuzzer calls directly.
 *
 * A request's life: the first MHD callback checks Content-Encoding (415) and Content-Length
 * (above SRV_MAX_BODY → 400 at once); body chunks are appended to a bounded buffer (past the
 * bound they are dropped and the request ends in 400); the last callback decodes, dispatches
 * through the router on this thread's SQLite connection, and queues the envelope.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "server/front.h"
#include "server/longpoll.h"
#include "server/web.h"
#include "util.h"

/* ---------------------------------------------------------------- pure decoding */

static int
is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int
is_word_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

/* "[a-zA-Z_]\w+" at p; returns the length or 0. */
static size_t
ident_len(const char *p)
{
	if (!is_word_start(p[0]) || !is_word(p[1]))
		return 0;
	size_t n = 2;
	while (is_word(p[n]))
		n++;
	return n;
}

/* Name part: ident '.' ident ['/'] end. Returns the name length or 0. */
static size_t
name_len(const char *p)
{
	size_t a = ident_len(p);
	if (!a || p[a] != '.')
		return 0;
	size_t b = ident_len(p + a + 1);
	if (!b)
		return 0;
	size_t n = a + 1 + b;
	if (p[n] == '/' && p[n + 1] == '\0')
		return n;
	return p[n] == '\0' ? n : 0;
}

int
front_parse_path(const char *path, char *name, size_t namelen, char *ver, size_t verlen,
                 int *maj, int *min)
{
	const char *p = path;
	if (*p == '/')
		p++;
	const char *vs = NULL;
	size_t vl = 0;
	if (p[0] == 'v' && isdigit((unsigned char)p[1])) {
		/* v(\d+\.?\d+)/ : at least two digits, one optional dot between them */
		const char *q = p + 1;
		size_t d1 = 0, d2 = 0;
		while (isdigit((unsigned char)q[d1]))
			d1++;
		const char *after = q + d1;
		int dot = 0;
		if (*after == '.') {
			dot = 1;
			while (isdigit((unsigned char)after[1 + d2]))
				d2++;
			after += 1 + d2;
		}
		int ok = *after == '/' && (dot ? (d1 >= 1 && d2 >= 1) : d1 >= 2);
		if (ok && name_len(after + 1)) {
			vs = q;
			vl = (size_t)(after - q);
			p = after + 1;
		}
	}
	size_t nl = name_len(p);
	if (!nl || nl >= namelen)
		return -1;
	memcpy(name, p, nl);
	name[nl] = '\0';
	if (vs) {
		if (vl >= verlen || vl > 12)
			return -1;
		memcpy(ver, vs, vl);
		ver[vl] = '\0';
	} else {
		if (verlen <= strlen(SRV_DEFAULT_VERSION))
			return -1;
		memcpy(ver, SRV_DEFAULT_VERSION, strlen(SRV_DEFAULT_VERSION) + 1);
	}
	/* numeric form; "25" (no dot) reads as 25.0 */
	long a = 0, b = 0;
	const char *s = ver;
	while (isdigit((unsigned char)*s)) {
		a = a * 10 + (*s++ - '0');
		if (a > 1000000)
			a = 1000000;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			b = b * 10 + (*s++ - '0');
			if (b > 1000000)
				b = 1000000;
		}
	}
	*maj = (int)a;
	*min = (int)b;
	return 0;
}

static json_t *
query_value(const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return json_true();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return json_false();
	/* Python: value.replace(".", "", 1).isdigit() */
	size_t n = strlen(v), digits = 0, dots = 0;
	for (size_t i = 0; i < n; i++) {
		if (isdigit((unsigned char)v[i]))
			digits++;
		else if (v[i] == '.')
			dots++;
		else
			return json_string(v);
	}
	if (digits == 0 || dots > 1)
		return json_string(v);
	if (dots == 0 && n <= 18) {
		long long x;
		if (parse_long(v, 0, 999999999999999999LL, &x) == 0)
			return json_integer(x);
	}
	return json_real(strtod(v, NULL));
}

int
front_merge_query(json_t *body, const char *key, const char *value)
{
	if (!key || !*key)
		return -1;
	size_t kl = strlen(key);
	int as_list = 0;
	if (kl > 2 && strcmp(key + kl - 2, "[]") == 0) {
		as_list = 1;
		kl -= 2;
	}
	char *k = xstrndup(key, kl);
	json_t *obj = body;
	char *seg = k;
	int rc = 0;
	for (;;) {
		char *dot = strchr(seg, '.');
		if (!dot)
			break;
		*dot = '\0';
		if (!*seg) {
			rc = -1;
			goto out;
		}
		json_t *next = json_object_get(obj, seg);
		if (!next) {
			next = json_object();
			json_object_set_new(obj, seg, next);
		} else if (!json_is_object(next)) {
			rc = -1;
			goto out;
		}
		obj = next;
		seg = dot + 1;
	}
	if (!*seg) {
		rc = -1;
		goto out;
	}
	json_t *val = query_value(value ? value : "");
	json_t *cur = json_object_get(obj, seg);
	if (!cur) {
		if (as_list) {
			json_t *arr = json_array();
			json_array_append_new(arr, val);
			json_object_set_new(obj, seg, arr);
		} else {
			json_object_set_new(obj, seg, val);
		}
	} else if (json_is_array(cur)) {
		json_array_append_new(cur, val);
	} else if (json_is_object(cur)) {
		json_decref(val);
		rc = -1;
	} else {
		json_t *arr = json_array();
		json_array_append(arr, cur);
		json_array_append_new(arr, val);
		json_object_set_new(obj, seg, arr);
	}
out:
	free(k);
	return rc;
}

/* 1 when some string (or key) under v is longer than max. Depth is bounded by the parser. */
static int
has_long_string(const json_t *v, size_t max)
{
	if (json_is_string(v))
		return json_string_length(v) > max;
	if (json_is_array(v)) {
		size_t i;
		const json_t *x;
		json_array_foreach(v, i, x)
			if (has_long_string(x, max))
				return 1;
	} else if (json_is_object(v)) {
		const char *key;
		const json_t *x;
		json_object_foreach((json_t *)(uintptr_t)v, key, x) {
			if (strlen(key) > max || has_long_string(x, max))
				return 1;
		}
	}
	return 0;
}

static int
is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)p[i]))
			return 0;
	return 1;
}

int
front_decode_body(const char *endpoint, const char *content_type, const char *data, size_t len,
                  json_t **body, json_t **batch, struct reply *r)
{
	*body = NULL;
	*batch = NULL;
	int strings_capped = !(endpoint && str_starts_with(endpoint, "events."));
	if (len > SRV_MAX_BODY) {
		reply_err(r, 400, 0, "Request body too large (limit %u bytes)", SRV_MAX_BODY);
		return -1;
	}
	if (content_type && strncasecmp(content_type, "application/json-lines", 22) == 0) {
		json_t *arr = json_array();
		size_t pos = 0;
		int item = 0;
		while (pos < len) {
			const char *nl = memchr(data + pos, '\n', len - pos);
			size_t end = nl ? (size_t)(nl - data) : len;
			const char *line = data + pos;
			size_t ll = end - pos;
			pos = nl ? end + 1 : len;
			if (is_blank(line, ll))
				continue;
			json_error_t err;
			json_t *o = json_loadb(line, ll, 0, &err);
			if (!json_is_object(o)) {
				reply_err(r, 400, 0, "Invalid JSON (%s) in batch item #%d",
				          o ? "not an object" : err.text, item);
				json_decref(o);
				json_decref(arr);
				return -1;
			}
			if (strings_capped && has_long_string(o, SRV_MAX_STRING)) {
				reply_err(r, 400, 12, "Validation error (string longer than %u bytes) in batch "
				          "item #%d", SRV_MAX_STRING, item);
				json_decref(o);
				json_decref(arr);
				return -1;
			}
			json_array_append_new(arr, o);
			item++;
		}
		*batch = arr;
		*body = json_object();
		return 0;
	}
	if (len == 0 || is_blank(data, len)) {
		*body = json_object();
		return 0;
	}
	json_error_t err;
	json_t *o = json_loadb(data, len, JSON_DECODE_ANY, &err);
	if (!o) {
		reply_err(r, 400, 0, "Invalid JSON (%s, line %d column %d)", err.text, err.line, err.column);
		return -1;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		reply_err(r, 400, 0, "Invalid request body (a JSON object is expected)");
		return -1;
	}
	if (strings_capped && has_long_string(o, SRV_MAX_STRING)) {
		json_decref(o);
		reply_err(r, 400, 12, "Validation error (string longer than %u bytes)", SRV_MAX_STRING);
		return -1;
	}
	*body = o;
	return 0;
}

static json_t *
version_value(const char *v, int maj, int min)
{
	/* below 2.1 the real server writes versions as floats */
	if (maj < 2 || (maj == 2 && min < 1))
		return json_real(strtod(v, NULL));
	return json_string(v);
}

char *
front_envelope(const char *endpoint, const char *req_version, int ver_major, int ver_minor,
               const char *trx, const struct reply *r, size_t *len)
{
	char id[33];
	gen_hex_id(id);
	int code = r->code ? r->code : 200;
	json_t *ep = json_object();
	json_object_set_new(ep, "name", json_string(endpoint ? endpoint : ""));
	if (!endpoint || !*endpoint) {
		json_object_set_new(ep, "requested_version", json_real(1.0));
		json_object_set_new(ep, "actual_version", json_null());
	} else {
		json_object_set_new(ep, "requested_version", version_value(req_version, ver_major, ver_minor));
		if (r->actual_version) {
			json_object_set_new(ep, "actual_version",
			                    version_value(r->actual_version, ver_major, ver_minor));
		} else {
			json_object_set_new(ep, "actual_version", json_null());
		}
	}
	json_t *meta = json_object();
	json_object_set_new(meta, "id", json_string(id));
	json_object_set_new(meta, "trx", json_string(trx && *trx ? trx : id));
	json_object_set_new(meta, "endpoint", ep);
	json_object_set_new(meta, "result_code", json_integer(code));
	json_object_set_new(meta, "result_subcode", json_integer(r->subcode));
	json_object_set_new(meta, "result_msg", json_string(code == 200 && !r->msg ? "OK"
	                                                    : (r->msg ? r->msg : "")));
	json_object_set_new(meta, "error_stack", code == 200 ? json_string("") : json_null());
	json_object_set_new(meta, "error_data", json_object());
	json_t *env = json_object();
	json_object_set_new(env, "meta", meta);
	if (code == 200 && r->data && json_is_object(r->data))
		json_object_set(env, "data", r->data);
	else
		json_object_set_new(env, "data", json_object());
	char *text = json_dumps(env, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(env);
	if (!text) {
		/* only when a handler put invalid data (e.g. non-UTF-8) in; still answer */
		text = xasprintf("{\"meta\":{\"id\":\"%s\",\"trx\":\"%s\",\"endpoint\":{\"name\":\"\","
		                 "\"requested_version\":\"%s\",\"actual_version\":null},"
		                 "\"result_code\":500,\"result_subcode\":0,"
		                 "\"result_msg\":\"Failed encoding reply\",\"error_stack\":null,"
		                 "\"error_data\":{}},\"data\":{}}",
		                 id, id, SRV_DEFAULT_VERSION);
	}
	*len = strlen(text);
	return text;
}

/* ---------------------------------------------------------------- libmicrohttpd front */

struct http_front {
	struct MHD_Daemon *d;
	struct server *srv;
};

struct conn_ctx {
	struct buf body;
	int too_big;
	int answered;   /* a response was queued in the first callback */
	int64_t wait_until; /* parked by a long-poll: its deadline (longpoll.h) */
};

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *ctype, char *text, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "server", "clearml");
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_envelope(struct MHD_Connection *c, const char *endpoint, const char *ver, int maj, int min,
              const struct reply *r)
{
	const char *trx = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-ClearML-Trx");
	if (!trx)
		trx = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Trains-Trx");
	size_t len;
	char *text = front_envelope(endpoint, ver, maj, min, trx, r, &len);
	return send_text(c, (unsigned)(r->code ? r->code : 200), "application/json", text, len);
}

static enum MHD_Result
merge_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	front_merge_query(cls, key, value);
	return MHD_YES;
}

/* A header under its ClearML name or its older Trains one; an empty value counts as absent. */
static const char *
header_either(struct MHD_Connection *c, const char *name, const char *old_name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	if (!v || !*v)
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, old_name);
	return v && *v ? v : NULL;
}

static void
client_ip(struct MHD_Connection *c, char *out, size_t outlen)
{
	const char *fwd = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	if (!fwd)
		fwd = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Real-IP");
	out[0] = '\0';
	if (fwd) {
		size_t n = strcspn(fwd, ", ");
		if (n >= outlen)
			n = outlen - 1;
		memcpy(out, fwd, n);
		out[n] = '\0';
		return;
	}
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		          (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
		          (socklen_t)outlen);
}

/* 1 when the client of a parked long-poll has gone (its end sent FIN or RST): a killed agent's
 * wait must not claim a task that nobody would receive (it would leave the queue for good). */
static int
peer_gone(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return 0;
	char b;
	ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static enum MHD_Result
handle_request(struct http_front *f, struct MHD_Connection *c, const char *url, const char *method,
               struct conn_ctx *x)
{
	struct reply r = {0};
	if (x->wait_until && peer_gone(c))
		return MHD_NO; /* resumed long-poll whose client left: close, claim nothing */
	if (!x->too_big &&
	    web_is_app_path(url, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept")))
		return web_serve(c, f->srv, url, method, x->body.data, x->body.len);
	char name[160], ver[16];
	int maj = 0, min = 0;
	enum MHD_Result ret;
	if (x->too_big) {
		reply_err(&r, 400, 0, "Request body too large (limit %u bytes)", SRV_MAX_BODY);
		ret = send_envelope(c, "", "1.0", 1, 0, &r);
		reply_clear(&r);
		return ret;
	}
	if (front_parse_path(url, name, sizeof(name), ver, sizeof(ver), &maj, &min) != 0) {
		reply_err(&r, 400, 0, "Invalid request path %.200s", url);
		ret = send_envelope(c, "", "1.0", 1, 0, &r);
		reply_clear(&r);
		return ret;
	}
	struct req q = {0};
	q.endpoint = name;
	memcpy(q.version, ver, sizeof(q.version));
	q.ver_major = maj;
	q.ver_minor = min;
	q.srv = f->srv;
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	if (front_decode_body(name, ctype, x->body.data ? x->body.data : "", x->body.len, &q.body,
	                      &q.batch, &r) == 0) {
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, merge_arg, q.body);
		if (ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
			MHD_get_connection_values(c, MHD_POSTDATA_KIND, merge_arg, q.body);
		char ip[64];
		client_ip(c, ip, sizeof(ip));
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		char *cookie_auth = NULL;
		if (!auth)
			auth = cookie_auth = session_cookie_bearer(c);
		if (!auth) {
			const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "clearml_token_basic");
			if (tok && *tok)
				auth = cookie_auth = xasprintf("Bearer %s", tok);
		}
		q.authorization = auth;
		q.worker_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-ClearML-Worker");
		if (!q.worker_header)
			q.worker_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Trains-Worker");
		q.impersonate_as = header_either(c, "X-ClearML-Impersonate-As", "X-Trains-Impersonate-As");
		q.act_as = header_either(c, "X-ClearML-Act-As", "X-Trains-Act-As");
		q.client_ip = ip;
		q.db = db_thread_conn(f->srv);
		q.wait_until_ms = x->wait_until;
		router_dispatch(&q, &r);
		log_debug("%s v%s -> %d/%d", name, ver, r.code ? r.code : 200, r.subcode);
		free(cookie_auth);
	}
	if (r.suspend_until_ms && !r.code) {
		/* long-poll: no thread waits; the connection is parked and dispatched again */
		x->wait_until = r.suspend_until_ms;
		x->answered = 0;
		reply_clear(&r);
		json_decref(q.body);
		json_decref(q.batch);
		MHD_suspend_connection(c);
		longpoll_park(c, x->wait_until);
		return MHD_YES;
	}
	ret = send_envelope(c, name, ver, maj, min, &r);
	reply_clear(&r);
	json_decref(q.body);
	json_decref(q.batch);
	return ret;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct http_front *f = cls;
	struct conn_ctx *x = *con_cls;
	if (!x) {
		x = xcalloc(1, sizeof(*x));
		buf_init(&x->body, SRV_MAX_BODY);
		*con_cls = x;
		if (strcmp(method, "OPTIONS") == 0) {
			x->answered = 1;
			return send_text(c, 200, "text/plain", xstrdup(""), 0);
		}
		const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
		if (enc && *enc && strcasecmp(enc, "identity") != 0) {
			x->answered = 1;
			char *t = xasprintf("Content encoding is not supported (%.64s)", enc);
			return send_text(c, 415, "text/plain", t, strlen(t));
		}
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		long long n;
		if (cl && parse_long(cl, 0, INT64_MAX, &n) == 0 && n > (long long)SRV_MAX_BODY) {
			x->answered = 1;
			struct reply r = {0};
			reply_err(&r, 400, 0, "Request body too large (%lld bytes, limit %u)", n, SRV_MAX_BODY);
			enum MHD_Result ret = send_envelope(c, "", "1.0", 1, 0, &r);
			reply_clear(&r);
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!x->answered && !x->too_big &&
		    buf_append(&x->body, upload_data, *upload_data_size) != 0) {
			x->too_big = 1;
			buf_free(&x->body);
			buf_init(&x->body, SRV_MAX_BODY);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (x->answered)
		return MHD_YES;
	x->answered = 1;
	return handle_request(f, c, url, method, x);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn_ctx *x = *con_cls;
	if (x) {
		buf_free(&x->body);
		free(x);
		*con_cls = NULL;
	}
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug("mhd: %s", line);
}

#define HTTP_IDLE_TIMEOUT_SEC 15  /* agents keep one connection alive and call every few s */
#define HTTP_CONNECTION_LIMIT 4000
#define HTTP_PER_IP_LIMIT 256     /* one machine: its agents, their slots and tasks' SDKs */

struct http_front *
http_start(struct server *srv, int threads)
{
	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char port[16];
	snprintf(port, sizeof(port), "%d", srv->port);
	int gai = getaddrinfo(srv->host, port, &hints, &ai);
	if (gai != 0 || !ai) {
		log_error("cannot resolve %s: %s", srv->host, gai_strerror(gai));
		return NULL;
	}
	/* room for the connection limit: raise the soft fd limit as far as the hard one allows */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < HTTP_CONNECTION_LIMIT + 256) {
		rlim_t want = HTTP_CONNECTION_LIMIT + 256;
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct http_front *f = xcalloc(1, sizeof(*f));
	f->srv = srv;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
	                 MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	f->d = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, f,
	                        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	                        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
	                        /* Idle or slow connections must not lock a legitimate client out:
	                         * one address holds at most HTTP_PER_IP_LIMIT of them, and a
	                         * connection without traffic for HTTP_IDLE_TIMEOUT_SEC is closed. */
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_SEC,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
	                        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
	                        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
	                        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                        MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!f->d) {
		log_error("cannot listen on %s:%d", srv->host, srv->port);
		free(f);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	if (di && di->port)
		srv->port = di->port;
	if (longpoll_start() != 0)
		log_warn("long-poll dispatch is off (cannot start its thread)");
	return f;
}

void
http_stop(struct http_front *f)
{
	if (!f)
		return;
	longpoll_stop(); /* MHD may not stop with suspended connections */
	MHD_quiesce_daemon(f->d);
	MHD_stop_daemon(f->d);
	free(f);
}
