/*
 * cli — the clearml-agent command line (§1 of spec/clearml-agent.md), parsed the way Python's
 * argparse parses upstream's parser, so scripts written for the Python agent behave the same:
 *
 *  - `@file` arguments are replaced by the file's lines, one argument per line, recursively
 *    (fromfile_prefix_chars="@"); this happens first, for the whole command line.
 *  - Global options come before the sub-command; each sub-command has its own flag table.
 *  - Each argument is classified as argparse does: an option ("O", known or not), a value ("A":
 *    no leading '-', a lone "-", a negative number, or text with a space), or the "--" marker,
 *    after which everything is a value. Long options may be abbreviated to a unique prefix and
 *    take `--flag=value`; short flags combine (`-OO`, `-dO`).
 *  - An option consumes values by its nargs: exactly one, '?', '*' (all following values) or '+'
 *    (at least one). Repeating an option replaces its earlier value (count options add up).
 *  - Errors print argparse's usage line and `PROG: error: MESSAGE` and give status 2; values no
 *    option took, and unknown options, are reported together at the end, after the required
 *    --id check, as argparse does.
 *
 * Pure: no I/O except reading @files and writing help/errors to the given streams.
 */
#include "agent/cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "version.h"

#define PROG "clearml-agent"
#define ARGFILE_MAX ((size_t)1 << 20) /* one @file */
#define ARGFILE_DEPTH 16              /* nested @files (argparse recurses without a bound) */
#define HELP_WIDTH 78                 /* argparse: terminal columns (80 when not a tty) - 2 */
#define HELP_POS 24                   /* argparse's max_help_position */

enum kind {
	K_TRUE,      /* store_true */
	K_COUNT,     /* count (-O) */
	K_STR,       /* one value */
	K_NUM,       /* one number (--polling-interval) */
	K_CHOICE,    /* one value out of a list (upper-cased first when upper is set) */
	K_LIST_PLUS, /* nargs '+' */
	K_LIST_STAR, /* nargs '*' */
	K_OPT_INT,   /* nargs '?' with const -1, type int (--services-mode) */
	K_HELP,      /* -h/--help of a sub-command */
	K_TOP_H,     /* -h before the sub-command: header + summary */
	K_TOP_HELP,  /* --help before the sub-command: header + every command's help */
	K_VERSION,   /* --version */
};

static const char *const log_levels[] = {"DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL", NULL};
static const char *const entry_points[] = {"reuse_task", "clone_task", NULL};

struct flag {
	const char *name;   /* "--queue" */
	const char *alias;  /* "-d" or NULL */
	enum kind kind;
	size_t off;         /* offset of the field in cli_opts */
	size_t given_off;   /* offset of an int "given" marker, or NOGIVEN */
	const char *metavar;
	const char *const *choices;
	int upper;          /* choices: upper-case the value first (--log-level) */
	int docker_group;   /* listed under "Docker support" in help */
	const char *help;
};

#define F(field) offsetof(struct cli_opts, field)
#define NOGIVEN ((size_t)-1)
#define END {NULL, NULL, K_TRUE, 0, NOGIVEN, NULL, NULL, 0, 0, NULL}

#define HELP_FLAG {"-h", "--help", K_HELP, 0, NOGIVEN, NULL, NULL, 0, 0, "show this help message and exit"}

/* WORKER_ARGS, shared by daemon, execute and build (listed after each command's own flags). */
#define WORKER_FLAGS                                                                              \
	{"-O", NULL, K_COUNT, F(optimization), NOGIVEN, NULL, NULL, 0, 0,                         \
	 "Compile optimized pyc code (see the python documentation); repeat for more "             \
	 "optimization"},                                                                         \
	{"--git-user", NULL, K_STR, F(git_user), NOGIVEN, "GIT_USER", NULL, 0, 0,                 \
	 "git user name for repository access"},                                                  \
	{"--git-pass", NULL, K_STR, F(git_pass), NOGIVEN, "GIT_PASS", NULL, 0, 0,                 \
	 "git password (or personal access token) for repository access"},                       \
	{"--log-level", NULL, K_CHOICE, F(log_level), NOGIVEN, NULL, log_levels, 1, 0,            \
	 "SDK log level"}

#define GPU_FLAGS                                                                                 \
	{"--gpus", NULL, K_STR, F(gpus), NOGIVEN, "GPUS", NULL, 0, 1,                             \
	 "GPUs the agent may use (docker or virtual environment), like setting "                   \
	 "NVIDIA_VISIBLE_DEVICES. Examples: --gpus 0 or --gpus 0,1,2 or --gpus all"},              \
	{"--cpu-only", NULL, K_TRUE, F(cpu_only), NOGIVEN, NULL, NULL, 0, 1,                      \
	 "No GPU access for the agent, in docker or virtual environment"}

