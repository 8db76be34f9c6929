/*
 * task_state — the task enums (types, statuses) and the status state machine of §3.3: which
 * change is allowed without force. Pure logic, unit-tested in test_server_core.
 */
#include <string.h>

#include "server/svc_tasks.h"
#include "util.h"

const char *const task_types[] = {"training", "testing", "inference", "data_processing",
                                  "application", "monitor", "controller", "optimizer",
                                  "service", "qc", "custom", NULL};
static const char *const task_statuses[] = {"created", "queued", "in_progress", "stopped",
                                            "published", "publishing", "closed", "failed",
                                            "completed", "unknown", NULL};

static int
in_set(const char *const *set, const char *s)
{
	for (; s && *set; set++)
		if (!strcmp(*set, s))
			return 1;
	return 0;
}

int task_status_valid(const char *s) { return in_set(task_statuses, s); }
int task_type_valid(const char *s) { return in_set(task_types, s); }

int
task_status_allowed(const char *from, const char *to)
{
	static const struct {
		const char *from;
		const char *to[9];
	} sm[] = {
		{"created", {"queued", "in_progress", NULL}},
		{"queued", {"created", "in_progress", "stopped", NULL}},
		{"in_progress", {"stopped", "failed", "created", "completed", NULL}},
		{"stopped", {"closed", "created", "failed", "queued", "in_progress", "published",
		             "publishing", "completed", NULL}},
		{"closed", {"created", "failed", "published", "publishing", "stopped", NULL}},
		{"failed", {"created", "stopped", "published", "queued", NULL}},
		{"publishing", {"published", NULL}},
		{"published", {NULL}},
		{"completed", {"published", "in_progress", "created", NULL}},
	};
	if (!from || !to)
		return 0;
	if (!strcmp(from, to))
		return 1;
	for (size_t i = 0; i < ARRAY_LEN(sm); i++) {
		if (strcmp(sm[i].from, from) != 0)
			continue;
		for (int k = 0; sm[i].to[k]; k++)
			if (!strcmp(sm[i].to[k], to))
				return 1;
		return 0;
	}
	return 0;
}
