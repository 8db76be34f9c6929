/*
 * requirements — the requirement-text logic of the Python agent's requirements manager, in pure
 * functions: line splitting and parsing, PEP 503 names, classification (priority / post /
 * external / collected), the environment-cache key, PEP 440 comparisons and PEP 508 markers.
 * Nothing here runs a process or touches a file; pyenv.c drives the tools with the results.
 *
 * Requirement text is data: it is only ever written to a requirements file handed to pip or
 * passed as one argv element, never to a shell.
 */
#include "runner/requirements.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "util.h"

/* ------------------------------------------------------------------------------------------ */
/* names and lines                                                                            */

char *
req_canonical_name(const char *name, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;
	int sep = 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '-' || c == '_' || c == '.') {
			sep = 1;
			continue;
		}
		if (sep && o > 0)
			out[o++] = '-';
		sep = 0;
		out[o++] = (char)tolower((unsigned char)c);
	}
	out[o] = '\0';
	return out;
}

static int
is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* Collapse runs of white space to one space and trim. Caller frees. */
static char *
fold_space(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(n + 1);
	size_t o = 0;
	int sp = 0;
	for (size_t i = 0; i < n; i++) {
		if (isspace((unsigned char)s[i])) {
			sp = 1;
			continue;
		}
		if (sp && o > 0)
			out[o++] = ' ';
		sp = 0;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* Remove every white-space character; lower-case. Caller frees. */
static char *
squeeze_lower(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			out[o++] = (char)tolower((unsigned char)s[i]);
	out[o] = '\0';
	return out;
}

static int
has_vcs_scheme(const char *s)
{
	return str_starts_with(s, "git+") || str_starts_with(s, "hg+") ||
	       str_starts_with(s, "svn+") || str_starts_with(s, "bzr+");
}

static int
has_url_scheme(const char *s)
{
	return str_starts_with(s, "http://") || str_starts_with(s, "https://") ||
	       str_starts_with(s, "ftp://");
}

static int
looks_local(const char *s)
{
	return s[0] == '.' || s[0] == '/' || s[0] == '~' || str_starts_with(s, "file:");
}

/* "#egg=name" in a URL → canonical name, or NULL. */
static char *
egg_name(const char *url)
{
	const char *e = strstr(url, "#egg=");
	if (!e)
		e = strstr(url, "&egg=");
	if (!e)
		return NULL;
	e += 5;
	size_t n = 0;
	while (e[n] && is_name_char(e[n]))
		n++;
	return n ? req_canonical_name(e, n) : NULL;
}

/* Classify a location (after `-e` or `name @`): VCS, URL or local. */
static enum req_kind
location_kind(const char *loc)
{
	if (has_vcs_scheme(loc))
		return REQ_VCS;
	if (has_url_scheme(loc))
		return REQ_URL;
	return REQ_LOCAL;
}

int
req_parse_line(const char *line_in, struct req *out)
{
	memset(out, 0, sizeof *out);
	char *line = fold_space(line_in);
	if (!*line) {
		free(line);
		return -1;
	}
	out->line = line;
	out->kind = REQ_NAMED;

	if (line[0] == '-') {
		const char *arg = NULL;
		if (str_starts_with(line, "-e ") || str_starts_with(line, "--editable ") ||
		    str_starts_with(line, "--editable=")) {
			arg = strpbrk(line, " =") + 1;
			while (*arg == ' ')
				arg++;
			out->editable = 1;
			out->kind = location_kind(arg);
			out->name = egg_name(arg);
		} else if (str_starts_with(line, "-r") || str_starts_with(line, "--requirement") ||
		           str_starts_with(line, "-c") || str_starts_with(line, "--constraint")) {
			out->kind = REQ_INCLUDE;
		} else {
			out->kind = REQ_OPTION;
		}
		out->norm = xstrdup(line);
		return 0;
	}

	if (has_vcs_scheme(line) || has_url_scheme(line) || looks_local(line)) {
		out->kind = location_kind(line);
		out->name = egg_name(line);
		out->norm = xstrdup(line);
		return 0;
	}

	/* name [extras] [specifiers] [; markers]  or  name [extras] @ url [; markers] */
	const char *p = line;
	size_t nl = 0;
	while (p[nl] && is_name_char(p[nl]))
		nl++;
	if (nl == 0) { /* not a name: keep verbatim (pip will judge it) */
		out->kind = REQ_OPTION;
		out->norm = xstrdup(line);
		return 0;
	}
	out->name = req_canonical_name(p, nl);
	const char *q = p + nl;
	while (*q == ' ')
		q++;
	char *extras = NULL;
	if (*q == '[') {
		const char *e = strchr(q, ']');
		if (e) {
			extras = squeeze_lower(q, (size_t)(e - q + 1));
			q = e + 1;
			while (*q == ' ')
				q++;
		}
	}
	const char *semi = strchr(q, ';');
	/* A URL may contain ';' only in rare forms; treat " ;" / ";" as the marker separator as pip
	 * does for named requirements. */
	if (semi) {
		char *m = xstrndup(semi + 1, strlen(semi + 1));
		char *mt = str_trim(m);
		out->marker = *mt ? xstrdup(mt) : NULL;
		free(m);
	}
	size_t speclen = semi ? (size_t)(semi - q) : strlen(q);
	char *spec;
	if (*q == '@') {
		const char *u = q + 1;
		while (*u == ' ')
			u++;
		size_t ul = (size_t)((q + speclen) - u);
		while (ul > 0 && u[ul - 1] == ' ')
			ul--;
		char *url = xstrndup(u, ul);
		out->kind = location_kind(url);
		spec = xasprintf("@%s", url);
		free(url);
	} else {
		spec = squeeze_lower(q, speclen);
	}
	char *marker = out->marker ? fold_space(out->marker) : NULL;
	out->norm = xasprintf("%s%s%s%s%s", out->name, extras ? extras : "", spec,
	                      marker ? ";" : "", marker ? marker : "");
	free(marker);
	free(spec);
	free(extras);
	return 0;
}

void
req_free(struct req *r)
{
	free(r->line);
	free(r->name);
	free(r->norm);
	free(r->marker);
	memset(r, 0, sizeof *r);
}

static void
list_push(struct req_list *l, const char *line)
{
	struct req r;
	if (req_parse_line(line, &r) != 0)
		return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = r;
}

/* Drop a comment: '#' at the start or after white space (pip's rule; URL fragments survive). */
static void
strip_comment(char *s)
{
	for (char *c = s; *c; c++) {
		if (*c == '#' && (c == s || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			return;
		}
	}
}

void
req_list_parse_text(struct req_list *l, const char *text)
{
	if (!text)
		return;
	struct buf logical;
	buf_init(&logical, 1u << 20);
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *raw = xstrndup(p, n);
		size_t rl = strlen(raw);
		while (rl > 0 && (raw[rl - 1] == '\r' || raw[rl - 1] == ' ' || raw[rl - 1] == '\t'))
			raw[--rl] = '\0';
		int cont = rl > 0 && raw[rl - 1] == '\\';
		if (cont)
			raw[--rl] = '\0';
		if (logical.len == 0 || logical.data[0] != '#') /* a continued comment stays one */
			(void)buf_puts(&logical, raw);
		free(raw);
		if (!cont || !nl) {
			if (logical.len) {
				char *s = buf_steal(&logical);
				strip_comment(s);
				list_push(l, s);
				free(s);
			}
			buf_reset(&logical);
		} else {
			(void)buf_puts(&logical, " ");
		}
		p = nl ? nl + 1 : p + n;
	}
	buf_free(&logical);
}

int
req_list_from_json(struct req_list *l, const json_t *pip)
{
	if (json_is_string(pip)) {
		req_list_parse_text(l, json_string_value(pip));
		return 0;
	}
	if (json_is_array(pip)) {
		size_t i;
		const json_t *v;
		json_array_foreach(pip, i, v) {
			if (json_is_string(v))
				req_list_parse_text(l, json_string_value(v));
		}
		return 0;
	}
	return -1;
}

void
req_list_free(struct req_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		req_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
req_list_has_include(const struct req_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == REQ_INCLUDE)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* classification                                                                             */

static const char *const DEF_PRIORITY[] = {"cython", "numpy", "setuptools", "pip", "uv", NULL};
static const char *const DEF_PRIORITY_OPT[] = {"pygobject", NULL};
static const char *const DEF_POST[] = {"horovod", NULL};
static const char *const DEF_NONE[] = {NULL};
static const char *const COLLECTED[] = {"trains", "clearml", "nbconvert", "ipython", NULL};

static int
in_names(const char *const *names, const char *canon)
{
	for (size_t i = 0; names && names[i]; i++) {
		char *c = req_canonical_name(names[i], strlen(names[i]));
		int eq = strcmp(c, canon) == 0;
		free(c);
		if (eq)
			return 1;
	}
	return 0;
}

void
req_classify(struct req_list *l, const struct req_policy *p)
{
	const char *const *prio = p && p->priority ? p->priority : DEF_PRIORITY;
	const char *const *prio_opt = p && p->priority_optional ? p->priority_optional
	                                                         : DEF_PRIORITY_OPT;
	const char *const *post = p && p->post ? p->post : DEF_POST;
	const char *const *post_opt = p && p->post_optional ? p->post_optional : DEF_NONE;

	for (size_t i = 0; i < l->n; i++) {
		struct req *r = &l->v[i];
		r->cls = RC_NORMAL;
		if (r->kind == REQ_OPTION || r->kind == REQ_INCLUDE)
			continue;
		if (r->kind != REQ_NAMED || r->editable) {
			r->cls = RC_EXTERNAL;
			continue;
		}
		if (in_names(COLLECTED, r->name)) {
			r->cls = RC_COLLECTED;
			for (size_t j = 0; j < i; j++)
				if (l->v[j].cls == RC_COLLECTED && strcmp(l->v[j].name, r->name) == 0)
					l->v[j].cls = RC_DROPPED;
		} else if (in_names(prio, r->name)) {
			r->cls = RC_PRIORITY;
		} else if (in_names(prio_opt, r->name)) {
			r->cls = RC_PRIORITY_OPTIONAL;
		} else if (in_names(post, r->name)) {
			r->cls = RC_POST;
		} else if (in_names(post_opt, r->name)) {
			r->cls = RC_POST_OPTIONAL;
		}
	}
}

char *
req_render_main(const struct req_list *l)
{
	struct buf b;
	buf_init(&b, 16u << 20);
	for (size_t i = 0; i < l->n; i++) {
		const struct req *r = &l->v[i];
		if (r->cls == RC_NORMAL || r->cls == RC_PRIORITY)
			(void)buf_printf(&b, "%s\n", r->line);
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].cls == RC_COLLECTED)
			(void)buf_printf(&b, "%s\n", l->v[i].line);
	if (!b.data)
		return xstrdup("");
	return buf_steal(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* cache key                                                                                  */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
req_cache_key(const struct req_list *l, const struct req_key_input *in, char out[33])
{
	const char **lines = xcalloc(l->n + 1, sizeof *lines);
	for (size_t i = 0; i < l->n; i++)
		lines[i] = l->v[i].norm;
	qsort(lines, l->n, sizeof *lines, cmp_str);

	struct buf b;
	buf_init(&b, 64u << 20);
	(void)buf_printf(&b, "clearml-agent-c venv key v1\npython=%s\nmanager=%s\ncuda=%s\nsys=%d\n"
	                 "extra=%s\n--\n",
	                 in->python_version ? in->python_version : "",
	                 in->manager ? in->manager : "pip", in->cuda ? in->cuda : "0",
	                 in->system_site_packages, in->extra ? in->extra : "");
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0 && strcmp(lines[i], lines[i - 1]) == 0)
			continue; /* a set: duplicates do not change the environment */
		(void)buf_printf(&b, "%s\n", lines[i]);
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
		fatal("sha256 failed");
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
	buf_free(&b);
	free(lines);
}

/* ------------------------------------------------------------------------------------------ */
/* PEP 440                                                                                    */

struct ver {
	long rel[8];
	int nrel;
	int pre_kind; /* 0 none, 1 a, 2 b, 3 rc  (dev-only counts lower than all) */
	long pre;
	int dev;      /* has .devN */
	long devn;
	int post;
	long postn;
};

static int
parse_ver(const char *s, struct ver *v)
{
	memset(v, 0, sizeof *v);
	while (*s == ' ' || *s == 'v' || *s == 'V')
		s++;
	const char *bang = strchr(s, '!'); /* epochs: ignored (rare) */
	if (bang)
		s = bang + 1;
	while (isdigit((unsigned char)*s)) {
		long n = 0;
		while (isdigit((unsigned char)*s)) {
			if (n < 100000000)
				n = n * 10 + (*s - '0');
			s++;
		}
		if (v->nrel < 8)
			v->rel[v->nrel++] = n;
		if (*s == '.' && isdigit((unsigned char)s[1]))
			s++;
		else
			break;
	}
	if (v->nrel == 0)
		return -1;
	while (*s) {
		while (*s == '.' || *s == '-' || *s == '_')
			s++;
		if (!*s || *s == '+')
			break;
		int kind = 0, is_dev = 0, is_post = 0;
		if (strncasecmp(s, "rc", 2) == 0) { kind = 3; s += 2; }
		else if (strncasecmp(s, "c", 1) == 0 && !isalpha((unsigned char)s[1])) { kind = 3; s += 1; }
		else if (strncasecmp(s, "alpha", 5) == 0) { kind = 1; s += 5; }
		else if (strncasecmp(s, "beta", 4) == 0) { kind = 2; s += 4; }
		else if (strncasecmp(s, "a", 1) == 0) { kind = 1; s += 1; }
		else if (strncasecmp(s, "b", 1) == 0) { kind = 2; s += 1; }
		else if (strncasecmp(s, "dev", 3) == 0) { is_dev = 1; s += 3; }
		else if (strncasecmp(s, "post", 4) == 0) { is_post = 1; s += 4; }
		else return -1;
		while (*s == '.' || *s == '-' || *s == '_')
			s++;
		long n = 0;
		while (isdigit((unsigned char)*s)) {
			if (n < 100000000)
				n = n * 10 + (*s - '0');
			s++;
		}
		if (kind) { v->pre_kind = kind; v->pre = n; }
		else if (is_dev) { v->dev = 1; v->devn = n; }
		else if (is_post) { v->post = 1; v->postn = n; }
	}
	return 0;
}

static int
cmp_long(long a, long b)
{
	return a < b ? -1 : a > b;
}

static int
ver_cmp(const struct ver *a, const struct ver *b)
{
	int n = a->nrel > b->nrel ? a->nrel : b->nrel;
	for (int i = 0; i < n; i++) {
		long x = i < a->nrel ? a->rel[i] : 0, y = i < b->nrel ? b->rel[i] : 0;
		if (x != y)
			return cmp_long(x, y);
	}
	/* pre-release: dev-only < a < b < rc < final */
	int ak = a->pre_kind ? a->pre_kind : (a->dev && !a->post ? 0 : 4);
	int bk = b->pre_kind ? b->pre_kind : (b->dev && !b->post ? 0 : 4);
	if (ak != bk)
		return cmp_long(ak, bk);
	if (a->pre_kind && a->pre != b->pre)
		return cmp_long(a->pre, b->pre);
	if (a->post != b->post)
		return a->post ? 1 : -1;
	if (a->post && a->postn != b->postn)
		return cmp_long(a->postn, b->postn);
	if (a->dev != b->dev)
		return a->dev ? -1 : 1;
	if (a->dev)
		return cmp_long(a->devn, b->devn);
	return 0;
}

int
pep440_compare(const char *a, const char *b)
{
	struct ver x, y;
	if (parse_ver(a, &x) != 0 || parse_ver(b, &y) != 0)
		return strcmp(a, b);
	return ver_cmp(&x, &y);
}

/* One clause "op version". */
static int
clause_ok(const struct ver *v, const char *clause)
{
	while (*clause == ' ')
		clause++;
	char op[4] = {0};
	size_t ol = 0;
	while (ol < 3 && clause[ol] && strchr("<>=!~", clause[ol])) {
		op[ol] = clause[ol];
		ol++;
	}
	const char *rest = clause + ol;
	while (*rest == ' ')
		rest++;
	if (!*rest)
		return -1;
	size_t rl = strlen(rest);
	while (rl > 0 && rest[rl - 1] == ' ')
		rl--;
	char *target = xstrndup(rest, rl);
	int wildcard = rl >= 2 && str_ends_with(target, ".*");
	if (wildcard)
		target[rl - 2] = '\0';
	struct ver t;
	int rc;
	if (parse_ver(target, &t) != 0) {
		free(target);
		return -1;
	}
	free(target);
	if (wildcard) {
		int eq = 1;
		for (int i = 0; i < t.nrel; i++)
			if ((i < v->nrel ? v->rel[i] : 0) != t.rel[i])
				eq = 0;
		if (strcmp(op, "==") == 0)
			return eq;
		if (strcmp(op, "!=") == 0)
			return !eq;
		return -1;
	}
	int c = ver_cmp(v, &t);
	if (strcmp(op, "==") == 0 || strcmp(op, "===") == 0)
		rc = c == 0;
	else if (strcmp(op, "!=") == 0)
		rc = c != 0;
	else if (strcmp(op, "<") == 0)
		rc = c < 0;
	else if (strcmp(op, "<=") == 0)
		rc = c <= 0;
	else if (strcmp(op, ">") == 0)
		rc = c > 0;
	else if (strcmp(op, ">=") == 0)
		rc = c >= 0;
	else if (strcmp(op, "~=") == 0) {
		if (t.nrel < 2)
			return -1;
		rc = c >= 0;
		for (int i = 0; i < t.nrel - 1 && rc; i++)
			if ((i < v->nrel ? v->rel[i] : 0) != t.rel[i])
				rc = 0;
	} else
		return -1;
	return rc;
}

int
pep440_satisfies(const char *version, const char *spec)
{
	struct ver v;
	if (parse_ver(version, &v) != 0)
		return -1;
	char *s = xstrdup(spec ? spec : "");
	int ok = 1;
	char *save = s;
	for (;;) {
		char *comma = strchr(save, ',');
		if (comma)
			*comma = '\0';
		char *t = str_trim(save);
		if (*t) {
			int r = clause_ok(&v, t);
			if (r < 0) {
				ok = -1;
				break;
			}
			if (!r)
				ok = 0;
		}
		if (!comma)
			break;
		save = comma + 1;
	}
	free(s);
	return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* PEP 508 markers (recursive descent)                                                        */

struct mk {
	const char *p;
	const char *pyfull;
	char pyver[16];
	int err;
};

static void
mk_space(struct mk *m)
{
	while (isspace((unsigned char)*m->p))
		m->p++;
}

/* A value: quoted string or a marker variable. Returns malloc'd text, *is_ver set for versions. */
static char *
mk_value(struct mk *m, int *is_ver)
{
	mk_space(m);
	*is_ver = 0;
	if (*m->p == '\'' || *m->p == '"') {
		char q = *m->p++;
		const char *e = strchr(m->p, q);
		if (!e) {
			m->err = 1;
			return xstrdup("");
		}
		char *s = xstrndup(m->p, (size_t)(e - m->p));
		m->p = e + 1;
		return s;
	}
	size_t n = 0;
	while (isalnum((unsigned char)m->p[n]) || m->p[n] == '_' || m->p[n] == '.')
		n++;
	if (n == 0) {
		m->err = 1;
		return xstrdup("");
	}
	char *name = xstrndup(m->p, n);
	m->p += n;
	struct utsname u;
	if (uname(&u) != 0)
		memset(&u, 0, sizeof u);
	char *val;
	if (strcmp(name, "python_version") == 0) {
		val = xstrdup(m->pyver);
		*is_ver = 1;
	} else if (strcmp(name, "python_full_version") == 0) {
		val = xstrdup(m->pyfull);
		*is_ver = 1;
	} else if (strcmp(name, "sys_platform") == 0) {
		val = xstrdup("linux");
	} else if (strcmp(name, "platform_system") == 0) {
		val = xstrdup("Linux");
	} else if (strcmp(name, "os_name") == 0) {
		val = xstrdup("posix");
	} else if (strcmp(name, "platform_machine") == 0) {
		val = xstrdup(u.machine);
	} else if (strcmp(name, "implementation_name") == 0 ||
	           strcmp(name, "platform_python_implementation") == 0) {
		val = xstrdup(strcmp(name, "implementation_name") == 0 ? "cpython" : "CPython");
	} else if (strcmp(name, "extra") == 0) {
		val = xstrdup("");
	} else {
		m->err = 1;
		val = xstrdup("");
	}
	free(name);
	return val;
}

static int
mk_compare(const char *l, const char *op, const char *r, int ver)
{
	if (strcmp(op, "in") == 0)
		return strstr(r, l) != NULL;
	if (strcmp(op, "not in") == 0)
		return strstr(r, l) == NULL;
	if (ver) {
		char *clause = xasprintf("%s%s", op, r);
		int ok = pep440_satisfies(l, clause);
		free(clause);
		if (ok >= 0)
			return ok;
	}
	int c = strcmp(l, r);
	if (strcmp(op, "==") == 0 || strcmp(op, "===") == 0)
		return c == 0;
	if (strcmp(op, "!=") == 0)
		return c != 0;
	if (strcmp(op, "<") == 0)
		return c < 0;
	if (strcmp(op, "<=") == 0)
		return c <= 0;
	if (strcmp(op, ">") == 0)
		return c > 0;
	if (strcmp(op, ">=") == 0)
		return c >= 0;
	return -1;
}

static int mk_or(struct mk *m);

static int
mk_atom(struct mk *m)
{
	mk_space(m);
	if (*m->p == '(') {
		m->p++;
		int v = mk_or(m);
		mk_space(m);
		if (*m->p != ')')
			m->err = 1;
		else
			m->p++;
		return v;
	}
	int lv, rv;
	char *l = mk_value(m, &lv);
	mk_space(m);
	char op[8] = {0};
	if (strncmp(m->p, "not", 3) == 0 && isspace((unsigned char)m->p[3])) {
		m->p += 3;
		mk_space(m);
		if (strncmp(m->p, "in", 2) != 0)
			m->err = 1;
		m->p += 2;
		memcpy(op, "not in", 7);
	} else if (strncmp(m->p, "in", 2) == 0 && isspace((unsigned char)m->p[2])) {
		m->p += 2;
		memcpy(op, "in", 3);
	} else {
		size_t n = 0;
		while (n < 3 && m->p[n] && strchr("<>=!~", m->p[n])) {
			op[n] = m->p[n];
			n++;
		}
		if (n == 0)
			m->err = 1;
		m->p += n;
	}
	char *r = mk_value(m, &rv);
	int res = m->err ? 0 : mk_compare(l, op, r, lv || rv);
	if (res < 0) {
		m->err = 1;
		res = 0;
	}
	/* "'3.8' < python_version": the version side is the right one */
	if (!lv && rv && !m->err && strcmp(op, "in") != 0 && strcmp(op, "not in") != 0) {
		static const char *const ops[][2] = {{"<", ">"}, {">", "<"}, {"<=", ">="},
		                                     {">=", "<="}, {"==", "=="}, {"!=", "!="}};
		for (size_t i = 0; i < ARRAY_LEN(ops); i++)
			if (strcmp(op, ops[i][0]) == 0) {
				res = mk_compare(r, ops[i][1], l, 1);
				break;
			}
	}
	free(l);
	free(r);
	return res;
}

static int
mk_and(struct mk *m)
{
	int v = mk_atom(m);
	for (;;) {
		mk_space(m);
		if (strncmp(m->p, "and", 3) == 0 && !isalnum((unsigned char)m->p[3])) {
			m->p += 3;
			int w = mk_atom(m);
			v = v && w;
		} else {
			return v;
		}
	}
}

static int
mk_or(struct mk *m)
{
	int v = mk_and(m);
	for (;;) {
		mk_space(m);
		if (strncmp(m->p, "or", 2) == 0 && !isalnum((unsigned char)m->p[2])) {
			m->p += 2;
			int w = mk_and(m);
			v = v || w;
		} else {
			return v;
		}
	}
}

int
req_marker_eval(const char *marker, const char *python_full_version)
{
	struct mk m = {.p = marker, .pyfull = python_full_version ? python_full_version : ""};
	/* python_version is "X.Y" */
	const char *d1 = strchr(m.pyfull, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	size_t n = d2 ? (size_t)(d2 - m.pyfull) : strlen(m.pyfull);
	if (n >= sizeof m.pyver)
		n = sizeof m.pyver - 1;
	memcpy(m.pyver, m.pyfull, n);
	int v = mk_or(&m);
	mk_space(&m);
	if (m.err || *m.p)
		return -1;
	return v;
}

/* ------------------------------------------------------------------------------------------ */

json_t *
req_freeze_lines(const char *out)
{
	json_t *arr = json_array();
	const char *p = out ? out : "";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, n);
		char *t = str_trim(line);
		size_t tl = strlen(t);
		while (tl > 0 && isspace((unsigned char)t[tl - 1]))
			t[--tl] = '\0';
		if (*t && *t != '#' && !strstr(t, "clearml-agent") && !strstr(t, "clearml_agent"))
			json_array_append_new(arr, json_string(t));
		free(line);
		p = nl ? nl + 1 : p + n;
	}
	return arr;
}

char **
req_shlex_split(const char *s, size_t *n_out)
{
	char **v = xcalloc(1, sizeof *v);
	size_t n = 0;
	struct buf w;
	buf_init(&w, 1u << 20);
	int in_word = 0;
	char quote = 0;
	for (const char *p = s ? s : ""; ; p++) {
		char c = *p;
		if (c == '\0') {
			if (quote) {
				buf_free(&w);
				for (size_t i = 0; i < n; i++)
					free(v[i]);
				free(v);
				*n_out = 0;
				return NULL;
			}
			break;
		}
		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				(void)buf_append(&w, &c, 1);
			continue;
		}
		if (quote == '"') {
			if (c == '"') {
				quote = 0;
			} else if (c == '\\' && p[1] && strchr("\"\\$`", p[1])) {
				p++;
				(void)buf_append(&w, p, 1);
			} else {
				(void)buf_append(&w, &c, 1);
			}
			continue;
		}
		if (isspace((unsigned char)c)) {
			if (in_word) {
				v = xreallocarray(v, n + 2, sizeof *v);
				v[n++] = w.data ? buf_steal(&w) : xstrdup("");
				buf_reset(&w);
				in_word = 0;
			}
			continue;
		}
		in_word = 1;
		if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '\\' && p[1]) {
			p++;
			(void)buf_append(&w, p, 1);
		} else {
			(void)buf_append(&w, &c, 1);
		}
	}
	if (in_word) {
		v = xreallocarray(v, n + 2, sizeof *v);
		v[n++] = w.data ? buf_steal(&w) : xstrdup("");
	}
	buf_free(&w);
	v[n] = NULL;
	*n_out = n;
	return v;
}

/* ------------------------------------------------------------------------------------------ */
/* tool output and interpreter names                                                          */

/* The last meaningful error line of a tool's output ("ERROR: …" for pip, "error: …" for uv,
 * else the last non-empty line). out gets at most outlen-1 bytes. */
void
req_tool_error_line(const char *tail, char *out, size_t outlen)
{
	out[0] = '\0';
	const char *best = NULL, *last = NULL;
	size_t best_len = 0, last_len = 0;
	const char *p = tail ? tail : "";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *s = p;
		size_t sl = n;
		while (sl > 0 && isspace((unsigned char)*s)) {
			s++;
			sl--;
		}
		while (sl > 0 && isspace((unsigned char)s[sl - 1]))
			sl--;
		if (sl > 0) {
			last = s;
			last_len = sl;
			if (strncmp(s, "ERROR:", 6) == 0 || strncasecmp(s, "error:", 6) == 0) {
				best = s;
				best_len = sl;
			}
		}
		p = nl ? nl + 1 : p + n;
	}
	if (!last)
		return; /* no output at all */
	/* "ERROR: Exception:" heads a traceback: its last line says what happened */
	if (!best || (best_len > 0 && best[best_len - 1] == ':' && last && last > best)) {
		best = last;
		best_len = last_len;
		/* "pip._vendor.packaging.markers.InvalidMarker: …" → "InvalidMarker: …" */
		const char *colon = memchr(best, ':', best_len);
		const char *dot = NULL;
		for (const char *q = best; colon && q < colon; q++) {
			if (*q == '.')
				dot = q;
			else if (!isalnum((unsigned char)*q) && *q != '_')
				break;
		}
		if (dot && colon && dot < colon) {
			best_len -= (size_t)(dot + 1 - best);
			best = dot + 1;
		}
	}
	if (strncasecmp(best, "error:", 6) == 0) {
		best += 6;
		best_len -= 6;
		while (best_len > 0 && *best == ' ') {
			best++;
			best_len--;
		}
	}
	snprintf(out, outlen, "%.*s", (int)best_len, best);
}

