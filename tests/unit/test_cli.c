/* Unit tests for cli.c: every flag form of §1 (defaults, nargs, --flag=value, abbreviations,
 * combined short flags, -d before/after the sub-command), @file argument files and the
 * argparse-style usage errors (status 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/cmd_init.h"
#include "config.h"
#include "util.h"

struct run {
	int rc;
	struct cli_opts o;
	char *out, *err;
};

/* Parse a NULL-terminated argument list (without the program name). */
static void
parse(struct run *r, const char *const *args)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)(uintptr_t) "clearml-agent";
	for (; *args && argc < 63; args++)
		argv[argc++] = (char *)(uintptr_t)*args;
	argv[argc] = NULL;
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&r->out, &olen);
	FILE *err = open_memstream(&r->err, &elen);
	assert_non_null(out);
	assert_non_null(err);
	r->rc = cli_parse(argc, argv, &r->o, out, err);
	fclose(out);
	fclose(err);
}

static void
run_free(struct run *r)
{
	cli_opts_free(&r->o);
	free(r->out);
	free(r->err);
}

#define PARSE(r, ...) parse((r), (const char *const[]){__VA_ARGS__, NULL})

static void
test_daemon_defaults(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.cmd, CMD_DAEMON);
	assert_true(r.o.polling_interval == 5);
	assert_string_equal(r.o.log_level, "INFO");
	assert_int_equal(r.o.queues.n, 0);
	assert_int_equal(r.o.docker, 0);
	assert_int_equal(r.o.stop, 0);
	assert_int_equal(r.o.services_mode_given, 0);
	assert_int_equal(r.o.uptime_given, 0);
	assert_int_equal(r.o.optimization, 0);
	assert_int_equal(r.o.debug, 0);
	assert_null(r.o.gpus);
	assert_null(r.o.config_file);
	assert_string_equal(cli_cmd_name(r.o.cmd), "daemon");
	run_free(&r);
}

static void
test_daemon_every_flag(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--polling-interval", "7", "--foreground", "--queue", "a", "b", "c",
	      "--order-fairness", "--standalone-mode", "--child-report-tags", "t1", "t2",
	      "--create-queue", "--detached", "--uptime", "17-20 TUE", "09-10 MON", "--status",
	      "--use-owner-token", "-O", "--git-user", "u", "--git-pass", "p", "--log-level",
	      "warning", "--docker", "nvidia/cuda", "--ipc host", "--force-current-version",
	      "--gpus", "0,1", "--cpu-only", "--create-queue");
	assert_int_equal(r.rc, 0);
	assert_true(r.o.polling_interval == 7);
	assert_int_equal(r.o.foreground, 1);
	assert_int_equal(r.o.queues.n, 3);
	assert_string_equal(r.o.queues.v[2], "c");
	assert_null(r.o.queues.v[3]);
	assert_int_equal(r.o.order_fairness, 1);
	assert_int_equal(r.o.standalone_mode, 1);
	assert_int_equal(r.o.child_report_tags.n, 2);
	assert_int_equal(r.o.create_queue, 1);
	assert_int_equal(r.o.detached, 1);
	assert_int_equal(r.o.uptime_given, 1);
	assert_int_equal(r.o.uptime.n, 2);
	assert_string_equal(r.o.uptime.v[0], "17-20 TUE"); /* a space makes it a value */
	assert_int_equal(r.o.status, 1);
	assert_int_equal(r.o.use_owner_token, 1);
	assert_int_equal(r.o.optimization, 1);
	assert_string_equal(r.o.git_user, "u");
	assert_string_equal(r.o.git_pass, "p");
	assert_string_equal(r.o.log_level, "WARNING"); /* upper-cased, then checked */
	assert_int_equal(r.o.docker, 1);
	assert_int_equal(r.o.docker_args.n, 2);
	assert_string_equal(r.o.docker_args.v[1], "--ipc host"); /* a space makes it a value */
	assert_int_equal(r.o.force_current_version, 1);
	assert_string_equal(r.o.gpus, "0,1");
	assert_int_equal(r.o.cpu_only, 1);
	run_free(&r);
}