#define DOCKER_HELP                                                                               \
	"Run the task inside a docker container (docker 19.03 or newer). Optional: <image> "       \
	"<arguments>; otherwise agent.default_docker.image / agent.default_docker.arguments. "    \
	"Use --gpus/--cpu-only (or NVIDIA_VISIBLE_DEVICES) to limit the GPUs the container sees. "\
	"Nothing is installed into the image: the agent mounts its own static runner"
#define PODMAN_HELP                                                                               \
	"Like --docker, with the podman engine (podman on PATH; GPUs as CDI devices)"

/* Order as upstream's parser registers them (its own flags, WORKER_ARGS, then the "Docker
 * support" group): it decides the help layout and the order of "could match" lists. */
static const struct flag daemon_flags[] = {
	HELP_FLAG,
	{"--polling-interval", NULL, K_NUM, F(polling_interval), NOGIVEN, "POLLING_INTERVAL", NULL, 0, 0,
	 "Polling interval in seconds. Minimum is 5 (default 5)"},
	{"--foreground", NULL, K_TRUE, F(foreground), NOGIVEN, NULL, NULL, 0, 0,
	 "Pipe the full log to stdout/stderr; not for an agent running in the background"},
	{"--queue", NULL, K_LIST_PLUS, F(queues), NOGIVEN, "QUEUES", NULL, 0, 0,
	 "Queue id(s)/name(s) to pull tasks from (default: the server's default queue). The order "
	 "is the priority: the first queue listed comes first"},
	{"--order-fairness", NULL, K_TRUE, F(order_fairness), NOGIVEN, NULL, NULL, 0, 0,
	 "Pull from the queues in round-robin order instead of priority order"},
	{"--standalone-mode", NULL, K_TRUE, F(standalone_mode), NOGIVEN, NULL, NULL, 0, 0,
	 "No network access: assume everything is installed already"},
	{"--services-mode", NULL, K_OPT_INT, F(services_mode), F(services_mode_given), "SERVICES_MODE",
	 NULL, 0, 0,
	 "Run many long-lived services at once, at most SERVICES_MODE (unlimited when not given); "
	 "implies --cpu-only. Without --docker each service runs as a plain process in its own "
	 "virtual environment, under the worker id <worker>:service:<task>"},
	{"--child-report-tags", NULL, K_LIST_PLUS, F(child_report_tags), NOGIVEN, "CHILD_REPORT_TAGS",
	 NULL, 0, 0, "Tags sent with the status reports of the worker that runs a task"},
	{"--create-queue", NULL, K_TRUE, F(create_queue), NOGIVEN, NULL, NULL, 0, 0,
	 "Create the requested queues when they do not exist"},
	{"--detached", "-d", K_TRUE, F(detached), NOGIVEN, NULL, NULL, 0, 0,
	 "Detached mode: run the agent in the background"},
	{"--stop", NULL, K_LIST_STAR, F(stop_ids), F(stop), "STOP", NULL, 0, 0,
	 "Stop the running agent started with the same arguments, or the given local worker ids"},
	{"--graceful", NULL, K_TRUE, F(graceful), NOGIVEN, NULL, NULL, 0, 0,
	 "With --stop: let the running task finish, take no new one, then exit"},
	{"--dynamic-gpus", NULL, K_TRUE, F(dynamic_gpus), NOGIVEN, NULL, NULL, 0, 0,
	 "Allocate GPUs per queue dynamically, e.g. '--dynamic-gpus --gpus 0-3 --queue dual_gpus=2 "
	 "single_gpu=1' or, opportunistic, '--queue dual_gpus=2 max_quad_gpus=1-4'. The queue order "
	 "is the priority"},
	{"--uptime", NULL, K_LIST_STAR, F(uptime), F(uptime_given), "UPTIME", NULL, 0, 0,
	 "Working hours as \"<hours> <days>\", e.g. \"17-20 TUE\" for Tuesday 17-20. Give either "
	 "uptime or downtime, not both"},
	{"--downtime", NULL, K_LIST_STAR, F(downtime), F(downtime_given), "DOWNTIME", NULL, 0, 0,
	 "Idle hours as \"<hours> <days>\", e.g. \"09-13 TUE\" for Tuesday 09-13. Give either uptime "
	 "or downtime, not both"},
	{"--status", NULL, K_TRUE, F(status), NOGIVEN, NULL, NULL, 0, 0,
	 "Print the worker's schedule (uptime, the server's runtime properties, the queues) and exit"},
	{"--use-owner-token", NULL, K_TRUE, F(use_owner_token), NOGIVEN, NULL, NULL, 0, 0,
	 "Run each task with a token of the task's owner"},
	WORKER_FLAGS,
	{"--docker", NULL, K_LIST_STAR, F(docker_args), F(docker), "DOCKER", NULL, 0, 1, DOCKER_HELP},
	{"--podman", NULL, K_LIST_STAR, F(podman_args), F(podman), "PODMAN", NULL, 0, 1, PODMAN_HELP},
	{"--force-current-version", NULL, K_TRUE, F(force_current_version), NOGIVEN, NULL, NULL, 0, 1,
	 "Accepted for compatibility and moot: containers always run this very agent's runner "
	 "(mounted read-only), nothing is pip-installed inside them"},
	GPU_FLAGS,
	END,
};

