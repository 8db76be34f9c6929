/*
 * docker_cmd — pure construction of the container command (contract in docker_cmd.h).
 */
#include "supervisor/docker_cmd.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- dargs ---- */

void
dargs_push(struct dargs *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xreallocarray(a->v, a->cap, sizeof *a->v);
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

void
dargs_pushf(struct dargs *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	dargs_push(a, s);
	free(s);
}

void
dargs_extend(struct dargs *a, const struct dargs *b)
{
	for (size_t i = 0; b && i < b->n; i++)
		dargs_push(a, b->v[i]);
}

void
dargs_free(struct dargs *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof *a);
}

static void
dargs_remove(struct dargs *a, size_t i, size_t count, struct dargs *to)
{
	for (size_t k = 0; k < count; k++) {
		if (to)
			dargs_push(to, a->v[i + k]);
		free(a->v[i + k]);
	}
	memmove(a->v + i, a->v + i + count, (a->n - i - count + 1) * sizeof *a->v);
	a->n -= count;
}

/* ---- splitting ---- */

int
docker_split_args(const char *s, struct dargs *out)
{
	struct buf w;
	buf_init(&w, 1u << 20);
	int in_word = 0;
	const char *p = s ? s : "";
	while (*p) {
		char c = *p;
		if (isspace((unsigned char)c)) {
			if (in_word) {
				buf_append(&w, "", 1);
				dargs_push(out, w.data);
				buf_reset(&w);
				in_word = 0;
			}
			p++;
		} else if (c == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (!e) {
				buf_free(&w);
				return -1;
			}
			buf_append(&w, p + 1, (size_t)(e - p - 1));
			in_word = 1;
			p = e + 1;
		} else if (c == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				buf_append(&w, p, 1);
				p++;
			}
			if (*p != '"') {
				buf_free(&w);
				return -1;
			}
			in_word = 1;
			p++;
		} else if (c == '\\' && p[1]) {
			buf_append(&w, p + 1, 1);
			in_word = 1;
			p += 2;
		} else {
			buf_append(&w, p, 1);
			in_word = 1;
			p++;
		}
	}
	if (in_word) {
		buf_append(&w, "", 1);
		dargs_push(out, w.data);
	}
	buf_free(&w);
	return 0;
}

/* ---- templates ---- */

