/*
 * slot — the supervisor of one running task (contract in slot.h; spec §4.3–§4.7, §11).
 *
 * Life of a slot: IDLE → slot_start (tasks.started, hostname, task JSON, spool, state file,
 * runner spawned in its own session and cgroup) → RUNNING (ticks: result file, log shipping,
 * abort poll, ping) → KILLING (abort decided: signal sent, grace running) → FLUSHING (child
 * reaped: leftovers killed, the rest of the spool and the final line shipped) → final status →
 * DONE → slot_finish → IDLE.
 *
 * Invariants: the confirmed spool offset (saved in the state file) only moves after the server
 * confirmed a packet; a packet that failed is re-sent byte for byte; the final status is set only
 * after the final log lines were confirmed (or the bounded wait ran out); nothing of the task
 * survives a kill (group, cgroup, environ sweep by CLEARML_TASK_ID).
 */
#include "supervisor/slot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/abort.h"
#include "supervisor/container.h"
#include "supervisor/descendants.h"
#include "supervisor/killtree.h"
#include "supervisor/redact.h"
#include "supervisor/secrets.h"
#include "runner/runner.h"
#include "runner/vcs.h"
#include "supervisor/shipper.h"
#include "proc.h"
#include "util.h"

#define RAW_MAX (4u << 20)          /* spool bytes held per read window */
#define PACKETS_PER_TICK 8
#define PARTIAL_HOLD_MS 1000        /* a line without '\n' waits this long for its end */
#define SHIP_DEADLINE_MS 5000
#define POLL_DEADLINE_MS 3000
#define STATUS_DEADLINE_MS 10000
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 10000
#define FLUSH_WAIT_MS 120000        /* agent.log_flush_wait_sec default: fast retries, then a warning */
#define FLUSH_WAIT_ABORT_MS 20000   /* how long a stopping agent waits for the last lines */
#define RECLAIM_STEP (1u << 20)     /* shipped spool bytes are punched out in steps of this */
#define RECLAIM_STEP_TRUNCATE 4096u /* ... with agent.truncate_task_output_files */
#define TASK_ENV_MARKER "CLEARML_TASK_ID"

extern char **environ;

struct slot {
	struct agent_ctx *ctx;
	int index;
	enum slot_state st;

	char *task_id, *queue_id, *queue_name;
	char *worker_id;      /* the worker id the task runs under (events, child env) */
	char *spool_path, *state_path, *task_path, *result_path;
	char *cgroup;
	char **launch_env;    /* slot_launch.env, copied (NULL-ended) */

	struct desc_set desc; /* the task's descendants, by parentage (descendants.h) */
	int spool_fd;         /* read side */
	pid_t pid;            /* runner = task, leader of its own session/group */
	int child_gone;
	int wait_status;

	/* shipping */
	struct shipper *sh;
	struct redactor red;  /* secrets masked before a byte leaves the machine */
	uint64_t redact_upto; /* spool bytes below this are masked in raw (or shipped) */
	char *raw;            /* spool bytes [confirmed, confirmed + raw_len) */
	size_t raw_len;
	uint64_t confirmed;
	struct buf pkt;
	struct ship_batch pending;
	int have_pending;
	uint64_t partial_start;
	int64_t partial_since;
	int64_t next_ship;
	int backoff_ms;
	int ship_failing;

	/* timers */
	int64_t next_abort, next_ping;

	/* stop / kill */
	struct abort_tracker ab;
	enum stop_reason stop;
	char *stop_detail;
	int64_t kill_deadline;
	int killed_hard;
	int callback_supported;
	double callback_max;

	/* runner result */
	int had_version;      /* the task named its commit: the runner's is not written back */
	int result_seen;
	int setup_failed;
	char *setup_reason;

	struct container *ctr; /* docker mode: this task's container (container.h), or NULL */
	char *ctr_reason;      /* why the engine says the task failed (OOM, no image), or NULL */

	int64_t flush_deadline;
	int flush_wait_ms;    /* agent.log_flush_wait_sec */
	int flush_warned;
	int leaving;          /* the agent is stopping: leave what cannot be sent for the next start */
	uint64_t reclaimed;   /* spool bytes [0, reclaimed) were punched out (already shipped) */
	unsigned reclaim_step;
	char *disk_full;      /* set when the state/spool directory ran out of space: the reason */
	const char *final_ep; /* the status the task earned: tasks.completed/failed/stopped, or NULL */
	char *final_reason;
	int code;             /* upstream-style exit code: N, or -S when killed by signal S */
	int exit_status;      /* what execute returns: N, or 128 + S */
};

/* ---- small helpers ---- */

static int
valid_task_id(const char *id)
{
	if (!id || !*id || strlen(id) > 128 || id[0] == '.')
		return 0;
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}


/* Call options: bounded; cancellable by the agent's signal flag unless it is the agent itself
 * stopping (then the final calls must still go out, bounded by their deadline). */
static struct api_call_opts
call_opts(const struct slot *s, const char *version, int deadline_ms)
{
	struct api_call_opts o = {.version = version, .deadline_ms = deadline_ms};
	if (s->stop != STOP_AGENT)
		o.cancel = s->ctx->cancel;
	return o;
}

static int
task_call(struct slot *s, const char *endpoint, const char *version, json_t *req, int deadline_ms,
          json_t **data, struct api_error *err)
{
	struct api_call_opts o = call_opts(s, version, deadline_ms);
	int rc = api_call_ex(s->ctx->api, endpoint, req, &o, data, err);
	json_decref(req);
	return rc;
}

static uint64_t
spool_size(const struct slot *s)
{
	struct stat st;
	if (s->spool_fd < 0 || fstat(s->spool_fd, &st) < 0)
		return s->confirmed + s->raw_len;
	return (uint64_t)st.st_size;
}

/* An agent line for the task's log (and the agent's own stdout, as upstream echoes it). */
static void
say(struct slot *s, const char *level, const char *fmt, ...) ATTR_PRINTF(3, 4);
static void
say(struct slot *s, const char *level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);
	redact_text(&s->red, text);
	if (s->sh)
		shipper_add_message(s->sh, spool_size(s), level, text);
	fputs(text, stdout);
	if (!str_ends_with(text, "\n"))
		fputc('\n', stdout);
	fflush(stdout);
	free(text);
}

/* ---- the agent's own disk ---- */

static void begin_kill(struct slot *s);

/* The state/spool directory is full: the task's output cannot be captured any more. Kill the
 * task and fail it with a reason that says so; what was written is still shipped. */
static void
note_disk_full(struct slot *s)
{
	if (s->disk_full)
		return;
	const char *dir = s->ctx->state_dir ? s->ctx->state_dir : ".";
	s->disk_full = xasprintf("agent disk full: no space left in the agent's state/spool directory "
	                         "%s (task log %s)", dir, s->spool_path ? s->spool_path : "?");
	log_error("task %s: %s", s->task_id, s->disk_full);
	if (s->sh)
		shipper_add_message(s->sh, spool_size(s), "ERROR", s->disk_full);
	if (s->st == SLOT_RUNNING && !s->child_gone) {
		s->stop = STOP_NONE;
		begin_kill(s);
	}
}

static void
check_disk(struct slot *s)
{
	const char *dir = s->ctx->state_dir ? s->ctx->state_dir : ".";
	struct statvfs v;
	if (s->disk_full || statvfs(dir, &v) < 0)
		return;
	unsigned long long avail = geteuid() == 0 ? v.f_bfree : v.f_bavail;
	if (avail == 0)
		note_disk_full(s);
}

/* Give back the disk space of spool bytes the server already confirmed (offsets stay valid:
 * the file keeps its size, the range reads as zeros and is never read again). */
