/*
 * execute — `clearml-agent execute --id <task>` (spec §1.4, §5.1 steps 1–4 and 11).
 *
 * Common part: resolve the task (id, or exact name via tasks.get_all), `--clone` (tasks.clone
 * "Clone of <name>"), else tasks.dequeue{new_status: in_progress} and, when that updated the task,
 * tasks.started("starting execution soon"); `--require-queue` fails when nothing was dequeued.
 * Then one of three modes:
 *   --disable-monitoring  the process becomes the task: tasks.started("worker started execution"),
 *                         the task JSON to a file, runner_run() in-process whose ready-hook reports
 *                         frozen requirements / commit / "worker starting task execution" and then
 *                         execs. A setup failure marks the task failed. Exit code = the task's.
 *   default (self-logging) one slot in the foreground, output also echoed to our stdout; SIGTERM
 *                         aborts the task; returns the task's exit code.
 *   --full-monitoring     the same, plus an instance pid file, workers.register/status reports
 *                         and unregister; returns 0 unless CLEARML_AGENT_PROPAGATE_EXITCODE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/agent_ctx.h"
#include "supervisor/container.h"
#include "supervisor/execute.h"
#include "agent/commands.h"
#include "supervisor/gpu_env.h"
#include "supervisor/monitor.h"
#include "runner/runner.h"
#include "supervisor/slot.h"
#include "supervisor/worker_id.h"
#include "api.h"
#include "util.h"

#define EXIT_INTERRUPTED 254
#define TICK_MS 250
#define REPORT_MS 30000
#define CALL_DEADLINE_MS 10000

static volatile sig_atomic_t x_term, x_child, x_cancel;
static int x_pipe[2] = {-1, -1};

static void
x_on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGCHLD) {
		x_child = 1;
	} else {
		x_term++;
		x_cancel = 1;
	}
	if (x_pipe[1] >= 0) {
		ssize_t w = write(x_pipe[1], "x", 1);
		(void)w;
	}
	errno = saved;
}

static int
x_signals_setup(void)
{
	if (pipe2(x_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = x_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static const char *
status_message(const struct agent_ctx *ctx, char *buf, size_t len)
{
	snprintf(buf, len, "Changed by clearml-agent %s", ctx->worker_id ? ctx->worker_id : "");
	return buf;
}

/* tasks.<action>{task, force, status_reason, status_message}; returns data.updated or -1. */
static int
task_status_call(struct agent_ctx *ctx, const char *endpoint, const char *version,
                 const char *task_id, const char *reason, const char *message)
{
	json_t *req = json_pack("{s:s,s:b,s:s,s:s}", "task", task_id, "force", 1, "status_reason",
	                        reason ? reason : "", "status_message", message ? message : "");
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(ctx->api, endpoint, version, req, &data, &e);
	json_decref(req);
	if (rc < 0) {
		log_warn("%s failed for task %s: %s", endpoint, task_id, e.msg);
		return -1;
	}
	int updated = (int)json_integer_value(json_object_get(data, "updated"));
	json_decref(data);
	return updated;
}

/* ---- task resolution ---- */

static void
print_task_rows(json_t *tasks)
{
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *st = json_string_value(json_object_get(t, "status"));
		const char *nm = json_string_value(json_object_get(t, "name"));
		printf("  %s  %-12s  %s\n", id ? id : "", st ? st : "", nm ? nm : "");
	}
}

static json_t *
tasks_by_name(struct agent_ctx *ctx, const char *pattern, struct api_error *e)
{
	json_t *req = json_pack("{s:s,s:[s,s,s,s],s:b,s:i}", "name", pattern, "only_fields", "id",
	                        "name", "status", "project", "search_hidden", 1, "page_size", 100);
	json_object_set_new(req, "page", json_integer(0));
	json_t *data = NULL;
	int rc = api_call(ctx->api, "tasks.get_all", "2.14", req, &data, e);
	json_decref(req);
	if (rc < 0)
		return NULL;
	json_t *tasks = json_incref(json_object_get(data, "tasks"));
	json_decref(data);
	return tasks ? tasks : json_array();
}

