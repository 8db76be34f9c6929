/*
 * container_side — the runner's docker-mode steps on the host and in the container (contract in
 * container_side.h). Commands are argv arrays; the only shell is the one the user's own setup
 * scripts ask for (run as `sh -c SCRIPT`, never interpolated with task fields).
 */
#include "runner/container_side.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

extern char **environ;

static char **
json_argv(const json_t *arr)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return NULL;
	size_t n = json_array_size(arr);
	char **v = xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		v[i] = xstrdup(s ? s : "");
	}
	return v;
}

static void
argv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int
runner_launch_exec(const char *launch_file, char *reason, size_t reasonlen)
{
	json_error_t je;
	json_t *l = json_load_file(launch_file, 0, &je);
	if (!json_is_object(l)) {
		snprintf(reason, reasonlen, "cannot read the container launch file: %s", je.text);
		json_decref(l);
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(l, "notes"), i, v)
		if (json_is_string(v))
			printf("%s\n", json_string_value(v));
	fflush(stdout);
	json_array_foreach(json_object_get(l, "pre"), i, v) {
		char **pre = json_argv(json_object_get(v, "argv"));
		if (!pre)
			continue;
		int quiet = json_is_true(json_object_get(v, "quiet"));
		struct proc_opts o = {.out_fd = quiet ? -1 : STDOUT_FILENO, .timeout_ms = 600000};
		struct proc_result r;
		int ran = proc_run(pre, &o, &r);
		if (!quiet && (ran < 0 || !proc_ok(&r)) && json_is_true(json_object_get(v, "required"))) {
			snprintf(reason, reasonlen, "%.200s failed (exit code %d)", pre[0] ? pre[0] : "?",
			         r.exited ? r.exit_code : 128 + r.signal);
			proc_result_free(&r);
			argv_free(pre);
			json_decref(l);
			return -1;
		}
		proc_result_free(&r);
		argv_free(pre);
	}
	const char *display = json_string_value(json_object_get(l, "display"));
	if (display)
		printf("Running in Docker mode: %s\n\n", display);
	fflush(stdout);
	fflush(stderr);
	char **argv = json_argv(json_object_get(l, "exec"));
	json_decref(l);
	if (!argv) {
		snprintf(reason, reasonlen, "the container launch file has no command");
		return -1;
	}
	execvp(argv[0], argv);
	int e = errno;
	snprintf(reason, reasonlen, "cannot run the container engine %.200s: %s", argv[0], strerror(e));
	argv_free(argv);
	return -1;
}

/* ---- in the container ---- */

static int
is_exec(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

static char *
find_prog(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy = xstrdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	char *found = NULL;
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *cand = xasprintf("%s/%s", d, prog);
		if (is_exec(cand))
			found = cand;
		else
			free(cand);
	}
	free(copy);
	return found;
}

static int
run_visible(char *const argv[], char *const envp[])
{
	printf("+ ");
	for (size_t i = 0; argv[i]; i++)
		printf("%s%s", i ? " " : "", argv[i]);
	printf("\n");
	fflush(stdout);
	struct proc_opts o = {.out_fd = STDOUT_FILENO, .envp = envp, .timeout_ms = 1800000};
	struct proc_result r;
	int ran = proc_run(argv, &o, &r);
	int ok = ran == 0 && proc_ok(&r);
	proc_result_free(&r);
	return ok ? 0 : -1;
}

/* 0: no python3; 1: python3 runs but lacks venv/ensurepip; 2: python3 with venv (one start). */
static int
python_state(void)
{
	char *p = find_prog("python3");
	if (!p)
		return 0;
	char *const argv[] = {p, (char *)(uintptr_t) "-c",
	                      (char *)(uintptr_t) "import sys\ntry:\n import venv, ensurepip\nexcept ImportError:\n sys.exit(3)",
	                      NULL};
	struct proc_opts o = {.out_fd = -1, .timeout_ms = 60000};
	struct proc_result r;
	int ran = proc_run(argv, &o, &r) == 0 && r.exited;
	int st = ran && r.exit_code == 0 ? 2 : (ran && r.exit_code == 3 ? 1 : 0);
	proc_result_free(&r);
	free(p);
	return st;
}

