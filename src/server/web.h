/*
 * web — the browser side of clearml-server-lite: the web app's static files under /ui/
 * (web_static.c) and the session cookie that signs a browser in (session_cookie.c). The app is
 * plain HTML, CSS and JavaScript modules served from a folder found at start (the installed
 * share/clearml-server-lite/web, or the source tree's web/ next to build/); everything it does
 * goes through the same REST API and the same authorisation as any other client.
 */
#ifndef CLEARML_SERVER_WEB_H
#define CLEARML_SERVER_WEB_H

#include <stddef.h>

#include <microhttpd.h>

#include "server/server.h"

#define WEB_PREFIX "/ui"
#define SESSION_COOKIE "clearml_web_session"
#define SESSION_HEADER "X-ClearML-Web"      /* the app sends it; a cross-site form cannot */
#define SESSION_MAX_AGE_SEC (7LL * 86400)

/* Find the web root (argv0: the program's path, for the relative candidates). Logs where. */
void web_static_init(const char *override_dir);
/* The folder in use ("" when none was found). */
const char *web_static_root(void);

/* 1 when url belongs to the web app: WEB_PREFIX, WEB_PREFIX/…, or "/" asked for by a browser
 * (accept contains text/html; it is redirected). */
int web_is_app_path(const char *url, const char *accept);
/* Answer a web app request (static file, SPA fallback, /ui/session). */
enum MHD_Result web_serve(struct MHD_Connection *c, struct server *srv, const char *url,
                          const char *method, const char *body, size_t len);

/* ---- pure parts (unit-tested) ---- */
/* 0 when rel (below the web root, no leading '/') is a safe file path: [A-Za-z0-9._-/] only,
 * no empty, "." or ".." segment, at most 200 bytes. */
int web_safe_path(const char *rel);
/* Content-Type for a file name (by extension); NULL for a type we do not serve. */
const char *web_mime_type(const char *path);
/* Set-Cookie value for the session (token NULL → an expired, empty cookie). Caller frees. */
char *session_cookie_header(const char *token, long long max_age, int secure);

/* "Bearer <token>" from the session cookie when this request may use it (it carries
 * SESSION_HEADER), else NULL. Caller frees. */
char *session_cookie_bearer(struct MHD_Connection *c);

#endif