/* Does "3.10.13" match a request "3.10" / "3.10.13" / "3"? */
int
req_python_version_matches(const char *have, const char *want)
{
	size_t wl = strlen(want);
	return strncmp(have, want, wl) == 0 && (have[wl] == '\0' || have[wl] == '.');
}

/* Requested version from script.binary: "python3.8" → "3.8"; "python3"/"python" → "" (the
 * default); a non-python binary → "". */
void
req_python_from_binary(const char *binary, char *out, size_t outlen)
{
	out[0] = '\0';
	if (!binary)
		return;
	const char *base = strrchr(binary, '/');
	base = base ? base + 1 : binary;
	if (strncmp(base, "python", 6) != 0)
		return;
	const char *v = base + 6;
	size_t n = 0;
	while (v[n] && (isdigit((unsigned char)v[n]) || v[n] == '.'))
		n++;
	if (n == 0 || !memchr(v, '.', n))
		return; /* "python", "python3": the default interpreter */
	snprintf(out, outlen, "%.*s", (int)n, v);
}

char *
req_pip_pin(const char *const *pins, const char *pyver, char ***lines_out)
{
	struct buf spec;
	buf_init(&spec, 4096);
	char **lines = xcalloc(1, sizeof *lines);
	size_t nl = 0;
	for (size_t i = 0; pins && pins[i]; i++) {
		char *p = xstrdup(pins[i]);
		char *semi = strchr(p, ';');
		int applies = 1;
		if (semi) {
			*semi = '\0';
			applies = req_marker_eval(semi + 1, pyver) == 1;
		}
		char *s = str_trim(p);
		size_t sl = strlen(s);
		while (sl > 0 && isspace((unsigned char)s[sl - 1]))
			s[--sl] = '\0';
		/* "pip==20.1" or "<20.2": keep the specifier part */
		if (strncasecmp(s, "pip", 3) == 0)
			s += 3;
		while (*s == ' ')
			s++;
		if (applies && *s) {
			(void)buf_printf(&spec, "%s%s", spec.len ? "," : "", s);
			lines = xreallocarray(lines, nl + 2, sizeof *lines);
			lines[nl++] = xasprintf("pip%s", s);
		}
		free(p);
	}
	lines[nl] = NULL;
	*lines_out = lines;
	char *out = spec.data ? buf_steal(&spec) : xstrdup("");
	buf_free(&spec);
	return out;
}
