/*
 * web_static — the web app's files under /ui/ (see web.h).
 *
 * Paths: /ui/<file> is a file of the web root (only safe names, only known types); /ui/vendor/
 * falls back to Debian's /usr/share/javascript/dygraphs when make install did not copy the
 * charting library; any other /ui/… path without an extension is the app's index.html (the app
 * routes in the browser, so the SDK's links web_server/projects/<p>/experiments/<t>/… open the
 * task). /ui/session signs in (POST), tells who is signed in (GET) and signs out (DELETE).
 *
 * Every answer carries a strict Content-Security-Policy (scripts, styles and connections from
 * this origin only, no inline script, no framing) and nosniff. index.html and the app's own
 * files are revalidated on every load (no-cache + ETag from size and mtime: there is no build
 * step to put hashes in names); vendor files are cached for a day.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/web.h"
#include "util.h"

#define WEB_MAX_FILE (8u << 20)

/* style-src allows one inline style attribute besides the app's own sheet: dygraphs measures
 * an em with <span style="margin: 0; padding: 0 0 0 1em; border: 0;">; 'unsafe-hashes' with its
 * hash lets exactly that value through (Firefox reports every other one as a violation). */
static const char g_csp[] =
	"default-src 'none'; script-src 'self'; "
	"style-src 'self' 'unsafe-hashes' 'sha256-MJyOH6fkfzWPCLv2CfAAYjOtxkqoLBYZsmiMyy1D4sc='; "
	"img-src 'self' data: blob:; "
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
	"frame-ancestors 'none'";

static char g_root[PATH_MAX];
static const char g_vendor_dir[] = "/usr/share/javascript/dygraphs";

static int
is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
try_root(const char *dir)
{
	char *index = xasprintf("%s/index.html", dir);
	struct stat st;
	int ok = stat(index, &st) == 0 && S_ISREG(st.st_mode);
	free(index);
	if (ok && strlen(dir) < sizeof(g_root)) {
		char *real = realpath(dir, NULL);
		snprintf(g_root, sizeof(g_root), "%s", real ? real : dir);
		free(real);
	}
	return ok;
}

void
web_static_init(const char *override_dir)
{
	g_root[0] = '\0';
	if (override_dir && *override_dir) {
		if (!try_root(override_dir))
			log_warn("web app: %s has no index.html; the web app is off", override_dir);
		return;
	}
	const char *env = getenv("CLEARML_WEB_ROOT");
	if (env && *env && try_root(env))
		return;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		static const char *const rel[] = {"../share/clearml-server-lite/web", "../web"};
		for (size_t i = 0; i < ARRAY_LEN(rel); i++) {
			char *cand = xasprintf("%s/%s", exe, rel[i]);
			int ok = is_dir(cand) && try_root(cand);
			free(cand);
			if (ok)
				return;
		}
	}
	log_info("web app: no web folder found (set CLEARML_WEB_ROOT); /ui/ is off");
}

const char *
web_static_root(void)
{
	return g_root;
}

/* ---------------------------------------------------------------- pure parts */

int
web_safe_path(const char *rel)
{
	size_t n = strlen(rel);
	if (n == 0 || n > 200 || rel[0] == '/')
		return -1;
	const char *seg = rel;
	for (size_t i = 0; i <= n; i++) {
		char c = rel[i];
		if (c == '/' || c == '\0') {
			size_t sl = (size_t)(rel + i - seg);
			if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
				return -1;
			if (seg[0] == '.')
				return -1; /* no hidden files */
			seg = rel + i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return -1;
	}
	return 0;
}

const char *
web_mime_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(types); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

int
web_is_app_path(const char *url, const char *accept)
{
	size_t n = strlen(WEB_PREFIX);
	if (!strncmp(url, WEB_PREFIX, n) && (url[n] == '\0' || url[n] == '/'))
		return 1;
	return !strcmp(url, "/") && accept && strstr(accept, "text/html") != NULL;
}

/* ---------------------------------------------------------------- answers */

static void
common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", g_csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "server", "clearml");
}

