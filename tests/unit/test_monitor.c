/*
 * Unit tests for the machine statistics: the /proc and nvidia-smi parsers on captured text, GPU
 * visibility rules, and the NVML path end to end through dlopen of a stand-in library
 * (libfake-nvml.so, built by the Makefile next to this test: no NVIDIA GPU exists here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/monitor.h"
#include "supervisor/monitor_parse.h"
#include "util.h"

static char fake_nvml[PATH_MAX];

static void
test_proc_stat(void **state)
{
	(void)state;
	const char *a = "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\nintr 1\n";
	const char *b = "cpu  200 0 200 900 0 0 0 0 0 0\ncpu0 100 0 100 450 0 0 0 0 0 0\n";
	struct cpu_times x, y;
	assert_int_equal(mon_parse_proc_stat(a, &x), 0);
	assert_int_equal(mon_parse_proc_stat(b, &y), 0);
	assert_true(x.total == 1000 && x.busy == 200);
	/* 200 busy of 300 elapsed */
	assert_true(mon_round3(mon_cpu_percent(&x, &y)) == mon_round3(200.0 / 3.0));
	assert_int_equal(mon_parse_proc_stat("garbage\n", &x), -1);
}

static void
test_meminfo(void **state)
{
	(void)state;
	const char *t = "MemTotal:       24000000 kB\nMemFree:         100 kB\nMemAvailable:   20000000 kB\n";
	uint64_t total, avail;
	assert_int_equal(mon_parse_meminfo(t, &total, &avail), 0);
	assert_true(total == 24000000 && avail == 20000000);
	assert_int_equal(mon_parse_meminfo("MemTotal: 5 kB\n", &total, &avail), -1);
}

static void
test_net_dev(void **state)
{
	(void)state;
	const char *t =
	    "Inter-|   Receive                                                |  Transmit\n"
	    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	    "    lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0\n"
	    "  eth0: 1000 10 0 0 0 0 0 0 2000 10 0 0 0 0 0 0\n"
	    "  eth1: 10 1 0 0 0 0 0 0 20 1 0 0 0 0 0 0\n";
	uint64_t rx, tx;
	assert_int_equal(mon_parse_net_dev(t, &rx, &tx), 0);
	assert_true(rx == 1010 && tx == 2020);
}

static int
only_vda(const char *name)
{
	return strcmp(name, "vda") == 0;
}

static void
test_diskstats(void **state)
{
	(void)state;
	const char *t = " 254       0 vda 100 0 2000 10 50 0 4000 20 0 0 0\n"
	                " 254       1 vda1 90 0 1800 10 40 0 3000 20 0 0 0\n"
	                "   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0\n";
	uint64_t rd, wr;
	assert_int_equal(mon_parse_diskstats(t, only_vda, &rd, &wr), 0);
	assert_true(rd == 2000 * 512 && wr == 4000 * 512);
}

static void
test_nvidia_smi(void **state)
{
	(void)state;
	struct gpu_sample s[4];
	int n = mon_parse_nvidia_smi("0, 45, 30, 1024, 16384\n1, 50, [N/A], 2048, 16384\n", s, 4);
	assert_int_equal(n, 2);
	assert_int_equal(s[1].index, 1);
	assert_true(s[0].utilization == 30 && s[0].has_util);
	assert_false(s[1].has_util);
	assert_true(s[1].mem_used_mib == 2048);
	assert_int_equal(mon_parse_nvidia_smi("not, a, csv\n", s, 4), -1);
}

static void
test_visible(void **state)
{
	(void)state;
	int out[8];
	assert_int_equal(mon_visible_gpus(NULL, NULL, NULL, 0, out, 8), -1);
	assert_int_equal(mon_visible_gpus("all", NULL, NULL, 0, out, 8), -1);
	assert_int_equal(mon_visible_gpus("none", "0", NULL, 0, out, 8), 0);
	assert_int_equal(mon_visible_gpus(NULL, "1,3", NULL, 0, out, 8), 2);
	assert_true(out[0] == 1 && out[1] == 3);
	assert_int_equal(mon_visible_gpus("0:1", NULL, NULL, 0, out, 8), 1);
	assert_int_equal(out[0], 0);
	const char *uuids[] = {"GPU-aaa", "GPU-bbb"};
	assert_int_equal(mon_visible_gpus("GPU-bbb", NULL, uuids, 2, out, 8), 1);
	assert_int_equal(out[0], 1);
}

