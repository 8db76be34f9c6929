/*
 * build — `clearml-agent build --id <task> --target DIR` (spec §1.5, §9): the task's code (commit +
 * diff) and Python environment reproduced into DIR exactly as `execute` would, without running it
 * and without touching the task on the server (only auth.login, tasks.get_all for a name and
 * tasks.get_by_id are called: no dequeue, no status, no requirements report).
 *
 * The environment is built by the runner itself (runner_run with build_only: the code path of
 * execute, stopped before the exec). Layout, as upstream: DIR is the virtual environment
 * (DIR/bin/python) and the code lives in DIR/task_repository/<repo> (or DIR/code for a literal
 * script). DIR must be new, empty, or an earlier build (marked by DIR/.clearml-build.json, written
 * last, only when everything succeeded); a failed build removes what it made, so nothing half-built
 * is left looking finished. `build --docker` lives in build_docker.c.
 */
#include <errno.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/commands.h"
#include "runner/runner.h"
#include "runner/vcs.h"
#include "supervisor/agent_ctx.h"
#include "supervisor/build.h"
#include "supervisor/execute.h"
#include "util.h"

#define BUILD_MARKER ".clearml-build.json"

static volatile sig_atomic_t b_cancel;

/* 0 empty or missing, 1 an earlier build, -1 anything else (err says why). */
static int
target_state(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot use --target %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--target %s exists and is not a directory", dir);
		return -1;
	}
	char *marker = xasprintf("%s/" BUILD_MARKER, dir);
	int earlier = access(marker, F_OK) == 0;
	free(marker);
	if (earlier)
		return 1;
	DIR *d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "cannot read --target %s: %s", dir, strerror(errno));
		return -1;
	}
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty) {
		snprintf(err, errlen, "--target %s is not empty and holds no earlier build (%s): choose a new "
		         "or empty folder", dir, BUILD_MARKER);
		return -1;
	}
	return 0;
}

/* Remove everything inside dir (dir itself stays). */
static void
clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		rm_rf(p);
		free(p);
	}
	closedir(d);
}

char *
build_absolute_path(const char *p)
{
	char *e = path_expand(p);
	if (e[0] == '/')
		return e;
	char cwd[4096];
	char *out = getcwd(cwd, sizeof cwd) ? xasprintf("%s/%s", cwd, e) : xstrdup(e);
	free(e);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return out;
}

