/*
 * abort — pure decisions about stopping a running task (spec §4.5): what the observed
 * status/status_message means (stopped, status changed, reset, not found), and the SDK's
 * abort-callback protocol (wait until `_abort_callback_completed` or the capped timeout).
 * The slot does the polling and the killing; this file only decides. Owner: abort.c.
 */
#ifndef CLEARML_ABORT_H
#define CLEARML_ABORT_H

#include <stddef.h>

enum stop_reason {
	STOP_NONE = 0,
	STOP_STOPPED,        /* in_progress + "stopping": tasks.stop on a live task */
	STOP_STATUS_CHANGED, /* closed / stopped / published / queued server-side */
	STOP_EXCEPTION,      /* failed server-side */
	STOP_RESET,          /* created on 4 consecutive polls */
	STOP_NOT_FOUND,      /* the task is gone */
	STOP_AGENT           /* the agent itself was told to stop (slot_abort) */
};

/* Upstream's TaskStopReason names, used in "User aborted: stopping task (<n>) <name>". */
const char *stop_reason_name(enum stop_reason r);
/* Upstream's numeric values of TaskStopReason (the <n> of that line). */
int stop_reason_code(enum stop_reason r);

#define ABORT_RESET_POLLS 4

struct abort_tracker {
	int created_hits;     /* consecutive polls that saw `created` */
	int cb_active;        /* a callback wait is running */
	double cb_started;    /* when it started (seconds, any monotonic clock) */
	double cb_timeout;    /* its cap in seconds */
	int cb_completed;     /* the callback said it completed */
};

struct abort_obs {
	int found;                  /* the task came back in tasks.get_all */
	const char *status;         /* may be NULL */
	const char *status_message; /* may be NULL */
};

/* Classify one poll. A `created` observation before the 4th writes the WARNING line upstream
 * sends ("Warning: Task <id> was reset! if state is consistent we shall terminate (k/4).") into
 * line (else line is ""). */
enum stop_reason abort_classify(struct abort_tracker *t, const char *task_id,
                                const struct abort_obs *o, char *line, size_t linelen);

/* Runtime values of the abort-callback protocol (numbers or numeric strings on the task). */
struct abort_runtime {
	double timeout;   /* runtime._abort_callback_timeout (0: none) */
	double poll_freq; /* runtime._abort_poll_freq */
	int completed;    /* runtime._abort_callback_completed is truthy */
};

/* Whether a classified stop (stopped / status_changed / exception) may proceed now, given the
 * task's callback runtime. 1: stop now; 0: keep the task alive and ask again on the next poll.
 * line gets the "### Task abort callback ... ###" message to log, or "". max_timeout is
 * agent.abort_callback_max_timeout (1800). */
int abort_callback_gate(struct abort_tracker *t, const struct abort_runtime *rt, double now,
                        double max_timeout, char *line, size_t linelen);

/* Parse a runtime value (JSON number or string) as a number / truthy flag. */
double abort_runtime_number(const char *s);
int abort_runtime_truthy(const char *s);

#endif