static const struct flag execute_flags[] = {
	HELP_FLAG,
	{"--id", NULL, K_STR, F(id), NOGIVEN, "TASK_ID", NULL, 0, 0, "Task ID to run"},
	{"--log-file", NULL, K_STR, F(log_file), NOGIVEN, "LOG_FILE", NULL, 0, 0,
	 "Write the task's output (stdout/stderr) into this file"},
	{"--disable-monitoring", NULL, K_TRUE, F(disable_monitoring), NOGIVEN, NULL, NULL, 0, 0,
	 "No log shipping or monitoring (the output still shows)"},
	{"--full-monitoring", NULL, K_TRUE, F(full_monitoring), NOGIVEN, NULL, NULL, 0, 0,
	 "Full environment set-up log, task logging and monitoring (the output still shows)"},
	{"--require-queue", NULL, K_TRUE, F(require_queue), NOGIVEN, NULL, NULL, 0, 0,
	 "Fail unless the task is queued (for 3rd-party schedulers such as K8s or SLURM)"},
	{"--standalone-mode", NULL, K_TRUE, F(standalone_mode), NOGIVEN, NULL, NULL, 0, 0,
	 "No network access: assume everything is installed already"},
	{"--docker", NULL, K_LIST_STAR, F(docker_args), F(docker), "DOCKER", NULL, 0, 0, DOCKER_HELP},
	{"--podman", NULL, K_LIST_STAR, F(podman_args), F(podman), "PODMAN", NULL, 0, 0, PODMAN_HELP},
	{"--clone", NULL, K_TRUE, F(clone), NOGIVEN, NULL, NULL, 0, 0,
	 "Clone the task first and run the clone"},
	WORKER_FLAGS,
	GPU_FLAGS,
	END,
};

static const struct flag build_flags[] = {
	HELP_FLAG,
	{"--id", NULL, K_STR, F(id), NOGIVEN, "TASK_ID", NULL, 0, 0, "Task ID to build"},
	{"--target", NULL, K_STR, F(target), NOGIVEN, "TARGET", NULL, 0, 0,
	 "Where to build the task's virtual environment and code; with --docker, the name of the "
	 "docker image to create"},
	{"--install-globally", NULL, K_TRUE, F(install_globally), NOGIVEN, NULL, NULL, 0, 0,
	 "Install the packages into the system python before creating the virtual environment "
	 "(always so with --docker)"},
	{"--docker", NULL, K_LIST_STAR, F(docker_args), F(docker), "DOCKER", NULL, 0, 0,
	 "Build inside a docker container and commit it as an image. Optional: <image> <arguments>"},
	{"--podman", NULL, K_LIST_STAR, F(podman_args), F(podman), "PODMAN", NULL, 0, 0,
	 "Like --docker, with the podman engine"},
	{"--force-docker", NULL, K_TRUE, F(force_docker), NOGIVEN, NULL, NULL, 0, 0,
	 "Use the agent's docker image, ignoring the container the task asks for"},
	{"--python-version", NULL, K_STR, F(python_version), NOGIVEN, "PYTHON_VERSION", NULL, 0, 0,
	 "Python version of the virtual environment"},
	{"--entry-point", NULL, K_CHOICE, F(entry_point), NOGIVEN, NULL, entry_points, 0, 0,
	 "Make the new image run the task: reuse_task runs this task, clone_task runs a clone of it"},
	WORKER_FLAGS,
	GPU_FLAGS,
	END,
};

static const struct flag help_only_flags[] = {HELP_FLAG, END};

struct subcmd {
	const char *name;
	enum cli_cmd cmd;
	const struct flag *flags;
	const char *help;
};

/* Upstream's order (COMMANDS): it shows in the usage line and in "choose from". */
static const struct subcmd subcmds[] = {
	{"execute", CMD_EXECUTE, execute_flags, "Build & Execute a selected experiment"},
	{"build", CMD_BUILD, build_flags,
	 "Build selected experiment environment (including pip packages, cloned code and git diff). "
	 "Used mostly for debugging purposes"},
	{"list", CMD_LIST, help_only_flags, "List all worker machines and status"},
	{"daemon", CMD_DAEMON, daemon_flags, "Start ClearML-Agent daemon worker"},
	{"config", CMD_CONFIG, help_only_flags, "Check daemon configuration and print it"},
	{"init", CMD_INIT, help_only_flags, "ClearML-Agent configuration wizard"},
};

