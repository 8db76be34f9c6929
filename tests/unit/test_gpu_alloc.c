/* Unit tests for gpu_alloc.c: the --gpus set, the per-queue GPU specs of the documentation's
 * dynamic-GPU examples and the bad ones, the busy set from other workers' ids, and the pick —
 * including the documentation's walk-through (quad gets 0-3, dual then 4-5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/gpu_alloc.h"
#include "supervisor/gpu_lock.h"

static void
test_set_parse(void **state)
{
	(void)state;
	struct gpu_set s;
	char err[256];
	assert_int_equal(gpu_set_parse("0-7", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.id[0], "0");
	assert_string_equal(s.id[7], "7");
	assert_int_equal(gpu_set_parse("0,1,2,3", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(gpu_set_parse("3", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.id[0], "3");
	assert_int_equal(gpu_set_parse("2-2", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(gpu_set_parse("0:0,0:1,1", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.id[1], "0:1");
	assert_int_equal(gpu_set_find(&s, "1"), 2);
	assert_int_equal(gpu_set_find(&s, "7"), -1);

	const char *bad[] = {"", "all", "none", "0-", "-3", "3-1", "0,,1", "0,1,", "a,b", "0.5",
	                     "0-3,5", "1:", ":1", "0-99999999", "0,0", "0 1", "0;1"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		if (gpu_set_parse(bad[i], &s, err, sizeof err) == 0)
			fail_msg("--gpus \"%s\" accepted", bad[i]);
		assert_true(strlen(err) > 0);
		assert_int_equal(s.n, 0);
	}
	assert_int_equal(gpu_set_parse(NULL, &s, err, sizeof err), -1);
	assert_non_null(strstr(err, "needs --gpus"));
	assert_int_equal(gpu_set_parse("3-1", &s, err, sizeof err), -1);
	assert_non_null(strstr(err, "backwards"));
	assert_int_equal(gpu_set_parse("0,0", &s, err, sizeof err), -1);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(gpu_set_parse("all", &s, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a range"));
	assert_int_equal(gpu_set_parse("0-64", &s, err, sizeof err), -1);
	assert_non_null(strstr(err, "more than"));
}

static void
spec_ok(const char *arg, size_t ngpus, const char *name, int min, int max)
{
	struct gpu_queue_spec q;
	char err[256];
	if (gpu_queue_spec_parse(arg, ngpus, 0, &q, err, sizeof err) != 0)
		fail_msg("%s: %s", arg, err);
	assert_string_equal(q.name, name);
	assert_int_equal(q.min, min);
	assert_int_equal(q.max, max);
}

static void
spec_bad(const char *arg, size_t ngpus, int docker, const char *fragment)
{
	struct gpu_queue_spec q;
	char err[256] = "";
	if (gpu_queue_spec_parse(arg, ngpus, docker, &q, err, sizeof err) == 0)
		fail_msg("%s accepted", arg);
	if (!strstr(err, fragment))
		fail_msg("%s: \"%s\" lacks \"%s\"", arg, err, fragment);
}

static void
test_queue_specs(void **state)
{
	(void)state;
	/* the documentation's examples */
	spec_ok("quad_gpu=4", 8, "quad_gpu", 4, 4);
	spec_ok("dual_gpu=2", 8, "dual_gpu", 2, 2);
	spec_ok("dual=2", 8, "dual", 2, 2);
	spec_ok("opportunistic=1-4", 8, "opportunistic", 1, 4);
	spec_ok("single_gpu=1", 1, "single_gpu", 1, 1);
	spec_ok("q=4", 4, "q", 4, 4);
	spec_ok("a=b=2", 4, "a=b", 2, 2); /* the last '=' splits */
	spec_ok("q=2.0", 4, "q", 2, 2);
	/* bad ones */
	spec_bad("q=0", 4, 0, "at least 1 GPU");
	spec_bad("q=0-2", 4, 0, "at least 1 GPU");
	spec_bad("q=5", 4, 0, "asks for 5 GPUs but --gpus names only 4");
	spec_bad("q=1-5", 4, 0, "asks for 5 GPUs");
	spec_bad("q=3-1", 4, 0, "backwards");
	spec_bad("q", 4, 0, "needs a GPU count");
	spec_bad("q=", 4, 0, "is not N or MIN-MAX");
	spec_bad("=2", 4, 0, "needs a GPU count");
	spec_bad("q=x", 4, 0, "is not N or MIN-MAX");
	spec_bad("q=-1", 4, 0, "is not N or MIN-MAX");
	spec_bad("q=1-", 4, 0, "is not N or MIN-MAX");
	spec_bad("q=2 ", 4, 0, "is not N or MIN-MAX");
	spec_bad("q=0.5", 4, 0, "need docker mode");
	spec_bad("q=0.25-1", 4, 0, "need docker mode");
	spec_bad("q=1.5", 4, 0, "need docker mode");
	spec_bad("q=0.5", 4, 1, "not available");
	spec_bad(NULL, 4, 0, "needs a GPU count");
}

