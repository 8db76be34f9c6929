/* Unit tests for killtree.c: a task that ignores SIGTERM and double-forks out of its session
 * leaves nothing behind; the sweep only takes processes carrying the marker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/killtree.h"
#include "util.h"

/* A stubborn task: ignores SIGTERM, keeps a child in its group, and double-forks one out of its
 * session (setsid) that also ignores SIGTERM. Each writes its pid to a file in $1. */
static const char STUBBORN[] =
	"trap '' TERM\n"
	"( trap '' TERM; exec setsid sh -c 'trap \"\" TERM; echo $$ > \"$1/esc.tmp\"; "
	"mv \"$1/esc.tmp\" \"$1/esc\"; exec sleep 1000' sh \"$1\" ) &\n"
	"sleep 1000 & echo $! > \"$1/member\"\n"
	"echo $$ > \"$1/leader\"\n"
	"wait\n";

/* Every marker a test used: the group teardown sweeps them, so a failing test leaves nothing. */
static char markers[8][33];
static size_t nmarkers;

static const char *
new_marker(void)
{
	assert_true(nmarkers < ARRAY_LEN(markers));
	gen_hex_id(markers[nmarkers]);
	return markers[nmarkers++];
}

static int
sweep_all(void **state)
{
	(void)state;
	for (size_t i = 0; i < nmarkers; i++)
		killtree_sweep_env("CLEARML_KT_TEST", markers[i]);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return 0;
}

static int
alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void
reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static pid_t
read_pid(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	pid_t pid = -1;
	for (int i = 0; i < 500 && pid < 0; i++) {
		size_t len;
		char *s = read_file(p, 64, &len);
		long long v;
		if (s && parse_long(str_trim(s), 1, 1 << 30, &v) == 0)
			pid = (pid_t)v;
		free(s);
		if (pid < 0) {
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
		}
	}
	free(p);
	return pid;
}

/* Spawn the stubborn script in its own session, with env marker (or none) and an optional
 * cgroup.procs fd to join. */
