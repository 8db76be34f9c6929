/*
 * monitor — machine statistics for workers.status_report (§7 of spec/clearml-agent.md).
 *
 * monitor_sample() reads /proc and statvfs (a handful of small reads, no allocation growth) and
 * accumulates; monitor_report() returns the averages since the last report with the upstream field
 * names (cpu_usage as a one-element list with the mean over cores, memory_used/free in MiB,
 * disk_free_home in percent, disk and network in MiB/s, cpu_temperature from coretemp) and the
 * GPU lists. GPUs come from NVML loaded with dlopen("libnvidia-ml.so.1") — only the few functions
 * used are declared here — or, when NVML is absent but nvidia-smi exists, from its CSV output at
 * most every 5 s. Only GPUs visible through NVIDIA_VISIBLE_DEVICES/CUDA_VISIBLE_DEVICES are
 * reported; three consecutive GPU read failures switch GPU monitoring off; no GPU → no GPU fields.
 * CLEARML_AGENT_NVML_LIBRARY (ours) names another NVML library (the tests use a stand-in, since
 * no GPU exists on the build machines).
 */
#include "supervisor/monitor.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "supervisor/monitor_parse.h"
#include "config.h"
#include "proc.h"
#include "util.h"

/* ---- NVML, declared by hand (stable C ABI) ---- */
typedef void *nvmlDevice_t;
struct nvml_util { unsigned int gpu, memory; };
struct nvml_mem { unsigned long long total, free, used; };
#define NVML_TEMPERATURE_GPU 0

struct nvml {
	void *lib;
	int (*init)(void);
	int (*shutdown)(void);
	int (*count)(unsigned int *);
	int (*handle)(unsigned int, nvmlDevice_t *);
	int (*temp)(nvmlDevice_t, int, unsigned int *);
	int (*util)(nvmlDevice_t, struct nvml_util *);
	int (*mem)(nvmlDevice_t, struct nvml_mem *);
	int (*uuid)(nvmlDevice_t, char *, unsigned int);
};

enum gpu_source { GPU_NONE = 0, GPU_NVML, GPU_SMI };

struct monitor {
	char *disk_path;
	double default_gpu_util;   /* < 0: none (null in config) */
	/* previous raw counters */
	struct cpu_times cpu_prev;
	uint64_t net_rx_prev, net_tx_prev, disk_rd_prev, disk_wr_prev;
	int64_t t_prev;
	int have_prev;
	/* accumulators */
	int n;
	double cpu, mem_used, mem_free, disk_free, disk_read, disk_write, net_rx, net_tx, cpu_temp;
	int n_rates, n_temp;
	/* GPUs */
	enum gpu_source gpu_src;
	struct nvml nvml;
	int gpu_fail;
	int visible[MON_MAX_GPUS];
	int n_visible;             /* -1: all */
	int n_gpu_samples;
	int gpu_count;             /* columns accumulated */
	int gpu_index[MON_MAX_GPUS];
	double g_temp[MON_MAX_GPUS], g_util[MON_MAX_GPUS], g_used[MON_MAX_GPUS], g_free[MON_MAX_GPUS];
	int64_t smi_last;
};

static char *
slurp(const char *path)
{
	return read_file(path, 1 << 20, NULL);
}

static int
is_whole_disk(const char *name)
{
	if (str_starts_with(name, "loop") || str_starts_with(name, "ram") || str_starts_with(name, "zram") ||
	    str_starts_with(name, "dm-") || str_starts_with(name, "md"))
		return 0;
	char path[128];
	snprintf(path, sizeof path, "/sys/block/%s", name);
	struct stat st;
	return stat(path, &st) == 0;
}

static int
read_cpu_temp(double *out)
{
	DIR *d = opendir("/sys/class/hwmon");
	if (d == NULL)
		return -1;
	struct dirent *e;
	int found = 0;
	double best = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof path, "/sys/class/hwmon/%s/name", e->d_name);
		char *name = slurp(path);
		if (name == NULL)
			continue;
		int coretemp = str_starts_with(name, "coretemp") || str_starts_with(name, "k10temp");
		free(name);
		if (!coretemp)
			continue;
		for (int i = 1; i < 64; i++) {
			snprintf(path, sizeof path, "/sys/class/hwmon/%s/temp%d_input", e->d_name, i);
			char *v = slurp(path);
			if (v == NULL)
				continue;
			long long milli;
			if (parse_long(str_trim(v), -1000000, 1000000, &milli) == 0) {
				double c = (double)milli / 1000.0;
				if (!found || c > best)
					best = c;
				found = 1;
			}
			free(v);
		}
	}
	closedir(d);
	if (found)
		*out = best;
	return found ? 0 : -1;
}

