/* Unit tests for config.c: load order and overrides (HOME set to a temp dir, real files, real
 * environment variables), typed lookups, masking, the print-out format and the JSON dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "version.h"

static const char *const env_vars[] = {
	"CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE", "CLEARML_CONFIG_PATH", "TRAINS_CONFIG_PATH",
	"TRAINS_ENV", "CLEARML_API_HOST", "TRAINS_API_HOST", "CLEARML_FILES_HOST",
	"TRAINS_FILES_HOST", "CLEARML_WEB_HOST", "TRAINS_WEB_HOST", "CLEARML_API_ACCESS_KEY",
	"TRAINS_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY", "TRAINS_API_SECRET_KEY",
	"CLEARML_WORKER_NAME", "TRAINS_WORKER_NAME", "CLEARML_WORKER_ID", "TRAINS_WORKER_ID",
	"CLEARML_CUDA_VERSION", "TRAINS_CUDA_VERSION", "CUDA_VERSION", "CLEARML_CUDNN_VERSION",
	"TRAINS_CUDNN_VERSION", "CUDNN_VERSION", "CLEARML_CPU_ONLY", "TRAINS_CPU_ONLY", "CPU_ONLY",
	"CLEARML_AGENT_CRASH_ON_EXCEPTION", "CLEAMRL_AGENT_CRASH_ON_EXCEPTION", "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
	"GOOGLE_APPLICATION_CREDENTIALS", "CLEARML_AGENT_DOCKER_ARGS_HIDE_ENV", NULL};

struct fx {
	char *home;
};

static void
clear_env(void)
{
	for (const char *const *v = env_vars; *v; v++)
		unsetenv(*v);
	/* and every injection variable the runner might carry */
	for (;;) {
		extern char **environ;
		char *name = NULL;
		for (char **e = environ; *e; e++)
			if (strncmp(*e, "CLEARML_AGENT__", 15) == 0) {
				name = xstrndup(*e, strcspn(*e, "="));
				break;
			}
		if (name == NULL)
			break;
		unsetenv(name);
		free(name);
	}
}

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	char tmpl[] = "/tmp/config-test-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	f->home = xstrdup(tmpl);
	setenv("HOME", f->home, 1);
	clear_env();
	*state = f;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* test directories only */
static void
rm_rf(const char *path)
{
	if (strncmp(path, "/tmp/config-test-", 17) == 0)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	clear_env();
	rm_rf(f->home);
	free(f->home);
	free(f);
	return 0;
}

static char *
put_file(const struct fx *f, const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", f->home, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	assert_int_equal(mkdir_p(p, 0755), 0);
	*slash = '/';
	assert_int_equal(write_file_atomic(p, text, strlen(text), 0644), 0);
	return p;
}

static void
load_ok(struct config *c, const char *explicit_file)
{
	char err[512] = "";
	if (config_load(c, explicit_file, err, sizeof err) != 0)
		fail_msg("config_load: %s", err);
	assert_non_null(c->root);
	assert_non_null(c->location);
}

static void
test_defaults_only(void **state)
{
	(void)state;
	struct config c;
	load_ok(&c, NULL);
	assert_string_equal(c.location, "");
	assert_string_equal(cfg_str(c.root, "agent.venvs_dir", ""), "~/.clearml/venvs-builds");
	assert_string_equal(cfg_str(c.root, "agent.package_manager.type", ""), "pip");
	assert_int_equal(cfg_int(c.root, "agent.venvs_cache.max_entries", 0), 10);
	assert_int_equal(cfg_int(c.root, "api.http.retries.total", 0), 240);
	assert_true(cfg_num(c.root, "api.http.retries.backoff_max", 0) == 120.0);
	assert_int_equal(cfg_int(c.root, "api.http.max_req_size", 0), 15728640);
	assert_string_equal(cfg_str(c.root, "sdk.storage.cache.default_base_dir", ""),
	                    "~/.clearml/cache");
	assert_string_equal(cfg_str(c.root, "agent.default_docker.image", ""),
	                    "nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04");
	assert_int_equal(json_array_size(cfg_get(c.root, "agent.default_docker.match_rules")), 7);
	assert_int_equal(json_array_size(cfg_get(c.root, "agent.package_manager.pip_version")), 3);
	assert_string_equal(cfg_str(c.root, "env", ""), "default");
	assert_null(cfg_get(c.root, "api.host")); /* no api_server → no host */
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	assert_string_equal(cfg_str(c.root, "agent.worker_name", ""), u.nodename);
	config_free(&c);
}