static pid_t
spawn(const char *dir, const char *marker, int cg_fd)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setsid();
		if (cg_fd >= 0 && write(cg_fd, "0", 1) != 1)
			_exit(126);
		if (marker)
			setenv("CLEARML_KT_TEST", marker, 1);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2); /* a survivor must not hold the test's output open */
		execl("/bin/sh", "sh", "-c", STUBBORN, "sh", dir, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static char *
mkdir_tmp(void)
{
	char tmpl[] = "/tmp/killtree-test-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void
rm_tmp(char *dir)
{
	const char *names[] = {"esc", "member", "leader", "esc.tmp"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}

static void
test_stubborn_tree_killed_by_group_and_sweep(void **state)
{
	(void)state;
	char *dir = mkdir_tmp();
	const char *marker = new_marker();
	pid_t leader = spawn(dir, marker, -1);
	pid_t esc = read_pid(dir, "esc"), member = read_pid(dir, "member");
	assert_int_equal(read_pid(dir, "leader"), leader);
	assert_true(esc > 0 && member > 0);
	assert_true(alive(esc) && alive(member) && alive(leader));
	assert_true(getpgid(esc) != leader); /* really escaped the group */
	assert_true(killtree_env_match(esc, "CLEARML_KT_TEST", marker));
	assert_false(killtree_env_match(esc, "CLEARML_KT_TEST", "other"));

	assert_int_equal(killtree_kill(leader, NULL, "CLEARML_KT_TEST", marker, SIGTERM, 300), 0);
	assert_int_equal(waitpid(leader, NULL, 0), leader);
	reap_all();
	assert_false(alive(leader));
	assert_false(alive(member));
	assert_false(alive(esc));
	assert_false(killtree_env_alive("CLEARML_KT_TEST", marker));
	rm_tmp(dir);
}

static void
test_sweep_is_selective(void **state)
{
	(void)state;
	char *d1 = mkdir_tmp(), *d2 = mkdir_tmp();
	const char *m1 = new_marker(), *m2 = new_marker();
	pid_t l1 = spawn(d1, m1, -1), l2 = spawn(d2, m2, -1);
	pid_t e1 = read_pid(d1, "esc"), e2 = read_pid(d2, "esc");
	read_pid(d1, "leader");
	read_pid(d2, "leader");
	assert_true(e1 > 0 && e2 > 0);
	int n = killtree_sweep_env("CLEARML_KT_TEST", m1);
	assert_true(n >= 2); /* at least the leader and the escaped sleep */
	waitpid(l1, NULL, 0);
	reap_all();
	assert_false(alive(e1));
	assert_true(alive(e2)); /* other task untouched */
	assert_true(alive(l2));
	assert_int_equal(killtree_kill(l2, NULL, "CLEARML_KT_TEST", m2, SIGTERM, 100), 0);
	waitpid(l2, NULL, 0);
	reap_all();
	assert_false(alive(e2));
	rm_tmp(d1);
	rm_tmp(d2);
}

static void
test_polite_task_goes_within_grace(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setsid();
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	while (getpgid(pid) != pid)
		;
	/* SIGTERM is enough; no marker, no cgroup: only the group part runs */
	assert_int_equal(killtree_kill(pid, NULL, NULL, NULL, SIGTERM, 5000), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
}

static void
test_cgroup_kill_when_available(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof name, "clearml-killtree-test-%d", (int)getpid());
	char *cg = killtree_cgroup_create(name);
	if (!cg) {
		print_message("no writable cgroup v2 here: cgroup part not exercised\n");
		return;
	}
	int fd = killtree_cgroup_procs_fd(cg);
	assert_true(fd >= 0);
	char *dir = mkdir_tmp();
	pid_t leader = spawn(dir, NULL, fd); /* no marker: only the cgroup can find the escapee */
	close(fd);
	pid_t esc = read_pid(dir, "esc");
	read_pid(dir, "leader");
	assert_true(esc > 0 && alive(esc));
	assert_true(killtree_cgroup_populated(cg));
	assert_int_equal(killtree_kill(leader, cg, NULL, NULL, SIGTERM, 200), 0);
	waitpid(leader, NULL, 0);
	for (int i = 0; i < 200 && alive(esc); i++) {
		reap_all();
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	reap_all();
	assert_false(alive(esc));
	for (int i = 0; i < 200 && killtree_cgroup_remove(cg) < 0; i++) {
		reap_all();
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(access(cg, F_OK), -1);
	free(cg);
	rm_tmp(dir);
}

static void
test_stale_cgroups_removed(void **state)
{
	(void)state;
	pid_t dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	char a[96], b[96];
	snprintf(a, sizeof a, "clearml-kt-stale-x-%d-0", (int)dead);
	snprintf(b, sizeof b, "clearml-kt-stale-y-%d-0", (int)getpid());
	char *ca = killtree_cgroup_create(a), *cb = killtree_cgroup_create(b);
	if (!ca || !cb) {
		print_message("no writable cgroup v2 here: stale cleanup not exercised\n");
		if (ca)
			killtree_cgroup_remove(ca);
		if (cb)
			killtree_cgroup_remove(cb);
		free(ca);
		free(cb);
		return;
	}
	assert_int_equal(killtree_cgroup_remove_stale("clearml-kt-stale-"), 1);
	assert_int_equal(access(ca, F_OK), -1); /* its agent is dead: gone */
	assert_int_equal(access(cb, F_OK), 0);  /* ours: kept */
	assert_int_equal(killtree_cgroup_remove(cb), 0);
	free(ca);
	free(cb);
}

int
main(void)
{
	/* Orphans of the test trees come to us, so we can reap them and judge by pid. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stubborn_tree_killed_by_group_and_sweep),
		cmocka_unit_test(test_sweep_is_selective),
		cmocka_unit_test(test_polite_task_goes_within_grace),
		cmocka_unit_test(test_cgroup_kill_when_available),
		cmocka_unit_test(test_stale_cgroups_removed),
	};
	return cmocka_run_group_tests(tests, NULL, sweep_all);
}
