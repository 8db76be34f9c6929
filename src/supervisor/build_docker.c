/*
 * build_docker — `clearml-agent build --docker [IMAGE [ARGS]] --target NAME [--entry-point …]`.
 * Not available yet: it says so and exits 2 (a flag that is accepted must work).
 */
#include <stdio.h>

#include "supervisor/build.h"

int
build_docker(const struct cli_opts *o, struct config *cfg)
{
	(void)o;
	(void)cfg;
	fprintf(stderr, "\nclearml_agent: ERROR: build --docker is not available in this agent yet "
	                "(build --id <task> --target <folder> builds the environment into a folder)\n");
	return 2;
}
