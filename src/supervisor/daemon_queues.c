/*
 * daemon_queues — resolving and describing the daemon's queues (daemon_queues.h).
 */
#include "supervisor/daemon_queues.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "supervisor/agent_ctx.h"
#include "util.h"

void
dq_free(struct dq *d)
{
	for (size_t i = 0; i < *d->nq; i++) {
		free((*d->q)[i].id);
		free((*d->q)[i].name);
		free((*d->q)[i].tags);
	}
	free(*d->q);
	*d->q = NULL;
	*d->nq = 0;
}

static void
queue_add(struct dq *d, const char *id, const char *name)
{
	for (size_t i = 0; i < *d->nq; i++)
		if (strcmp((*d->q)[i].id, id) == 0)
			return; /* the same queue twice: once is enough */
	*d->q = xreallocarray(*d->q, *d->nq + 1, sizeof **d->q);
	(*d->q)[(*d->nq)++] = (struct queue_ref){.id = xstrdup(id), .name = xstrdup(name ? name : ""),
	                                   .tags = xstrdup("")};
}

json_t *
dq_ids_json(const struct dq *d)
{
	json_t *a = json_array();
	for (size_t i = 0; i < *d->nq; i++)
		json_array_append_new(a, json_string((*d->q)[i].id));
	return a;
}

/* Find a queue by name: the server matches the escaped name anywhere (case-insensitively, by the
 * (?i) prefix); we keep the exact case-insensitive match (an exact case-sensitive one wins).
 * 1 found, 0 not, -1 error. */
static int
queue_lookup(struct dq *d, const char *name, char **id_out, char **name_out)
{
	/* (?i): the server's pattern match is case-sensitive; we want every case variant back */
	char *esc = re_escape(name);
	char *rx = xasprintf("(?i)%s", esc);
	free(esc);
	json_t *req = json_pack("{s:s,s:[s,s],s:b}", "name", rx, "only_fields", "name", "id",
	                        "search_hidden", 1);
	free(rx);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(d->api, "queues.get_all", "2.5", req, &data, &e);
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "clearml_agent: ERROR: could not look up queue \"%s\": %s\n", name, e.msg);
		return -1;
	}
	json_t *qs = json_object_get(data, "queues"), *q, *best = NULL;
	size_t i;
	json_array_foreach(qs, i, q) {
		const char *qn = json_string_value(json_object_get(q, "name"));
		if (qn == NULL || strcasecmp(qn, name) != 0)
			continue;
		if (best == NULL || strcmp(qn, name) == 0)
			best = q;
	}
	if (best) {
		*id_out = xstrdup(json_string_value(json_object_get(best, "id")));
		*name_out = xstrdup(json_string_value(json_object_get(best, "name")));
	}
	json_decref(data);
	return best ? 1 : 0;
}

static int
queue_create(struct dq *d, const char *name, char **id_out)
{
	json_t *req = json_pack("{s:s}", "name", name);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(d->api, "queues.create", "2.5", req, &data, &e);
	json_decref(req);
	if (rc < 0 || !json_is_string(json_object_get(data, "id"))) {
		fprintf(stderr, "clearml_agent: ERROR: could not create queue \"%s\": %s\n", name,
		        rc < 0 ? e.msg : "no id in reply");
		json_decref(data);
		return -1;
	}
	*id_out = xstrdup(json_string_value(json_object_get(data, "id")));
	json_decref(data);
	printf("Created queue \"%s\" (%s)\n", name, *id_out);
	return 0;
}

static int
resolve_default_queue(struct dq *d)
{
	json_t *data = NULL;
	struct api_error e;
	json_t *req = json_object();
	int rc = api_call(d->api, "queues.get_default", "2.5", req, &data, &e);
	json_decref(req);
	if (rc == 0 && json_is_string(json_object_get(data, "id"))) {
		queue_add(d, json_string_value(json_object_get(data, "id")),
		          json_string_value(json_object_get(data, "name")));
		json_decref(data);
		return 0;
	}
	json_decref(data);
	char *id = NULL, *name = NULL;
	int found = queue_lookup(d, "default", &id, &name);
	if (found < 0)
		return -1;
	if (found == 0) {
		if (!d->create_queue) {
			fprintf(stderr,
			        "\nclearml_agent: ERROR: no default queue on the server; name one with "
			        "--queue, or add --create-queue to create \"default\"\n");
			return -1;
		}
		if (queue_create(d, "default", &id) < 0)
			return -1;
		name = xstrdup("default");
	}
	queue_add(d, id, name);
	free(id);
	free(name);
	return 0;
}