static void
reclaim_spool(struct slot *s)
{
	if (s->spool_fd < 0 || !s->reclaim_step)
		return;
	uint64_t upto = s->confirmed & ~(uint64_t)4095;
	if (upto < s->reclaimed + s->reclaim_step)
		return;
	if (fallocate(s->spool_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s->reclaimed,
	              (off_t)(upto - s->reclaimed)) < 0) {
		log_debug("task %s: cannot reclaim spool space: %s", s->task_id, strerror(errno));
		s->reclaim_step = 0; /* not supported here: stop trying */
		return;
	}
	s->reclaimed = upto;
}

/* ---- state file ---- */

static void
save_state(struct slot *s)
{
	if (!s->state_path)
		return;
	json_t *st = json_pack("{s:i,s:i,s:i,s:s,s:I,s:s,s:s,s:s?,s:s?}", "agent_pid", (int)getpid(),
	                       "runner_pid", (int)s->pid, "pgid", (int)s->pid, "spool", s->spool_path,
	                       "offset", (json_int_t)s->confirmed, "task", s->task_id, "worker_id",
	                       s->worker_id, "queue", s->queue_id, "cgroup", s->cgroup);
	if (s->ctr)
		json_object_set_new(st, "container", json_pack("{s:s,s:s}", "name", container_name(s->ctr),
		                                               "engine", container_engine_bin(s->ctr)));
	if (s->st == SLOT_FLUSHING) {
		/* The task ended: what it earned is fixed now; a restarted agent sets exactly that. */
		json_object_set_new(st, "exit_code", json_integer(s->code));
		json_object_set_new(st, "final_status", s->final_ep ? json_string(s->final_ep) : json_null());
		if (s->final_reason)
			json_object_set_new(st, "final_reason", json_string(s->final_reason));
		/* the agent's own lines not yet confirmed (they are not in the spool) */
		json_t *msgs = json_array();
		for (size_t i = 0; s->sh && i < s->sh->nmsgs; i++)
			json_array_append_new(msgs, json_pack("[I,s,s]", (json_int_t)s->sh->msgs[i].off,
			                                      s->sh->msgs[i].level, s->sh->msgs[i].text));
		json_object_set_new(st, "messages", msgs);
	}
	char *text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	if (!text || write_file_atomic(s->state_path, text, strlen(text), 0600) < 0) {
		int err = text ? errno : ENOMEM;
		log_warn("task %s: cannot write state file %s: %s", s->task_id, s->state_path,
		         strerror(err));
		if (err == ENOSPC || err == EDQUOT)
			note_disk_full(s);
	}
	free(text);
}

/* ---- life-cycle calls ---- */

static void
set_runtime_hostname(struct slot *s)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s]}", "id", s->task_id, "only_fields", "runtime");
	if (task_call(s, "tasks.get_all", "2.15", req, POLL_DEADLINE_MS, &data, &e) < 0) {
		log_warn("task %s: could not read runtime properties: %s", s->task_id, e.msg);
		return;
	}
	json_t *t = json_array_get(json_object_get(data, "tasks"), 0);
	json_t *rt = json_object_get(t, "runtime");
	json_t *runtime = json_is_object(rt) ? json_deep_copy(rt) : json_object();
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	json_object_set_new(runtime, "_exec_agent_hostname", json_string(host));
	json_decref(data);
	req = json_pack("{s:s,s:b,s:o}", "task", s->task_id, "force", 1, "runtime", runtime);
	if (task_call(s, "tasks.edit", NULL, req, POLL_DEADLINE_MS, NULL, &e) < 0)
		log_warn("task %s: could not store the agent host name: %s", s->task_id, e.msg);
}

static int
mark_started(struct slot *s, const char *status_message, const char *status_reason)
{
	struct api_error e;
	json_t *req = json_pack("{s:s,s:b}", "task", s->task_id, "force", 1);
	if (status_message)
		json_object_set_new(req, "status_message", json_string(status_message));
	if (status_reason)
		json_object_set_new(req, "status_reason", json_string(status_reason));
	if (task_call(s, "tasks.started", NULL, req, STATUS_DEADLINE_MS, NULL, &e) < 0) {
		log_warn("task %s: tasks.started failed: %s", s->task_id, e.msg);
		return -1;
	}
	return 0;
}

/* tasks.completed / failed / stopped with the upstream strings; errors only logged (the task
 * may have set its own status). */
static void
set_final_status(struct slot *s, const char *endpoint, const char *reason)
{
	struct api_error e;
	char *msg = xasprintf("Changed by clearml-agent %s", s->worker_id ? s->worker_id : "");
	json_t *req = json_pack("{s:s,s:s,s:s}", "task", s->task_id, "status_reason", reason,
	                        "status_message", msg);
	free(msg);
	struct api_call_opts o = {.deadline_ms = STATUS_DEADLINE_MS};
	int rc = api_call_ex(s->ctx->api, endpoint, req, &o, NULL, &e);
	json_decref(req);
	if (rc < 0)
		log_warn("task %s: %s failed (task probably set its own status): %s", s->task_id,
		         endpoint, e.msg);
}

/* Fail a task that could not be started. */
static void
fail_start(struct slot *s, const char *reason)
{
	log_error("task %s: %s", s->task_id, reason);
	set_final_status(s, "tasks.failed", reason);
}

/* The "Environment" hyper-parameter section, for the runner (runner.h: "_environment"). */
static void
add_task_environment(struct slot *s, json_t *task)
{
	if (!cfg_bool(s->ctx->cfg->root, "agent.enable_task_env", 0))
		return;
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s]}", "tasks", s->task_id);
	if (task_call(s, "tasks.get_hyper_params", "2.9", req, POLL_DEADLINE_MS, &data, &e) < 0) {
		log_warn("task %s: could not read hyper-parameters: %s", s->task_id, e.msg);
		return;
	}
	json_t *env = json_object();
	json_t *params = json_object_get(json_array_get(json_object_get(data, "params"), 0),
	                                 "hyperparams");
	size_t i;
	json_t *p;
	json_array_foreach(params, i, p) {
		const char *sec = json_string_value(json_object_get(p, "section"));
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *v = json_object_get(p, "value");
		if (sec && name && strcmp(sec, "Environment") == 0)
			json_object_set_new(env, name, json_string(json_is_string(v) ? json_string_value(v) : ""));
	}
	json_object_set_new(task, "_environment", env);
	json_decref(data);
}

static int
fetch_task(struct slot *s)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:s}", "task", s->task_id);
	if (task_call(s, "tasks.get_by_id", NULL, req, STATUS_DEADLINE_MS, &data, &e) < 0) {
		char *r = xasprintf("Could not find task id=%s (%s)", s->task_id, e.msg);
		fail_start(s, r);
		free(r);
		return -1;
	}
	json_t *task = json_object_get(data, "task");
	if (!json_is_object(task)) {
		json_decref(data);
		fail_start(s, "tasks.get_by_id returned no task");
		return -1;
	}
	const char *ver = json_string_value(json_object_get(json_object_get(task, "script"), "version_num"));
	s->had_version = ver && *ver;
	add_task_environment(s, task);
	secrets_collect(&s->red, s->ctx->cfg ? s->ctx->cfg->root : NULL, task);
	char *text = json_dumps(task, JSON_INDENT(2));
	json_decref(data);
	int rc = text ? write_file_atomic(s->task_path, text, strlen(text), 0600) : -1;
	free(text);
	if (rc < 0) {
		char *r = xasprintf("cannot write %s: %s", s->task_path, strerror(errno));
		fail_start(s, r);
		free(r);
		return -1;
	}
	return 0;
}

/* ---- spawning the runner ---- */