static enum MHD_Result
send_buf(struct MHD_Connection *c, unsigned status, const char *ctype, char *data, size_t len,
         const char *cache, const char *cookie)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	common_headers(resp);
	if (ctype)
		MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", cache ? cache : "no-store");
	if (cookie)
		MHD_add_response_header(resp, "Set-Cookie", cookie);
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, json_t *obj, const char *cookie)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		text = xstrdup("{}");
	return send_buf(c, status, "application/json", text, strlen(text), "no-store", cookie);
}

static enum MHD_Result
send_plain(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char *t = xstrdup(msg);
	return send_buf(c, status, "text/plain; charset=utf-8", t, strlen(t), "no-store", NULL);
}

static enum MHD_Result
redirect(struct MHD_Connection *c, const char *to)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"",
	                                                            MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	common_headers(resp);
	MHD_add_response_header(resp, "Location", to);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(c, 302, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Serve path (absolute) with caching; 404 when it is not a regular file. */
static enum MHD_Result
send_file(struct MHD_Connection *c, const char *path, const char *ctype, const char *cache,
          int head)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > WEB_MAX_FILE) {
		if (fd >= 0)
			close(fd);
		return send_plain(c, 404, "Not found");
	}
	char etag[64];
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
	         (unsigned long long)st.st_mtim.tv_sec * 1000ull + (unsigned long long)(st.st_mtim.tv_nsec / 1000000));
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	struct MHD_Response *resp;
	unsigned status = 200;
	if (inm && !strcmp(inm, etag)) {
		close(fd);
		status = 304;
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT);
	} else if (head) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
		if (!resp)
			close(fd);
	}
	if (!resp)
		return MHD_NO;
	common_headers(resp);
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", cache);
	MHD_add_response_header(resp, "ETag", etag);
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---------------------------------------------------------------- /ui/session */

static int
request_is_secure(struct MHD_Connection *c)
{
	const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
	if (proto)
		return strcasecmp(proto, "https") == 0;
	/* Browsers treat loopback as a secure context and keep Secure cookies over plain http
	 * there; elsewhere a Secure cookie over http would be dropped and sign-in could not work. */
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	if (!host)
		return 0;
	return !strncmp(host, "127.", 4) || !strncmp(host, "localhost", 9) ||
	       !strncmp(host, "[::1]", 5);
}

static json_t *
who_json(const struct identity *who)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "user", who->user, "user_name", who->user_name,
	                 "company", who->company, "company_name", who->company_name);
}

/* Claims of the session cookie's token when it is valid and not revoked (new ref), else NULL. */
static json_t *
session_claims(struct MHD_Connection *c, struct server *srv, sqlite3 *db)
{
	const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SESSION_COOKIE);
	json_t *claims = NULL;
	if (!tok || !*tok ||
	    jwt_verify(srv->jwt_secret, sizeof(srv->jwt_secret), tok, now_ms() / 1000, &claims) != 0)
		return NULL;
	if (!db || auth_revoked(db, json_string_value(json_object_get(claims, "session_id"))) != 0) {
		json_decref(claims);
		return NULL;
	}
	return claims;
}

static enum MHD_Result
session_login(struct MHD_Connection *c, struct server *srv, sqlite3 *db, const char *body,
              size_t len)
{
	json_error_t e;
	json_t *in = len ? json_loadb(body, len, 0, &e) : NULL;
	const char *key = json_string_value(json_object_get(in, "access_key"));
	const char *secret = json_string_value(json_object_get(in, "secret_key"));
	if (!key || !secret || !*key || !*secret || strlen(key) > 128 || strlen(secret) > 256) {
		json_decref(in);
		return send_json(c, 400, json_pack("{s:s}", "error",
		                                   "access_key and secret_key are required"), NULL);
	}
	struct identity who;
	int rc = db ? credentials_check(db, key, secret, "web", &who) : -2;
	json_decref(in);
	if (rc != 0)
		return send_json(c, rc == -2 ? 500 : 401, json_pack("{s:s}", "error", rc == -2 ?
		                 "database error" : "Invalid credentials"), NULL);
	char *tok = auth_make_token(srv, &who, SESSION_MAX_AGE_SEC);
	if (!tok)
		return send_json(c, 500, json_pack("{s:s}", "error", "token signing failed"), NULL);
	char *cookie = session_cookie_header(tok, SESSION_MAX_AGE_SEC, request_is_secure(c));
	free(tok);
	enum MHD_Result ret = send_json(c, 200, who_json(&who), cookie);
	free(cookie);
	return ret;
}