static void
test_home_files_merge(void **state)
{
	struct fx *f = *state;
	char *t = put_file(f, "trains.conf", "api { api_server: http://old:8008, web_server: w1 }\n"
	                                     "agent { git_user: t, worker_name: from-trains }\n");
	struct config c;
	load_ok(&c, NULL);
	assert_string_equal(c.location, t);
	assert_string_equal(cfg_str(c.root, "api.api_server", ""), "http://old:8008");
	config_free(&c);

	char *cl = put_file(f, "clearml.conf", "api.api_server: \"http://new:8008\"\n"
	                                       "agent.package_manager.type: uv\n");
	load_ok(&c, NULL);
	assert_string_equal(c.location, cl); /* clearml.conf wins the header too */
	assert_string_equal(cfg_str(c.root, "api.api_server", ""), "http://new:8008");
	assert_string_equal(cfg_str(c.root, "api.web_server", ""), "w1");      /* from trains.conf */
	assert_string_equal(cfg_str(c.root, "agent.git_user", ""), "t");
	assert_string_equal(cfg_str(c.root, "agent.package_manager.type", ""), "uv");
	assert_false(cfg_bool(c.root, "agent.package_manager.system_site_packages", 1)); /* default kept */
	assert_string_equal(cfg_str(c.root, "api.host", ""), "http://new:8008");
	assert_string_equal(cfg_str(c.root, "agent.worker_name", ""), "from-trains");
	config_free(&c);
	free(t);
	free(cl);
}

static void
test_explicit_file_only(void **state)
{
	struct fx *f = *state;
	char *cl = put_file(f, "clearml.conf", "agent.git_user: home\n");
	char *other = put_file(f, "etc/other.conf", "agent.git_pass: other\n");
	char *third = put_file(f, "etc/third.conf", "agent.git_host: third\n");
	setenv("CLEARML_CONFIG_FILE", other, 1);
	struct config c;
	load_ok(&c, NULL);
	assert_string_equal(c.location, other);
	assert_null(cfg_get(c.root, "agent.git_user")); /* ~/clearml.conf not read */
	assert_string_equal(cfg_str(c.root, "agent.git_pass", ""), "other");
	config_free(&c);

	/* --config-file beats the variable */
	load_ok(&c, third);
	assert_string_equal(c.location, third);
	assert_null(cfg_get(c.root, "agent.git_pass"));
	assert_string_equal(cfg_str(c.root, "agent.git_host", ""), "third");
	config_free(&c);

	/* a relative path is reported absolute */
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(f->home), 0);
	load_ok(&c, "etc/third.conf");
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(c.location, third);
	assert_string_equal(cfg_str(c.root, "agent.git_host", ""), "third");
	config_free(&c);

	/* TRAINS_ twin, with ~ expansion */
	unsetenv("CLEARML_CONFIG_FILE");
	setenv("TRAINS_CONFIG_FILE", "~/etc/other.conf", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.location, other);
	config_free(&c);

	/* not a readable file → error */
	char err[512];
	setenv("CLEARML_CONFIG_FILE", "/nonexistent/clearml.conf", 1);
	assert_int_equal(config_load(&c, NULL, err, sizeof err), -1);
	assert_string_equal(err, "Could not open configuration file: /nonexistent/clearml.conf");
	assert_null(c.root);
	char *dir = xasprintf("%s/etc", f->home);
	assert_int_equal(config_load(&c, dir, err, sizeof err), -1);
	free(dir);
	free(cl);
	free(other);
	free(third);
}