/* Global options (the top-level parser), before the sub-command. */
static const struct flag top_flags[] = {
	{"-h", NULL, K_TOP_H, 0, NOGIVEN, NULL, NULL, 0, 0, "Displays summary of all commands"},
	{"--help", NULL, K_TOP_HELP, 0, NOGIVEN, NULL, NULL, 0, 0, "Detailed help of command line interface"},
	{"--version", NULL, K_VERSION, 0, NOGIVEN, NULL, NULL, 0, 0, "CLEARML-AGENT version number"},
	{"--config-file", NULL, K_STR, F(config_file), NOGIVEN, "CONFIG_FILE", NULL, 0, 0,
	 "Use a different configuration file (default: \"~/clearml.conf\")"},
	{"--debug", "-d", K_TRUE, F(debug), NOGIVEN, NULL, NULL, 0, 0, "print debug information"},
	END,
};

const char *
cli_cmd_name(enum cli_cmd c)
{
	for (size_t i = 0; i < ARRAY_LEN(subcmds); i++)
		if (subcmds[i].cmd == c)
			return subcmds[i].name;
	return "";
}

/* ------------------------------------------------------------------ lists */

static void
strlist_push(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 2, sizeof(char *));
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

static void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
cli_opts_free(struct cli_opts *o)
{
	free(o->config_file);
	free(o->git_user);
	free(o->git_pass);
	free(o->log_level);
	free(o->gpus);
	free(o->id);
	free(o->log_file);
	free(o->target);
	free(o->python_version);
	free(o->entry_point);
	strlist_free(&o->docker_args);
	strlist_free(&o->podman_args);
	strlist_free(&o->queues);
	strlist_free(&o->child_report_tags);
	strlist_free(&o->stop_ids);
	strlist_free(&o->uptime);
	strlist_free(&o->downtime);
	memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------ usage and help */

/* argparse's metavar text of a flag that takes values ("" for flags that take none). */
static void
flag_args(const struct flag *f, char *out, size_t outlen)
{
	char mv[128];
	if (f->choices) {
		size_t used = 0;
		mv[used++] = '{';
		for (const char *const *c = f->choices; *c && used < sizeof mv; c++) {
			int w = snprintf(mv + used, sizeof mv - used, "%s%s", c == f->choices ? "" : ",", *c);
			used = w < 0 ? sizeof mv : used + (size_t)w;
		}
		if (used < sizeof mv)
			snprintf(mv + used, sizeof mv - used, "}");
	} else {
		snprintf(mv, sizeof mv, "%s", f->metavar ? f->metavar : "");
	}
	switch (f->kind) {
	case K_STR:
	case K_NUM:
	case K_CHOICE: snprintf(out, outlen, " %s", mv); break;
	case K_OPT_INT: snprintf(out, outlen, " [%s]", mv); break;
	case K_LIST_STAR: snprintf(out, outlen, " [%s ...]", mv); break;
	case K_LIST_PLUS: snprintf(out, outlen, " %s [%s ...]", mv, mv); break;
	case K_TRUE:
	case K_COUNT:
	case K_HELP:
	default: out[0] = '\0'; break;
	}
}

/* Word-wrapped "usage: PROG part part ..." with continuation lines under the first part. */
static void
print_usage_parts(FILE *out, const char *prog, const char *const *parts, size_t n, int width)
{
	int indent = (int)strlen("usage: ") + (int)strlen(prog) + 1;
	int col = fprintf(out, "usage: %s", prog);
	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(parts[i]);
		if (col > indent && col + 1 + len > width) {
			fprintf(out, "\n%*s", indent - 1, "");
			col = indent - 1;
		}
		col += fprintf(out, " %s", parts[i]);
	}
	fputc('\n', out);
}

static void
print_top_usage(FILE *out)
{
	const char *parts[] = {"[-h]", "[--help]", "[--version]", "[--config-file CONFIG_FILE]",
	                       "[--debug]", "{execute,build,list,daemon,config,init}", "..."};
	print_usage_parts(out, PROG, parts, ARRAY_LEN(parts), 120);
}

static void
print_sub_usage(FILE *out, const struct subcmd *sc)
{
	char prog[64];
	snprintf(prog, sizeof prog, "%s %s", PROG, sc->name);
	char *parts[64] = {NULL};
	size_t n = 0;
	for (const struct flag *f = sc->flags; f->name && n < ARRAY_LEN(parts); f++) {
		char a[160];
		flag_args(f, a, sizeof a);
		int required = f->off == F(id) && f->kind == K_STR;
		parts[n++] = xasprintf("%s%s%s%s", required ? "" : "[", f->name, a, required ? "" : "]");
	}
	print_usage_parts(out, prog, (const char *const *)parts, n, HELP_WIDTH);
	for (size_t i = 0; i < n; i++)
		free(parts[i]);
}

/* One help entry: invocation at column 2, help text wrapped from column HELP_POS. */
static void
print_help_entry(FILE *out, const char *invocation, const char *help, int width)
{
	int col = fprintf(out, "  %s", invocation);
	if (col + 2 > HELP_POS) {
		fputc('\n', out);
		col = 0;
	}
	fprintf(out, "%*s", HELP_POS - col, "");
	int room = width - HELP_POS;
	const char *p = help;
	int line = 0;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t w = strcspn(p, " ");
		if (line > 0 && line + 1 + (int)w > room) {
			fprintf(out, "\n%*s", HELP_POS, "");
			line = 0;
		}
		if (line > 0) {
			fputc(' ', out);
			line++;
		}
		fwrite(p, 1, w, out);
		line += (int)w;
		p += w;
	}
	fputc('\n', out);
}

