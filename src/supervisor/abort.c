/*
 * abort — the table of §4.5 as code: observed task status → stop decision, the `created` reset
 * counter, and the abort-callback wait. No I/O: the slot feeds in what the server said and the
 * time, and acts on the answer.
 */
#include "supervisor/abort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *
stop_reason_name(enum stop_reason r)
{
	switch (r) {
	case STOP_NONE: return "no_stop";
	case STOP_STOPPED: return "stopped";
	case STOP_STATUS_CHANGED: return "status_changed";
	case STOP_EXCEPTION: return "exception";
	case STOP_RESET: return "reset";
	case STOP_NOT_FOUND: return "not_found";
	case STOP_AGENT: return "agent_stopped";
	}
	return "unknown";
}

int
stop_reason_code(enum stop_reason r)
{
	/* TaskStopReason: no_stop 0, stopped 1, reset 2, status_changed 3, exception 4,
	 * not_found 5, service_started 6; ours continues after them. */
	switch (r) {
	case STOP_NONE: return 0;
	case STOP_STOPPED: return 1;
	case STOP_RESET: return 2;
	case STOP_STATUS_CHANGED: return 3;
	case STOP_EXCEPTION: return 4;
	case STOP_NOT_FOUND: return 5;
	case STOP_AGENT: return 7;
	}
	return -1;
}

enum stop_reason
abort_classify(struct abort_tracker *t, const char *task_id, const struct abort_obs *o,
               char *line, size_t linelen)
{
	if (linelen)
		line[0] = '\0';
	if (!o->found) {
		t->created_hits = 0;
		return STOP_NOT_FOUND;
	}
	const char *st = o->status ? o->status : "";
	const char *msg = o->status_message ? o->status_message : "";
	if (strcmp(st, "created") == 0) {
		t->created_hits++;
		if (t->created_hits >= ABORT_RESET_POLLS)
			return STOP_RESET;
		if (linelen)
			snprintf(line, linelen,
			         "Warning: Task %s was reset! if state is consistent we shall terminate (%d/%d).\n",
			         task_id, t->created_hits, ABORT_RESET_POLLS);
		return STOP_NONE;
	}
	t->created_hits = 0;
	if (strcmp(st, "in_progress") == 0)
		return strstr(msg, "stopping") ? STOP_STOPPED : STOP_NONE;
	if (strcmp(st, "failed") == 0)
		return STOP_EXCEPTION;
	static const char *const changed[] = {"closed", "stopped", "published", "queued"};
	for (size_t i = 0; i < ARRAY_LEN(changed); i++)
		if (strcmp(st, changed[i]) == 0)
			return STOP_STATUS_CHANGED;
	return STOP_NONE; /* completed, publishing, ...: keep running (upstream quirk 6) */
}

int
abort_callback_gate(struct abort_tracker *t, const struct abort_runtime *rt, double now,
                    double max_timeout, char *line, size_t linelen)
{
	if (linelen)
		line[0] = '\0';
	if (!t->cb_active) {
		double total = (rt->timeout > 0 ? rt->timeout : 0) + (rt->poll_freq > 0 ? rt->poll_freq : 0);
		if (rt->timeout <= 0 || total <= 0)
			return 1; /* no callback registered: stop now */
		if (max_timeout > 0 && total > max_timeout)
			total = max_timeout;
		t->cb_active = 1;
		t->cb_started = now;
		t->cb_timeout = total;
		t->cb_completed = 0;
		if (linelen)
			snprintf(line, linelen,
			         "### Task abort callback timeout set, waiting for max %g sec ###\n", total);
		return 0;
	}
	if (rt->completed) {
		t->cb_completed = 1;
		if (linelen)
			snprintf(line, linelen, "### Task abort callback completed in %.2f seconds ###\n",
			         now - t->cb_started);
		return 1;
	}
	if (now - t->cb_started > t->cb_timeout) {
		if (linelen)
			snprintf(line, linelen, "### Task abort callback timed out [%g sec] ###\n",
			         t->cb_timeout);
		return 1;
	}
	return 0;
}

double
abort_runtime_number(const char *s)
{
	if (!s || !*s)
		return 0;
	char *end;
	double v = strtod(s, &end);
	while (*end == ' ')
		end++;
	return *end ? 0 : v;
}

int
abort_runtime_truthy(const char *s)
{
	if (!s || !*s)
		return 0;
	int b = parse_bool(s);
	if (b >= 0)
		return b;
	return abort_runtime_number(s) != 0;
}
