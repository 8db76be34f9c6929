/*
 * cli — the clearml-agent command line (§1 of spec/clearml-agent.md): global options before the
 * sub-command, the sub-commands daemon/execute/build/list/config/init with upstream's flag names,
 * defaults and nargs semantics, and `@file` argument files. Pure parsing: no I/O except reading
 * @files and printing help. Owner: cli.c.
 */
#ifndef CLEARML_CLI_H
#define CLEARML_CLI_H

#include <stddef.h>
#include <stdio.h>

enum cli_cmd { CMD_NONE = 0, CMD_DAEMON, CMD_EXECUTE, CMD_BUILD, CMD_LIST, CMD_CONFIG, CMD_INIT };

struct strlist {
	char **v;
	size_t n;
};

struct cli_opts {
	/* global */
	char *config_file;
	int debug;
	enum cli_cmd cmd;

	/* WORKER_ARGS (execute, build, daemon) */
	int optimization;          /* -O count */
	char *git_user, *git_pass; /* accepted, unused (as upstream) */
	char *log_level;           /* upper-cased; default "INFO" */
	char *gpus;                /* NULL when absent */
	int cpu_only;

	/* daemon */
	double polling_interval;   /* default 5; the daemon clamps it to agent.polling_interval_min_sec (5) */
	int foreground;
	int docker;                /* --docker given */
	struct strlist docker_args;/* image then args (may be empty: default image) */
	int force_current_version; /* accepted; moot: no agent is installed inside containers */
	int podman;                /* --podman given (v3): docker mode with the podman engine */
	struct strlist podman_args;
	struct strlist queues;
	int order_fairness;
	int standalone_mode;
	int services_mode;         /* 0 absent; -1 unlimited (bare flag); N > 0 */
	int services_mode_given;
	struct strlist child_report_tags;
	int create_queue;
	int detached;
	int stop;                  /* --stop given */
	struct strlist stop_ids;
	int graceful;              /* --stop --graceful: drain, then exit (ours) */
	int dynamic_gpus;
	struct strlist uptime, downtime;
	int uptime_given, downtime_given;
	int status;
	int use_owner_token;

	/* execute / build */
	char *id;
	char *log_file;
	int disable_monitoring, full_monitoring, require_queue, clone;
	char *target;
	int install_globally, force_docker;
	char *python_version;
	char *entry_point;         /* build: reuse_task | clone_task */
};

/* Parse argv (argv[0] is the program). Returns 0 when a command is to run, 1 when help/version
 * was printed to out (exit 0), 2 on a usage error (message already printed to err, exit 2). */
int cli_parse(int argc, char **argv, struct cli_opts *o, FILE *out, FILE *err);
void cli_opts_free(struct cli_opts *o);
const char *cli_cmd_name(enum cli_cmd c);

#endif