/* One word for CLEARML_WORKER_TAGS: shell-quoted when needed (spec §1.3). */
static void
append_shell_word(struct buf *b, const char *w)
{
	int plain = *w != '\0';
	for (const char *p = w; *p && plain; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_", *p))
			plain = 0;
	if (b->len)
		buf_puts(b, " ");
	if (plain) {
		buf_puts(b, w);
		return;
	}
	buf_puts(b, "'");
	for (const char *p = w; *p; p++) {
		if (*p == '\'')
			buf_puts(b, "'\"'\"'");
		else
			buf_append(b, p, 1);
	}
	buf_puts(b, "'");
}

static pid_t
spawn_runner(struct slot *s, int spool_w)
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
		for (size_t i = 0; i < o->child_report_tags.n; i++)
			append_shell_word(&tags, o->child_report_tags.v[i]);
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

/* ---- slot object ---- */

/* Every slot of this process: a re-parented orphan is claimed by the task being killed only
 * when no other running task could own it. */
#define MAX_SLOTS 1024
static struct slot *g_slots[MAX_SLOTS];

static void
registry_add(struct slot *s)
{
	for (size_t i = 0; i < MAX_SLOTS; i++) {
		if (!g_slots[i]) {
			g_slots[i] = s;
			return;
		}
	}
}

static void
registry_remove(struct slot *s)
{
	for (size_t i = 0; i < MAX_SLOTS; i++)
		if (g_slots[i] == s)
			g_slots[i] = NULL;
}

static void
slot_read_limits(struct slot *s)
{
	const json_t *root = s->ctx->cfg ? s->ctx->cfg->root : NULL;
	double fw = root ? cfg_num(root, "agent.log_flush_wait_sec", FLUSH_WAIT_MS / 1000.0)
	                 : FLUSH_WAIT_MS / 1000.0;
	s->flush_wait_ms = fw < 0.1 ? 100 : fw > 86400.0 ? 86400000 : (int)(fw * 1000);
	s->reclaim_step = root && cfg_bool(root, "agent.truncate_task_output_files", 0)
	                      ? RECLAIM_STEP_TRUNCATE
	                      : RECLAIM_STEP;
}

static int
abort_wait_ms(const struct slot *s)
{
	return s->flush_wait_ms < FLUSH_WAIT_ABORT_MS ? s->flush_wait_ms : FLUSH_WAIT_ABORT_MS;
}

struct slot *
slot_new(struct agent_ctx *ctx, int index)
{
	struct slot *s = xcalloc(1, sizeof *s);
	s->ctx = ctx;
	s->index = index;
	s->spool_fd = -1;
	s->pid = -1;
	buf_init(&s->pkt, 2 * SHIP_MAX_PACKET);
	/* Descendants that detach themselves (setsid, double fork, empty environment) are
	 * re-parented to us instead of init, so they can be found and reaped without a cgroup. */
	static int subreaper;
	if (!subreaper) {
		subreaper = 1;
		if (desc_become_subreaper() < 0)
			log_debug("cannot become a child subreaper: %s", strerror(errno));
	}
	registry_add(s);
	return s;
}

static void
slot_reset(struct slot *s)
{
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	s->spool_fd = -1;
	if (s->sh) {
		shipper_free(s->sh);
		free(s->sh);
		s->sh = NULL;
	}
	free(s->raw);
	free(s->task_id);
	free(s->queue_id);
	free(s->queue_name);
	free(s->worker_id);
	free(s->spool_path);
	free(s->state_path);
	free(s->task_path);
	free(s->result_path);
	free(s->cgroup);
	for (char **e = s->launch_env; e && *e; e++)
		free(*e);
	free(s->launch_env);
	free(s->stop_detail);
	free(s->setup_reason);
	container_free(s->ctr);
	free(s->ctr_reason);
	free(s->disk_full);
	free(s->final_reason);
	desc_free(&s->desc);
	redact_free(&s->red);
	struct agent_ctx *ctx = s->ctx;
	int index = s->index;
	struct buf pkt = s->pkt;
	buf_reset(&pkt);
	memset(s, 0, sizeof *s);
	s->ctx = ctx;
	s->index = index;
	s->pkt = pkt;
	s->spool_fd = -1;
	s->pid = -1;
	s->st = SLOT_IDLE;
}

void
slot_free(struct slot *s)
{
	if (!s)
		return;
	slot_reset(s);
	buf_free(&s->pkt);
	registry_remove(s);
	free(s);
}

static void
remove_files(struct slot *s)
{
	const char *paths[] = {s->spool_path, s->task_path, s->result_path, s->state_path};
	for (size_t i = 0; i < ARRAY_LEN(paths); i++)
		if (paths[i])
			unlink(paths[i]);
	container_free(s->ctr); /* its io folder */
	s->ctr = NULL;
	if (s->cgroup) {
		for (int i = 0; i < 50 && killtree_cgroup_remove(s->cgroup) < 0 && errno == EBUSY; i++) {
			struct timespec ts = {0, 10 * 1000000};
			nanosleep(&ts, NULL);
		}
	}
}

static char *
child_worker_id(const struct slot *s)
{
	const struct cli_opts *o = s->ctx->opts;
	const char *w = s->ctx->worker_id ? s->ctx->worker_id : "";
	if (o && o->services_mode && !o->dynamic_gpus)
		return xasprintf("%s:service:%s", w, s->task_id);
	return xstrdup(w);
}

/* Docker mode: the task's container is prepared; the runner's result comes from its io folder. */
static int
start_container(struct slot *s)
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
		fail_start(s, reason);
		return -1;
	}
	free(s->result_path);
	s->result_path = xstrdup(container_result_file(s->ctr));
	return 0;
}

int
slot_start(struct slot *s, const char *task_id, const char *queue_id, const char *queue_name)
{
	return slot_start_ex(s, task_id, queue_id, queue_name, NULL);
}

