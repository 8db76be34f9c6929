/*
 * session_cookie — the web app's sign-in cookie (see web.h). The cookie holds an ordinary
 * server-lite token (the one auth.login would return, 7 days), HttpOnly so no script can read
 * it, SameSite=Strict so no other site's page sends it, Secure where the browser allows it
 * (https, or loopback), Path=/ because the app calls the API at the server's root. An API
 * request may use it instead of an Authorization header only when it also carries the
 * X-ClearML-Web header, which a cross-site form or image cannot set: the cookie never
 * authorises a request the app did not make.
 */
#include <string.h>

#include "server/web.h"
#include "util.h"

char *
session_cookie_header(const char *token, long long max_age, int secure)
{
	return xasprintf("%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", SESSION_COOKIE,
	                 token ? token : "", token ? max_age : 0LL, secure ? "; Secure" : "");
}

char *
session_cookie_bearer(struct MHD_Connection *c)
{
	const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SESSION_COOKIE);
	if (!tok || !*tok || strlen(tok) > 4096)
		return NULL;
	if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, SESSION_HEADER))
		return NULL;
	return xasprintf("Bearer %s", tok);
}
