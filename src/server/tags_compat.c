/*
 * tags_compat — old clients' single tag list (see tags_compat.h). The system tag names are the
 * real server's: the entity's names, each also in its "-name" exclusion form for get_all, and for
 * tasks any tag starting with "annotat" (case-insensitive).
 */
#include <string.h>
#include <strings.h>

#include "server/tags_compat.h"
#include "util.h"

struct entity_tags {
	const char *service;      /* "tasks" */
	const char *one, *many;   /* reply keys: "task", "tasks" */
	const char *const *names; /* system tag names */
	const char *prefix;       /* system tag prefix, or NULL */
};

static const char *const task_names[] = {"active", "archived", "development", NULL};
static const char *const model_names[] = {"active", "archived", NULL};
static const char *const project_names[] = {"archived", "public", "default", NULL};
static const char *const queue_names[] = {"default", NULL};

static const struct entity_tags g_entities[] = {
	{"tasks", "task", "tasks", task_names, "annotat"},
	{"models", "model", "models", model_names, NULL},
	{"projects", "project", "projects", project_names, NULL},
	{"queues", "queue", "queues", queue_names, NULL},
};

static const struct entity_tags *
entity_of(const struct req *q)
{
	size_t n = strcspn(q->endpoint, ".");
	for (size_t i = 0; i < ARRAY_LEN(g_entities); i++)
		if (strlen(g_entities[i].service) == n && !strncmp(q->endpoint, g_entities[i].service, n))
			return &g_entities[i];
	return NULL;
}

int
tags_compat_applies(const struct req *q)
{
	return (q->ver_major < 2 || (q->ver_major == 2 && q->ver_minor < 3)) && entity_of(q);
}

static int
is_system(const struct entity_tags *e, const char *tag)
{
	const char *t = tag[0] == '-' ? tag + 1 : tag;
	for (const char *const *n = e->names; *n; n++)
		if (!strcmp(t, *n))
			return 1;
	return e->prefix && !strncasecmp(t, e->prefix, strlen(e->prefix));
}

void
tags_compat_request(struct req *q)
{
	const struct entity_tags *e = entity_of(q);
	json_t *tags = json_object_get(q->body, "tags");
	json_t *sys = json_object_get(q->body, "system_tags");
	if (!e || !json_is_array(tags) || (sys && !json_is_null(sys) && json_array_size(sys)))
		return;
	json_t *user = json_array(), *system = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
		json_array_append(json_is_string(t) && is_system(e, json_string_value(t)) ? system : user, t);
	json_object_set_new(q->body, "tags", user);
	json_object_set_new(q->body, "system_tags", system);
}

static int
cmp_json_str(const void *a, const void *b)
{
	const char *x = json_string_value(*(json_t *const *)a);
	const char *y = json_string_value(*(json_t *const *)b);
	return strcmp(x ? x : "", y ? y : "");
}

static void
merge_doc(json_t *doc)
{
	json_t *sys = json_object_get(doc, "system_tags");
	if (!json_is_object(doc) || !json_array_size(sys))
		return;
	json_t *seen = json_object(), *all = json_array();
	json_t *lists[2] = {json_object_get(doc, "tags"), sys};
	for (int l = 0; l < 2; l++) {
		size_t i;
		json_t *t;
		json_array_foreach(lists[l], i, t)
			if (json_is_string(t) && !json_object_get(seen, json_string_value(t))) {
				json_object_set_new(seen, json_string_value(t), json_true());
				json_array_append(all, t);
			}
	}
	json_decref(seen);
	size_t n = json_array_size(all);
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(all, i);
	qsort(v, n, sizeof(*v), cmp_json_str);
	json_t *sorted = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(all);
	json_object_set_new(doc, "tags", sorted);
}

void
tags_compat_reply(const struct req *q, struct reply *r)
{
	const struct entity_tags *e = entity_of(q);
	if (!e || !json_is_object(r->data))
		return;
	merge_doc(json_object_get(r->data, e->one));
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(r->data, e->many), i, d)
		merge_doc(d);
}
