/*
 * svc_move — tasks.move and models.move: put a batch of the company's tasks or models under a
 * project given by id, or by name (created, with its missing parents, when there is none), or at
 * the root (project: null). All or nothing, in one transaction; the reply names the project.
 */
#include <string.h>

#include "server/models.h"
#include "server/projects.h"
#include "server/svc_tasks.h"
#include "util.h"

#define MOVE_MAX_IDS 1000

struct entity_io {
	const char *what;                                /* "task" / "model" */
	json_t *(*load)(sqlite3 *db, const char *id);
	int (*save)(sqlite3 *db, const json_t *doc);
};

static int
save_task(sqlite3 *db, const json_t *doc)
{
	return task_save(db, doc);
}

static const struct entity_io task_io = {"task", task_load, save_task};
static const struct entity_io model_io = {"model", model_load, model_save};

/* The id of the company's project called name, creating it when missing: 0, or -1 with r. */
static int
project_find_or_create(struct req *q, struct reply *r, const char *name, char out[33])
{
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM projects WHERE company = ? AND name = ?");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return -1;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0);
	if (found)
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
	db_stmt_done(st);
	if (found)
		return 0;
	return project_create(q->db, q->who, name, NULL, out, r) == 0 ? 0 : -1;
}

static void
move(struct req *q, struct reply *r, const struct entity_io *io)
{
	json_t *ids = json_object_get(q->body, "ids");
	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > MOVE_MAX_IDS) {
		reply_err(r, 400, 12, "Validation error (ids must be a list of 1 to %d ids): field=ids",
		          MOVE_MAX_IDS);
		return;
	}
	const char *project = NULL, *name = NULL;
	if (req_str(q, r, "project", 0, &project) || req_str(q, r, "project_name", 0, &name))
		return;
	if (!json_object_get(q->body, "project") && !(name && *name)) {
		reply_err(r, 400, 11, "Missing required fields (project or project_name is required)");
		return;
	}
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (busy)");
		return;
	}
	char pid[33] = "";
	if (name && *name) {
		if (project_find_or_create(q, r, name, pid) != 0) {
			db_rollback(q->db);
			return;
		}
	} else if (project && *project) {
		if (strlen(project) >= sizeof(pid) || !project_visible(q->db, q->who, project)) {
			db_rollback(q->db);
			reply_err(r, 400, 401, "Invalid project id: id=%.64s", project);
			return;
		}
		snprintf(pid, sizeof(pid), "%s", project);
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		json_t *doc = json_is_string(v) ? io->load(q->db, json_string_value(v)) : NULL;
		const char *c = json_string_value(json_object_get(doc, "company"));
		if (!doc || !c || strcmp(c, q->who->company) != 0) {
			json_decref(doc);
			db_rollback(q->db);
			reply_err(r, 400, io == &task_io ? 101 : 201, "Invalid %s id: id=%.64s", io->what,
			          json_is_string(v) ? json_string_value(v) : "");
			return;
		}
		if (*pid)
			json_object_set_new(doc, "project", json_string(pid));
		else
			json_object_del(doc, "project");
		stamp(doc, NULL, q->who, 1);
		int rc = io->save(q->db, doc);
		json_decref(doc);
		if (rc != 0) {
			db_rollback(q->db);
			reply_err(r, 500, 100, "General data error (saving the %s)", io->what);
			return;
		}
	}
	if (db_commit(q->db) != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (commit)");
		return;
	}
	reply_data(r, json_pack("{s:o}", "project_id", *pid ? json_string(pid) : json_null()));
}

static void
tasks_move(struct req *q, struct reply *r)
{
	move(q, r, &task_io);
}

static void
models_move(struct req *q, struct reply *r)
{
	move(q, r, &model_io);
}

const struct endpoint svc_move_endpoints[] = {
	{"tasks.move", "2.12", 0, tasks_move},
	{"models.move", "2.12", 0, models_move},
	{0},
};
