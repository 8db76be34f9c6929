/*
 * gpu_env — `--gpus` / `--cpu-only` (spec §1.2): CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES
 * for the agent and everything it starts, `all` (NVIDIA all, CUDA unset), MIG `0:1` (dots and
 * colons interchangeable, stored with colons), `none`; CUDA_DEVICE_ORDER=PCI_BUS_ID so device
 * numbers mean the same to CUDA as to nvidia-smi; and the TRAINS_* twins of CLEARML_* variables.
 */
#include "supervisor/gpu_env.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int
gpu_spec_normalize(const char *spec, char *out, size_t outlen, char *err, size_t errlen)
{
	if (spec == NULL) {
		snprintf(err, errlen, "empty --gpus value");
		return -1;
	}
	while (isspace((unsigned char)*spec))
		spec++;
	size_t n = strlen(spec);
	while (n > 0 && isspace((unsigned char)spec[n - 1]))
		n--;
	if (n == 0) {
		snprintf(err, errlen, "empty --gpus value");
		return -1;
	}
	if (n >= outlen) {
		snprintf(err, errlen, "--gpus value too long");
		return -1;
	}
	int has_device = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)spec[i];
		if (!(isalnum(c) || c == ',' || c == ':' || c == '.' || c == '_' || c == '-')) {
			snprintf(err, errlen, "invalid character '%c' in --gpus value", c);
			return -1;
		}
		if (isalnum(c))
			has_device = 1;
		out[i] = c == '.' ? ':' : (char)c;
	}
	out[n] = '\0';
	if (!has_device) {
		snprintf(err, errlen, "invalid --gpus value '%.*s'", (int)n, spec);
		return -1;
	}
	return 0;
}

int
gpu_env_plan(const char *gpus, int cpu_only, int in_kubernetes, struct gpu_env_plan *plan,
             char *err, size_t errlen)
{
	memset(plan, 0, sizeof *plan);
	if (cpu_only) {
		plan->change = 1;
		snprintf(plan->value, sizeof plan->value, "none");
		return 0;
	}
	if (gpus == NULL || in_kubernetes)
		return 0;
	if (gpu_spec_normalize(gpus, plan->value, sizeof plan->value, err, errlen) < 0)
		return -1;
	plan->change = 1;
	if (strcasecmp(plan->value, "all") == 0) {
		snprintf(plan->value, sizeof plan->value, "all");
		plan->unset_cuda = 1;
	} else if (strcasecmp(plan->value, "none") == 0) {
		snprintf(plan->value, sizeof plan->value, "none");
	}
	return 0;
}

void
gpu_env_apply_envv(const struct gpu_env_plan *plan, struct envv *e)
{
	const char *order = envv_get(e, "CUDA_DEVICE_ORDER");
	if (order == NULL || *order == '\0')
		envv_set(e, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	if (!plan->change)
		return;
	envv_set(e, "NVIDIA_VISIBLE_DEVICES", plan->value);
	if (plan->unset_cuda)
		envv_unset(e, "CUDA_VISIBLE_DEVICES");
	else
		envv_set(e, "CUDA_VISIBLE_DEVICES", plan->value);
}

void
gpu_env_apply_process(const struct gpu_env_plan *plan)
{
	if (env_get("CUDA_DEVICE_ORDER") == NULL)
		setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1);
	if (!plan->change)
		return;
	setenv("NVIDIA_VISIBLE_DEVICES", plan->value, 1);
	if (plan->unset_cuda)
		unsetenv("CUDA_VISIBLE_DEVICES");
	else
		setenv("CUDA_VISIBLE_DEVICES", plan->value, 1);
}

int
gpu_env_setup_process(const char *gpus, int cpu_only, char *err, size_t errlen)
{
	int k8s = getenv("KUBERNETES_SERVICE_HOST") != NULL || getenv("KUBERNETES_PORT") != NULL;
	struct gpu_env_plan plan;
	if (gpu_env_plan(gpus, cpu_only, k8s, &plan, err, errlen) < 0)
		return -1;
	gpu_env_apply_process(&plan);
	return 0;
}

static char *
twin_key(const char *clearml_key)
{
	if (!str_starts_with(clearml_key, "CLEARML_"))
		return NULL;
	return xasprintf("TRAINS_%s", clearml_key + strlen("CLEARML_"));
}

void
env_set_twin(struct envv *e, const char *clearml_key, const char *value)
{
	envv_set(e, clearml_key, value);
	char *t = twin_key(clearml_key);
	if (t)
		envv_set(e, t, value);
	free(t);
}

void
env_setenv_twin(const char *clearml_key, const char *value)
{
	setenv(clearml_key, value ? value : "", 1);
	char *t = twin_key(clearml_key);
	if (t)
		setenv(t, value ? value : "", 1);
	free(t);
}
