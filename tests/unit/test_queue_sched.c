/* Unit tests for queue_sched.c: priority and round-robin queue order (spec §4.2, §12 item 7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "supervisor/queue_sched.h"

/* Simulate polling: queue contents as counts; returns the order tasks are taken, 'S' for a sleep,
 * until `steps` questions were asked or everything is empty and a sleep happened. */
static void
simulate(int fairness, int *counts, size_t nq, char *out, size_t outlen)
{
	struct queue_sched q;
	queue_sched_init(&q, nq, fairness);
	size_t n = 0;
	for (int step = 0; step < 100 && n + 1 < outlen; step++) {
		long i = queue_sched_next(&q);
		if (i < 0) {
			out[n++] = 'S';
			int left = 0;
			for (size_t k = 0; k < nq; k++)
				left += counts[k];
			if (!left)
				break;
			continue;
		}
		int got = counts[i] > 0;
		if (got) {
			counts[i]--;
			out[n++] = (char)('a' + i);
		}
		queue_sched_result(&q, got);
	}
	out[n] = '\0';
}

static void
test_priority(void **state)
{
	(void)state;
	int counts[] = {2, 3};
	char out[64];
	simulate(0, counts, 2, out, sizeof out);
	/* the low queue runs only when the high one is empty; no sleep between tasks */
	assert_string_equal(out, "aabbbS");
}

static void
test_fairness_no_sleep_after_busy_round(void **state)
{
	(void)state;
	int counts[] = {3, 1, 2};
	char out[64];
	simulate(1, counts, 3, out, sizeof out);
	assert_string_equal(out, "abcacaS");
}

static void
test_empty_and_single(void **state)
{
	(void)state;
	struct queue_sched q;
	queue_sched_init(&q, 0, 0);
	assert_int_equal(queue_sched_next(&q), -1);
	int counts[] = {0};
	char out[16];
	simulate(1, counts, 1, out, sizeof out);
	assert_string_equal(out, "S");
	int one[] = {2};
	simulate(1, one, 1, out, sizeof out);
	assert_string_equal(out, "aaS");
	int two[] = {2};
	simulate(0, two, 1, out, sizeof out);
	assert_string_equal(out, "aaS");
}

static void
test_sleep_resets_round(void **state)
{
	(void)state;
	struct queue_sched q;
	queue_sched_init(&q, 2, 1);
	assert_int_equal(queue_sched_next(&q), 0);
	queue_sched_result(&q, 0);
	assert_int_equal(queue_sched_next(&q), 1);
	queue_sched_result(&q, 0);
	assert_int_equal(queue_sched_next(&q), -1);
	assert_int_equal(queue_sched_next(&q), 0); /* a fresh round after the sleep */
	queue_sched_result(&q, 1);
	assert_int_equal(queue_sched_next(&q), 1); /* fairness: the next queue, not the first */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_fairness_no_sleep_after_busy_round),
		cmocka_unit_test(test_empty_and_single),
		cmocka_unit_test(test_sleep_resets_round),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