static void
apply_op(char **val, const char *op)
{
	char *v = *val;
	if (strcmp(op, "strip") == 0) {
		char *t = str_trim(v);
		size_t n = strlen(t);
		while (n && isspace((unsigned char)t[n - 1]))
			t[--n] = '\0';
		memmove(v, t, n + 1);
	} else if (strcmp(op, "lower") == 0) {
		for (char *c = v; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	} else if (strcmp(op, "upper") == 0) {
		for (char *c = v; *c; c++)
			*c = (char)toupper((unsigned char)*c);
	} else if (strcmp(op, "capitalize") == 0) {
		for (char *c = v; *c; c++)
			*c = (char)(c == v ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
	}
	/* "raw" and unknown ops leave the value as it is */
}

char *
docker_template_resolve(const char *s, docker_tmpl_lookup lookup, void *ctx, struct buf *warnings)
{
	struct buf out;
	buf_init(&out, 1u << 20);
	const char *p = s ? s : "";
	while (*p) {
		const char *t = strstr(p, "${CLEARML_");
		if (!t) {
			buf_puts(&out, p);
			break;
		}
		const char *end = strchr(t, '}');
		if (!end) {
			buf_puts(&out, p);
			break;
		}
		buf_append(&out, p, (size_t)(t - p));
		char *body = xstrndup(t + 10, (size_t)(end - t - 10));
		char *op = strchr(body, '|');
		if (op) {
			*op++ = '\0';
			char *paren = strchr(op, '(');
			if (paren)
				*paren = '\0';
		}
		char *dflt = strchr(body, ':');
		if (dflt)
			*dflt++ = '\0';
		char *val = lookup ? lookup(ctx, body) : NULL;
		if (!val) {
			if (!dflt && warnings)
				buf_printf(warnings, "WARNING: docker argument template ${CLEARML_%s} has no value\n", body);
			val = xstrdup(dflt ? dflt : "");
		}
		if (op)
			apply_op(&val, op);
		buf_puts(&out, val);
		free(val);
		free(body);
		p = end + 1;
	}
	buf_append(&out, "", 1);
	char *r = xstrdup(out.data ? out.data : "");
	buf_free(&out);
	return r;
}

/* ---- switches ---- */

const char *
docker_switch_name(const char *arg, char *out, size_t outlen)
{
	if (!arg || arg[0] != '-' || arg[1] == '\0')
		return NULL;
	const char *n = arg + (arg[1] == '-' ? 2 : 1);
	size_t len = strcspn(n, "=");
	if (len == 0 || len >= outlen)
		return NULL;
	memcpy(out, n, len);
	out[len] = '\0';
	return out;
}

/* Switches of `docker run` that take no value. */
static const char *const bool_switches[] = {
	"rm", "init", "privileged", "read-only", "tty", "t", "interactive", "i", "it", "ti", "d",
	"detach", "oom-kill-disable", "no-healthcheck", "publish-all", "P", "disable-content-trust",
	"q", "quiet", "help", NULL};

int
docker_switch_takes_value(const struct dargs *a, size_t i)
{
	char name[128];
	if (!docker_switch_name(a->v[i], name, sizeof name) || strchr(a->v[i], '='))
		return 0;
	for (size_t k = 0; bool_switches[k]; k++)
		if (strcmp(bool_switches[k], name) == 0)
			return 0;
	return i + 1 < a->n && a->v[i + 1][0] != '-';
}

static int
name_in(const char *name, char *const *list)
{
	for (size_t i = 0; list && list[i]; i++) {
		const char *l = list[i];
		while (*l == '-')
			l++;
		if (strcmp(l, name) == 0)
			return 1;
	}
	return 0;
}

size_t
docker_strip_forbidden(struct dargs *a, char *const *forbidden, struct dargs *removed)
{
	size_t count = 0;
	for (size_t i = 0; i < a->n;) {
		char name[128];
		if (docker_switch_name(a->v[i], name, sizeof name) && name_in(name, forbidden)) {
			dargs_remove(a, i, docker_switch_takes_value(a, i) ? 2 : 1, removed);
			count++;
		} else {
			i++;
		}
	}
	return count;
}

size_t
docker_filter_args(struct dargs *a, char *const *filters, struct dargs *dropped)
{
	if (!filters || !filters[0])
		return 0;
	size_t nf = 0;
	while (filters[nf])
		nf++;
	regex_t *re = xcalloc(nf, sizeof *re);
	int *ok = xcalloc(nf, sizeof *ok);
	for (size_t k = 0; k < nf; k++)
		ok[k] = regcomp(&re[k], filters[k], REG_EXTENDED | REG_NOSUB) == 0;
	size_t count = 0;
	for (size_t i = 0; i < a->n;) {
		size_t span = docker_switch_takes_value(a, i) ? 2 : 1;
		char *text = span == 2 ? xasprintf("%s=%s", a->v[i], a->v[i + 1]) : xstrdup(a->v[i]);
		int keep = 0;
		for (size_t k = 0; k < nf && !keep; k++)
			keep = ok[k] && regexec(&re[k], text, 0, NULL, 0) == 0;
		free(text);
		if (keep) {
			i += span;
		} else {
			dargs_remove(a, i, span, dropped);
			count++;
		}
	}
	for (size_t k = 0; k < nf; k++)
		if (ok[k])
			regfree(&re[k]);
	free(re);
	free(ok);
	return count;
}

static int
sets_switch(const struct dargs *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++) {
		char n[128];
		if (docker_switch_name(a->v[i], n, sizeof n) && strcmp(n, name) == 0)
			return 1;
		if (docker_switch_takes_value(a, i))
			i++;
	}
	return 0;
}

static void
append_unprotected(struct dargs *out, const struct dargs *from, const struct dargs *winner,
                   char *const *protected_)
{
	for (size_t i = 0; from && i < from->n; i++) {
		size_t span = docker_switch_takes_value(from, i) ? 2 : 1;
		char n[128];
		int drop = docker_switch_name(from->v[i], n, sizeof n) && name_in(n, protected_) &&
		           winner && sets_switch(winner, n);
		for (size_t k = 0; k < span && !drop; k++)
			dargs_push(out, from->v[i + k]);
		i += span - 1;
	}
}

void
docker_merge_args(const struct dargs *extra, const struct dargs *task, int extra_precedes,
                  char *const *protected_, struct dargs *out)
{
	if (extra_precedes) {
		dargs_extend(out, extra);
		append_unprotected(out, task, extra, protected_);
	} else {
		dargs_extend(out, task);
		append_unprotected(out, extra, task, protected_);
	}
}

/* The host port of a publish spec "[ip:]host:container[/proto]"; -1 when none. */
static long
publish_host_port(const char *spec, long *hi_out)
{
	char *s = xstrdup(spec);
	char *slash = strchr(s, '/');
	if (slash)
		*slash = '\0';
	char *parts[4];
	size_t n = 0;
	for (char *p = s; n < 4;) {
		parts[n++] = p;
		char *c = strchr(p, ':');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	long port = -1;
	*hi_out = -1;
	if (n >= 2) {
		const char *h = parts[n - 2];
		char *dash = strchr(h, '-');
		long long lo, hi;
		if (dash) {
			char *a = xstrndup(h, (size_t)(dash - h));
			if (parse_long(a, 0, 65535, &lo) == 0 && parse_long(dash + 1, 0, 65535, &hi) == 0) {
				port = (long)lo;
				*hi_out = (long)hi;
			}
			free(a);
		} else if (h[0] && parse_long(h, 0, 65535, &lo) == 0) {
			port = (long)lo;
			*hi_out = (long)lo;
		}
	}
	free(s);
	return port;
}

size_t
docker_check_ports(struct dargs *a, long lo, long hi, struct dargs *dropped)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i], "--network=host") == 0 || strcmp(a->v[i], "--net=host") == 0 ||
		    ((strcmp(a->v[i], "--network") == 0 || strcmp(a->v[i], "--net") == 0) && i + 1 < a->n &&
		     strcmp(a->v[i + 1], "host") == 0))
			return 0;
	}
	size_t count = 0;
	for (size_t i = 0; i < a->n;) {
		const char *spec = NULL;
		size_t span = 1;
		if ((strcmp(a->v[i], "-p") == 0 || strcmp(a->v[i], "--publish") == 0) && i + 1 < a->n) {
			spec = a->v[i + 1];
			span = 2;
		} else if (str_starts_with(a->v[i], "--publish=")) {
			spec = a->v[i] + 10;
		} else if (str_starts_with(a->v[i], "-p") && a->v[i][2]) {
			spec = a->v[i] + 2;
		}
		long top = -1;
		long port = spec ? publish_host_port(spec, &top) : -1;
		if (spec && port >= 0 && (port < lo || top > hi)) {
			dargs_remove(a, i, span, dropped);
			count++;
		} else {
			i += span;
		}
	}
	return count;
}

