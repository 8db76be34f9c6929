/*
 * svc_projects_move — where a project sits in the hierarchy: projects.move (under another
 * location, created when missing, or to the root), projects.merge (a project's live tasks, models
 * and subprojects into another, then the project goes), and renaming in place for
 * projects.update. A project's place is its full name ("a/b/c") and its `parent`; every
 * subproject's name follows its top's, in the same transaction.
 */
#include <stdio.h>
#include <string.h>

#include "server/models.h"
#include "server/projects.h"
#include "server/svc_tasks.h"
#include "util.h"

/* The company's project named name: its id into out (33) and 0, or -1. */
static int
id_by_name(struct req *q, const char *name, char out[33])
{
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM projects WHERE company = ? AND name = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int rc = -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	db_stmt_done(st);
	return rc;
}

/* A project of the caller's company (not public: those are read-only): new ref, or NULL with
 * 400/401 in r. */
static json_t *
own_project(struct req *q, struct reply *r, const char *id)
{
	json_t *p = id ? project_load(q->db, id) : NULL;
	const char *c = sget(p, "company");
	if (!p || !c || strcmp(c, q->who->company) != 0) {
		json_decref(p);
		reply_err(r, 400, 401, "Invalid project id: id=%.64s", id ? id : "");
		return NULL;
	}
	return p;
}

static int
is_under(const char *name, const char *top)
{
	size_t n = strlen(top);
	return !strncmp(name, top, n) && name[n] == '/';
}

int
project_rename_tree(struct req *q, struct reply *r, const char *old_name, const char *new_name,
                    const char *parent_id, int *moved)
{
	/* the project and everything below it, by name, before anything changes */
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id, name FROM projects WHERE company = ?1 AND "
	                                  "(name = ?2 OR substr(name, 1, length(?2) + 1) = ?2 || '/')");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return -1;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, old_name, -1, SQLITE_STATIC);
	json_t *ids = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_text(st, 0))
			json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	char now[48];
	db_now_iso(now, sizeof(now));
	size_t i, old_len = strlen(old_name);
	json_t *v;
	int rc = 0;
	json_array_foreach(ids, i, v) {
		json_t *p = project_load(q->db, json_string_value(v));
		const char *name = sget(p, "name");
		if (!name || (strcmp(name, old_name) != 0 && !is_under(name, old_name))) {
			json_decref(p);
			continue;
		}
		int top = !strcmp(name, old_name);
		char *renamed = xasprintf("%s%s", new_name, name + old_len);
		json_object_set_new(p, "name", json_string(renamed)); /* name is gone from here on */
		const char *slash = strrchr(renamed, '/');
		json_object_set_new(p, "basename", json_string(slash ? slash + 1 : renamed));
		if (top) {
			if (parent_id && *parent_id)
				json_object_set_new(p, "parent", json_string(parent_id));
			else
				json_object_del(p, "parent");
		}
		json_object_set_new(p, "last_update", json_string(now));
		free(renamed);
		rc = project_save(q->db, p);
		json_decref(p);
		if (rc != 0)
			break;
	}
	size_t n = json_array_size(ids);
	json_decref(ids);
	if (rc == -2) {
		reply_err(r, 400, 801, "Project with the same name already exists: name=%.256s",
		          new_name);
		return -1;
	}
	if (rc != 0) {
		reply_err(r, 500, 100, "General data error (saving project)");
		return -1;
	}
	if (moved)
		*moved = (int)n;
	return 0;
}

static void
projects_move(struct req *q, struct reply *r)
{
	const char *id, *loc = NULL;
	if (req_str(q, r, "project", 1, &id) || req_str(q, r, "new_location", 0, &loc))
		return;
	while (loc && *loc == '/')
		loc++;
	if (loc && strlen(loc) > 1024) {
		reply_err(r, 400, 407, "Invalid project name (too long): new_location");
		return;
	}
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (busy)");
		return;
	}
	json_t *p = own_project(q, r, id);
	if (!p) {
		db_rollback(q->db);
		return;
	}
	const char *name = sget(p, "name"), *base = sget(p, "basename");
	const char *old_parent = sget(p, "parent");
	if (!base) {
		const char *sl = strrchr(name, '/');
		base = sl ? sl + 1 : name;
	}
	if (loc && *loc && (!strcmp(loc, name) || is_under(loc, name))) {
		db_rollback(q->db);
		reply_err(r, 400, 411, "Project can not be moved under itself in the projects hierarchy: "
		          "project=%s, new_location=%.256s", id, loc);
		json_decref(p);
		return;
	}
	char parent[33] = "";
	if (loc && *loc && id_by_name(q, loc, parent) != 0 &&
	    project_create(q->db, q->who, loc, NULL, parent, r) != 0) {
		db_rollback(q->db);
		json_decref(p);
		return;
	}
	if (!strcmp(parent, old_parent ? old_parent : "")) {
		db_rollback(q->db);
		reply_err(r, 400, 410, "Project has the same source and destination paths: "
		          "location=%.256s", loc ? loc : "");
		json_decref(p);
		return;
	}
	char *new_name = loc && *loc ? xasprintf("%s/%s", loc, base) : xstrdup(base);
	char *old_name = xstrdup(name);
	json_decref(p);
	int moved = 0;
	int rc = project_rename_tree(q, r, old_name, new_name, parent, &moved);
	free(old_name);
	free(new_name);
	if (rc != 0 || db_commit(q->db) != 0) {
		db_rollback(q->db);
		if (!r->code)
			reply_err(r, 500, 100, "General data error (commit)");
		return;
	}
	reply_data(r, json_pack("{s:i}", "moved", moved));
}