char *
resolve_task_id(struct agent_ctx *ctx, const char *arg)
{
	if (agent_looks_like_id(arg))
		return xstrdup(arg);
	char *esc = re_escape(arg);
	char *pattern = xasprintf("^%s$", esc);
	struct api_error e;
	json_t *tasks = tasks_by_name(ctx, pattern, &e);
	free(pattern);
	if (tasks == NULL) {
		free(esc);
		fprintf(stderr, "\nclearml_agent: ERROR: could not look up task \"%s\": %s\n", arg, e.msg);
		return NULL;
	}
	json_t *exact = json_array(), *t;
	size_t i;
	json_array_foreach(tasks, i, t) {
		const char *n = json_string_value(json_object_get(t, "name"));
		if (n && strcmp(n, arg) == 0)
			json_array_append(exact, t);
	}
	json_decref(tasks);
	char *id = NULL;
	if (json_array_size(exact) == 1) {
		id = xstrdup(json_string_value(json_object_get(json_array_get(exact, 0), "id")));
	} else if (json_array_size(exact) > 1) {
		fprintf(stderr, "\nclearml_agent: ERROR: %zu tasks are named \"%s\"; use --id with one of "
		                "these ids:\n", json_array_size(exact), arg);
		fflush(stderr);
		print_task_rows(exact);
	} else {
		fprintf(stderr, "\nclearml_agent: ERROR: Could not find task id=%s (no task has this id "
		                "or name)\n", arg);
		json_t *similar = tasks_by_name(ctx, esc, &e);
		if (similar && json_array_size(similar) > 0) {
			fprintf(stderr, "Tasks with similar names:\n");
			fflush(stderr);
			print_task_rows(similar);
		}
		json_decref(similar);
	}
	fflush(stdout);
	free(esc);
	json_decref(exact);
	return id;
}

json_t *
get_task(struct agent_ctx *ctx, const char *task_id)
{
	json_t *req = json_pack("{s:s}", "task", task_id);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(ctx->api, "tasks.get_by_id", "2.5", req, &data, &e);
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: Could not find task id=%s (%s)\n", task_id, e.msg);
		return NULL;
	}
	json_t *task = json_incref(json_object_get(data, "task"));
	json_decref(data);
	if (task == NULL)
		fprintf(stderr, "\nclearml_agent: ERROR: Could not find task id=%s\n", task_id);
	return task;
}

static char *
clone_task(struct agent_ctx *ctx, const json_t *task)
{
	const char *id = json_string_value(json_object_get(task, "id"));
	const char *name = json_string_value(json_object_get(task, "name"));
	char *new_name = xasprintf("Clone of %s", name ? name : "");
	json_t *req = json_pack("{s:s,s:s}", "task", id, "new_task_name", new_name);
	free(new_name);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(ctx->api, "tasks.clone", "2.5", req, &data, &e);
	json_decref(req);
	const char *nid = rc == 0 ? json_string_value(json_object_get(data, "id")) : NULL;
	char *out = nid ? xstrdup(nid) : NULL;
	if (out == NULL)
		fprintf(stderr, "\nclearml_agent: ERROR: could not clone task %s: %s\n", id,
		        rc < 0 ? e.msg : "no id in reply");
	else
		printf("Cloned task %s as %s\n", id, out);
	json_decref(data);
	return out;
}

/* §5.1 step 2: take the task out of its queue. 1 dequeued+started, 0 nothing dequeued. */
static int
dequeue_task(struct agent_ctx *ctx, const char *task_id)
{
	json_t *req = json_pack("{s:s,s:s}", "task", task_id, "new_status", "in_progress");
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(ctx->api, "tasks.dequeue", NULL, req, &data, &e);
	json_decref(req);
	if (rc < 0) {
		log_debug("tasks.dequeue: %s", e.msg);
		return 0;
	}
	int updated = (int)json_integer_value(json_object_get(data, "updated"));
	json_decref(data);
	if (updated < 1)
		return 0;
	task_status_call(ctx, "tasks.started", "2.5", task_id, "starting execution soon", "");
	return 1;
}

