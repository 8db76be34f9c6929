/*
 * svc_projects — the minimum set of projects.*: create (parents of "a/b/c" created on the way,
 * names unique per company), get_by_id, get_all (the get_all language), update, and
 * get_all_ex as an alias the UI and some SDK paths call. Projects are JSON documents with
 * indexed company/name columns. delete lives in svc_projects_delete.c, the queries over what a
 * project holds in svc_projects_meta.c and svc_projects_tags.c.
 */
#include <string.h>

#include "server/getall.h"
#include "server/models.h"
#include "server/projects.h"
#include "server/server.h"
#include "server/tasks.h"
#include "util.h"

static const char *const project_pattern[] = {"name", "basename", "description", NULL};
static const char *const project_list[] = {"tags", "system_tags", "id", "parent", "user", NULL};
static const char *const project_dt[] = {"last_update", "created", NULL};
static const char *const project_text[] = {"name", "description", "id", NULL};

static const struct getall_spec project_spec = {
	.pattern_fields = project_pattern,
	.list_fields = project_list,
	.datetime_fields = project_dt,
	.text_fields = project_text,
	.hidden_tag = 1,
	.hidden_system_tag = "hidden",
};

json_t *
project_load(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT doc FROM projects WHERE id = ?");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	json_t *doc = NULL;
	if (sqlite3_step(st) == SQLITE_ROW)
		doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	db_stmt_done(st);
	return doc;
}

int
project_visible(sqlite3 *db, const struct identity *who, const char *id)
{
	json_t *p = project_load(db, id);
	const char *c = json_string_value(json_object_get(p, "company"));
	int ok = c && (!*c || !strcmp(c, who->company));
	json_decref(p);
	return ok;
}

int
project_save(sqlite3 *db, const json_t *p)
{
	char *text = json_dumps(p, JSON_COMPACT);
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO projects(id, company, name, created, last_update, doc) "
	                               "VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(id) DO UPDATE SET "
	                               "company=?2, name=?3, created=?4, last_update=?5, doc=?6");
	int rc = -1;
	if (st && text) {
		static const char *const cols[] = {"id", "company", "name", "created", "last_update"};
		for (int i = 0; i < 5; i++) {
			const char *v = json_string_value(json_object_get(p, cols[i]));
			if (v)
				sqlite3_bind_text(st, i + 1, v, -1, SQLITE_STATIC);
		}
		sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
		int s = sqlite3_step(st);
		rc = s == SQLITE_DONE ? 0 : ((s & 0xff) == SQLITE_CONSTRAINT ? -2 : -1);
	}
	db_stmt_done(st);
	free(text);
	return rc;
}

/* id of the project named name in who's company into out (33), 0; or -1 when none. */
static int
project_by_name(sqlite3 *db, const struct identity *who, const char *name, char out[33])
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id FROM projects WHERE company = ? AND name = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int rc = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	db_stmt_done(st);
	return rc;
}

static int
name_ok(const char *name)
{
	size_t n = strlen(name);
	while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	while (n && (*name == ' ' || *name == '\t')) {
		name++;
		n--;
	}
	return n >= 3;
}

static int
str_list(const json_t *v)
{
	if (!json_is_array(v))
		return 0;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return 0;
	return 1;
}

/* Create the project (and missing parents). 0 and id; -2 duplicate; -1 error (r filled). */
int
project_create(sqlite3 *db, const struct identity *who, const char *name, const json_t *extra,
               char out_id[33], struct reply *r)
{
	char parent[33] = "";
	const char *slash = strrchr(name, '/');
	if (slash && slash != name) {
		char *pname = xstrndup(name, (size_t)(slash - name));
		if (project_by_name(db, who, pname, parent) != 0 &&
		    project_create(db, who, pname, NULL, parent, r) != 0) {
			free(pname);
			return -1;
		}
		free(pname);
	}
	char now[48];
	db_now_iso(now, sizeof(now));
	gen_hex_id(out_id);
	json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[],s:[]}", "id", out_id, "name", name,
	                      "basename", slash ? slash + 1 : name, "user", who->user, "company",
	                      who->company, "created", now, "last_update", now, "tags",
	                      "system_tags");
	if (parent[0])
		json_object_set_new(p, "parent", json_string(parent));
	static const char *const keep[] = {"description", "tags", "system_tags",
	                                   "default_output_destination", NULL};
	for (const char *const *k = keep; *k; k++) {
		json_t *v = json_object_get(extra, *k);
		if (v && !json_is_null(v))
			json_object_set(p, *k, v);
	}
	int rc = project_save(db, p);
	json_decref(p);
	if (rc == -2) {
		reply_err(r, 400, 801, "Project with the same name already exists: name=%s", name);
		return -2;
	}
	if (rc != 0) {
		reply_err(r, 500, 100, "General data error (saving project)");
		return -1;
	}
	return 0;
}

