/* Unit tests for daemon_sched.c's set-up (no server): where the schedule comes from (command line
 * over configuration, list or single string), the services cap, the dynamic-GPU queue specs and
 * names, and the usage errors; plus the once-per-change decision log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/daemon_sched.h"

static char g_lockdir[] = "/tmp/test_daemon_sched.XXXXXX";

static struct strlist
list(const char **v, size_t n)
{
	struct strlist l = {(char **)(uintptr_t)v, n}; /* read only, never freed */
	return l;
}

static void
names_free(struct strlist *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
}

static void
test_schedule_sources(void **state)
{
	(void)state;
	struct cli_opts o;
	memset(&o, 0, sizeof o);
	json_t *root = json_loads("{\"agent\": {\"uptime\": [\"17-20 SUN-TUE\", \"13-22 WED\"]}}", 0,
	                          NULL);
	struct dsched s;
	struct strlist names;
	char err[256];
	assert_int_equal(dsched_setup(&s, &o, root, "h", &names, err, sizeof err), 0);
	assert_int_equal(s.sch.kind, SCHED_UPTIME);
	assert_int_equal(s.sch.n, 2);
	assert_int_equal(s.cap, 1);
	dsched_free(&s);
	names_free(&names);
	/* the command line's downtime replaces the configuration's uptime */
	const char *down[] = {"0 SUN-SAT"};
	o.downtime = list(down, 1);
	assert_int_equal(dsched_setup(&s, &o, root, "h", &names, err, sizeof err), 0);
	assert_int_equal(s.sch.kind, SCHED_DOWNTIME);
	assert_int_equal(s.sch.n, 1);
	dsched_free(&s);
	names_free(&names);
	json_decref(root);
	/* a single string in the configuration; both there → refused */
	memset(&o, 0, sizeof o);
	root = json_loads("{\"agent\": {\"downtime\": \"20-00,00-08 SUN\"}}", 0, NULL);
	assert_int_equal(dsched_setup(&s, &o, root, "h", &names, err, sizeof err), 0);
	assert_int_equal(s.sch.kind, SCHED_DOWNTIME);
	assert_int_equal(s.sch.e[0].nr, 2);
	dsched_free(&s);
	names_free(&names);
	json_decref(root);
	root = json_loads("{\"agent\": {\"downtime\": \"1 SUN\", \"uptime\": [\"2 MON\"]}}", 0, NULL);
	assert_int_equal(dsched_setup(&s, &o, root, "h", &names, err, sizeof err), -1);
	assert_non_null(strstr(err, "use only one"));
	json_decref(root);
	/* a malformed entry on the command line */
	const char *bad[] = {"17-20 SUNDAY"};
	o.uptime = list(bad, 1);
	assert_int_equal(dsched_setup(&s, &o, NULL, "h", &names, err, sizeof err), -1);
	assert_non_null(strstr(err, "SUNDAY"));
}

static void
test_services_cap(void **state)
{
	(void)state;
	struct cli_opts o;
	memset(&o, 0, sizeof o);
	const char *q[] = {"services"};
	o.queues = list(q, 1);
	o.services_mode_given = 1;
	o.services_mode = -1; /* the bare flag */
	struct dsched s;
	struct strlist names;
	char err[256];
	assert_int_equal(dsched_setup(&s, &o, NULL, "h", &names, err, sizeof err), 0);
	assert_true(s.services);
	assert_int_equal(s.cap, 0);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.v[0], "services");
	dsched_free(&s);
	names_free(&names);
	o.services_mode = 7;
	assert_int_equal(dsched_setup(&s, &o, NULL, "h", &names, err, sizeof err), 0);
	assert_int_equal(s.cap, 7);
	dsched_free(&s);
	names_free(&names);
	o.services_mode = 0; /* `--services-mode 0` is off, as upstream */
	assert_int_equal(dsched_setup(&s, &o, NULL, "h", &names, err, sizeof err), 0);
	assert_false(s.services);
	assert_int_equal(s.cap, 1);
	dsched_free(&s);
	names_free(&names);
	o.services_mode = -5;
	assert_int_equal(dsched_setup(&s, &o, NULL, "h", &names, err, sizeof err), -1);
	assert_non_null(strstr(err, "--services-mode -5"));
}