static enum MHD_Result
session_answer(struct MHD_Connection *c, struct server *srv, const char *method, const char *body,
               size_t len)
{
	sqlite3 *db = db_thread_conn(srv);
	/* sign-in too: another site's form must not sign a browser in to someone else's account */
	if (!strcmp(method, "POST")) {
		if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, SESSION_HEADER))
			return send_json(c, 403, json_pack("{s:s}", "error", "missing " SESSION_HEADER),
			                 NULL);
		return session_login(c, srv, db, body, len);
	}
	json_t *claims = session_claims(c, srv, db);
	if (!strcmp(method, "DELETE")) {
		if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, SESSION_HEADER)) {
			json_decref(claims);
			return send_json(c, 403, json_pack("{s:s}", "error", "missing " SESSION_HEADER),
			                 NULL);
		}
		if (claims) {
			const char *sid = json_string_value(json_object_get(claims, "session_id"));
			json_t *exp = json_object_get(claims, "exp");
			if (sid)
				auth_revoke_session(db, sid, json_is_number(exp) ?
				                    (int64_t)json_number_value(exp) : INT64_MAX);
		}
		json_decref(claims);
		char *cookie = session_cookie_header(NULL, 0, request_is_secure(c));
		enum MHD_Result ret = send_json(c, 200, json_object(), cookie);
		free(cookie);
		return ret;
	}
	if (strcmp(method, "GET") != 0) {
		json_decref(claims);
		return send_plain(c, 405, "Method not allowed");
	}
	struct identity who;
	if (!claims || identity_from_claims(claims, &who) != 0) {
		json_decref(claims);
		return send_json(c, 401, json_pack("{s:s}", "error", "not signed in"), NULL);
	}
	json_decref(claims);
	return send_json(c, 200, who_json(&who), NULL);
}

/* ---------------------------------------------------------------- entry */

enum MHD_Result
web_serve(struct MHD_Connection *c, struct server *srv, const char *url, const char *method,
          const char *body, size_t len)
{
	size_t pl = strlen(WEB_PREFIX);
	if (!strcmp(url, "/") || !strcmp(url, WEB_PREFIX))
		return redirect(c, WEB_PREFIX "/");
	const char *rel = url + pl + 1; /* after "/ui/" */
	if (!strcmp(rel, "session"))
		return session_answer(c, srv, method, body, len);
	int head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET") != 0)
		return send_plain(c, 405, "Method not allowed");
	if (!g_root[0])
		return send_plain(c, 404, "The web app is not installed (no web folder found; set "
		                          "CLEARML_WEB_ROOT to the folder with index.html)");
	if (*rel && web_safe_path(rel) != 0)
		return send_plain(c, 404, "Not found");
	const char *type = *rel ? web_mime_type(rel) : NULL;
	if (!type) {
		/* the app's own routes (no extension) are index.html */
		const char *last = strrchr(rel, '/');
		if (strchr(last ? last : rel, '.'))
			return send_plain(c, 404, "Not found");
		char *p = xasprintf("%s/index.html", g_root);
		enum MHD_Result ret = send_file(c, p, "text/html; charset=utf-8", "no-cache", head);
		free(p);
		return ret;
	}
	int vendor = str_starts_with(rel, "vendor/");
	char *p = xasprintf("%s/%s", g_root, rel);
	struct stat st;
	if (vendor && stat(p, &st) != 0) {
		free(p);
		p = xasprintf("%s/%s", g_vendor_dir, rel + strlen("vendor/"));
	}
	enum MHD_Result ret = send_file(c, p, type, vendor ? "public, max-age=86400" : "no-cache", head);
	free(p);
	return ret;
}
