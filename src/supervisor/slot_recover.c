/*
 * slot_recover — tasks of an agent that died (slot.h: slot_recover_orphans): for every state file
 * whose agent is gone, kill what is left of its task (group only if still that task's, cgroup,
 * environ sweep, its container), ship the rest of its spool, and set the status its exit earned
 * or "agent restarted while the task was running"; a trail the server cannot take yet stays.
 */
#include "supervisor/slot_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/container.h"
#include "supervisor/killtree.h"
#include "supervisor/secrets.h"
#include "runner/vcs.h"

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
	if (!json_is_object(st) || !slot_valid_task_id(tid)) {
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
	if (slot_task_call(s, "tasks.get_all", "2.14", req, STATUS_DEADLINE_MS, &data, &e) == 0) {
		json_t *t = json_array_get(json_object_get(data, "tasks"), 0);
		const char *tst = json_string_value(json_object_get(t, "status"));
		snprintf(status_buf, sizeof status_buf, "%s", tst ? tst : "");
		status = status_buf;
	}
	json_decref(data);
	int in_progress = status && strcmp(status, "in_progress") == 0;
	if (in_progress && !earned)
		slot_say(s, "ERROR", "Process terminated: clearml-agent restarted while the task was running\n");

	int64_t deadline = mono_ms() + (s->flush_wait_ms < FLUSH_WAIT_MS / 4 ? s->flush_wait_ms
	                                                                      : FLUSH_WAIT_MS / 4);
	int shipped = 0;
	while (s->spool_fd >= 0 || shipper_pending_messages(s->sh)) {
		s->next_ship = 0;
		if (slot_ship(s, 1) && slot_all_shipped(s)) {
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
			slot_set_final_status(s, s->final_ep, s->final_reason ? s->final_reason : "");
		log_info("task %s: log delivered; status %s as its exit (%d) earned", task,
		         s->final_ep ? s->final_ep : "left as it is", s->code);
	} else if (in_progress) {
		slot_set_final_status(s, "tasks.failed", "agent restarted while the task was running");
	}
	if (status && s->worker_id && ctx->worker_id && strcmp(s->worker_id, ctx->worker_id) != 0) {
		/* a task with its own worker id (services mode, dynamic GPUs): that worker is gone */
		json_t *ureq = json_pack("{s:s}", "worker", s->worker_id);
		if (slot_task_call(s, "workers.unregister", NULL, ureq, POLL_DEADLINE_MS, NULL, &e) < 0)
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
	slot_remove_files(s);
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
