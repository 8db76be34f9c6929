/*
 * cli — argparse-compatible parsing of the clearml-agent command line (§1 of
 * spec/clearml-agent.md). Table-driven: each sub-command has a table of flags with their argparse
 * kind (store_true, count, one value, nargs '+', '*', '?'); values land in struct cli_opts.
 * `@file` arguments are replaced by the file's lines (argparse's fromfile_prefix_chars).
 */
#include "agent/cli.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "version.h"

enum kind { K_TRUE, K_COUNT, K_STR, K_NUM, K_LIST_PLUS, K_LIST_STAR, K_OPT_INT, K_CHOICE_UPPER };

struct flag {
	const char *name;   /* "--queue" */
	const char *alias;  /* "-d" or NULL */
	enum kind kind;
	size_t off;         /* offset of the field in cli_opts */
	size_t given_off;   /* offset of an int "given" marker, or (size_t)-1 */
	const char *help;
};

#define F(field) offsetof(struct cli_opts, field)
#define NOGIVEN ((size_t)-1)

static const struct flag worker_flags[] = {
	{"-O", NULL, K_COUNT, F(optimization), NOGIVEN, "Python optimization level (repeatable)"},
	{"--git-user", NULL, K_STR, F(git_user), NOGIVEN, "git user (unused, as upstream)"},
	{"--git-pass", NULL, K_STR, F(git_pass), NOGIVEN, "git password (unused, as upstream)"},
	{"--log-level", NULL, K_CHOICE_UPPER, F(log_level), NOGIVEN,
	 "DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL (default INFO)"},
	{"--gpus", NULL, K_STR, F(gpus), NOGIVEN, "GPUs to use: 0 / 0,1 / all / MIG 0:1"},
	{"--cpu-only", NULL, K_TRUE, F(cpu_only), NOGIVEN, "run without GPUs"},
	{NULL, NULL, 0, 0, 0, NULL},
};

static const struct flag daemon_flags[] = {
	{"--polling-interval", NULL, K_NUM, F(polling_interval), NOGIVEN, "seconds between queue polls (min 5)"},
	{"--foreground", NULL, K_TRUE, F(foreground), NOGIVEN, "keep the output on the console"},
	{"--docker", NULL, K_LIST_STAR, F(docker_args), F(docker), "run tasks inside docker [IMAGE [ARGS...]]"},
	{"--force-current-version", NULL, K_TRUE, F(force_current_version), NOGIVEN, "use this agent version in containers"},
	{"--queue", NULL, K_LIST_PLUS, F(queues), NOGIVEN, "queue names or ids, in priority order"},
	{"--order-fairness", NULL, K_TRUE, F(order_fairness), NOGIVEN, "round robin over the queues"},
	{"--standalone-mode", NULL, K_TRUE, F(standalone_mode), NOGIVEN, "no code clone, no package install"},
	{"--services-mode", NULL, K_OPT_INT, F(services_mode), F(services_mode_given), "run many tasks at once [N]"},
	{"--child-report-tags", NULL, K_LIST_PLUS, F(child_report_tags), NOGIVEN, "tags reported by task workers"},
	{"--create-queue", NULL, K_TRUE, F(create_queue), NOGIVEN, "create missing queues"},
	{"--detached", "-d", K_TRUE, F(detached), NOGIVEN, "run in the background"},
	{"--stop", NULL, K_LIST_STAR, F(stop_ids), F(stop), "stop a running daemon [WORKER_ID...]"},
	{"--graceful", NULL, K_TRUE, F(graceful), NOGIVEN, "with --stop: finish the running task first"},
	{"--dynamic-gpus", NULL, K_TRUE, F(dynamic_gpus), NOGIVEN, "allocate GPUs per queue dynamically"},
	{"--uptime", NULL, K_LIST_STAR, F(uptime), F(uptime_given), "working hours, e.g. \"17-20 TUE\""},
	{"--downtime", NULL, K_LIST_STAR, F(downtime), F(downtime_given), "idle hours"},
	{"--status", NULL, K_TRUE, F(status), NOGIVEN, "print the schedule and exit"},
	{"--use-owner-token", NULL, K_TRUE, F(use_owner_token), NOGIVEN, "run tasks with the owner's token"},
	{NULL, NULL, 0, 0, 0, NULL},
};