/* "a//b /c/" → "a/b/c": empty parts dropped, each part trimmed, as the real server cleans a
 * project name up; NULL when nothing is left. Caller frees. */
static char *
project_name_normalize(const char *in)
{
	struct buf b;
	buf_init(&b, strlen(in) + 1);
	const char *p = in;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *s = p;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n) {
			if (b.len)
				buf_puts(&b, "/");
			buf_append(&b, s, n);
		}
		p = e ? e + 1 : p + strlen(p);
	}
	if (!b.len) {
		buf_free(&b);
		return NULL;
	}
	char *out = buf_steal(&b);
	buf_free(&b);
	return out;
}

static void projects_create_named(struct req *q, struct reply *r, const char *name);

static void
projects_create(struct req *q, struct reply *r)
{
	json_t *nv = json_object_get(q->body, "name");
	if (!nv || json_is_null(nv)) {
		reply_err(r, 400, 11, "Missing required fields: name");
		return;
	}
	if (!json_is_string(nv)) {
		reply_err(r, 400, 12, "Validation error (expected a string): field=name");
		return;
	}
	char *name = project_name_normalize(json_string_value(nv));
	if (!name) {
		reply_err(r, 400, 407, "Invalid project name: name=%.256s", json_string_value(nv));
		return;
	}
	const char *base = strrchr(name, '/');
	if (!name_ok(base ? base + 1 : name)) {
		reply_err(r, 400, 800, "Data validation error (name must be at least 3 characters): name=%s",
		          name);
		free(name);
		return;
	}
	projects_create_named(q, r, name);
	free(name);
}

static void
projects_create_named(struct req *q, struct reply *r, const char *name)
{
	static const char *const lists[] = {"tags", "system_tags", NULL};
	for (const char *const *k = lists; *k; k++) {
		json_t *v = json_object_get(q->body, *k);
		if (v && !json_is_null(v) && !str_list(v)) {
			reply_err(r, 400, 12, "Validation error (expected a list of strings): field=%s", *k);
			return;
		}
	}
	const char *s;
	if (req_str(q, r, "description", 0, &s) || req_str(q, r, "default_output_destination", 0, &s))
		return;
	char id[33], existing[33];
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (database busy)");
		return;
	}
	if (project_by_name(q->db, q->who, name, existing) == 0) {
		db_rollback(q->db);
		reply_err(r, 400, 801, "Project with the same name already exists: name=%s", name);
		return;
	}
	if (project_create(q->db, q->who, name, q->body, id, r) != 0) {
		db_rollback(q->db);
		return;
	}
	if (db_commit(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (commit)");
		return;
	}
	reply_data(r, json_pack("{s:s}", "id", id));
}

static void
projects_get_by_id(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "project", 1, &id) != 0)
		return;
	json_t *p = project_load(q->db, id);
	const char *c = json_string_value(json_object_get(p, "company"));
	if (!p || !c || (*c && strcmp(c, q->who->company) != 0)) {
		json_decref(p);
		reply_err(r, 400, 401, "Invalid project id: id=%s", id);
		return;
	}
	reply_data(r, json_pack("{s:o}", "project", p));
}

static void
projects_get_all(struct req *q, struct reply *r)
{
	if (getall_check(q->body, r) != 0)
		return;
	sqlite3_stmt *st = db_stmt(q->db, "SELECT doc FROM projects WHERE company = ? OR company = '' "
	                                  "ORDER BY created");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	json_t *docs = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *d = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
		if (json_is_object(d))
			json_array_append_new(docs, d);
		else
			json_decref(d);
	}
	db_stmt_done(st);
	getall_reply(q, r, docs, &project_spec, "projects");
	json_decref(docs);
}