int
slot_start_ex(struct slot *s, const char *task_id, const char *queue_id, const char *queue_name,
              const struct slot_launch *launch)
{
	slot_reset(s);
	s->task_id = xstrdup(task_id ? task_id : "");
	s->queue_id = queue_id ? xstrdup(queue_id) : NULL;
	s->queue_name = queue_name ? xstrdup(queue_name) : NULL;
	s->worker_id = launch && launch->worker_id ? xstrdup(launch->worker_id) : child_worker_id(s);
	if (launch && launch->env) {
		size_t n = 0;
		while (launch->env[n])
			n++;
		s->launch_env = xcalloc(n + 1, sizeof *s->launch_env);
		for (size_t i = 0; i < n; i++)
			s->launch_env[i] = xstrdup(launch->env[i]);
	}
	const json_t *root = s->ctx->cfg ? s->ctx->cfg->root : NULL;
	s->callback_supported = api_version_cmp(s->ctx->api, "2.13") >= 0;
	s->callback_max = root ? cfg_num(root, "agent.abort_callback_max_timeout", 1800) : 1800;
	slot_read_limits(s);

	if (!valid_task_id(s->task_id)) {
		/* never build a path from it; the server cannot hold such an id anyway */
		log_error("refusing task with an invalid id");
		slot_reset(s);
		return -1;
	}
	s->sh = xmalloc(sizeof *s->sh);
	shipper_init(s->sh, s->task_id, s->worker_id,
	             root ? cfg_bool(root, "agent.suppress_carriage_return", 1) : 1);

	if (queue_id) {
		if (mark_started(s, "pulled by agent", NULL) < 0)
			log_warn("task %s: could not mark it pulled", s->task_id);
		say(s, "INFO", "task %s pulled from %s by worker %s\n", s->task_id, queue_id,
		    s->worker_id);
	}
	printf("Running task '%s'\n", s->task_id);
	fflush(stdout);
	set_runtime_hostname(s);
	if (mark_started(s, "launch by agent", NULL) < 0) {
		fail_start(s, "could not mark the task started (tasks.started failed)");
		slot_reset(s);
		return -1;
	}

	const char *dir = s->ctx->state_dir ? s->ctx->state_dir : ".";
	if (mkdir_p(dir, 0700) < 0) {
		char *r = xasprintf("cannot create the agent state directory %s: %s", dir, strerror(errno));
		fail_start(s, r);
		free(r);
		slot_reset(s);
		return -1;
	}
	s->spool_path = xasprintf("%s/%s.spool", dir, s->task_id);
	s->state_path = xasprintf("%s/%s.state.json", dir, s->task_id);
	s->task_path = xasprintf("%s/%s.task.json", dir, s->task_id);
	s->result_path = xasprintf("%s/%s.result.json", dir, s->task_id);
	unlink(s->result_path);
	if (fetch_task(s) < 0) {
		remove_files(s);
		slot_reset(s);
		return -1;
	}
	if (s->ctx->container && start_container(s) < 0) {
		remove_files(s);
		slot_reset(s);
		return -1;
	}

	int spool_w = open(s->spool_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	/* read side; writable only to punch out shipped ranges (reclaim_spool) */
	s->spool_fd = spool_w >= 0 ? open(s->spool_path, O_RDWR | O_CLOEXEC) : -1;
	if (s->spool_fd < 0) {
		char *r = xasprintf("cannot create the spool file %s: %s", s->spool_path, strerror(errno));
		if (spool_w >= 0)
			close(spool_w);
		fail_start(s, r);
		free(r);
		remove_files(s);
		slot_reset(s);
		return -1;
	}
	s->raw = xmalloc(RAW_MAX);
	if (!root || cfg_bool(root, "agent.task_cgroup", 1)) {
		char name[256];
		snprintf(name, sizeof name, "clearml-task-%s-%d-%d", s->task_id, (int)getpid(), s->index);
		s->cgroup = killtree_cgroup_create(name);
	}
	save_state(s); /* before the fork: a crash right after it still leaves a trail */
	s->pid = spawn_runner(s, spool_w);
	close(spool_w);
	if (s->pid < 0) {
		char *r = xasprintf("cannot start the task process: %s", strerror(errno));
		fail_start(s, r);
		free(r);
		remove_files(s);
		slot_reset(s);
		return -1;
	}
	save_state(s);
	log_debug("task %s: runner pid %d, spool %s%s%s", s->task_id, (int)s->pid, s->spool_path,
	          s->cgroup ? ", cgroup " : "", s->cgroup ? s->cgroup : "");
	int64_t now = mono_ms();
	s->st = SLOT_RUNNING;
	s->next_ship = now;
	s->next_abort = now + (s->ctx->abort_poll_ms > 0 ? s->ctx->abort_poll_ms : 2000);
	s->next_ping = now + (int64_t)(s->ctx->ping_interval_sec > 0 ? s->ctx->ping_interval_sec : 60) * 1000;
	s->partial_start = UINT64_MAX;
	return 0;
}

/* ---- result file ---- */

static void
report_requirements(struct slot *s, json_t *reqs)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s]}", "id", s->task_id, "only_fields", "script.requirements");
	json_t *cur = NULL;
	if (task_call(s, "tasks.get_all", NULL, req, POLL_DEADLINE_MS, &data, &e) == 0) {
		json_t *t = json_array_get(json_object_get(data, "tasks"), 0);
		cur = json_object_get(json_object_get(t, "script"), "requirements");
	} else {
		log_warn("task %s: could not read its requirements: %s", s->task_id, e.msg);
	}
	json_t *out = json_is_object(cur) ? json_deep_copy(cur) : json_object();
	json_decref(data);
	/* The original requests are kept once, the first time (spec §5.7). */
	if (!json_object_get(out, "org_pip") && json_object_get(out, "pip"))
		json_object_set(out, "org_pip", json_object_get(out, "pip"));
	if (!json_object_get(out, "org_conda") && json_object_get(out, "conda"))
		json_object_set(out, "org_conda", json_object_get(out, "conda"));
	const char *key;
	json_t *v;
	json_object_foreach(reqs, key, v) json_object_set(out, key, v);
	req = json_pack("{s:s,s:o}", "task", s->task_id, "requirements", out);
	if (task_call(s, "tasks.set_requirements", "2.5", req, POLL_DEADLINE_MS, NULL, &e) < 0)
		log_warn("task %s: could not store the frozen requirements: %s", s->task_id, e.msg);
}

static void poll_abort(struct slot *s);

static void
check_result(struct slot *s)
{
	if (s->result_seen || !s->result_path)
		return;
	size_t len;
	char *text = read_file(s->result_path, 16u << 20, &len);
	if (!text)
		return;
	s->result_seen = 1;
	json_error_t jerr;
	json_t *r = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(r)) {
		log_warn("task %s: unreadable result file: %s", s->task_id, jerr.text);
		json_decref(r);
		return;
	}
	const char *status = json_string_value(json_object_get(r, "status"));
	if (status && strcmp(status, "ready") == 0) {
		json_t *reqs = json_object_get(r, "requirements");
		if (json_is_object(reqs) && json_object_size(reqs))
			report_requirements(s, reqs);
		const char *ver = json_string_value(json_object_get(r, "version_num"));
		if (ver && *ver && !s->had_version) {
			struct api_error e;
			json_t *req = json_pack("{s:s,s:b,s:{s:s}}", "task", s->task_id, "force", 1, "script",
			                        "version_num", ver);
			if (task_call(s, "tasks.edit", "2.5", req, POLL_DEADLINE_MS, NULL, &e) < 0)
				log_warn("task %s: could not store the commit: %s", s->task_id, e.msg);
		}
		/* An abort that arrived during the set-up lives only in status_message ("stopping");
		 * tasks.started would overwrite it, so look first (upstream loses such a stop). */
		poll_abort(s);
		if (s->st == SLOT_RUNNING) {
			mark_started(s, NULL, "worker starting task execution");
			/* ... and once more right after it: a stop that landed between that look and the
			 * update is kept by the server ("stopping" survives a re-confirming tasks.started,
			 * server-lite) and is seen now instead of never. */
			if (s->st == SLOT_RUNNING)
				poll_abort(s);
		}
	} else if (status && strcmp(status, "failed") == 0) {
		s->setup_failed = 1;
		const char *why = json_string_value(json_object_get(r, "status_reason"));
		free(s->setup_reason);
		s->setup_reason = xstrdup(why && *why ? why : "task environment setup failed");
	}
	json_decref(r);
}

/* ---- shipping ---- */

static void
advance(struct slot *s, const struct ship_batch *b)
{
	shipper_commit(s->sh, b);
	if (b->consumed) {
		memmove(s->raw, s->raw + b->consumed, s->raw_len - b->consumed);
		s->raw_len -= b->consumed;
		s->confirmed += b->consumed;
		save_state(s);
		reclaim_spool(s);
	}
}

