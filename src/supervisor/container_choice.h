/*
 * container_choice — the image of a task's container (spec §6.2): the task's own container
 * (unless agent.disable_task_docker_override / --force-docker), else the first matching
 * agent.default_docker.match_rules entry (not when the image came from the command line), else
 * the agent's default; a default is written back to the task (tasks.edit container) as upstream.
 * And the values of `${CLEARML_…}` templates in docker arguments (v3 §9): TASK.<path>,
 * CONFIG.<key>, WORKER_ID, QUEUE_ID, QUEUE_NAME, PROJECT_ID, PROJECT_NAME (one projects.get_all).
 * Owner: container_choice.c.
 */
#ifndef CLEARML_CONTAINER_CHOICE_H
#define CLEARML_CONTAINER_CHOICE_H

#include <jansson.h>

#include "supervisor/container.h"

/* *image (caller frees) and its arguments (appended to img_args); notes get the log lines.
 * task_id NULL: nothing is written back to the task (build --docker).
 * Returns 1 when the task's own container was used (its arguments pass the filters), else 0. */
int container_choose(struct agent_ctx *ctx, const json_t *task, const char *task_id, char **image,
                     struct dargs *img_args, struct buf *notes);

struct container_tmpl {
	struct agent_ctx *ctx;
	const json_t *task;
	const char *worker_id, *queue_id, *queue_name;
};
/* Resolve templates in every word of a (unknown ones: "" and a warning in notes). */
void container_resolve_templates(struct dargs *a, struct container_tmpl *tc, struct buf *notes);

#endif
