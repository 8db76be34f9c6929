/* Unit tests for venv_cache.c on a temporary directory: store/restore by hard links, the
 * relocation of path-bearing files, the existing-entry-wins rule, stale temp removal and the
 * max_entries eviction policy (oldest by mtime first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/venv_cache.h"
#include "util.h"

static char *g_dir;

static int
setup(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_venv_cache.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	g_dir = xstrdup(tmpl);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tree_remove(g_dir);
	free(g_dir);
	return 0;
}

static void
put(const char *path, const char *text, unsigned mode)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), mode), 0);
}

/* A fake venv at <g_dir>/<name>: a script with its path in the shebang, a library file, a
 * symlink, and the code dirs that must not be cached. */
static char *
make_venv(const char *name)
{
	char *v = xasprintf("%s/%s", g_dir, name);
	char *p;
	p = xasprintf("%s/bin", v);
	assert_int_equal(mkdir_p(p, 0755), 0);
	free(p);
	p = xasprintf("%s/lib/site-packages/pkg", v);
	assert_int_equal(mkdir_p(p, 0755), 0);
	free(p);
	p = xasprintf("%s/task_repository/x", v);
	assert_int_equal(mkdir_p(p, 0755), 0);
	free(p);
	p = xasprintf("%s/bin/tool", v);
	char *text = xasprintf("#!%s/bin/python\nimport pkg\n", v);
	put(p, text, 0755);
	free(text);
	free(p);
	p = xasprintf("%s/lib/site-packages/pkg/__init__.py", v);
	put(p, "VALUE = 1\n", 0644);
	free(p);
	p = xasprintf("%s/bin/python", v);
	assert_int_equal(symlink("/usr/bin/python3", p), 0);
	free(p);
	return v;
}

static void
test_store_restore_relocate(void **state)
{
	(void)state;
	char *root = xasprintf("%s/cache", g_dir);
	struct venv_cache c = {.root = root, .max_entries = 10, .lock_timeout_sec = 5};
	char *src = make_venv("build1");
	json_t *meta = json_pack("{s:{s:[s]}}", "frozen", "pip", "pkg==1.0");
	assert_int_equal(venv_cache_store(&c, "k1", src, meta), 0);
	json_decref(meta);

	char *dest = xasprintf("%s/other/3.11", g_dir);
	assert_int_equal(mkdir_p(dest, 0755), 0);
	json_t *got = NULL;
	char *entry = NULL;
	assert_int_equal(venv_cache_restore(&c, "k1", dest, &got, &entry), 1);
	assert_non_null(got);
	assert_string_equal(json_string_value(json_object_get(got, "origin")), src);
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(got, "frozen"), "pip"), 0)),
	                    "pkg==1.0");
	json_decref(got);
	char *want_entry = xasprintf("%s/k1", root);
	assert_string_equal(entry, want_entry);

	/* a library file is a hard link of the cache's copy, not a copy */
	char *a = xasprintf("%s/k1/venv/lib/site-packages/pkg/__init__.py", root);
	char *b = xasprintf("%s/lib/site-packages/pkg/__init__.py", dest);
	struct stat sa, sb;
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_true(sa.st_ino == sb.st_ino);
	/* the script was rewritten for the new path; the cached copy still names the origin */
	char *tool = xasprintf("%s/bin/tool", dest);
	char *txt = read_file(tool, 4096, NULL);
	char *want = xasprintf("#!%s/bin/python\nimport pkg\n", dest);
	assert_string_equal(txt, want);
	free(txt);
	free(want);
	char *ctool = xasprintf("%s/k1/venv/bin/tool", root);
	txt = read_file(ctool, 4096, NULL);
	want = xasprintf("#!%s/bin/python\nimport pkg\n", src);
	assert_string_equal(txt, want);
	assert_true(access(tool, X_OK) == 0);
	/* symlinks are kept as links; code dirs were not cached */
	char *py = xasprintf("%s/bin/python", dest);
	struct stat sl;
	assert_int_equal(lstat(py, &sl), 0);
	assert_true(S_ISLNK(sl.st_mode));
	char *repo = xasprintf("%s/k1/venv/task_repository", root);
	assert_int_equal(access(repo, F_OK), -1);

	/* a miss */
	json_t *none = NULL;
	assert_int_equal(venv_cache_restore(&c, "nope", dest, &none, NULL), 0);
	assert_null(none);

	free(txt); free(want); free(py); free(repo); free(ctool); free(tool);
	free(a); free(b); free(entry); free(want_entry); free(dest); free(src); free(root);
}

