/*
 * slot_kill — stopping a task (slot_internal.h): the status poll that decides an abort
 * (abort.h, with the SDK's abort callback gate), the configured signal to the task's group, the
 * grace period, then the hard kill: group, cgroup, CLEARML_TASK_ID environ sweep, every tracked
 * descendant and the orphans this task owns (slot_orphans.c), the container.
 */
#include "supervisor/slot_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/container.h"
#include "supervisor/killtree.h"

void
slot_hard_kill(struct slot *s)
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
	slot_claim_orphans(s);
	desc_kill(&s->desc);
	if (s->ctr && !s->killed_hard)
		container_kill(s->ctr); /* a killed client leaves its container running */
	s->killed_hard = 1;
}

void
slot_start_kill(struct slot *s, enum stop_reason why, const char *detail)
{
	s->stop = why;
	free(s->stop_detail);
	s->stop_detail = detail ? xstrdup(detail) : NULL;
	if (why == STOP_EXCEPTION)
		slot_say(s, "ERROR", "Task failed: stopping task (%d) %s\n", stop_reason_code(why),
		    stop_reason_name(why));
	else if (why == STOP_AGENT)
		slot_say(s, "ERROR", "Agent stopping: stopping task (%d) %s\n", stop_reason_code(why),
		    detail ? detail : stop_reason_name(why));
	else
		slot_say(s, "ERROR", "User aborted: stopping task (%d) %s\n", stop_reason_code(why),
		    stop_reason_name(why));
	slot_begin_kill(s);
}

/* Signal the task's group, start the grace period (or kill at once). */
void
slot_begin_kill(struct slot *s)
{
	s->st = SLOT_KILLING;
	int sig = s->ctx->kill_signal > 0 ? s->ctx->kill_signal : SIGTERM;
	if (s->child_gone) {
		slot_hard_kill(s);
		return;
	}
	if (s->pid > 1)
		killtree_signal_group(s->pid, sig);
	s->kill_deadline = mono_ms() + (int64_t)(s->ctx->kill_grace_sec > 0 ? s->ctx->kill_grace_sec : 0) * 1000;
	if (s->ctx->kill_grace_sec <= 0 || sig == SIGKILL)
		slot_hard_kill(s);
}

static void
read_callback_runtime(struct slot *s, struct abort_runtime *rt)
{
	memset(rt, 0, sizeof *rt);
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s]}", "id", s->task_id, "only_fields", "runtime");
	if (slot_task_call(s, "tasks.get_all", "2.13", req, POLL_DEADLINE_MS, &data, &e) < 0)
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

void
slot_poll_abort(struct slot *s)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s,s],s:b}", "id", s->task_id, "only_fields", "status",
	                        "status_message", "search_hidden", 1);
	if (slot_task_call(s, "tasks.get_all", "2.14", req, POLL_DEADLINE_MS, &data, &e) < 0) {
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
		slot_say(s, "WARNING", "%s", line);
	if (r == STOP_NONE)
		return;
	if (s->callback_supported &&
	    (r == STOP_STOPPED || r == STOP_STATUS_CHANGED || r == STOP_EXCEPTION)) {
		struct abort_runtime rt;
		read_callback_runtime(s, &rt);
		int go = abort_callback_gate(&s->ab, &rt, (double)mono_ms() / 1000.0, s->callback_max, line,
		                             sizeof line);
		if (line[0])
			slot_say(s, "INFO", "%s", line);
		if (!go)
			return;
	}
	slot_start_kill(s, r, status);
}
