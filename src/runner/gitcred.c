/*
 * gitcred — credentials for git without leaks: config/env lookup, remote URL parsing and
 * rewriting (force ssh / translate ssh→https), masking of passwords in anything printed, and the
 * GIT_ASKPASS helper that hands the secret to git from the git process's own environment. The
 * URL given to git never carries a password, so neither argv nor .git/config nor the log does.
 */
#include "runner/gitcred.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define ASKPASS_USER_VAR "CLEARML_GIT_ASKPASS_USER"
#define ASKPASS_PASS_VAR "CLEARML_GIT_ASKPASS_PASS"
#define ASKPASS_HOST_VAR "CLEARML_GIT_ASKPASS_HOST"

static char *
opt_dup(const char *s)
{
	return (s && s[0]) ? xstrdup(s) : NULL;
}

static char *
cfg_scalar_str(const json_t *root, const char *path)
{
	const json_t *v = cfg_get(root, path);
	if (json_is_string(v))
		return opt_dup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	return NULL;
}

void
gitcred_from_config(struct git_creds *c, const json_t *root)
{
	memset(c, 0, sizeof *c);
	const char *e;
	c->user = (e = env_get("CLEARML_AGENT_GIT_USER")) ? xstrdup(e) : cfg_scalar_str(root, "agent.git_user");
	c->pass = (e = env_get("CLEARML_AGENT_GIT_PASS")) ? xstrdup(e) : cfg_scalar_str(root, "agent.git_pass");
	c->host = (e = env_get("CLEARML_AGENT_GIT_HOST")) ? xstrdup(e) : cfg_scalar_str(root, "agent.git_host");
	c->force_ssh = cfg_bool(root, "agent.force_git_ssh_protocol", 0);
	c->ssh_port = cfg_scalar_str(root, "agent.force_git_ssh_port");
	c->ssh_user = cfg_scalar_str(root, "agent.force_git_ssh_user");
	c->translate_ssh = cfg_bool(root, "agent.translate_ssh", 1);
}

void
gitcred_free(struct git_creds *c)
{
	free(c->user);
	free(c->pass);
	free(c->host);
	free(c->ssh_port);
	free(c->ssh_user);
	memset(c, 0, sizeof *c);
}

/* ---- URLs ---- */

static void
url_zero(struct git_url *u)
{
	memset(u, 0, sizeof *u);
	u->scheme = xstrdup("");
	u->user = xstrdup("");
	u->pass = xstrdup("");
	u->host = xstrdup("");
	u->port = xstrdup("");
	u->path = xstrdup("");
}

static void
set_str(char **dst, const char *s, size_t n)
{
	free(*dst);
	*dst = xstrndup(s, n);
}

static void
split_hostport(struct git_url *u, const char *hp, size_t n)
{
	if (n > 0 && hp[0] == '[') {
		const char *close = memchr(hp, ']', n);
		if (close) {
			set_str(&u->host, hp, (size_t)(close - hp) + 1);
			if ((size_t)(close - hp) + 1 < n && close[1] == ':')
				set_str(&u->port, close + 2, n - (size_t)(close - hp) - 2);
			return;
		}
	}
	const char *colon = memchr(hp, ':', n);
	if (colon) {
		set_str(&u->host, hp, (size_t)(colon - hp));
		set_str(&u->port, colon + 1, n - (size_t)(colon - hp) - 1);
	} else {
		set_str(&u->host, hp, n);
	}
}

