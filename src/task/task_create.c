/*
 * task_create — builds what clearml-task sends: the script section (repository, branch, commit,
 * entry point, working dir, binary, diff, requirements), the container section, hyper-parameters
 * from --args, tags and output destination. A local --script outside --repo/--folder becomes a
 * literal script: its whole text travels in script.diff, as the SDK does for standalone scripts.
 */
#include "task/task_create.h"

#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "util.h"

#define MAX_SCRIPT_BYTES (8u << 20)

static void
free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
task_opts_free(struct task_opts *o)
{
	char **s[] = {&o->project, &o->name, &o->repo, &o->branch, &o->commit, &o->folder, &o->script,
	              &o->module, &o->cwd, &o->queue, &o->requirements, &o->docker, &o->docker_args,
	              &o->docker_bash_setup_script, &o->task_type, &o->base_task_id, &o->binary,
	              &o->output_uri, &o->config_file};
	for (size_t i = 0; i < ARRAY_LEN(s); i++)
		free(*s[i]);
	free_list(o->args, o->n_args);
	free_list(o->packages, o->n_packages);
	free_list(o->tags, o->n_tags);
	memset(o, 0, sizeof *o);
}

void
local_code_free(struct local_code *c)
{
	free(c->repository);
	free(c->branch);
	free(c->commit);
	free(c->diff);
	free(c->entry_point);
	free(c->working_dir);
	memset(c, 0, sizeof *c);
}

static const char *task_types[] = {"training", "testing", "inference", "data_processing", "application",
                                   "monitor", "controller", "optimizer", "service", "qc", "custom"};

int
task_opts_check(const struct task_opts *o, char *err, size_t errlen)
{
	if (o->name == NULL || *o->name == '\0') {
		snprintf(err, errlen, "Task name must be provided, use `--name <task-name>`");
		return -1;
	}
	if (o->project == NULL && o->base_task_id == NULL) {
		snprintf(err, errlen, "Project name must be provided, use `--project <project-name>`");
		return -1;
	}
	if (o->script && o->module) {
		snprintf(err, errlen, "--script and --module are mutually exclusive");
		return -1;
	}
	if (o->repo && o->folder) {
		snprintf(err, errlen, "--repo and --folder are mutually exclusive");
		return -1;
	}
	if (!o->base_task_id && !o->script && !o->module && !o->repo && !o->folder) {
		snprintf(err, errlen, "Entry point script not provided, use `--script <file>` or `--module <module>`");
		return -1;
	}
	if (!o->repo && !o->folder && o->module && !o->base_task_id) {
		snprintf(err, errlen, "--module requires --repo or --folder");
		return -1;
	}
	if (o->task_type) {
		int ok = 0;
		for (size_t i = 0; i < ARRAY_LEN(task_types); i++)
			ok |= strcmp(o->task_type, task_types[i]) == 0;
		if (!ok) {
			snprintf(err, errlen, "Invalid task type '%s', optional values: training, testing, inference, "
			         "data_processing, application, monitor, controller, optimizer, service, qc, custom",
			         o->task_type);
			return -1;
		}
	}
	for (size_t i = 0; i < o->n_args; i++)
		if (strchr(o->args[i], '=') == NULL || o->args[i][0] == '=') {
			snprintf(err, errlen, "Invalid argument '%s', expected <argument>=<value>", o->args[i]);
			return -1;
		}
	return 0;
}

/* Index just past the line that starts at pos (or the end). */
static size_t
after_line(const char *text, size_t pos)
{
	const char *nl = strchr(text + pos, '\n');
	return nl ? (size_t)(nl - text) + 1 : strlen(text);
}

/* PEP 263: a comment on line 1 or 2 that declares the encoding. */
static int
is_coding_line(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\f'))
		i++;
	if (i >= len || line[i] != '#')
		return 0;
	for (; i + 7 < len; i++)
		if (strncmp(line + i, "coding", 6) == 0 && (line[i + 6] == ':' || line[i + 6] == '='))
			return 1;
	return 0;
}

