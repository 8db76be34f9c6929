/*
 * pyenv — the task's Python: interpreter choice (§5.4), virtual environment, requirements with
 * pip / uv / poetry / conda (§5.5), the environment cache (§5.4, §5.6) and the freeze (§5.7).
 * Called by the runner after the code is in place. Owner: pyenv.c (+ requirements.c,
 * venv_cache.c as it grows).
 */
#ifndef CLEARML_PYENV_H
#define CLEARML_PYENV_H

#include <jansson.h>
#include <stdio.h>

struct pyenv_request {
	const json_t *config;      /* effective config root */
	const json_t *task;        /* the task object (tasks.get_by_id data.task) */
	const char *build_dir;     /* per-slot build root */
	const char *repo_root;     /* checked-out repository root, or NULL (literal script) */
	const char *script_dir;    /* directory the task runs in */
	int standalone;
	const char *venv_dir;      /* the venv itself (`build --target DIR`); NULL: <build_dir>/<X.Y> */
	int install_globally;      /* `build --install-globally`: into the interpreter, no venv */
};

struct pyenv_result {
	char *python;              /* interpreter to exec (absolute path) */
	char **run_prefix;         /* argv prefix before the interpreter ("uv","run"), or NULL */
	size_t n_run_prefix;
	char *venv_dir;            /* NULL when running on a system interpreter */
	char *sys_path;            /* interpreter's sys.path joined with ':' (for PYTHONPATH), or NULL */
	json_t *frozen;            /* {"pip": [lines]} to report, or NULL */
	int cache_hit;
	char reason[512];          /* status_reason on failure */
};

/* 0 on success; -1 with rs->reason set (and the tool's own error printed to stdout). */
int pyenv_setup(const struct pyenv_request *rq, struct pyenv_result *rs);
void pyenv_result_free(struct pyenv_result *rs);

#endif