static void
test_busy_from_workers(void **state)
{
	(void)state;
	struct gpu_set s;
	char err[128];
	assert_int_equal(gpu_set_parse("0-7", &s, err, sizeof err), 0);
	unsigned char busy[GPU_MAX] = {0};
	assert_int_equal(gpu_busy_from_worker(&s, "host", "host:gpu0,1", busy), 2);
	assert_int_equal(gpu_busy_from_worker(&s, "host", "host:gpu1,5", busy), 1); /* 1 already */
	assert_int_equal(gpu_busy_from_worker(&s, "host", "host:dgpu0,1,2,3,4,5,6,7", busy), 0);
	assert_int_equal(gpu_busy_from_worker(&s, "host", "host:cpu", busy), 0);
	assert_int_equal(gpu_busy_from_worker(&s, "host", "other:gpu7", busy), 0);
	assert_int_equal(gpu_busy_from_worker(&s, "host", "hostX:gpu7", busy), 0);
	assert_int_equal(gpu_busy_from_worker(&s, "host", "host:gpu0.25a", busy), 0);
	assert_int_equal(gpu_busy_from_worker(&s, "host", "host:gpu9", busy), 0); /* not ours */
	assert_int_equal(gpu_busy_from_worker(&s, "host", "host:1", busy), 0);
	assert_int_equal(gpu_busy_from_worker(&s, NULL, "host:gpu6", busy), 0);
	unsigned char want[8] = {1, 1, 0, 0, 0, 1, 0, 0};
	assert_memory_equal(busy, want, 8);
	/* MIG ids */
	assert_int_equal(gpu_set_parse("0:0,0:1", &s, err, sizeof err), 0);
	unsigned char b2[GPU_MAX] = {0};
	assert_int_equal(gpu_busy_from_worker(&s, "h", "h:gpu0:1", b2), 1);
	assert_int_equal(b2[1], 1);
}

static void
test_pick_documented_walkthrough(void **state)
{
	(void)state;
	struct gpu_set s;
	char err[128], ids[128];
	assert_int_equal(gpu_set_parse("0-7", &s, err, sizeof err), 0);
	unsigned char busy[GPU_MAX] = {0};
	size_t p[GPU_MAX];
	/* quad_gpu=4 first: GPUs 0-3 */
	size_t n = gpu_pick(&s, busy, 4, 4, p);
	assert_int_equal(n, 4);
	gpu_ids_join(&s, p, n, ids, sizeof ids);
	assert_string_equal(ids, "0,1,2,3");
	for (size_t i = 0; i < n; i++)
		busy[p[i]] = 1;
	/* then dual_gpu=2: GPUs 4-5 */
	n = gpu_pick(&s, busy, 2, 2, p);
	assert_int_equal(n, 2);
	gpu_ids_join(&s, p, n, ids, sizeof ids);
	assert_string_equal(ids, "4,5");
	for (size_t i = 0; i < n; i++)
		busy[p[i]] = 1;
	/* quad again: only 2 free, it waits */
	assert_int_equal(gpu_pick(&s, busy, 4, 4, p), 0);
	/* opportunistic=1-4 takes what is there: 6,7 */
	n = gpu_pick(&s, busy, 1, 4, p);
	assert_int_equal(n, 2);
	gpu_ids_join(&s, p, n, ids, sizeof ids);
	assert_string_equal(ids, "6,7");
	for (size_t i = 0; i < n; i++)
		busy[p[i]] = 1;
	assert_int_equal(gpu_pick(&s, busy, 1, 4, p), 0);
	/* a freed GPU in the middle is reused first; opportunistic never exceeds its max */
	busy[1] = busy[2] = busy[3] = busy[4] = busy[5] = 0;
	n = gpu_pick(&s, busy, 1, 4, p);
	assert_int_equal(n, 4);
	gpu_ids_join(&s, p, n, ids, sizeof ids);
	assert_string_equal(ids, "1,2,3,4");
	/* bad asks */
	assert_int_equal(gpu_pick(&s, busy, 0, 4, p), 0);
	assert_int_equal(gpu_pick(&s, busy, 3, 2, p), 0);
}