static void
fill_raw(struct slot *s)
{
	while (s->raw_len < RAW_MAX) {
		ssize_t n = pread(s->spool_fd, s->raw + s->raw_len, RAW_MAX - s->raw_len,
		                  (off_t)(s->confirmed + s->raw_len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s->raw_len += (size_t)n;
	}
}

/* Ship what is due. flush: the child is gone, send partial lines too. Returns 1 when everything
 * read so far is confirmed. */
static int
ship(struct slot *s, int flush)
{
	int64_t now = mono_ms();
	if (now < s->next_ship)
		return 0;
	for (int round = 0; round < PACKETS_PER_TICK; round++) {
		if (!s->have_pending) {
			if (s->spool_fd >= 0)
				fill_raw(s);
			/* mask secrets; a tail that may be the start of one waits for its rest */
			size_t from = s->redact_upto > s->confirmed ? (size_t)(s->redact_upto - s->confirmed) : 0;
			if (from > s->raw_len)
				from = s->raw_len;
			size_t len = redact_apply(&s->red, s->raw, s->raw_len, from,
			                          flush && s->raw_len < RAW_MAX);
			s->redact_upto = s->confirmed + len;
			int flush_partial = flush;
			const char *nl = len ? memrchr(s->raw, '\n', len) : NULL;
			size_t whole = nl ? (size_t)(nl - s->raw) + 1 : 0;
			if (whole < len && !flush_partial) {
				uint64_t pstart = s->confirmed + whole;
				if (pstart != s->partial_start) {
					s->partial_start = pstart;
					s->partial_since = now;
				}
				if (now - s->partial_since >= PARTIAL_HOLD_MS || (whole == 0 && len == RAW_MAX))
					flush_partial = 1;
			}
			shipper_build(s->sh, s->raw, len, s->confirmed, flush_partial, now_ms(), &s->pkt,
			              &s->pending);
			if (s->pending.events == 0) {
				if (s->pending.consumed || s->pending.msgs) {
					advance(s, &s->pending);
					continue;
				}
				return s->raw_len == 0 && shipper_pending_messages(s->sh) == 0;
			}
			s->have_pending = 1;
		}
		/* While the server is away, fail fast: the back-off spaces the attempts, and the loop
		 * (other slots, kills in progress) must not wait on a dead server. */
		struct api_call_opts o = call_opts(s, NULL, s->ship_failing ? 1000 : SHIP_DEADLINE_MS);
		struct api_error e;
		json_t *data = NULL;
		int64_t t0 = mono_ms();
		int rc = api_call_batch(s->ctx->api, "events.add_batch", s->pkt.data, s->pkt.len, &o, &data,
		                        &e);
		log_debug("task %s: %zu log events (%zu bytes) sent in %lld ms: %s", s->task_id,
		          s->pending.events, s->pkt.len, (long long)(mono_ms() - t0), rc == 0 ? "ok" : e.msg);
		if (rc < 0 && e.http_status >= 400 && e.http_status < 500 && e.http_status != 408 &&
		    e.http_status != 429) {
			/* The server answered and refused (task deleted, published...): re-sending the same
			 * packet cannot succeed. */
			log_error("task %s: the server refused %zu log events: %s", s->task_id,
			          s->pending.events, e.msg);
			rc = 0;
		}
		if (rc < 0) {
			if (!s->ship_failing)
				log_warn("task %s: sending log events failed, will retry: %s", s->task_id, e.msg);
			s->ship_failing = 1;
			s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
			if (s->backoff_ms > BACKOFF_MAX_MS)
				s->backoff_ms = BACKOFF_MAX_MS;
			/* full jitter in [backoff/2, backoff] */
			s->next_ship = mono_ms() + s->backoff_ms / 2 +
			               (int64_t)(random_unit() * (double)(s->backoff_ms / 2));
			return 0;
		}
		if (data) {
			json_int_t added = json_integer_value(json_object_get(data, "added"));
			if ((size_t)added != s->pending.events) {
				char *errs = json_dumps(json_object_get(data, "errors_info"), JSON_COMPACT | JSON_ENCODE_ANY);
				log_error("Error (%s) sending events only %lld of %zu registered",
				          errs ? errs : "null", (long long)added, s->pending.events);
				free(errs);
			}
			json_decref(data);
		}
		if (s->ship_failing)
			log_info("task %s: sending log events works again", s->task_id);
		s->ship_failing = 0;
		s->backoff_ms = 0;
		s->have_pending = 0;
		advance(s, &s->pending);
	}
	return 0;
}

static int
all_shipped(struct slot *s)
{
	return !s->have_pending && s->raw_len == 0 && shipper_pending_messages(s->sh) == 0 &&
	       spool_size(s) <= s->confirmed;
}

/* ---- abort ---- */

static int
task_alive(const struct slot *s)
{
	return (s->st == SLOT_RUNNING || s->st == SLOT_KILLING) && !s->child_gone && s->pid > 1;
}

/* Children of the agent that are not a slot's own process: orphans of some task, re-parented to
 * us (we are a subreaper). They are this task's when no other running task may own them. A child
 * in the agent's own session is one of the agent's helpers (tasks run in sessions of their own,
 * and so does everything they start), never an orphan of a task. */
static void
claim_orphans(struct slot *s)
{
	struct proc_ent *tab;
	long n = desc_read_table(&tab);
	pid_t self = getpid(), own_sid = getsid(0);
	for (long j = 0; j < n; j++) {
		if (tab[j].ppid != self || tab[j].state == 'Z' || tab[j].sid == own_sid)
			continue;
		int other = 0;
		for (size_t i = 0; i < MAX_SLOTS && !other; i++) {
			struct slot *o = g_slots[i];
			if (!o)
				continue;
			if (o->pid == tab[j].pid && task_alive(o))
				other = 1; /* a task itself, ours or not */
			else if (o != s && (task_alive(o) || desc_contains(&o->desc, tab[j].pid, tab[j].start)))
				other = 1;
		}
		if (!other)
			desc_add(&s->desc, &tab[j]);
	}
	if (n >= 0)
		desc_close(&s->desc, tab, (size_t)n, 0);
	free(tab);
}

static void
hard_kill(struct slot *s)
{
	/* The group id is only safe to signal while its leader is not reaped (a reaped pid may be
	 * reused); afterwards the cgroup and the environ sweep find the members. */
	if (s->pid > 1 && !s->child_gone)
		killtree_signal_group(s->pid, SIGKILL);
	if (s->cgroup)
		killtree_cgroup_kill(s->cgroup);
	killtree_sweep_env(TASK_ENV_MARKER, s->task_id);
	/* and whatever it started, however it detached itself */
	desc_update(&s->desc, s->child_gone ? 0 : s->pid);
	claim_orphans(s);
	desc_kill(&s->desc);
	if (s->ctr && !s->killed_hard)
		container_kill(s->ctr); /* a killed client leaves its container running */
	s->killed_hard = 1;
}

static void
start_kill(struct slot *s, enum stop_reason why, const char *detail)
{
	s->stop = why;
	free(s->stop_detail);
	s->stop_detail = detail ? xstrdup(detail) : NULL;
	if (why == STOP_EXCEPTION)
		say(s, "ERROR", "Task failed: stopping task (%d) %s\n", stop_reason_code(why),
		    stop_reason_name(why));
	else if (why == STOP_AGENT)
		say(s, "ERROR", "Agent stopping: stopping task (%d) %s\n", stop_reason_code(why),
		    detail ? detail : stop_reason_name(why));
	else
		say(s, "ERROR", "User aborted: stopping task (%d) %s\n", stop_reason_code(why),
		    stop_reason_name(why));
	begin_kill(s);
}

/* Signal the task's group, start the grace period (or kill at once). */
static void
begin_kill(struct slot *s)
{
	s->st = SLOT_KILLING;
	int sig = s->ctx->kill_signal > 0 ? s->ctx->kill_signal : SIGTERM;
	if (s->child_gone) {
		hard_kill(s);
		return;
	}
	if (s->pid > 1)
		killtree_signal_group(s->pid, sig);
	s->kill_deadline = mono_ms() + (int64_t)(s->ctx->kill_grace_sec > 0 ? s->ctx->kill_grace_sec : 0) * 1000;
	if (s->ctx->kill_grace_sec <= 0 || sig == SIGKILL)
		hard_kill(s);
}

static void
read_callback_runtime(struct slot *s, struct abort_runtime *rt)
{
	memset(rt, 0, sizeof *rt);
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s]}", "id", s->task_id, "only_fields", "runtime");
	if (task_call(s, "tasks.get_all", "2.13", req, POLL_DEADLINE_MS, &data, &e) < 0)
		return;
	json_t *runtime = json_object_get(json_array_get(json_object_get(data, "tasks"), 0), "runtime");
	const char *keys[] = {"_abort_callback_timeout", "_abort_poll_freq", "_abort_callback_completed"};
	char val[3][64] = {"", "", ""};
	for (int i = 0; i < 3; i++) {
		json_t *v = json_object_get(runtime, keys[i]);
		if (json_is_string(v))
			snprintf(val[i], sizeof val[i], "%s", json_string_value(v));
		else if (json_is_number(v))
			snprintf(val[i], sizeof val[i], "%g", json_number_value(v));
		else if (json_is_true(v))
			snprintf(val[i], sizeof val[i], "1");
	}
	rt->timeout = abort_runtime_number(val[0]);
	rt->poll_freq = abort_runtime_number(val[1]);
	rt->completed = abort_runtime_truthy(val[2]);
	json_decref(data);
}

