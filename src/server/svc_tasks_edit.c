/*
 * svc_tasks_edit — tasks.edit, tasks.update, tasks.set_requirements, and the input checks and
 * normalisation tasks.create shares with them (field types, project/parent references,
 * hyper-parameter and configuration shapes, script stripping, the legacy execution.parameters /
 * docker_cmd inputs of older clients).
 */
#include <string.h>

#include "server/projects.h"
#include "server/status_history.h"
#include "server/svc_tasks.h"
#include "util.h"

static int
name_len_ok(const char *name)
{
	while (*name == ' ' || *name == '\t' || *name == '\n')
		name++;
	size_t n = strlen(name);
	while (n && (name[n - 1] == ' ' || name[n - 1] == '\t' || name[n - 1] == '\n'))
		n--;
	return n >= 3;
}

static json_t *
param_item(const char *section, const char *name, const json_t *v)
{
	json_t *p = json_is_object(v) ? json_deep_copy(v) : json_object();
	json_object_set_new(p, "section", json_string(section));
	json_object_set_new(p, "name", json_string(name));
	if (!json_is_object(v)) {
		if (json_is_string(v))
			json_object_set(p, "value", (json_t *)(uintptr_t)v);
		else {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			json_object_set_new(p, "value", json_string(s ? s : ""));
			free(s);
		}
	}
	return p;
}

/* hyperparams {section: {name: {...}}}: validated, section/name filled in. NULL with r filled. */
json_t *
norm_hyperparams(const json_t *v, struct reply *r)
{
	if (!json_is_object(v)) {
		reply_err(r, 400, 12, "Validation error (hyperparams must be a dict of dicts)");
		return NULL;
	}
	json_t *out = json_object();
	const char *sec;
	json_t *params;
	json_object_foreach((json_t *)(uintptr_t)v, sec, params) {
		if (!json_is_object(params)) {
			json_decref(out);
			reply_err(r, 400, 12, "Validation error (hyperparams must be a dict of dicts): "
			          "section=%s", sec);
			return NULL;
		}
		json_t *s = json_object();
		const char *name;
		json_t *p;
		json_object_foreach(params, name, p)
			json_object_set_new(s, name, param_item(sec, name, p));
		json_object_set_new(out, sec, s);
	}
	return out;
}

json_t *
norm_configuration(const json_t *v, struct reply *r)
{
	if (!json_is_object(v)) {
		reply_err(r, 400, 12, "Validation error (configuration must be a dict)");
		return NULL;
	}
	json_t *out = json_object();
	const char *name;
	json_t *p;
	json_object_foreach((json_t *)(uintptr_t)v, name, p) {
		json_t *item = json_is_object(p) ? json_deep_copy(p) : json_pack("{s:O}", "value", p);
		json_object_set_new(item, "name", json_string(name));
		json_object_set_new(out, name, item);
	}
	return out;
}

