/*
 * slot_end — the end of a task (slot_internal.h): the child is reaped, what it left is killed,
 * the outcome is decided (upstream's lines and statuses) and written to the state file with the
 * agent's unsent lines, so the status the task earned survives an outage and a restart; once the
 * log is confirmed the status is set, or, when the agent is leaving, spool and state stay for the
 * next start.
 */
#include "supervisor/slot_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/container.h"
#include "runner/runner.h"

void
slot_save_state(struct slot *s)
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
			slot_note_disk_full(s);
	}
	free(text);
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

/* The child is reaped: kill what it left, decide the outcome, queue the final line. */
void
slot_on_child_gone(struct slot *s)
{
	/* Leftover descendants never outlive the task (upstream kills them too). */
	slot_check_result(s);
	if (s->ctr && !s->killed_hard)
		s->ctr_reason = container_exit_reason(s->ctr, s->wait_status, s->setup_failed);
	else if (s->ctr)
		container_kill(s->ctr); /* again: a client killed mid-create may have left one behind */
	slot_hard_kill(s);
	slot_check_disk(s);
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
		slot_say(s, "INFO", "Process aborted by user\n");
		break;
	case STOP_STATUS_CHANGED:
		slot_say(s, "INFO", "Process terminated, task status changed to %s\n",
		    s->stop_detail ? s->stop_detail : "?");
		break;
	case STOP_EXCEPTION:
		slot_say(s, "INFO", "Process terminated, task status changed to failed\n");
		break;
	case STOP_RESET:
		slot_say(s, "INFO", "Process terminated, task was reset\n");
		break;
	case STOP_NOT_FOUND:
		slot_say(s, "INFO", "Process terminated, task was not found\n");
		break;
	case STOP_AGENT:
		slot_say(s, "INFO", "Process aborted: %s\n", s->stop_detail ? s->stop_detail : "agent stopped");
		break;
	case STOP_NONE:
		if (code == 0)
			slot_say(s, "INFO", "Process completed successfully\n");
		else if (code == -2 || code == 254)
			slot_say(s, "INFO", "Process terminated by user\n");
		else if (s->setup_failed && code == RUNNER_EXIT_SETUP_FAILED)
			slot_say(s, "INFO", "Process failed, exit code %d: %s\n", code, s->setup_reason);
		else if (s->ctr_reason)
			slot_say(s, "INFO", "Process failed, exit code %d: %s\n", code, s->ctr_reason);
		else
			slot_say(s, "INFO", "Process failed, exit code %d\n", code);
		break;
	}
	s->code = code;
	earn_final(s);
	s->st = SLOT_FLUSHING;
	s->next_ship = 0;
	if (s->stop == STOP_AGENT)
		s->leaving = 1;
	s->flush_deadline = mono_ms() + (s->leaving ? slot_abort_wait_ms(s) : s->flush_wait_ms);
	slot_save_state(s); /* the earned status survives a restart */
}

void
slot_finalize(struct slot *s)
{
	if (s->final_ep)
		slot_set_final_status(s, s->final_ep, s->final_reason ? s->final_reason : "");
	printf("DONE: Running task '%s', exit status %d%s\n", s->task_id, s->code,
	       s->stop == STOP_STOPPED ? " (user aborted)" : "");
	fflush(stdout);
	close(s->spool_fd);
	s->spool_fd = -1;
	slot_remove_files(s);
	s->st = SLOT_DONE;
}

/* The agent is stopping and the server still has not taken the rest of the log: never drop
 * lines, never set a status the log does not back yet. The spool and its state file (confirmed
 * offset, earned status) stay, and the next agent start ships the rest and sets that status. */
void
slot_leave_for_next_start(struct slot *s)
{
	log_warn("task %s: the rest of its log (%llu bytes) and its final status (%s) stay in %s for "
	         "the next agent start",
	         s->task_id, (unsigned long long)(slot_spool_size(s) - s->confirmed),
	         s->final_ep ? s->final_ep : "left as it is", s->spool_path);
	printf("DONE: Running task '%s', exit status %d%s\n", s->task_id, s->code,
	       s->stop == STOP_STOPPED ? " (user aborted)" : "");
	fflush(stdout);
	slot_save_state(s);
	close(s->spool_fd);
	s->spool_fd = -1;
	char *spool = s->spool_path, *state = s->state_path;
	s->spool_path = s->state_path = NULL;
	slot_remove_files(s);
	s->spool_path = spool;
	s->state_path = state;
	s->st = SLOT_DONE;
}
