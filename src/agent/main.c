/*
 * clearml-agent — entry point: global options (which must come before the sub-command), the
 * --config-file export that children inherit, configuration loading, and dispatch to the
 * sub-command handlers of commands.h. The hidden `_runner` role skips the configuration here
 * (the runner loads it itself).
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

/* Find the sub-command position after the global options, handling --config-file early so even
 * the runner role sees it. Returns the index of the first non-global argument. */
static int
scan_globals(int argc, char **argv, int *debug, int *rc)
{
	int i = 1;
	*rc = -1;
	while (i < argc) {
		const char *a = argv[i];
		if (strcmp(a, "--config-file") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "clearml-agent: error: argument --config-file: expected one argument\n");
				*rc = 2;
				return i;
			}
			if (export_config_file(argv[i + 1]) < 0) {
				*rc = 1;
				return i;
			}
			i += 2;
		} else if (str_starts_with(a, "--config-file=")) {
			if (export_config_file(a + strlen("--config-file=")) < 0) {
				*rc = 1;
				return i;
			}
			i++;
		} else if (strcmp(a, "--debug") == 0 || strcmp(a, "-d") == 0) {
			*debug = 1;
			i++;
		} else {
			break;
		}
	}
	return i;
}

int
main(int argc, char **argv)
{
	int debug = 0, rc = -1;
	int sub = scan_globals(argc, argv, &debug, &rc);
	if (rc >= 0)
		return rc;
	if (debug)
		log_set_level(LOG_DEBUG);
	log_set_prefix("clearml-agent");

	if (sub < argc && strcmp(argv[sub], "_runner") == 0)
		return cmd_runner(argc - sub, argv + sub);

	struct cli_opts opts;
	rc = cli_parse(argc, argv, &opts, stdout, stderr);
	if (rc != 0) {
		cli_opts_free(&opts);
		return rc == 1 ? 0 : 2;
	}
	if (opts.debug)
		log_set_level(LOG_DEBUG);

	struct config cfg;
	char err[1024];
	if (config_load(&cfg, opts.config_file, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		cli_opts_free(&opts);
		return 1;
	}
	if (opts.debug)
		cfg_set(cfg.root, "agent.debug", json_true());

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
