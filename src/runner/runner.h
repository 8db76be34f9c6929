/*
 * runner — the role that reproduces a task's environment and then becomes the task (execve).
 * It needs no API access and no credentials: it reads the task as JSON from a file, writes what it
 * learned (frozen requirements, resolved commit, or the failure reason) to a result file, and
 * execs the task. The supervisor (daemon.c / execute.c) reports the result to the server.
 *
 * Spawned by the supervisor as:
 *   clearml-agent --config-file CFG _runner --task-file F --result-file R --build-dir D
 *                 [-O ...] [--log-level L] [--standalone-mode]
 *                 [--docker-launch L --code-file C]       (docker mode, on the host)
 *                 [--code-file C --in-container]           (docker mode, in the container)
 *                 [--build-only] [--venv-dir V] [--install-globally] [--env-file E]
 *                 [--place-only --code-file C]             (`build`: stop before exec)
 * The code file (JSON) says where the host placed the code, relative to the build dir:
 *   {"repo_root": str|null, "script_dir": str, "entry": str, "commit": str|null}
 * (an absolute script_dir is a directory of the image itself).
 * with stdout+stderr on the task's spool file, in its own session, and CLEARML_WORKER_ID (and
 * CLEARML_WORKER_TAGS, GPU variables) already in the environment.
 *
 * Result file (JSON, written atomically with rename, before exec or before a failing exit):
 *   {"status": "ready" | "failed",
 *    "status_reason": "<short cause, for tasks.failed>",      (failed only)
 *    "error": "<longer text, also printed to the log>",          (failed only)
 *    "requirements": {"pip": [frozen lines], ...} | null,         (report with tasks.set_requirements,
 *                                                                   moving the task's pip→org_pip once)
 *    "version_num": "<commit>" | null,                           (tasks.edit when the task had none)
 *    "python": "<interpreter>", "cache_hit": bool}
 * A setup failure exits with RUNNER_EXIT_SETUP_FAILED. Owner: runner.c.
 *
 * Task JSON extra key added by the supervisor: "_environment": {"NAME": "value", ...} holds the
 * task's hyper-parameters of section "Environment"; with agent.enable_task_env the runner exports
 * each as an environment variable of the task (names that cannot be variables are skipped).
 */
#ifndef CLEARML_RUNNER_H
#define CLEARML_RUNNER_H

#include <jansson.h>

#define RUNNER_EXIT_SETUP_FAILED 86

struct runner_args {
	const char *task_file;
	const char *result_file;
	const char *build_dir;     /* per-slot build root (code + venv live under it) */
	const char *config_file;   /* the config the task gets as CLEARML_CONFIG_FILE */
	const char *log_level;     /* exported as CLEARML_LOG_LEVEL */
	int optimization;          /* -O count */
	int standalone;
	/* docker mode (container_side.h) */
	const char *launch_file;   /* host: place the code, write code_file, exec the engine */
	const char *code_file;     /* host: where the placed code is described; container: read it */
	int in_container;          /* container: setup scripts, python install, PID 1 init */
	/* `build` (supervisor/build.c) */
	int place_only;            /* place the code, write code_file, stop (host side of build --docker) */
	int build_only;            /* build everything, write the result, do not exec: return 0 */
	const char *venv_dir;      /* the venv itself instead of <build_dir>/<X.Y> */
	int install_globally;      /* no venv: install into the interpreter itself */
	const char *env_file;      /* KEY=VALUE lines exported before anything runs (build --docker:
	                            * tool settings that must not end up in an image's config) */
};

/* Called once the environment is ready (result["status"] == "ready") or failed, before exec or
 * exit; `execute --disable-monitoring` uses it to report straight to the server. May be NULL, in
 * which case only the result file is written. */
typedef int (*runner_ready_fn)(void *ctx, const json_t *result);

/* Build the environment and exec the task. Returns only on failure, with the exit status to use;
 * with build_only / place_only it returns 0 once the result file says "ready" (the result then
 * also carries "script_dir", "repo_root", "entry" and "command": the task's argv). */
int runner_run(const struct runner_args *a, const json_t *config_root, const json_t *task,
               runner_ready_fn ready, void *ctx);

#endif
