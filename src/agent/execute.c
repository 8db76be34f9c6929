/* execute — STUB (owner: daemon helper). */
#include <stdio.h>

#include "agent/commands.h"

int
cmd_execute(const struct cli_opts *o, struct config *cfg)
{
	(void)o; (void)cfg;
	fprintf(stderr, "clearml-agent: the execute command is not available yet\n");
	return 2;
}
