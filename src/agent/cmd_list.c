/*
 * cmd_list — `clearml-agent list`: log in, call workers.get_all with {"last_seen": 0} and print
 * the reply's data as YAML exactly as the Python agent does (yaml.safe_dump(data, indent=1)).
 */
#include <stdio.h>
#include <stdlib.h>

#include "agent/commands.h"
#include "api.h"
#include "util.h"
#include "yaml_out.h"

int
cmd_list(const struct cli_opts *o, struct config *cfg)
{
	(void)o;
	struct api_settings s;
	api_settings_from_config(&s, cfg ? cfg->root : NULL);
	if (!s.host || !*s.host) {
		fprintf(stderr, "\nclearml_agent: ERROR: api.api_server is not configured (set it in "
		                "clearml.conf, or CLEARML_API_HOST; `clearml-agent init` writes one)\n");
		api_settings_free(&s);
		return 1;
	}
	struct api_session *sess = api_session_new(&s);
	api_settings_free(&s);
	if (!sess)
		return 1;

	struct api_error err;
	int rc = 1;
	json_t *data = NULL;
	json_t *req = json_pack("{s:i}", "last_seen", 0);
	/* Errors as the Python agent prints them ("clearml_agent: ERROR: ..."). */
	if (api_login(sess, &err) != 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err.msg);
	} else if (api_call(sess, "workers.get_all", NULL, req, &data, &err) != 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: workers.get_all failed: %s\n", err.msg);
	} else {
		char *yaml = yaml_dump(data);
		if (fputs(yaml, stdout) == EOF || fflush(stdout) != 0)
			fprintf(stderr, "\nclearml_agent: ERROR: cannot write the worker list\n");
		else
			rc = 0;
		free(yaml);
	}
	json_decref(data);
	json_decref(req);
	api_session_free(sess);
	return rc;
}