static void
projects_update(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "project", 1, &id) != 0)
		return;
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (database busy)");
		return;
	}
	json_t *p = project_load(q->db, id);
	const char *c = json_string_value(json_object_get(p, "company"));
	if (!p || !c || (*c && strcmp(c, q->who->company) != 0)) {
		db_rollback(q->db);
		json_decref(p);
		reply_err(r, 400, 401, "Invalid project id: id=%s", id);
		return;
	}
	if (!*c) {
		/* public projects are read-only until made private again */
		db_rollback(q->db);
		json_decref(p);
		reply_err(r, 403, 21, "Forbidden (modification not allowed): id=%s", id);
		return;
	}
	json_t *fields = json_object();
	static const char *const keys[] = {"name", "description", "tags", "system_tags",
	                                   "default_output_destination", NULL};
	for (const char *const *k = keys; *k; k++) {
		json_t *v = json_object_get(q->body, *k);
		if (!v)
			continue;
		if (!strcmp(*k, "name") && (!json_is_string(v) || !name_ok(json_string_value(v)))) {
			db_rollback(q->db);
			json_decref(p);
			json_decref(fields);
			reply_err(r, 400, 800, "Data validation error (name must be at least 3 characters)");
			return;
		}
		const char *cur = json_string_value(json_object_get(p, "name"));
		if (!strcmp(*k, "name") && cur && strcmp(json_string_value(v), cur) != 0) {
			/* a rename in place: the location (the part before the last '/') stays, and every
			 * subproject's name follows */
			const char *n = json_string_value(v), *old = cur;
			const char *sl = strrchr(n, '/'), *osl = strrchr(old, '/');
			size_t loc = sl ? (size_t)(sl - n) : 0, oloc = osl ? (size_t)(osl - old) : 0;
			if (loc != oloc || strncmp(n, old, loc) != 0) {
				db_rollback(q->db);
				json_decref(p);
				json_decref(fields);
				reply_err(r, 400, 408, "Cannot update project location. Use projects.move "
				          "instead: name=%.256s", n);
				return;
			}
			char *old_name = xstrdup(old);
			int rrc = project_rename_tree(q, r, old_name, n,
			                              json_string_value(json_object_get(p, "parent")), NULL);
			free(old_name);
			if (rrc != 0) {
				db_rollback(q->db);
				json_decref(p);
				json_decref(fields);
				return;
			}
			json_object_set_new(p, "basename", json_string(sl ? sl + 1 : n));
		}
		json_object_set(p, *k, v);
		json_object_set(fields, *k, v);
	}
	char now[48];
	db_now_iso(now, sizeof(now));
	json_object_set_new(p, "last_update", json_string(now));
	json_object_set_new(fields, "last_update", json_string(now));
	int rc = project_save(q->db, p);
	json_decref(p);
	if (rc != 0) {
		db_rollback(q->db);
		json_decref(fields);
		if (rc == -2)
			reply_err(r, 400, 801, "Project with the same name already exists");
		else
			reply_err(r, 500, 100, "General data error (saving project)");
		return;
	}
	db_commit(q->db);
	reply_data(r, json_pack("{s:i,s:o}", "updated", 1, "fields", fields));
}

/* ---------------------------------------------------------------- aggregated queries */

/* The task documents a project query covers: ids (visible ones), else the project and (unless
 * include_subprojects is false) its subprojects, else every task of the company. New array. */
static json_t *
query_tasks(struct req *q)
{
	json_t *ids = json_object_get(q->body, "ids");
	const char *project = json_string_value(json_object_get(q->body, "project"));
	int subs = !json_is_false(json_object_get(q->body, "include_subprojects"));
	json_t *out = json_array();
	sqlite3_stmt *st;
	char *list = NULL;
	if (json_is_array(ids) && json_array_size(ids)) {
		list = json_dumps(ids, JSON_COMPACT);
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE id IN (SELECT value FROM json_each(?1)) "
		                    "AND (company = ?2 OR company = '') ORDER BY created");
	} else if (project && *project) {
		list = xstrdup(project);
		st = db_stmt(q->db, "SELECT t.doc FROM tasks t WHERE (t.company = ?2 OR t.company = '') "
		                    "AND (t.project = ?1 OR (?3 AND t.project IN (SELECT c.id FROM "
		                    "projects p JOIN projects c ON c.company = p.company AND "
		                    "substr(c.name, 1, length(p.name) + 1) = p.name || '/' WHERE p.id = ?1)))"
		                    " ORDER BY t.created");
	} else {
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE (company = ?2 OR company = '') "
		                    "ORDER BY created");
	}
	if (!st) {
		free(list);
		return out;
	}
	if (list)
		sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, subs);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(d))
			json_array_append_new(out, d);
		else
			json_decref(d);
	}
	db_stmt_done(st);
	free(list);
	return out;
}