int
git_url_parse(const char *url, struct git_url *u)
{
	url_zero(u);
	if (url == NULL || url[0] == '\0')
		return -1;
	const char *sep = strstr(url, "://");
	const char *first_slash = strchr(url, '/');
	if (sep && (first_slash == NULL || sep < first_slash)) {
		set_str(&u->scheme, url, (size_t)(sep - url));
		const char *auth = sep + 3;
		const char *path = strchr(auth, '/');
		size_t alen = path ? (size_t)(path - auth) : strlen(auth);
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;
		const char *hp = auth;
		if (at) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));
			if (colon) {
				set_str(&u->user, auth, (size_t)(colon - auth));
				set_str(&u->pass, colon + 1, (size_t)(at - colon - 1));
			} else {
				set_str(&u->user, auth, (size_t)(at - auth));
			}
			hp = at + 1;
		}
		split_hostport(u, hp, alen - (size_t)(hp - auth));
		set_str(&u->path, path ? path : "", path ? strlen(path) : 0);
		return 0;
	}
	const char *colon = strchr(url, ':');
	if (url[0] != '/' && url[0] != '.' && colon && (first_slash == NULL || colon < first_slash)) {
		u->scp = 1;
		const char *at = memchr(url, '@', (size_t)(colon - url));
		const char *h = url;
		if (at) {
			set_str(&u->user, url, (size_t)(at - url));
			h = at + 1;
		}
		set_str(&u->host, h, (size_t)(colon - h));
		set_str(&u->path, colon + 1, strlen(colon + 1));
		return 0;
	}
	u->local = 1;
	set_str(&u->path, url, strlen(url));
	return 0;
}

char *
git_url_format(const struct git_url *u)
{
	if (u->local)
		return xstrdup(u->path);
	struct buf b;
	buf_init(&b, (size_t)1 << 16);
	if (!u->scp) {
		buf_puts(&b, u->scheme);
		buf_puts(&b, "://");
	}
	if (u->user[0] || u->pass[0]) {
		buf_puts(&b, u->user);
		if (u->pass[0]) {
			buf_puts(&b, ":");
			buf_puts(&b, u->pass);
		}
		buf_puts(&b, "@");
	}
	buf_puts(&b, u->host);
	if (u->scp) {
		buf_puts(&b, ":");
		buf_puts(&b, u->path);
	} else {
		if (u->port[0]) {
			buf_puts(&b, ":");
			buf_puts(&b, u->port);
		}
		buf_puts(&b, u->path);
	}
	return buf_steal(&b);
}

void
git_url_free(struct git_url *u)
{
	free(u->scheme);
	free(u->user);
	free(u->pass);
	free(u->host);
	free(u->port);
	free(u->path);
	memset(u, 0, sizeof *u);
}

int
gitcred_host_matches(const struct git_creds *c, const char *host)
{
	if (c->host == NULL || c->host[0] == '\0')
		return 1;
	/* git_host may carry a port or scheme by mistake; compare host names only */
	struct git_url h;
	const char *want = c->host;
	char *tmp = NULL;
	if (strstr(want, "://")) {
		git_url_parse(want, &h);
		tmp = xstrdup(h.host);
		git_url_free(&h);
		want = tmp;
	}
	size_t wl = strcspn(want, ":/");
	int ok = strlen(host) == wl && strncasecmp(host, want, wl) == 0;
	free(tmp);
	return ok;
}

static int
is_http(const struct git_url *u)
{
	return strcasecmp(u->scheme, "http") == 0 || strcasecmp(u->scheme, "https") == 0;
}

static int
is_ssh(const struct git_url *u)
{
	return u->scp || strcasecmp(u->scheme, "ssh") == 0 || strcasecmp(u->scheme, "git+ssh") == 0;
}

static void
ensure_leading_slash(struct git_url *u)
{
	if (u->path[0] != '/') {
		char *p = xasprintf("/%s", u->path);
		free(u->path);
		u->path = p;
	}
}

char *
gitcred_rewrite_url(const struct git_creds *c, const char *url)
{
	struct git_url u;
	if (git_url_parse(url, &u) < 0 || u.local || !gitcred_host_matches(c, u.host)) {
		git_url_free(&u);
		return xstrdup(url ? url : "");
	}
	if (c->force_ssh) {
		if (is_http(&u)) {
			set_str(&u.scheme, "ssh", 3);
			const char *user = c->ssh_user ? c->ssh_user : "git";
			set_str(&u.user, user, strlen(user));
			set_str(&u.pass, "", 0);
			const char *port = c->ssh_port ? c->ssh_port : "";
			set_str(&u.port, port, strlen(port));
		} else if (is_ssh(&u)) {
			if (u.scp && (c->ssh_user || c->ssh_port)) {
				u.scp = 0;
				set_str(&u.scheme, "ssh", 3);
				ensure_leading_slash(&u);
			}
			if (c->ssh_user)
				set_str(&u.user, c->ssh_user, strlen(c->ssh_user));
			if (c->ssh_port && !u.scp)
				set_str(&u.port, c->ssh_port, strlen(c->ssh_port));
		}
	} else if (c->translate_ssh && c->user && c->pass && is_ssh(&u)) {
		u.scp = 0;
		set_str(&u.scheme, "https", 5);
		set_str(&u.port, "", 0);
		if (u.pass[0] == '\0')
			set_str(&u.user, "", 0);
		ensure_leading_slash(&u);
	}
	char *out = git_url_format(&u);
	git_url_free(&u);
	return out;
}

