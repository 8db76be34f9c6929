/*
 * svc_projects_delete — projects.validate_delete and projects.delete over a project and every
 * project below it.
 *
 * What blocks a delete without force, as the real server decides: a pipeline project (system tag
 * "pipeline", not the ".pipelines" folder itself) with a controller task that is not archived
 * (400/413); a dataset project ("dataset", not ".datasets") with any task that is not archived
 * (400/406); in the other projects any task (400/402) or model (400/405) that is not archived.
 * Archived contents never block. validate_delete reports the same counts without deleting.
 *
 * delete then either deletes the tasks and models (delete_contents: their events too, and their
 * files' urls in the reply for the caller to remove) or leaves them without a project.
 */
#include <string.h>

#include "server/models.h"
#include "server/projects.h"
#include "server/server.h"
#include "server/svc_tasks.h"
#include "server/tasks.h"
#include "util.h"

/* The project, the projects below it, and what they hold. */
struct del_scope {
	char *list;              /* JSON array text of the project ids */
	json_t *kind;            /* id -> "pipeline" / "dataset" for the special projects */
	json_t *tasks, *models;  /* the documents in those projects */
};

struct del_counts {
	int tasks, non_archived_tasks, models, non_archived_models, reports, non_archived_reports;
	int pipelines, datasets;
};

static void
scope_free(struct del_scope *s)
{
	free(s->list);
	json_decref(s->kind);
	json_decref(s->tasks);
	json_decref(s->models);
	memset(s, 0, sizeof(*s));
}

/* The kind of a project for the delete rules: "pipeline", "dataset" or NULL (a regular one). */
static const char *
special_kind(const json_t *p)
{
	const char *base = sget(p, "basename");
	if (has_tag(p, "system_tags", "pipeline") && !(base && !strcmp(base, ".pipelines")))
		return "pipeline";
	if (has_tag(p, "system_tags", "dataset") && !(base && !strcmp(base, ".datasets")))
		return "dataset";
	return NULL;
}

/* Load the scope of the caller's project id. 0, or -1 with r filled. */
static int
scope_load(struct req *q, struct reply *r, const char *id, struct del_scope *s)
{
	memset(s, 0, sizeof(*s));
	json_t *p = project_load(q->db, id);
	const char *c = sget(p, "company");
	if (!p || !c || strcmp(c, q->who->company) != 0) {
		json_decref(p);
		reply_err(r, 400, 401, "Invalid project id: id=%s", id);
		return -1;
	}
	json_decref(p);
	json_t *one = json_pack("[s]", id);
	s->list = project_ids_expand(q->db, one, 1);
	json_decref(one);
	json_t *ids = s->list ? json_loads(s->list, 0, NULL) : NULL;
	if (!json_is_array(ids)) {
		json_decref(ids);
		scope_free(s);
		reply_err(r, 500, 100, "General data error (project scope)");
		return -1;
	}
	s->kind = json_object();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		json_t *d = project_load(q->db, json_string_value(v));
		const char *k = special_kind(d);
		if (k)
			json_object_set_new(s->kind, json_string_value(v), json_string(k));
		json_decref(d);
	}
	json_decref(ids);
	/* whatever sits in these projects counts, public entities included */
	s->tasks = project_entities(q->db, 0, q->who->company, 1, PS_LIST, s->list);
	s->models = project_entities(q->db, 1, q->who->company, 1, PS_LIST, s->list);
	if (!s->tasks || !s->models) {
		scope_free(s);
		reply_err(r, 500, 100, "General data error (reading project contents)");
		return -1;
	}
	return 0;
}

static void
scope_count(const struct del_scope *s, struct del_counts *n)
{
	memset(n, 0, sizeof(*n));
	json_t *pipelines = json_object(), *datasets = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(s->tasks, i, t) {
		const char *proj = sget(t, "project");
		const char *kind = proj ? json_string_value(json_object_get(s->kind, proj)) : NULL;
		int archived = has_tag(t, "system_tags", "archived");
		if (kind && !strcmp(kind, "pipeline")) {
			const char *type = sget(t, "type");
			if (!archived && type && !strcmp(type, "controller"))
				json_object_set_new(pipelines, proj, json_true());
		} else if (kind) {
			if (!archived)
				json_object_set_new(datasets, proj, json_true());
		} else if (has_tag(t, "system_tags", "reports")) {
			n->reports++;
			n->non_archived_reports += !archived;
		} else {
			n->tasks++;
			n->non_archived_tasks += !archived;
		}
	}
	json_array_foreach(s->models, i, t) {
		const char *proj = sget(t, "project");
		if (proj && json_object_get(s->kind, proj))
			continue;
		n->models++;
		n->non_archived_models += !has_tag(t, "system_tags", "archived");
	}
	n->pipelines = (int)json_object_size(pipelines);
	n->datasets = (int)json_object_size(datasets);
	json_decref(pipelines);
	json_decref(datasets);
}

static void
projects_validate_delete(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "project", 1, &id) != 0)
		return;
	struct del_scope s;
	if (scope_load(q, r, id, &s) != 0)
		return;
	struct del_counts n;
	scope_count(&s, &n);
	scope_free(&s);
	reply_data(r, json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "tasks", n.tasks,
	                        "non_archived_tasks", n.non_archived_tasks, "models", n.models,
	                        "non_archived_models", n.non_archived_models, "reports", n.reports,
	                        "non_archived_reports", n.non_archived_reports, "pipelines",
	                        n.pipelines, "datasets", n.datasets));
}