/* ---- GPUs ---- */

void
docker_gpu_args(enum container_engine e, const char *visible, int skip_flag, int host_has_gpu,
                struct dargs *out, char **nvidia_visible)
{
	*nvidia_visible = NULL;
	char *v = visible ? xstrdup(visible) : NULL;
	if (v)
		for (char *c = v; *c; c++)
			if (*c == '.')
				*c = ':';
	int all = !v || strcmp(v, "all") == 0 || v[0] == '\0';
	if (v && (strcmp(v, "none") == 0 || strcmp(v, "void") == 0)) {
		*nvidia_visible = xstrdup("none");
		free(v);
		return;
	}
	if (skip_flag) {
		*nvidia_visible = xstrdup(v ? v : "all");
		free(v);
		return;
	}
	if (all && !host_has_gpu) {
		*nvidia_visible = xstrdup("none");
		free(v);
		return;
	}
	*nvidia_visible = xstrdup("all");
	if (e == ENGINE_PODMAN) {
		if (all) {
			dargs_push(out, "--device");
			dargs_push(out, "nvidia.com/gpu=all");
		} else {
			char *save = NULL;
			for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				dargs_push(out, "--device");
				dargs_pushf(out, "nvidia.com/gpu=%s", t);
			}
		}
	} else {
		dargs_push(out, "--gpus");
		if (all)
			dargs_push(out, "all");
		else
			dargs_pushf(out, "\"device=%s\"", v);
	}
	free(v);
}

