/*
 * gpu_env — the `--gpus` / `--cpu-only` environment rules of spec §1.2, and the TRAINS_* twins of
 * the CLEARML_* variables the agent exports. The rules are computed as a plan (pure) and applied
 * either to an envv (tests, child environments) or to the agent's own environment, which its
 * children inherit. Owner: gpu_env.c.
 */
#ifndef CLEARML_GPU_ENV_H
#define CLEARML_GPU_ENV_H

#include <stddef.h>

#include "proc.h"

/* What the options ask for. cuda/nvidia point into plan->value (or are "none"/"all"). */
struct gpu_env_plan {
	int change;          /* 0: leave the GPU variables alone */
	int unset_cuda;      /* remove CUDA_VISIBLE_DEVICES (`--gpus all`) */
	char value[256];     /* normalised device list ('.' → ':'), "all" or "none" */
};

/* Normalise a --gpus spec into out: trims, '.' → ':', rejects characters outside
 * [A-Za-z0-9,:._-] and empty lists. 0, or -1 with err set. */
int gpu_spec_normalize(const char *spec, char *out, size_t outlen, char *err, size_t errlen);

/* Plan for the given options. in_kubernetes: KUBERNETES_SERVICE_HOST or KUBERNETES_PORT is set
 * (then --gpus is ignored, as upstream; --cpu-only still applies). 0, or -1 with err set. */
int gpu_env_plan(const char *gpus, int cpu_only, int in_kubernetes, struct gpu_env_plan *plan,
                 char *err, size_t errlen);

/* Apply to an environment vector: GPU variables per plan, and CUDA_DEVICE_ORDER=PCI_BUS_ID unless
 * already set. */
void gpu_env_apply_envv(const struct gpu_env_plan *plan, struct envv *e);
/* The same on the process environment (setenv/unsetenv). */
void gpu_env_apply_process(const struct gpu_env_plan *plan);
/* Compute from options + the process environment and apply to it. 0, or -1 with err set. */
int gpu_env_setup_process(const char *gpus, int cpu_only, char *err, size_t errlen);

/* Set CLEARML_<X> and its TRAINS_<X> twin (key must start with "CLEARML_"). */
void env_set_twin(struct envv *e, const char *clearml_key, const char *value);
void env_setenv_twin(const char *clearml_key, const char *value);

#endif
