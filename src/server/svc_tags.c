/*
 * svc_tags — tags across services: the distinct tags of what lies in projects
 * (projects.get_task_tags / get_model_tags), of the projects themselves (get_project_tags), of
 * the whole company (organization.get_tags: tasks and models), and the bulk edit
 * tasks.update_tags / models.update_tags.
 *
 * The real server keeps a tag cache per company and project; server-lite reads the documents
 * each time, so a tag disappears as soon as the last entity carrying it is edited or deleted.
 * Only the caller's company counts (public entities are not). The optional filter
 * {tags, system_tags} uses the get_all list-field language ("-x", "__$not", null).
 */
#include <string.h>

#include "server/getall.h"
#include "server/models.h"
#include "server/projects.h"
#include "server/server.h"
#include "server/svc_tasks.h"
#include "util.h"

#define MAX_TAG_IDS 1000
#define MAX_TAG_LEN 1024
#define MAX_TAGS_EDIT 100

static const char *const tag_list_fields[] = {"tags", "system_tags", NULL};
static const struct getall_spec tag_filter_spec = {
	.list_fields = tag_list_fields,
};

/* The compiled request filter (NULL when there is none: *f stays NULL). 0, or -1 with r filled. */
static int
tag_filter(struct req *q, struct reply *r, struct getall_filter **f)
{
	*f = NULL;
	json_t *filter = json_object_get(q->body, "filter");
	if (!filter || json_is_null(filter))
		return 0;
	if (!json_is_object(filter)) {
		reply_err(r, 400, 12, "Validation error (expected an object): field=filter");
		return -1;
	}
	json_t *body = json_object();
	for (const char *const *k = tag_list_fields; *k; k++) {
		json_t *v = json_object_get(filter, *k);
		if (!v || json_is_null(v))
			continue;
		int ok = json_is_array(v) && json_array_size(v) <= MAX_TAGS_EDIT;
		size_t i;
		json_t *e;
		/* null stands for "no tags" in the list-field language */
		json_array_foreach(v, i, e)
			ok = ok && (json_is_null(e) || (json_is_string(e) && json_string_length(e) <= MAX_TAG_LEN));
		if (!ok) {
			json_decref(body);
			reply_err(r, 400, 12, "Validation error (expected a list of tags): field=filter.%s", *k);
			return -1;
		}
		/* an empty list filters nothing, as upstream drops it */
		if (json_array_size(v))
			json_object_set(body, *k, v);
	}
	int rc = 0;
	if (json_object_size(body)) {
		*f = getall_filter_new(body, &tag_filter_spec, r);
		rc = *f ? 0 : -1;
	}
	json_decref(body);
	return rc;
}