static const struct flag execute_flags[] = {
	{"--id", NULL, K_STR, F(id), NOGIVEN, "task id or name (required)"},
	{"--log-file", NULL, K_STR, F(log_file), NOGIVEN, "where to store the task output"},
	{"--disable-monitoring", NULL, K_TRUE, F(disable_monitoring), NOGIVEN, "become the task (used by the daemon)"},
	{"--full-monitoring", NULL, K_TRUE, F(full_monitoring), NOGIVEN, "act as a one-task daemon"},
	{"--require-queue", NULL, K_TRUE, F(require_queue), NOGIVEN, "fail unless the task was queued"},
	{"--standalone-mode", NULL, K_TRUE, F(standalone_mode), NOGIVEN, "no code clone, no package install"},
	{"--docker", NULL, K_LIST_STAR, F(docker_args), F(docker), "run inside docker [IMAGE [ARGS...]]"},
	{"--clone", NULL, K_TRUE, F(clone), NOGIVEN, "clone the task and run the clone"},
	{NULL, NULL, 0, 0, 0, NULL},
};

static const struct flag build_flags[] = {
	{"--id", NULL, K_STR, F(id), NOGIVEN, "task id or name (required)"},
	{"--target", NULL, K_STR, F(target), NOGIVEN, "target folder (or docker image name)"},
	{"--install-globally", NULL, K_TRUE, F(install_globally), NOGIVEN, "install into the system python"},
	{"--docker", NULL, K_LIST_STAR, F(docker_args), F(docker), "build inside docker [IMAGE [ARGS...]]"},
	{"--force-docker", NULL, K_TRUE, F(force_docker), NOGIVEN, "ignore the task's container"},
	{"--python-version", NULL, K_STR, F(python_version), NOGIVEN, "python version X.Y"},
	{"--entry-point", NULL, K_STR, F(entry_point), NOGIVEN, "reuse_task or clone_task"},
	{NULL, NULL, 0, 0, 0, NULL},
};

static const struct flag no_flags[] = {{NULL, NULL, 0, 0, 0, NULL}};

struct subcmd {
	const char *name;
	enum cli_cmd cmd;
	const struct flag *flags;
	int worker_args;
	const char *help;
};

static const struct subcmd subcmds[] = {
	{"daemon", CMD_DAEMON, daemon_flags, 1, "Run the agent as a daemon, pulling tasks from queues"},
	{"execute", CMD_EXECUTE, execute_flags, 1, "Build and run one task"},
	{"build", CMD_BUILD, build_flags, 1, "Build a task's environment without running it"},
	{"list", CMD_LIST, no_flags, 0, "List the workers of the server"},
	{"config", CMD_CONFIG, no_flags, 0, "Print the effective configuration"},
	{"init", CMD_INIT, no_flags, 0, "Create a clearml.conf interactively"},
};

const char *
cli_cmd_name(enum cli_cmd c)
{
	for (size_t i = 0; i < ARRAY_LEN(subcmds); i++)
		if (subcmds[i].cmd == c)
			return subcmds[i].name;
	return "";
}

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
	strlist_free(&o->queues);
	strlist_free(&o->child_report_tags);
	strlist_free(&o->stop_ids);
	strlist_free(&o->uptime);
	strlist_free(&o->downtime);
	memset(o, 0, sizeof *o);
}

/* ---- @file expansion ---- */

static int expand_one(const char *arg, struct strlist *out, FILE *err, int depth);

