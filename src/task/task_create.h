/*
 * task_create — clearml-task's pure part: the options of the SDK's `clearml-task` CLI and the
 * tasks.create / tasks.edit request bodies built from them (no I/O but reading local files the
 * options name). Owner: task_create.c; main.c does the argument parsing and the API calls.
 */
#ifndef CLEARML_TASK_CREATE_H
#define CLEARML_TASK_CREATE_H

#include <jansson.h>
#include <stddef.h>

struct task_opts {
	char *project, *name, *repo, *branch, *commit, *folder, *script, *module, *cwd;
	char **args;          /* "key=value" */
	size_t n_args;
	char *queue, *requirements;
	char **packages;
	size_t n_packages;
	char *docker, *docker_args, *docker_bash_setup_script;
	char *task_type, *base_task_id, *binary, *output_uri;
	char **tags;
	size_t n_tags;
	int skip_task_init;
	int version;
	char *config_file;
};

void task_opts_free(struct task_opts *o);

/* What the local code contributes (filled by task_collect_local from --script/--folder). */
struct local_code {
	char *repository;     /* remote URL (no credentials), or NULL for a literal script */
	char *branch, *commit;
	char *diff;           /* uncommitted diff, or the whole literal script */
	char *entry_point;
	char *working_dir;
};
void local_code_free(struct local_code *c);

/* Validate the option combination; 0 or -1 with err ("Task name must be provided ..."). */
int task_opts_check(const struct task_opts *o, char *err, size_t errlen);

/* The files the options name can be read (--requirements). 0 or -1 with err. */
int task_check_files(const struct task_opts *o, char *err, size_t errlen);

/* The script text with the Task.init() call added (after a shebang, encoding line, docstring
 * and `from __future__` imports), guarded so that a task without the SDK still runs. Caller frees. */
char *task_add_init_call(const char *script);

/* Read the local script / folder into c (literal script when there is no repository). Runs git
 * (argv, no shell) for --folder. 0 or -1 with err. */
int task_collect_local(const struct task_opts *o, struct local_code *c, char *err, size_t errlen);

/* The tasks.create body (project id may be NULL). New reference. */
json_t *task_build_create(const struct task_opts *o, const struct local_code *c, const char *project_id);
/* The hyperparams object for --args ({"Args": {k: {section, name, value, type}}}), or NULL. */
json_t *task_build_hyperparams(const struct task_opts *o, char *err, size_t errlen, int *bad);

#endif