/* ---- --disable-monitoring: become the task ---- */

struct hook_ctx {
	struct agent_ctx *ctx;
	const char *task_id;
	const json_t *task;
};

static void
report_requirements(struct agent_ctx *ctx, const char *task_id, const json_t *frozen)
{
	json_t *req = json_pack("{s:[s],s:[s],s:b}", "id", task_id, "only_fields",
	                        "script.requirements", "search_hidden", 1);
	json_t *data = NULL;
	struct api_error e;
	json_t *cur = NULL;
	if (api_call(ctx->api, "tasks.get_all", "2.14", req, &data, &e) == 0)
		cur = json_object_get(json_object_get(json_array_get(json_object_get(data, "tasks"), 0),
		                                      "script"), "requirements");
	json_decref(req);
	json_t *reqs = json_deep_copy(frozen);
	/* The original request is kept once: the first report moves pip → org_pip. */
	json_t *org = cur ? json_object_get(cur, "org_pip") : NULL;
	if (org == NULL && cur)
		org = json_object_get(cur, "pip");
	if (org && !json_object_get(reqs, "org_pip"))
		json_object_set(reqs, "org_pip", org);
	json_decref(data);
	req = json_pack("{s:s,s:o}", "task", task_id, "requirements", reqs);
	if (api_call(ctx->api, "tasks.set_requirements", "2.5", req, NULL, &e) < 0)
		log_warn("could not report the installed packages: %s", e.msg);
	json_decref(req);
}

static int
ready_hook(void *vctx, const json_t *result)
{
	struct hook_ctx *h = vctx;
	char msg[512];
	const char *status = json_string_value(json_object_get(result, "status"));
	if (status == NULL || strcmp(status, "ready") != 0) {
		const char *reason = json_string_value(json_object_get(result, "status_reason"));
		task_status_call(h->ctx, "tasks.failed", "2.5", h->task_id,
		                 reason ? reason : "environment setup failed",
		                 status_message(h->ctx, msg, sizeof msg));
		return 0;
	}
	const json_t *frozen = json_object_get(result, "requirements");
	if (json_is_object(frozen))
		report_requirements(h->ctx, h->task_id, frozen);
	const char *commit = json_string_value(json_object_get(result, "version_num"));
	const char *had = json_string_value(
		json_object_get(json_object_get(h->task, "script"), "version_num"));
	if (commit && *commit && (had == NULL || *had == '\0')) {
		json_t *req = json_pack("{s:s,s:b,s:{s:s}}", "task", h->task_id, "force", 1, "script",
		                        "version_num", commit);
		struct api_error e;
		if (api_call(h->ctx->api, "tasks.edit", "2.5", req, NULL, &e) < 0)
			log_warn("could not record the commit: %s", e.msg);
		json_decref(req);
	}
	task_status_call(h->ctx, "tasks.started", "2.5", h->task_id, "worker starting task execution",
	                 status_message(h->ctx, msg, sizeof msg));
	fflush(stdout);
	fflush(stderr);
	return 0;
}

