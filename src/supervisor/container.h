/*
 * container — docker mode's I/O half (spec §6, v3 §1, §9; DESIGN §3 "Docker mode"): the agent's
 * container mode (engine, default image, static runner), and per task the launch of one container:
 * the image chosen (§6.2: the task's container, match rules, the default written back), the
 * io folder mounted into it (task JSON, result, code file, a credential-free config), the launch
 * file the host runner execs from (container_side.h), the client environment that carries secret
 * values (never on argv), kill/rm -f by name, the exit reason (OOMKilled, missing image, engine
 * down), and orphans found by label at start. Pure pieces live in docker_cmd.c.
 *
 * Slot hooks (slot_*.c): container_prepare after the task JSON is written, the runner's extra
 * arguments and environment in spawn, container_kill in the hard kill, container_exit_reason when
 * the client exited, container_free with the task's files. Owner: container.c.
 */
#ifndef CLEARML_CONTAINER_H
#define CLEARML_CONTAINER_H

#include <jansson.h>
#include <stddef.h>

#include "proc.h"
#include "supervisor/docker_cmd.h"
#include "supervisor/slot.h"

struct container_mode {
	enum container_engine engine;
	char *engine_bin;          /* "docker" / "podman" */
	char *image;               /* default image (CLI, CLEARML_DOCKER_IMAGE, agent.default_docker) */
	struct dargs args;         /* default arguments */
	int cli_override;          /* an image was given on the command line: no match rules */
	char *runner_bin;          /* the static runner mounted into containers */
};

/* From --docker/--podman, the config and the environment; checks the runner exists and prints
 * the docker-mode banner. Attaches to ctx->container. 0, or -1 with err. */
int container_attach(struct agent_ctx *ctx, char *err, size_t errlen);
void container_detach(struct agent_ctx *ctx);

struct container;

struct container_task {
	const char *task_id, *worker_id, *queue_id, *queue_name;
	const char *task_file;     /* the task JSON the slot wrote */
	const char *build_dir;     /* the slot's build dir (the host code goes to <it>.docker) */
	const char *gpus;          /* this slot's GPU visibility, or NULL for the agent's env */
	int slot_index;
	/* build --docker (build_docker.c): the container is created, not run, to be committed as an
	 * image: no write-back to the task, no labels, no -e (they go to <io>/build.env), the runner
	 * and the code are copied in (CONTAINER_IMAGE_ROOT) instead of mounted, and the runner stops
	 * once the environment is built (--build-only, the venv at CONTAINER_IMAGE_VENV). */
	int image_build;
};
#define CONTAINER_IMAGE_ROOT "/.clearml_agent"
#define CONTAINER_IMAGE_BUILD CONTAINER_IMAGE_ROOT "/build"
#define CONTAINER_IMAGE_VENV CONTAINER_IMAGE_ROOT "/venv"

/* Everything for one task's container, or NULL with reason (the task fails with it). */
struct container *container_prepare(struct agent_ctx *ctx, const struct container_task *t,
                                    char *reason, size_t reasonlen);

const char *container_name(const struct container *c);
const char *container_image(const struct container *c);
const char *container_engine_bin(const struct container *c);
const char *container_task_file(const struct container *c);
const char *container_result_file(const struct container *c);
const char *container_launch_file(const struct container *c);
const char *container_code_file(const struct container *c);
const char *container_host_build_dir(const struct container *c);
/* The secret values the client passes by name (-e NAME): set them in the client's env. */
void container_client_env(const struct container *c, struct envv *env);

/* `<engine> kill` then `rm -f` by name (bounded; errors ignored: it may be gone). */
void container_kill(struct container *c);
/* After the client exited with wait_status: why the task failed when the engine says so (OOM
 * kill, image missing, engine unreachable, container not started), or NULL; then the container
 * is removed. Caller frees. */
char *container_exit_reason(struct container *c, int wait_status, int runner_reported);
/* Remove the io folder and free. */
void container_free(struct container *c);

/* Recovery: remove a container by name (from a dead agent's state file). */
void container_remove_by_name(const char *engine_bin, const char *name);
/* At start: containers labelled with this agent's worker id whose agent process is gone are
 * removed (their tasks are finalised from the state files). Returns how many. */
int container_sweep_orphans(struct agent_ctx *ctx);

#endif
