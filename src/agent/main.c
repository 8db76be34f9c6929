/*
 * clearml-agent — entry point: the command line (cli.c), the --config-file export that children
 * inherit, configuration loading, and dispatch to the sub-command handlers of commands.h.
 * `--version`, `-h` and `--help` are answered by the parser before anything else happens (no
 * configuration is read), so they cost no more than the program's start. The hidden `_runner`
 * role skips the configuration here (the runner loads it itself).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/commands.h"
#include "config.h"
#include "util.h"
#include "version.h"

static int
export_config_file(const char *arg)
{
	char *expanded = path_expand(arg);
	char resolved[PATH_MAX];
	struct stat st;
	if (realpath(expanded, resolved) == NULL || stat(resolved, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "\nclearml_agent: ERROR: Could not find configuration file: %s\n", expanded);
		free(expanded);
		return -1;
	}
	free(expanded);
	setenv("CLEARML_CONFIG_FILE", resolved, 1);
	setenv("TRAINS_CONFIG_FILE", resolved, 1);
	return 0;
}

/* The hidden runner role: `clearml-agent [--config-file F] [--debug] _runner ...`. Returns the
 * index of "_runner" in argv, or 0 when this is not the runner role. */
static int
runner_role_index(int argc, char **argv)
{
	int i = 1;
	while (i < argc) {
		const char *a = argv[i];
		if (strcmp(a, "--config-file") == 0)
			i += 2;
		else if (str_starts_with(a, "--config-file=") || strcmp(a, "--debug") == 0 ||
		         strcmp(a, "-d") == 0)
			i++;
		else
			break;
	}
	return i < argc && strcmp(argv[i], "_runner") == 0 ? i : 0;
}

static int
run_runner_role(int argc, char **argv, int sub)
{
	for (int i = 1; i < sub; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--debug") == 0 || strcmp(a, "-d") == 0)
			log_set_level(LOG_DEBUG);
		else if (strcmp(a, "--config-file") == 0 && export_config_file(argv[++i]) < 0)
			return 1;
		else if (str_starts_with(a, "--config-file=") &&
		         export_config_file(a + strlen("--config-file=")) < 0)
			return 1;
	}
	return cmd_runner(argc - sub, argv + sub);
}

/* Checks upstream makes after parsing, before the work starts (errors, not usage errors). */
static const char *
check_combination(const struct cli_opts *o)
{
	/* upstream tests the value: `--services-mode 0` is off */
	if (o->cmd == CMD_DAEMON && o->services_mode_given && o->services_mode != 0 && o->dynamic_gpus)
		return "Combining --dynamic-gpus and --services-mode is not supported";
	return NULL;
}

int
main(int argc, char **argv)
{
	log_set_prefix("clearml-agent");
	int sub = runner_role_index(argc, argv);
	if (sub > 0)
		return run_runner_role(argc, argv, sub);

	struct cli_opts opts;
	int rc = cli_parse(argc, argv, &opts, stdout, stderr);
	if (rc != 0) {
		cli_opts_free(&opts);
		return rc == 1 ? 0 : 2;
	}
	if (opts.debug)
		log_set_level(LOG_DEBUG);
	/* before anything else, so every child inherits it */
	if (opts.config_file && export_config_file(opts.config_file) < 0) {
		cli_opts_free(&opts);
		return 1;
	}

	struct config cfg;
	char err[1024];
	/* the exported, resolved path (the environment also names it for children) */
	const char *explicit_file = opts.config_file ? env_get("CLEARML_CONFIG_FILE") : NULL;
	if (config_load(&cfg, explicit_file, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		cli_opts_free(&opts);
		return 1;
	}
	if (opts.debug)
		cfg_set(cfg.root, "agent.debug", json_true());

	const char *bad = check_combination(&opts);
	if (bad) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", bad);
		config_free(&cfg);
		cli_opts_free(&opts);
		return 1;
	}

	switch (opts.cmd) {
	case CMD_DAEMON: rc = cmd_daemon(&opts, &cfg); break;
	case CMD_EXECUTE: rc = cmd_execute(&opts, &cfg); break;
	case CMD_BUILD: rc = cmd_build(&opts, &cfg); break;
	case CMD_LIST: rc = cmd_list(&opts, &cfg); break;
	case CMD_CONFIG: rc = cmd_config(&opts, &cfg); break;
	case CMD_INIT: rc = cmd_init(&opts, &cfg); break;
	case CMD_NONE:
	default: rc = 2; break;
	}
	config_free(&cfg);
	cli_opts_free(&opts);
	return rc;
}