int
dq_resolve(struct dq *d)
{
	const struct strlist *ql = d->names;
	if (ql->n == 0)
		return resolve_default_queue(d);
	for (size_t i = 0; i < ql->n; i++) {
		const char *arg = ql->v[i];
		if (agent_looks_like_id(arg)) {
			queue_add(d, arg, NULL);
			continue;
		}
		char *id = NULL, *name = NULL;
		int found = queue_lookup(d, arg, &id, &name);
		if (found < 0)
			return -1;
		if (found == 0) {
			if (!d->create_queue) {
				fprintf(stderr,
				        "\nclearml_agent: ERROR: Could not find queue with name/id \"%s\" "
				        "(add --create-queue to create it)\n",
				        arg);
				return -1;
			}
			if (queue_create(d, arg, &id) < 0)
				return -1;
			name = xstrdup(arg);
		}
		queue_add(d, id, name);
		free(id);
		free(name);
	}
	return 0;
}

/* Names and tags for the table (queues.get_all by id). Unknown ids are an error. */
int
dq_describe(struct dq *d)
{
	json_t *req = json_pack("{s:o,s:b}", "id", dq_ids_json(d), "search_hidden", 1);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(d->api, "queues.get_all", "2.5", req, &data, &e);
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "clearml_agent: ERROR: could not read the queues: %s\n", e.msg);
		return -1;
	}
	json_t *qs = json_object_get(data, "queues");
	for (size_t i = 0; i < *d->nq; i++) {
		json_t *q, *found = NULL;
		size_t k;
		json_array_foreach(qs, k, q) {
			const char *qid = json_string_value(json_object_get(q, "id"));
			if (qid && strcmp(qid, (*d->q)[i].id) == 0)
				found = q;
		}
		if (found == NULL) {
			fprintf(stderr, "\nclearml_agent: ERROR: Could not find queue with name/id \"%s\"\n",
			        (*d->q)[i].id);
			json_decref(data);
			return -1;
		}
		const char *n = json_string_value(json_object_get(found, "name"));
		free((*d->q)[i].name);
		(*d->q)[i].name = xstrdup(n ? n : "");
		struct buf b;
		buf_init(&b, 4096);
		json_t *t;
		json_array_foreach(json_object_get(found, "tags"), k, t) {
			if (json_is_string(t))
				buf_printf(&b, "%s%s", b.len ? ", " : "", json_string_value(t));
		}
		free((*d->q)[i].tags);
		(*d->q)[i].tags = buf_steal(&b);
	}
	json_decref(data);
	return 0;
}

static void
print_rule(const size_t w[3])
{
	putchar('+');
	for (int c = 0; c < 3; c++) {
		for (size_t i = 0; i < w[c] + 2; i++)
			putchar('-');
		putchar('+');
	}
	putchar('\n');
}

void
dq_print_table(const struct dq *d)
{
	size_t w[3] = {2, 4, 4};
	for (size_t i = 0; i < *d->nq; i++) {
		size_t l[3] = {strlen((*d->q)[i].id), strlen((*d->q)[i].name), strlen((*d->q)[i].tags)};
		for (int c = 0; c < 3; c++)
			if (l[c] > w[c])
				w[c] = l[c];
	}
	printf("\nWorker \"%s\" - Listening to queues:\n", d->worker_id);
	print_rule(w);
	printf("| %-*s | %-*s | %-*s |\n", (int)w[0], "id", (int)w[1], "name", (int)w[2], "tags");
	print_rule(w);
	for (size_t i = 0; i < *d->nq; i++)
		printf("| %-*s | %-*s | %-*s |\n", (int)w[0], (*d->q)[i].id, (int)w[1], (*d->q)[i].name,
		       (int)w[2], (*d->q)[i].tags);
	print_rule(w);
	putchar('\n');
	fflush(stdout);
}

