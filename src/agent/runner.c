/* runner — STUB (owner: runner helper). */
#include <stdio.h>

#include "agent/commands.h"
#include "agent/runner.h"

int
cmd_runner(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "clearml-agent: runner not available yet\n");
	return 2;
}

int
runner_run(const struct runner_args *a, const json_t *config_root, const json_t *task,
           runner_ready_fn ready, void *ctx)
{
	(void)a; (void)config_root; (void)task; (void)ready; (void)ctx;
	return 2;
}
