/* Unit tests for gitcred.c: URL parsing, force_git_ssh_* / translate_ssh rewriting tables,
 * credential routing (never in the URL), password masking, the GIT_ASKPASS helper and
 * requirement-line rewriting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/gitcred.h"
#include "proc.h"
#include "util.h"

static void
creds_init(struct git_creds *c, const char *user, const char *pass, const char *host)
{
	memset(c, 0, sizeof *c);
	c->user = user ? xstrdup(user) : NULL;
	c->pass = pass ? xstrdup(pass) : NULL;
	c->host = host ? xstrdup(host) : NULL;
	c->translate_ssh = 1;
}

static void
test_url_parse_format(void **state)
{
	(void)state;
	static const char *const urls[] = {
		"https://u:p@github.com:8443/org/repo.git", "ssh://git@host:2222/org/r.git",
		"git@github.com:org/repo.git", "/srv/git/r.git", "file:///srv/git/r.git",
		"http://127.0.0.1:1234/git/r.git",
	};
	for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
		struct git_url u;
		assert_int_equal(git_url_parse(urls[i], &u), 0);
		char *f = git_url_format(&u);
		assert_string_equal(f, urls[i]);
		free(f);
		git_url_free(&u);
	}
	struct git_url u;
	git_url_parse("https://u:p@github.com:8443/org/repo.git", &u);
	assert_string_equal(u.scheme, "https");
	assert_string_equal(u.user, "u");
	assert_string_equal(u.pass, "p");
	assert_string_equal(u.host, "github.com");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.path, "/org/repo.git");
	git_url_free(&u);
	git_url_parse("git@github.com:org/repo.git", &u);
	assert_true(u.scp);
	assert_string_equal(u.user, "git");
	assert_string_equal(u.host, "github.com");
	assert_string_equal(u.path, "org/repo.git");
	git_url_free(&u);
	git_url_parse("./rel/repo", &u);
	assert_true(u.local);
	git_url_free(&u);
}

static void
test_translate_ssh_table(void **state)
{
	(void)state;
	static const struct { const char *user, *pass, *host; int translate; const char *in, *out; } t[] = {
		/* credentials configured: ssh → https, git user dropped */
		{"bob", "pw", NULL, 1, "git@github.com:org/repo.git", "https://github.com/org/repo.git"},
		{"bob", "pw", NULL, 1, "ssh://git@github.com:22/org/repo.git", "https://github.com/org/repo.git"},
		{"bob", "pw", NULL, 1, "https://github.com/org/repo.git", "https://github.com/org/repo.git"},
		/* host restriction */
		{"bob", "pw", "gitlab.com", 1, "git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"bob", "pw", "github.com", 1, "git@github.com:org/repo.git", "https://github.com/org/repo.git"},
		{"bob", "pw", "GitHub.com", 1, "git@github.com:org/r.git", "https://github.com/org/r.git"},
		/* no credentials or translate off: untouched */
		{NULL, NULL, NULL, 1, "git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"bob", NULL, NULL, 1, "git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"bob", "pw", NULL, 0, "git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		/* local paths never change */
		{"bob", "pw", NULL, 1, "/srv/git/repo.git", "/srv/git/repo.git"},
		{"bob", "pw", NULL, 1, "file:///srv/git/repo.git", "file:///srv/git/repo.git"},
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct git_creds c;
		creds_init(&c, t[i].user, t[i].pass, t[i].host);
		c.translate_ssh = t[i].translate;
		char *r = gitcred_rewrite_url(&c, t[i].in);
		if (strcmp(r, t[i].out) != 0)
			fail_msg("row %zu: %s → %s, want %s", i, t[i].in, r, t[i].out);
		free(r);
		gitcred_free(&c);
	}
}

