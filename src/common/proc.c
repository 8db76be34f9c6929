/*
 * proc — fork/exec of helper programs with an argv array (never a shell), bounded output capture,
 * stdin feeding and a timeout that kills the child's whole process group. The child runs in its
 * own process group so a timeout also takes down what it spawned.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

static void
child_exec(char *const argv[], const struct proc_opts *o, int in_fd, int out_fd, int err_fd)
{
	/* Restore default dispositions and an empty mask: the parent may block or ignore signals. */
	sigset_t none;
	sigemptyset(&none);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(127);
	if (o->cwd && chdir(o->cwd) < 0) {
		dprintf(2, "cannot change directory to %s: %s\n", o->cwd, strerror(errno));
		_exit(127);
	}
	if (o->envp) {
		union { char *const *c; char **m; } u = {.c = o->envp};
		environ = u.m;
	}
	execvp(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* write() to the child's stdin. A child that quits without reading it must not kill us with
 * SIGPIPE (the runner keeps the default disposition, which the task it becomes inherits): block
 * the signal around the write and swallow the one it raised, leaving the disposition alone. */
static ssize_t
write_no_sigpipe(int fd, const void *p, size_t n)
{
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	int was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ssize_t w = write(fd, p, n);
	int e = errno;
	if (w < 0 && e == EPIPE && !was_pending) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return w;
}

int
proc_run(char *const argv[], const struct proc_opts *o, struct proc_result *r)
{
	struct proc_opts defaults = {.out_fd = -1};
	if (o == NULL)
		o = &defaults;
	memset(r, 0, sizeof *r);
	r->exit_code = 127;

	int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return -1;
	if (o->stdin_data && pipe2(in_pipe, O_CLOEXEC) < 0)
		goto fail;
	if (o->out_fd < 0 && pipe2(out_pipe, O_CLOEXEC) < 0)
		goto fail;

	int cout = o->out_fd >= 0 ? o->out_fd : out_pipe[1];
	int cerr = cout;
	if (o->keep_stderr_apart)
		cerr = o->out_fd >= 0 ? o->out_fd : 2;

	pid_t pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child_exec(argv, o, o->stdin_data ? in_pipe[0] : devnull, cout, cerr);
	setpgid(pid, pid); /* also in the parent: no race with an early kill */

	if (in_pipe[0] >= 0) {
		close(in_pipe[0]);
		in_pipe[0] = -1;
		fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
	}
	if (out_pipe[1] >= 0) {
		close(out_pipe[1]);
		out_pipe[1] = -1;
	}

	struct buf out;
	size_t cap = o->capture_max ? o->capture_max : (size_t)1 << 20;
	buf_init(&out, cap);
	size_t in_off = 0;
	int64_t deadline = o->timeout_ms > 0 ? mono_ms() + o->timeout_ms : 0;
	int status = 0;
	int reaped = 0;

	for (;;) {
		struct pollfd pf[2];
		nfds_t n = 0;
		int out_i = -1, in_i = -1;
		if (out_pipe[0] >= 0) {
			pf[n] = (struct pollfd){.fd = out_pipe[0], .events = POLLIN};
			out_i = (int)n++;
		}
		if (in_pipe[1] >= 0) {
			pf[n] = (struct pollfd){.fd = in_pipe[1], .events = POLLOUT};
			in_i = (int)n++;
		}
		if (n == 0) {
			/* Nothing to pump: wait for exit, bounded by the deadline. */
			for (;;) {
				pid_t w = waitpid(pid, &status, deadline ? WNOHANG : 0);
				if (w == pid) {
					reaped = 1;
					break;
				}
				if (w < 0 && errno != EINTR)
					break;
				if (deadline && mono_ms() >= deadline)
					break;
				if (deadline) {
					struct timespec ts = {0, 20 * 1000000};
					nanosleep(&ts, NULL);
				}
			}
			break;
		}
		int wait_ms = -1;
		if (deadline) {
			int64_t left = deadline - mono_ms();
			if (left <= 0)
				break;
			wait_ms = left > 1000 ? 1000 : (int)left;
		}
		int pr = poll(pf, n, wait_ms);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (out_i >= 0 && (pf[out_i].revents & (POLLIN | POLLHUP | POLLERR))) {
			char chunk[16384];
			ssize_t rd = read(out_pipe[0], chunk, sizeof chunk);
			if (rd > 0) {
				size_t room = out.max - out.len;
				size_t take = (size_t)rd < room ? (size_t)rd : room;
				if (take < (size_t)rd)
					r->truncated = 1;
				buf_append(&out, chunk, take);
			} else if (rd == 0 || (rd < 0 && errno != EINTR && errno != EAGAIN)) {
				close(out_pipe[0]);
				out_pipe[0] = -1;
			}
		}
		if (in_i >= 0 && (pf[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write_no_sigpipe(in_pipe[1], o->stdin_data + in_off,
			                             o->stdin_len - in_off);
			if (w > 0)
				in_off += (size_t)w;
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				in_off = o->stdin_len; /* reader gone (EPIPE) */
			if (in_off >= o->stdin_len) {
				close(in_pipe[1]);
				in_pipe[1] = -1;
			}
		}
	}

	if (!reaped) {
		if (deadline && mono_ms() >= deadline) {
			r->timed_out = 1;
			kill(-pid, SIGKILL);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (r->timed_out)
		kill(-pid, SIGKILL); /* anything of the group still around */

	if (in_pipe[1] >= 0)
		close(in_pipe[1]);
	if (out_pipe[0] >= 0)
		close(out_pipe[0]);
	close(devnull);

	if (WIFEXITED(status)) {
		r->exited = 1;
		r->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		r->signaled = 1;
		r->signal = WTERMSIG(status);
		r->exit_code = 128 + r->signal;
	}
	if (o->out_fd < 0) {
		r->output_len = out.len;
		r->output = buf_steal(&out);
	}
	buf_free(&out);
	return 0;

fail:;
	int saved = errno;
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	close(devnull);
	errno = saved;
	return -1;
}

void
proc_result_free(struct proc_result *r)
{
	free(r->output);
	r->output = NULL;
}

int
proc_ok(const struct proc_result *r)
{
	return r->exited && r->exit_code == 0;
}

/* ---- environment vectors ---- */

void
envv_from_environ(struct envv *e)
{
	size_t n = 0;
	while (environ[n])
		n++;
	e->v = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		e->v[i] = xstrdup(environ[i]);
	e->n = n;
}

static ssize_t
envv_find(const struct envv *e, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], key, kl) == 0 && e->v[i][kl] == '=')
			return (ssize_t)i;
	return -1;
}

void
envv_set(struct envv *e, const char *key, const char *value)
{
	char *kv = xasprintf("%s=%s", key, value ? value : "");
	ssize_t i = envv_find(e, key);
	if (i >= 0) {
		free(e->v[i]);
		e->v[i] = kv;
		return;
	}
	e->v = xreallocarray(e->v, e->n + 2, sizeof(char *));
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

void
envv_unset(struct envv *e, const char *key)
{
	ssize_t i = envv_find(e, key);
	if (i < 0)
		return;
	free(e->v[i]);
	memmove(&e->v[i], &e->v[i + 1], (e->n - (size_t)i) * sizeof(char *));
	e->n--;
}

const char *
envv_get(const struct envv *e, const char *key)
{
	ssize_t i = envv_find(e, key);
	return i < 0 ? NULL : e->v[i] + strlen(key) + 1;
}

void
envv_free(struct envv *e)
{
	if (e->v == NULL)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}
