/*
 * svc_projects_meta — the projects.* queries over what lies inside projects, and sharing:
 * make_public / make_private (the project moves to company "" and back, company_origin keeps the
 * owner), get_task_parents (the distinct parents of the tasks in scope, by name),
 * get_model_metadata_keys / get_model_metadata_values (distinct metadata keys and values of the
 * models in scope, paged).
 *
 * "In scope" follows the real server: a list of projects (with the projects below them unless
 * include_subprojects is false), else every entity of the company; for the single-project
 * metadata query an absent project with include_subprojects false means the root (no project).
 * The scope helpers are shared with svc_projects_tags.c and svc_projects_delete.c (projects.h).
 */
#include <string.h>

#include "server/getall.h"
#include "server/projects.h"
#include "server/server.h"
#include "server/svc_tasks.h"
#include "util.h"

#define MAX_SCOPE_PROJECTS 1000      /* project ids one query may name */
#define MAX_ID_LEN 128
#define MAX_PATTERN_LEN 1024

int
project_ids_check(const json_t *ids, struct reply *r, const char *field)
{
	if (!ids || json_is_null(ids))
		return 0;
	if (!json_is_array(ids) || json_array_size(ids) > MAX_SCOPE_PROJECTS) {
		reply_err(r, 400, 12, "Validation error (expected a list of at most %d ids): field=%s",
		          MAX_SCOPE_PROJECTS, field);
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		/* the real server takes null for "no project" in some of these lists */
		if (json_is_null(v))
			continue;
		if (!json_is_string(v) || json_string_length(v) > MAX_ID_LEN) {
			reply_err(r, 400, 12, "Validation error (expected a list of ids): field=%s", field);
			return -1;
		}
	}
	return 0;
}

char *
project_ids_expand(sqlite3 *db, const json_t *ids, int children)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (json_is_string(v))
			json_array_append(out, v);
	if (children && json_array_size(out)) {
		char *list = json_dumps(out, JSON_COMPACT);
		sqlite3_stmt *st = list ? db_stmt(db, "SELECT DISTINCT c.id FROM projects p JOIN projects c "
		                                      "ON c.company = p.company AND substr(c.name, 1, "
		                                      "length(p.name) + 1) = p.name || '/' WHERE p.id IN "
		                                      "(SELECT value FROM json_each(?))")
		                        : NULL;
		if (!st) {
			free(list);
			json_decref(out);
			return NULL;
		}
		sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(out, json_string((const char *)sqlite3_column_text(st, 0)));
		db_stmt_done(st);
		free(list);
	}
	char *text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return text;
}

/* One SQL text per table (db_stmt caches by text): ?1 company, ?2 allow public, ?3 the scope
 * (PS_ALL / PS_ROOT / PS_LIST / PS_LIST_ROOT), ?4 the project id list. */
static const char tasks_in_scope[] =
	"SELECT doc FROM tasks WHERE (company = ?1 OR (?2 AND company = '')) AND (?3 = 0 OR "
	"(?3 IN (1, 3) AND (project IS NULL OR project = '')) OR (?3 IN (2, 3) AND project IN "
	"(SELECT value FROM json_each(?4)))) ORDER BY created";
static const char models_in_scope[] =
	"SELECT doc FROM models WHERE (company = ?1 OR (?2 AND company = '')) AND (?3 = 0 OR "
	"(?3 IN (1, 3) AND (project IS NULL OR project = '')) OR (?3 IN (2, 3) AND project IN "
	"(SELECT value FROM json_each(?4)))) ORDER BY created";

json_t *
project_entities(sqlite3 *db, int models, const char *company, int allow_public, int scope,
                 const char *list)
{
	sqlite3_stmt *st = db_stmt(db, models ? models_in_scope : tasks_in_scope);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, company, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, allow_public);
	sqlite3_bind_int(st, 3, scope);
	sqlite3_bind_text(st, 4, list ? list : "[]", -1, SQLITE_STATIC);
	json_t *out = json_array();
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(d))
			json_array_append_new(out, d);
		else
			json_decref(d);
	}
	db_stmt_done(st);
	if (s != SQLITE_DONE) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *
project_entities_of(struct req *q, struct reply *r, int models, const json_t *projects, int children,
                    int allow_public)
{
	char *list = NULL;
	int scope = PS_ALL;
	if (json_is_array(projects) && json_array_size(projects)) {
		list = project_ids_expand(q->db, projects, children);
		if (!list) {
			reply_err(r, 500, 100, "General data error (project scope)");
			return NULL;
		}
		scope = PS_LIST;
		/* a null among the ids stands for "no project", as upstream's project__in=[None] */
		size_t i;
		json_t *v;
		json_array_foreach(projects, i, v)
			if (json_is_null(v))
				scope = PS_LIST_ROOT;
	}
	json_t *docs = project_entities(q->db, models, q->who->company, allow_public, scope, list);
	free(list);
	if (!docs)
		reply_err(r, 500, 100, "General data error (reading %s)", models ? "models" : "tasks");
	return docs;
}