/* Replace each "@file" argument by the file's lines (each line one argument), recursively. */
static int
expand_one(const char *arg, struct strlist *out, FILE *err, int depth)
{
	if (arg[0] != '@') {
		strlist_push(out, arg);
		return 0;
	}
	if (depth > 8) {
		fprintf(err, "clearml-agent: error: argument files nested too deeply\n");
		return -1;
	}
	size_t len = 0;
	char *text = read_file(arg + 1, 1 << 20, &len);
	if (text == NULL) {
		fprintf(err, "clearml-agent: error: [Errno 2] No such file or directory: '%s'\n", arg + 1);
		return -1;
	}
	int r = 0;
	for (char *line = text; r == 0 && line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		r = expand_one(line, out, err, depth + 1);
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return r;
}

static int
expand_args(int argc, char **argv, struct strlist *out, FILE *err)
{
	strlist_push(out, argc > 0 ? argv[0] : "clearml-agent");
	for (int i = 1; i < argc; i++)
		if (expand_one(argv[i], out, err, 0) < 0)
			return -1;
	return 0;
}

/* ---- help ---- */

static void
print_flags(FILE *out, const struct flag *f)
{
	for (; f->name; f++)
		fprintf(out, "  %s%s%s\t%s\n", f->alias ? f->alias : "", f->alias ? ", " : "", f->name, f->help);
}

static void
print_short_help(FILE *out)
{
	fprintf(out, "CLEARML-AGENT Deep Learning DevOps\n\n");
	fprintf(out, "usage: clearml-agent [-h] [--help] [--version] [--config-file CONFIG_FILE] [--debug]\n"
	             "                     {daemon,execute,build,list,config,init} ...\n\n");
	for (size_t i = 0; i < ARRAY_LEN(subcmds); i++)
		fprintf(out, "  %-8s %s\n", subcmds[i].name, subcmds[i].help);
}

static void
print_long_help(FILE *out)
{
	print_short_help(out);
	for (size_t i = 0; i < ARRAY_LEN(subcmds); i++) {
		fprintf(out, "\n%s: %s\n", subcmds[i].name, subcmds[i].help);
		print_flags(out, subcmds[i].flags);
		if (subcmds[i].worker_args)
			print_flags(out, worker_flags);
	}
}

/* ---- parsing ---- */

static const struct flag *
find_flag(const struct subcmd *sc, const char *arg, size_t arglen)
{
	const struct flag *tables[2] = {sc->flags, sc->worker_args ? worker_flags : no_flags};
	for (int t = 0; t < 2; t++)
		for (const struct flag *f = tables[t]; f->name; f++) {
			if ((strlen(f->name) == arglen && strncmp(f->name, arg, arglen) == 0) ||
			    (f->alias && strlen(f->alias) == arglen && strncmp(f->alias, arg, arglen) == 0))
				return f;
		}
	return NULL;
}

static int
is_option(const char *s)
{
	return s[0] == '-' && s[1] != '\0' && !(isdigit((unsigned char)s[1]) && s[1] != '\0');
}

static int
usage_error(FILE *err, const char *cmd, const char *fmt, const char *arg)
{
	fprintf(err, "usage: clearml-agent %s [-h] ...\nclearml-agent %s: error: ", cmd ? cmd : "", cmd ? cmd : "");
	fprintf(err, fmt, arg);
	fputc('\n', err);
	return 2;
}

static int
apply_flag(struct cli_opts *o, const struct subcmd *sc, const struct flag *f, const char *inline_val,
           struct strlist *args, size_t *i, FILE *err)
{
	char *base = (char *)o;
	if (f->given_off != NOGIVEN)
		*(int *)(base + f->given_off) = 1;
	switch (f->kind) {
	case K_TRUE:
		if (inline_val)
			return usage_error(err, sc->name, "argument %s: ignored explicit argument", f->name);
		*(int *)(base + f->off) = 1;
		return 0;
	case K_COUNT:
		(*(int *)(base + f->off))++;
		return 0;
	case K_STR:
	case K_NUM:
	case K_CHOICE_UPPER: {
		const char *v = inline_val;
		if (v == NULL) {
			if (*i + 1 >= args->n || is_option(args->v[*i + 1]))
				return usage_error(err, sc->name, "argument %s: expected one argument", f->name);
			v = args->v[++(*i)];
		}
		if (f->kind == K_NUM) {
			char *end = NULL;
			double d = strtod(v, &end);
			if (end == v || *end != '\0' || d < 0)
				return usage_error(err, sc->name, "argument --polling-interval: invalid value: '%s'", v);
			*(double *)(base + f->off) = d;
			return 0;
		}
		char **dst = (char **)(base + f->off);
		free(*dst);
		*dst = xstrdup(v);
		if (f->kind == K_CHOICE_UPPER) {
			for (char *c = *dst; *c; c++)
				*c = (char)toupper((unsigned char)*c);
			static const char *levels[] = {"DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL"};
			int ok = 0;
			for (size_t k = 0; k < ARRAY_LEN(levels); k++)
				ok |= strcmp(*dst, levels[k]) == 0;
			if (!ok)
				return usage_error(err, sc->name, "argument --log-level: invalid choice: '%s'", v);
		}
		return 0;
	}
	case K_LIST_PLUS:
	case K_LIST_STAR: {
		struct strlist *l = (struct strlist *)(base + f->off);
		size_t before = l->n;
		if (inline_val)
			strlist_push(l, inline_val);
		while (*i + 1 < args->n && !is_option(args->v[*i + 1]))
			strlist_push(l, args->v[++(*i)]);
		if (f->kind == K_LIST_PLUS && l->n == before)
			return usage_error(err, sc->name, "argument %s: expected at least one argument", f->name);
		return 0;
	}
	case K_OPT_INT: {
		int *dst = (int *)(base + f->off);
		*dst = -1;
		const char *v = inline_val;
		if (v == NULL && *i + 1 < args->n && !is_option(args->v[*i + 1]))
			v = args->v[++(*i)];
		if (v) {
			long long n;
			if (parse_long(v, -1, 1000000, &n) < 0)
				return usage_error(err, sc->name, "argument %s: invalid int value: '%s'", v);
			*dst = (int)n;
		}
		return 0;
	}
	}
	return 0;
}

int
cli_parse(int argc, char **argv, struct cli_opts *o, FILE *out, FILE *err)
{
	memset(o, 0, sizeof *o);
	o->polling_interval = 5;
	struct strlist args = {0};
	if (expand_args(argc, argv, &args, err) < 0) {
		strlist_free(&args);
		return 2;
	}
	int rc = 0;
	size_t i = 1;
	/* global options */
	for (; i < args.n; i++) {
		const char *a = args.v[i];
		if (strcmp(a, "-h") == 0) {
			print_short_help(out);
			rc = 1;
			goto done;
		} else if (strcmp(a, "--help") == 0) {
			print_long_help(out);
			rc = 1;
			goto done;
		} else if (strcmp(a, "--version") == 0) {
			fprintf(out, "CLEARML-AGENT version %s\n", CLEARML_AGENT_VERSION);
			rc = 1;
			goto done;
		} else if (strcmp(a, "--config-file") == 0 && i + 1 < args.n) {
			free(o->config_file);
			o->config_file = xstrdup(args.v[++i]);
		} else if (str_starts_with(a, "--config-file=")) {
			free(o->config_file);
			o->config_file = xstrdup(a + strlen("--config-file="));
		} else if (strcmp(a, "--debug") == 0 || strcmp(a, "-d") == 0) {
			o->debug = 1;
		} else {
			break;
		}
	}
	if (i >= args.n) {
		print_short_help(out);
		rc = 1;
		goto done;
	}
	const struct subcmd *sc = NULL;
	for (size_t k = 0; k < ARRAY_LEN(subcmds); k++)
		if (strcmp(args.v[i], subcmds[k].name) == 0)
			sc = &subcmds[k];
	if (sc == NULL) {
		rc = usage_error(err, NULL, "argument command: invalid choice: '%s' (choose from 'daemon', "
		                 "'execute', 'build', 'list', 'config', 'init')", args.v[i]);
		goto done;
	}
	o->cmd = sc->cmd;
	for (i++; i < args.n; i++) {
		const char *a = args.v[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fprintf(out, "usage: clearml-agent %s [options]\n\n%s\n\n", sc->name, sc->help);
			print_flags(out, sc->flags);
			if (sc->worker_args)
				print_flags(out, worker_flags);
			rc = 1;
			goto done;
		}
		if (strncmp(a, "-O", 2) == 0 && sc->worker_args && strspn(a + 1, "O") == strlen(a + 1)) {
			o->optimization += (int)strlen(a + 1);
			continue;
		}
		const char *eq = str_starts_with(a, "--") ? strchr(a, '=') : NULL;
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const struct flag *f = is_option(a) ? find_flag(sc, a, nlen) : NULL;
		if (f == NULL) {
			rc = usage_error(err, sc->name, "unrecognized arguments: %s", a);
			goto done;
		}
		rc = apply_flag(o, sc, f, eq ? eq + 1 : NULL, &args, &i, err);
		if (rc)
			goto done;
	}
	if ((o->cmd == CMD_EXECUTE || o->cmd == CMD_BUILD) && o->id == NULL) {
		rc = usage_error(err, sc->name, "the following arguments are required: %s", "--id");
		goto done;
	}
	if (o->services_mode_given && o->dynamic_gpus) {
		rc = usage_error(err, sc->name, "%s", "--services-mode and --dynamic-gpus cannot be used together");
		goto done;
	}
	if (o->log_level == NULL)
		o->log_level = xstrdup("INFO");
done:
	strlist_free(&args);
	return rc;
}
