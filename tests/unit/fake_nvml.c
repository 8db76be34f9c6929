/*
 * A stand-in for libnvidia-ml.so.1, used only by the GPU monitoring unit test: no NVIDIA GPU (and
 * so no NVML) can exist on the build machines. It exports the handful of NVML functions the
 * monitor resolves with dlsym and reports FAKE_NVML_GPUS deterministic devices:
 * GPU i has temperature 40+i °C, utilization 10*(i+1) %, 16 GiB of memory with (i+1) GiB used.
 * FAKE_NVML_FAIL=1 makes every device query fail.
 */
#include <stdlib.h>
#include <string.h>

typedef void *nvmlDevice_t;
struct nvml_util { unsigned int gpu, memory; };
struct nvml_mem { unsigned long long total, free, used; };

int nvmlInit_v2(void);
int nvmlShutdown(void);
int nvmlDeviceGetCount_v2(unsigned int *n);
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *h);
int nvmlDeviceGetTemperature(nvmlDevice_t h, int sensor, unsigned int *t);
int nvmlDeviceGetUtilizationRates(nvmlDevice_t h, struct nvml_util *u);
int nvmlDeviceGetMemoryInfo(nvmlDevice_t h, struct nvml_mem *m);

static int failing(void) { const char *f = getenv("FAKE_NVML_FAIL"); return f && strcmp(f, "1") == 0; }
static unsigned int idx(nvmlDevice_t h) { return (unsigned int)(unsigned long)h - 1; }

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }

int
nvmlDeviceGetCount_v2(unsigned int *n)
{
	const char *g = getenv("FAKE_NVML_GPUS");
	*n = g ? (unsigned int)strtoul(g, NULL, 10) : 2;
	return failing() ? 999 : 0;
}

int
nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *h)
{
	*h = (nvmlDevice_t)(unsigned long)(i + 1);
	return 0;
}

int
nvmlDeviceGetTemperature(nvmlDevice_t h, int sensor, unsigned int *t)
{
	(void)sensor;
	*t = 40 + idx(h);
	return 0;
}

int
nvmlDeviceGetUtilizationRates(nvmlDevice_t h, struct nvml_util *u)
{
	u->gpu = 10 * (idx(h) + 1);
	u->memory = 0;
	return 0;
}

int
nvmlDeviceGetMemoryInfo(nvmlDevice_t h, struct nvml_mem *m)
{
	m->total = 16ULL << 30;
	m->used = (unsigned long long)(idx(h) + 1) << 30;
	m->free = m->total - m->used;
	return 0;
}
