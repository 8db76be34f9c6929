/* daemon — STUB (owner: daemon helper). */
#include <stdio.h>

#include "agent/commands.h"

int
cmd_daemon(const struct cli_opts *o, struct config *cfg)
{
	(void)o; (void)cfg;
	fprintf(stderr, "clearml-agent: the daemon command is not available yet\n");
	return 2;
}