static void
poll_abort(struct slot *s)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s,s],s:b}", "id", s->task_id, "only_fields", "status",
	                        "status_message", "search_hidden", 1);
	if (task_call(s, "tasks.get_all", "2.14", req, POLL_DEADLINE_MS, &data, &e) < 0) {
		log_debug("task %s: status poll failed: %s", s->task_id, e.msg);
		return;
	}
	json_t *t = json_array_get(json_object_get(data, "tasks"), 0);
	struct abort_obs obs = {
		.found = t != NULL,
		.status = json_string_value(json_object_get(t, "status")),
		.status_message = json_string_value(json_object_get(t, "status_message")),
	};
	char line[512];
	enum stop_reason r = abort_classify(&s->ab, s->task_id, &obs, line, sizeof line);
	char status[64];
	snprintf(status, sizeof status, "%s", obs.status ? obs.status : "");
	json_decref(data);
	if (line[0])
		say(s, "WARNING", "%s", line);
	if (r == STOP_NONE)
		return;
	if (s->callback_supported &&
	    (r == STOP_STOPPED || r == STOP_STATUS_CHANGED || r == STOP_EXCEPTION)) {
		struct abort_runtime rt;
		read_callback_runtime(s, &rt);
		int go = abort_callback_gate(&s->ab, &rt, (double)mono_ms() / 1000.0, s->callback_max, line,
		                             sizeof line);
		if (line[0])
			say(s, "INFO", "%s", line);
		if (!go)
			return;
	}
	start_kill(s, r, status);
}

static void
ping(struct slot *s)
{
	struct api_error e;
	json_t *req = json_pack("{s:s}", "task", s->task_id);
	if (task_call(s, "tasks.ping", NULL, req, POLL_DEADLINE_MS, NULL, &e) < 0)
		log_debug("task %s: ping failed: %s", s->task_id, e.msg);
}

/* ---- the end ---- */

static void earn_final(struct slot *s);

/* The child is reaped: kill what it left, decide the outcome, queue the final line. */
static void
on_child_gone(struct slot *s)
{
	/* Leftover descendants never outlive the task (upstream kills them too). */
	check_result(s);
	if (s->ctr && !s->killed_hard)
		s->ctr_reason = container_exit_reason(s->ctr, s->wait_status, s->setup_failed);
	else if (s->ctr)
		container_kill(s->ctr); /* again: a client killed mid-create may have left one behind */
	hard_kill(s);
	check_disk(s);
	int ws = s->wait_status;
	int code;
	if (WIFEXITED(ws)) {
		code = WEXITSTATUS(ws);
		s->exit_status = code;
	} else if (WIFSIGNALED(ws)) {
		code = -WTERMSIG(ws);
		s->exit_status = 128 + WTERMSIG(ws);
	} else {
		code = -1;
		s->exit_status = 1;
	}
	/* The SDK's abort callback finished and the task killed itself: that was a stop. */
	if (s->stop == STOP_NONE && s->ab.cb_active && s->ab.cb_completed && (code == -9 || code == 137))
		s->stop = STOP_STOPPED;

	switch (s->stop) {
	case STOP_STOPPED:
		say(s, "INFO", "Process aborted by user\n");
		break;
	case STOP_STATUS_CHANGED:
		say(s, "INFO", "Process terminated, task status changed to %s\n",
		    s->stop_detail ? s->stop_detail : "?");
		break;
	case STOP_EXCEPTION:
		say(s, "INFO", "Process terminated, task status changed to failed\n");
		break;
	case STOP_RESET:
		say(s, "INFO", "Process terminated, task was reset\n");
		break;
	case STOP_NOT_FOUND:
		say(s, "INFO", "Process terminated, task was not found\n");
		break;
	case STOP_AGENT:
		say(s, "INFO", "Process aborted: %s\n", s->stop_detail ? s->stop_detail : "agent stopped");
		break;
	case STOP_NONE:
		if (code == 0)
			say(s, "INFO", "Process completed successfully\n");
		else if (code == -2 || code == 254)
			say(s, "INFO", "Process terminated by user\n");
		else if (s->setup_failed && code == RUNNER_EXIT_SETUP_FAILED)
			say(s, "INFO", "Process failed, exit code %d: %s\n", code, s->setup_reason);
		else if (s->ctr_reason)
			say(s, "INFO", "Process failed, exit code %d: %s\n", code, s->ctr_reason);
		else
			say(s, "INFO", "Process failed, exit code %d\n", code);
		break;
	}
	s->code = code;
	earn_final(s);
	s->st = SLOT_FLUSHING;
	s->next_ship = 0;
	if (s->stop == STOP_AGENT)
		s->leaving = 1;
	s->flush_deadline = mono_ms() + (s->leaving ? abort_wait_ms(s) : s->flush_wait_ms);
	save_state(s); /* the earned status survives a restart */
}

/* The status the task's end earned (set once its log is delivered). */
static void
earn_final(struct slot *s)
{
	int code = s->code;
	const char *ep = NULL;
	char *reason = NULL;
	switch (s->stop) {
	case STOP_STOPPED:
		ep = "tasks.stopped";
		reason = xstrdup("task was stopped by tasks.stop");
		break;
	case STOP_AGENT:
		ep = "tasks.stopped";
		reason = xstrdup(s->stop_detail ? s->stop_detail : "agent stopped");
		break;
	case STOP_STATUS_CHANGED:
	case STOP_EXCEPTION:
	case STOP_RESET:
	case STOP_NOT_FOUND:
		break; /* only logged, as upstream */
	case STOP_NONE:
		if (s->disk_full) {
			ep = "tasks.failed";
			reason = xstrdup(s->disk_full);
		} else if (code == 0) {
			ep = "tasks.completed";
			reason = xstrdup("worker execution done");
		} else if (code == -2 || code == 254) {
			ep = "tasks.stopped";
			reason = xstrdup("user abort");
		} else if (s->setup_failed && code == RUNNER_EXIT_SETUP_FAILED) {
			ep = "tasks.failed";
			reason = xstrdup(s->setup_reason);
		} else if (s->ctr_reason) {
			ep = "tasks.failed";
			reason = xstrdup(s->ctr_reason);
		} else {
			ep = "tasks.failed";
			reason = xasprintf("worker execution exit code %d", code);
		}
		break;
	}
	s->final_ep = ep;
	free(s->final_reason);
	s->final_reason = reason;
}