static void
test_force_ssh_table(void **state)
{
	(void)state;
	static const struct { const char *ssh_user, *ssh_port, *host; const char *in, *out; } t[] = {
		{NULL, NULL, NULL, "https://github.com/org/repo.git", "ssh://git@github.com/org/repo.git"},
		{"me", "2222", NULL, "https://github.com/org/repo.git", "ssh://me@github.com:2222/org/repo.git"},
		{NULL, "2222", NULL, "http://u:p@h.com/r.git", "ssh://git@h.com:2222/r.git"},
		{"me", NULL, NULL, "ssh://git@h.com:22/r.git", "ssh://me@h.com:22/r.git"},
		{NULL, "2200", NULL, "ssh://git@h.com/r.git", "ssh://git@h.com:2200/r.git"},
		{NULL, NULL, NULL, "ssh://git@h.com/r.git", "ssh://git@h.com/r.git"},
		{NULL, NULL, NULL, "git@h.com:org/r.git", "git@h.com:org/r.git"},
		{"me", "2200", NULL, "git@h.com:org/r.git", "ssh://me@h.com:2200/org/r.git"},
		{NULL, NULL, "other.com", "https://github.com/org/repo.git", "https://github.com/org/repo.git"},
		{NULL, NULL, "github.com", "https://github.com/org/repo.git", "ssh://git@github.com/org/repo.git"},
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct git_creds c;
		creds_init(&c, "bob", "pw", t[i].host);
		c.force_ssh = 1;
		c.ssh_user = t[i].ssh_user ? xstrdup(t[i].ssh_user) : NULL;
		c.ssh_port = t[i].ssh_port ? xstrdup(t[i].ssh_port) : NULL;
		char *r = gitcred_rewrite_url(&c, t[i].in);
		if (strcmp(r, t[i].out) != 0)
			fail_msg("row %zu: %s → %s, want %s", i, t[i].in, r, t[i].out);
		free(r);
		gitcred_free(&c);
	}
}

static void
test_prepare_keeps_secrets_out_of_url(void **state)
{
	(void)state;
	struct git_creds c;
	char *u, *p;
	creds_init(&c, "bob", "s3cret", NULL);
	char *url = gitcred_prepare(&c, "https://github.com/org/r.git", &u, &p);
	assert_string_equal(url, "https://github.com/org/r.git");
	assert_string_equal(u, "bob");
	assert_string_equal(p, "s3cret");
	free(url); free(u); free(p);

	/* embedded credentials are moved out of the URL (and win over the configured ones) */
	url = gitcred_prepare(&c, "https://alice:pa%40ss@h.com/r.git", &u, &p);
	assert_string_equal(url, "https://h.com/r.git");
	assert_string_equal(u, "alice");
	assert_string_equal(p, "pa@ss");
	free(url); free(u); free(p);

	/* a user in the URL: git asks only for the password */
	url = gitcred_prepare(&c, "https://carol@h.com/r.git", &u, &p);
	assert_string_equal(url, "https://carol@h.com/r.git");
	assert_null(u);
	assert_string_equal(p, "s3cret");
	free(url); free(p);

	/* ssh URL translated to https, credentials via askpass */
	url = gitcred_prepare(&c, "git@h.com:org/r.git", &u, &p);
	assert_string_equal(url, "https://h.com/org/r.git");
	assert_string_equal(u, "bob");
	free(url); free(u); free(p);
	gitcred_free(&c);

	/* host restriction: no credentials for another host */
	creds_init(&c, "bob", "s3cret", "git.example.com");
	url = gitcred_prepare(&c, "https://github.com/org/r.git", &u, &p);
	assert_string_equal(url, "https://github.com/org/r.git");
	assert_null(u);
	assert_null(p);
	free(url);
	gitcred_free(&c);

	/* no credentials at all */
	creds_init(&c, NULL, NULL, NULL);
	url = gitcred_prepare(&c, "file:///srv/r.git", &u, &p);
	assert_string_equal(url, "file:///srv/r.git");
	assert_null(u);
	assert_null(p);
	free(url);
	gitcred_free(&c);
}

static void
test_masking(void **state)
{
	(void)state;
	char *m = gitcred_mask_url("https://u:p4ss@h.com/r.git");
	assert_string_equal(m, "https://u:********@h.com/r.git");
	free(m);
	m = gitcred_mask_url("https://h.com/r.git");
	assert_string_equal(m, "https://h.com/r.git");
	free(m);
	m = gitcred_mask_text("fatal: could not read from 'http://a:b1@x/y' and http://c:d2@z/w\n", NULL);
	assert_string_equal(m, "fatal: could not read from 'http://a:********@x/y' and http://c:********@z/w\n");
	free(m);
	m = gitcred_mask_text("remote said topsecret twice: topsecret", "topsecret");
	assert_null(strstr(m, "topsecret"));
	assert_non_null(strstr(m, "********"));
	free(m);
}

static char *
run_askpass(struct envv *env, const char *prompt)
{
	const char *script = envv_get(env, "GIT_ASKPASS");
	char *const argv[] = {(char *)(uintptr_t)script, (char *)(uintptr_t)prompt, NULL};
	struct proc_opts o = {.envp = env->v, .out_fd = -1};
	struct proc_result r;
	assert_int_equal(proc_run(argv, &o, &r), 0);
	char *out = proc_ok(&r) ? xstrdup(r.output) : NULL;
	proc_result_free(&r);
	return out;
}

