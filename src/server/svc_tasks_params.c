/*
 * svc_tasks_params — tasks.* hyper-parameters and configuration: get_hyper_params,
 * edit_hyper_params, delete_hyper_params, get_configurations, get_configuration_names,
 * edit_configuration, delete_configuration. Hyper-parameters live as
 * hyperparams{section: {name: {section, name, value, type, description}}}, configuration as
 * configuration{name: {name, value, type, description}}; both editable in created status, or
 * in_progress with force (the "properties" section always).
 */
#include <string.h>
#include <strings.h>

#include "server/svc_tasks.h"
#include "util.h"

static int
cmp_params(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(sget(x, "section") ? sget(x, "section") : "", sget(y, "section") ? sget(y, "section") : "");
	return c ? c : strcmp(sget(x, "name") ? sget(x, "name") : "", sget(y, "name") ? sget(y, "name") : "");
}

void
tasks_get_hyper_params(struct req *q, struct reply *r)
{
	json_t *ids = json_object_get(q->body, "tasks");
	if (!is_str_list(ids)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return;
	}
	json_t *params = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *t = task_for_read(q, r, json_string_value(idv));
		if (!t) {
			json_decref(params);
			return;
		}
		json_t *hp = json_object_get(t, "hyperparams");
		size_t n = 0;
		const char *sec, *name;
		json_t *s, *p;
		json_object_foreach(hp, sec, s) n += json_object_size(s);
		json_t **items = xcalloc(n ? n : 1, sizeof(*items));
		size_t m = 0;
		json_object_foreach(hp, sec, s) {
			json_object_foreach(s, name, p) {
				if (m < n)
					items[m++] = p;
			}
		}
		qsort(items, m, sizeof(*items), cmp_params);
		json_t *list = json_array();
		for (size_t k = 0; k < m; k++)
			json_array_append(list, items[k]);
		free(items);
		json_array_append_new(params, json_pack("{s:O,s:o}", "task", idv, "hyperparams", list));
		json_decref(t);
	}
	reply_data(r, json_pack("{s:o}", "params", params));
}

static int
all_properties(const json_t *items, const char *key)
{
	size_t i;
	json_t *e;
	if (json_array_size(items) == 0)
		return 0;
	json_array_foreach(items, i, e) {
		const char *s = sget(e, key);
		if (!s || strcasecmp(s, "properties") != 0)
			return 0;
	}
	return 1;
}

/* Status rule of the hyperparams/configuration editors: created, or in_progress with force. */
static int
params_editable(struct reply *r, const json_t *t, int force, int props_only)
{
	const char *st = sget(t, "status");
	if (props_only || !strcmp(st, "created") || (force && !strcmp(st, "in_progress")))
		return 1;
	reply_err(r, 400, 110, "Invalid task status (Task must be in created status, or in_progress "
	          "with force, to change its parameters): status=%s", st);
	return 0;
}
struct params_edit {
	json_t *items;     /* the request's list */
	const char *replace;
	int force, replace_all;
};

static int
edit_hyper_params(struct task_write *w)
{
	struct params_edit *a = w->arg;
	int props = all_properties(a->items, "section");
	if (!params_editable(w->r, w->task, a->force, props))
		return TW_FAIL;
	json_t *hp = json_object_get(w->task, "hyperparams");
	if (!json_is_object(hp) || !strcmp(a->replace, "all")) {
		hp = json_object();
		json_object_set_new(w->task, "hyperparams", hp);
	}
	size_t i;
	json_t *e;
	if (!strcmp(a->replace, "section"))
		json_array_foreach(a->items, i, e) json_object_del(hp, sget(e, "section"));
	json_array_foreach(a->items, i, e) {
		const char *sec = sget(e, "section");
		json_t *s = json_object_get(hp, sec);
		if (!json_is_object(s)) {
			s = json_object();
			json_object_set_new(hp, sec, s);
		}
		json_t *item = json_deep_copy(e);
		if (!json_object_get(item, "value") || json_is_null(json_object_get(item, "value")))
			json_object_set_new(item, "value", json_string(""));
		json_object_set_new(s, sget(e, "name"), item);
	}
	stamp(w->task, NULL, w->q->who, !props);
	w->data = json_pack("{s:i}", "updated", 1);
	return TW_SAVE;
}