/* ---- host mounts, names ---- */

char *
docker_k8s_host_path(const char *spec, const char *path)
{
	if (!spec || !spec[0])
		return xstrdup(path);
	const char *colon = strchr(spec, ':');
	if (!colon)
		return xstrdup(path);
	char *node = xstrndup(spec, (size_t)(colon - spec));
	const char *pod = colon + 1;
	size_t pl = strlen(pod);
	while (pl > 1 && pod[pl - 1] == '/')
		pl--;
	char *r = NULL;
	if (strncmp(path, pod, pl) == 0 && (path[pl] == '\0' || path[pl] == '/'))
		r = xasprintf("%s%s", node, path + pl);
	free(node);
	return r;
}

char *
docker_container_name(const char *fmt, const char *task_id, const char *worker_id, const char *rnd)
{
	struct buf b;
	buf_init(&b, 4096);
	const char *p = fmt && fmt[0] ? fmt : "clearml-id-{task_id}";
	size_t ri = 0;
	while (*p) {
		if (str_starts_with(p, "{task_id}")) {
			buf_puts(&b, task_id ? task_id : "");
			p += 9;
		} else if (str_starts_with(p, "{worker_id}")) {
			buf_puts(&b, worker_id ? worker_id : "");
			p += 11;
		} else if (str_starts_with(p, "{rand_string")) {
			const char *e = strchr(p, '}');
			long long n = 8;
			const char *dot = strstr(p, ":.");
			if (dot && e && dot < e) {
				char *num = xstrndup(dot + 2, (size_t)(e - dot - 2));
				if (parse_long(num, 1, 64, &n) < 0)
					n = 8;
				free(num);
			}
			for (long long k = 0; k < n; k++) {
				char c = rnd && rnd[ri] ? rnd[ri++] : 'x';
				buf_append(&b, &c, 1);
			}
			p = e ? e + 1 : p + strlen(p);
		} else {
			buf_append(&b, p, 1);
			p++;
		}
	}
	buf_append(&b, "", 1);
	char *s = buf_steal(&b);
	buf_free(&b);
	for (char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
			*c = '-';
	if (!isalnum((unsigned char)s[0]))
		s[0] = 'c';
	if (strlen(s) > 128)
		s[128] = '\0';
	return s;
}

/* ---- display ---- */

static const char *const secret_env[] = {
	"CLEARML_API_SECRET_KEY", "TRAINS_API_SECRET_KEY", "CLEARML_AGENT_GIT_PASS", "TRAINS_AGENT_GIT_PASS",
	"AWS_SECRET_ACCESS_KEY", "AZURE_STORAGE_KEY", "CLEARML_AUTH_TOKEN", "CLEARML_API_ACCESS_KEY", NULL};

int
docker_is_secret_env(const char *key, char *const *extra_keys)
{
	for (size_t i = 0; secret_env[i]; i++)
		if (strcmp(key, secret_env[i]) == 0)
			return 1;
	for (size_t i = 0; extra_keys && extra_keys[i]; i++)
		if (strcmp(key, extra_keys[i]) == 0)
			return 1;
	return 0;
}

static void
mask_urls(struct buf *b, const char *w)
{
	const char *p = w;
	for (;;) {
		const char *sch = strstr(p, "://");
		if (!sch) {
			buf_puts(b, p);
			return;
		}
		const char *auth = sch + 3;
		size_t hostlen = strcspn(auth, "/?# ");
		const char *at = NULL;
		for (const char *q = auth; q < auth + hostlen; q++)
			if (*q == '@')
				at = q;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			buf_append(b, p, (size_t)(colon + 1 - p));
			buf_puts(b, "********");
			p = at;
		} else {
			buf_append(b, p, (size_t)(auth - p));
			p = auth;
		}
	}
}


