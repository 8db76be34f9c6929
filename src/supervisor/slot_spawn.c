/*
 * slot_spawn — the task's process (slot_internal.h): the runner's argv and environment (worker
 * id, the CLEARML_TASK_ID marker the kill sweep looks for, launch extras, worker tags), forked
 * with every signal blocked, in a session of its own, joined to the task's cgroup before exec,
 * stdout and stderr on the spool. In docker mode the container is prepared first and the runner
 * execs the engine (container.h).
 */
#include "supervisor/slot_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/container.h"
#include "supervisor/killtree.h"
#include "proc.h"


pid_t
slot_spawn_runner(struct slot *s, int spool_w)
{
	const struct cli_opts *o = s->ctx->opts;
	char *build_dir = s->index > 0 ? xasprintf("%s.s%d", s->ctx->build_root, s->index)
	                               : xstrdup(s->ctx->build_root ? s->ctx->build_root : "");
	if (s->ctr) {
		free(build_dir);
		build_dir = xstrdup(container_host_build_dir(s->ctr));
	}
	char *argv[40];
	size_t n = 0;
	argv[n++] = s->ctx->self_exe;
	argv[n++] = "--config-file";
	argv[n++] = s->ctx->config_dump;
	argv[n++] = "_runner";
	argv[n++] = "--task-file";
	argv[n++] = s->ctr ? (char *)(uintptr_t)container_task_file(s->ctr) : s->task_path;
	argv[n++] = "--result-file";
	argv[n++] = s->result_path;
	argv[n++] = "--build-dir";
	argv[n++] = build_dir;
	int optim = o ? o->optimization : 0;
	for (int i = 0; i < optim && i < 4; i++)
		argv[n++] = "-O";
	if (o && o->log_level) {
		argv[n++] = "--log-level";
		argv[n++] = o->log_level;
	}
	if (o && o->standalone_mode)
		argv[n++] = "--standalone-mode";
	if (s->ctr) { /* the runner places the code, then execs the container engine */
		argv[n++] = "--docker-launch";
		argv[n++] = (char *)(uintptr_t)container_launch_file(s->ctr);
		argv[n++] = "--code-file";
		argv[n++] = (char *)(uintptr_t)container_code_file(s->ctr);
	}
	argv[n] = NULL;

	struct envv env;
	envv_from_environ(&env);
	envv_set(&env, "CLEARML_WORKER_ID", s->worker_id);
	envv_set(&env, "TRAINS_WORKER_ID", s->worker_id);
	envv_set(&env, TASK_ENV_MARKER, s->task_id);
	for (char **e = s->launch_env; e && *e; e++) {
		char *eq = strchr(*e, '=');
		if (eq) {
			char *k = xstrndup(*e, (size_t)(eq - *e));
			envv_set(&env, k, eq + 1);
			free(k);
		}
	}
	if (o && o->child_report_tags.n) {
		struct buf tags;
		buf_init(&tags, 65536);
		for (size_t i = 0; i < o->child_report_tags.n; i++) {
			/* one shell-quoted word each (spec §1.3) */
			if (tags.len)
				buf_puts(&tags, " ");
			buf_put_shell_word(&tags, o->child_report_tags.v[i], NULL);
		}
		envv_set(&env, "CLEARML_WORKER_TAGS", tags.data);
		buf_free(&tags);
	}
	if (s->ctr)
		container_client_env(s->ctr, &env);

	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int cg_fd = s->cgroup ? killtree_cgroup_procs_fd(s->cgroup) : -1;
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = devnull >= 0 ? fork() : -1;
	if (pid == 0) {
		/* Child: only async-signal-safe calls from here to exec. */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				sigaction(sig, &dfl, NULL);
		setsid();
		if (cg_fd >= 0 && write(cg_fd, "0", 1) < 0) {
			/* no cgroup: the environ sweep still finds everything */
		}
		if (dup2(devnull, 0) < 0 || dup2(spool_w, 1) < 0 || dup2(spool_w, 2) < 0)
			_exit(127);
		closefrom(3);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(argv[0], argv, env.v);
		static const char msg[] = "clearml-agent: cannot execute the runner\n";
		if (write(2, msg, sizeof msg - 1) < 0) {
			/* nothing more to do */
		}
		_exit(127);
	}
	int fork_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid > 0)
		setpgid(pid, pid); /* harmless if setsid already ran; no race with an early kill */
	if (devnull >= 0)
		close(devnull);
	if (cg_fd >= 0)
		close(cg_fd);
	envv_free(&env);
	free(build_dir);
	if (pid < 0)
		errno = fork_errno;
	return pid;
}

char *
slot_child_worker_id(const struct slot *s)
{
	const struct cli_opts *o = s->ctx->opts;
	const char *w = s->ctx->worker_id ? s->ctx->worker_id : "";
	if (o && o->services_mode && !o->dynamic_gpus)
		return xasprintf("%s:service:%s", w, s->task_id);
	return xstrdup(w);
}

/* Docker mode: the task's container is prepared; the runner's result comes from its io folder. */
int
slot_start_container(struct slot *s)
{
	char reason[512];
	char *build_dir = s->index > 0 ? xasprintf("%s.s%d", s->ctx->build_root, s->index)
	                               : xstrdup(s->ctx->build_root ? s->ctx->build_root : "");
	struct container_task t = {.task_id = s->task_id, .worker_id = s->worker_id, .queue_id = s->queue_id,
	                           .queue_name = s->queue_name, .task_file = s->task_path,
	                           .build_dir = build_dir, .slot_index = s->index};
	s->ctr = container_prepare(s->ctx, &t, reason, sizeof reason);
	free(build_dir);
	if (!s->ctr) {
		slot_fail_start(s, reason);
		return -1;
	}
	free(s->result_path);
	s->result_path = xstrdup(container_result_file(s->ctr));
	return 0;
}