static int
cmp_pair(const void *a, const void *b, const char *k1, const char *k2)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *x1 = json_string_value(json_object_get(x, k1)), *y1 = json_string_value(json_object_get(y, k1));
	int c = strcmp(x1 ? x1 : "", y1 ? y1 : "");
	if (c)
		return c;
	const char *x2 = json_string_value(json_object_get(x, k2)), *y2 = json_string_value(json_object_get(y, k2));
	return strcmp(x2 ? x2 : "", y2 ? y2 : "");
}

static int cmp_section_name(const void *a, const void *b) { return cmp_pair(a, b, "section", "name"); }
static int cmp_metric_variant(const void *a, const void *b) { return cmp_pair(a, b, "metric", "variant"); }

/* {k1: a, k2: b} items of `set` (an object keyed "a\x1fb"), sorted, as a new array. */
static json_t *
sorted_items(json_t *set, int (*cmp)(const void *, const void *))
{
	size_t n = json_object_size(set), m = 0;
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));
	const char *k;
	json_t *e;
	json_object_foreach(set, k, e)
		v[m++] = e;
	qsort(v, m, sizeof(*v), cmp);
	json_t *out = json_array();
	for (size_t i = 0; i < m; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

static void
projects_get_hyper_parameters(struct req *q, struct reply *r)
{
	long long page = 0, page_size = 500;
	if (req_int(q, r, "page", 0, &page) || req_int(q, r, "page_size", 0, &page_size))
		return;
	if (page < 0 || page_size < 1) {
		reply_err(r, 400, 12, "Validation error (page >= 0, page_size >= 1)");
		return;
	}
	json_t *tasks = query_tasks(q), *set = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		const char *sec, *name;
		json_t *sv, *pv;
		json_object_foreach(json_object_get(t, "hyperparams"), sec, sv) {
			json_object_foreach(sv, name, pv) {
				char *key = xasprintf("%s\x1f%s", sec, name);
				if (!json_object_get(set, key))
					json_object_set_new(set, key, json_pack("{s:s,s:s}", "section", sec,
					                                         "name", name));
				free(key);
			}
		}
	}
	json_decref(tasks);
	json_t *all = sorted_items(set, cmp_section_name);
	json_decref(set);
	size_t total = json_array_size(all), start = (size_t)(page * page_size);
	json_t *out = json_array();
	for (size_t k = start; k < total && k < start + (size_t)page_size; k++)
		json_array_append(out, json_array_get(all, k));
	size_t end = start + json_array_size(out);
	json_decref(all);
	reply_data(r, json_pack("{s:I,s:I,s:o}", "total", (json_int_t)total, "remaining",
	                        (json_int_t)(total > end ? total - end : 0), "parameters", out));
}

static void
projects_get_unique_metric_variants(struct req *q, struct reply *r)
{
	json_t *tasks = query_tasks(q), *set = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		const char *mh, *vh;
		json_t *mv, *vv;
		json_object_foreach(json_object_get(t, "last_metrics"), mh, mv) {
			json_object_foreach(mv, vh, vv) {
				const char *metric = json_string_value(json_object_get(vv, "metric"));
				const char *variant = json_string_value(json_object_get(vv, "variant"));
				if (!metric || !variant)
					continue;
				char *key = xasprintf("%s\x1f%s", metric, variant);
				if (!json_object_get(set, key))
					json_object_set_new(set, key, json_pack("{s:s,s:s,s:s,s:s}", "metric", metric,
					                                         "variant", variant, "metric_hash", mh,
					                                         "variant_hash", vh));
				free(key);
			}
		}
	}
	json_decref(tasks);
	json_t *out = sorted_items(set, cmp_metric_variant);
	json_decref(set);
	reply_data(r, json_pack("{s:o}", "metrics", out));
}

const struct endpoint svc_projects_endpoints[] = {
	{"projects.get_hyper_parameters", "2.9", 0, projects_get_hyper_parameters},
	{"projects.get_unique_metric_variants", "2.13", 0, projects_get_unique_metric_variants},
	{"projects.create", "1.0", 0, projects_create},
	{"projects.get_by_id", "1.0", 0, projects_get_by_id},
	{"projects.get_all", "1.0", 0, projects_get_all},
	{"projects.get_all_ex", "1.0", 0, projects_get_all},
	{"projects.update", "1.0", 0, projects_update},
	{0},
};