/* Strip the string values of script (the real server does). */
void
strip_script(json_t *script)
{
	const char *k;
	json_t *v;
	json_object_foreach(script, k, v) {
		if (!json_is_string(v))
			continue;
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		size_t a = 0;
		while (a < n && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r'))
			a++;
		while (n > a && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
			n--;
		if (a > 0 || n < strlen(s)) {
			if (!strcmp(k, "diff"))
				continue; /* a diff's trailing newline matters to git apply */
			json_object_set_new(script, k, json_stringn(s + a, n - a));
		}
	}
}

/* Legacy execution.parameters → hyperparams.Args (type legacy); docker_cmd → container. */
void
legacy_inputs(struct req *q, json_t *exec, json_t *target)
{
	json_t *params = json_object_get(exec, "parameters");
	if (json_is_object(params)) {
		/* the legacy parameters replace the legacy-typed ones; "TF_DEFINE/x" is section
		 * TF_DEFINE, everything else section Args (the real server's mapping) */
		json_t *hp = json_object_get(target, "hyperparams");
		if (!json_is_object(hp)) {
			hp = json_object();
			json_object_set_new(target, "hyperparams", hp);
		}
		static const char *const legacy_sections[] = {"Args", "TF_DEFINE", NULL};
		for (const char *const *sec = legacy_sections; *sec; sec++) {
			json_t *sv = json_object_get(hp, *sec);
			const char *k;
			json_t *v;
			void *tmp;
			json_object_foreach_safe(sv, tmp, k, v)
				if (sget(v, "type") && !strcmp(sget(v, "type"), "legacy"))
					json_object_del(sv, k);
			if (json_is_object(sv) && !json_object_size(sv))
				json_object_del(hp, *sec);
		}
		const char *k;
		json_t *v;
		json_object_foreach(params, k, v) {
			int tf = !strncmp(k, "TF_DEFINE/", 10);
			const char *sec = tf ? "TF_DEFINE" : "Args", *name = tf ? k + 10 : k;
			json_t *sv = json_object_get(hp, sec);
			if (!json_is_object(sv)) {
				sv = json_object();
				json_object_set_new(hp, sec, sv);
			}
			json_t *item = param_item(sec, name, v);
			json_object_set_new(item, "type", json_string("legacy"));
			json_object_set_new(sv, name, item);
		}
	}
	json_t *desc = json_object_get(exec, "model_desc");
	if (json_is_object(desc)) {
		json_t *cf = json_object_get(target, "configuration");
		if (!json_is_object(cf)) {
			cf = json_object();
			json_object_set_new(target, "configuration", cf);
		}
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(cf, tmp, k, v)
			if (sget(v, "type") && !strcmp(sget(v, "type"), "legacy"))
				json_object_del(cf, k);
		json_object_foreach(desc, k, v) {
			json_t *item = param_item("", k, v);
			json_object_del(item, "section");
			json_object_set_new(item, "type", json_string("legacy"));
			json_object_set_new(cf, k, item);
		}
	}
	json_object_del(exec, "parameters");
	json_object_del(exec, "model_desc");
	json_t *model = json_object_get(exec, "model");
	if (json_is_string(model) && !req_version_ge(q, 2, 13)) {
		/* before 2.13 the input model was execution.model: now models.input ("Input Model") */
		json_t *models = json_object_get(target, "models");
		if (!json_is_object(models)) {
			models = json_object();
			json_object_set_new(target, "models", models);
		}
		char now[48];
		db_now_iso(now, sizeof(now));
		json_object_set_new(models, "input",
		                    *json_string_value(model)
		                        ? json_pack("[{s:s,s:O,s:s}]", "name", "Input Model", "model",
		                                    model, "updated", now)
		                        : json_array());
	}
	if (!req_version_ge(q, 2, 13))
		json_object_del(exec, "model");
	const char *dc = sget(exec, "docker_cmd");
	if (dc && !req_version_ge(q, 2, 13))
		json_object_set_new(target, "container", task_container_from_docker_cmd(dc));
	json_object_del(exec, "docker_cmd");
}

int
task_check_refs(struct req *q, struct reply *r, const json_t *body)
{
	const char *project = sget(body, "project");
	if (json_object_get(body, "project") && !json_is_null(json_object_get(body, "project")) &&
	    !project) {
		reply_err(r, 400, 12, "Validation error (expected a string): field=project");
		return -1;
	}
	if (project && *project && !project_visible(q->db, q->who, project)) {
		reply_err(r, 400, 16, "Fields value error (expecting Project id): project=%s", project);
		return -1;
	}
	const char *parent = sget(body, "parent");
	if (parent && *parent && strncmp(parent, "__DELETED__", 11) != 0) {
		json_t *p = task_load(q->db, parent);
		json_decref(p);
		if (!p) {
			reply_err(r, 400, 16, "Fields value error (expecting Task id): parent=%s", parent);
			return -1;
		}
	}
	return 0;
}

/* Type checks shared by create and edit. */
int
task_check_fields(struct req *q, struct reply *r, int creating)
{
	const json_t *b = q->body;
	json_t *name = json_object_get(b, "name");
	if (creating && (!name || json_is_null(name))) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=name");
		return -1;
	}
	if (name && !json_is_null(name)) {
		if (!json_is_string(name)) {
			reply_err(r, 400, 12, "Validation error (expected a string): field=name");
			return -1;
		}
		if (!name_len_ok(json_string_value(name))) {
			reply_err(r, 400, 800, "Data validation error (name must be at least 3 characters): "
			          "name=%s", json_string_value(name));
			return -1;
		}
	}
	json_t *type = json_object_get(b, "type");
	if (creating && (!type || json_is_null(type))) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=type");
		return -1;
	}
	if (type && !json_is_null(type) && !task_type_valid(json_string_value(type))) {
		reply_err(r, 400, 12, "Validation error (invalid task type): type=%s",
		          json_string_value(type) ? json_string_value(type) : "?");
		return -1;
	}
	static const char *const lists[] = {"tags", "system_tags", NULL};
	for (const char *const *k = lists; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (v && !json_is_null(v) && !is_str_list(v)) {
			reply_err(r, 400, 12, "Validation error (expected a list of strings): field=%s", *k);
			return -1;
		}
	}
	static const char *const objs[] = {"execution", "script", "hyperparams", "configuration",
	                                   "models", "container", "runtime", "output", NULL};
	for (const char *const *k = objs; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (v && !json_is_null(v) && !json_is_object(v)) {
			reply_err(r, 400, 12, "Validation error (expected an object): field=%s", *k);
			return -1;
		}
	}
	static const char *const strs[] = {"comment", "parent", "output_dest", NULL};
	for (const char *const *k = strs; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (v && !json_is_null(v) && !json_is_string(v)) {
			reply_err(r, 400, 12, "Validation error (expected a string): field=%s", *k);
			return -1;
		}
	}
	return 0;
}
/* ---------------------------------------------------------------- edit / update */