static void
test_parse_error_location(void **state)
{
	struct fx *f = *state;
	char *cl = put_file(f, "clearml.conf", "api {\n  api_server: \"http://x\n}\n");
	struct config c;
	char err[512];
	assert_int_equal(config_load(&c, NULL, err, sizeof err), -1);
	char *want = xasprintf("%s:2:15: unterminated string", cl);
	assert_string_equal(err, want);
	free(want);
	free(cl);
}

static void
test_env_injection(void **state)
{
	struct fx *f = *state;
	char *cl = put_file(f, "clearml.conf", "agent { docker_force_pull: false, git_user: file }\n");
	setenv("CLEARML_AGENT__AGENT__DOCKER_FORCE_PULL", "true", 1);
	setenv("CLEARML_AGENT__AGENT__EXTRA_DOCKER_ARGUMENTS", "[\"--ipc=host\", \"-v\", \"/a:/b\"]", 1);
	setenv("CLEARML_AGENT__SDK__NEW_SECTION__Value", "{ x: 1, y: Mixed-Case }", 1);
	setenv("CLEARML_AGENT__AGENT__VENVS_CACHE__MAX_ENTRIES", "3", 1);
	setenv("CLEARML_AGENT__", "ignored", 1);
	struct config c;
	load_ok(&c, NULL);
	assert_true(json_is_true(cfg_get(c.root, "agent.docker_force_pull")));
	json_t *args = cfg_get(c.root, "agent.extra_docker_arguments");
	assert_int_equal(json_array_size(args), 3);
	assert_string_equal(json_string_value(json_array_get(args, 2)), "/a:/b");
	assert_int_equal(cfg_int(c.root, "sdk.new_section.value.x", 0), 1);
	assert_string_equal(cfg_str(c.root, "sdk.new_section.value.y", ""), "Mixed-Case");
	assert_int_equal(cfg_int(c.root, "agent.venvs_cache.max_entries", 0), 3);
	assert_string_equal(cfg_str(c.root, "agent.venvs_cache.path", ""), "~/.clearml/venvs-cache");
	assert_string_equal(cfg_str(c.root, "agent.git_user", ""), "file");
	config_free(&c);
	free(cl);
}

static void
test_env_overrides(void **state)
{
	struct fx *f = *state;
	char *cl = put_file(f, "clearml.conf",
	                    "api { api_server: http://file:8008, credentials { access_key: FK } }\n"
	                    "agent { worker_name: filename, cpu_only: false }\n");
	setenv("CLEARML_API_HOST", "  http://env:8008  ", 1);
	setenv("TRAINS_API_HOST", "http://trains:8008", 1);
	setenv("CLEARML_FILES_HOST", "", 1); /* empty counts as unset */
	setenv("TRAINS_FILES_HOST", "http://files-trains", 1);
	setenv("CLEARML_API_ACCESS_KEY", "EK", 1);
	setenv("CLEARML_API_SECRET_KEY", "ES", 1);
	setenv("CLEARML_WORKER_NAME", "envname", 1);
	setenv("CLEARML_WORKER_ID", "envname:gpu0", 1);
	setenv("CUDA_VERSION", "11.2", 1);
	setenv("CLEARML_CPU_ONLY", "Yes", 1);
	setenv("CLEAMRL_AGENT_CRASH_ON_EXCEPTION", "maybe", 1); /* not a boolean: ignored */
	setenv("AWS_ACCESS_KEY_ID", "AKIA", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "awssecret", 1);
	setenv("AZURE_STORAGE_ACCOUNT", "acct", 1);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", "/g.json", 1);
	struct config c;
	load_ok(&c, NULL);
	assert_string_equal(cfg_str(c.root, "api.api_server", ""), "http://env:8008");
	assert_string_equal(cfg_str(c.root, "api.host", ""), "http://env:8008");
	assert_string_equal(cfg_str(c.root, "api.files_server", ""), "http://files-trains");
	assert_string_equal(cfg_str(c.root, "api.credentials.access_key", ""), "EK");
	assert_string_equal(cfg_str(c.root, "api.credentials.secret_key", ""), "ES");
	assert_string_equal(cfg_str(c.root, "agent.worker_name", ""), "envname");
	assert_string_equal(cfg_str(c.root, "agent.worker_id", ""), "envname:gpu0");
	assert_string_equal(cfg_str(c.root, "agent.cuda_version", ""), "11.2");
	assert_true(json_is_true(cfg_get(c.root, "agent.cpu_only")));
	assert_null(cfg_get(c.root, "agent.crash_on_exception"));
	assert_string_equal(cfg_str(c.root, "sdk.aws.s3.key", ""), "AKIA");
	assert_string_equal(cfg_str(c.root, "sdk.aws.s3.secret", ""), "awssecret");
	json_t *cont = cfg_get(c.root, "sdk.azure.storage.containers");
	assert_int_equal(json_array_size(cont), 1);
	assert_string_equal(cfg_str(json_array_get(cont, 0), "account_name", ""), "acct");
	assert_true(json_is_null(cfg_get(json_array_get(cont, 0), "account_key")));
	assert_string_equal(cfg_str(c.root, "sdk.google.storage.credentials_json", ""), "/g.json");
	config_free(&c);

	/* the correctly spelt variable works too, and wins */
	setenv("CLEARML_AGENT_CRASH_ON_EXCEPTION", "off", 1);
	setenv("CLEAMRL_AGENT_CRASH_ON_EXCEPTION", "on", 1);
	unsetenv("CLEARML_API_HOST");
	load_ok(&c, NULL);
	assert_true(json_is_false(cfg_get(c.root, "agent.crash_on_exception")));
	assert_string_equal(cfg_str(c.root, "api.api_server", ""), "http://trains:8008");
	config_free(&c);
	free(cl);
}

