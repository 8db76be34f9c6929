/*
 * slot_internal — what the slot_*.c files share (the public contract is slot.h). One struct slot
 * per running task; each file owns one concern of its life and keeps the rest static.
 * Not for use outside src/supervisor/slot*.c.
 */
#ifndef CLEARML_SLOT_INTERNAL_H
#define CLEARML_SLOT_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "supervisor/abort.h"
#include "supervisor/descendants.h"
#include "supervisor/redact.h"
#include "supervisor/shipper.h"
#include "supervisor/slot.h"
#include "util.h"

#define RAW_MAX (4u << 20)          /* spool bytes held per read window */
#define POLL_DEADLINE_MS 3000
#define STATUS_DEADLINE_MS 10000
#define FLUSH_WAIT_MS 120000        /* agent.log_flush_wait_sec default: fast retries, then a warning */
#define TASK_ENV_MARKER "CLEARML_TASK_ID"

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

/* slot.c (the slot object, start, tick, the public calls) */
int slot_valid_task_id(const char *id);
void slot_read_limits(struct slot *s);
int slot_abort_wait_ms(const struct slot *s);
void slot_remove_files(struct slot *s);
int slot_task_alive(const struct slot *s);

/* slot_calls.c (the task's server calls: started, task JSON, result file, final status) */
/* Bounded; cancellable by the agent's signal flag unless the agent itself is stopping. */
struct api_call_opts slot_call_opts(const struct slot *s, const char *version, int deadline_ms);
/* api_call_ex with slot_call_opts; takes req. */
int slot_task_call(struct slot *s, const char *endpoint, const char *version, json_t *req,
                   int deadline_ms, json_t **data, struct api_error *err);
void slot_set_runtime_hostname(struct slot *s);
int slot_mark_started(struct slot *s, const char *status_message, const char *status_reason);
void slot_set_final_status(struct slot *s, const char *endpoint, const char *reason);
void slot_fail_start(struct slot *s, const char *reason);
int slot_fetch_task(struct slot *s);
void slot_check_result(struct slot *s);
void slot_ping(struct slot *s);

/* slot_spawn.c (the runner's process: argv, environment, session, cgroup; the container) */
pid_t slot_spawn_runner(struct slot *s, int spool_w);
char *slot_child_worker_id(const struct slot *s);
int slot_start_container(struct slot *s);

/* slot_ship.c (the spool to events.add_batch; the agent's own lines; the agent's disk) */
uint64_t slot_spool_size(const struct slot *s);
/* An agent line for the task's log (and the agent's stdout), masked. */
void slot_say(struct slot *s, const char *level, const char *fmt, ...) ATTR_PRINTF(3, 4);
void slot_note_disk_full(struct slot *s);
void slot_check_disk(struct slot *s);
int slot_ship(struct slot *s, int flush);
int slot_all_shipped(struct slot *s);

/* slot_kill.c (abort poll, the kill sequence) */
void slot_hard_kill(struct slot *s);
void slot_start_kill(struct slot *s, enum stop_reason why, const char *detail);
void slot_begin_kill(struct slot *s);
void slot_poll_abort(struct slot *s);

/* slot_orphans.c (the slots of this process; re-parented orphans) */
void slot_registry_add(struct slot *s);
void slot_registry_remove(struct slot *s);
/* Children of the agent no other task may own join s->desc (then killed with it). */
void slot_claim_orphans(struct slot *s);

/* slot_end.c (outcome, earned status, state file, final flush) */
void slot_save_state(struct slot *s);
/* The child is reaped: kill what it left, decide and persist the outcome, start flushing. */
void slot_on_child_gone(struct slot *s);
void slot_finalize(struct slot *s);
/* The agent is stopping with the log unconfirmed: keep spool + state for the next start. */
void slot_leave_for_next_start(struct slot *s);

#endif
