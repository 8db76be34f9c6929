/*
 * task_env — the task as data: execution info from task.script, containment of task-supplied
 * paths, shlex split/quote, the task command line and the task process environment (§5.10).
 * Pure functions (the environment ones read environ only through the envv they are given, except
 * expand_env_vars which reads the process environment like os.path.expandvars).
 */
#include "runner/task_env.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runner/gitcred.h"
#include "util.h"

/* ---- argvec ---- */

void
argvec_init(struct argvec *a)
{
	a->cap = 8;
	a->n = 0;
	a->v = xcalloc(a->cap, sizeof(char *));
}

void
argvec_push(struct argvec *a, const char *s)
{
	if (a->v == NULL)
		argvec_init(a);
	if (a->n + 2 > a->cap) {
		a->cap *= 2;
		a->v = xreallocarray(a->v, a->cap, sizeof(char *));
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

void
argvec_free(struct argvec *a)
{
	if (a->v == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

/* ---- execution info ---- */

static char *
script_field(const json_t *script, const char *key)
{
	const json_t *v = script ? json_object_get(script, key) : NULL;
	if (!json_is_string(v))
		return xstrdup("");
	char *s = xstrdup(json_string_value(v));
	char *t = str_trim(s);
	char *r = xstrdup(t);
	free(s);
	return r;
}

int
exec_info_from_task(const json_t *task, struct exec_info *ei, char *err, size_t errlen)
{
	memset(ei, 0, sizeof *ei);
	if (!json_is_object(task)) {
		snprintf(err, errlen, "task is not a JSON object");
		return -1;
	}
	const json_t *script = json_object_get(task, "script");
	if (script && !json_is_object(script) && !json_is_null(script)) {
		snprintf(err, errlen, "task script section is not an object");
		return -1;
	}
	if (!json_is_object(script))
		script = NULL;
	ei->repository = script_field(script, "repository");
	ei->branch = script_field(script, "branch");
	ei->version_num = script_field(script, "version_num");
	ei->tag = script_field(script, "tag");
	ei->entry_point = script_field(script, "entry_point");
	ei->working_dir = script_field(script, "working_dir");
	ei->binary = script_field(script, "binary");
	/* The diff is kept verbatim: whitespace matters to git apply. */
	const json_t *d = script ? json_object_get(script, "diff") : NULL;
	ei->diff = xstrdup(json_is_string(d) ? json_string_value(d) : "");
	const json_t *ex = json_object_get(task, "execution");
	const json_t *dc = json_is_object(ex) ? json_object_get(ex, "docker_cmd") : NULL;
	ei->docker_cmd = xstrdup(json_is_string(dc) ? json_string_value(dc) : "");

	if (ei->working_dir[0] == '\0') {
		char *colon = strchr(ei->entry_point, ':');
		if (colon && !entry_is_flag(ei->entry_point)) {
			free(ei->working_dir);
			ei->working_dir = xstrdup(colon + 1);
			*colon = '\0';
		}
	}
	return 0;
}

void
exec_info_free(struct exec_info *ei)
{
	free(ei->repository);
	free(ei->branch);
	free(ei->version_num);
	free(ei->tag);
	free(ei->entry_point);
	free(ei->working_dir);
	free(ei->binary);
	free(ei->diff);
	free(ei->docker_cmd);
	memset(ei, 0, sizeof *ei);
}

void
exec_info_force_script(struct exec_info *ei, const char *spec)
{
	if (spec == NULL || spec[0] == '\0')
		return;
	const char *colon = strchr(spec, ':');
	free(ei->entry_point);
	if (colon) {
		free(ei->working_dir);
		ei->working_dir = xstrndup(spec, (size_t)(colon - spec));
		ei->entry_point = xstrdup(colon + 1);
	} else {
		ei->entry_point = xstrdup(spec);
	}
}

void
exec_info_print(FILE *out, const char *task_id, const struct exec_info *ei)
{
	fprintf(out, "Executing task id [%s]:\n", task_id);
	char *masked = gitcred_mask_url(ei->repository);
	fprintf(out, "repository = %s\n", masked);
	free(masked);
	fprintf(out, "branch = %s\n", ei->branch);
	fprintf(out, "version_num = %s\n", ei->version_num);
	fprintf(out, "tag = %s\n", ei->tag);
	fprintf(out, "docker_cmd = %s\n", ei->docker_cmd);
	fprintf(out, "entry_point = %s\n", ei->entry_point);
	fprintf(out, "working_dir = %s\n\n", ei->working_dir);
}

/* ---- paths ---- */

char *
path_contained(const char *rel)
{
	if (rel == NULL || rel[0] == '/')
		return NULL;
	size_t len = strlen(rel);
	/* components kept on a stack of (offset,length) into a copy */
	char *copy = xstrdup(rel);
	char **parts = xcalloc(len + 1, sizeof(char *));
	size_t np = 0;
	char *save = copy;
	for (;;) {
		char *slash = strchr(save, '/');
		if (slash)
			*slash = '\0';
		if (save[0] == '\0' || strcmp(save, ".") == 0) {
			/* skip */
		} else if (strcmp(save, "..") == 0) {
			if (np == 0) {
				free(parts);
				free(copy);
				return NULL;
			}
			np--;
		} else {
			parts[np++] = save;
		}
		if (!slash)
			break;
		save = slash + 1;
	}
	struct buf b;
	buf_init(&b, len + 2);
	for (size_t i = 0; i < np; i++) {
		if (i)
			buf_puts(&b, "/");
		buf_puts(&b, parts[i]);
	}
	if (np == 0)
		buf_puts(&b, ".");
	free(parts);
	free(copy);
	return buf_steal(&b);
}

char *
path_basename(const char *p)
{
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	size_t s = n;
	while (s > 0 && p[s - 1] != '/')
		s--;
	return xstrndup(p + s, n - s);
}

char *
path_dirname(const char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	while (n > 0 && p[n - 1] != '/')
		n--;
	while (n > 1 && p[n - 1] == '/')
		n--;
	if (n == 0)
		return xstrdup(".");
	return xstrndup(p, n);
}

/* ---- shlex ---- */

int
shlex_split(const char *s, struct argvec *out, char *err, size_t errlen)
{
	struct buf w;
	buf_init(&w, strlen(s) + 1);
	int in_word = 0;
	const char *p = s;
	while (*p) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word) {
				argvec_push(out, w.data ? w.data : "");
				buf_reset(&w);
				in_word = 0;
			}
			p++;
			continue;
		}
		in_word = 1;
		if (c == '\\') {
			if (p[1] == '\0') {
				snprintf(err, errlen, "No escaped character");
				buf_free(&w);
				return -1;
			}
			buf_append(&w, p + 1, 1);
			p += 2;
		} else if (c == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				snprintf(err, errlen, "No closing quotation");
				buf_free(&w);
				return -1;
			}
			buf_append(&w, p + 1, (size_t)(end - p - 1));
			p = end + 1;
		} else if (c == '"') {
			p++;
			for (;;) {
				if (*p == '\0') {
					snprintf(err, errlen, "No closing quotation");
					buf_free(&w);
					return -1;
				}
				if (*p == '"')
					break;
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$' || p[1] == '`')) {
					buf_append(&w, p + 1, 1);
					p += 2;
					continue;
				}
				buf_append(&w, p, 1);
				p++;
			}
			p++;
		} else {
			buf_append(&w, p, 1);
			p++;
		}
	}
	if (in_word)
		argvec_push(out, w.data ? w.data : "");
	buf_free(&w);
	if (out->v == NULL)
		argvec_init(out);
	return 0;
}

char *
shlex_quote(const char *s)
{
	if (s[0] == '\0')
		return xstrdup("''");
	int safe = 1;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isalnum(c) || strchr("@%+=:,./-_", c))) {
			safe = 0;
			break;
		}
	}
	if (safe)
		return xstrdup(s);
	struct buf b;
	buf_init(&b, strlen(s) * 5 + 3);
	buf_puts(&b, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			buf_puts(&b, "'\"'\"'");
		else
			buf_append(&b, p, 1);
	}
	buf_puts(&b, "'");
	return buf_steal(&b);
}

char *
argv_display(char *const *argv)
{
	struct buf b;
	buf_init(&b, (size_t)1 << 20);
	for (size_t i = 0; argv[i]; i++) {
		char *q = shlex_quote(argv[i]);
		if (i)
			buf_puts(&b, " ");
		buf_puts(&b, q);
		free(q);
	}
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
}

char *
expand_env_vars(const char *s)
{
	struct buf b;
	buf_init(&b, (size_t)1 << 20);
	buf_put_expandvars(&b, s);
	return buf_steal(&b);
}

/* ---- Task.init patching ---- */

struct line_span {
	const char *p;
	size_t n; /* including the '\n' when there is one */
};

static size_t
split_lines(const char *text, struct line_span **out)
{
	size_t cap = 64, n = 0;
	struct line_span *v = xcalloc(cap, sizeof *v);
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (n == cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[n++] = (struct line_span){p, len};
		p += len;
	}
	*out = v;
	return n;
}

static int
line_starts(const struct line_span *l, const char *prefix)
{
	size_t pl = strlen(prefix);
	return l->n >= pl && strncmp(l->p, prefix, pl) == 0;
}

static int
line_contains(const struct line_span *l, const char *needle)
{
	size_t nl = strlen(needle);
	for (size_t i = 0; i + nl <= l->n; i++)
		if (strncmp(l->p + i, needle, nl) == 0)
			return 1;
	return 0;
}

/* Index of the line after the last top-level `from __future__` import (0 when none), following a
 * parenthesised import to its closing line. */
static size_t
after_future(const struct line_span *v, size_t n, size_t skip_from, size_t skip_count)
{
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		if (i >= skip_from && i < skip_from + skip_count)
			continue;
		if (line_starts(&v[i], "from __future__ import")) {
			size_t j = i;
			if (line_contains(&v[i], "(") && !line_contains(&v[i], ")"))
				while (j + 1 < n && !line_contains(&v[j], ")"))
					j++;
			pos = j + 1;
		}
	}
	return pos;
}

char *
script_patch_task_init(const char *text, int force)
{
	static const char init_lines[] = "from clearml import Task\n(__name__ != \"__main__\") or Task.init()\n";
	struct line_span *v;
	size_t n = split_lines(text, &v);
	char *out = NULL;
	struct buf b;
	if (n >= 2 && line_starts(&v[0], "from clearml") && line_contains(&v[1], "Task.init")) {
		size_t pos = after_future(v, n, 0, 2);
		if (pos > 2) {
			buf_init(&b, strlen(text) + 2);
			for (size_t i = 2; i < pos; i++)
				buf_append(&b, v[i].p, v[i].n);
			if (b.len && b.data[b.len - 1] != '\n')
				buf_puts(&b, "\n");
			for (size_t i = 0; i < 2; i++)
				buf_append(&b, v[i].p, v[i].n);
			for (size_t i = pos; i < n; i++)
				buf_append(&b, v[i].p, v[i].n);
			out = buf_steal(&b);
		}
	} else if (force && !(strstr(text, "from clearml import Task") && strstr(text, "Task.init("))) {
		size_t pos = after_future(v, n, 0, 0);
		if (pos == 0) /* keep a shebang / coding line first */
			while (pos < n && pos < 2 && line_starts(&v[pos], "#"))
				pos++;
		buf_init(&b, strlen(text) + sizeof init_lines + 2);
		for (size_t i = 0; i < pos; i++)
			buf_append(&b, v[i].p, v[i].n);
		if (b.len && b.data[b.len - 1] != '\n')
			buf_puts(&b, "\n");
		buf_puts(&b, init_lines);
		for (size_t i = pos; i < n; i++)
			buf_append(&b, v[i].p, v[i].n);
		out = buf_steal(&b);
	}
	free(v);
	return out;
}

/* ---- command line ---- */

enum task_binary
task_binary_kind(const char *binary, int *unknown)
{
	*unknown = 0;
	if (binary == NULL || binary[0] == '\0')
		return TASK_BIN_PYTHON;
	char *base = path_basename(binary);
	enum task_binary k = TASK_BIN_PYTHON;
	if (str_starts_with(base, "python"))
		k = TASK_BIN_PYTHON;
	else if (strcmp(base, "bash") == 0 || strcmp(base, "sh") == 0 || strcmp(base, "zsh") == 0)
		k = TASK_BIN_SHELL;
	else
		*unknown = 1;
	free(base);
	return k;
}

int
entry_is_flag(const char *e)
{
	return (e[0] == '-' && (e[1] == 'm' || e[1] == 'c') && (e[2] == ' ' || e[2] == '\t' || e[2] == '\0'));
}

int
task_build_argv(const struct argv_spec *s, struct argvec *out, char *err, size_t errlen)
{
	argvec_init(out);
	if (s->kind == TASK_BIN_SHELL) {
		argvec_push(out, s->shell);
		if (s->entry_point[0] == '-' && s->entry_point[1] == 'c' &&
		    (s->entry_point[2] == ' ' || s->entry_point[2] == '\t')) {
			argvec_push(out, "-c");
			char *rest = xstrdup(s->entry_point + 3);
			argvec_push(out, str_trim(rest));
			free(rest);
		} else {
			argvec_push(out, s->entry_point);
		}
		return 0;
	}
	for (size_t i = 0; i < s->n_run_prefix; i++)
		argvec_push(out, s->run_prefix[i]);
	argvec_push(out, s->python);
	argvec_push(out, "-u");
	if (s->optimization > 0) {
		char o[16] = "-";
		int n = s->optimization > 8 ? 8 : s->optimization;
		for (int i = 0; i < n; i++)
			o[1 + i] = 'O';
		o[1 + n] = '\0';
		argvec_push(out, o);
	}
	if (entry_is_flag(s->entry_point)) {
		char *expanded = expand_env_vars(s->entry_point);
		int r = shlex_split(expanded, out, err, errlen);
		free(expanded);
		if (r < 0) {
			argvec_free(out);
			return -1;
		}
	} else {
		argvec_push(out, s->entry_point);
	}
	return 0;
}

/* ---- environment ---- */

int
env_name_ok(const char *name)
{
	if (name == NULL || name[0] == '\0' || isdigit((unsigned char)name[0]))
		return 0;
	return strchr(name, '=') == NULL;
}

static void
set_twin(struct envv *e, const char *suffix, const char *value)
{
	char *k1 = xasprintf("CLEARML_%s", suffix);
	char *k2 = xasprintf("TRAINS_%s", suffix);
	envv_set(e, k1, value);
	envv_set(e, k2, value);
	free(k1);
	free(k2);
}

static void
path_join_into(struct buf *b, const char *part)
{
	if (part == NULL || part[0] == '\0')
		return;
	if (b->len > 0)
		buf_puts(b, ":");
	buf_puts(b, part);
}

void
task_env_apply(struct envv *e, const struct task_env_params *p)
{
	set_twin(e, "TASK_ID", p->task_id);
	if (p->log_level)
		set_twin(e, "LOG_LEVEL", p->log_level);
	set_twin(e, "LOG_TASK_TO_BACKEND", "0");
	if (p->config_file)
		set_twin(e, "CONFIG_FILE", p->config_file);
	/* Twins of what the supervisor already put in our environment. */
	static const char *const twins[] = {"WORKER_ID", "WORKER_TAGS", "AUTH_TOKEN", "DOCKER_IMAGE"};
	for (size_t i = 0; i < ARRAY_LEN(twins); i++) {
		char *k = xasprintf("CLEARML_%s", twins[i]);
		const char *v = envv_get(e, k);
		if (v) {
			char *copy = xstrdup(v);
			set_twin(e, twins[i], copy);
			free(copy);
		}
		free(k);
	}
	envv_set(e, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");

	struct buf pp;
	buf_init(&pp, (size_t)1 << 20);
	const char *existing = envv_get(e, "PYTHONPATH");
	path_join_into(&pp, existing);
	path_join_into(&pp, p->pythonpath_extra_first);
	if (p->entry_dir && (p->pythonpath_extra_first == NULL ||
	                     strcmp(p->entry_dir, p->pythonpath_extra_first) != 0))
		path_join_into(&pp, p->entry_dir);
	path_join_into(&pp, p->sys_path);
	path_join_into(&pp, p->extra_python_path);
	if (pp.len > 0)
		envv_set(e, "PYTHONPATH", pp.data);
	buf_free(&pp);

	if (p->set_ioencoding && envv_get(e, "PYTHONIOENCODING") == NULL)
		envv_set(e, "PYTHONIOENCODING", "utf-8");

	if (json_is_object(p->task_environment)) {
		const char *k;
		const json_t *v;
		json_object_foreach((json_t *)(uintptr_t)p->task_environment, k, v) {
			if (!env_name_ok(k))
				continue;
			if (json_is_string(v))
				envv_set(e, k, json_string_value(v));
			else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
				char *t = json_dumps(v, JSON_ENCODE_ANY);
				envv_set(e, k, t);
				free(t);
			}
		}
	}
}