static void
test_pick_exhaustive(void **state)
{
	(void)state;
	/* every busy pattern of 6 GPUs × every (min, max): the pick is the lowest free, bounded */
	struct gpu_set s;
	char err[128];
	assert_int_equal(gpu_set_parse("0-5", &s, err, sizeof err), 0);
	for (unsigned mask = 0; mask < 64; mask++) {
		unsigned char busy[GPU_MAX] = {0};
		size_t nfree = 0;
		for (int i = 0; i < 6; i++) {
			busy[i] = (mask >> i) & 1;
			nfree += !busy[i];
		}
		for (int min = 1; min <= 6; min++) {
			for (int max = min; max <= 6; max++) {
				size_t p[GPU_MAX];
				size_t n = gpu_pick(&s, busy, min, max, p);
				size_t want = nfree < (size_t)min ? 0 : nfree < (size_t)max ? nfree : (size_t)max;
				assert_int_equal(n, want);
				for (size_t k = 0; k < n; k++) {
					assert_false(busy[p[k]]);
					if (k)
						assert_true(p[k] > p[k - 1]);
				}
				/* lowest free first: nothing free below the last picked was skipped */
				if (n) {
					for (size_t g = 0; g < p[n - 1]; g++) {
						int in = 0;
						for (size_t k = 0; k < n; k++)
							in |= p[k] == g;
						assert_true(in || busy[g]);
					}
				}
			}
		}
	}
}

static void
test_join_bounded(void **state)
{
	(void)state;
	struct gpu_set s;
	char err[128], small[4];
	assert_int_equal(gpu_set_parse("10-13", &s, err, sizeof err), 0);
	size_t p[] = {0, 1, 2, 3};
	gpu_ids_join(&s, p, 4, small, sizeof small);
	assert_true(strlen(small) < sizeof small);
	char big[64];
	gpu_ids_join(&s, p, 4, big, sizeof big);
	assert_string_equal(big, "10,11,12,13");
	gpu_ids_join(&s, p, 0, big, sizeof big);
	assert_string_equal(big, "");
}

/* The machine-wide lock: a GPU locked through one descriptor cannot be locked through another
 * (flock works per open file, so this holds between agents and inside one), and is free again
 * once released. */
static void
test_lock_is_exclusive(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_gpu_lock.XXXXXX";
	assert_non_null(mkdtemp(dir));
	setenv("CLEARML_AGENT_GPU_LOCK_DIR", dir, 1);
	char *ld = gpu_lock_dir();
	assert_string_equal(ld, dir);
	int a = gpu_lock_try(ld, "3");
	assert_true(a >= 0);
	errno = 0;
	assert_int_equal(gpu_lock_try(ld, "3"), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	int b = gpu_lock_try(ld, "0:1"); /* MIG ids are file names too */
	assert_true(b >= 0);
	assert_int_equal(gpu_lock_try(ld, "../x"), -1); /* never a path from an id */
	assert_int_equal(errno, EINVAL);
	gpu_lock_release(a);
	int c = gpu_lock_try(ld, "3");
	assert_true(c >= 0);
	gpu_lock_release(c);
	gpu_lock_release(b);
	char path[256];
	snprintf(path, sizeof path, "%s/gpu-3.lock", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/gpu-0:1.lock", dir);
	unlink(path);
	rmdir(dir);
	free(ld);
	unsetenv("CLEARML_AGENT_GPU_LOCK_DIR");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_parse),
		cmocka_unit_test(test_queue_specs),
		cmocka_unit_test(test_busy_from_workers),
		cmocka_unit_test(test_pick_documented_walkthrough),
		cmocka_unit_test(test_pick_exhaustive),
		cmocka_unit_test(test_join_bounded),
		cmocka_unit_test(test_lock_is_exclusive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