static void
test_existing_entry_wins_and_stale_temp(void **state)
{
	(void)state;
	char *root = xasprintf("%s/cache2", g_dir);
	struct venv_cache c = {.root = root, .max_entries = 10, .lock_timeout_sec = 5};
	char *src = make_venv("build2");
	char *stale = xasprintf("%s/_temp.deadbeef/venv", root);
	assert_int_equal(mkdir_p(stale, 0755), 0);
	json_t *m1 = json_pack("{s:s}", "tag", "first");
	json_t *m2 = json_pack("{s:s}", "tag", "second");
	assert_int_equal(venv_cache_store(&c, "same", src, m1), 0);
	assert_int_equal(venv_cache_store(&c, "same", src, m2), 0);
	json_t *got = NULL;
	char *dest = xasprintf("%s/restored2", g_dir);
	assert_int_equal(venv_cache_restore(&c, "same", dest, &got, NULL), 1);
	assert_string_equal(json_string_value(json_object_get(got, "tag")), "first");
	char *tdir = xasprintf("%s/_temp.deadbeef", root);
	assert_int_equal(access(tdir, F_OK), -1);
	size_t n = 0;
	char **names = venv_cache_list(root, &n);
	assert_int_equal(n, 1);
	free(names[0]);
	free(names);
	json_decref(got); json_decref(m1); json_decref(m2);
	free(tdir); free(dest); free(stale); free(src); free(root);
}

static void
test_eviction_oldest_first(void **state)
{
	(void)state;
	char *root = xasprintf("%s/cache3", g_dir);
	struct venv_cache c = {.root = root, .max_entries = 2, .lock_timeout_sec = 5};
	char *src = make_venv("build3");
	json_t *m = json_object();
	assert_int_equal(venv_cache_store(&c, "old", src, m), 0);
	assert_int_equal(venv_cache_store(&c, "mid", src, m), 0);
	/* make "mid" older than "old" by mtime: eviction follows mtime, not creation order */
	char *pm = xasprintf("%s/mid", root), *po = xasprintf("%s/old", root);
	struct timespec tm[2] = {{1000, 0}, {1000, 0}}, to[2] = {{2000, 0}, {2000, 0}};
	assert_int_equal(utimensat(AT_FDCWD, pm, tm, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, po, to, 0), 0);
	assert_int_equal(venv_cache_store(&c, "new", src, m), 0);
	assert_int_equal(access(pm, F_OK), -1);
	assert_int_equal(access(po, F_OK), 0);
	size_t n = 0;
	char **names = venv_cache_list(root, &n);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "old");
	assert_string_equal(names[1], "new");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	/* an impossible free-space threshold: nothing stored, nothing left */
	c.free_space_gb = 1e12;
	assert_int_equal(venv_cache_store(&c, "huge", src, m), 0);
	names = venv_cache_list(root, &n);
	assert_int_equal(n, 0);
	free(names);
	json_decref(m);
	free(pm); free(po); free(src); free(root);
}

static void
test_clear_except(void **state)
{
	(void)state;
	char *v = make_venv("build4");
	static const char *const keep[] = {"task_repository", "code", NULL};
	assert_int_equal(tree_clear_except(v, keep), 0);
	size_t n = 0;
	char **names = venv_cache_list(v, &n);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "task_repository");
	free(names[0]);
	free(names);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_restore_relocate),
		cmocka_unit_test(test_existing_entry_wins_and_stale_temp),
		cmocka_unit_test(test_eviction_oldest_first),
		cmocka_unit_test(test_clear_except),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