/* Merge src's top-level keys into dst[key] (one level), creating dst[key]. */
static void
merge_one_level(json_t *dst, const char *key, const json_t *src)
{
	json_t *cur = json_object_get(dst, key);
	if (!json_is_object(cur)) {
		json_object_set_new(dst, key, json_deep_copy(src));
		return;
	}
	json_object_update(cur, (json_t *)(uintptr_t)src);
}

static int
edit_task(struct task_write *w)
{
	int force = *(int *)w->arg;
	json_t *t = w->task;
	const json_t *b = w->q->body;
	if (!force && strcmp(w->status, "created") != 0) {
		reply_err(w->r, 400, 110, "Invalid task status (Task is not in created status, use force "
		          "to edit): status=%s", w->status);
		return TW_FAIL;
	}
	json_t *fields = json_object();
	static const char *const plain[] = {"name", "type", "comment", "project", "parent", NULL};
	for (const char *const *k = plain; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v)
			continue;
		json_object_set(t, *k, v);
		json_object_set(fields, *k, v);
	}
	static const char *const tags[] = {"tags", "system_tags", NULL};
	for (const char *const *k = tags; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v)
			continue;
		json_object_set_new(t, *k, sorted_tags(v));
		json_object_set(fields, *k, json_object_get(t, *k));
	}
	if (sget(b, "output_dest")) {
		json_t *o = json_object_get(t, "output");
		if (!json_is_object(o)) {
			o = json_object();
			json_object_set_new(t, "output", o);
		}
		json_object_set(o, "destination", json_object_get(b, "output_dest"));
		json_object_set(fields, "output.destination", json_object_get(b, "output_dest"));
	}
	json_t *exec = json_object_get(b, "execution");
	if (json_is_object(exec)) {
		json_t *e = json_deep_copy(exec);
		legacy_inputs(w->q, e, t);
		merge_one_level(t, "execution", e);
		json_object_set_new(fields, "execution", e);
	}
	static const char *const merged[] = {"script", "output", "models", NULL};
	for (const char *const *k = merged; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!json_is_object(v))
			continue;
		json_t *c = json_deep_copy(v);
		if (!strcmp(*k, "script"))
			strip_script(c);
		merge_one_level(t, *k, c);
		json_object_set_new(fields, *k, c);
	}
	if (json_object_get(b, "hyperparams")) {
		json_t *hp = json_is_null(json_object_get(b, "hyperparams"))
		                 ? json_object() : norm_hyperparams(json_object_get(b, "hyperparams"), w->r);
		if (!hp) {
			json_decref(fields);
			return TW_FAIL;
		}
		json_object_set_new(t, "hyperparams", hp);
		json_object_set(fields, "hyperparams", hp);
	}
	if (json_object_get(b, "configuration")) {
		json_t *cf = json_is_null(json_object_get(b, "configuration"))
		                 ? json_object()
		                 : norm_configuration(json_object_get(b, "configuration"), w->r);
		if (!cf) {
			json_decref(fields);
			return TW_FAIL;
		}
		json_object_set_new(t, "configuration", cf);
		json_object_set(fields, "configuration", cf);
	}
	static const char *const maps[] = {"container", "runtime", NULL};
	for (const char *const *k = maps; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v)
			continue;
		json_object_set_new(t, *k, json_is_object(v) ? json_deep_copy(v) : json_object());
		json_object_set(fields, *k, json_object_get(t, *k));
	}
	json_t *status = json_object_get(b, "status");
	if (json_is_string(status) && strcmp(json_string_value(status), w->status) != 0) {
		char now[48];
		db_now_iso(now, sizeof(now));
		if (status_history_add(w->q->db, sget(t, "id"), w->status, json_string_value(status),
		                       sget(t, "status_reason"), sget(t, "status_message"),
		                       w->q->who->user, w->q->worker_header) != 0) {
			json_decref(fields);
			reply_err(w->r, 500, 100, "General data error (saving status history)");
			return TW_FAIL;
		}
		json_object_set(t, "status", status);
		json_object_set_new(t, "status_changed", json_string(now));
		json_object_set(fields, "status", status);
	}
	stamp(t, fields, w->q->who, 1);
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	return TW_SAVE;
}