static void
test_config_path_dir(void **state)
{
	struct fx *f = *state;
	char *a = put_file(f, "confdir/default/agent.conf", "git_user: fromdir\nvenvs_dir: /v\n");
	char *b = put_file(f, "confdir/default/extra/thing.conf", "k: 1\n");
	char *cl = put_file(f, "clearml.conf", "agent.venvs_dir: /home-wins\n");
	setenv("CLEARML_CONFIG_PATH", "~/confdir", 1);
	struct config c;
	load_ok(&c, NULL);
	assert_string_equal(cfg_str(c.root, "agent.git_user", ""), "fromdir");
	assert_string_equal(cfg_str(c.root, "agent.venvs_dir", ""), "/home-wins");
	assert_int_equal(cfg_int(c.root, "extra.thing.k", 0), 1);
	/* defaults of the same section survive the directory layer */
	assert_int_equal(cfg_int(c.root, "agent.venvs_cache.max_entries", 0), 10);
	config_free(&c);

	/* TRAINS_ENV adds its own sub-folder on top of default/; unknown names are refused */
	char *d = put_file(f, "confdir/demo/agent.conf", "git_user: fromdemo\n");
	setenv("TRAINS_ENV", "demo", 1);
	load_ok(&c, NULL);
	assert_string_equal(cfg_str(c.root, "agent.git_user", ""), "fromdemo");
	assert_string_equal(cfg_str(c.root, "env", ""), "demo");
	config_free(&c);
	setenv("TRAINS_ENV", "../../etc", 1);
	load_ok(&c, NULL);
	assert_string_equal(cfg_str(c.root, "agent.git_user", ""), "fromdir");
	assert_string_equal(cfg_str(c.root, "env", ""), "default");
	config_free(&c);
	free(d);
	free(a);
	free(b);
	free(cl);
}