char *
docker_display(char *const *argv, char *const *extra_keys, int parse_urls)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	int env_next = 0;
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *w = argv[i];
		if (i)
			buf_puts(&b, " ");
		const char *kv = NULL;
		if (env_next)
			kv = w;
		else if (str_starts_with(w, "--env="))
			kv = w + 6;
		else if (str_starts_with(w, "-e") && w[2] && w[2] != '-')
			kv = w + 2;
		env_next = strcmp(w, "-e") == 0 || strcmp(w, "--env") == 0;
		const char *eq = kv ? strchr(kv, '=') : NULL;
		struct buf word;
		buf_init(&word, 1u << 20);
		if (eq) {
			char *key = xstrndup(kv, (size_t)(eq - kv));
			if (docker_is_secret_env(key, extra_keys)) {
				buf_append(&word, w, (size_t)(eq + 1 - w));
				buf_puts(&word, "********");
			} else if (parse_urls) {
				mask_urls(&word, w);
			} else {
				buf_puts(&word, w);
			}
			free(key);
		} else if (parse_urls && w[0] != '-') {
			mask_urls(&word, w);
		} else {
			buf_puts(&word, w);
		}
		buf_append(&word, "", 1);
		/* "********" (a masked value) stays bare, as the Python agent prints it */
		buf_put_shell_word(&b, word.data, "*");
		buf_free(&word);
	}
	buf_append(&b, "", 1);
	char *s = buf_steal(&b);
	buf_free(&b);
	return s;
}

/* ---- the run command ---- */

void
docker_build_run(const struct docker_run_in *in, struct dargs *out)
{
	dargs_push(out, in->engine_bin ? in->engine_bin : "docker");
	dargs_push(out, "run");
	if (in->name) {
		dargs_push(out, "--name");
		dargs_push(out, in->name);
	}
	dargs_extend(out, in->gpu);
	dargs_extend(out, in->args);
	for (size_t i = 0; in->labels && i < in->labels->n; i++) {
		dargs_push(out, "-l");
		dargs_push(out, in->labels->v[i]);
	}
	for (size_t i = 0; in->env && i < in->env->n; i++) {
		dargs_push(out, "-e");
		dargs_push(out, in->env->v[i]);
	}
	for (size_t i = 0; in->env_names && i < in->env_names->n; i++) {
		dargs_push(out, "-e");
		dargs_push(out, in->env_names->v[i]);
	}
	for (size_t i = 0; in->mounts && i < in->mounts->n; i++) {
		dargs_push(out, "-v");
		dargs_push(out, in->mounts->v[i]);
	}
	dargs_push(out, in->image ? in->image : "");
	dargs_extend(out, in->command);
}

size_t
docker_take_env_args(struct dargs *a, struct dargs *env, struct dargs *env_files)
{
	struct dargs keep = {0};
	size_t removed = 0;
	for (size_t i = 0; i < a->n; i++) {
		const char *w = a->v[i];
		int is_env = 0, is_file = 0;
		const char *val = NULL;
		if (w[0] == '-' && w[1] == '-') {
			char name[64];
			const char *sw = docker_switch_name(w, name, sizeof name);
			is_env = sw && strcmp(sw, "env") == 0;
			is_file = sw && strcmp(sw, "env-file") == 0;
			const char *eq = strchr(w, '=');
			if (is_env || is_file)
				val = eq ? eq + 1 : (i + 1 < a->n ? a->v[++i] : NULL);
		} else if (w[0] == '-' && w[1] == 'e') {
			is_env = 1;
			val = w[2] ? (w[2] == '=' ? w + 3 : w + 2) : (i + 1 < a->n ? a->v[++i] : NULL);
		}
		if (!is_env && !is_file) {
			dargs_push(&keep, w);
			if (w[0] == '-' && docker_switch_takes_value(a, i) && i + 1 < a->n)
				dargs_push(&keep, a->v[++i]); /* another switch's value, even one like "-e" */
			continue;
		}
		removed++;
		if (val && *val)
			dargs_push(is_file ? env_files : env, val);
	}
	dargs_free(a);
	*a = keep;
	return removed;
}
