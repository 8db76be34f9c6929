/*
 * docker_cmd — the pure half of docker mode (spec §6.3–§6.5, §6.7–§6.8, v3 §1, §9): splitting
 * argument strings, `${CLEARML_…}` templates, `docker_args_filters`, forbidden switches, the merge
 * of agent and task arguments with protected switches, the allowed host-port range, the GPU flags
 * of docker and podman, CLEARML_AGENT_K8S_HOST_MOUNT path rewriting, the container name, the
 * argv of `docker|podman run` and its masked display form. No I/O, no globals: container.c does
 * the talking to the engine. Owner: docker_cmd.c.
 */
#ifndef CLEARML_DOCKER_CMD_H
#define CLEARML_DOCKER_CMD_H

#include <stddef.h>

#include "util.h"

/* A growable list of owned strings, NULL-terminated (v[n] == NULL once anything was pushed). */
struct dargs {
	char **v;
	size_t n, cap;
};
void dargs_push(struct dargs *a, const char *s);
void dargs_pushf(struct dargs *a, const char *fmt, ...) ATTR_PRINTF(2, 3);
void dargs_extend(struct dargs *a, const struct dargs *b);
void dargs_free(struct dargs *a);

enum container_engine { ENGINE_DOCKER = 0, ENGINE_PODMAN };

/* POSIX-shell-like word splitting (quotes, backslashes; no expansion). 0, or -1 on an unbalanced
 * quote (out holds the words before it). */
int docker_split_args(const char *s, struct dargs *out);

/* `${CLEARML_<PATH>[:default][|op]}` templates (v3 §9). lookup(ctx, PATH) gives the value or
 * NULL; ops: strip, lower, upper, capitalize, raw. An unknown path without a default resolves to
 * "" and adds a line to warnings (may be NULL). Anything else is copied as it is. Caller frees. */
typedef char *(*docker_tmpl_lookup)(void *ctx, const char *path);
char *docker_template_resolve(const char *s, docker_tmpl_lookup lookup, void *ctx, struct buf *warnings);

/* The switch name of an argument: "--network=host" → "network", "-e" → "e", a value → NULL. */
const char *docker_switch_name(const char *arg, char *out, size_t outlen);

/* Does the switch at a[i] take the next word as its value ("-e K=V", "--network host")? */
int docker_switch_takes_value(const struct dargs *a, size_t i);

/* Remove every switch named in forbidden (names without dashes, e.g. "entrypoint") and its value
 * from a; the removed words go to removed (may be NULL). Returns how many switches went. */
size_t docker_strip_forbidden(struct dargs *a, char *const *forbidden, struct dargs *removed);

/* Keep only the switches (with their values) whose text "--name[=value]" matches one of the
 * extended regexes in filters; no filters keeps everything. Dropped words go to dropped. */
size_t docker_filter_args(struct dargs *a, char *const *filters, struct dargs *dropped);

/* §6.5 merge: with extra_precedes, out = extra + task minus the task's protected switches that
 * extra also sets; without, out = task + extra minus extra's. */
void docker_merge_args(const struct dargs *extra, const struct dargs *task, int extra_precedes,
                       char *const *protected_, struct dargs *out);

/* v3 §9 port range: a -p/--publish mapping whose host port lies outside [lo, hi] is removed (its
 * words go to dropped). A mapping without a host port or with `--network host` is left alone. */
size_t docker_check_ports(struct dargs *a, long lo, long hi, struct dargs *dropped);

/* §6.4 GPU flags from the host visibility (NVIDIA_VISIBLE_DEVICES or CUDA_VISIBLE_DEVICES; NULL
 * when neither is set). Docker: "--gpus" "all" | "--gpus" "\"device=0,1\""; podman: one
 * "--device" "nvidia.com/gpu=<id|all>" per device (CDI). skip_flag (CLEARML_DOCKER_SKIP_GPUS_FLAG)
 * emits nothing. host_has_gpu == 0 with no explicit list emits nothing (a CPU-only host). The
 * value for NVIDIA_VISIBLE_DEVICES inside the container goes to *nvidia_visible (caller frees). */
void docker_gpu_args(enum container_engine e, const char *visible, int skip_flag, int host_has_gpu,
                     struct dargs *out, char **nvidia_visible);

/* §6.8: spec "/node/path:/pod/path"; a host path under /pod/path is rewritten to /node/path…; a
 * path outside it gives NULL (the mount is dropped). spec NULL/"" → a copy of path. */
char *docker_k8s_host_path(const char *spec, const char *path);

/* The container name: agent.docker_container_name_format with {task_id}, {worker_id},
 * {rand_string:.N} (fmt NULL/"" → "clearml-id-{task_id}"); characters docker refuses become '-',
 * the first one is made alphanumeric, at most 128. rnd supplies random characters (may be NULL:
 * 'x'). Caller frees. */
char *docker_container_name(const char *fmt, const char *task_id, const char *worker_id,
                            const char *rnd);

/* The keys whose -e values are hidden in displays (§6.7), plus extra_keys. */
int docker_is_secret_env(const char *key, char *const *extra_keys);

/* The display form of an argv: -e/--env values of secret keys → "********", URL passwords
 * (scheme://user:pass@host) → "********" when parse_urls; words shell-quoted. Caller frees. */
char *docker_display(char *const *argv, char *const *extra_keys, int parse_urls);

/* build --docker: remove every -e/--env/--env-file switch from a (-e K=V, -eK=V, -e=K=V, --env K=V,
 * --env=K=V, -e K, --env-file F, --env-file=F); the -e values go to env ("K=V", or "K" to take from
 * the client's environment), the files to env_files. Returns how many switches were removed. */
size_t docker_take_env_args(struct dargs *a, struct dargs *env, struct dargs *env_files);

/* What goes into `<engine> run`. */
struct docker_run_in {
	const char *engine_bin;       /* "docker" / "podman" (path or name) */
	const char *name;             /* --name */
	const struct dargs *labels;   /* "k=v" each → -l k=v */
	const struct dargs *gpu;      /* from docker_gpu_args */
	const struct dargs *args;     /* merged user arguments */
	const struct dargs *env;      /* "K=V" each → -e K=V (values that are not secret) */
	const struct dargs *env_names;/* "K" each → -e K (value from the client's environment) */
	const struct dargs *mounts;   /* "host:container[:ro]" each → -v */
	const char *image;
	const struct dargs *command;  /* the entry command inside the container */
};
/* argv of `<engine> run …` (no shell, no -t; the caller never adds --rm: the exit state is read
 * with inspect before the container is removed). */
void docker_build_run(const struct docker_run_in *in, struct dargs *out);

#endif