/* Add the tags (and system_tags when include_system) of the docs passing f to the sets. */
static void
collect_tags(const json_t *docs, const struct getall_filter *f, const char *company, json_t *tags,
             json_t *system_tags)
{
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d) {
		const char *c = sget(d, "company");
		if (company && (!c || strcmp(c, company) != 0))
			continue;
		if (f && !getall_filter_pass(f, d))
			continue;
		size_t k;
		json_t *t;
		json_array_foreach(json_object_get(d, "tags"), k, t)
			if (json_is_string(t))
				json_object_set(tags, json_string_value(t), json_true());
		if (system_tags)
			json_array_foreach(json_object_get(d, "system_tags"), k, t)
				if (json_is_string(t))
					json_object_set(system_tags, json_string_value(t), json_true());
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of set, sorted, as a new array (set is released). */
static json_t *
sorted_keys(json_t *set)
{
	size_t n = json_object_size(set), m = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v;
	json_object_foreach(set, k, v)
		keys[m++] = k;
	qsort(keys, m, sizeof(*keys), cmp_str);
	json_t *out = json_array();
	for (size_t i = 0; i < m; i++)
		json_array_append_new(out, json_string(keys[i]));
	free(keys);
	json_decref(set);
	return out;
}

static void
reply_tags(struct reply *r, json_t *tags, json_t *system_tags)
{
	json_t *data = json_pack("{s:o}", "tags", sorted_keys(tags));
	if (system_tags)
		json_object_set_new(data, "system_tags", sorted_keys(system_tags));
	reply_data(r, data);
}

/* The request frame of every get_*_tags: include_system, projects, filter. 0 or -1. */
static int
tags_request(struct req *q, struct reply *r, int with_projects, int *include_system,
             struct getall_filter **f)
{
	*include_system = 0;
	if (req_bool(q, r, "include_system", 0, include_system))
		return -1;
	if (with_projects && project_ids_check(json_object_get(q->body, "projects"), r, "projects"))
		return -1;
	return tag_filter(q, r, f);
}

/* projects.get_task_tags / get_model_tags: entities in the projects (and below them). */
static void
entity_tags(struct req *q, struct reply *r, int models)
{
	int include_system;
	struct getall_filter *f;
	if (tags_request(q, r, 1, &include_system, &f) != 0)
		return;
	json_t *docs = project_entities_of(q, r, models, json_object_get(q->body, "projects"), 1, 0);
	if (!docs) {
		getall_filter_free(f);
		return;
	}
	json_t *tags = json_object(), *sys = include_system ? json_object() : NULL;
	collect_tags(docs, f, q->who->company, tags, sys);
	json_decref(docs);
	getall_filter_free(f);
	reply_tags(r, tags, sys);
}

static void
projects_get_task_tags(struct req *q, struct reply *r)
{
	entity_tags(q, r, 0);
}

static void
projects_get_model_tags(struct req *q, struct reply *r)
{
	entity_tags(q, r, 1);
}

/* projects.get_project_tags: the tags of the projects themselves (with their children), or of
 * every project of the company. */
static void
projects_get_project_tags(struct req *q, struct reply *r)
{
	int include_system;
	struct getall_filter *f;
	if (tags_request(q, r, 1, &include_system, &f) != 0)
		return;
	json_t *projects = json_object_get(q->body, "projects");
	char *list = NULL;
	if (json_is_array(projects) && json_array_size(projects)) {
		list = project_ids_expand(q->db, projects, 1);
		if (!list) {
			getall_filter_free(f);
			reply_err(r, 500, 100, "General data error (project scope)");
			return;
		}
	}
	sqlite3_stmt *st = db_stmt(q->db, "SELECT doc FROM projects WHERE company = ?1 AND (?2 IS NULL "
	                                  "OR id IN (SELECT value FROM json_each(?2)))");
	if (!st) {
		free(list);
		getall_filter_free(f);
		reply_err(r, 500, 100, "General data error (reading projects)");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	if (list)
		sqlite3_bind_text(st, 2, list, -1, SQLITE_STATIC);
	json_t *docs = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(d))
			json_array_append_new(docs, d);
		else
			json_decref(d);
	}
	db_stmt_done(st);
	free(list);
	json_t *tags = json_object(), *sys = include_system ? json_object() : NULL;
	collect_tags(docs, f, q->who->company, tags, sys);
	json_decref(docs);
	getall_filter_free(f);
	reply_tags(r, tags, sys);
}

/* organization.get_tags: every task and model of the company. */
static void
organization_get_tags(struct req *q, struct reply *r)
{
	int include_system;
	struct getall_filter *f;
	if (tags_request(q, r, 0, &include_system, &f) != 0)
		return;
	json_t *tags = json_object(), *sys = include_system ? json_object() : NULL;
	for (int models = 0; models < 2; models++) {
		json_t *docs = project_entities(q->db, models, q->who->company, 0, PS_ALL, NULL);
		if (!docs) {
			json_decref(tags);
			json_decref(sys);
			getall_filter_free(f);
			reply_err(r, 500, 100, "General data error (reading %s)", models ? "models" : "tasks");
			return;
		}
		collect_tags(docs, f, q->who->company, tags, sys);
		json_decref(docs);
	}
	getall_filter_free(f);
	reply_tags(r, tags, sys);
}

/* ---------------------------------------------------------------- update_tags */

static int
tag_list_ok(const json_t *v)
{
	if (!v || json_is_null(v))
		return 1;
	if (!json_is_array(v) || json_array_size(v) > MAX_TAGS_EDIT)
		return 0;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (!json_is_string(e) || json_string_length(e) > MAX_TAG_LEN)
			return 0;
	return 1;
}