static void
test_lookups(void **state)
{
	(void)state;
	json_t *o = NULL;
	char err[256];
	const char *t = "a { s: str, i: 7, r: 2.5, t: true, ys: \"yes\", n: null, is: \" 12 \","
	                " p: \"~/x/$CML_T_P\", e: \"\" }";
	assert_int_equal(hocon_parse(t, strlen(t), NULL, &o, err, sizeof err), 0);
	assert_string_equal(cfg_str(o, "a.s", "d"), "str");
	assert_string_equal(cfg_str(o, "a.i", "d"), "d"); /* wrong type → default */
	assert_string_equal(cfg_str(o, "a.missing", "d"), "d");
	assert_string_equal(cfg_str(o, "a.s.deeper", "d"), "d");
	assert_string_equal(cfg_str(o, "", "d"), "d");
	assert_string_equal(cfg_str(o, "a..s", "d"), "d");
	assert_int_equal(cfg_int(o, "a.i", 0), 7);
	assert_int_equal(cfg_int(o, "a.r", 0), 2);
	assert_int_equal(cfg_int(o, "a.is", 0), 12);
	assert_int_equal(cfg_int(o, "a.s", -1), -1);
	assert_true(cfg_num(o, "a.r", 0) == 2.5);
	assert_true(cfg_num(o, "a.i", 0) == 7.0);
	assert_true(cfg_num(o, "a.s", 9.0) == 9.0);
	assert_int_equal(cfg_bool(o, "a.t", 0), 1);
	assert_int_equal(cfg_bool(o, "a.ys", 0), 1);
	assert_int_equal(cfg_bool(o, "a.s", 5), 5);
	assert_int_equal(cfg_bool(o, "a.n", 5), 5);
	setenv("HOME", "/home/u", 1);
	setenv("CML_T_P", "pv", 1);
	char *p = cfg_path(o, "a.p");
	assert_string_equal(p, "/home/u/x/pv");
	free(p);
	assert_null(cfg_path(o, "a.e"));
	assert_null(cfg_path(o, "a.missing"));
	unsetenv("CML_T_P");

	assert_int_equal(cfg_set(o, "b.c.d", json_integer(5)), 0);
	assert_int_equal(cfg_int(o, "b.c.d", 0), 5);
	assert_int_equal(cfg_set(o, "a.s.x", json_string("over")), 0); /* replaces a non-object */
	assert_string_equal(cfg_str(o, "a.s.x", ""), "over");
	assert_int_equal(cfg_set(o, "", json_true()), -1);
	assert_int_equal(cfg_set(o, "a..b", json_true()), -1);
	assert_int_equal(cfg_set(NULL, "a", json_true()), -1);
	json_decref(o);
}

static void
test_mask_url(void **state)
{
	(void)state;
	struct {
		const char *in, *out;
	} cases[] = {
		{"https://u:p@h/x", "https://u:********@h/x"},
		{"https://user:secret@pypi.example.com:8443/simple?q=1#f",
		 "https://user:********@pypi.example.com:8443/simple?q=1#f"},
		{"https://token@h/x", "https://token@h/x"},       /* no password part */
		{"https://h/x", "https://h/x"},
		{"git+https://u:p@h/r.git", "git+https://u:********@h/r.git"},
		{"--extra-index-url https://a:b@h/ x", "--extra-index-url https://a:********@h/ x"},
		{"u:p@host", "u:p@host"}, /* not a URL: no netloc */
		{"", ""},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *m = config_mask_url(cases[i].in);
		assert_string_equal(m, cases[i].out);
		free(m);
	}
}

static char *
props_of(const char *hocon_text, const char *sanitize_text)
{
	json_t *o = NULL, *s = NULL;
	char err[256];
	if (hocon_parse(hocon_text, strlen(hocon_text), NULL, &o, err, sizeof err) != 0)
		fail_msg("%s", err);
	if (sanitize_text &&
	    hocon_parse(sanitize_text, strlen(sanitize_text), NULL, &s, err, sizeof err) != 0)
		fail_msg("%s", err);
	char *p = config_format_properties(o, s);
	json_decref(o);
	json_decref(s);
	return p;
}