static void
test_docker_nargs(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--docker", "--queue", "q");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.docker, 1);
	assert_int_equal(r.o.docker_args.n, 0); /* bare: the default image */
	run_free(&r);

	PARSE(&r, "daemon", "--docker", "nvidia/cuda:11", "-e X=1");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.docker_args.n, 2);
	assert_string_equal(r.o.docker_args.v[0], "nvidia/cuda:11");
	assert_string_equal(r.o.docker_args.v[1], "-e X=1");
	run_free(&r);

	/* an option-looking docker argument is not taken: argparse reports it */
	PARSE(&r, "daemon", "--docker", "img", "-e", "X=1");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "clearml-agent: error: unrecognized arguments: -e X=1\n"));
	run_free(&r);

	PARSE(&r, "execute", "--id", "abc", "--docker", "img");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.cmd, CMD_EXECUTE);
	assert_string_equal(r.o.docker_args.v[0], "img");
	run_free(&r);
}

static void
test_services_mode_optional_int(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--services-mode");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.services_mode_given, 1);
	assert_int_equal(r.o.services_mode, -1); /* const: unlimited */
	run_free(&r);

	PARSE(&r, "daemon", "--services-mode", "3", "--queue", "s");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.services_mode, 3);
	assert_string_equal(r.o.queues.v[0], "s");
	run_free(&r);

	PARSE(&r, "daemon", "--services-mode", "-1"); /* a negative number is a value */
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.services_mode, -1);
	run_free(&r);

	PARSE(&r, "daemon", "--services-mode=4");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.services_mode, 4);
	run_free(&r);

	PARSE(&r, "daemon", "--services-mode", "many");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "clearml-agent daemon: error: argument --services-mode: invalid int value: 'many'"));
	assert_non_null(strstr(r.err, "usage: clearml-agent daemon [-h]"));
	run_free(&r);
}

static void
test_stop_uptime_star(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--stop");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.stop, 1);
	assert_int_equal(r.o.stop_ids.n, 0);
	run_free(&r);

	PARSE(&r, "daemon", "--stop", "w:0", "w:1", "--graceful");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.stop_ids.n, 2);
	assert_string_equal(r.o.stop_ids.v[1], "w:1");
	assert_int_equal(r.o.graceful, 1);
	run_free(&r);

	PARSE(&r, "daemon", "--uptime", "--downtime");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.uptime_given, 1);
	assert_int_equal(r.o.downtime_given, 1);
	assert_int_equal(r.o.uptime.n + r.o.downtime.n, 0);
	run_free(&r);
}

static void
test_queue_plus_and_repeats(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--queue");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument --queue: expected at least one argument"));
	run_free(&r);

	/* a repeated option replaces the earlier value (argparse's store) */
	PARSE(&r, "daemon", "--queue", "a", "b", "--queue", "c");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.queues.n, 1);
	assert_string_equal(r.o.queues.v[0], "c");
	run_free(&r);

	/* --flag=value takes exactly that one value */
	PARSE(&r, "daemon", "--queue=a");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.queues.n, 1);
	assert_string_equal(r.o.queues.v[0], "a");
	run_free(&r);

	PARSE(&r, "daemon", "--queue=a", "b");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unrecognized arguments: b\n"));
	run_free(&r);
}

static void
test_optimization_count(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "execute", "--id", "t", "-OO");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.optimization, 2);
	run_free(&r);

	PARSE(&r, "daemon", "-O", "-dO", "-OO");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.optimization, 4);
	assert_int_equal(r.o.detached, 1);
	run_free(&r);

	/* any number of combined letters (the fuzzer found a fixed bound overflowing here) */
	char many[64] = "-";
	memset(many + 1, 'O', 50);
	PARSE(&r, "daemon", many, "-dOh");
	assert_int_equal(r.rc, 1); /* the -h of the group prints the help */
	assert_true(str_starts_with(r.out, "usage: clearml-agent daemon"));
	assert_int_equal(r.o.optimization, 51);
	run_free(&r);

	PARSE(&r, "daemon", "-Ox");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument -O: ignored explicit argument 'x'"));
	run_free(&r);
}

