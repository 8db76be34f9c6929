/* Unit tests for worker_id.c: id rules, pid-file names and contents, slots, --stop matching,
 * and registration in a private temp directory (real files, real fork for a dead pid). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/worker_id.h"
#include "util.h"

static void
check_ident(const char *explicit_id, const char *nvidia, const char *cuda, int dyn, int slot,
            const char *want_id, const char *want_name)
{
	struct worker_ident wi;
	worker_ident_compute(&wi, explicit_id, "host", nvidia, cuda, dyn);
	char *id = worker_ident_final(&wi, slot);
	assert_string_equal(id, want_id);
	assert_string_equal(wi.worker_name, want_name);
	free(id);
	worker_ident_free(&wi);
}

static void
test_id_rules(void **state)
{
	(void)state;
	check_ident(NULL, NULL, NULL, 0, 0, "host:0", "host");
	check_ident(NULL, NULL, NULL, 0, 3, "host:3", "host");
	check_ident("", "", NULL, 0, 1, "host:1", "host");
	check_ident("my-worker", "0", NULL, 0, 2, "my-worker", "host");
	check_ident(NULL, "0,1", NULL, 0, 0, "host:gpu0,1", "host");
	check_ident(NULL, "all", NULL, 0, 1, "host:gpuall", "host");
	check_ident(NULL, "0-3", NULL, 1, 0, "host:dgpu0-3", "host");
	check_ident(NULL, "none", NULL, 0, 0, "host:cpu:0", "host:cpu");
	check_ident(NULL, "None", NULL, 0, 2, "host:cpu:2", "host:cpu");
	check_ident(NULL, NULL, "2", 0, 0, "host:gpu2", "host");     /* CUDA when NVIDIA unset */
	check_ident(NULL, "1", "2", 0, 0, "host:gpu1", "host");      /* NVIDIA first */
}