static void
test_report_cpu_memory(void **state)
{
	(void)state;
	setenv("CLEARML_AGENT_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
	setenv("PATH", "/usr/bin:/bin", 1); /* no nvidia-smi here */
	struct monitor *m = monitor_new(NULL);
	monitor_sample(m);
	usleep(50000);
	monitor_sample(m);
	json_t *r = monitor_report(m);
	assert_non_null(json_object_get(r, "cpu_usage"));
	assert_int_equal(json_array_size(json_object_get(r, "cpu_usage")), 1);
	assert_true(json_real_value(json_object_get(r, "memory_free")) > 0);
	assert_true(json_real_value(json_object_get(r, "memory_used")) > 0);
	double disk = json_real_value(json_object_get(r, "disk_free_home"));
	assert_true(disk > 0 && disk <= 100);
	assert_null(json_object_get(r, "gpu_usage")); /* no GPU: no GPU fields */
	json_decref(r);
	/* reset after a report */
	r = monitor_report(m);
	assert_int_equal(json_object_size(r), 0);
	json_decref(r);
	monitor_free(m);
}

static void
test_report_gpus_through_nvml(void **state)
{
	(void)state;
	setenv("CLEARML_AGENT_NVML_LIBRARY", fake_nvml, 1);
	setenv("FAKE_NVML_GPUS", "3", 1);
	unsetenv("FAKE_NVML_FAIL");
	setenv("CUDA_VISIBLE_DEVICES", "0,2", 1);
	unsetenv("NVIDIA_VISIBLE_DEVICES");
	struct monitor *m = monitor_new(NULL);
	monitor_sample(m);
	monitor_sample(m);
	json_t *r = monitor_report(m);
	json_t *usage = json_object_get(r, "gpu_usage");
	assert_int_equal(json_array_size(usage), 2); /* GPUs 0 and 2 only */
	assert_true(json_real_value(json_array_get(usage, 0)) == 10.0);
	assert_true(json_real_value(json_array_get(usage, 1)) == 30.0);
	assert_true(json_real_value(json_array_get(json_object_get(r, "gpu_temperature"), 1)) == 42.0);
	assert_true(json_real_value(json_array_get(json_object_get(r, "gpu_memory_used"), 1)) == 3072.0);
	assert_true(json_real_value(json_array_get(json_object_get(r, "gpu_memory_free"), 0)) == 15360.0);
	json_decref(r);
	monitor_free(m);

	/* "none" → no GPU stats even with NVML present */
	setenv("NVIDIA_VISIBLE_DEVICES", "none", 1);
	m = monitor_new(NULL);
	monitor_sample(m);
	r = monitor_report(m);
	assert_null(json_object_get(r, "gpu_usage"));
	json_decref(r);
	monitor_free(m);
	unsetenv("NVIDIA_VISIBLE_DEVICES");

	/* three consecutive failures switch GPU monitoring off */
	setenv("FAKE_NVML_FAIL", "1", 1);
	m = monitor_new(NULL);
	for (int i = 0; i < 4; i++)
		monitor_sample(m);
	unsetenv("FAKE_NVML_FAIL");
	monitor_sample(m);
	r = monitor_report(m);
	assert_null(json_object_get(r, "gpu_usage"));
	json_decref(r);
	monitor_free(m);
	unsetenv("CUDA_VISIBLE_DEVICES");
}

int
main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	snprintf(fake_nvml, sizeof fake_nvml, "%s/libfake-nvml.so", dirname(self));
	(void)argv;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_stat),
		cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_net_dev),
		cmocka_unit_test(test_diskstats),
		cmocka_unit_test(test_nvidia_smi),
		cmocka_unit_test(test_visible),
		cmocka_unit_test(test_report_cpu_memory),
		cmocka_unit_test(test_report_gpus_through_nvml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