static void
print_flag_entries(FILE *out, const struct flag *flags, int docker_group)
{
	for (const struct flag *f = flags; f->name; f++) {
		if (f->docker_group != docker_group)
			continue;
		char a[160], inv[400];
		flag_args(f, a, sizeof a);
		if (f->alias)
			snprintf(inv, sizeof inv, "%s%s, %s%s", f->name, a, f->alias, a);
		else
			snprintf(inv, sizeof inv, "%s%s", f->name, a);
		print_help_entry(out, inv, f->help, HELP_WIDTH);
	}
}

static void
print_sub_help(FILE *out, const struct subcmd *sc)
{
	print_sub_usage(out, sc);
	fprintf(out, "\noptions:\n");
	print_flag_entries(out, sc->flags, 0);
	int has_docker = 0;
	for (const struct flag *f = sc->flags; f->name; f++)
		has_docker |= f->docker_group;
	if (has_docker) {
		fprintf(out, "\nDocker support:\n");
		print_flag_entries(out, sc->flags, 1);
	}
}

static void
print_top_help(FILE *out)
{
	print_top_usage(out);
	fprintf(out, "\npositional arguments:\n  {execute,build,list,daemon,config,init}\n");
	for (size_t i = 0; i < ARRAY_LEN(subcmds); i++) {
		char inv[64];
		snprintf(inv, sizeof inv, "  %s", subcmds[i].name);
		print_help_entry(out, inv, subcmds[i].help, 120);
	}
	fprintf(out, "\noptions:\n");
	for (const struct flag *f = top_flags; f->name; f++) {
		char a[160], inv[400];
		flag_args(f, a, sizeof a);
		if (f->alias)
			snprintf(inv, sizeof inv, "%s%s, %s%s", f->name, a, f->alias, a);
		else
			snprintf(inv, sizeof inv, "%s%s", f->name, a);
		print_help_entry(out, inv, f->help, 120);
	}
}

static const char header[] = "CLEARML-AGENT Deep Learning DevOps\n\n";

static void
print_short_help(FILE *out)
{
	fputs(header, out);
	print_top_help(out);
	fputc('\n', out);
}

/* Upstream's detailed help meant to list every command's flags; here it does. */
static void
print_long_help(FILE *out)
{
	fputs(header, out);
	print_top_help(out);
	for (size_t i = 0; i < ARRAY_LEN(subcmds); i++) {
		fprintf(out, "\n%s: %s\n\n", subcmds[i].name, subcmds[i].help);
		print_sub_help(out, &subcmds[i]);
	}
}

/* argparse's error: usage of the parser that failed, then "PROG: error: MESSAGE". */
static int ATTR_PRINTF(3, 4)
usage_error(FILE *err, const struct subcmd *sc, const char *fmt, ...)
{
	if (sc)
		print_sub_usage(err, sc);
	else
		print_top_usage(err);
	fprintf(err, "%s%s%s: error: ", PROG, sc ? " " : "", sc ? sc->name : "");
	va_list ap;
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return 2;
}

/* ------------------------------------------------------------------ @file expansion */

/* Append the arguments of one command-line word: itself, or the lines of the file it names
 * (str.splitlines: \n, \r\n and \r end lines; an empty line is an empty argument). */
static int
expand_arg(const char *arg, struct strlist *out, FILE *err, int depth)
{
	if (arg[0] != '@') {
		strlist_push(out, arg);
		return 0;
	}
	if (depth >= ARGFILE_DEPTH) {
		usage_error(err, NULL, "argument file %s: argument files nested too deeply", arg + 1);
		return -1;
	}
	size_t len = 0;
	char *text = read_file(arg + 1, ARGFILE_MAX, &len);
	if (text == NULL) {
		int e = errno;
		usage_error(err, NULL, "[Errno %d] %s: '%s'", e, strerror(e), arg + 1);
		return -1;
	}
	int r = 0;
	size_t i = 0;
	while (r == 0 && i < len) {
		size_t end = i;
		while (end < len && text[end] != '\n' && text[end] != '\r')
			end++;
		char *line = xstrndup(text + i, end - i);
		r = expand_arg(line, out, err, depth + 1);
		free(line);
		if (end < len && text[end] == '\r' && end + 1 < len && text[end + 1] == '\n')
			end++;
		i = end + 1;
	}
	free(text);
	return r;
}

/* ------------------------------------------------------------------ classification */

