/*
 * monitor_parse — pure parsers for the machine statistics sources (/proc/stat, /proc/meminfo,
 * /proc/net/dev, /proc/diskstats, nvidia-smi CSV) and the GPU visibility rules, kept apart from
 * I/O so they are unit-tested on captured text. Owner: monitor_parse.c.
 */
#ifndef CLEARML_MONITOR_PARSE_H
#define CLEARML_MONITOR_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define MON_MAX_GPUS 64

struct cpu_times {
	uint64_t busy, total;
};
/* The aggregate "cpu " line of /proc/stat. 0 or -1. */
int mon_parse_proc_stat(const char *text, struct cpu_times *out);
/* CPU usage % between two samples (0 when no time passed). */
double mon_cpu_percent(const struct cpu_times *prev, const struct cpu_times *cur);

/* MemTotal and MemAvailable in KiB. 0 or -1. */
int mon_parse_meminfo(const char *text, uint64_t *total_kib, uint64_t *avail_kib);

/* Sum of rx/tx bytes over all interfaces except lo. 0 or -1. */
int mon_parse_net_dev(const char *text, uint64_t *rx, uint64_t *tx);

/* Sum of sectors read/written (512 bytes) over whole disks: a device counts when is_disk(name)
 * says so (the caller checks /sys/block/<name>; tests pass their own predicate). 0 or -1. */
int mon_parse_diskstats(const char *text, int (*is_disk)(const char *name), uint64_t *rd_bytes,
                        uint64_t *wr_bytes);

struct gpu_sample {
	int index;
	double temperature, utilization, mem_used_mib, mem_total_mib;
	int has_util;
};
/* nvidia-smi --query-gpu=index,temperature.gpu,utilization.gpu,memory.used,memory.total
 * --format=csv,noheader,nounits. Returns the number of GPUs parsed (≤ max), -1 on garbage. */
int mon_parse_nvidia_smi(const char *text, struct gpu_sample *out, int max);

/* Which GPU indices are visible: from NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES text (the
 * former wins when set). Returns -1 when all are visible (unset, "all"), 0 when none ("none",
 * "void", empty after trimming), else the count of indices written (UUIDs are matched by the
 * caller against uuids[] when not NULL). */
int mon_visible_gpus(const char *nvidia_visible, const char *cuda_visible, const char *const *uuids,
                     int n_gpus, int *out, int max);

/* Round to 3 decimals as the Python agent does. */
double mon_round3(double v);

#endif