static void
test_properties_format(void **state)
{
	(void)state;
	char *p = props_of("env: default\n"
	                   "a { s: \"x=y!z#w\", i: 3, f: 2.0, g: 0.1, h: 1e20, k: 15728640.0, "
	                   "m: 0.0001, m2: 0.00001, m3: 1e16, m4: 1e15, m5: -2.5, m6: 72.0, "
	                   "t: true, u: false, n: null, l: [x, [1, 2], { q: 1 }], e: [], o: {} }\n"
	                   "\"quoted\" { k: v }\n"
	                   "ml: \"line1\\nline2\"\n"
	                   "logging { version: 1, loggers { urllib3 { level: ERROR }, other { level: INFO } } }\n",
	                   NULL);
	assert_string_equal(p, "a.s = x\\=y\\!z\\#w\n"
	                       "a.i = 3\n"
	                       "a.f = 2.0\n"
	                       "a.g = 0.1\n"
	                       "a.h = 1e+20\n"
	                       "a.k = 15728640.0\n"
	                       "a.m = 0.0001\n"
	                       "a.m2 = 1e-05\n"
	                       "a.m3 = 1e+16\n"
	                       "a.m4 = 1000000000000000.0\n"
	                       "a.m5 = -2.5\n"
	                       "a.m6 = 72.0\n"
	                       "a.t = true\n"
	                       "a.u = false\n"
	                       "a.l.0 = x\n"
	                       "a.l.1.0 = 1\n"
	                       "a.l.1.1 = 2\n"
	                       "a.l.2.q = 1\n"
	                       "quoted.k = v\n"
	                       "ml = line1\\\nline2\n"
	                       "logging.loggers.other.level = INFO");
	free(p);
}