/* ---------------------------------------------------------------- public / private */

static void
projects_make_public(struct req *q, struct reply *r)
{
	docs_set_public(q, r, 1, project_load, project_save, 401, "project");
}

static void
projects_make_private(struct req *q, struct reply *r)
{
	docs_set_public(q, r, 0, project_load, project_save, 401, "project");
}

/* ---------------------------------------------------------------- task parents */

static int
cmp_by_name(const void *a, const void *b)
{
	const char *x = sget(*(json_t *const *)a, "name"), *y = sget(*(json_t *const *)b, "name");
	return strcmp(x ? x : "", y ? y : "");
}

/* items (stolen) as a new array ordered by their "name" */
static json_t *
sorted_by_name(json_t *items)
{
	size_t n = json_array_size(items), i;
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = json_array_get(items, i);
	qsort(v, n, sizeof(*v), cmp_by_name);
	json_t *sorted = json_array();
	for (i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(items);
	return sorted;
}

/* The {id, name, project: {id, name}} entry of a parent the caller may read, or NULL. */
static json_t *
parent_entry(struct req *q, const char *id, const char *pattern)
{
	json_t *t = task_load(q->db, id);
	const char *c = sget(t, "company"), *name = sget(t, "name");
	if (!t || !c || (*c && strcmp(c, q->who->company) != 0) ||
	    (pattern && getall_regex_match(pattern, name ? name : "") != 1)) {
		json_decref(t);
		return NULL;
	}
	json_t *e = json_pack("{s:s,s:s}", "id", id, "name", name ? name : "");
	const char *pid = sget(t, "project");
	json_t *p = pid && *pid ? project_load(q->db, pid) : NULL;
	if (p)
		json_object_set_new(e, "project", json_pack("{s:s,s:s?}", "id", pid, "name",
		                                            sget(p, "name")));
	json_decref(p);
	json_decref(t);
	return e;
}

static void
projects_get_task_parents(struct req *q, struct reply *r)
{
	json_t *projects = json_object_get(q->body, "projects");
	int subs = 1;
	const char *state = NULL, *name = NULL;
	if (project_ids_check(projects, r, "projects") || req_bool(q, r, "include_subprojects", 0, &subs) ||
	    req_str(q, r, "tasks_state", 0, &state) || req_str(q, r, "task_name", 0, &name))
		return;
	if (state && strcmp(state, "active") != 0 && strcmp(state, "archived") != 0) {
		reply_err(r, 400, 12, "Validation error (tasks_state must be active or archived)");
		return;
	}
	if (name && strlen(name) > MAX_PATTERN_LEN) {
		reply_err(r, 400, 12, "Validation error (task_name too long)");
		return;
	}
	char *pattern = name && *name ? xasprintf("(?i)%s", name) : NULL;
	if (pattern && getall_regex_match(pattern, "") < 0) {
		free(pattern);
		reply_err(r, 400, 12, "Validation error (invalid task_name pattern)");
		return;
	}
	json_t *tasks = project_entities_of(q, r, 0, projects, subs, 1);
	if (!tasks) {
		free(pattern);
		return;
	}
	json_t *seen = json_object(), *parents = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		const char *parent = sget(t, "parent");
		if (!parent || !*parent || json_object_get(seen, parent))
			continue;
		if (state) {
			int archived = has_tag(t, "system_tags", "archived");
			if (archived != !strcmp(state, "archived"))
				continue;
		}
		json_object_set_new(seen, parent, json_true());
		json_t *e = parent_entry(q, parent, pattern);
		if (e)
			json_array_append_new(parents, e);
	}
	json_decref(tasks);
	json_decref(seen);
	free(pattern);
	reply_data(r, json_pack("{s:o}", "parents", sorted_by_name(parents)));
}

/* The users (id, name) who created the tasks (entity "task") or models of the projects. */
static void
projects_get_user_names(struct req *q, struct reply *r)
{
	json_t *projects = json_object_get(q->body, "projects");
	int subs = 1;
	const char *entity = "task";
	if (project_ids_check(projects, r, "projects") || req_bool(q, r, "include_subprojects", 0, &subs) ||
	    req_str(q, r, "entity", 0, &entity))
		return;
	if (strcmp(entity, "task") != 0 && strcmp(entity, "model") != 0) {
		reply_err(r, 400, 12, "Validation error (entity must be task or model): entity=%.32s",
		          entity);
		return;
	}
	json_t *docs = project_entities_of(q, r, !strcmp(entity, "model"), projects, subs, 1);
	if (!docs)
		return;
	json_t *seen = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d)
		if (sget(d, "user") && *sget(d, "user"))
			json_object_set_new(seen, sget(d, "user"), json_true());
	json_decref(docs);
	json_t *users = json_array();
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id, name FROM users WHERE id = ?");
	const char *uid;
	json_t *v;
	json_object_foreach(seen, uid, v) {
		if (!st)
			break;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			json_array_append_new(users, json_pack("{s:s,s:s}", "id", uid, "name",
			                                       sqlite3_column_text(st, 1)
			                                               ? (const char *)sqlite3_column_text(st, 1)
			                                               : ""));
	}
	db_stmt_done(st);
	json_decref(seen);
	reply_data(r, json_pack("{s:o}", "users", sorted_by_name(users)));
}