void
tasks_edit(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &force))
		return;
	if (task_check_fields(q, r, 0) != 0 || task_check_refs(q, r, q->body) != 0)
		return;
	json_t *status = json_object_get(q->body, "status");
	if (status && !json_is_null(status) && !task_status_valid(json_string_value(status))) {
		reply_err(r, 400, 12, "Validation error (invalid task status): status=%s",
		          json_string_value(status) ? json_string_value(status) : "?");
		return;
	}
	task_write(q, r, id, "task", edit_task, &force);
}

static int
update_task(struct task_write *w)
{
	json_t *t = w->task;
	const json_t *b = w->q->body;
	json_t *fields = json_object();
	static const char *const plain[] = {"name", "comment", "project", "created", "status_message",
	                                    NULL};
	for (const char *const *k = plain; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v || (!json_is_string(v) && !json_is_null(v)))
			continue;
		json_object_set(t, *k, v);
		json_object_set(fields, *k, v);
	}
	static const char *const tags[] = {"tags", "system_tags", NULL};
	for (const char *const *k = tags; *k; k++) {
		json_t *v = json_object_get(b, *k);
		if (!v)
			continue;
		json_object_set_new(t, *k, sorted_tags(v));
		json_object_set(fields, *k, json_object_get(t, *k));
	}
	json_t *err = json_object_get(b, "output__error");
	if (json_is_string(err)) {
		json_t *o = json_object_get(t, "output");
		if (!json_is_object(o)) {
			o = json_object();
			json_object_set_new(t, "output", o);
		}
		json_object_set(o, "error", err);
		json_object_set(fields, "output.error", err);
	}
	stamp(t, fields, w->q->who, 0); /* user fields only: last_update stays */
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	return TW_SAVE;
}

void
tasks_update(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	if (task_check_fields(q, r, 0) != 0 || task_check_refs(q, r, q->body) != 0)
		return;
	task_write(q, r, id, "task", update_task, NULL);
}

static int
set_requirements(struct task_write *w)
{
	json_t *req = w->arg;
	json_t *script = json_object_get(w->task, "script");
	if (!json_is_object(script)) {
		reply_err(w->r, 400, 122, "Task is missing fields (script): id=%s", sget(w->task, "id"));
		return TW_FAIL;
	}
	json_object_set(script, "requirements", req);
	json_t *fields = json_pack("{s:O}", "script.requirements", req);
	stamp(w->task, fields, w->q->who, 1);
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	return TW_SAVE;
}

void
tasks_set_requirements(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	json_t *req = json_object_get(q->body, "requirements");
	if (!json_is_object(req)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=requirements");
		return;
	}
	task_write(q, r, id, "task requirements", set_requirements, req);
}
