/*
 * execute — the task look-ups `execute` and `build` share (execute.c).
 */
#ifndef CLEARML_EXECUTE_H
#define CLEARML_EXECUTE_H

#include <jansson.h>

#include "supervisor/slot.h"

/* The task id for --id (an id, or an exact task name; ambiguous or unknown names print the
 * candidates). NULL after printing why. Caller frees. */
char *resolve_task_id(struct agent_ctx *ctx, const char *arg);
/* tasks.get_by_id data.task, or NULL after printing "Could not find task id=…". */
json_t *get_task(struct agent_ctx *ctx, const char *task_id);

#endif
