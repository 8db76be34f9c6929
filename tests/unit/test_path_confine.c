/* Unit tests for path_confine.c: component-wise containment (pure), and on a real directory
 * tree with links inside and outside the root: resolution, open and mkdir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path_confine.h"
#include "runner/vcs.h"
#include "util.h"

static void
within_is_component_wise(void **state)
{
	(void)state;
	assert_true(confine_within("/a/b", "/a/b"));
	assert_true(confine_within("/a/b", "/a/b/c"));
	assert_true(confine_within("/a/b/", "/a/b/c"));
	assert_false(confine_within("/a/b", "/a/bc"));
	assert_false(confine_within("/a/b", "/a"));
	assert_true(confine_within("/", "/x"));
	assert_false(confine_within("a", "/a"));
}

static char root[256], outside[256];

static int
setup(void **state)
{
	(void)state;
	char t[] = "/tmp/confine-test-XXXXXX";
	if (!mkdtemp(t))
		return -1;
	snprintf(root, sizeof root, "%s/repo", t);
	snprintf(outside, sizeof outside, "%s/outside", t);
	mkdir(root, 0755);
	mkdir(outside, 0755);
	char p[512];
	snprintf(p, sizeof p, "%s/sub", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/out", root);
	if (symlink(outside, p) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/in", root);
	if (symlink("sub", p) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/dangling", root);
	if (symlink("/nonexistent/x", p) < 0)
		return -1;
	return 0;
}

static void
resolves_inside_refuses_outside(void **state)
{
	(void)state;
	char *out = NULL;
	assert_int_equal(confine_path(root, "sub/new/file.py", &out), 0);
	assert_true(str_ends_with(out, "/repo/sub/new/file.py"));
	free(out);
	assert_int_equal(confine_path(root, "in/x.py", &out), 0); /* a link that stays inside */
	assert_true(str_ends_with(out, "/repo/sub/x.py"));
	free(out);
	errno = 0;
	assert_int_equal(confine_path(root, "out/x.py", &out), -1);
	assert_int_equal(errno, EXDEV);
	assert_int_equal(confine_path(root, "out", &out), -1);
	assert_int_equal(confine_path(root, "dangling/x", &out), -1);
	assert_int_equal(errno, EXDEV);
	assert_int_equal(confine_path(root, "../x", &out), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(confine_path(root, "/etc/passwd", &out), -1);
}

static void
open_and_mkdir_stay_inside(void **state)
{
	(void)state;
	int fd = confine_open(root, "in/ok.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	fd = confine_open(root, "out/evil.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EXDEV);
	char p[512];
	snprintf(p, sizeof p, "%s/evil.txt", outside);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(confine_mkdir_p(root, "out/newdir", 0755), -1);
	snprintf(p, sizeof p, "%s/newdir", outside);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(confine_mkdir_p(root, "sub/a/b", 0755), 0);
	snprintf(p, sizeof p, "%s/sub/a/b", root);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
}

static int
teardown(void **state)
{
	(void)state;
	char *top = path_dirname(root);
	rm_rf(top);
	free(top);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(within_is_component_wise),
		cmocka_unit_test(resolves_inside_refuses_outside),
		cmocka_unit_test(open_and_mkdir_stay_inside),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