static void
test_masking(void **state)
{
	(void)state;
	unsetenv("CLEARML_AGENT_DOCKER_ARGS_HIDE_ENV");
	const char *cfgtext =
		"api { credentials { access_key: AK, secret_key: SK } }\n"
		"agent {\n"
		"  git_user: bob\n"
		"  git_pass: hunter2\n"
		"  enable_git_ask_pass: true\n"
		"  auth_token: tok\n"
		"  sanitize_config_printout { hide_secrets: [\"x\"] }\n"
		"  package_manager { extra_index_url: [\"https://u:pw1@h1/simple\", \"https://h2/simple\"] }\n"
		"  hide_docker_command_env_vars { enabled: true, extra_keys: [MY_KEY] }\n"
		"  extra_docker_arguments: [\"-e\", \"CLEARML_API_SECRET_KEY=s1\", \"--env\", \"MY_KEY=s2\",\n"
		"     \"--env=AWS_SECRET_ACCESS_KEY=s3\", \"-eCLEARML_AUTH_TOKEN=s4\", \"-e\", \"OK=v\",\n"
		"     \"-e\", \"URL=https://a:s5@h/\", \"https://b:s6@h/\", \"-e\",\n"
		"     \"CLEARML_DOCKER_IMAGE=img -e CLEARML_AGENT_GIT_PASS=s7\"]\n"
		"}\n"
		"sdk { aws { s3 { credentials: [ { bucket: b, key: k, secret: s8 } ] } } }\n"
		"environment { A: s9, B: s10 }\n"
		"files { f { contents: s11, path: /p } }\n";
	char *p = props_of(cfgtext, NULL);
	static const char *const secrets[] = {"SK", "hunter2", "tok", "pw1", "s1", "s2", "s3", "s4",
	                                      "s5", "s6", "s7", "s8", "s9", "s10", "s11", NULL};
	for (const char *const *s = secrets; *s; s++) {
		char *needle = xasprintf("%s\n", *s);
		char *needle2 = xasprintf("%s@", *s);
		char *needle3 = xasprintf("%s ", *s);
		if (strstr(p, needle) || strstr(p, needle2) || strstr(p, needle3))
			fail_msg("secret %s leaked:\n%s", *s, p);
		free(needle);
		free(needle2);
		free(needle3);
	}
	assert_non_null(strstr(p, "api.credentials.access_key = AK\n"));
	assert_non_null(strstr(p, "api.credentials.secret_key = ****\n"));
	assert_non_null(strstr(p, "agent.git_user = bob\n"));
	assert_non_null(strstr(p, "agent.git_pass = ****\n"));
	assert_non_null(strstr(p, "agent.enable_git_ask_pass = true\n"));
	assert_non_null(strstr(p, "agent.auth_token = ****\n"));
	/* the code defaults (no rules given) do not name the section itself; agent.conf does */
	assert_non_null(strstr(p, "agent.sanitize_config_printout.hide_secrets = ****\n"));
	assert_non_null(strstr(p, "agent.package_manager.extra_index_url.0 = https://u:********@h1/simple\n"));
	assert_non_null(strstr(p, "agent.package_manager.extra_index_url.1 = https://h2/simple\n"));
	assert_non_null(strstr(p, "agent.extra_docker_arguments.1 = CLEARML_API_SECRET_KEY\\=********\n"));
	assert_non_null(strstr(p, "agent.extra_docker_arguments.3 = MY_KEY\\=********\n"));
	assert_non_null(strstr(p, "agent.extra_docker_arguments.7 = OK\\=v\n"));
	assert_non_null(strstr(p, "agent.extra_docker_arguments.9 = URL\\=https://a:********@h/\n"));
	assert_non_null(strstr(p, "agent.extra_docker_arguments.10 = https://b:********@h/\n"));
	assert_non_null(strstr(p, "CLEARML_DOCKER_IMAGE\\=img -e CLEARML_AGENT_GIT_PASS\\=********\n"));
	assert_non_null(strstr(p, "sdk.aws.s3.credentials.0.key = k\n"));
	assert_non_null(strstr(p, "sdk.aws.s3.credentials.0.secret = ****\n"));
	assert_non_null(strstr(p, "environment.A = ****\nenvironment.B = ****\n"));
	assert_non_null(strstr(p, "files.f.contents = ****\nfiles.f.path = /p"));
	free(p);

	/* the rules come from agent.sanitize_config_printout: a custom set replaces the defaults */
	p = props_of("agent { git_pass: visible, mykey: hidden, keep_secret: shown }\n",
	             "hide_secrets: [\"^mykey$\"]\ndont_hide_secrets: [\"^keep_\"]\n");
	assert_non_null(strstr(p, "agent.git_pass = visible\n"));
	assert_non_null(strstr(p, "agent.mykey = ****\n"));
	assert_non_null(strstr(p, "agent.keep_secret = shown"));
	free(p);
	/* real regexes, and literal rules with one anchor */
	p = props_of("agent { my_api_key: a, mykey: b, xmy_key: c, tail_pw: d, pw_head: e, "
	             "idx_url: \"https://u:p@h/\", dargs: [\"-e\", \"CLEARML_API_SECRET_KEY=s\"], "
	             "hide_docker_command_env_vars.enabled: true }\n",
	             "hide_secrets: [\"^my.*key$\", \"_pw$\", \"^pw_\"]\nurls: [\"(idx|x)_url\"]\n"
	             "docker_commands: [\"^d(a|b)rgs\"]\n");
	assert_non_null(strstr(p, "agent.my_api_key = ****\n"));
	assert_non_null(strstr(p, "agent.mykey = ****\n"));
	assert_non_null(strstr(p, "agent.xmy_key = c\n"));
	assert_non_null(strstr(p, "agent.tail_pw = ****\n"));
	assert_non_null(strstr(p, "agent.pw_head = ****\n"));
	assert_non_null(strstr(p, "agent.idx_url = https://u:********@h/\n"));
	assert_non_null(strstr(p, "agent.dargs.1 = CLEARML_API_SECRET_KEY\\=********\n"));
	free(p);
	/* case-sensitive, as upstream's re.compile without flags */
	p = props_of("agent { GIT_PASS: upper }\n", NULL);
	assert_non_null(strstr(p, "agent.GIT_PASS = upper"));
	free(p);
	/* a plain-string extra_docker_arguments is sanitised too */
	p = props_of("agent { hide_docker_command_env_vars.enabled: true,"
	             " extra_docker_arguments: \"-e CLEARML_API_SECRET_KEY=zz\" }\n", NULL);
	assert_non_null(strstr(p, "agent.extra_docker_arguments = -e CLEARML_API_SECRET_KEY\\=********"));
	free(p);
	/* extra keys from the environment */
	setenv("CLEARML_AGENT_DOCKER_ARGS_HIDE_ENV", "FOO BAR", 1);
	p = props_of("agent { extra_docker_arguments: [\"-e\", \"BAR=zz\"] }\n", NULL);
	assert_non_null(strstr(p, "agent.extra_docker_arguments.1 = BAR\\=********"));
	free(p);
	unsetenv("CLEARML_AGENT_DOCKER_ARGS_HIDE_ENV");
}