static char *
pct_decode(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], 0};
			out[j++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

char *
gitcred_prepare(const struct git_creds *c, const char *url, char **user, char **pass)
{
	*user = *pass = NULL;
	char *rewritten = gitcred_rewrite_url(c, url);
	struct git_url u;
	if (git_url_parse(rewritten, &u) < 0 || !is_http(&u)) {
		git_url_free(&u);
		return rewritten;
	}
	free(rewritten);
	if (u.pass[0]) {
		*user = pct_decode(u.user);
		*pass = pct_decode(u.pass);
		set_str(&u.user, "", 0);
		set_str(&u.pass, "", 0);
	} else if (gitcred_host_matches(c, u.host) && c->pass) {
		if (u.user[0] == '\0' && c->user) {
			*user = xstrdup(c->user);
			*pass = xstrdup(c->pass);
		} else if (u.user[0]) {
			*pass = xstrdup(c->pass); /* git asks only for the password */
		}
	}
	char *out = git_url_format(&u);
	git_url_free(&u);
	return out;
}

/* ---- masking ---- */

char *
gitcred_mask_text(const char *text, const char *secret)
{
	if (text == NULL)
		return xstrdup("");
	struct buf b;
	buf_init(&b, strlen(text) * 2 + 64);
	const char *p = text;
	while (*p) {
		const char *sep = strstr(p, "://");
		if (sep == NULL) {
			buf_puts(&b, p);
			break;
		}
		buf_append(&b, p, (size_t)(sep - p) + 3);
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/ \t\r\n'\"<>");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			buf_append(&b, auth, (size_t)(colon - auth) + 1);
			buf_puts(&b, "********");
			p = at;
		} else {
			p = auth;
		}
	}
	char *masked = b.data ? buf_steal(&b) : xstrdup("");
	buf_free(&b);
	if (secret == NULL || strlen(secret) < 3)
		return masked;
	struct buf o;
	buf_init(&o, strlen(masked) * 2 + 16);
	size_t sl = strlen(secret);
	const char *q = masked;
	for (;;) {
		const char *hit = strstr(q, secret);
		if (!hit) {
			buf_puts(&o, q);
			break;
		}
		buf_append(&o, q, (size_t)(hit - q));
		buf_puts(&o, "********");
		q = hit + sl;
	}
	free(masked);
	return o.data ? buf_steal(&o) : xstrdup("");
}

char *
gitcred_mask_url(const char *url)
{
	return gitcred_mask_text(url, NULL);
}

/* ---- askpass ---- */

static const char askpass_script[] =
	"#!/bin/sh\n"
	"# clearml-agent GIT_ASKPASS helper: answers from the calling git's environment only.\n"
	"if [ -n \"$" ASKPASS_HOST_VAR "\" ]; then\n"
	"  case \"$1\" in\n"
	"    *\"://$" ASKPASS_HOST_VAR "\"[:/\\']*|*\"@$" ASKPASS_HOST_VAR "\"[:/\\']*) ;;\n"
	"    *) exit 1 ;;\n"
	"  esac\n"
	"fi\n"
	"case \"$1\" in\n"
	"  [Uu]sername*) printf '%s\\n' \"$" ASKPASS_USER_VAR "\" ;;\n"
	"  *) printf '%s\\n' \"$" ASKPASS_PASS_VAR "\" ;;\n"
	"esac\n";

