/*
 * secrets — which values the agent knows to be secret, for masking a task's output (redact.h):
 * the API secret key and auth token, the git password (agent.git_pass, CLEARML_AGENT_GIT_PASS),
 * passwords inside agent.package_manager.extra_index_url entries and the task's repository URL,
 * and the values of environment variables (the agent's, and the task's Environment section)
 * whose names match *_TOKEN, *_SECRET, *_PASSWORD, *_PASS, *_SECRET_KEY or the extra globs of
 * agent.redact_task_output_patterns. Nothing is collected when agent.redact_task_output is
 * false. Owner: secrets.c.
 */
#ifndef CLEARML_SECRETS_H
#define CLEARML_SECRETS_H

#include <jansson.h>

#include "supervisor/redact.h"

/* task: the task object (tasks.get_by_id, with "_environment"), or NULL. */
void secrets_collect(struct redactor *r, const json_t *cfg_root, const json_t *task);

#endif
