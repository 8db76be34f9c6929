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
 *
 * This file: the slot object, slot_start, the tick that drives the states, the public calls.
 * The concerns live beside it (slot_internal.h): slot_calls.c (the task's server calls),
 * slot_spawn.c (the runner's process, the container), slot_ship.c (log shipping, the agent's
 * disk), slot_kill.c (abort poll, kill sequence), slot_orphans.c (re-parented orphans),
 * slot_end.c (outcome, earned status, state file, flush), slot_recover.c (a dead agent's tasks).
 */
#include "supervisor/slot_internal.h"

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

#define FLUSH_WAIT_ABORT_MS 20000   /* how long a stopping agent waits for the last lines */
#define RECLAIM_STEP (1u << 20)     /* shipped spool bytes are punched out in steps of this */
#define RECLAIM_STEP_TRUNCATE 4096u /* ... with agent.truncate_task_output_files */

int
slot_valid_task_id(const char *id)
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

void
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

int
slot_abort_wait_ms(const struct slot *s)
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
	slot_registry_add(s);
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
	slot_registry_remove(s);
	free(s);
}

void
slot_remove_files(struct slot *s)
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
	s->worker_id = launch && launch->worker_id ? xstrdup(launch->worker_id) : slot_child_worker_id(s);
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

	if (!slot_valid_task_id(s->task_id)) {
		/* never build a path from it; the server cannot hold such an id anyway */
		log_error("refusing task with an invalid id");
		slot_reset(s);
		return -1;
	}
	s->sh = xmalloc(sizeof *s->sh);
	shipper_init(s->sh, s->task_id, s->worker_id,
	             root ? cfg_bool(root, "agent.suppress_carriage_return", 1) : 1);

	if (queue_id) {
		if (slot_mark_started(s, "pulled by agent", NULL) < 0)
			log_warn("task %s: could not mark it pulled", s->task_id);
		slot_say(s, "INFO", "task %s pulled from %s by worker %s\n", s->task_id, queue_id,
		    s->worker_id);
	}
	printf("Running task '%s'\n", s->task_id);
	fflush(stdout);
	slot_set_runtime_hostname(s);
	if (slot_mark_started(s, "launch by agent", NULL) < 0) {
		slot_fail_start(s, "could not mark the task started (tasks.started failed)");
		slot_reset(s);
		return -1;
	}

	const char *dir = s->ctx->state_dir ? s->ctx->state_dir : ".";
	if (mkdir_p(dir, 0700) < 0) {
		char *r = xasprintf("cannot create the agent state directory %s: %s", dir, strerror(errno));
		slot_fail_start(s, r);
		free(r);
		slot_reset(s);
		return -1;
	}
	s->spool_path = xasprintf("%s/%s.spool", dir, s->task_id);
	s->state_path = xasprintf("%s/%s.state.json", dir, s->task_id);
	s->task_path = xasprintf("%s/%s.task.json", dir, s->task_id);
	s->result_path = xasprintf("%s/%s.result.json", dir, s->task_id);
	unlink(s->result_path);
	if (slot_fetch_task(s) < 0) {
		slot_remove_files(s);
		slot_reset(s);
		return -1;
	}
	if (s->ctx->container && slot_start_container(s) < 0) {
		slot_remove_files(s);
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
		slot_fail_start(s, r);
		free(r);
		slot_remove_files(s);
		slot_reset(s);
		return -1;
	}
	s->raw = xmalloc(RAW_MAX);
	if (!root || cfg_bool(root, "agent.task_cgroup", 1)) {
		char name[256];
		snprintf(name, sizeof name, "clearml-task-%s-%d-%d", s->task_id, (int)getpid(), s->index);
		s->cgroup = killtree_cgroup_create(name);
	}
	slot_save_state(s); /* before the fork: a crash right after it still leaves a trail */
	s->pid = slot_spawn_runner(s, spool_w);
	close(spool_w);
	if (s->pid < 0) {
		char *r = xasprintf("cannot start the task process: %s", strerror(errno));
		slot_fail_start(s, r);
		free(r);
		slot_remove_files(s);
		slot_reset(s);
		return -1;
	}
	slot_save_state(s);
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

int
slot_task_alive(const struct slot *s)
{
	return (s->st == SLOT_RUNNING || s->st == SLOT_KILLING) && !s->child_gone && s->pid > 1;
}

enum slot_state
slot_tick(struct slot *s, int64_t now_hint)
{
	(void)now_hint; /* timers run on the monotonic clock */
	if (s->st == SLOT_IDLE || s->st == SLOT_DONE)
		return s->st;
	int64_t now = mono_ms();
	slot_check_result(s);

	if (s->st == SLOT_RUNNING && !s->child_gone)
		slot_check_disk(s);
	if (slot_task_alive(s))
		desc_update_shared(&s->desc, s->pid);
	if (s->st == SLOT_RUNNING && !s->child_gone && now >= s->next_abort) {
		/* the server is known to be away (log packets failing): nothing to learn from it now */
		if (!s->ship_failing)
			slot_poll_abort(s);
		s->next_abort = mono_ms() + (s->ctx->abort_poll_ms > 0 ? s->ctx->abort_poll_ms : 2000);
	}
	if (s->st == SLOT_KILLING && !s->child_gone && !s->killed_hard && mono_ms() >= s->kill_deadline)
		slot_hard_kill(s);

	if (s->child_gone && s->st != SLOT_FLUSHING)
		slot_on_child_gone(s);

	slot_ship(s, s->child_gone);

	if (s->st == SLOT_RUNNING && !s->child_gone && s->ctx->ping_interval_sec > 0 &&
	    mono_ms() >= s->next_ping) {
		slot_ping(s);
		s->next_ping = mono_ms() + (int64_t)s->ctx->ping_interval_sec * 1000;
	}
	if (s->st == SLOT_FLUSHING) {
		if (slot_all_shipped(s)) {
			slot_finalize(s);
		} else if (mono_ms() >= s->flush_deadline) {
			if (s->leaving) {
				slot_leave_for_next_start(s);
			} else if (!s->flush_warned) {
				/* However long the outage: the slot stays busy, retries with back-off, and sets
				 * the earned status once the last line is confirmed. */
				s->flush_warned = 1;
				log_warn("task %s: %llu bytes of its log are still not confirmed after %d s; "
				         "retrying until the server takes them, then setting its status (%s)",
				         s->task_id, (unsigned long long)(slot_spool_size(s) - s->confirmed),
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
		int64_t d = mono_ms() + slot_abort_wait_ms(s);
		if (!s->leaving || d < s->flush_deadline)
			s->flush_deadline = d;
		s->leaving = 1;
	} else if (s->st == SLOT_RUNNING) {
		slot_start_kill(s, STOP_AGENT, reason ? reason : "task was stopped because the agent was stopped");
	} else if (s->st == SLOT_KILLING && !s->killed_hard && !s->child_gone) {
		slot_hard_kill(s); /* asked twice: no more grace */
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
