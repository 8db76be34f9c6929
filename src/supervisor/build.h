/*
 * build — `clearml-agent build` (spec §1.5, §9): the folder form in build.c, the image form
 * (`--docker`) in build_docker.c. Helpers both forms share are declared here.
 */
#ifndef CLEARML_BUILD_H
#define CLEARML_BUILD_H

#include <jansson.h>

#include "agent/cli.h"
#include "config.h"
#include "supervisor/slot.h"

/* An absolute path for a command-line path (~ expanded, trailing slashes dropped). Caller frees. */
char *build_absolute_path(const char *p);
/* agent_ctx_init + login + resolve --id + tasks.get_by_id. ctx must be zeroed; the caller frees
 * it (agent_ctx_free) in every case. 0, or -1 after printing why. */
int build_login_and_get_task(struct agent_ctx *ctx, struct config *cfg, const struct cli_opts *o,
                             char **task_id, json_t **task);
/* A copy of the task for the runner, with --python-version applied as script.binary. */
json_t *build_task_copy(const json_t *task, const struct cli_opts *o);

/* `build --docker` (build_docker.c). */
int build_docker(const struct cli_opts *o, struct config *cfg);
/* 1 when s can be given to the engine as an image name ([registry/]name[:tag][@digest], lower
 * case, not an option, at most 255 characters). */
int build_image_name_ok(const char *s);

#endif