/* ---------------------------------------------------------------- model metadata */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of set sorted, one page of them as a new array; *total gets their count. */
static json_t *
page_of_keys(json_t *set, long long page, long long page_size, size_t *total)
{
	size_t n = json_object_size(set), m = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *e;
	json_object_foreach(set, k, e)
		keys[m++] = k;
	qsort(keys, m, sizeof(*keys), cmp_str);
	json_t *out = json_array();
	size_t start = (size_t)page * (size_t)page_size;
	for (size_t i = start; i < m && i - start < (size_t)page_size; i++)
		json_array_append_new(out, json_string(keys[i]));
	free(keys);
	*total = m;
	return out;
}

static int
paging(struct req *q, struct reply *r, long long *page, long long *page_size)
{
	*page = 0;
	*page_size = 500;
	if (req_int(q, r, "page", 0, page) || req_int(q, r, "page_size", 0, page_size))
		return -1;
	/* the real server clamps rather than refuses */
	if (*page < 0)
		*page = 0;
	if (*page_size < 1)
		*page_size = 1;
	if (*page_size > SRV_MAX_PAGE_SIZE)
		*page_size = SRV_MAX_PAGE_SIZE;
	if (*page > 1000000) {
		reply_err(r, 400, 12, "Validation error (page too large)");
		return -1;
	}
	return 0;
}

static void
projects_get_model_metadata_keys(struct req *q, struct reply *r)
{
	const char *project = NULL;
	int subs = 1;
	long long page, page_size;
	if (req_str(q, r, "project", 0, &project) || req_bool(q, r, "include_subprojects", 0, &subs) ||
	    paging(q, r, &page, &page_size))
		return;
	if (project && strlen(project) > MAX_ID_LEN) {
		reply_err(r, 400, 401, "Invalid project id");
		return;
	}
	json_t *models;
	if (project && *project) {
		json_t *ids = json_pack("[s]", project);
		models = project_entities_of(q, r, 1, ids, subs, 1);
		json_decref(ids);
	} else {
		models = project_entities(q->db, 1, q->who->company, 1, subs ? PS_ALL : PS_ROOT, NULL);
		if (!models)
			reply_err(r, 500, 100, "General data error (reading models)");
	}
	if (!models)
		return;
	json_t *set = json_object();
	size_t i;
	json_t *m;
	json_array_foreach(models, i, m) {
		const char *k;
		json_t *v;
		json_t *meta = json_object_get(m, "metadata");
		if (json_is_object(meta))
			json_object_foreach(meta, k, v)
				json_object_set(set, k, json_true());
	}
	json_decref(models);
	size_t total;
	json_t *keys = page_of_keys(set, page, page_size, &total);
	json_decref(set);
	size_t end = (size_t)page * (size_t)page_size + json_array_size(keys);
	reply_data(r, json_pack("{s:I,s:I,s:o}", "total", (json_int_t)total, "remaining",
	                        (json_int_t)(total > end ? total - end : 0), "keys", keys));
}

static void
projects_get_model_metadata_values(struct req *q, struct reply *r)
{
	json_t *projects = json_object_get(q->body, "projects");
	const char *key;
	int subs = 1, allow_public = 1;
	long long page, page_size;
	if (req_str(q, r, "key", 1, &key) || project_ids_check(projects, r, "projects") ||
	    req_bool(q, r, "include_subprojects", 0, &subs) ||
	    req_bool(q, r, "allow_public", 0, &allow_public) || paging(q, r, &page, &page_size))
		return;
	json_t *models = project_entities_of(q, r, 1, projects, subs, allow_public);
	if (!models)
		return;
	json_t *set = json_object();
	size_t i;
	json_t *m;
	json_array_foreach(models, i, m) {
		json_t *v = json_object_get(json_object_get(json_object_get(m, "metadata"), key), "value");
		if (json_is_string(v))
			json_object_set(set, json_string_value(v), json_true());
	}
	json_decref(models);
	size_t total;
	json_t *values = page_of_keys(set, page, page_size, &total);
	json_decref(set);
	reply_data(r, json_pack("{s:I,s:o}", "total", (json_int_t)total, "values", values));
}

const struct endpoint svc_projects_meta_endpoints[] = {
	{"projects.make_public", "2.9", 0, projects_make_public},
	{"projects.make_private", "2.9", 0, projects_make_private},
	{"projects.get_task_parents", "2.12", 0, projects_get_task_parents},
	{"projects.get_user_names", "2.26", 0, projects_get_user_names},
	{"projects.get_model_metadata_keys", "2.17", 0, projects_get_model_metadata_keys},
	{"projects.get_model_metadata_values", "2.17", 0, projects_get_model_metadata_values},
	{0},
};
