/* Unit tests for vcs.c's pure parts: diff vs literal detection (§5.3), repository folder names,
 * md5 cache keys, revision safety, rm_rf; and vcs_apply_diff against a real `git init` repo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/vcs.h"
#include "proc.h"
#include "util.h"

static void
test_diff_kind(void **state)
{
	(void)state;
	assert_int_equal(vcs_diff_kind(NULL), DIFF_NONE);
	assert_int_equal(vcs_diff_kind(""), DIFF_NONE);
	assert_int_equal(vcs_diff_kind(" \n\t\n"), DIFF_NONE);
	assert_int_equal(vcs_diff_kind("diff --git a/x b/x\n--- a/x\n+++ b/x\n"), DIFF_GIT);
	assert_int_equal(vcs_diff_kind("submodule sub\ncontains changes\ndiff --git a/s b/s\n"), DIFF_GIT);
	assert_int_equal(vcs_diff_kind("submodule sub only text\n"), DIFF_LITERAL);
	assert_int_equal(vcs_diff_kind("print('diff --git')\n"), DIFF_LITERAL);
	assert_int_equal(vcs_diff_kind(" diff --git a/x b/x"), DIFF_LITERAL);
	assert_int_equal(vcs_diff_kind("#!/bin/bash\necho hi\n"), DIFF_LITERAL);
}

static void
test_repo_name(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } t[] = {
		{"https://github.com/org/repo.git", "repo.git"}, {"git@github.com:org/repo.git", "repo.git"},
		{"git@github.com:repo", "repo"}, {"/srv/git/proj/", "proj"}, {"file:///srv/x.git", "x.git"},
		{"https://h/..", "repository"}, {"", "repository"},
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char *n = vcs_repo_name(t[i].in);
		assert_string_equal(n, t[i].out);
		free(n);
	}
}

static void
test_md5_and_rev(void **state)
{
	(void)state;
	char h[33];
	vcs_md5_hex("", h);
	assert_string_equal(h, "d41d8cd98f00b204e9800998ecf8427e");
	vcs_md5_hex("https://github.com/allegroai/clearml.git", h);
	assert_int_equal(strlen(h), 32);
	assert_true(vcs_rev_ok("origin/main"));
	assert_true(vcs_rev_ok("0123abcd"));
	assert_false(vcs_rev_ok("--upload-pack=touch /tmp/x"));
	assert_false(vcs_rev_ok("-b"));
	assert_false(vcs_rev_ok("main;touch x"  " y"));
	assert_false(vcs_rev_ok("a\nb"));
	assert_false(vcs_rev_ok(""));
}

static char *
mktemp_dir(void)
{
	char *d = xstrdup("/tmp/test_vcs_XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static int
run_git(const char *cwd, const char *const *args)
{
	char *argv[16] = {(char *)(uintptr_t) "git"};
	size_t n = 1;
	for (; args[n - 1] && n < 15; n++)
		argv[n] = (char *)(uintptr_t)args[n - 1];
	argv[n] = NULL;
	struct proc_opts o = {.cwd = cwd, .out_fd = -1};
	struct proc_result r;
	assert_int_equal(proc_run(argv, &o, &r), 0);
	int ok = proc_ok(&r);
	proc_result_free(&r);
	return ok;
}

static void
test_rm_rf(void **state)
{
	(void)state;
	char *d = mktemp_dir();
	char *sub = xasprintf("%s/a/b", d);
	assert_int_equal(mkdir_p(sub, 0755), 0);
	char *f = xasprintf("%s/f", sub);
	assert_int_equal(write_file_atomic(f, "x", 1, 0444), 0);
	/* a symlink to outside must be removed, not followed */
	char *outside = mktemp_dir();
	char *keep = xasprintf("%s/keep", outside);
	assert_int_equal(write_file_atomic(keep, "k", 1, 0644), 0);
	char *link = xasprintf("%s/a/link", d);
	assert_int_equal(symlink(outside, link), 0);
	/* a read-only directory inside (a task's own cache, say) goes too */
	char *ro = xasprintf("%s/a/ro", d);
	char *rof = xasprintf("%s/a/ro/f", d);
	assert_int_equal(mkdir(ro, 0755), 0);
	assert_int_equal(write_file_atomic(rof, "y", 1, 0644), 0);
	assert_int_equal(chmod(ro, 0500), 0);
	free(ro);
	free(rof);
	assert_int_equal(rm_rf(d), 0);
	struct stat st;
	assert_int_equal(stat(d, &st), -1);
	assert_int_equal(stat(keep, &st), 0);
	assert_int_equal(rm_rf(d), 0); /* already gone is fine */
	assert_int_equal(rm_rf(outside), 0);
	free(d); free(sub); free(f); free(outside); free(keep); free(link);
}

static void
test_apply_diff(void **state)
{
	(void)state;
	char *d = mktemp_dir();
	assert_true(run_git(d, (const char *const[]){"init", "-q", NULL}));
	char *f = xasprintf("%s/a.txt", d);
	assert_int_equal(write_file_atomic(f, "one\ntwo\n", 8, 0644), 0);
	const char *diff = "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+three\n"
	                   "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+fresh";
	char reason[256];
	char *error = NULL;
	assert_int_equal(vcs_apply_diff(d, diff, reason, sizeof reason, &error), 0);
	char *text = read_file(f, 1024, NULL);
	assert_string_equal(text, "one\nthree\n");
	free(text);
	char *nf = xasprintf("%s/new.txt", d);
	text = read_file(nf, 1024, NULL);
	assert_string_equal(text, "fresh\n");
	free(text);

	/* a diff that does not apply: reason names it, error carries git's message */
	const char *bad = "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n nope\n-zzz\n+yyy\n";
	assert_int_equal(vcs_apply_diff(d, bad, reason, sizeof reason, &error), -1);
	assert_true(str_starts_with(reason, "failed applying git diff"));
	assert_non_null(error);
	assert_non_null(strstr(error, "a.txt"));
	free(error);

	/* a hostile "--- a/../x" line must not create anything outside the repo */
	char *parent_marker = xasprintf("%s/../vcs_escape_marker", d);
	char *hostile = xasprintf("diff --git a/x b/x\n--- a/../vcs_escape_marker\n+++ b/x\n@@ -0,0 +1 @@\n+x\n");
	vcs_apply_diff(d, hostile, reason, sizeof reason, &error);
	free(error);
	struct stat st;
	assert_int_equal(stat(parent_marker, &st), -1);
	free(hostile);
	free(parent_marker);

	rm_rf(d);
	free(nf);
	free(f);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_kind),
		cmocka_unit_test(test_repo_name),
		cmocka_unit_test(test_md5_and_rev),
		cmocka_unit_test(test_rm_rf),
		cmocka_unit_test(test_apply_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