int
gitcred_askpass_setup(struct git_askpass *ap, const char *user, const char *pass,
                      const char *host, struct envv *env, char *err, size_t errlen)
{
	memset(ap, 0, sizeof *ap);
	if (user == NULL && pass == NULL)
		return 0;
	const char *tmp = env_get("TMPDIR");
	char *dir = xasprintf("%s/clearml_git_XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "cannot create a private directory for GIT_ASKPASS: %s", strerror(errno));
		free(dir);
		return -1;
	}
	chmod(dir, 0700);
	char *script = xasprintf("%s/askpass.sh", dir);
	int fd = open(script, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	size_t len = sizeof askpass_script - 1;
	if (fd < 0 || write(fd, askpass_script, len) != (ssize_t)len || fchmod(fd, 0700) < 0) {
		snprintf(err, errlen, "cannot write the GIT_ASKPASS helper: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(script);
		rmdir(dir);
		free(script);
		free(dir);
		return -1;
	}
	close(fd);
	ap->dir = dir;
	ap->script = script;
	envv_set(env, "GIT_ASKPASS", script);
	envv_set(env, ASKPASS_USER_VAR, user ? user : "");
	envv_set(env, ASKPASS_PASS_VAR, pass ? pass : "");
	envv_set(env, ASKPASS_HOST_VAR, host ? host : "");
	return 0;
}

void
gitcred_askpass_cleanup(struct git_askpass *ap)
{
	if (ap->script) {
		unlink(ap->script);
		free(ap->script);
	}
	if (ap->dir) {
		rmdir(ap->dir);
		free(ap->dir);
	}
	memset(ap, 0, sizeof *ap);
}

void
gitcred_git_env(struct envv *env)
{
	envv_set(env, "GIT_TERMINAL_PROMPT", "0");
	if (envv_get(env, "GIT_SSH_COMMAND") == NULL && envv_get(env, "GIT_SSH") == NULL)
		envv_set(env, "GIT_SSH_COMMAND", "ssh -oBatchMode=yes");
	/* a remote that accepts and then stalls must not hold the task forever (curl waits
	 * indefinitely by default); the user's own values win */
	if (envv_get(env, "GIT_HTTP_LOW_SPEED_LIMIT") == NULL)
		envv_set(env, "GIT_HTTP_LOW_SPEED_LIMIT", "1000");
	if (envv_get(env, "GIT_HTTP_LOW_SPEED_TIME") == NULL)
		envv_set(env, "GIT_HTTP_LOW_SPEED_TIME", "300");
	/* never let a stale askpass from the agent's own environment answer for us */
	envv_unset(env, ASKPASS_USER_VAR);
	envv_unset(env, ASKPASS_PASS_VAR);
	envv_unset(env, ASKPASS_HOST_VAR);
}

/* ---- requirement lines ---- */

char *
gitcred_requirement_line(const struct git_creds *c, const char *line)
{
	const char *g = strstr(line, "git+");
	if (g == NULL)
		return xstrdup(line);
	const char *url = g + 4;
	/* '@' may be part of the URL (user@host or @rev): take up to whitespace/';', then split a
	 * trailing @rev / #fragment off the path */
	size_t ulen = strcspn(url, " \t;");
	char *whole = xstrndup(url, ulen);
	/* separate "@rev" and "#frag" that follow the path */
	struct git_url u;
	char *rewritten = NULL;
	if (git_url_parse(whole, &u) == 0 && !u.local) {
		char *tail = NULL;
		char *at = strrchr(u.path, '@');
		char *hash = strchr(u.path, '#');
		char *cut = at ? at : hash;
		if (cut) {
			tail = xstrdup(cut);
			*cut = '\0';
		}
		char *base = git_url_format(&u);
		char *base2 = gitcred_rewrite_url(c, base);
		rewritten = xasprintf("%s%s", base2, tail ? tail : "");
		free(base);
		free(base2);
		free(tail);
	}
	git_url_free(&u);
	if (rewritten == NULL) {
		free(whole);
		return xstrdup(line);
	}
	char *out = xasprintf("%.*s%s%s", (int)(url - line), line, rewritten, url + ulen);
	free(rewritten);
	free(whole);
	return out;
}