static int
blank_or_comment(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\f'))
		i++;
	return i >= len || line[i] == '\n' || line[i] == '#';
}

/* If a triple-quoted string starts at pos (after optional string prefixes), the index just past
 * the line of its closing quotes; else 0. */
static size_t
skip_docstring(const char *text, size_t pos)
{
	size_t i = pos;
	while (text[i] == 'r' || text[i] == 'R' || text[i] == 'u' || text[i] == 'U')
		i++;
	const char *q = NULL;
	if (strncmp(text + i, "\"\"\"", 3) == 0)
		q = "\"\"\"";
	else if (strncmp(text + i, "'''", 3) == 0)
		q = "'''";
	if (q == NULL)
		return 0;
	for (const char *p = text + i + 3; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (strncmp(p, q, 3) == 0)
			return after_line(text, (size_t)(p - text) + 3);
	}
	return 0; /* unterminated: leave the file as it is */
}

/* A `from __future__ import ...` statement at pos: the index just past it (a parenthesised or
 * backslash-continued import spans lines), else 0. */
static size_t
skip_future_import(const char *text, size_t pos)
{
	if (!str_starts_with(text + pos, "from __future__"))
		return 0;
	size_t end = after_line(text, pos);
	const char *paren = memchr(text + pos, '(', end - pos);
	if (paren) {
		const char *close = strchr(paren, ')');
		if (close == NULL)
			return 0;
		end = after_line(text, (size_t)(close - text));
	}
	while (end >= 2 && text[end - 1] == '\n' && text[end - 2] == '\\' && text[end])
		end = after_line(text, end);
	return end;
}

char *
task_add_init_call(const char *script)
{
	if (strstr(script, "Task.init(") != NULL)
		return xstrdup(script);
	size_t len = strlen(script), pos = 0;
	/* a shebang and an encoding declaration (lines 1-2) stay first */
	for (int line = 0; line < 2 && pos < len; line++) {
		size_t next = after_line(script, pos);
		if ((line == 0 && str_starts_with(script, "#!")) || is_coding_line(script + pos, next - pos))
			pos = next;
		else
			break;
	}
	/* the module docstring and `from __future__` imports must stay before any other statement */
	size_t insert = pos, scan = pos;
	int seen_docstring = 0;
	while (scan < len) {
		size_t next = after_line(script, scan);
		size_t skip;
		if (blank_or_comment(script + scan, next - scan)) {
			scan = next;
		} else if (!seen_docstring && (skip = skip_docstring(script, scan)) != 0) {
			seen_docstring = 1;
			scan = insert = skip;
		} else if ((skip = skip_future_import(script, scan)) != 0) {
			scan = insert = skip;
		} else {
			break;
		}
	}
	static const char init[] = "try:\n"
	                           "    from clearml import Task\n"
	                           "    (__name__ != \"__main__\") or Task.init()\n"
	                           "except ImportError:  # clearml-task: the SDK is optional under our agent\n"
	                           "    pass\n";
	const char *sep = insert > 0 && script[insert - 1] != '\n' ? "\n" : "";
	return xasprintf("%.*s%s%s%s", (int)insert, script, sep, init, script + insert);
}

static char *
git_out(const char *dir, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {"git", "-C", (char *)(uintptr_t)dir, (char *)(uintptr_t)a1, (char *)(uintptr_t)a2,
	                (char *)(uintptr_t)a3, NULL};
	struct proc_opts po = {.out_fd = -1, .capture_max = MAX_SCRIPT_BYTES, .timeout_ms = 30000,
	                       .keep_stderr_apart = 1};
	struct proc_result r;
	if (proc_run(argv, &po, &r) < 0)
		return NULL;
	if (!proc_ok(&r) || r.truncated) {
		proc_result_free(&r);
		return NULL;
	}
	char *s = r.output;
	r.output = NULL;
	proc_result_free(&r);
	return s;
}

