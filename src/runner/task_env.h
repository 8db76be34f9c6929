/*
 * task_env — what the task is and how it is started, as pure functions: the execution info read
 * from task.script (§5.1 step 5), path containment checks for task-supplied paths, shlex
 * splitting, the command line (§5.10: python -u [-O…] entry | -m module …, $SHELL entry | -c …)
 * and the environment the task process gets (§5.10). No I/O except reading the process
 * environment where documented. Owner: task_env.c.
 */
#ifndef CLEARML_TASK_ENV_H
#define CLEARML_TASK_ENV_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "proc.h"

/* A growable NULL-terminated vector of owned strings (an argv). */
struct argvec {
	char **v;
	size_t n;
	size_t cap;
};
void argvec_init(struct argvec *a);
void argvec_push(struct argvec *a, const char *s);
void argvec_free(struct argvec *a);

/* task.script, normalised: every field is an owned string, "" when absent. */
struct exec_info {
	char *repository;
	char *branch;
	char *version_num;
	char *tag;
	char *entry_point;
	char *working_dir;
	char *binary;
	char *diff;
	char *docker_cmd;
};

/* Read the task's script section. Strings stripped; when working_dir is empty, entry_point is
 * split at the first ':' into entry_point:working_dir. 0, or -1 with err set. */
int exec_info_from_task(const json_t *task, struct exec_info *ei, char *err, size_t errlen);
void exec_info_free(struct exec_info *ei);
/* CLEARML_AGENT_FORCE_EXEC_SCRIPT="[workdir:]script": override entry point (and working dir). */
void exec_info_force_script(struct exec_info *ei, const char *spec);
/* "Executing task id [<id>]:" followed by the key = value lines. */
void exec_info_print(FILE *out, const char *task_id, const struct exec_info *ei);

/* Lexically normalise a relative path ("a/./b/../c" → "a/c", "" or "." → "."). Returns NULL when
 * the path is absolute or climbs above its start (a task path must never escape its base dir).
 * Caller frees. */
char *path_contained(const char *rel);
/* Last path component (no trailing '/'); "" when none. Caller frees. */
char *path_basename(const char *p);
/* Directory part ("a/b/c.py" → "a/b", "c.py" → "."). Caller frees. */
char *path_dirname(const char *p);

/* POSIX shlex.split (quotes, backslashes; no comments). 0, or -1 with err (unclosed quote). */
int shlex_split(const char *s, struct argvec *out, char *err, size_t errlen);
/* Quote one word for display the way shlex.quote does. Caller frees. */
char *shlex_quote(const char *s);
/* argv joined with shlex_quote, for the `[dir]$ command` line. Caller frees. */
char *argv_display(char *const *argv);
/* os.path.expandvars: $NAME and ${NAME} from the process environment, unknown ones kept. */
char *expand_env_vars(const char *s);

enum task_binary { TASK_BIN_PYTHON = 0, TASK_BIN_SHELL = 1 };
/* script.binary → python or shell; *unknown = 1 for a non-empty binary that is neither (the
 * caller warns and uses python, as upstream). */
enum task_binary task_binary_kind(const char *binary, int *unknown);

/* Is the entry point a module / inline command (`-m …` / `-c …`) rather than a file? */
int entry_is_flag(const char *entry_point);

/* §5.3 / §5.10 Task.init patching of the entry script. When the script starts with the SDK's
 * `from clearml …` + `Task.init` lines, they are moved below the `from __future__` imports; with
 * force (CLEARML_AGENT_FORCE_TASK_INIT) the two lines are added there unless already present.
 * Returns the new text, or NULL when nothing changes. Caller frees. */
char *script_patch_task_init(const char *text, int force);

struct argv_spec {
	enum task_binary kind;
	const char *python;          /* interpreter (python kind) */
	char *const *run_prefix;     /* e.g. {"uv","run"}; may be NULL */
	size_t n_run_prefix;
	int optimization;            /* -O count */
	const char *shell;           /* shell kind: $SHELL or the binary */
	const char *entry_point;     /* relative to the script dir, or "-m …" / "-c …" */
};
/* The task's command line. 0, or -1 with err (bad quoting in a -m entry point). */
int task_build_argv(const struct argv_spec *s, struct argvec *out, char *err, size_t errlen);

struct task_env_params {
	const char *task_id;
	const char *log_level;       /* NULL → leave unset */
	const char *config_file;     /* NULL → leave unset */
	const char *pythonpath_extra_first; /* script dir (or repo root with force_git_root_python_path) */
	const char *entry_dir;       /* dir of the entry point (absolute), may be NULL */
	const char *sys_path;        /* interpreter's sys.path joined with ':' or NULL */
	const char *extra_python_path; /* CLEARML_AGENT_EXTRA_PYTHON_PATH or NULL */
	const json_t *task_environment; /* {"NAME": "value"} (the task's Environment section) or NULL */
	int set_ioencoding;          /* PYTHONIOENCODING=utf-8 unless already set */
};
/* Apply the §5.10 variables to e (which starts as the agent's environment). */
void task_env_apply(struct envv *e, const struct task_env_params *p);
/* Can NAME be an environment variable name (non-empty, no '=' or NUL, not starting with a digit)? */
int env_name_ok(const char *name);

#endif