/* ---- GPU ---- */

#define LOAD(field, sym)                                                    \
	do {                                                                \
		*(void **)(&n->field) = dlsym(n->lib, sym);                \
		if (n->field == NULL)                                       \
			goto fail;                                          \
	} while (0)

static int
nvml_open(struct nvml *n)
{
	const char *lib = env_get("CLEARML_AGENT_NVML_LIBRARY");
	n->lib = dlopen(lib ? lib : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (n->lib == NULL)
		return -1;
	LOAD(init, "nvmlInit_v2");
	LOAD(shutdown, "nvmlShutdown");
	LOAD(count, "nvmlDeviceGetCount_v2");
	LOAD(handle, "nvmlDeviceGetHandleByIndex_v2");
	LOAD(temp, "nvmlDeviceGetTemperature");
	LOAD(util, "nvmlDeviceGetUtilizationRates");
	LOAD(mem, "nvmlDeviceGetMemoryInfo");
	*(void **)(&n->uuid) = dlsym(n->lib, "nvmlDeviceGetUUID");
	if (n->init() != 0)
		goto fail;
	return 0;
fail:
	dlclose(n->lib);
	n->lib = NULL;
	return -1;
}

static int
have_nvidia_smi(void)
{
	const char *path = getenv("PATH");
	if (path == NULL)
		return 0;
	char *copy = xstrdup(path);
	int found = 0;
	for (char *dir = copy; dir && !found;) {
		char *colon = strchr(dir, ':');
		if (colon)
			*colon = '\0';
		char *p = xasprintf("%s/nvidia-smi", *dir ? dir : ".");
		found = access(p, X_OK) == 0;
		free(p);
		dir = colon ? colon + 1 : NULL;
	}
	free(copy);
	return found;
}

static int
gpu_is_visible(const struct monitor *m, int idx)
{
	if (m->n_visible < 0)
		return 1;
	for (int i = 0; i < m->n_visible; i++)
		if (m->visible[i] == idx)
			return 1;
	return 0;
}

static void
gpu_accumulate(struct monitor *m, const struct gpu_sample *s, int n)
{
	int col = 0;
	for (int i = 0; i < n && col < MON_MAX_GPUS; i++) {
		if (!gpu_is_visible(m, s[i].index))
			continue;
		m->gpu_index[col] = s[i].index;
		m->g_temp[col] += s[i].temperature;
		double util = s[i].has_util ? s[i].utilization : m->default_gpu_util;
		m->g_util[col] += util < 0 ? 0 : util;
		m->g_used[col] += s[i].mem_used_mib;
		m->g_free[col] += s[i].mem_total_mib - s[i].mem_used_mib;
		col++;
	}
	m->gpu_count = col;
	m->n_gpu_samples++;
}

static int
sample_nvml(struct monitor *m)
{
	unsigned int count = 0;
	if (m->nvml.count(&count) != 0)
		return -1;
	struct gpu_sample s[MON_MAX_GPUS];
	int n = 0;
	for (unsigned int i = 0; i < count && n < MON_MAX_GPUS; i++) {
		nvmlDevice_t h;
		if (m->nvml.handle(i, &h) != 0)
			return -1;
		unsigned int t = 0;
		struct nvml_util u = {0, 0};
		struct nvml_mem mem = {0, 0, 0};
		if (m->nvml.mem(h, &mem) != 0)
			return -1;
		int has_temp = m->nvml.temp(h, NVML_TEMPERATURE_GPU, &t) == 0;
		int has_util = m->nvml.util(h, &u) == 0;
		s[n++] = (struct gpu_sample){.index = (int)i,
		                             .temperature = has_temp ? t : 0,
		                             .utilization = u.gpu,
		                             .has_util = has_util,
		                             .mem_used_mib = (double)mem.used / 1048576.0,
		                             .mem_total_mib = (double)mem.total / 1048576.0};
	}
	gpu_accumulate(m, s, n);
	return 0;
}

static int
sample_smi(struct monitor *m)
{
	int64_t now = mono_ms();
	if (m->smi_last && now - m->smi_last < 5000)
		return 0;
	m->smi_last = now;
	char *argv[] = {"nvidia-smi",
	                "--query-gpu=index,temperature.gpu,utilization.gpu,memory.used,memory.total",
	                "--format=csv,noheader,nounits", NULL};
	struct proc_opts o = {.out_fd = -1, .timeout_ms = 5000, .capture_max = 65536, .keep_stderr_apart = 1};
	struct proc_result r;
	if (proc_run(argv, &o, &r) < 0)
		return -1;
	int rc = -1;
	if (proc_ok(&r)) {
		struct gpu_sample s[MON_MAX_GPUS];
		int n = mon_parse_nvidia_smi(r.output, s, MON_MAX_GPUS);
		if (n >= 0) {
			gpu_accumulate(m, s, n);
			rc = 0;
		}
	}
	proc_result_free(&r);
	return rc;
}

static void
gpu_setup(struct monitor *m)
{
	m->n_visible = mon_visible_gpus(getenv("NVIDIA_VISIBLE_DEVICES"), getenv("CUDA_VISIBLE_DEVICES"),
	                                NULL, 0, m->visible, MON_MAX_GPUS);
	if (m->n_visible == 0)
		return; /* "none": no GPU stats at all */
	if (nvml_open(&m->nvml) == 0)
		m->gpu_src = GPU_NVML;
	else if (have_nvidia_smi())
		m->gpu_src = GPU_SMI;
}

/* ---- public ---- */

struct monitor *
monitor_new(const json_t *config)
{
	struct monitor *m = xcalloc(1, sizeof *m);
	m->disk_path = config ? cfg_path(config, "agent.resource_monitoring.disk_use_path") : NULL;
	if (m->disk_path == NULL)
		m->disk_path = path_expand("~");
	m->default_gpu_util = 100.0;
	if (config) {
		json_t *v = cfg_get(config, "agent.resource_monitoring.default_gpu_utilization");
		if (v && json_is_null(v))
			m->default_gpu_util = -1;
		else if (v && json_is_number(v))
			m->default_gpu_util = json_number_value(v);
	}
	gpu_setup(m);
	return m;
}

void
monitor_free(struct monitor *m)
{
	if (m == NULL)
		return;
	if (m->nvml.lib) {
		m->nvml.shutdown();
		dlclose(m->nvml.lib);
	}
	free(m->disk_path);
	free(m);
}

void
monitor_sample(struct monitor *m)
{
	int64_t now = mono_ms();
	char *text;
	struct cpu_times cpu = {0, 0};
	uint64_t rx = 0, tx = 0, rd = 0, wr = 0;
	int cpu_ok = 0, net_ok = 0, disk_ok = 0;

	if ((text = slurp("/proc/stat")) != NULL) {
		cpu_ok = mon_parse_proc_stat(text, &cpu) == 0;
		free(text);
	}
	if ((text = slurp("/proc/net/dev")) != NULL) {
		net_ok = mon_parse_net_dev(text, &rx, &tx) == 0;
		free(text);
	}
	if ((text = slurp("/proc/diskstats")) != NULL) {
		disk_ok = mon_parse_diskstats(text, is_whole_disk, &rd, &wr) == 0;
		free(text);
	}
	if (m->have_prev && cpu_ok) {
		double dt = (double)(now - m->t_prev) / 1000.0;
		m->cpu += mon_cpu_percent(&m->cpu_prev, &cpu);
		if (dt > 0.0) {
			const double mib = 1048576.0;
			m->net_rx += net_ok && rx >= m->net_rx_prev ? (double)(rx - m->net_rx_prev) / mib / dt : 0;
			m->net_tx += net_ok && tx >= m->net_tx_prev ? (double)(tx - m->net_tx_prev) / mib / dt : 0;
			m->disk_read += disk_ok && rd >= m->disk_rd_prev ? (double)(rd - m->disk_rd_prev) / mib / dt : 0;
			m->disk_write += disk_ok && wr >= m->disk_wr_prev ? (double)(wr - m->disk_wr_prev) / mib / dt : 0;
			m->n_rates++;
		}
		uint64_t total_kib = 0, avail_kib = 0;
		if ((text = slurp("/proc/meminfo")) != NULL) {
			if (mon_parse_meminfo(text, &total_kib, &avail_kib) == 0) {
				m->mem_used += (double)(total_kib - avail_kib) / 1024.0;
				m->mem_free += (double)avail_kib / 1024.0;
			}
			free(text);
		}
		struct statvfs vfs;
		if (statvfs(m->disk_path, &vfs) == 0 && vfs.f_blocks > 0) {
			/* psutil's percent: used / (used + avail) */
			double used = (double)(vfs.f_blocks - vfs.f_bfree);
			double avail = (double)vfs.f_bavail;
			m->disk_free += used + avail > 0 ? 100.0 - 100.0 * used / (used + avail) : 0;
		}
		double t;
		if (read_cpu_temp(&t) == 0) {
			m->cpu_temp += t;
			m->n_temp++;
		}
		m->n++;
	}
	if (cpu_ok) {
		m->cpu_prev = cpu;
		m->net_rx_prev = rx;
		m->net_tx_prev = tx;
		m->disk_rd_prev = rd;
		m->disk_wr_prev = wr;
		m->t_prev = now;
		m->have_prev = 1;
	}

	if (m->gpu_src != GPU_NONE) {
		int r = m->gpu_src == GPU_NVML ? sample_nvml(m) : sample_smi(m);
		if (r < 0) {
			if (++m->gpu_fail >= 3) {
				log_warn("GPU monitoring disabled after 3 consecutive read failures");
				m->gpu_src = GPU_NONE;
			}
		} else {
			m->gpu_fail = 0;
		}
	}
}

static json_t *
one(double v)
{
	json_t *a = json_array();
	json_array_append_new(a, json_real(mon_round3(v)));
	return a;
}

json_t *
monitor_report(struct monitor *m)
{
	json_t *o = json_object();
	if (m->n > 0) {
		double n = m->n;
		json_object_set_new(o, "cpu_usage", one(m->cpu / n));
		json_object_set_new(o, "memory_used", json_real(mon_round3(m->mem_used / n)));
		json_object_set_new(o, "memory_free", json_real(mon_round3(m->mem_free / n)));
		json_object_set_new(o, "disk_free_home", json_real(mon_round3(m->disk_free / n)));
		if (m->n_temp > 0)
			json_object_set_new(o, "cpu_temperature", one(m->cpu_temp / m->n_temp));
		if (m->n_rates > 0) {
			double r = m->n_rates;
			json_object_set_new(o, "disk_read", json_real(mon_round3(m->disk_read / r)));
			json_object_set_new(o, "disk_write", json_real(mon_round3(m->disk_write / r)));
			json_object_set_new(o, "network_rx", json_real(mon_round3(m->net_rx / r)));
			json_object_set_new(o, "network_tx", json_real(mon_round3(m->net_tx / r)));
		}
	}
	if (m->n_gpu_samples > 0 && m->gpu_count > 0) {
		double n = m->n_gpu_samples;
		json_t *temp = json_array(), *usage = json_array(), *used = json_array(), *free_ = json_array();
		for (int i = 0; i < m->gpu_count; i++) {
			json_array_append_new(temp, json_real(mon_round3(m->g_temp[i] / n)));
			json_array_append_new(usage, json_real(mon_round3(m->g_util[i] / n)));
			json_array_append_new(used, json_real(mon_round3(m->g_used[i] / n)));
			json_array_append_new(free_, json_real(mon_round3(m->g_free[i] / n)));
		}
		json_object_set_new(o, "gpu_temperature", temp);
		json_object_set_new(o, "gpu_usage", usage);
		json_object_set_new(o, "gpu_memory_used", used);
		json_object_set_new(o, "gpu_memory_free", free_);
	}
	m->n = m->n_rates = m->n_temp = 0;
	m->cpu = m->mem_used = m->mem_free = m->disk_free = m->disk_read = m->disk_write = 0;
	m->net_rx = m->net_tx = m->cpu_temp = 0;
	m->n_gpu_samples = 0;
	memset(m->g_temp, 0, sizeof m->g_temp);
	memset(m->g_util, 0, sizeof m->g_util);
	memset(m->g_used, 0, sizeof m->g_used);
	memset(m->g_free, 0, sizeof m->g_free);
	return o;
}