static char *
strip_nl(char *s)
{
	if (s) {
		size_t n = strlen(s);
		while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			s[--n] = '\0';
	}
	return s;
}

/* https://user:pass@host/x → https://host/x: never store a credential in the task. */
static char *
url_without_credentials(const char *url)
{
	const char *scheme = strstr(url, "://");
	if (scheme == NULL)
		return xstrdup(url);
	const char *host = scheme + 3;
	const char *at = strchr(host, '@');
	const char *slash = strchr(host, '/');
	if (at == NULL || (slash && at > slash))
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int
task_collect_local(const struct task_opts *o, struct local_code *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof c[0]);
	if (o->repo) {
		c->repository = url_without_credentials(o->repo);
		c->branch = o->branch ? xstrdup(o->branch) : NULL;
		c->commit = o->commit ? xstrdup(o->commit) : NULL;
		c->working_dir = xstrdup(o->cwd ? o->cwd : ".");
		if (o->module)
			c->entry_point = xasprintf("-m %s", o->module);
		else if (o->script)
			c->entry_point = xstrdup(o->script);
		return 0;
	}
	if (o->folder) {
		char *root = strip_nl(git_out(o->folder, "rev-parse", "--show-toplevel", NULL));
		if (root == NULL) {
			snprintf(err, errlen, "--folder %s is not inside a git repository", o->folder);
			return -1;
		}
		char *remote = strip_nl(git_out(root, "remote", "get-url", "origin"));
		c->repository = remote ? url_without_credentials(remote) : NULL;
		free(remote);
		c->branch = o->branch ? xstrdup(o->branch) : strip_nl(git_out(root, "rev-parse", "--abbrev-ref", "HEAD"));
		c->commit = o->commit ? xstrdup(o->commit) : strip_nl(git_out(root, "rev-parse", "HEAD", NULL));
		c->diff = git_out(root, "diff", "HEAD", NULL);
		if (c->diff && *c->diff == '\0') {
			free(c->diff);
			c->diff = NULL;
		}
		c->working_dir = xstrdup(o->cwd ? o->cwd : ".");
		if (o->module) {
			c->entry_point = xasprintf("-m %s", o->module);
		} else if (o->script) {
			/* a path inside the local repository → relative to its root */
			char *abs = realpath(o->script, NULL);
			size_t rl = strlen(root);
			if (abs && strncmp(abs, root, rl) == 0 && abs[rl] == '/')
				c->entry_point = xstrdup(abs + rl + 1);
			else
				c->entry_point = xstrdup(o->script);
			free(abs);
		}
		free(root);
		if (c->repository == NULL) {
			snprintf(err, errlen, "the repository in %s has no remote 'origin'", o->folder);
			return -1;
		}
		return 0;
	}
	if (o->script) {
		size_t n = 0;
		char *text = read_file(o->script, MAX_SCRIPT_BYTES, &n);
		if (text == NULL) {
			snprintf(err, errlen, "Could not read script file: %s", o->script);
			return -1;
		}
		if (memchr(text, '\0', n) != NULL) {
			free(text);
			snprintf(err, errlen, "Script file %s is not a text file", o->script);
			return -1;
		}
		int python = str_ends_with(o->script, ".py");
		if (!o->skip_task_init && python) {
			c->diff = task_add_init_call(text);
			free(text);
		} else {
			c->diff = text;
		}
		c->entry_point = xstrdup(base_name(o->script));
		c->working_dir = xstrdup(".");
		return 0;
	}
	return 0;
}

int
task_check_files(const struct task_opts *o, char *err, size_t errlen)
{
	if (o->requirements == NULL)
		return 0;
	size_t n = 0;
	char *text = read_file(o->requirements, MAX_SCRIPT_BYTES, &n);
	if (text == NULL) {
		snprintf(err, errlen, "Could not read requirements file: %s", o->requirements);
		return -1;
	}
	free(text);
	return 0;
}

