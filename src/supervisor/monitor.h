/*
 * monitor — machine statistics for workers.status_report (§7): CPU (mean over cores), memory,
 * disk free %, disk and network MiB/s, CPU temperature, and GPUs through NVML (dlopen of
 * libnvidia-ml.so.1) with nvidia-smi as fallback. No GPU fields where there is none.
 * Owner: monitor.c (+ gpu.c).
 */
#ifndef CLEARML_MONITOR_H
#define CLEARML_MONITOR_H

#include <jansson.h>

struct monitor;

/* config: effective config root (agent.resource_monitoring.*). Reads CUDA/NVIDIA_VISIBLE_DEVICES. */
struct monitor *monitor_new(const json_t *config);
void monitor_free(struct monitor *m);
/* Take one sample (cheap: a few /proc reads); call about every 0.5–1 s. */
void monitor_sample(struct monitor *m);
/* The averaged machine_stats object since the last report (new reference), and reset. Never
 * NULL; an empty object when nothing was sampled. */
json_t *monitor_report(struct monitor *m);

#endif