/* Point the live (not archived) tasks or models of project src at dst (NULL: the root). */
static int
move_entities(struct req *q, int models, const char *src, const char *dst, int *moved)
{
	sqlite3_stmt *st = db_stmt(q->db, models ? "SELECT id FROM models WHERE company = ? AND "
	                                           "project = ?"
	                                         : "SELECT id FROM tasks WHERE company = ? AND "
	                                           "project = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, src, -1, SQLITE_STATIC);
	json_t *ids = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_text(st, 0))
			json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	size_t i;
	json_t *v;
	int rc = 0;
	json_array_foreach(ids, i, v) {
		json_t *d = models ? model_load(q->db, json_string_value(v))
		                   : task_load(q->db, json_string_value(v));
		if (!d || has_tag(d, "system_tags", "archived")) {
			json_decref(d);
			continue;
		}
		if (dst)
			json_object_set_new(d, "project", json_string(dst));
		else
			json_object_del(d, "project");
		stamp(d, NULL, q->who, 1);
		rc = models ? model_save(q->db, d) : task_save(q->db, d);
		json_decref(d);
		if (rc != 0)
			break;
		(*moved)++;
	}
	json_decref(ids);
	return rc;
}

static void
projects_merge(struct req *q, struct reply *r)
{
	const char *id, *dst_id = NULL;
	if (req_str(q, r, "project", 1, &id) || req_str(q, r, "destination_project", 0, &dst_id))
		return;
	if (dst_id && !*dst_id)
		dst_id = NULL;
	if (dst_id && !strcmp(dst_id, id)) {
		reply_err(r, 400, 410, "Project has the same source and destination paths: source=%.64s",
		          id);
		return;
	}
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (busy)");
		return;
	}
	json_t *src = own_project(q, r, id), *dst = NULL;
	if (src && dst_id)
		dst = own_project(q, r, dst_id);
	if (!src || (dst_id && !dst)) {
		db_rollback(q->db);
		json_decref(src);
		return;
	}
	const char *dst_name = dst ? sget(dst, "name") : NULL;
	if (dst_name && is_under(dst_name, sget(src, "name"))) {
		db_rollback(q->db);
		reply_err(r, 400, 412, "Project can not be merged into its own child: source=%s, "
		          "destination=%s", id, dst_id);
		json_decref(src);
		json_decref(dst);
		return;
	}
	int entities = 0, projects = 0, rc = 0;
	rc = move_entities(q, 0, id, dst_id, &entities);
	if (rc == 0)
		rc = move_entities(q, 1, id, dst_id, &entities);
	/* the direct children, each with its own subtree, under the destination */
	sqlite3_stmt *st = rc == 0 ? db_stmt(q->db, "SELECT name FROM projects WHERE company = ? "
	                                             "AND json_extract(doc, '$.parent') = ?") : NULL;
	json_t *children = json_array();
	if (st) {
		sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			if (sqlite3_column_text(st, 0))
				json_array_append_new(children,
				                      json_string((const char *)sqlite3_column_text(st, 0)));
		db_stmt_done(st);
	} else if (rc == 0) {
		rc = -1;
	}
	if (rc != 0)
		reply_err(r, 500, 100, "General data error (moving contents)");
	size_t i;
	json_t *v;
	json_array_foreach(children, i, v) {
		if (rc != 0)
			break;
		const char *cn = json_string_value(v);
		const char *sl = strrchr(cn, '/');
		char *new_name = dst_name ? xasprintf("%s/%s", dst_name, sl ? sl + 1 : cn)
		                          : xstrdup(sl ? sl + 1 : cn);
		rc = project_rename_tree(q, r, cn, new_name, dst_id, NULL);
		free(new_name);
		projects++;
	}
	json_decref(children);
	json_decref(src);
	json_decref(dst);
	if (rc == 0) {
		st = db_stmt(q->db, "DELETE FROM projects WHERE id = ?");
		rc = -1;
		if (st) {
			sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
			db_stmt_done(st);
		}
		if (rc != 0)
			reply_err(r, 500, 100, "General data error (removing the merged project)");
	}
	if (rc != 0 || db_commit(q->db) != 0) {
		db_rollback(q->db);
		if (!r->code)
			reply_err(r, 500, 100, "General data error (commit)");
		return;
	}
	reply_data(r, json_pack("{s:i,s:i}", "moved_entities", entities, "moved_projects",
	                        projects));
}

const struct endpoint svc_projects_move_endpoints[] = {
	{"projects.move", "2.13", 0, projects_move},
	{"projects.merge", "2.13", 0, projects_merge},
	{0},
};