static void
finalize(struct slot *s)
{
	if (s->final_ep)
		set_final_status(s, s->final_ep, s->final_reason ? s->final_reason : "");
	printf("DONE: Running task '%s', exit status %d%s\n", s->task_id, s->code,
	       s->stop == STOP_STOPPED ? " (user aborted)" : "");
	fflush(stdout);
	close(s->spool_fd);
	s->spool_fd = -1;
	remove_files(s);
	s->st = SLOT_DONE;
}

/* The agent is stopping and the server still has not taken the rest of the log: never drop
 * lines, never set a status the log does not back yet. The spool and its state file (confirmed
 * offset, earned status) stay, and the next agent start ships the rest and sets that status. */
static void
leave_for_next_start(struct slot *s)
{
	log_warn("task %s: the rest of its log (%llu bytes) and its final status (%s) stay in %s for "
	         "the next agent start",
	         s->task_id, (unsigned long long)(spool_size(s) - s->confirmed),
	         s->final_ep ? s->final_ep : "left as it is", s->spool_path);
	printf("DONE: Running task '%s', exit status %d%s\n", s->task_id, s->code,
	       s->stop == STOP_STOPPED ? " (user aborted)" : "");
	fflush(stdout);
	save_state(s);
	close(s->spool_fd);
	s->spool_fd = -1;
	char *spool = s->spool_path, *state = s->state_path;
	s->spool_path = s->state_path = NULL;
	remove_files(s);
	s->spool_path = spool;
	s->state_path = state;
	s->st = SLOT_DONE;
}

enum slot_state
slot_tick(struct slot *s, int64_t now_hint)
{
	(void)now_hint; /* timers run on the monotonic clock */
	if (s->st == SLOT_IDLE || s->st == SLOT_DONE)
		return s->st;
	int64_t now = mono_ms();
	check_result(s);

	if (s->st == SLOT_RUNNING && !s->child_gone)
		check_disk(s);
	if (task_alive(s))
		desc_update_shared(&s->desc, s->pid);
	if (s->st == SLOT_RUNNING && !s->child_gone && now >= s->next_abort) {
		/* the server is known to be away (log packets failing): nothing to learn from it now */
		if (!s->ship_failing)
			poll_abort(s);
		s->next_abort = mono_ms() + (s->ctx->abort_poll_ms > 0 ? s->ctx->abort_poll_ms : 2000);
	}
	if (s->st == SLOT_KILLING && !s->child_gone && !s->killed_hard && mono_ms() >= s->kill_deadline)
		hard_kill(s);

	if (s->child_gone && s->st != SLOT_FLUSHING)
		on_child_gone(s);

	ship(s, s->child_gone);

	if (s->st == SLOT_RUNNING && !s->child_gone && s->ctx->ping_interval_sec > 0 &&
	    mono_ms() >= s->next_ping) {
		ping(s);
		s->next_ping = mono_ms() + (int64_t)s->ctx->ping_interval_sec * 1000;
	}
	if (s->st == SLOT_FLUSHING) {
		if (all_shipped(s)) {
			finalize(s);
		} else if (mono_ms() >= s->flush_deadline) {
			if (s->leaving) {
				leave_for_next_start(s);
			} else if (!s->flush_warned) {
				/* However long the outage: the slot stays busy, retries with back-off, and sets
				 * the earned status once the last line is confirmed. */
				s->flush_warned = 1;
				log_warn("task %s: %llu bytes of its log are still not confirmed after %d s; "
				         "retrying until the server takes them, then setting its status (%s)",
				         s->task_id, (unsigned long long)(spool_size(s) - s->confirmed),
				         s->flush_wait_ms / 1000, s->final_ep ? s->final_ep : "left as it is");
			}
		}
	}
	return s->st;
}

pid_t
slot_pid(const struct slot *s)
{
	if ((s->st == SLOT_RUNNING || s->st == SLOT_KILLING) && !s->child_gone)
		return s->pid;
	return -1;
}

void
slot_child_exited(struct slot *s, int wait_status)
{
	if (s->child_gone)
		return;
	s->child_gone = 1;
	s->wait_status = wait_status;
	/* Leftovers in the task's group die with it (upstream kills them too). Done at once: the
	 * leader was reaped a moment ago, before its pid can realistically be handed out again. */
	if (s->pid > 1)
		killtree_signal_group(s->pid, SIGKILL);
}

void
slot_abort(struct slot *s, const char *reason)
{
	if (s->st == SLOT_FLUSHING || (s->st == SLOT_RUNNING && s->child_gone)) {
		/* it already ended on its own: report that, not an abort; the agent is leaving, so
		 * what the server cannot take soon is left for the next start */
		int64_t d = mono_ms() + abort_wait_ms(s);
		if (!s->leaving || d < s->flush_deadline)
			s->flush_deadline = d;
		s->leaving = 1;
	} else if (s->st == SLOT_RUNNING) {
		start_kill(s, STOP_AGENT, reason ? reason : "task was stopped because the agent was stopped");
	} else if (s->st == SLOT_KILLING && !s->killed_hard && !s->child_gone) {
		hard_kill(s); /* asked twice: no more grace */
	}
}

int
slot_finish(struct slot *s)
{
	int rc = s->exit_status;
	slot_reset(s);
	return rc;
}

enum slot_state
slot_state(const struct slot *s)
{
	return s->st;
}

const char *
slot_task_id(const struct slot *s)
{
	return s->task_id;
}

const char *
slot_worker_id(const struct slot *s)
{
	return s->st == SLOT_IDLE ? NULL : s->worker_id;
}

/* ---- recovery ---- */

static int
pid_is_live_agent(pid_t pid, const char *self_exe)
{
	if (pid <= 1 || pid == getpid())
		return pid == getpid();
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	char path[64], exe[4096];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof exe - 1);
	if (n < 0)
		return 1; /* cannot tell: leave it alone */
	exe[n] = '\0';
	if (str_ends_with(exe, " (deleted)"))
		exe[n - 10] = '\0';
	/* the pid now belongs to something else: the agent is gone */
	if (self_exe && strcmp(exe, self_exe) != 0 && !strstr(exe, "clearml-agent"))
		return 0;
	return 1;
}