/* Does the task ask for OpenCV (its requirements, or a requirements.txt of its code)? */
static int
wants_opencv(const json_t *task, const char *const *dirs)
{
	const json_t *req = json_object_get(json_object_get(task, "script"), "requirements");
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int hit = text && strcasestr(text, "opencv") != NULL;
	free(text);
	for (size_t i = 0; !hit && dirs && dirs[i]; i++) {
		char *path = xasprintf("%s/requirements.txt", dirs[i]);
		size_t len = 0;
		char *body = read_file(path, 1u << 20, &len);
		hit = body && strcasestr(body, "opencv") != NULL;
		free(body);
		free(path);
	}
	return hit;
}

/* Missing Debian packages of the space-separated list (dpkg-query). Caller frees. */
static char *
missing_debs(const char *list)
{
	struct buf b;
	buf_init(&b, 65536);
	char *copy = xstrdup(list ? list : "");
	char *save = NULL;
	char *dq = find_prog("dpkg-query");
	for (char *p = strtok_r(copy, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		int have = 0;
		if (dq) {
			char *const argv[] = {dq, (char *)(uintptr_t) "-W", (char *)(uintptr_t) "-f=${Status}", p, NULL};
			struct proc_opts o = {.out_fd = -1, .timeout_ms = 60000};
			struct proc_result r;
			have = proc_run(argv, &o, &r) == 0 && proc_ok(&r) && r.output &&
			       strstr(r.output, "install ok installed");
			proc_result_free(&r);
		}
		if (!have) {
			if (b.len)
				buf_puts(&b, " ");
			buf_puts(&b, p);
		}
	}
	free(dq);
	free(copy);
	buf_append(&b, "", 1);
	char *s = xstrdup(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

static void
split_push(struct buf *argvbuf, char ***v, size_t *n, const char *list)
{
	(void)argvbuf;
	char *copy = xstrdup(list);
	char *save = NULL;
	for (char *p = strtok_r(copy, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		*v = xreallocarray(*v, *n + 2, sizeof **v);
		(*v)[(*n)++] = xstrdup(p);
		(*v)[*n] = NULL;
	}
	free(copy);
}

/* Install packages with the image's package manager. 0, or -1 (none found / it failed). */
static int
install_packages(const char *apt_list, const char *rpm_list, const char *apk_list, char *reason,
                 size_t rlen)
{
	struct envv env;
	envv_from_environ(&env);
	envv_set(&env, "DEBIAN_FRONTEND", "noninteractive");
	char *mgr = NULL;
	int rc = -1;
	char **argv = NULL;
	size_t n = 0;
	if ((mgr = find_prog("apt-get"))) {
		char *const upd[] = {mgr, (char *)(uintptr_t) "update", (char *)(uintptr_t) "-y", NULL};
		if (run_visible(upd, env.v) < 0)
			printf("warning: apt-get update failed; trying the install anyway\n");
		split_push(NULL, &argv, &n, "apt-get install -y --no-install-recommends");
		split_push(NULL, &argv, &n, apt_list);
	} else if ((mgr = find_prog("dnf")) || (mgr = find_prog("yum"))) {
		split_push(NULL, &argv, &n, mgr);
		split_push(NULL, &argv, &n, "install -y");
		split_push(NULL, &argv, &n, rpm_list);
	} else if ((mgr = find_prog("apk"))) {
		split_push(NULL, &argv, &n, "apk add --no-cache");
		split_push(NULL, &argv, &n, apk_list);
	} else {
		snprintf(reason, rlen, "no package manager (apt-get, dnf, yum, apk) in the image");
		envv_free(&env);
		return -1;
	}
	free(argv[0]);
	argv[0] = mgr;
	rc = run_visible(argv, env.v);
	if (rc < 0)
		snprintf(reason, rlen, "package installation with %s failed", mgr);
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	envv_free(&env);
	return rc;
}

int
incontainer_prepare(const json_t *task, const char *const *code_dirs, int need_python, int *have_python,
                    char *reason, size_t reasonlen)
{
	const json_t *c = json_object_get(task, "_container");
	reason[0] = '\0';
	/* 1. the agent's extra_docker_shell_script, then the task's setup_shell_script (§6.6) */
	struct buf script;
	buf_init(&script, 1u << 20);
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(c, "extra_shell_script"), i, v)
		if (json_is_string(v) && json_string_value(v)[0])
			buf_printf(&script, "%s\n", json_string_value(v));
	const char *setup = json_string_value(json_object_get(c, "setup_shell_script"));
	if (setup && *setup)
		buf_printf(&script, "%s\n", setup);
	if (script.len) {
		buf_append(&script, "", 1);
		char *sh = find_prog("bash");
		if (!sh)
			sh = is_exec("/bin/sh") ? xstrdup("/bin/sh") : find_prog("sh");
		if (!sh) {
			printf("warning: the image has no shell: the setup shell script is not run\n");
		} else {
			printf("Running the container setup script\n");
			char *const argv[] = {sh, (char *)(uintptr_t) "-c", script.data, NULL};
			if (run_visible(argv, NULL) < 0)
				printf("warning: the container setup script failed; continuing (as upstream)\n");
			free(sh);
		}
	}
	buf_free(&script);

	/* 2. system packages the agent was asked for (CLEARML_APT_INSTALL, opencv libs) */
	struct buf apt;
	buf_init(&apt, 65536);
	/* agent.docker_install_opencv_libs: only for tasks that use OpenCV (upstream: every task) */
	const char *extra = json_is_true(json_object_get(c, "opencv_libs")) && wants_opencv(task, code_dirs)
	                        ? "libsm6 libxext6 libxrender-dev libglib2.0-0" : NULL;
	if (extra)
		buf_puts(&apt, extra);
	const char *envapt = getenv("CLEARML_APT_INSTALL");
	if (envapt && *envapt)
		buf_printf(&apt, " %s", envapt);
	buf_append(&apt, "", 1);
	int pst = python_state();
	int py = pst > 0;
	int venv_ok = pst == 2;
	if (need_python && !venv_ok) {
		printf("The image has no usable python3%s: installing one\n", py ? " venv module" : "");
		fflush(stdout);
		buf_reset(&apt);
		buf_printf(&apt, "python3 python3-venv %s%s%s", extra ? extra : "", envapt ? " " : "",
		           envapt ? envapt : "");
		buf_append(&apt, "", 1);
		char r[256];
		r[0] = '\0';
		if (install_packages(apt.data, "python3", "python3 py3-pip", r, sizeof r) < 0 ||
		    python_state() == 0) {
			snprintf(reason, reasonlen, "the image has no usable python3 and it could not be installed: %s",
			         r[0] ? r : "python3 still does not run");
			buf_free(&apt);
			*have_python = 0;
			return -1;
		}
		py = 1;
	} else if (apt.data && str_trim(apt.data)[0] && find_prog("apt-get")) {
		char *missing = missing_debs(apt.data);
		if (missing[0]) {
			char r[256];
			printf("Installing system packages: %s\n", missing);
			if (install_packages(missing, "", "", r, sizeof r) < 0)
				printf("warning: %s; continuing\n", r);
		}
		free(missing);
	}
	buf_free(&apt);
	*have_python = py;
	fflush(stdout);
	return 0;
}

/* ---- PID 1 ---- */

static volatile sig_atomic_t child_pid;

static void
forward(int sig)
{
	if (child_pid > 0)
		kill(-child_pid, sig); /* the task's whole group, as the host does for a local task */
}

int
incontainer_exec_init(char *const argv[], char *const envp[])
{
	if (getpid() != 1) {
		execvpe(argv[0], argv, envp);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		execvpe(argv[0], argv, envp);
		fprintf(stderr, "clearml-agent-runner: cannot start %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward;
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (w == pid) {
			/* the task is done: what it left behind dies with the container */
			kill(-1, SIGKILL);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
		}
	}
}
