/*
 * slot — the supervisor of ONE running task, shared by `daemon` (N slots in one event loop) and
 * `execute` (one slot in the foreground). A slot owns the task's life cycle after it was pulled:
 * mark it started, write the task JSON, spawn the runner in its own session with stdout+stderr on
 * a spool file (no pipe: the task never blocks on the agent), ship the spool to events.add_batch
 * (offset moves only after the server confirmed), report the runner's result file (frozen
 * requirements, commit), ping, poll for abort, kill the whole tree on abort, and set the final
 * status from the exit code. Durable state (spool path, offset, pids) lives in a small state file
 * so a restarted agent can finish an orphaned task (slot_recover_orphans).
 * In docker mode (ctx->container) the same slot runs the task in a container: the runner places
 * the code on the host and execs the engine's `run` (container.h holds the few hooks: prepare,
 * client env, kill, exit reason, orphan sweep), so logs, abort and status work as for a local task.
 *
 * No call here blocks for long: API calls made from slot_tick carry a deadline, and a failed log
 * shipment is retried on a later tick with jittered back-off. Owner: slot.c and the slot_*.c
 * files beside it, one concern each (slot_internal.h); + shipper.c, abort.c, killtree.c.
 */
#ifndef CLEARML_SLOT_H
#define CLEARML_SLOT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/cli.h"
#include "api.h"
#include "config.h"

/* What daemon/execute share with their slots. Owned by the caller; outlives the slots. */
struct agent_ctx {
	struct config *cfg;
	struct api_session *api;
	const struct cli_opts *opts;
	char *worker_id;          /* this agent's worker id (slot may derive its own) */
	char *self_exe;           /* /proc/self/exe, to spawn `_runner` */
	char *config_dump;        /* the JSON config file handed to runners and tasks */
	char *state_dir;          /* spool + state files (default ~/.clearml/agent-state) */
	char *build_root;         /* agent.venvs_dir (+ .<instance slot>) */
	int abort_poll_ms;        /* how often to poll the task status (default 2000) */
	int ping_interval_sec;    /* agent.task_ping_interval_sec (60) */
	int kill_signal;          /* agent.kill_signal (SIGTERM) */
	int kill_grace_sec;       /* agent.kill_grace_sec (10) */
	volatile sig_atomic_t *cancel; /* set by SIGTERM/SIGINT: API retries stop */
	struct container_mode *container; /* docker/podman mode (container.h), or NULL: local runner */
};

enum slot_state {
	SLOT_IDLE = 0,
	SLOT_RUNNING,   /* child alive */
	SLOT_KILLING,   /* abort decided: signal sent, waiting for the grace period / exit */
	SLOT_FLUSHING,  /* child gone; shipping the rest of the spool, then the final status */
	SLOT_DONE       /* finished: slot_finish() may be called */
};

struct slot;
struct container_mode;

struct slot *slot_new(struct agent_ctx *ctx, int index);
void slot_free(struct slot *s);

/* Take a pulled task: tasks.started, the "task <id> pulled from <queue> by worker <w>" line,
 * fetch the task, spawn the runner. 0 when running; -1 when it could not start (the task was
 * marked failed with a reason and the slot is back to IDLE). queue_* may be NULL (execute). */
int slot_start(struct slot *s, const char *task_id, const char *queue_id, const char *queue_name);

/* How a slot launches its task beyond the defaults (daemon: services mode, dynamic GPUs). NULL
 * fields keep the defaults. A container launch (docker mode) extends this. */
struct slot_launch {
	const char *worker_id;  /* the id the task runs and reports under (default: the agent's;
	                         * services mode: "<agent>:service:<task>") */
	const char *const *env; /* extra "KEY=VALUE" entries for the task's environment, NULL-ended */
};

/* slot_start with a launch description (may be NULL). */
int slot_start_ex(struct slot *s, const char *task_id, const char *queue_id,
                  const char *queue_name, const struct slot_launch *launch);

/* The worker id the slot's task runs under (NULL when IDLE). */
const char *slot_worker_id(const struct slot *s);

/* Periodic work; call at least every 500 ms while not IDLE, and whenever the child exited. */
enum slot_state slot_tick(struct slot *s, int64_t now_ms);

/* The runner/task process (its process-group leader), or -1. */
pid_t slot_pid(const struct slot *s);
/* Tell the slot its child was reaped by the caller's waitpid loop. */
void slot_child_exited(struct slot *s, int wait_status);

/* Abort the task now (daemon SIGTERM/SIGINT): kill the tree, mark stopped with reason. */
void slot_abort(struct slot *s, const char *reason);

/* After SLOT_DONE: returns the task's exit status (as execute should return it), resets to IDLE. */
int slot_finish(struct slot *s);

enum slot_state slot_state(const struct slot *s);
const char *slot_task_id(const struct slot *s);

/* At start-up: for every state file left by a dead agent, kill what is left of its task, ship the
 * rest of its spool, and finalise the task with a reason saying the agent restarted. */
int slot_recover_orphans(struct agent_ctx *ctx);

#endif