/* Delete (contents) or detach the models in scope; their uris into urls. 0 or -1. */
static int
delete_models(struct req *q, const struct del_scope *s, int contents, json_t *urls)
{
	int rc = 0;
	size_t i;
	json_t *m;
	json_array_foreach(s->models, i, m) {
		const char *id = sget(m, "id");
		if (!id)
			continue;
		if (contents) {
			const char *uri = sget(m, "uri");
			if (uri && *uri)
				json_array_append_new(urls, json_string(uri));
			rc |= model_delete_row(q->db, id);
			rc |= events_delete_for_task(q->db, id) < 0;
		} else {
			json_t *d = json_deep_copy(m);
			json_object_del(d, "project");
			rc |= model_save(q->db, d);
			json_decref(d);
		}
	}
	return rc ? -1 : 0;
}

/* Delete (contents) or detach the tasks in scope; their output artifacts' uris into urls. */
static int
delete_tasks(struct req *q, const struct del_scope *s, int contents, json_t *urls)
{
	int rc = 0;
	size_t i;
	json_t *t;
	json_array_foreach(s->tasks, i, t) {
		const char *id = sget(t, "id");
		if (!id)
			continue;
		if (contents) {
			size_t k;
			json_t *a;
			json_array_foreach(json_object_get(json_object_get(t, "execution"), "artifacts"), k, a) {
				const char *mode = sget(a, "mode"), *uri = sget(a, "uri");
				if ((!mode || !strcmp(mode, "output")) && uri && *uri)
					json_array_append_new(urls, json_string(uri));
			}
			queue_remove_task(q->db, NULL, id);
			rc |= events_delete_for_task(q->db, id) < 0;
			rc |= task_delete_row(q->db, id);
		} else {
			json_t *d = json_deep_copy(t);
			json_object_del(d, "project");
			rc |= task_save(q->db, d);
			json_decref(d);
		}
	}
	return rc ? -1 : 0;
}

/* Without force: 0 when nothing blocks the delete, else -1 with the 400 in r. */
static int
check_blockers(const struct del_counts *n, struct reply *r, const char *id)
{
	if (n->pipelines)
		reply_err(r, 400, 413, "Project has associated pipelines with active controllers (please "
		                       "archive all the controllers or use force=true): id=%s", id);
	else if (n->datasets)
		reply_err(r, 400, 406, "Project has associated non-empty datasets (please delete all the "
		                       "dataset versions or use force=true): id=%s", id);
	else if (n->non_archived_tasks)
		reply_err(r, 400, 402, "Project has associated tasks (use force=true): id=%s, tasks=%d", id,
		          n->non_archived_tasks);
	else if (n->non_archived_models)
		reply_err(r, 400, 405, "Project has associated models (use force=true): id=%s, models=%d",
		          id, n->non_archived_models);
	else
		return 0;
	return -1;
}

static void
projects_delete(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0, contents = 0, external = 1;
	if (req_str(q, r, "project", 1, &id) || req_bool(q, r, "force", 0, &force) ||
	    req_bool(q, r, "delete_contents", 0, &contents) ||
	    req_bool(q, r, "delete_external_artifacts", 0, &external))
		return;
	(void)external; /* server-lite never deletes files itself: the urls go back to the caller */
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (database busy)");
		return;
	}
	struct del_scope s;
	if (scope_load(q, r, id, &s) != 0) {
		db_rollback(q->db);
		return;
	}
	struct del_counts n;
	scope_count(&s, &n);
	if (!force && check_blockers(&n, r, id) != 0) {
		db_rollback(q->db);
		scope_free(&s);
		return;
	}
	int ntasks = (int)json_array_size(s.tasks), nmodels = (int)json_array_size(s.models);
	json_t *model_urls = json_array(), *artifact_urls = json_array();
	int ok = delete_models(q, &s, contents, model_urls) == 0 &&
	         delete_tasks(q, &s, contents, artifact_urls) == 0;
	sqlite3_stmt *st = db_stmt(q->db, "DELETE FROM projects WHERE id IN "
	                                  "(SELECT value FROM json_each(?))");
	int nprojects = 0;
	if (st) {
		sqlite3_bind_text(st, 1, s.list, -1, SQLITE_STATIC);
		ok = ok && sqlite3_step(st) == SQLITE_DONE;
		nprojects = sqlite3_changes(q->db);
		db_stmt_done(st);
	} else {
		ok = 0;
	}
	scope_free(&s);
	if (!ok || db_commit(q->db) != 0) {
		db_rollback(q->db);
		json_decref(model_urls);
		json_decref(artifact_urls);
		reply_err(r, 500, 100, "General data error (deleting project)");
		return;
	}
	json_t *urls = json_null();
	if (contents)
		urls = json_pack("{s:o,s:[],s:o}", "model_urls", model_urls, "event_urls",
		                 "artifact_urls", artifact_urls);
	else {
		json_decref(model_urls);
		json_decref(artifact_urls);
	}
	/* the projects removed, subprojects included, as the real server counts them (its schema
	 * text says 0 or 1) */
	reply_data(r, json_pack("{s:i,s:i,s:i,s:i,s:o}", "deleted", nprojects, "disassociated_tasks",
	                        contents ? 0 : ntasks, "deleted_tasks", contents ? ntasks : 0,
	                        "deleted_models", contents ? nmodels : 0, "urls", urls));
}

const struct endpoint svc_projects_delete_endpoints[] = {
	{"projects.validate_delete", "2.14", 0, projects_validate_delete},
	{"projects.delete", "1.0", 0, projects_delete},
	{0},
};
