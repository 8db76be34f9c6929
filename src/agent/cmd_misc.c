/*
 * cmd_misc — the small sub-commands: `config` (print the effective configuration), and `build` /
 * `init`, which are not available yet.
 */
#include <stdio.h>

#include "agent/commands.h"

int
cmd_config(const struct cli_opts *o, struct config *cfg)
{
	(void)o;
	config_print(stdout, cfg);
	return 0;
}

int
cmd_build(const struct cli_opts *o, struct config *cfg)
{
	(void)o;
	(void)cfg;
	fprintf(stderr, "clearml-agent: the build command is not available yet\n");
	return 2;
}

int
cmd_init(const struct cli_opts *o, struct config *cfg)
{
	(void)o;
	(void)cfg;
	fprintf(stderr, "clearml-agent: the init command is not available yet\n");
	return 2;
}