/* Add then remove tags on one document; 1 when it changed. */
static int
edit_tags(json_t *d, const json_t *add, const json_t *remove)
{
	json_t *tags = json_object_get(d, "tags");
	if (!json_is_array(tags)) {
		tags = json_array();
		json_object_set_new(d, "tags", tags);
	}
	int changed = 0;
	size_t i;
	json_t *t;
	json_array_foreach(add, i, t)
		if (!has_tag(d, "tags", json_string_value(t))) {
			json_array_append(tags, t);
			changed = 1;
		}
	json_array_foreach(remove, i, t)
		if (has_tag(d, "tags", json_string_value(t))) {
			remove_tag(d, "tags", json_string_value(t));
			changed = 1;
		}
	return changed;
}

/*
 * {ids, add_tags, remove_tags}: like upstream, `updated` counts the documents each of the two
 * operations matched. Tasks must all be the caller's to change (400/101 or 403/21 otherwise);
 * models outside the company are skipped.
 */
static void
update_tags(struct req *q, struct reply *r, int models)
{
	json_t *ids = json_object_get(q->body, "ids");
	json_t *add = json_object_get(q->body, "add_tags"), *remove = json_object_get(q->body, "remove_tags");
	if (!is_str_list(ids) || !json_array_size(ids) || json_array_size(ids) > MAX_TAG_IDS) {
		reply_err(r, 400, 12, "Validation error (no entity ids provided for editing tags)");
		return;
	}
	if (!tag_list_ok(add) || !tag_list_ok(remove)) {
		reply_err(r, 400, 12, "Validation error (expected a list of tags): field=add_tags/remove_tags");
		return;
	}
	if (!json_array_size(add) && !json_array_size(remove)) {
		reply_err(r, 400, 12, "Validation error (either add tags or remove tags should be provided)");
		return;
	}
	if (task_begin(q, r) != 0)
		return;
	json_t *docs = json_array(), *seen = json_object();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		const char *id = json_string_value(idv);
		if (json_object_get(seen, id))
			continue;
		json_object_set_new(seen, id, json_true());
		json_t *d = models ? model_load(q->db, id) : task_load(q->db, id);
		const char *c = sget(d, "company");
		if (d && c && !strcmp(c, q->who->company)) {
			json_array_append_new(docs, d);
			continue;
		}
		int public = d && c && !*c;
		json_decref(d);
		if (models)
			continue;
		json_decref(docs);
		json_decref(seen);
		db_rollback(q->db);
		if (public)
			reply_err(r, 403, 21, "Forbidden (modification not allowed): task=%s", id);
		else
			reply_err(r, 400, 101, "Invalid task id: ids=%s", id);
		return;
	}
	json_decref(seen);
	int rc = 0;
	size_t matched = json_array_size(docs);
	json_t *d;
	json_array_foreach(docs, i, d) {
		if (!edit_tags(d, add, remove))
			continue;
		json_object_set_new(d, "tags", sorted_tags(json_object_get(d, "tags")));
		stamp(d, NULL, q->who, 1);
		rc |= models ? model_save(q->db, d) : task_save(q->db, d);
	}
	json_decref(docs);
	if (rc != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (saving tags)");
		return;
	}
	if (task_commit(q, r) != 0)
		return;
	size_t updated = (json_array_size(add) ? matched : 0) + (json_array_size(remove) ? matched : 0);
	reply_data(r, json_pack("{s:I}", "updated", (json_int_t)updated));
}

static void
tasks_update_tags(struct req *q, struct reply *r)
{
	update_tags(q, r, 0);
}

static void
models_update_tags(struct req *q, struct reply *r)
{
	update_tags(q, r, 1);
}

const struct endpoint svc_tags_endpoints[] = {
	{"projects.get_task_tags", "2.8", 0, projects_get_task_tags},
	{"projects.get_model_tags", "2.8", 0, projects_get_model_tags},
	{"projects.get_project_tags", "2.17", 0, projects_get_project_tags},
	{"organization.get_tags", "2.8", 0, organization_get_tags},
	{"tasks.update_tags", "2.27", 0, tasks_update_tags},
	{"models.update_tags", "2.27", 0, models_update_tags},
	{0},
};