static void
test_print(void **state)
{
	struct fx *f = *state;
	struct config c;
	load_ok(&c, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	config_print(m, &c);
	fclose(m);
	assert_true(str_starts_with(buf, "Current configuration (clearml_agent v" CLEARML_AGENT_VERSION
	                                 ", location: None):\n----------------------\n"));
	assert_true(str_ends_with(buf, "\n\n"));
	assert_null(strstr(buf, "\nenv = "));
	assert_null(strstr(buf, "logging.version"));
	assert_null(strstr(buf, "urllib3.level"));
	assert_non_null(strstr(buf, "\nagent.venvs_dir = ~/.clearml/venvs-builds\n"));
	assert_non_null(strstr(buf, "\nagent.package_manager.pip_version.1 = <22.3 ; python_version >\\= "
	                            "'3.10' and python_version <\\= '3.11'\n"));
	assert_non_null(strstr(buf, "\nagent.sanitize_config_printout = ****\n"));
	free(buf);
	config_free(&c);

	char *cl = put_file(f, "clearml.conf", "api.credentials.secret_key: TOPSECRET\n");
	load_ok(&c, NULL);
	buf = NULL;
	m = open_memstream(&buf, &len);
	config_print(m, &c);
	fclose(m);
	char *hdr = xasprintf("Current configuration (clearml_agent v%s, location: %s):\n",
	                      CLEARML_AGENT_VERSION, cl);
	assert_true(str_starts_with(buf, hdr));
	assert_null(strstr(buf, "TOPSECRET"));
	free(hdr);
	free(buf);
	config_free(&c);
	free(cl);
}

static void
test_dump_json(void **state)
{
	struct fx *f = *state;
	json_t *o = NULL;
	char err[256];
	const char *t = "a { b: [1, \"x\"], c: true, d: \"\\u00e9\" }";
	assert_int_equal(hocon_parse(t, strlen(t), NULL, &o, err, sizeof err), 0);
	char *path = xasprintf("%s/dump.json", f->home);
	assert_int_equal(config_dump_json(o, path), 0);
	struct stat st1, st2;
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0600);
	size_t len = 0;
	char *text = read_file(path, 1 << 20, &len);
	assert_string_equal(text, "{\n    \"a\": {\n        \"b\": [\n            1,\n            \"x\"\n"
	                          "        ],\n        \"c\": true,\n        \"d\": \"\\u00E9\"\n    }\n}");
	free(text);
	/* unchanged content: the file is not rewritten (same inode) */
	assert_int_equal(config_dump_json(o, path), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino == st2.st_ino);
	/* changed content: rewritten atomically */
	cfg_set(o, "a.c", json_false());
	assert_int_equal(config_dump_json(o, path), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	assert_int_equal(st2.st_mode & 0777, 0600);
	/* the dump parses back (JSON is valid HOCON) to the same tree */
	json_t *back = NULL;
	assert_int_equal(hocon_parse_file(path, &back, err, sizeof err), 0);
	assert_true(json_equal(back, o));
	json_decref(back);
	/* an unwritable target fails cleanly */
	assert_int_equal(config_dump_json(o, "/nonexistent-dir/x.json"), -1);
	unlink(path);
	free(path);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_files_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explicit_file_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_error_location, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_path_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
		cmocka_unit_test(test_mask_url),
		cmocka_unit_test(test_properties_format),
		cmocka_unit_test(test_masking),
		cmocka_unit_test_setup_teardown(test_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_json, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