static int
run_in_process(struct agent_ctx *ctx, const struct cli_opts *o, const char *task_id,
               const json_t *task)
{
	char msg[512], err[512];
	task_status_call(ctx, "tasks.started", "2.5", task_id, "worker started execution",
	                 status_message(ctx, msg, sizeof msg));
	const char *config_file = env_get("CLEARML_CONFIG_FILE");
	if (config_file == NULL) {
		if (agent_ctx_dump_config(ctx, err, sizeof err) < 0) {
			fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
			return 1;
		}
		config_file = ctx->config_dump;
	}
	char *task_file = xasprintf("%s/task-%s.json", ctx->state_dir, task_id);
	char *result_file = xasprintf("%s/result-%s.json", ctx->state_dir, task_id);
	/* agent.enable_task_env: the Environment hyper-parameters become the task's variables. */
	json_t *tj = json_deep_copy(task);
	if (cfg_bool(ctx->cfg->root, "agent.enable_task_env", 0)) {
		json_t *envsec = json_object_get(json_object_get(task, "hyperparams"), "Environment");
		json_t *vars = json_object(), *p;
		const char *k;
		json_object_foreach(envsec, k, p) {
			json_t *v = json_object_get(p, "value");
			const char *nm = json_string_value(json_object_get(p, "name"));
			if (json_is_string(v))
				json_object_set(vars, nm ? nm : k, v);
		}
		json_object_set_new(tj, "_environment", vars);
	}
	char *text = json_dumps(tj, JSON_INDENT(2));
	int rc = 1;
	if (text == NULL || write_file_atomic(task_file, text, strlen(text), 0600) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: cannot write %s: %s\n", task_file,
		        strerror(errno));
		goto out;
	}
	struct runner_args ra = {.task_file = task_file, .result_file = result_file,
	                         .build_dir = ctx->build_root, .config_file = config_file,
	                         .log_level = o->log_level ? o->log_level : "INFO",
	                         .optimization = o->optimization, .standalone = o->standalone_mode};
	struct hook_ctx h = {.ctx = ctx, .task_id = task_id, .task = task};
	fflush(stdout);
	/* the runner gets the same document as the task file: with _environment */
	rc = runner_run(&ra, ctx->cfg->root, tj, ready_hook, &h);
	/* runner_run returns only when the task could not be started */
	if (rc == 0)
		rc = 1;
out:
	json_decref(tj);
	free(text);
	free(task_file);
	free(result_file);
	return rc;
}

/* ---- self-logging / full monitoring: one slot in the foreground ---- */

/* The slot spools the task's output to <state_dir>/<task>.spool; self-logging mode echoes it to
 * our stdout and, with --log-file, copies it there. The spool is opened right after slot_start
 * (it exists from then on) so the bytes stay readable after the slot removes the file. */
struct echo {
	int fd;
	int copy_fd;
	off_t off;
};