static void
test_d_before_and_after_command(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "-d", "daemon");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.debug, 1);
	assert_int_equal(r.o.detached, 0);
	run_free(&r);

	PARSE(&r, "daemon", "-d");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.debug, 0);
	assert_int_equal(r.o.detached, 1);
	run_free(&r);

	PARSE(&r, "--debug", "-d", "daemon", "--detached");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.debug, 1);
	assert_int_equal(r.o.detached, 1);
	run_free(&r);

	/* execute has no -d; global options after the sub-command are not global */
	PARSE(&r, "execute", "--id", "t", "-d");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unrecognized arguments: -d\n"));
	run_free(&r);

	PARSE(&r, "daemon", "--debug");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unrecognized arguments: --debug\n"));
	run_free(&r);

	PARSE(&r, "daemon", "--detached=1");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument --detached/-d: ignored explicit argument '1'"));
	run_free(&r);
}

static void
test_log_level_and_choices(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--log-level=debug");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.o.log_level, "DEBUG");
	run_free(&r);

	PARSE(&r, "daemon", "--log-level", "loud");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument --log-level: invalid choice: 'LOUD' (choose from 'DEBUG', "
	                              "'INFO', 'WARN', 'WARNING', 'ERROR', 'CRITICAL')"));
	run_free(&r);

	PARSE(&r, "build", "--id", "t", "--entry-point", "clone_task", "--target", "/tmp/x",
	      "--install-globally", "--force-docker", "--python-version", "3.10");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.cmd, CMD_BUILD);
	assert_string_equal(r.o.entry_point, "clone_task");
	assert_string_equal(r.o.target, "/tmp/x");
	assert_int_equal(r.o.install_globally, 1);
	assert_int_equal(r.o.force_docker, 1);
	assert_string_equal(r.o.python_version, "3.10");
	run_free(&r);

	PARSE(&r, "build", "--id", "t", "--entry-point", "Reuse_Task");
	assert_int_equal(r.rc, 2); /* choices are exact here (no upper-casing) */
	assert_non_null(strstr(r.err, "invalid choice: 'Reuse_Task' (choose from 'reuse_task', 'clone_task')"));
	run_free(&r);
}

static void
test_polling_interval(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--polling-interval", "0.2");
	assert_int_equal(r.rc, 0);
	assert_true(r.o.polling_interval > 0.19 && r.o.polling_interval < 0.21);
	run_free(&r);

	PARSE(&r, "daemon", "--polling-interval", "-3"); /* a value; the daemon clamps it */
	assert_int_equal(r.rc, 0);
	assert_true(r.o.polling_interval == -3);
	run_free(&r);

	PARSE(&r, "daemon", "--polling-interval", "soon");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument --polling-interval: invalid int value: 'soon'"));
	run_free(&r);

	PARSE(&r, "daemon", "--polling-interval");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument --polling-interval: expected one argument"));
	run_free(&r);
}

static void
test_abbreviations(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "daemon", "--poll", "9", "--fore", "--que", "x");
	assert_int_equal(r.rc, 0);
	assert_true(r.o.polling_interval == 9);
	assert_int_equal(r.o.foreground, 1);
	assert_string_equal(r.o.queues.v[0], "x");
	run_free(&r);

	PARSE(&r, "daemon", "--d");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "clearml-agent daemon: error: ambiguous option: --d could match "
	                              "--detached, --dynamic-gpus, --downtime, --docker"));
	run_free(&r);

	PARSE(&r, "--vers");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "CLEARML-AGENT version " "1.9.2" "\n");
	run_free(&r);

	PARSE(&r, "--conf=/x.conf", "config");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.o.config_file, "/x.conf");
	assert_int_equal(r.o.cmd, CMD_CONFIG);
	run_free(&r);
}

static void
test_required_and_unknown(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "execute");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "usage: clearml-agent execute [-h] --id TASK_ID"));
	assert_non_null(strstr(r.err, "clearml-agent execute: error: the following arguments are required: --id\n"));
	run_free(&r);

	/* the required check comes before the unknown ones, as in argparse */
	PARSE(&r, "build", "--bogus");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "required: --id"));
	run_free(&r);

	PARSE(&r, "execute", "--id", "t", "--bogus", "x");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "usage: clearml-agent [-h]"));
	assert_non_null(strstr(r.err, "clearml-agent: error: unrecognized arguments: --bogus x\n"));
	run_free(&r);

	PARSE(&r, "launch");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument command: invalid choice: 'launch' (choose from 'execute', "
	                              "'build', 'list', 'daemon', 'config', 'init')"));
	run_free(&r);

	PARSE(&r, "list", "extra");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unrecognized arguments: extra"));
	run_free(&r);

	/* "--" ends the options; nothing takes values after it */
	PARSE(&r, "daemon", "--queue", "a", "--", "b");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unrecognized arguments: -- b\n"));
	run_free(&r);

	PARSE(&r, "--config-file");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "argument --config-file: expected one argument"));
	run_free(&r);
}