/* argparse's negative-number test: ^-\d+$ or ^-\d*\.\d+$ */
static int
is_negative_number(const char *s)
{
	if (s[0] != '-')
		return 0;
	const char *p = s + 1;
	size_t d1 = strspn(p, "0123456789");
	if (p[d1] == '\0')
		return d1 > 0;
	if (p[d1] != '.')
		return 0;
	size_t d2 = strspn(p + d1 + 1, "0123456789");
	return d2 > 0 && p[d1 + 1 + d2] == '\0';
}

/* A word that can only be a value: does not start with '-', is "-", a negative number, or
 * holds a space (argparse treats all of these as positional). "--" is not a value. */
static int
is_value(const char *s)
{
	if (s[0] != '-' || s[1] == '\0')
		return 1;
	if (strcmp(s, "--") == 0)
		return 0;
	return is_negative_number(s) || strchr(s, ' ') != NULL;
}

struct match {
	const struct flag *flag;  /* NULL: unknown option */
	const char *matched;      /* the option string that matched ("-d", "--queue") */
	const char *explicit_arg; /* after '=' or after a short flag's letter; NULL when none */
};

static int
names_match(const struct flag *f, const char *s, size_t len, const char **which)
{
	const char *names[2] = {f->name, f->alias};
	for (int k = 0; k < 2; k++)
		if (names[k] && strlen(names[k]) == len && strncmp(names[k], s, len) == 0) {
			*which = names[k];
			return 1;
		}
	return 0;
}

/* argparse's _parse_optional for one option-looking word against a flag table. Returns 0 with
 * m filled (m->flag NULL for an unknown option), or 2 after printing an ambiguity error. */