static char *
requirements_text(const struct task_opts *o, int *have)
{
	struct buf b;
	buf_init(&b, MAX_SCRIPT_BYTES);
	*have = 0;
	if (o->requirements) {
		size_t n = 0;
		char *text = read_file(o->requirements, MAX_SCRIPT_BYTES, &n);
		if (text) {
			buf_puts(&b, text);
			if (b.len && b.data[b.len - 1] != '\n')
				buf_puts(&b, "\n");
			free(text);
			*have = 1;
		}
	}
	for (size_t i = 0; i < o->n_packages; i++) {
		buf_puts(&b, o->packages[i]);
		buf_puts(&b, "\n");
		*have = 1;
	}
	return buf_steal(&b);
}

static void
set_str(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

json_t *
task_build_create(const struct task_opts *o, const struct local_code *c, const char *project_id)
{
	json_t *body = json_object();
	set_str(body, "name", o->name);
	set_str(body, "type", o->task_type ? o->task_type : "training");
	set_str(body, "project", project_id);
	set_str(body, "output_dest", o->output_uri);
	if (o->n_tags) {
		json_t *tags = json_array();
		for (size_t i = 0; i < o->n_tags; i++)
			json_array_append_new(tags, json_string(o->tags[i]));
		json_object_set_new(body, "tags", tags);
	}
	json_t *script = json_object();
	set_str(script, "repository", c->repository);
	set_str(script, "branch", c->branch);
	set_str(script, "version_num", c->commit);
	set_str(script, "entry_point", c->entry_point);
	set_str(script, "working_dir", c->working_dir);
	set_str(script, "diff", c->diff);
	set_str(script, "binary", o->binary ? o->binary : "python3");
	int have = 0;
	char *req = requirements_text(o, &have);
	if (have) {
		json_t *r = json_object();
		json_object_set_new(r, "pip", json_string(req));
		json_object_set_new(script, "requirements", r);
	}
	free(req);
	json_object_set_new(body, "script", script);
	if (o->docker || o->docker_args || o->docker_bash_setup_script) {
		json_t *ct = json_object();
		set_str(ct, "image", o->docker ? o->docker : "");
		set_str(ct, "arguments", o->docker_args ? o->docker_args : "");
		char *setup = NULL;
		if (o->docker_bash_setup_script) {
			size_t n = 0;
			char *text = read_file(o->docker_bash_setup_script, MAX_SCRIPT_BYTES, &n);
			if (text) {
				/* a file: its contents without the shebang */
				const char *start = text;
				if (str_starts_with(start, "#!")) {
					const char *nl = strchr(start, '\n');
					start = nl ? nl + 1 : start + strlen(start);
				}
				setup = xstrdup(start);
				free(text);
			} else {
				setup = xstrdup(o->docker_bash_setup_script);
			}
		}
		set_str(ct, "setup_shell_script", setup ? setup : "");
		free(setup);
		json_object_set_new(body, "container", ct);
	}
	json_t *hp = task_build_hyperparams(o, NULL, 0, NULL);
	if (hp)
		json_object_set_new(body, "hyperparams", hp);
	return body;
}

json_t *
task_build_hyperparams(const struct task_opts *o, char *err, size_t errlen, int *bad)
{
	(void)err;
	(void)errlen;
	if (bad)
		*bad = 0;
	if (o->n_args == 0)
		return NULL;
	json_t *section = json_object();
	for (size_t i = 0; i < o->n_args; i++) {
		const char *eq = strchr(o->args[i], '=');
		if (eq == NULL) {
			if (bad)
				*bad = 1;
			continue;
		}
		char *name = xstrndup(o->args[i], (size_t)(eq - o->args[i]));
		json_t *p = json_object();
		json_object_set_new(p, "section", json_string("Args"));
		json_object_set_new(p, "name", json_string(name));
		json_object_set_new(p, "value", json_string(eq + 1));
		json_object_set_new(p, "type", json_string("str"));
		json_object_set_new(section, name, p);
		free(name);
	}
	json_t *hp = json_object();
	json_object_set_new(hp, "Args", section);
	return hp;
}
