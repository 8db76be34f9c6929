/*
 * commands — one entry point per clearml-agent sub-command. main.c parses the command line,
 * loads the configuration and dispatches here. Each returns the process exit status.
 */
#ifndef CLEARML_COMMANDS_H
#define CLEARML_COMMANDS_H

#include "agent/cli.h"
#include "config.h"

int cmd_daemon(const struct cli_opts *o, struct config *cfg);   /* daemon.c */
int cmd_execute(const struct cli_opts *o, struct config *cfg);  /* execute.c */
int cmd_build(const struct cli_opts *o, struct config *cfg);    /* supervisor/build.c */
int cmd_list(const struct cli_opts *o, struct config *cfg);     /* cmd_list.c */
int cmd_config(const struct cli_opts *o, struct config *cfg);   /* cmd_misc.c */
int cmd_init(const struct cli_opts *o, struct config *cfg);     /* cmd_misc.c */
/* Hidden internal role: `clearml-agent _runner ...` (runner.c); takes the raw argv after it. */
int cmd_runner(int argc, char **argv);

#endif