static void
recover_one(struct agent_ctx *ctx, const char *state_path)
{
	size_t len;
	char *text = read_file(state_path, 1 << 20, &len);
	json_t *st = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	const char *tid = json_string_value(json_object_get(st, "task"));
	if (!json_is_object(st) || !valid_task_id(tid)) {
		log_warn("ignoring unreadable agent state file %s", state_path);
		json_decref(st);
		return;
	}
	char task[160];
	snprintf(task, sizeof task, "%s", tid);
	pid_t agent = (pid_t)json_integer_value(json_object_get(st, "agent_pid"));
	if (pid_is_live_agent(agent, ctx->self_exe)) {
		json_decref(st);
		return;
	}
	struct slot *s = slot_new(ctx, 0);
	s->task_id = xstrdup(task);
	const char *w = json_string_value(json_object_get(st, "worker_id"));
	s->worker_id = xstrdup(w ? w : (ctx->worker_id ? ctx->worker_id : ""));
	const char *spool = json_string_value(json_object_get(st, "spool"));
	const char *cg = json_string_value(json_object_get(st, "cgroup"));
	s->cgroup = cg && str_starts_with(cg, "/sys/fs/cgroup/") && !strstr(cg, "..") ? xstrdup(cg) : NULL;
	s->state_path = xstrdup(state_path);
	const char *dir = ctx->state_dir ? ctx->state_dir : ".";
	s->spool_path = xasprintf("%s/%s.spool", dir, task);
	s->task_path = xasprintf("%s/%s.task.json", dir, task);
	s->result_path = xasprintf("%s/%s.result.json", dir, task);
	if (spool && strcmp(spool, s->spool_path) != 0)
		log_warn("state file %s names spool %s; using %s", state_path, spool, s->spool_path);
	json_int_t off = json_integer_value(json_object_get(st, "offset"));
	s->confirmed = off > 0 ? (uint64_t)off : 0;
	pid_t pgid = (pid_t)json_integer_value(json_object_get(st, "pgid"));
	const json_t *ctr = json_object_get(st, "container");
	char *ctr_name = json_string_value(json_object_get(ctr, "name"))
	                     ? xstrdup(json_string_value(json_object_get(ctr, "name"))) : NULL;
	char *ctr_engine = json_string_value(json_object_get(ctr, "engine"))
	                       ? xstrdup(json_string_value(json_object_get(ctr, "engine"))) : NULL;
	/* A task that had ended before its agent went keeps the status its exit earned. */
	int earned = json_object_get(st, "exit_code") != NULL;
	const char *fe = json_string_value(json_object_get(st, "final_status"));
	static const char *const finals[] = {"tasks.completed", "tasks.failed", "tasks.stopped"};
	for (size_t i = 0; fe && i < ARRAY_LEN(finals); i++)
		if (strcmp(fe, finals[i]) == 0)
			s->final_ep = finals[i];
	const char *fr = json_string_value(json_object_get(st, "final_reason"));
	s->final_reason = fr ? xstrdup(fr) : NULL;
	s->code = (int)json_integer_value(json_object_get(st, "exit_code"));
	json_t *msgs = json_object_get(st, "messages");
	if (earned)
		s->st = SLOT_FLUSHING; /* save_state keeps the earned status while shipping */
	slot_read_limits(s);

	log_info("task %s: the agent that ran it (pid %d) is gone; finishing it", task, (int)agent);
	/* Only signal the recorded group if its leader is still that task's process: pids are
	 * reused. The environ sweep finds the rest either way. */
	if (pgid > 1 && !killtree_env_match(pgid, TASK_ENV_MARKER, task))
		pgid = 0;
	if (killtree_kill(pgid, s->cgroup, TASK_ENV_MARKER, task, SIGKILL, 0) < 0)
		log_warn("task %s: some of its processes could not be killed", task);
	if (ctr_name && ctr_engine && strchr(ctr_engine, ' ') == NULL) {
		log_info("task %s: removing its container %s", task, ctr_name);
		container_remove_by_name(ctr_engine, ctr_name);
	}
	free(ctr_name);
	free(ctr_engine);
	char *io = xasprintf("%s/%s.docker", dir, task);
	rm_rf(io);
	free(io);

	s->sh = xmalloc(sizeof *s->sh);
	const json_t *root = ctx->cfg ? ctx->cfg->root : NULL;
	shipper_init(s->sh, s->task_id, s->worker_id,
	             root ? cfg_bool(root, "agent.suppress_carriage_return", 1) : 1);
	secrets_collect(&s->red, root, NULL);
	size_t mi;
	json_t *m;
	json_array_foreach(msgs, mi, m) {
		json_int_t moff = json_integer_value(json_array_get(m, 0));
		const char *lvl = json_string_value(json_array_get(m, 1));
		const char *txt = json_string_value(json_array_get(m, 2));
		if (moff >= 0 && lvl && txt && strlen(lvl) < sizeof s->sh->msgs[0].level)
			shipper_add_message(s->sh, (uint64_t)moff, lvl, txt);
	}
	json_decref(st);
	s->raw = xmalloc(RAW_MAX);
	s->spool_fd = open(s->spool_path, O_RDWR | O_CLOEXEC);
	if (s->spool_fd < 0)
		s->spool_fd = open(s->spool_path, O_RDONLY | O_CLOEXEC);
	s->stop = STOP_AGENT; /* calls are bounded by deadlines, not by the cancel flag */

	/* Is the task still ours to finish? */
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s],s:b}", "id", task, "only_fields", "status",
	                        "search_hidden", 1);
	const char *status = NULL;
	char status_buf[64] = "";
	if (task_call(s, "tasks.get_all", "2.14", req, STATUS_DEADLINE_MS, &data, &e) == 0) {
		json_t *t = json_array_get(json_object_get(data, "tasks"), 0);
		const char *tst = json_string_value(json_object_get(t, "status"));
		snprintf(status_buf, sizeof status_buf, "%s", tst ? tst : "");
		status = status_buf;
	}
	json_decref(data);
	int in_progress = status && strcmp(status, "in_progress") == 0;
	if (in_progress && !earned)
		say(s, "ERROR", "Process terminated: clearml-agent restarted while the task was running\n");

	int64_t deadline = mono_ms() + (s->flush_wait_ms < FLUSH_WAIT_MS / 4 ? s->flush_wait_ms
	                                                                      : FLUSH_WAIT_MS / 4);
	int shipped = 0;
	while (s->spool_fd >= 0 || shipper_pending_messages(s->sh)) {
		s->next_ship = 0;
		if (ship(s, 1) && all_shipped(s)) {
			shipped = 1;
			break;
		}
		if (mono_ms() >= deadline) {
			log_error("task %s: could not send the rest of its log", task);
			break;
		}
		if (s->ship_failing) {
			struct timespec ts = {0, 200 * 1000000};
			nanosleep(&ts, NULL);
		}
	}
	if (s->spool_fd < 0 && !shipper_pending_messages(s->sh))
		shipped = 1;
	if (status && !shipped) {
		/* never drop lines: keep the trail (offset, earned status) for the next start */
		log_warn("task %s: the rest of its log stays in %s for the next agent start", task,
		         s->spool_path);
		slot_free(s);
		return;
	}
	if (in_progress && earned) {
		if (s->final_ep)
			set_final_status(s, s->final_ep, s->final_reason ? s->final_reason : "");
		log_info("task %s: log delivered; status %s as its exit (%d) earned", task,
		         s->final_ep ? s->final_ep : "left as it is", s->code);
	} else if (in_progress) {
		set_final_status(s, "tasks.failed", "agent restarted while the task was running");
	}
	if (status && s->worker_id && ctx->worker_id && strcmp(s->worker_id, ctx->worker_id) != 0) {
		/* a task with its own worker id (services mode, dynamic GPUs): that worker is gone */
		json_t *ureq = json_pack("{s:s}", "worker", s->worker_id);
		if (task_call(s, "workers.unregister", NULL, ureq, POLL_DEADLINE_MS, NULL, &e) < 0)
			log_debug("task %s: could not unregister worker %s: %s", task, s->worker_id, e.msg);
	}
	if (in_progress) {
		/* finalised above */
	} else if (status) {
		log_info("task %s: status is %s; left as it is", task, status);
	} else {
		/* server unreachable: keep the trail for the next start (its processes are gone) */
		log_warn("task %s: could not read its status, will retry at the next start: %s", task,
		         e.msg);
		slot_free(s);
		return;
	}
	remove_files(s);
	slot_free(s);
}

int
slot_recover_orphans(struct agent_ctx *ctx)
{
	/* empty task cgroups of agents that died (recovered below or not) */
	killtree_cgroup_remove_stale("clearml-task-");
	if (!ctx->state_dir)
		return 0;
	DIR *d = opendir(ctx->state_dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	while ((e = readdir(d)) != NULL) {
		if (!str_ends_with(e->d_name, ".state.json") || e->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xasprintf("%s/%s", ctx->state_dir, e->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		recover_one(ctx, names[i]);
		free(names[i]);
	}
	free(names);
	/* containers of dead agents that no state file named (their tasks were finalised above) */
	if (ctx->container)
		container_sweep_orphans(ctx);
	return 0;
}
