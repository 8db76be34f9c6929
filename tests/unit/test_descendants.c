/* Unit tests for descendants.c: the pure closure over a process table (parentage, pid reuse,
 * re-parented orphans stay members), and the real thing: a setsid'd, double-forked grandchild
 * with an empty environment is re-parented to us (subreaper), found and killed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/descendants.h"

static void
closure_follows_parents_and_pid_reuse(void **state)
{
	(void)state;
	struct proc_ent tab[] = {
		{.pid = 10, .ppid = 1, .start = 100},  /* the task */
		{.pid = 11, .ppid = 10, .start = 101}, /* child */
		{.pid = 12, .ppid = 11, .start = 102}, /* grandchild */
		{.pid = 13, .ppid = 1, .start = 103},  /* unrelated */
		{.pid = 14, .ppid = 99, .start = 104}, /* re-parented to the agent (99) */
	};
	struct desc_set set = {0};
	desc_close(&set, tab, 5, 10);
	assert_int_equal(set.n, 3);
	assert_true(desc_contains(&set, 12, 102));
	assert_false(desc_contains(&set, 13, 103));
	/* the task exits and 12's parent dies: 12 is re-parented but stays a member; 12's new
	 * child joins; pid 11 reused by another process is not a member */
	struct proc_ent tab2[] = {
		{.pid = 11, .ppid = 1, .start = 500},
		{.pid = 12, .ppid = 99, .start = 102},
		{.pid = 15, .ppid = 12, .start = 501},
		{.pid = 13, .ppid = 1, .start = 103},
	};
	desc_close(&set, tab2, 4, 0);
	assert_int_equal(set.n, 2);
	assert_true(desc_contains(&set, 12, 102));
	assert_true(desc_contains(&set, 15, 501));
	assert_false(desc_contains(&set, 11, 500));
	desc_free(&set);
}

static void
escaped_grandchild_found_and_killed(void **state)
{
	(void)state;
	assert_int_equal(desc_become_subreaper(), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t child = fork();
	if (child == 0) {
		setsid();
		pid_t g = fork();
		if (g == 0) {
			char *argv[] = {"sleep", "1000", NULL};
			char *envp[] = {NULL};
			close(p[0]);
			close(p[1]);
			execve("/bin/sleep", argv, envp);
			_exit(127);
		}
		if (write(p[1], &g, sizeof g) != (ssize_t)sizeof g)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	struct desc_set set = {0};
	desc_update(&set, child);
	pid_t g = 0;
	assert_int_equal(read(p[0], &g, sizeof g), (ssize_t)sizeof g);
	close(p[0]);
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	/* the grandchild is ours now */
	struct timespec ts = {0, 20 * 1000000};
	nanosleep(&ts, NULL);
	desc_update(&set, 0);
	/* it may have been seen before its parent died, or not: it is our child either way */
	struct proc_ent *tab;
	long n = desc_read_table(&tab);
	int ours = 0;
	for (long i = 0; i < n; i++)
		if (tab[i].pid == g) {
			ours = tab[i].ppid == getpid();
			desc_add(&set, &tab[i]);
		}
	free(tab);
	assert_true(ours);
	assert_true(desc_kill(&set) >= 1);
	assert_int_equal(waitpid(g, &st, 0), g);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	desc_free(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(closure_follows_parents_and_pid_reuse),
		cmocka_unit_test(escaped_grandchild_found_and_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
