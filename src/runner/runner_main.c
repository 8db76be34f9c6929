/*
 * clearml-agent-runner — the runner role as its own static program, for docker mode: mounted
 * read-only into the task's container (any Linux image: glibc, musl or busybox, Python or not),
 * where it builds the task's environment against the image's own interpreter and becomes the
 * task. It links only src/runner/ and the config/util/process parts of src/common/: no libcurl,
 * no API client, no credentials. Usage: clearml-agent-runner [--config-file F] [--debug] <the
 * `_runner` arguments of runner.h>.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/commands.h"
#include "util.h"

int
main(int argc, char **argv)
{
	log_set_prefix("clearml-agent-runner");
	int i = 1;
	while (i < argc) {
		if (strcmp(argv[i], "--config-file") == 0 && i + 1 < argc) {
			setenv("CLEARML_CONFIG_FILE", argv[i + 1], 1);
			setenv("TRAINS_CONFIG_FILE", argv[i + 1], 1);
			i += 2;
		} else if (strcmp(argv[i], "--debug") == 0) {
			log_set_level(LOG_DEBUG);
			i++;
		} else {
			break;
		}
	}
	if (i < argc && strcmp(argv[i], "_runner") == 0) /* the agent's role word, accepted too */
		i++;
	/* cmd_runner parses from argv[1]: hand it the program name followed by the rest */
	argv[i - 1] = argv[0];
	return cmd_runner(argc - (i - 1), argv + (i - 1));
}
