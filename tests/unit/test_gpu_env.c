/* Unit tests for gpu_env.c: the --gpus / --cpu-only environment rules (spec §1.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/gpu_env.h"
#include "proc.h"
#include "util.h"

static void
env_with(struct envv *e, const char *cuda, const char *nvidia)
{
	e->v = xcalloc(1, sizeof(char *));
	e->n = 0;
	if (cuda)
		envv_set(e, "CUDA_VISIBLE_DEVICES", cuda);
	if (nvidia)
		envv_set(e, "NVIDIA_VISIBLE_DEVICES", nvidia);
}

static void
apply(struct envv *e, const char *gpus, int cpu_only, int k8s)
{
	struct gpu_env_plan p;
	char err[128];
	assert_int_equal(gpu_env_plan(gpus, cpu_only, k8s, &p, err, sizeof err), 0);
	gpu_env_apply_envv(&p, e);
}

static void
test_list_and_mig(void **state)
{
	(void)state;
	struct envv e;
	env_with(&e, NULL, NULL);
	apply(&e, "0,1,2", 0, 0);
	assert_string_equal(envv_get(&e, "CUDA_VISIBLE_DEVICES"), "0,1,2");
	assert_string_equal(envv_get(&e, "NVIDIA_VISIBLE_DEVICES"), "0,1,2");
	assert_string_equal(envv_get(&e, "CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
	apply(&e, "0.1", 0, 0); /* MIG: dots become colons */
	assert_string_equal(envv_get(&e, "CUDA_VISIBLE_DEVICES"), "0:1");
	assert_string_equal(envv_get(&e, "NVIDIA_VISIBLE_DEVICES"), "0:1");
	apply(&e, " 1:0 ", 0, 0);
	assert_string_equal(envv_get(&e, "NVIDIA_VISIBLE_DEVICES"), "1:0");
	envv_free(&e);
}

static void
test_all_unsets_cuda(void **state)
{
	(void)state;
	struct envv e;
	env_with(&e, "3", "3");
	apply(&e, "all", 0, 0);
	assert_null(envv_get(&e, "CUDA_VISIBLE_DEVICES"));
	assert_string_equal(envv_get(&e, "NVIDIA_VISIBLE_DEVICES"), "all");
	envv_free(&e);
}

static void
test_cpu_only_and_none(void **state)
{
	(void)state;
	struct envv e;
	env_with(&e, "0", "0");
	apply(&e, "1", 1, 0); /* --cpu-only wins over --gpus */
	assert_string_equal(envv_get(&e, "CUDA_VISIBLE_DEVICES"), "none");
	assert_string_equal(envv_get(&e, "NVIDIA_VISIBLE_DEVICES"), "none");
	envv_free(&e);
	env_with(&e, NULL, NULL);
	apply(&e, "NONE", 0, 0);
	assert_string_equal(envv_get(&e, "CUDA_VISIBLE_DEVICES"), "none");
	envv_free(&e);
}

static void
test_kubernetes_and_absent(void **state)
{
	(void)state;
	struct envv e;
	env_with(&e, "5", "5");
	apply(&e, "0", 0, 1); /* in a pod the scheduler chose the devices */
	assert_string_equal(envv_get(&e, "CUDA_VISIBLE_DEVICES"), "5");
	apply(&e, NULL, 0, 0);
	assert_string_equal(envv_get(&e, "NVIDIA_VISIBLE_DEVICES"), "5");
	apply(&e, NULL, 1, 1); /* --cpu-only still applies */
	assert_string_equal(envv_get(&e, "NVIDIA_VISIBLE_DEVICES"), "none");
	envv_free(&e);
	/* an existing device order is kept */
	env_with(&e, NULL, NULL);
	envv_set(&e, "CUDA_DEVICE_ORDER", "FASTEST_FIRST");
	apply(&e, "0", 0, 0);
	assert_string_equal(envv_get(&e, "CUDA_DEVICE_ORDER"), "FASTEST_FIRST");
	envv_free(&e);
}

static void
test_bad_specs(void **state)
{
	(void)state;
	struct gpu_env_plan p;
	char err[128];
	assert_int_equal(gpu_env_plan("0;rm -rf /", 0, 0, &p, err, sizeof err), -1);
	assert_non_null(strstr(err, "invalid character"));
	assert_int_equal(gpu_env_plan("", 0, 0, &p, err, sizeof err), -1);
	assert_int_equal(gpu_env_plan(",,", 0, 0, &p, err, sizeof err), -1);
	char out[8];
	assert_int_equal(gpu_spec_normalize("0,1,2,3,4,5,6", out, sizeof out, err, sizeof err), -1);
	assert_int_equal(gpu_spec_normalize("GPU-ab12_c.3", out, sizeof out, err, sizeof err), -1);
	char big[64];
	assert_int_equal(gpu_spec_normalize("GPU-ab12_c.3", big, sizeof big, err, sizeof err), 0);
	assert_string_equal(big, "GPU-ab12_c:3");
}

static void
test_twins(void **state)
{
	(void)state;
	struct envv e;
	env_with(&e, NULL, NULL);
	env_set_twin(&e, "CLEARML_WORKER_ID", "host:0");
	assert_string_equal(envv_get(&e, "CLEARML_WORKER_ID"), "host:0");
	assert_string_equal(envv_get(&e, "TRAINS_WORKER_ID"), "host:0");
	env_set_twin(&e, "OTHER", "x"); /* no twin for non-CLEARML keys */
	assert_string_equal(envv_get(&e, "OTHER"), "x");
	assert_int_equal(e.n, 3);
	envv_free(&e);
	env_setenv_twin("CLEARML_UNIT_TWIN", "v");
	assert_string_equal(getenv("TRAINS_UNIT_TWIN"), "v");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_and_mig),
		cmocka_unit_test(test_all_unsets_cuda),
		cmocka_unit_test(test_cpu_only_and_none),
		cmocka_unit_test(test_kubernetes_and_absent),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_twins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
