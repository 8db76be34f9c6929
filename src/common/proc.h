/*
 * proc — run a helper program (git, pip, uv, python …) without a shell: argv array, optional
 * cwd/env/stdin, output captured into a bounded buffer or sent to an fd, optional timeout after
 * which the whole process group is killed. Every child is reaped. Owner: proc.c.
 */
#ifndef CLEARML_PROC_H
#define CLEARML_PROC_H

#include <stddef.h>

struct proc_opts {
	const char *cwd;           /* NULL = inherit */
	char *const *envp;         /* NULL = inherit environ */
	const char *stdin_data;    /* NULL = /dev/null */
	size_t stdin_len;
	int out_fd;                /* >= 0: child's stdout+stderr go there; -1: capture */
	size_t capture_max;        /* bound of captured output (default 1 MiB); excess is dropped */
	int timeout_ms;            /* 0 = none */
	int keep_stderr_apart;     /* capture: stderr goes to out_fd/err instead of being merged */
};

struct proc_result {
	int exited;                /* 1 if exited normally */
	int exit_code;
	int signaled;              /* terminated by signal (incl. our timeout kill) */
	int signal;
	int timed_out;
	char *output;              /* captured stdout(+stderr), NUL-terminated; NULL if not captured */
	size_t output_len;
	int truncated;
};

/* Returns 0 when the program ran (see r for how it ended), -1 when it could not be started
 * (errno set; r->exit_code = 127). */
int proc_run(char *const argv[], const struct proc_opts *o, struct proc_result *r);
void proc_result_free(struct proc_result *r);
/* Convenience: 1 when it ran and exited 0. */
int proc_ok(const struct proc_result *r);

/* A mutable environment (NULL-terminated "K=V" vector). */
struct envv {
	char **v;
	size_t n;
};
void envv_from_environ(struct envv *e);
void envv_set(struct envv *e, const char *key, const char *value);
void envv_unset(struct envv *e, const char *key);
const char *envv_get(const struct envv *e, const char *key);
void envv_free(struct envv *e);

#endif