static void
test_pidfile_name_and_content(void **state)
{
	(void)state;
	pid_t pid = 0;
	assert_int_equal(pidfile_name_pid(".clearmlagent_1234_ab_c9x.tmp", &pid), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(pidfile_name_pid(".clearmlagent_12a4_x.tmp", &pid), -1);
	assert_int_equal(pidfile_name_pid(".clearmlagent__x.tmp", &pid), -1);
	assert_int_equal(pidfile_name_pid(".clearmlagent_12.tmp", &pid), -1);
	assert_int_equal(pidfile_name_pid("_.clearmlagent_global.lock", &pid), -1);
	assert_int_equal(pidfile_name_pid(".clearmlagent_99999999999_x.tmp", &pid), -1);

	char *id = NULL;
	int slot = -1;
	assert_int_equal(pidfile_parse("host:gpu0,1\n3", &id, &slot), 0);
	assert_string_equal(id, "host:gpu0,1");
	assert_int_equal(slot, 3);
	free(id);
	assert_int_equal(pidfile_parse("w\r\n0\n", &id, &slot), 0);
	assert_string_equal(id, "w");
	free(id);
	assert_int_equal(pidfile_parse("no-slot", &id, &slot), -1);
	assert_int_equal(pidfile_parse("\n1", &id, &slot), -1);
	assert_int_equal(pidfile_parse("w\nx", &id, &slot), -1);
}

static void
test_free_slot_and_stop_match(void **state)
{
	(void)state;
	int used[] = {0, 1, 3};
	assert_int_equal(pidfile_free_slot(used, 0), 0);
	assert_int_equal(pidfile_free_slot(used, 3), 2);
	int used2[] = {2, 1};
	assert_int_equal(pidfile_free_slot(used2, 2), 0);

	assert_true(pidfile_stop_match("host:0", "host:0", NULL));
	assert_true(pidfile_stop_match("host:1", NULL, "host"));
	assert_true(pidfile_stop_match("host:cpu:1", NULL, "host"));
	assert_false(pidfile_stop_match("hostname:1", NULL, "host"));
	assert_false(pidfile_stop_match("other", "host:0", "host"));
}

static char *
make_dir(void)
{
	char tmpl[] = "/tmp/test_worker_id.XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static void
remove_dir(char *dir)
{
	struct pidfile_list l;
	if (pidfile_scan(dir, 1, &l) == 0) {
		for (size_t i = 0; i < l.n; i++)
			unlink(l.v[i].path);
		pidfile_list_free(&l);
	}
	rmdir(dir);
	free(dir);
}

static void
write_pidfile(const char *dir, pid_t pid, const char *content)
{
	char *p = xasprintf("%s/.clearmlagent_%d_test%s.tmp", dir, (int)pid, content);
	for (char *c = p + strlen(dir) + 1; *c; c++)
		if (*c == '\n' || *c == ':')
			*c = '_';
	assert_int_equal(write_file_atomic(p, content, strlen(content), 0600), 0);
	free(p);
}

static pid_t
dead_pid(void)
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return p;
}

static void
test_register_slots_and_stale(void **state)
{
	(void)state;
	char *dir = make_dir();
	/* A live instance (our parent: surely alive) holds slot 0, a dead one slot 1. */
	write_pidfile(dir, getppid(), "host:0\n0");
	pid_t dead = dead_pid();
	write_pidfile(dir, dead, "host:1\n1");

	struct worker_ident wi;
	worker_ident_compute(&wi, NULL, "host", NULL, NULL, 0);
	char *id = NULL, *path = NULL, *dup = NULL, err[256];
	int slot = -1;
	assert_int_equal(instance_register(dir, &wi, &id, &slot, &path, &dup, err, sizeof err), 0);
	assert_int_equal(slot, 1); /* the dead instance's slot is free again */
	assert_string_equal(id, "host:1");
	char *content = read_file(path, 100, NULL);
	assert_string_equal(content, "host:1\n1");
	free(content);
	char *want_prefix = xasprintf("%s/.clearmlagent_%d_", dir, (int)getpid());
	assert_true(str_starts_with(path, want_prefix));
	assert_true(str_ends_with(path, ".tmp"));
	free(want_prefix);

	struct pidfile_list l;
	assert_int_equal(pidfile_scan(dir, 1, &l), 0);
	assert_int_equal(l.n, 2); /* the stale file is gone, ours and the live one remain */
	assert_string_equal(l.v[0].worker_id, "host:0");
	assert_string_equal(l.v[1].worker_id, "host:1");
	assert_int_equal(l.v[1].pid, getpid());
	pidfile_list_free(&l);
	struct stat st;
	char *lock = xasprintf("%s/%s", dir, PIDFILE_LOCK);
	assert_int_equal(stat(lock, &st), -1); /* lock released */
	free(lock);

	/* pid file follows a new pid */
	assert_int_equal(pidfile_follow_pid(&path, getppid()), 0);
	want_prefix = xasprintf("%s/.clearmlagent_%d_", dir, (int)getppid());
	assert_true(str_starts_with(path, want_prefix));
	free(want_prefix);
	pidfile_remove(path);
	free(path);
	free(id);
	worker_ident_free(&wi);
	remove_dir(dir);
}

static void
test_register_duplicate(void **state)
{
	(void)state;
	char *dir = make_dir();
	write_pidfile(dir, getppid(), "explicit-id\n0");
	struct worker_ident wi;
	worker_ident_compute(&wi, "explicit-id", "host", NULL, NULL, 0);
	char *id = NULL, *path = NULL, *dup = NULL, err[256];
	int slot = -1;
	assert_int_equal(instance_register(dir, &wi, &id, &slot, &path, &dup, err, sizeof err), 1);
	assert_string_equal(dup, "explicit-id");
	assert_null(path);
	free(dup);
	worker_ident_free(&wi);
	/* a different explicit id takes the next slot and keeps its own id */
	worker_ident_compute(&wi, "other-id", "host", NULL, NULL, 0);
	assert_int_equal(instance_register(dir, &wi, &id, &slot, &path, &dup, err, sizeof err), 0);
	assert_string_equal(id, "other-id");
	assert_int_equal(slot, 1);
	pidfile_remove(path);
	free(path);
	free(id);
	worker_ident_free(&wi);
	remove_dir(dir);
}

static void
test_stale_lock_is_broken(void **state)
{
	(void)state;
	char *dir = make_dir();
	char *lock = xasprintf("%s/%s", dir, PIDFILE_LOCK);
	assert_int_equal(write_file_atomic(lock, "1\n", 2, 0644), 0);
	struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
	assert_int_equal(utimensat(AT_FDCWD, lock, old, 0), 0);
	struct worker_ident wi;
	worker_ident_compute(&wi, NULL, "h", "none", NULL, 0);
	char *id = NULL, *path = NULL, *dup = NULL, err[256];
	int slot = -1;
	assert_int_equal(instance_register(dir, &wi, &id, &slot, &path, &dup, err, sizeof err), 0);
	assert_string_equal(id, "h:cpu:0");
	pidfile_remove(path);
	free(path);
	free(id);
	free(lock);
	worker_ident_free(&wi);
	remove_dir(dir);
}

static void
test_pid_alive(void **state)
{
	(void)state;
	assert_true(pid_is_alive(getpid()));
	assert_false(pid_is_alive(dead_pid()));
	assert_false(pid_is_alive(0));
	pid_t z = fork();
	if (z == 0)
		_exit(0);
	usleep(100000);
	assert_false(pid_is_alive(z)); /* a zombie does not count */
	waitpid(z, NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_rules),
		cmocka_unit_test(test_pidfile_name_and_content),
		cmocka_unit_test(test_free_slot_and_stop_match),
		cmocka_unit_test(test_register_slots_and_stale),
		cmocka_unit_test(test_register_duplicate),
		cmocka_unit_test(test_stale_lock_is_broken),
		cmocka_unit_test(test_pid_alive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