void
tasks_edit_hyper_params(struct req *q, struct reply *r)
{
	struct params_edit a = {.replace = "none"};
	const char *id;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &a.force) ||
	    req_str(q, r, "replace_hyperparams", 0, &a.replace))
		return;
	a.items = json_object_get(q->body, "hyperparams");
	if (!json_is_array(a.items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=hyperparams");
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(a.items, i, e) {
		json_t *val = json_object_get(e, "value");
		if (!sget(e, "section") || !sget(e, "name") || (val && !json_is_string(val) && !json_is_null(val))) {
			reply_err(r, 400, 12, "Validation error (hyperparams items need section, name and a "
			          "string value): item=%zu", i);
			return;
		}
	}
	if (strcmp(a.replace, "none") && strcmp(a.replace, "section") && strcmp(a.replace, "all")) {
		reply_err(r, 400, 12, "Validation error (replace_hyperparams must be none, section or all)");
		return;
	}
	task_write(q, r, id, "hyperparams", edit_hyper_params, &a);
}

static int
delete_hyper_params(struct task_write *w)
{
	struct params_edit *a = w->arg;
	int props = all_properties(a->items, "section");
	if (!params_editable(w->r, w->task, a->force, props))
		return TW_FAIL;
	json_t *hp = json_object_get(w->task, "hyperparams");
	int deleted = 0;
	size_t i;
	json_t *e;
	json_array_foreach(a->items, i, e) {
		const char *sec = sget(e, "section"), *name = sget(e, "name");
		if (!sec)
			continue;
		json_t *s = json_object_get(hp, sec);
		if (!s)
			continue;
		if (!name) {
			deleted += (int)json_object_size(s);
			json_object_del(hp, sec);
		} else if (json_object_get(s, name)) {
			json_object_del(s, name);
			deleted++;
		}
	}
	stamp(w->task, NULL, w->q->who, !props);
	w->data = json_pack("{s:i}", "deleted", deleted);
	return TW_SAVE;
}

void
tasks_delete_hyper_params(struct req *q, struct reply *r)
{
	struct params_edit a = {0};
	const char *id;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &a.force))
		return;
	a.items = json_object_get(q->body, "hyperparams");
	if (!json_is_array(a.items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=hyperparams");
		return;
	}
	task_write(q, r, id, "hyperparams", delete_hyper_params, &a);
}

void
tasks_get_configurations(struct req *q, struct reply *r)
{
	json_t *ids = json_object_get(q->body, "tasks");
	json_t *names = json_object_get(q->body, "names");
	if (!is_str_list(ids)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *t = task_for_read(q, r, json_string_value(idv));
		if (!t) {
			json_decref(out);
			return;
		}
		json_t *list = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(t, "configuration"), k, v) {
			int want = !json_is_array(names) || json_array_size(names) == 0;
			size_t j;
			json_t *n;
			json_array_foreach(names, j, n)
				if (json_is_string(n) && !strcmp(json_string_value(n), k))
					want = 1;
			if (want)
				json_array_append(list, v);
		}
		json_array_append_new(out, json_pack("{s:O,s:o}", "task", idv, "configuration", list));
		json_decref(t);
	}
	reply_data(r, json_pack("{s:o}", "configurations", out));
}

void
tasks_get_configuration_names(struct req *q, struct reply *r)
{
	json_t *ids = json_object_get(q->body, "tasks");
	if (!is_str_list(ids)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return;
	}
	int skip_empty = 1;
	if (req_bool(q, r, "skip_empty", 0, &skip_empty) != 0)
		return;
	json_t *out = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *t = task_for_read(q, r, json_string_value(idv));
		if (!t) {
			json_decref(out);
			return;
		}
		json_t *list = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(t, "configuration"), k, v) {
			const char *val = sget(v, "value");
			if (!skip_empty || (val && *val))
				json_array_append_new(list, json_string(k));
		}
		json_array_append_new(out, json_pack("{s:O,s:o}", "task", idv, "names", list));
		json_decref(t);
	}
	reply_data(r, json_pack("{s:o}", "configurations", out));
}

static int
edit_configuration(struct task_write *w)
{
	struct params_edit *a = w->arg;
	if (!params_editable(w->r, w->task, a->force, 0))
		return TW_FAIL;
	json_t *cf = json_object_get(w->task, "configuration");
	if (!json_is_object(cf) || a->replace_all) {
		cf = json_object();
		json_object_set_new(w->task, "configuration", cf);
	}
	size_t i;
	json_t *e;
	json_array_foreach(a->items, i, e)
		json_object_set_new(cf, sget(e, "name"), json_deep_copy(e));
	stamp(w->task, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "updated", 1);
	return TW_SAVE;
}

void
tasks_edit_configuration(struct req *q, struct reply *r)
{
	struct params_edit a = {0};
	const char *id;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &a.force) ||
	    req_bool(q, r, "replace_configuration", 0, &a.replace_all))
		return;
	a.items = json_object_get(q->body, "configuration");
	if (!json_is_array(a.items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=configuration");
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(a.items, i, e) {
		if (!sget(e, "name")) {
			reply_err(r, 400, 12, "Validation error (configuration items need a name): item=%zu", i);
			return;
		}
	}
	task_write(q, r, id, "configuration", edit_configuration, &a);
}

static int
delete_configuration(struct task_write *w)
{
	struct params_edit *a = w->arg;
	if (!params_editable(w->r, w->task, a->force, 0))
		return TW_FAIL;
	json_t *cf = json_object_get(w->task, "configuration");
	int deleted = 0;
	size_t i;
	json_t *n;
	json_array_foreach(a->items, i, n)
		if (json_object_del(cf, json_string_value(n)) == 0)
			deleted++;
	stamp(w->task, NULL, w->q->who, 1);
	w->data = json_pack("{s:i}", "deleted", deleted);
	return TW_SAVE;
}

void
tasks_delete_configuration(struct req *q, struct reply *r)
{
	struct params_edit a = {0};
	const char *id;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &a.force))
		return;
	a.items = json_object_get(q->body, "configuration");
	if (!is_str_list(a.items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=configuration");
		return;
	}
	task_write(q, r, id, "configuration", delete_configuration, &a);
}
