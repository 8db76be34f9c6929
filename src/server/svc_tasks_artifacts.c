/*
 * svc_tasks_artifacts — tasks.* artifacts and model links: add_or_update_artifacts,
 * delete_artifacts (execution.artifacts, keyed by key + mode, kept sorted), add_or_update_model,
 * delete_models (models.input / models.output, keyed by name).
 */
#include <string.h>

#include "server/svc_tasks.h"
#include "util.h"

struct item_list {
	json_t *items;
	const char *name, *model, *type;
	long long iteration;
};

static int
add_or_update_artifacts(struct task_write *w)
{
	struct item_list *a = w->arg;
	if (strcmp(w->status, "created") != 0 && strcmp(w->status, "in_progress") != 0) {
		reply_err(w->r, 400, 110, "Invalid task status (artifacts can change only in created or "
		          "in_progress status): status=%s", w->status);
		return TW_FAIL;
	}
	json_t *exec = json_object_get(w->task, "execution");
	if (!json_is_object(exec)) {
		exec = json_object();
		json_object_set_new(w->task, "execution", exec);
	}
	json_t *arts = json_object_get(exec, "artifacts");
	if (!json_is_array(arts)) {
		arts = json_array();
		json_object_set_new(exec, "artifacts", arts);
	}
	size_t i;
	json_t *e;
	json_array_foreach(a->items, i, e) {
		json_t *art = json_deep_copy(e);
		if (!sget(art, "mode"))
			json_object_set_new(art, "mode", json_string("output"));
		size_t k;
		json_t *x;
		int replaced = 0;
		json_array_foreach(arts, k, x) {
			if (!strcmp(sget(x, "key") ? sget(x, "key") : "", sget(art, "key")) &&
			    !strcmp(sget(x, "mode") ? sget(x, "mode") : "output", sget(art, "mode"))) {
				json_array_set(arts, k, art);
				replaced = 1;
				break;
			}
		}
		if (!replaced)
			json_array_append(arts, art);
		json_decref(art);
	}
	task_sort_artifacts(exec);
	stamp(w->task, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "updated", 1);
	return TW_SAVE;
}

void
tasks_add_or_update_artifacts(struct req *q, struct reply *r)
{
	struct item_list a = {0};
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	a.items = json_object_get(q->body, "artifacts");
	if (!json_is_array(a.items) || json_array_size(a.items) == 0) {
		reply_err(r, 400, 12, "Validation error (artifacts: at least one item is required)");
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(a.items, i, e) {
		const char *mode = sget(e, "mode");
		if (!sget(e, "key") || !sget(e, "type") ||
		    (mode && strcmp(mode, "input") != 0 && strcmp(mode, "output") != 0)) {
			reply_err(r, 400, 12, "Validation error (artifacts need key, type and mode "
			          "input|output): item=%zu", i);
			return;
		}
	}
	task_write(q, r, id, "artifacts", add_or_update_artifacts, &a);
}

static int
delete_artifacts(struct task_write *w)
{
	struct item_list *a = w->arg;
	json_t *arts = json_object_get(json_object_get(w->task, "execution"), "artifacts");
	int deleted = 0;
	size_t i;
	json_t *e;
	json_array_foreach(a->items, i, e) {
		const char *key = sget(e, "key"), *mode = sget(e, "mode") ? sget(e, "mode") : "output";
		for (size_t k = json_array_size(arts); key && k > 0; k--) {
			json_t *x = json_array_get(arts, k - 1);
			if (!strcmp(sget(x, "key") ? sget(x, "key") : "", key) &&
			    !strcmp(sget(x, "mode") ? sget(x, "mode") : "output", mode)) {
				json_array_remove(arts, k - 1);
				deleted++;
			}
		}
	}
	stamp(w->task, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "deleted", deleted);
	return TW_SAVE;
}

void
tasks_delete_artifacts(struct req *q, struct reply *r)
{
	struct item_list a = {0};
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	a.items = json_object_get(q->body, "artifacts");
	if (!json_is_array(a.items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=artifacts");
		return;
	}
	task_write(q, r, id, "artifacts", delete_artifacts, &a);
}

static int
add_or_update_model(struct task_write *w)
{
	struct item_list *a = w->arg;
	char now[48];
	db_now_iso(now, sizeof(now));
	json_t *models = json_object_get(w->task, "models");
	if (!json_is_object(models)) {
		models = json_object();
		json_object_set_new(w->task, "models", models);
	}
	json_t *list = json_object_get(models, a->type);
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(models, a->type, list);
	}
	json_t *item = json_pack("{s:s,s:s,s:s}", "name", a->name, "model", a->model, "updated", now);
	if (a->iteration >= 0)
		json_object_set_new(item, "iteration", json_integer(a->iteration));
	size_t i;
	json_t *e;
	int replaced = 0;
	json_array_foreach(list, i, e) {
		if (sget(e, "name") && !strcmp(sget(e, "name"), a->name)) {
			json_array_set(list, i, item);
			replaced = 1;
			break;
		}
	}
	if (!replaced)
		json_array_append(list, item);
	json_decref(item);
	stamp(w->task, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "updated", 1);
	return TW_SAVE;
}

void
tasks_add_or_update_model(struct req *q, struct reply *r)
{
	struct item_list a = {.iteration = -1};
	const char *id;
	if (req_str(q, r, "task", 1, &id) || req_str(q, r, "name", 1, &a.name) ||
	    req_str(q, r, "model", 1, &a.model) || req_str(q, r, "type", 1, &a.type) ||
	    req_int(q, r, "iteration", 0, &a.iteration))
		return;
	if (strcmp(a.type, "input") != 0 && strcmp(a.type, "output") != 0) {
		reply_err(r, 400, 12, "Validation error (type must be input or output): type=%s", a.type);
		return;
	}
	task_write(q, r, id, "models", add_or_update_model, &a);
}

static int
delete_models(struct task_write *w)
{
	struct item_list *a = w->arg;
	size_t i;
	json_t *e;
	json_array_foreach(a->items, i, e) {
		const char *name = sget(e, "name"), *type = sget(e, "type");
		json_t *list = type ? json_object_get(json_object_get(w->task, "models"), type) : NULL;
		for (size_t k = json_array_size(list); name && k > 0; k--)
			if (sget(json_array_get(list, k - 1), "name") &&
			    !strcmp(sget(json_array_get(list, k - 1), "name"), name))
				json_array_remove(list, k - 1);
	}
	/* "updated" counts tasks, as the real server's does, not the links removed; it stamps the
	 * task even when no name matched */
	stamp(w->task, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "updated", 1);
	return TW_SAVE;
}

void
tasks_delete_models(struct req *q, struct reply *r)
{
	struct item_list a = {0};
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	a.items = json_object_get(q->body, "models");
	if (!json_is_array(a.items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=models");
		return;
	}
	task_write(q, r, id, "models", delete_models, &a);
}
