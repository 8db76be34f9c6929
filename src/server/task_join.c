/*
 * task_join — get_all_ex's join of referenced documents: when the projection reaches inside a
 * reference field (only_fields "project.name", "user.name", "parent.name", or "project.*"), the
 * task's id string there becomes the referenced document, so that projection then picks the
 * requested fields out of it (getall_project keeps the joined document's id). References the
 * caller may not read, or that are gone, become {id} alone. One lookup per distinct id.
 * execution.queue becomes {id, name, display_name} likewise. Every other reference (company,
 * user, project, parent, execution.queue, models.input/output[].model) becomes {id}, as the real
 * server's get_all_ex answers. Only the page's documents are joined, after filtering
 * (getall_query_join).
 */
#include <string.h>

#include "server/ref_expand.h"
#include "server/svc_tasks.h"
#include "util.h"

/* Does a projection list name path (exactly, as "path.*", or as a prefix "path.x")? */
int
task_projection_names(const json_t *of, const char *path, int prefix_ok)
{
	size_t n = strlen(path), i;
	json_t *e;
	json_array_foreach(of, i, e) {
		const char *s = json_string_value(e);
		if (!s || strncmp(s, path, n) != 0)
			continue;
		if (!s[n] || !strcmp(s + n, ".*") || (prefix_ok && s[n] == '.'))
			return 1;
	}
	return 0;
}

static const char *const g_refs[] = {"project", "user", "parent"};

/* Does the projection name something inside field ("field.x" or "field.*")? */
static int
reaches_inside(const json_t *of, const char *field)
{
	size_t n = strlen(field), i;
	json_t *e;
	json_array_foreach(of, i, e) {
		const char *s = json_string_value(e);
		if (s && !strncmp(s, field, n) && s[n] == '.' && s[n + 1])
			return 1;
	}
	return 0;
}

static json_t *
load_doc(struct req *q, const char *sql, const char *id)
{
	sqlite3_stmt *st = db_stmt(q->db, sql);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
	json_t *doc = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		doc = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	db_stmt_done(st);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

/* The referenced document, as the join shows it (new reference; {id} when not readable). */
static json_t *
ref_doc(struct req *q, const char *field, const char *id)
{
	json_t *doc = NULL;
	if (!strcmp(field, "project")) {
		doc = load_doc(q, "SELECT doc FROM projects WHERE id = ?1 AND (company = ?2 OR "
		                  "company = '')", id);
	} else if (!strcmp(field, "parent")) {
		doc = load_doc(q, "SELECT doc FROM tasks WHERE id = ?1 AND (company = ?2 OR "
		                  "company = '')", id);
		if (doc)
			task_view_apply(doc, q->ver_major, q->ver_minor);
	} else {
		/* users: only what anyone in the company may see of each other */
		sqlite3_stmt *st = db_stmt(q->db, "SELECT name FROM users WHERE id = ?1 AND "
		                                  "company = ?2");
		if (st) {
			sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
				doc = json_pack("{s:s}", "name",
				                (const char *)sqlite3_column_text(st, 0));
			db_stmt_done(st);
		}
	}
	if (!doc)
		doc = json_object();
	json_object_set_new(doc, "id", json_string(id));
	return doc;
}

/* get_all_ex's join of queues: execution.queue becomes {id, name, display_name} when
 * the projection reaches inside it (or takes all of execution). */
static void
tasks_join_queue(struct req *q, json_t *docs)
{
	json_t *of = json_object_get(q->body, "only_fields");
	if (!of)
		of = json_object_get(q->body, "projection");
	if (!json_is_array(of) || !(task_projection_names(of, "execution", 0) ||
	                             task_projection_names(of, "execution.queue", 1)))
		return;
	size_t i;
	json_t *t;
	json_array_foreach(docs, i, t) {
		json_t *exec = json_object_get(t, "execution");
		const char *qid = sget(exec, "queue");
		if (!qid)
			continue;
		char name[256];
		queue_name_of(q->db, qid, name, sizeof(name));
		json_t *qq = json_pack("{s:s,s:s}", "id", qid, "name", name);
		sqlite3_stmt *st = db_stmt(q->db, "SELECT display_name FROM queues WHERE id = ?");
		if (st) {
			sqlite3_bind_text(st, 1, qid, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
				json_object_set_new(qq, "display_name",
				                    json_string((const char *)sqlite3_column_text(st, 0)));
			db_stmt_done(st);
		}
		json_object_set_new(exec, "queue", qq);
	}
}

static void
join_refs(struct req *q, json_t *docs)
{
	json_t *of = json_object_get(q->body, "only_fields");
	if (!of)
		of = json_object_get(q->body, "projection");
	if (!json_is_array(of))
		return;
	for (size_t k = 0; k < ARRAY_LEN(g_refs); k++) {
		const char *field = g_refs[k];
		if (!reaches_inside(of, field))
			continue;
		json_t *seen = json_object();
		size_t i;
		json_t *t;
		json_array_foreach(docs, i, t) {
			const char *id = sget(t, field);
			if (!id || !*id)
				continue;
			json_t *ref = json_object_get(seen, id);
			if (!ref) {
				ref = ref_doc(q, field, id);
				json_object_set_new(seen, id, ref);
			}
			json_object_set_new(t, field, json_deep_copy(ref));
		}
		json_decref(seen);
	}
}

void
tasks_join(void *ctx, json_t *page)
{
	struct req *q = ctx;
	if (!ref_expand_wanted(q))
		return;
	tasks_join_queue(q, page);
	join_refs(q, page);
	/* what was not joined: {id}, as the real answer has every reference field an object */
	ref_expand_ids(page, ref_task_paths);
}
