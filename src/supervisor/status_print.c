/*
 * status_print — `daemon --status` (contract in status_print.h).
 */
#include <stdio.h>

#include "supervisor/status_print.h"

#include <string.h>

#include "config.h"
#include "util.h"

static void
print_list(FILE *out, const char *what, const struct strlist *cli, const json_t *conf)
{
	size_t n = 0;
	if (cli && cli->n) {
		for (size_t i = 0; i < cli->n; i++, n++)
			fprintf(out, "  - %s: %s\n", what, cli->v[i]);
	} else if (json_is_array(conf)) {
		size_t i;
		json_t *v;
		json_array_foreach(conf, i, v) {
			if (json_is_string(v)) {
				fprintf(out, "  - %s: %s\n", what, json_string_value(v));
				n++;
			}
		}
	}
	if (n == 0)
		fprintf(out, "  - no %s configured\n", what);
}

void
status_print(FILE *out, struct api_session *api, const json_t *root, const struct cli_opts *o,
             const char *worker_id, const struct status_queue *q, size_t nq)
{
	fprintf(out, "Working hours uptime/downtime configurations:\n");
	print_list(out, "uptime", o->uptime_given ? &o->uptime : NULL, cfg_get(root, "agent.uptime"));
	print_list(out, "downtime", o->downtime_given ? &o->downtime : NULL,
	           cfg_get(root, "agent.downtime"));

	json_t *req = json_pack("{s:s}", "worker", worker_id ? worker_id : "");
	struct api_call_opts co = {.version = "2.10", .deadline_ms = 5000};
	json_t *data = NULL;
	struct api_error e;
	const char *force = NULL, *expiry = NULL;
	if (api_call_ex(api, "workers.get_runtime_properties", req, &co, &data, &e) == 0) {
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(data, "runtime_properties"), i, p) {
			const char *k = json_string_value(json_object_get(p, "key"));
			if (k && strcmp(k, "force") == 0) {
				force = json_string_value(json_object_get(p, "value"));
				expiry = json_string_value(json_object_get(p, "expiry"));
			}
		}
	}
	json_decref(req);
	if (force)
		fprintf(out, "Worker '%s' runtime property force: %s%s%s\n", worker_id, force,
		        expiry ? ", expires " : "", expiry ? expiry : "");
	else
		fprintf(out, "Worker '%s' has no 'force' runtime property\n", worker_id ? worker_id : "");
	json_decref(data);
	for (size_t i = 0; i < nq; i++) {
		const char *tag = NULL;
		if (q[i].tags && strstr(q[i].tags, "force_workers:on"))
			tag = "force_workers:on";
		else if (q[i].tags && strstr(q[i].tags, "force_workers:off"))
			tag = "force_workers:off";
		fprintf(out, "  - Listening to queue '%s'%s%s%s\n", q[i].name, tag ? " (tagged '" : "",
		        tag ? tag : "", tag ? "')" : "");
	}
	fflush(out);
}