static void
test_help_and_version(void **state)
{
	(void)state;
	struct run r;
	PARSE(&r, "-h");
	assert_int_equal(r.rc, 1);
	assert_true(str_starts_with(r.out, "CLEARML-AGENT Deep Learning DevOps\n\nusage: clearml-agent "));
	assert_non_null(strstr(r.out, "{execute,build,list,daemon,config,init}"));
	run_free(&r);

	PARSE(&r, "--help");
	assert_int_equal(r.rc, 1);
	assert_true(str_starts_with(r.out, "CLEARML-AGENT Deep Learning DevOps\n\n"));
	/* every sub-command's flags are in the detailed help */
	assert_non_null(strstr(r.out, "--polling-interval POLLING_INTERVAL"));
	assert_non_null(strstr(r.out, "--entry-point {reuse_task,clone_task}"));
	assert_non_null(strstr(r.out, "--require-queue"));
	run_free(&r);

	/* --version wins over what follows, even a missing config file or bad flag */
	PARSE(&r, "--config-file", "/nonexistent", "--version", "--bogus");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "CLEARML-AGENT version 1.9.2\n");
	run_free(&r);

	PARSE(&r, "daemon", "--queue", "a", "-h");
	assert_int_equal(r.rc, 1);
	assert_true(str_starts_with(r.out, "usage: clearml-agent daemon [-h]"));
	assert_non_null(strstr(r.out, "Docker support:"));
	run_free(&r);

	PARSE(&r, "config", "--help");
	assert_int_equal(r.rc, 1);
	assert_true(str_starts_with(r.out, "usage: clearml-agent config [-h]"));
	run_free(&r);

	/* no sub-command: the help, status 0 */
	PARSE(&r, "--debug");
	assert_int_equal(r.rc, 1);
	assert_true(str_starts_with(r.out, "usage: clearml-agent "));
	run_free(&r);
}

static char *
write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/test_cli_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_argument_files(void **state)
{
	(void)state;
	char *inner = write_tmp("--queue\r\nq1\nq two\n");
	char *text = xasprintf("daemon\n@%s\n--foreground", inner);
	char *outer = write_tmp(text);
	char *at = xasprintf("@%s", outer);
	struct run r;
	PARSE(&r, "--debug", at, "--create-queue");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.debug, 1);
	assert_int_equal(r.o.cmd, CMD_DAEMON);
	assert_int_equal(r.o.queues.n, 2);
	assert_string_equal(r.o.queues.v[0], "q1");
	assert_string_equal(r.o.queues.v[1], "q two");
	assert_int_equal(r.o.foreground, 1);
	assert_int_equal(r.o.create_queue, 1);
	run_free(&r);

	/* an empty line is an (empty) argument, as argparse reads it */
	char *empty = write_tmp("daemon\n\n");
	char *at2 = xasprintf("@%s", empty);
	PARSE(&r, at2);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "unrecognized arguments: \n"));
	run_free(&r);

	PARSE(&r, "daemon", "@/nonexistent/args.txt");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "clearml-agent: error: [Errno 2] No such file or directory: "
	                              "'/nonexistent/args.txt'"));
	run_free(&r);

	/* a file that names itself: bounded, an error instead of endless recursion */
	char *self = write_tmp("x");
	char *selftext = xasprintf("@%s\n", self);
	FILE *f = fopen(self, "w");
	assert_non_null(f);
	fputs(selftext, f);
	fclose(f);
	char *at3 = xasprintf("@%s", self);
	PARSE(&r, at3);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "nested too deeply"));
	run_free(&r);

	unlink(inner);
	unlink(outer);
	unlink(empty);
	unlink(self);
	free(inner);
	free(outer);
	free(text);
	free(at);
	free(empty);
	free(at2);
	free(self);
	free(selftext);
	free(at3);
}

static void
check_hosts(const char *given, const char *api, const char *web, const char *files)
{
	char *a = NULL, *w = NULL, *f = NULL;
	assert_int_equal(init_derive_hosts(given, &a, &w, &f), 0);
	assert_string_equal(a, api);
	assert_string_equal(w, web);
	assert_string_equal(f, files);
	free(a);
	free(w);
	free(f);
}