static void
test_askpass_helper(void **state)
{
	(void)state;
	struct envv env = {0};
	envv_from_environ(&env);
	struct git_askpass ap;
	char err[256];
	/* nothing to answer: no helper */
	assert_int_equal(gitcred_askpass_setup(&ap, NULL, NULL, NULL, &env, err, sizeof err), 0);
	assert_null(ap.script);

	assert_int_equal(gitcred_askpass_setup(&ap, "bob", "p'a\"ss $x", "git.example.com", &env, err,
	                                       sizeof err), 0);
	struct stat st;
	assert_int_equal(stat(ap.script, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(ap.dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* the secret is not in the helper file */
	char *text = read_file(ap.script, 1 << 16, NULL);
	assert_null(strstr(text, "p'a"));
	free(text);

	char *o = run_askpass(&env, "Username for 'https://git.example.com': ");
	assert_string_equal(o, "bob\n");
	free(o);
	o = run_askpass(&env, "Password for 'https://bob@git.example.com': ");
	assert_string_equal(o, "p'a\"ss $x\n");
	free(o);
	/* another host gets nothing */
	o = run_askpass(&env, "Password for 'https://evil.com/git.example.com': ");
	assert_null(o);
	o = run_askpass(&env, "Password for 'https://git.example.com.evil.com': ");
	assert_null(o);

	char *dir = xstrdup(ap.dir);
	gitcred_askpass_cleanup(&ap);
	assert_int_equal(stat(dir, &st), -1);
	free(dir);

	gitcred_git_env(&env);
	assert_string_equal(envv_get(&env, "GIT_TERMINAL_PROMPT"), "0");
	envv_free(&env);
}

static void
test_requirement_lines(void **state)
{
	(void)state;
	struct git_creds c;
	creds_init(&c, "bob", "pw", NULL);
	static const struct { const char *in, *out; } t[] = {
		{"numpy==1.2", "numpy==1.2"},
		{"git+ssh://git@github.com/org/pkg.git@v1#egg=pkg", "git+https://github.com/org/pkg.git@v1#egg=pkg"},
		{"pkg @ git+git@github.com:org/pkg.git@abc ; python_version>'3'",
		 "pkg @ git+https://github.com/org/pkg.git@abc ; python_version>'3'"},
		{"git+https://github.com/org/pkg.git", "git+https://github.com/org/pkg.git"},
	};
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char *r = gitcred_requirement_line(&c, t[i].in);
		if (strcmp(r, t[i].out) != 0)
			fail_msg("row %zu: %s → %s, want %s", i, t[i].in, r, t[i].out);
		free(r);
	}
	gitcred_free(&c);
}

static void
test_from_config_and_env(void **state)
{
	(void)state;
	json_t *root = json_pack("{s:{s:s, s:s, s:s, s:b, s:i, s:s, s:b}}", "agent", "git_user", "cfguser",
	                         "git_pass", "cfgpass", "git_host", "h.com", "force_git_ssh_protocol", 1,
	                         "force_git_ssh_port", 2222, "force_git_ssh_user", "me", "translate_ssh", 0);
	unsetenv("CLEARML_AGENT_GIT_USER");
	setenv("CLEARML_AGENT_GIT_PASS", "envpass", 1);
	unsetenv("CLEARML_AGENT_GIT_HOST");
	struct git_creds c;
	gitcred_from_config(&c, root);
	assert_string_equal(c.user, "cfguser");
	assert_string_equal(c.pass, "envpass");
	assert_string_equal(c.host, "h.com");
	assert_true(c.force_ssh);
	assert_string_equal(c.ssh_port, "2222");
	assert_string_equal(c.ssh_user, "me");
	assert_false(c.translate_ssh);
	gitcred_free(&c);
	unsetenv("CLEARML_AGENT_GIT_PASS");
	json_decref(root);

	/* nothing configured: translate_ssh defaults on, no credentials */
	json_t *empty = json_object();
	gitcred_from_config(&c, empty);
	assert_null(c.user);
	assert_null(c.pass);
	assert_true(c.translate_ssh);
	assert_false(c.force_ssh);
	gitcred_free(&c);
	json_decref(empty);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse_format),
		cmocka_unit_test(test_translate_ssh_table),
		cmocka_unit_test(test_force_ssh_table),
		cmocka_unit_test(test_prepare_keeps_secrets_out_of_url),
		cmocka_unit_test(test_masking),
		cmocka_unit_test(test_askpass_helper),
		cmocka_unit_test(test_requirement_lines),
		cmocka_unit_test(test_from_config_and_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