int
build_login_and_get_task(struct agent_ctx *ctx, struct config *cfg, const struct cli_opts *o,
                         char **task_id, json_t **task)
{
	char err[1024];
	*task_id = NULL;
	*task = NULL;
	if (agent_ctx_init(ctx, cfg, o, &b_cancel, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		return -1;
	}
	if (agent_ctx_login(ctx, 0) < 0)
		return -1;
	*task_id = resolve_task_id(ctx, o->id);
	if (*task_id == NULL)
		return -1;
	*task = get_task(ctx, *task_id);
	return *task ? 0 : -1;
}

json_t *
build_task_copy(const json_t *task, const struct cli_opts *o)
{
	json_t *tj = json_deep_copy(task);
	if (o->python_version && *o->python_version) {
		/* --python-version X.Y: as if the task had asked for python X.Y */
		json_t *script = json_object_get(tj, "script");
		if (!json_is_object(script)) {
			script = json_object();
			json_object_set_new(tj, "script", script);
		}
		const char *v = o->python_version;
		char *bin = str_starts_with(v, "python") ? xstrdup(v) : xasprintf("python%s", v);
		json_object_set_new(script, "binary", json_string(bin));
		free(bin);
	}
	return tj;
}

static void
print_summary(const json_t *r, const char *target, int globally)
{
	const char *python = json_string_value(json_object_get(r, "python"));
	const char *repo = json_string_value(json_object_get(r, "repo_root"));
	const char *sdir = json_string_value(json_object_get(r, "script_dir"));
	const char *entry = json_string_value(json_object_get(r, "entry"));
	if (globally)
		printf("Python: %s (packages installed into it: --install-globally)\n", python ? python : "");
	else
		printf("Virtual environment: %s/bin\n", target);
	printf("Source code: %s\n", repo ? repo : (sdir ? sdir : ""));
	printf("Entry point: %s\n", entry ? entry : "");
	const json_t *cmd = json_object_get(r, "command");
	if (json_array_size(cmd) > 0) {
		size_t n = json_array_size(cmd);
		char **argv = xcalloc(n + 1, sizeof *argv);
		for (size_t i = 0; i < n; i++)
			argv[i] = (char *)(uintptr_t)json_string_value(json_array_get(cmd, i));
		char *shown = argv_display(argv);
		printf("\nTo run the task's code in this environment:\n    cd %s && %s\n", sdir ? sdir : ".", shown);
		free(shown);
		free(argv);
	}
	fflush(stdout);
}

static int
build_folder(const struct cli_opts *o, struct config *cfg)
{
	char err[1024];
	if (o->target == NULL || *o->target == '\0') {
		fprintf(stderr, "clearml-agent build: error: --target DIR is required: the folder to build the "
		                "task's environment and code into\n");
		return 2;
	}
	char *target = build_absolute_path(o->target);
	int state = target_state(target, err, sizeof err);
	if (state < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		free(target);
		return 1;
	}
	agent_apply_environment_section(cfg->root);
	struct agent_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	char *task_id = NULL, *tmp = NULL;
	json_t *task = NULL, *tj = NULL, *result = NULL;
	int rc = 1, created = 0;
	if (build_login_and_get_task(&ctx, cfg, o, &task_id, &task) < 0)
		goto out;
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/.clearml_build.XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "\nclearml_agent: ERROR: cannot create a temporary folder: %s\n", strerror(errno));
		goto out;
	}
	tmp = xstrdup(tmpl);
	if (state == 1) {
		printf("Replacing the earlier build in %s\n", target);
		clear_dir(target);
	}
	if (mkdir_p(target, 0755) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: cannot create %s: %s\n", target, strerror(errno));
		goto out;
	}
	created = 1;
	tj = build_task_copy(task, o);
	char *result_file = xasprintf("%s/result.json", tmp);
	struct runner_args ra = {.task_file = "-", .result_file = result_file, .build_dir = target,
	                         .config_file = env_get("CLEARML_CONFIG_FILE"),
	                         .log_level = o->log_level ? o->log_level : "INFO",
	                         .optimization = o->optimization, .build_only = 1,
	                         .venv_dir = o->install_globally ? NULL : target,
	                         .install_globally = o->install_globally};
	printf("Restoring running environment of task id [%s]:\n", task_id);
	fflush(stdout);
	int rr = runner_run(&ra, cfg->root, tj, NULL, NULL);
	json_error_t je;
	result = json_load_file(result_file, 0, &je);
	free(result_file);
	const char *status = json_string_value(json_object_get(result, "status"));
	if (rr != 0 || status == NULL || strcmp(status, "ready") != 0) {
		const char *why = json_string_value(json_object_get(result, "status_reason"));
		fprintf(stderr, "\nclearml_agent: ERROR: building the environment of task %s failed: %s\n"
		                "Nothing was left in %s\n", task_id, why ? why : "the runner failed", target);
		goto out;
	}
	json_t *marker = json_pack("{s:s,s:s,s:O}", "task_id", task_id, "target", target, "result", result);
	char *text = json_dumps(marker, JSON_INDENT(2));
	char *mpath = xasprintf("%s/" BUILD_MARKER, target);
	int wr = text ? write_file_atomic(mpath, text, strlen(text), 0644) : -1;
	free(mpath);
	free(text);
	json_decref(marker);
	if (wr < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: cannot write %s/%s: %s\n", target, BUILD_MARKER,
		        strerror(errno));
		goto out;
	}
	printf("\n");
	print_summary(result, target, o->install_globally);
	rc = 0;
out:
	if (rc != 0 && created) {
		/* nothing half-built may look finished: the folder goes (it was new, empty or ours) */
		rm_rf(target);
	}
	if (tmp) {
		rm_rf(tmp);
		free(tmp);
	}
	json_decref(result);
	json_decref(tj);
	json_decref(task);
	free(task_id);
	free(target);
	agent_ctx_free(&ctx);
	return rc;
}

int
cmd_build(const struct cli_opts *o, struct config *cfg)
{
	if (o->id == NULL || *o->id == '\0') {
		fprintf(stderr, "clearml-agent build: error: the following arguments are required: --id\n");
		return 2;
	}
	if (o->docker || o->podman)
		return build_docker(o, cfg);
	if (o->entry_point || o->force_docker) {
		fprintf(stderr, "clearml-agent build: error: --entry-point and --force-docker need --docker\n");
		return 2;
	}
	return build_folder(o, cfg);
}