static void
test_init_hosts(void **state)
{
	(void)state;
	check_hosts("https://app.clear.ml", "https://api.clear.ml", "https://app.clear.ml",
	            "https://files.clear.ml");
	check_hosts("https://api.example.com/", "https://api.example.com", "https://app.example.com",
	            "https://files.example.com");
	check_hosts("https://demoapp.demo.clear.ml", "https://demoapi.demo.clear.ml",
	            "https://demoapp.demo.clear.ml", "https://demofiles.demo.clear.ml");
	check_hosts("http://10.0.0.5:8008", "http://10.0.0.5:8008", "http://10.0.0.5:8080",
	            "http://10.0.0.5:8081");
	check_hosts("http://srv:8080/base", "http://srv:8008/base", "http://srv:8080/base",
	            "http://srv:8081/base");
	check_hosts("http://srv", "http://srv:8008", "http://srv:8080", "http://srv:8081");
	char *a, *w, *f;
	assert_int_equal(init_derive_hosts("http://srv:9000", &a, &w, &f), -1);
	assert_int_equal(init_derive_hosts("not a url", &a, &w, &f), -1);
	assert_null(a);
}

static void
test_init_pasted_and_file(void **state)
{
	(void)state;
	struct init_answers a;
	memset(&a, 0, sizeof a);
	assert_int_equal(init_parse_pasted("api {\n web_server: https://app.clear.ml\n"
	                                   " api_server: https://api.clear.ml\n"
	                                   " credentials {\"access_key\": \"AK\", \"secret_key\": \"S\\\"K\"}\n}\n",
	                                   &a), 0);
	assert_string_equal(a.access_key, "AK");
	assert_string_equal(a.secret_key, "S\"K");
	assert_string_equal(a.api_host, "https://api.clear.ml");
	assert_string_equal(a.web_host, "https://app.clear.ml");
	assert_null(a.files_host);
	assert_int_equal(init_parse_pasted("api { credentials { access_key: AK } }", &a), -1);
	assert_int_equal(init_parse_pasted("{{{ not hocon", &a), -1);

	a.files_host = xstrdup("https://files.clear.ml");
	a.git_user = xstrdup("bob");
	a.git_pass = xstrdup("p\"w");
	a.output_uri = xstrdup("s3://b/x");
	a.extra_index = xcalloc(1, sizeof(char *));
	a.extra_index[0] = xstrdup("https://idx/simple");
	a.n_extra_index = 1;
	char *text = init_build_conf(&a);
	json_t *root = NULL;
	char err[256];
	assert_int_equal(hocon_parse(text, strlen(text), "init", &root, err, sizeof err), 0);
	assert_string_equal(cfg_str(root, "api.credentials.secret_key", ""), "S\"K");
	assert_string_equal(cfg_str(root, "api.files_server", ""), "https://files.clear.ml");
	/* the answers come after the defaults, so they win */
	assert_string_equal(cfg_str(root, "agent.git_user", ""), "bob");
	assert_string_equal(cfg_str(root, "agent.git_pass", ""), "p\"w");
	assert_string_equal(cfg_str(root, "sdk.development.default_output_uri", ""), "s3://b/x");
	json_t *idx = cfg_get(root, "agent.package_manager.extra_index_url");
	assert_int_equal(json_array_size(idx), 1);
	assert_non_null(cfg_get(root, "agent.package_manager.type")); /* defaults written too */
	json_decref(root);
	free(text);
	init_answers_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_defaults),
		cmocka_unit_test(test_daemon_every_flag),
		cmocka_unit_test(test_docker_nargs),
		cmocka_unit_test(test_services_mode_optional_int),
		cmocka_unit_test(test_stop_uptime_star),
		cmocka_unit_test(test_queue_plus_and_repeats),
		cmocka_unit_test(test_optimization_count),
		cmocka_unit_test(test_d_before_and_after_command),
		cmocka_unit_test(test_log_level_and_choices),
		cmocka_unit_test(test_polling_interval),
		cmocka_unit_test(test_abbreviations),
		cmocka_unit_test(test_required_and_unknown),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_argument_files),
		cmocka_unit_test(test_init_hosts),
		cmocka_unit_test(test_init_pasted_and_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