static int
match_option(const struct subcmd *sc, const struct flag *flags, const char *arg, struct match *m,
             FILE *err)
{
	memset(m, 0, sizeof *m);
	for (const struct flag *f = flags; f->name; f++)
		if (names_match(f, arg, strlen(arg), &m->matched)) {
			m->flag = f;
			return 0;
		}
	const char *eq = strchr(arg, '=');
	size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
	if (eq)
		for (const struct flag *f = flags; f->name; f++)
			if (names_match(f, arg, nlen, &m->matched)) {
				m->flag = f;
				m->explicit_arg = eq + 1;
				return 0;
			}
	/* abbreviations: a unique prefix of a long name; "-Xrest" is -X with "rest" attached */
	const struct flag *found[64];
	const char *found_name[64];
	const char *found_arg[64];
	size_t nfound = 0;
	for (const struct flag *f = flags; f->name; f++) {
		const char *names[2] = {f->name, f->alias};
		for (int k = 0; k < 2 && nfound < ARRAY_LEN(found); k++) {
			const char *nm = names[k];
			if (nm == NULL)
				continue;
			if (arg[1] == '-') {
				if (strncmp(nm, arg, nlen) != 0)
					continue;
				found_arg[nfound] = eq ? eq + 1 : NULL;
			} else if (strlen(nm) == 2 && strncmp(nm, arg, 2) == 0) {
				found_arg[nfound] = arg + 2;
			} else if (str_starts_with(nm, arg)) {
				found_arg[nfound] = NULL;
			} else {
				continue;
			}
			found[nfound] = f;
			found_name[nfound++] = nm;
		}
	}
	if (nfound > 1) {
		struct buf b;
		buf_init(&b, 4096);
		for (size_t i = 0; i < nfound; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", found_name[i]);
		usage_error(err, sc, "ambiguous option: %.*s could match %s",
		            (int)(arg[1] == '-' ? nlen : strlen(arg)), arg, b.data ? b.data : "");
		buf_free(&b);
		return 2;
	}
	if (nfound == 1) {
		m->flag = found[0];
		m->matched = found_name[0];
		m->explicit_arg = found_arg[0];
	}
	return 0;
}

/* argparse's name of an option in messages: its option strings joined by '/'. */
static const char *
action_name(const struct flag *f, char *buf, size_t len)
{
	if (f->alias)
		snprintf(buf, len, "%s/%s", f->name, f->alias);
	else
		snprintf(buf, len, "%s", f->name);
	return buf;
}

/* ------------------------------------------------------------------ values */

static int
store_number(struct cli_opts *o, const struct subcmd *sc, const struct flag *f, const char *v,
             FILE *err)
{
	char *base = (char *)o;
	if (f->kind == K_NUM) {
		/* upstream's type is int; fractions are accepted too (sub-second polling in tests) */
		char *end = NULL;
		errno = 0;
		double d = strtod(v, &end);
		while (end && isspace((unsigned char)*end))
			end++;
		if (end == v || *end != '\0' || errno == ERANGE || !isfinite(d))
			return usage_error(err, sc, "argument %s: invalid int value: '%s'", f->name, v);
		*(double *)(base + f->off) = d;
		return 0;
	}
	/* K_OPT_INT: Python int(): surrounding blanks and a sign allowed */
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%s", v);
	char *t = str_trim(tmp);
	size_t tl = strlen(t);
	while (tl > 0 && isspace((unsigned char)t[tl - 1]))
		t[--tl] = '\0';
	if (*t == '+')
		t++;
	long long n;
	if (strlen(v) >= sizeof tmp || parse_long(t, -1000000000LL, 1000000000LL, &n) < 0)
		return usage_error(err, sc, "argument %s: invalid int value: '%s'", f->name, v);
	*(int *)(base + f->off) = (int)n;
	return 0;
}

static int
store_choice(struct cli_opts *o, const struct subcmd *sc, const struct flag *f, const char *v,
             FILE *err)
{
	char *val = xstrdup(v);
	if (f->upper)
		for (char *c = val; *c; c++)
			*c = (char)toupper((unsigned char)*c);
	int ok = 0;
	for (const char *const *c = f->choices; *c; c++)
		ok |= strcmp(val, *c) == 0;
	if (!ok) {
		struct buf b;
		buf_init(&b, 1024);
		for (const char *const *c = f->choices; *c; c++)
			buf_printf(&b, "%s'%s'", c == f->choices ? "" : ", ", *c);
		usage_error(err, sc, "argument %s: invalid choice: '%s' (choose from %s)", f->name, val,
		            b.data ? b.data : "");
		buf_free(&b);
		free(val);
		return 2;
	}
	char **dst = (char **)((char *)o + f->off);
	free(*dst);
	*dst = val;
	return 0;
}

/* Apply one occurrence of flag f with its values vals[0..nvals). */
static int
apply_flag(struct cli_opts *o, const struct subcmd *sc, const struct flag *f, char **vals,
           size_t nvals, FILE *err)
{
	char *base = (char *)o;
	if (f->given_off != NOGIVEN)
		*(int *)(base + f->given_off) = 1;
	switch (f->kind) {
	case K_TRUE: *(int *)(base + f->off) = 1; return 0;
	case K_COUNT: (*(int *)(base + f->off))++; return 0;
	case K_STR: {
		char **dst = (char **)(base + f->off);
		free(*dst);
		*dst = xstrdup(vals[0]);
		return 0;
	}
	case K_NUM: return store_number(o, sc, f, vals[0], err);
	case K_CHOICE: return store_choice(o, sc, f, vals[0], err);
	case K_OPT_INT:
		if (nvals == 0) {
			*(int *)(base + f->off) = -1; /* argparse const */
			return 0;
		}
		return store_number(o, sc, f, vals[0], err);
	case K_LIST_PLUS:
	case K_LIST_STAR: {
		struct strlist *l = (struct strlist *)(base + f->off);
		strlist_free(l); /* a repeated option replaces the earlier list, as argparse's store */
		for (size_t i = 0; i < nvals; i++)
			strlist_push(l, vals[i]);
		return 0;
	}
	case K_HELP:
	default: return 0;
	}
}

/* How many values a flag wants: min and max (SIZE_MAX for "all that follow"). */
static void
flag_nargs(const struct flag *f, size_t *min, size_t *max)
{
	switch (f->kind) {
	case K_STR:
	case K_NUM:
	case K_CHOICE: *min = 1, *max = 1; break;
	case K_OPT_INT: *min = 0, *max = 1; break;
	case K_LIST_STAR: *min = 0, *max = (size_t)-1; break;
	case K_LIST_PLUS: *min = 1, *max = (size_t)-1; break;
	case K_TRUE:
	case K_COUNT:
	case K_HELP:
	default: *min = 0, *max = 0; break;
	}
}

static const char *
nargs_error(const struct flag *f)
{
	switch (f->kind) {
	case K_LIST_PLUS: return "expected at least one argument";
	case K_OPT_INT: return "expected at most one argument";
	default: return "expected one argument";
	}
}

/* ------------------------------------------------------------------ the option loop */

/* Parse options of one parser (sc NULL: the top level) from args[*pos]. At the top level the
 * first value (the sub-command) stops the loop; in a sub-command values no option takes are
 * collected in extras. Returns 0, 1 after printing help/version, or 2 after a usage error. */
static int
parse_options(const struct subcmd *sc, const struct flag *flags, char **args, size_t n, size_t *pos,
              struct cli_opts *o, struct strlist *extras, FILE *out, FILE *err)
{
	size_t dashdash = n; /* after "--" everything is a value */
	for (size_t k = *pos; k < n; k++)
		if (strcmp(args[k], "--") == 0) {
			dashdash = k;
			break;
		}
	size_t i = *pos;
	int rc = 0;
	while (i < n) {
		const char *a = args[i];
		if (i >= dashdash || is_value(a)) {
			if (sc == NULL)
				break;
			strlist_push(extras, a); /* no positional arguments exist in sub-commands */
			i++;
			continue;
		}
		struct match m;
		if (match_option(sc, flags, a, &m, err) != 0)
			return 2;
		i++;
		if (m.flag == NULL) {
			strlist_push(extras, a);
			continue;
		}
		const struct flag *f = m.flag;
		const char *explicit_arg = m.explicit_arg;
		const char *matched = m.matched;
		char nm[96];
		size_t min, max;
		flag_nargs(f, &min, &max);
		/* a flag without values and text attached: "-dO" is "-d -O"; "--x=v" is an error.
		 * Flags that store are applied at once (an error later returns 2 anyway); the first
		 * help/version of the group runs after it, as argparse runs the group's actions. */
		const struct flag *exit_action = NULL;
		while (explicit_arg != NULL && max == 0) {
			if (matched[1] == '-' || explicit_arg[0] == '\0')
				return usage_error(err, sc, "argument %s: ignored explicit argument '%s'",
				                   action_name(f, nm, sizeof nm), explicit_arg);
			if (f->kind == K_HELP || f->kind == K_TOP_H || f->kind == K_TOP_HELP || f->kind == K_VERSION) {
				if (exit_action == NULL)
					exit_action = f;
			} else {
				apply_flag(o, sc, f, NULL, 0, err); /* store_true / count: cannot fail */
			}
			char next[3] = {'-', explicit_arg[0], '\0'};
			const struct flag *nf = NULL;
			for (const struct flag *g = flags; g->name && nf == NULL; g++)
				if (names_match(g, next, 2, &matched))
					nf = g;
			if (nf == NULL)
				return usage_error(err, sc, "argument %s: ignored explicit argument '%s'",
				                   action_name(f, nm, sizeof nm), explicit_arg);
			f = nf;
			explicit_arg = explicit_arg[1] ? explicit_arg + 1 : NULL;
			flag_nargs(f, &min, &max);
		}
		char **vals = NULL;
		size_t nvals = 0;
		char *one = NULL;
		if (explicit_arg != NULL) {
			one = xstrdup(explicit_arg);
			vals = &one;
			nvals = 1;
		} else {
			while (i + nvals < dashdash && is_value(args[i + nvals]) && nvals < max)
				nvals++;
			if (nvals < min)
				return usage_error(err, sc, "argument %s: %s", action_name(f, nm, sizeof nm),
				                   nargs_error(f));
			vals = args + i;
			i += nvals;
		}
		const struct flag *act = exit_action ? exit_action : f;
		switch (act->kind) {
		case K_HELP: print_sub_help(out, sc); rc = 1; break;
		case K_TOP_H: print_short_help(out); rc = 1; break;
		case K_TOP_HELP: print_long_help(out); rc = 1; break;
		case K_VERSION:
			fprintf(out, "CLEARML-AGENT version %s\n", CLEARML_AGENT_VERSION);
			rc = 1;
			break;
		default: rc = apply_flag(o, sc, f, vals, nvals, err); break;
		}
		free(one);
		if (rc)
			return rc;
	}
	*pos = i;
	return 0;
}

int
cli_parse(int argc, char **argv, struct cli_opts *o, FILE *out, FILE *err)
{
	memset(o, 0, sizeof *o);
	o->polling_interval = 5;
	struct strlist args = {0}, extras = {0};
	int rc = 0;
	for (int k = 1; k < argc; k++)
		if (expand_arg(argv[k], &args, err, 0) < 0) {
			rc = 2;
			goto done;
		}

	size_t i = 0;
	rc = parse_options(NULL, top_flags, args.v, args.n, &i, o, &extras, out, err);
	if (rc)
		goto done;
	if (i >= args.n) {
		if (extras.n == 0) {
			/* no sub-command: upstream prints the parser's help (no header), status 0 */
			print_top_help(out);
			rc = 1;
			goto done;
		}
	} else {
		const struct subcmd *sc = NULL;
		for (size_t k = 0; k < ARRAY_LEN(subcmds); k++)
			if (strcmp(args.v[i], subcmds[k].name) == 0)
				sc = &subcmds[k];
		if (sc == NULL) {
			rc = usage_error(err, NULL,
			                 "argument command: invalid choice: '%s' (choose from 'execute', "
			                 "'build', 'list', 'daemon', 'config', 'init')", args.v[i]);
			goto done;
		}
		o->cmd = sc->cmd;
		i++;
		rc = parse_options(sc, sc->flags, args.v, args.n, &i, o, &extras, out, err);
		if (rc)
			goto done;
		if ((sc->cmd == CMD_EXECUTE || sc->cmd == CMD_BUILD) && o->id == NULL) {
			rc = usage_error(err, sc, "the following arguments are required: --id");
			goto done;
		}
	}
	if (extras.n > 0) {
		struct buf b;
		buf_init(&b, 1 << 20);
		for (size_t k = 0; k < extras.n; k++)
			buf_printf(&b, "%s%s", k ? " " : "", extras.v[k]);
		rc = usage_error(err, NULL, "unrecognized arguments: %s", b.data ? b.data : "");
		buf_free(&b);
		goto done;
	}
	if (o->log_level == NULL)
		o->log_level = xstrdup("INFO");
done:
	strlist_free(&args);
	strlist_free(&extras);
	return rc;
}