static void
test_dynamic_specs(void **state)
{
	(void)state;
	struct cli_opts o;
	memset(&o, 0, sizeof o);
	const char *q[] = {"quad=4", "dual=2", "opportunistic=1-4"};
	o.queues = list(q, 3);
	o.dynamic_gpus = 1;
	o.gpus = (char *)(uintptr_t) "0-7";
	struct dsched s;
	struct strlist names;
	char err[256];
	assert_int_equal(dsched_setup(&s, &o, NULL, "host", &names, err, sizeof err), 0);
	assert_int_equal(names.n, 3);
	assert_string_equal(names.v[0], "quad");
	assert_string_equal(names.v[2], "opportunistic");
	assert_int_equal(s.q[0].gpu_min, 4);
	assert_int_equal(s.q[2].gpu_min, 1);
	assert_int_equal(s.q[2].gpu_max, 4);
	assert_int_equal(s.cap, 8);
	assert_string_equal(s.gpu_name, "host");
	assert_string_equal(s.lock_dir, g_lockdir);
	assert_int_equal(dsched_queues_resolved(&s, 3, err, sizeof err), 0);
	assert_int_equal(dsched_queues_resolved(&s, 2, err, sizeof err), -1);
	/* take and release through the locks */
	unsigned char busy[GPU_MAX] = {0};
	size_t idx[GPU_MAX];
	assert_int_equal(dsched_gpu_take(&s, busy, 0, idx), 4);
	assert_int_equal(idx[0], 0);
	assert_int_equal(dsched_gpu_take(&s, busy, 1, idx + 4), 2);
	assert_int_equal(idx[4], 4);
	assert_int_equal(dsched_gpu_take(&s, busy, 0, idx + 6), 0); /* only 2 left */
	assert_int_equal(dsched_gpu_take(&s, busy, 2, idx + 6), 2); /* opportunistic: what is left */
	assert_true(s.lock_fd[7] >= 0);
	/* another agent (another descriptor) cannot take them */
	struct dsched other;
	struct strlist n2;
	assert_int_equal(dsched_setup(&other, &o, NULL, "host", &n2, err, sizeof err), 0);
	unsigned char b2[GPU_MAX] = {0};
	size_t i2[GPU_MAX];
	assert_int_equal(dsched_gpu_take(&other, b2, 2, i2), 0);
	dsched_gpu_release(&s, idx, 4);
	memset(b2, 0, sizeof b2);
	assert_int_equal(dsched_gpu_take(&other, b2, 0, i2), 4);
	assert_int_equal(i2[0], 0);
	dsched_free(&other);
	names_free(&n2);
	dsched_free(&s);
	names_free(&names);
	/* errors */
	const char *dup[] = {"a=1", "a=2"};
	o.queues = list(dup, 2);
	assert_int_equal(dsched_setup(&s, &o, NULL, "host", &names, err, sizeof err), -1);
	assert_non_null(strstr(err, "listed twice"));
	assert_int_equal(names.n, 0);
	o.queues = list(q, 0);
	assert_int_equal(dsched_setup(&s, &o, NULL, "host", &names, err, sizeof err), -1);
	assert_non_null(strstr(err, "needs queues"));
	o.queues = list(q, 3);
	o.gpus = (char *)(uintptr_t) "0-2";
	assert_int_equal(dsched_setup(&s, &o, NULL, "host", &names, err, sizeof err), -1);
	assert_non_null(strstr(err, "queue \"quad\" asks for 4 GPUs but --gpus names only 3"));
	o.gpus = NULL;
	assert_int_equal(dsched_setup(&s, &o, NULL, "host", &names, err, sizeof err), -1);
	assert_non_null(strstr(err, "needs --gpus"));
}

static void
test_decision_said_once_per_change(void **state)
{
	(void)state;
	struct cli_opts o;
	memset(&o, 0, sizeof o);
	const char *down[] = {"0 SUN-SAT"};
	o.downtime = list(down, 1);
	struct dsched s;
	struct strlist names;
	char err[256];
	assert_int_equal(dsched_setup(&s, &o, NULL, "h", &names, err, sizeof err), 0);
	assert_int_equal(dsched_queues_resolved(&s, 1, err, sizeof err), 0);
	assert_false(dsched_queue_active(&s, 0, "q", 1000000));
	assert_int_equal(s.q[0].last_active, 0);
	assert_false(dsched_queue_active(&s, 0, "q", 1000000));
	s.prop = FORCE_ON;
	assert_true(dsched_queue_active(&s, 0, "q", 1000000));
	s.q[0].tag = FORCE_OFF;
	assert_false(dsched_queue_active(&s, 0, "q", 1000000));
	assert_true(dsched_queue_active(&s, 5, "none", 1000000)); /* unknown index: not ours */
	dsched_free(&s);
	names_free(&names);
}

static int
setup(void **state)
{
	(void)state;
	if (!mkdtemp(g_lockdir))
		return -1;
	setenv("CLEARML_AGENT_GPU_LOCK_DIR", g_lockdir, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	char path[256];
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof path, "%s/gpu-%d.lock", g_lockdir, i);
		unlink(path);
	}
	rmdir(g_lockdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_sources),
		cmocka_unit_test(test_services_cap),
		cmocka_unit_test(test_dynamic_specs),
		cmocka_unit_test(test_decision_said_once_per_change),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