static void
echo_open(struct echo *ec, const struct agent_ctx *ctx, const char *task_id, const char *log_file)
{
	char *spool = xasprintf("%s/%s.spool", ctx->state_dir, task_id);
	ec->fd = open(spool, O_RDONLY | O_CLOEXEC);
	free(spool);
	if (log_file) {
		ec->copy_fd = open(log_file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		if (ec->copy_fd < 0)
			log_warn("cannot write the log file %s: %s", log_file, strerror(errno));
	}
}

static void
echo_spool(struct echo *ec)
{
	if (ec->fd < 0)
		return;
	char b[65536];
	for (;;) {
		ssize_t n = pread(ec->fd, b, sizeof b, ec->off);
		if (n <= 0)
			break;
		ec->off += n;
		fwrite(b, 1, (size_t)n, stdout);
		if (ec->copy_fd >= 0 && write(ec->copy_fd, b, (size_t)n) != n) {
			log_warn("writing the log file failed: %s", strerror(errno));
			close(ec->copy_fd);
			ec->copy_fd = -1;
		}
	}
	fflush(stdout);
}

static void
echo_close(struct echo *ec)
{
	if (ec->fd >= 0)
		close(ec->fd);
	if (ec->copy_fd >= 0)
		close(ec->copy_fd);
	ec->fd = ec->copy_fd = -1;
}

static void
x_report(struct agent_ctx *ctx, struct monitor *mon, const char *task_id)
{
	json_t *req = json_pack("{s:s,s:I,s:o}", "worker", ctx->worker_id, "timestamp",
	                        (json_int_t)((now_ms() / 1000) * 1000), "machine_stats",
	                        mon ? monitor_report(mon) : json_null());
	if (task_id)
		json_object_set_new(req, "task", json_string(task_id));
	struct api_call_opts co = {.deadline_ms = 5000, .cancel = &x_cancel};
	struct api_error e;
	if (api_call_ex(ctx->api, "workers.status_report", req, &co, NULL, &e) < 0)
		log_debug("status report failed: %s", e.msg);
	json_decref(req);
}

static int
run_foreground_slot(struct agent_ctx *ctx, const struct cli_opts *o, const char *task_id)
{
	int full = o->full_monitoring;
	struct monitor *mon = NULL;
	if (full) {
		json_t *req = json_pack("{s:s,s:[]}", "worker", ctx->worker_id, "queues");
		struct api_error e;
		if (api_call(ctx->api, "workers.register", NULL, req, NULL, &e) < 0)
			log_warn("workers.register failed: %s", e.msg);
		json_decref(req);
		mon = monitor_new(ctx->cfg->root);
		x_report(ctx, NULL, task_id);
	}
	struct slot *s = slot_new(ctx, 0);
	struct echo ec = {.fd = -1, .copy_fd = -1};
	int rc = 1;
	if (slot_start(s, task_id, NULL, NULL) < 0) {
		fprintf(stderr, "clearml_agent: ERROR: task %s could not be started\n", task_id);
		goto out;
	}
	echo_open(&ec, ctx, task_id, o->log_file);
	int aborted = 0;
	sig_atomic_t terms_seen = 0;
	int64_t next_report = mono_ms() + REPORT_MS, next_sample = mono_ms();
	int64_t deadline = 0;
	for (;;) {
		if (x_child) {
			x_child = 0;
			for (;;) {
				int st;
				pid_t p = waitpid(-1, &st, WNOHANG);
				if (p <= 0)
					break;
				if (p == slot_pid(s))
					slot_child_exited(s, st);
			}
		}
		if (x_term != terms_seen) {
			/* first signal: abort with grace; another one: kill now */
			terms_seen = x_term;
			x_cancel = 0;
			slot_abort(s, "task was stopped because the agent was stopped");
			if (!aborted)
				deadline = mono_ms() + (int64_t)(ctx->kill_grace_sec + 30) * 1000;
			aborted = 1;
		}
		enum slot_state st = slot_tick(s, now_ms());
		echo_spool(&ec);
		if (st == SLOT_DONE) {
			rc = slot_finish(s);
			break;
		}
		if (aborted && mono_ms() > deadline) {
			log_warn("the task did not finish in time after the abort");
			rc = EXIT_INTERRUPTED;
			break;
		}
		int64_t now = mono_ms();
		if (mon && now >= next_sample) {
			monitor_sample(mon);
			next_sample = now + 1000;
		}
		if (mon && now >= next_report) {
			x_report(ctx, mon, task_id);
			next_report = now + REPORT_MS;
		}
		struct pollfd pfd = {.fd = x_pipe[0], .events = POLLIN};
		if (poll(&pfd, 1, x_term != terms_seen || x_child ? 0 : TICK_MS) > 0) {
			char b[64];
			while (read(x_pipe[0], b, sizeof b) > 0)
				;
		}
	}
	echo_spool(&ec);
	if (aborted)
		rc = EXIT_INTERRUPTED; /* as upstream: interrupted → -2 → 254 */
out:
	echo_close(&ec);
	slot_free(s);
	if (full) {
		x_report(ctx, NULL, NULL);
		json_t *req = json_pack("{s:s}", "worker", ctx->worker_id);
		struct api_call_opts co = {.deadline_ms = 5000};
		struct api_error e;
		api_call_ex(ctx->api, "workers.unregister", req, &co, NULL, &e);
		json_decref(req);
		monitor_free(mon);
		if (!env_bool("CLEARML_AGENT_PROPAGATE_EXITCODE", 0))
			rc = 0;
	} else if (ctx->container && !env_bool("CLEARML_AGENT_PROPAGATE_EXITCODE", 0)) {
		rc = 0; /* §1.4: docker mode returns 0 unless CLEARML_AGENT_PROPAGATE_EXITCODE */
	}
	return rc;
}

int
cmd_execute(const struct cli_opts *o, struct config *cfg)
{
	char err[1024];
	if (o->id == NULL || *o->id == '\0') {
		fprintf(stderr, "clearml-agent execute: error: the following arguments are required: --id\n");
		return 2;
	}
	if (gpu_env_setup_process(o->gpus, o->cpu_only, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		return 1;
	}
	agent_apply_environment_section(cfg->root);
	/* docker mode always supervises: the container runs under a slot */
	int in_process = o->disable_monitoring && !o->docker && !o->podman;
	if (!in_process && x_signals_setup() < 0) {
		fprintf(stderr, "clearml_agent: ERROR: cannot set up signals: %s\n", strerror(errno));
		return 1;
	}

	struct agent_ctx ctx;
	char *pidfile = NULL, *task_id = NULL;
	json_t *task = NULL;
	struct worker_ident wi;
	memset(&wi, 0, sizeof wi);
	int rc = 1;
	if (agent_ctx_init(&ctx, cfg, o, &x_cancel, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		return 1;
	}
	if ((o->docker || o->podman) && container_attach(&ctx, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		agent_ctx_free(&ctx);
		return 1;
	}

	/* Who we are: the daemon-style instance (pid file, slot) unless we become the task. */
	char *name = agent_worker_name(cfg->root);
	worker_ident_compute(&wi, agent_explicit_worker_id(cfg->root), name,
	                     getenv("NVIDIA_VISIBLE_DEVICES"), getenv("CUDA_VISIBLE_DEVICES"), 0);
	int instance = 0;
	char *wid = NULL;
	if (in_process) {
		wid = wi.worker_id ? xstrdup(wi.worker_id) : xasprintf("%s:%d", name, (int)getpid());
	} else {
		char *dup = NULL;
		int reg = instance_register(pidfile_dir(), &wi, &wid, &instance, &pidfile, &dup, err,
		                            sizeof err);
		if (reg == 1) {
			fprintf(stderr, "\nclearml_agent: ERROR: Instance with the same WORKER_ID [%s] is "
			                "already running\n", dup);
			free(dup);
			free(name);
			goto out;
		}
		if (reg < 0) {
			fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
			free(name);
			goto out;
		}
	}
	free(name);
	if (agent_ctx_set_instance(&ctx, wid, instance, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		free(wid);
		goto out;
	}
	free(wid);
	env_setenv_twin("CLEARML_WORKER_ID", ctx.worker_id);

	if (agent_ctx_login(&ctx, 0) < 0)
		goto out;
	task_id = resolve_task_id(&ctx, o->id);
	if (task_id == NULL)
		goto out;
	task = get_task(&ctx, task_id);
	if (task == NULL)
		goto out;
	if (o->clone) {
		char *nid = clone_task(&ctx, task);
		if (nid == NULL)
			goto out;
		free(task_id);
		task_id = nid;
		json_decref(task);
		task = get_task(&ctx, task_id);
		if (task == NULL)
			goto out;
	} else {
		int dq = dequeue_task(&ctx, task_id);
		if (o->require_queue && !dq) {
			fprintf(stderr, "\nclearml_agent: ERROR: Execution required enqueued task, but task "
			                "id=%s is not queued.\n", task_id);
			goto out;
		}
	}

	if (in_process) {
		rc = run_in_process(&ctx, o, task_id, task);
		goto out;
	}
	if (agent_ctx_dump_config(&ctx, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		goto out;
	}
	if (slot_recover_orphans(&ctx) < 0)
		log_warn("could not recover tasks left by a previous agent");
	rc = run_foreground_slot(&ctx, o, task_id);
out:
	if (pidfile) {
		pidfile_remove(pidfile);
		free(pidfile);
	}
	free(task_id);
	json_decref(task);
	worker_ident_free(&wi);
	agent_ctx_free(&ctx);
	return rc;
}
