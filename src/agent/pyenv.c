/*
 * pyenv — STUB (owner: python-environment helper): runs the task on the agent's own python3,
 * without a virtual environment, until the real implementation lands.
 */
#include "agent/pyenv.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int
pyenv_setup(const struct pyenv_request *rq, struct pyenv_result *rs)
{
	(void)rq;
	memset(rs, 0, sizeof *rs);
	rs->python = xstrdup("python3");
	return 0;
}

void
pyenv_result_free(struct pyenv_result *rs)
{
	free(rs->python);
	for (size_t i = 0; i < rs->n_run_prefix; i++)
		free(rs->run_prefix[i]);
	free(rs->run_prefix);
	free(rs->venv_dir);
	free(rs->sys_path);
	if (rs->frozen)
		json_decref(rs->frozen);
	memset(rs, 0, sizeof *rs);
}
