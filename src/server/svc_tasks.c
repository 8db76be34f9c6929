/*
 * svc_tasks — tasks.*: create, get_by_id, get_all, edit, update, the status changes (enqueue,
 * dequeue, started, stopped, stop, completed, failed, close, publish, reset), clone, delete, ping,
 * requirements, hyper-parameters, configuration, artifacts and models.
 *
 * Every write is one transaction (db_begin … db_commit) that loads the task document, checks the
 * state machine of §3.3 (unless force), changes the document, and saves it with the condition
 * "status is still what we read" (400/121 when another writer won). Queue entries are srvq's
 * (queue_store.c); events are deleted through events_delete_for_task().
 */
#include <string.h>
#include <strings.h>

#include "server/front.h"
#include "server/getall.h"
#include "server/projects.h"
#include "server/server.h"
#include "server/task_page.h"
#include "server/tasks.h"
#include "util.h"

/* ---------------------------------------------------------------- enums, state machine */

static const char *const task_types[] = {"training", "testing", "inference", "data_processing",
                                         "application", "monitor", "controller", "optimizer",
                                         "service", "qc", "custom", NULL};
static const char *const task_statuses[] = {"created", "queued", "in_progress", "stopped",
                                            "published", "publishing", "closed", "failed",
                                            "completed", "unknown", NULL};

static int
in_set(const char *const *set, const char *s)
{
	for (; s && *set; set++)
		if (!strcmp(*set, s))
			return 1;
	return 0;
}

int task_status_valid(const char *s) { return in_set(task_statuses, s); }
int task_type_valid(const char *s) { return in_set(task_types, s); }

int
task_status_allowed(const char *from, const char *to)
{
	static const struct {
		const char *from;
		const char *to[9];
	} sm[] = {
		{"created", {"queued", "in_progress", NULL}},
		{"queued", {"created", "in_progress", "stopped", NULL}},
		{"in_progress", {"stopped", "failed", "created", "completed", NULL}},
		{"stopped", {"closed", "created", "failed", "queued", "in_progress", "published",
		             "publishing", "completed", NULL}},
		{"closed", {"created", "failed", "published", "publishing", "stopped", NULL}},
		{"failed", {"created", "stopped", "published", "queued", NULL}},
		{"publishing", {"published", NULL}},
		{"published", {NULL}},
		{"completed", {"published", "in_progress", "created", NULL}},
	};
	if (!from || !to)
		return 0;
	if (!strcmp(from, to))
		return 1;
	for (size_t i = 0; i < ARRAY_LEN(sm); i++) {
		if (strcmp(sm[i].from, from) != 0)
			continue;
		for (int k = 0; sm[i].to[k]; k++)
			if (!strcmp(sm[i].to[k], to))
				return 1;
		return 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int
has_tag(const json_t *task, const char *field, const char *tag)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(task, field), i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), tag))
			return 1;
	return 0;
}

static void
remove_tag(json_t *task, const char *field, const char *tag)
{
	json_t *arr = json_object_get(task, field);
	for (size_t i = json_array_size(arr); i > 0; i--) {
		json_t *e = json_array_get(arr, i - 1);
		if (json_is_string(e) && !strcmp(json_string_value(e), tag))
			json_array_remove(arr, i - 1);
	}
}

static int
str_cmp_json(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(x) ? json_string_value(x) : "",
	              json_string_value(y) ? json_string_value(y) : "");
}

/* A sorted, de-duplicated copy of a list of strings. */
static json_t *
sorted_tags(const json_t *v)
{
	size_t n = json_array_size(v);
	json_t **items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(v, i);
	qsort(items, n, sizeof(*items), str_cmp_json);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		if (i == 0 || str_cmp_json(&items[i - 1], &items[i]) != 0)
			json_array_append(out, items[i]);
	free(items);
	return out;
}

static int
is_str_list(const json_t *v)
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

static int
begin(struct req *q, struct reply *r)
{
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (database busy)");
		return -1;
	}
	return 0;
}

static int
commit(struct req *q, struct reply *r)
{
	if (db_commit(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (commit failed)");
		return -1;
	}
	return 0;
}

/* Load a task the caller may read (own company or public). NULL with 400/101. */
static json_t *
task_for_read(struct req *q, struct reply *r, const char *id)
{
	json_t *t = task_load(q->db, id);
	const char *c = sget(t, "company");
	if (!t || !c || (*c && strcmp(c, q->who->company) != 0)) {
		json_decref(t);
		reply_err(r, 400, 101, "Invalid task id: id=%s", id);
		return NULL;
	}
	return t;
}

/* Load a task the caller may change. NULL with 400/101 or 403/21. */
static json_t *
task_for_write(struct req *q, struct reply *r, const char *id)
{
	json_t *t = task_for_read(q, r, id);
	if (t && !*sget(t, "company")) {
		json_decref(t);
		reply_err(r, 403, 21, "No write permission for public objects: id=%s", id);
		return NULL;
	}
	return t;
}

static void
stamp(json_t *t, json_t *fields, const struct identity *who, int touch_update)
{
	char now[48];
	db_now_iso(now, sizeof(now));
	json_object_set_new(t, "last_change", json_string(now));
	json_object_set_new(t, "last_changed_by", json_string(who->user));
	if (fields) {
		json_object_set_new(fields, "last_change", json_string(now));
		json_object_set_new(fields, "last_changed_by", json_string(who->user));
	}
	if (touch_update) {
		json_object_set_new(t, "last_update", json_string(now));
		if (fields)
			json_object_set_new(fields, "last_update", json_string(now));
	}
}

/* Set a value at a dotted path (objects created on the way); NULL val deletes. */
static void
path_set(json_t *doc, const char *dotted, json_t *val)
{
	char *p = xstrdup(dotted);
	char *seg = p;
	json_t *cur = doc;
	for (;;) {
		char *dot = strchr(seg, '.');
		if (!dot)
			break;
		*dot = '\0';
		json_t *next = json_object_get(cur, seg);
		if (!json_is_object(next)) {
			if (!val)
				goto out;
			next = json_object();
			json_object_set_new(cur, seg, next);
		}
		cur = next;
		seg = dot + 1;
	}
	if (val)
		json_object_set(cur, seg, val);
	else
		json_object_del(cur, seg);
out:
	free(p);
}

/*
 * The one status-change path. Inside the caller's transaction: check the transition (unless
 * force), write status/reason/message/times plus `extra` (dotted path → value; null deletes),
 * save conditionally. Returns 0 with *fields (new ref), or -1 with r filled.
 */
static int
change_status(struct req *q, struct reply *r, json_t *t, const char *new_status, int force,
              const char *reason, const char *message, json_t *extra, json_t **fields)
{
	*fields = NULL;
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status") ? sget(t, "status") : "created");
	if (!force && !task_status_allowed(old, new_status)) {
		reply_err(r, 400, 110, "Invalid task status (Invalid status change): current_status=%s, "
		          "new_status=%s", old, new_status);
		return -1;
	}
	json_t *f = json_object();
	char now[48];
	db_now_iso(now, sizeof(now));
	json_object_set_new(t, "status", json_string(new_status));
	json_object_set_new(t, "status_reason", json_string(reason ? reason : ""));
	json_object_set_new(t, "status_message", json_string(message ? message : ""));
	json_object_set_new(f, "status", json_string(new_status));
	json_object_set_new(f, "status_reason", json_string(reason ? reason : ""));
	json_object_set_new(f, "status_message", json_string(message ? message : ""));
	if (strcmp(old, new_status) != 0) {
		json_object_set_new(t, "status_changed", json_string(now));
		json_object_set_new(f, "status_changed", json_string(now));
	}
	if (!strcmp(old, "in_progress") && strcmp(new_status, "in_progress") != 0 && sget(t, "started")) {
		int64_t st = iso_time_parse(sget(t, "started"));
		if (st > 0) {
			json_int_t secs = (json_int_t)((now_ms() * 1000 - st) / 1000000);
			json_object_set_new(t, "active_duration", json_integer(secs < 0 ? 0 : secs));
		}
	}
	stamp(t, f, q->who, 1);
	const char *key;
	json_t *v;
	json_object_foreach(extra, key, v) {
		path_set(t, key, json_is_null(v) ? NULL : v);
		json_object_set(f, key, v);
	}
	int rc = task_save_if_status(q->db, t, old);
	if (rc < 0) {
		json_decref(f);
		reply_err(r, 500, 100, "General data error (saving task)");
		return -1;
	}
	if (rc == 0) {
		json_decref(f);
		reply_err(r, 400, 121, "Failed changing task status (probably someone changed it before "
		          "you): current_status=%s, new_status=%s", old, new_status);
		return -1;
	}
	*fields = f;
	return 0;
}

struct common {
	const char *task;
	int force;
	const char *reason;
	const char *message;
};

static int
common_args(struct req *q, struct reply *r, struct common *c)
{
	memset(c, 0, sizeof(*c));
	c->reason = "";
	c->message = "";
	if (req_str(q, r, "task", 1, &c->task) || req_bool(q, r, "force", 0, &c->force) ||
	    req_str(q, r, "status_reason", 0, &c->reason) ||
	    req_str(q, r, "status_message", 0, &c->message))
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- the view */

json_t *
task_container_from_docker_cmd(const char *docker_cmd)
{
	while (*docker_cmd == ' ')
		docker_cmd++;
	size_t n = strcspn(docker_cmd, " \t");
	char *image = xstrndup(docker_cmd, n);
	const char *rest = docker_cmd + n;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	json_t *c = json_pack("{s:s,s:s}", "image", image, "arguments", rest);
	free(image);
	return c;
}

void
task_view_apply(json_t *t, int maj, int min)
{
	/* fields set to null are simply left out, as the real server does */
	const char *key;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(t, tmp, key, val)
		if (json_is_null(val))
			json_object_del(t, key);
	json_t *tags = json_object_get(t, "tags");
	if (json_is_array(tags))
		json_object_set_new(t, "tags", sorted_tags(tags));
	json_t *st = json_object_get(t, "system_tags");
	if (json_is_array(st))
		json_object_set_new(t, "system_tags", sorted_tags(st));
	int below_2_13 = maj < 2 || (maj == 2 && min < 13);
	int below_2_9 = maj < 2 || (maj == 2 && min < 9);
	if (below_2_13) {
		json_t *exec = json_object_get(t, "execution");
		if (!json_is_object(exec)) {
			exec = json_object();
			json_object_set_new(t, "execution", exec);
		}
		json_t *cont = json_object_get(t, "container");
		const char *image = sget(cont, "image");
		const char *args = sget(cont, "arguments");
		if (image && *image) {
			char *cmd = args && *args ? xasprintf("%s %s", image, args) : xstrdup(image);
			json_object_set_new(exec, "docker_cmd", json_string(cmd));
			free(cmd);
		}
		json_t *in = json_object_get(json_object_get(t, "models"), "input");
		const char *m = sget(json_array_get(in, 0), "model");
		if (m)
			json_object_set_new(exec, "model", json_string(m));
		json_t *outm = json_object_get(json_object_get(t, "models"), "output");
		size_t on = json_array_size(outm);
		const char *om = on ? sget(json_array_get(outm, on - 1), "model") : NULL;
		if (om) {
			json_t *o = json_object_get(t, "output");
			if (!json_is_object(o)) {
				o = json_object();
				json_object_set_new(t, "output", o);
			}
			json_object_set_new(o, "model", json_string(om));
		}
	}
	if (below_2_9) {
		json_t *exec = json_object_get(t, "execution");
		json_t *params = json_object();
		json_t *args = json_object_get(json_object_get(t, "hyperparams"), "Args");
		const char *k;
		json_t *v;
		json_object_foreach(args, k, v) {
			const char *type = sget(v, "type");
			if (type && !strcmp(type, "legacy") && json_object_get(v, "value"))
				json_object_set(params, sget(v, "name") ? sget(v, "name") : k,
				                json_object_get(v, "value"));
		}
		json_t *desc = json_object();
		json_object_foreach(json_object_get(t, "configuration"), k, v) {
			const char *type = sget(v, "type");
			if (type && !strcmp(type, "legacy") && json_object_get(v, "value"))
				json_object_set(desc, k, json_object_get(v, "value"));
		}
		if (json_is_object(exec)) {
			json_object_set_new(exec, "parameters", params);
			json_object_set_new(exec, "model_desc", desc);
		} else {
			json_decref(params);
			json_decref(desc);
		}
	}
}

json_t *
task_view(const json_t *task, int maj, int min)
{
	json_t *t = json_deep_copy(task);
	task_view_apply(t, maj, min);
	return t;
}

/* ---------------------------------------------------------------- create / edit input */

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
static json_t *
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

static json_t *
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
static void
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
static void
legacy_inputs(struct req *q, json_t *exec, json_t *target)
{
	json_t *params = json_object_get(exec, "parameters");
	if (json_is_object(params) && json_object_size(params)) {
		json_t *hp = json_object_get(target, "hyperparams");
		if (!json_is_object(hp)) {
			hp = json_object();
			json_object_set_new(target, "hyperparams", hp);
		}
		json_t *args = json_object_get(hp, "Args");
		if (!json_is_object(args)) {
			args = json_object();
			json_object_set_new(hp, "Args", args);
		}
		const char *k;
		json_t *v;
		json_object_foreach(params, k, v) {
			json_t *item = param_item("Args", k, v);
			json_object_set_new(item, "type", json_string("legacy"));
			json_object_set_new(args, k, item);
		}
	}
	json_object_del(exec, "parameters");
	json_object_del(exec, "model_desc");
	const char *dc = sget(exec, "docker_cmd");
	if (dc && !req_version_ge(q, 2, 13))
		json_object_set_new(target, "container", task_container_from_docker_cmd(dc));
	json_object_del(exec, "docker_cmd");
}

static int
check_refs(struct req *q, struct reply *r, const json_t *body)
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
	if (parent && *parent) {
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
static int
check_fields(struct req *q, struct reply *r, int creating)
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

/* ---------------------------------------------------------------- create / read */

static void
tasks_create(struct req *q, struct reply *r)
{
	if (check_fields(q, r, 1) != 0 || check_refs(q, r, q->body) != 0)
		return;
	const json_t *b = q->body;
	char id[33], now[48];
	gen_hex_id(id);
	db_now_iso(now, sizeof(now));
	json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "id", id, "name",
	                      sget(b, "name"), "type", sget(b, "type"), "status", "created", "user",
	                      q->who->user, "company", q->who->company, "created", now, "last_update",
	                      now, "last_change", now, "last_changed_by", q->who->user,
	                      "last_iteration", 0);
	json_object_set_new(t, "comment", json_string(sget(b, "comment") ? sget(b, "comment") : ""));
	json_object_set_new(t, "tags", sorted_tags(json_object_get(b, "tags")));
	json_object_set_new(t, "system_tags", sorted_tags(json_object_get(b, "system_tags")));
	static const char *const copy[] = {"project", "parent", NULL};
	for (const char *const *k = copy; *k; k++)
		if (sget(b, *k) && *sget(b, *k))
			json_object_set(t, *k, json_object_get(b, *k));
	json_t *exec = json_is_object(json_object_get(b, "execution"))
	                   ? json_deep_copy(json_object_get(b, "execution")) : json_object();
	if (json_is_object(json_object_get(b, "hyperparams"))) {
		json_t *hp = norm_hyperparams(json_object_get(b, "hyperparams"), r);
		if (!hp)
			goto fail;
		json_object_set_new(t, "hyperparams", hp);
	}
	if (json_is_object(json_object_get(b, "configuration"))) {
		json_t *cf = norm_configuration(json_object_get(b, "configuration"), r);
		if (!cf)
			goto fail;
		json_object_set_new(t, "configuration", cf);
	}
	legacy_inputs(q, exec, t);
	if (!json_object_get(exec, "artifacts"))
		json_object_set_new(exec, "artifacts", json_array());
	if (!json_object_get(exec, "test_split"))
		json_object_set_new(exec, "test_split", json_integer(0));
	json_object_set_new(t, "execution", exec);
	if (json_is_object(json_object_get(b, "script"))) {
		json_t *s = json_deep_copy(json_object_get(b, "script"));
		strip_script(s);
		if (!json_object_get(s, "binary"))
			json_object_set_new(s, "binary", json_string("python"));
		json_object_set_new(t, "script", s);
	}
	json_t *out = json_object();
	if (sget(b, "output_dest"))
		json_object_set(out, "destination", json_object_get(b, "output_dest"));
	json_object_set_new(t, "output", out);
	json_t *models = json_is_object(json_object_get(b, "models"))
	                     ? json_deep_copy(json_object_get(b, "models")) : json_object();
	if (!json_is_array(json_object_get(models, "input")))
		json_object_set_new(models, "input", json_array());
	if (!json_is_array(json_object_get(models, "output")))
		json_object_set_new(models, "output", json_array());
	json_object_set_new(t, "models", models);
	if (json_is_object(json_object_get(b, "container")) && !json_object_get(t, "container"))
		json_object_set(t, "container", json_object_get(b, "container"));
	json_object_set_new(t, "runtime", json_is_object(json_object_get(b, "runtime"))
	                                      ? json_deep_copy(json_object_get(b, "runtime"))
	                                      : json_object());
	if (begin(q, r) != 0)
		goto fail;
	if (task_save(q->db, t) != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (saving task)");
		goto fail;
	}
	if (commit(q, r) != 0)
		goto fail;
	reply_data(r, json_pack("{s:s}", "id", id));
fail:
	json_decref(t);
}

static void
tasks_validate(struct req *q, struct reply *r)
{
	if (check_fields(q, r, 1) != 0 || check_refs(q, r, q->body) != 0)
		return;
	reply_data(r, json_object());
}

static void
tasks_get_by_id(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	json_t *t = task_for_read(q, r, id);
	if (!t)
		return;
	task_view_apply(t, q->ver_major, q->ver_minor);
	json_object_del(t, "enqueue_status");
	reply_data(r, json_pack("{s:o}", "task", t));
}

static const char *const task_pattern[] = {"name", "comment", "report", NULL};
static const char *const task_list[] = {"id", "user", "tags", "system_tags", "type", "status",
                                        "project", "parent", "hyperparams.*", "execution.queue",
                                        "models.input.model", "runtime.*", NULL};
static const char *const task_range[] = {"started", "active_duration", "last_iteration",
                                         "last_metrics.*", NULL};
static const char *const task_dt[] = {"status_changed", "last_update", "last_change", "created",
                                      NULL};
static const char *const task_text[] = {"name", "id", "comment", "script.repository",
                                        "script.entry_point", NULL};
static const char *const task_hidden_fields[] = {"enqueue_status", NULL};

static const struct getall_spec task_spec = {
	.pattern_fields = task_pattern,
	.list_fields = task_list,
	.range_fields = task_range,
	.datetime_fields = task_dt,
	.text_fields = task_text,
	.hidden_by_default = task_hidden_fields,
	.hidden_tag = 1,
	.hidden_system_tag = "hidden",
};

/* A list of plain values usable as an SQL prefilter (no exclusions/operators/null). */
static json_t *
plain_list(const json_t *v)
{
	if (json_is_string(v))
		return json_pack("[O]", v);
	if (!json_is_array(v) || json_array_size(v) == 0)
		return NULL;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		if (!s || s[0] == '-' || !strncmp(s, "__$", 3))
			return NULL;
	}
	return json_incref((json_t *)(uintptr_t)v);
}

/* include_subprojects: the project list plus every project below them ("a" → "a/b", "a/b/c"). */
static json_t *
expand_subprojects(struct req *q, const json_t *projects)
{
	json_t *out = json_deep_copy(projects);
	sqlite3_stmt *st = db_stmt(q->db, "SELECT c.id FROM projects p JOIN projects c "
	                                  "ON c.company = p.company AND substr(c.name, 1, length(p.name) + 1) "
	                                  "= p.name || '/' WHERE p.id = ? AND p.company = ?");
	if (!st)
		return out;
	size_t i;
	json_t *pid;
	json_array_foreach(projects, i, pid) {
		sqlite3_bind_text(st, 1, json_string_value(pid), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(out, json_string((const char *)sqlite3_column_text(st, 0)));
		sqlite3_reset(st);
	}
	db_stmt_done(st);
	return out;
}

static void tasks_get_all_in(struct req *q, struct reply *r);

static void
tasks_get_all(struct req *q, struct reply *r)
{
	json_t *proj = json_object_get(q->body, "project");
	if (json_is_true(json_object_get(q->body, "include_subprojects")) && proj) {
		json_t *plain = plain_list(proj);
		if (plain) {
			json_t *body = json_deep_copy(q->body);
			json_object_set_new(body, "project", expand_subprojects(q, plain));
			json_decref(plain);
			struct req sub = *q;
			sub.body = body;
			tasks_get_all_in(&sub, r);
			json_decref(body);
			return;
		}
	}
	tasks_get_all_in(q, r);
}

static void
tasks_get_all_in(struct req *q, struct reply *r)
{
	if (getall_check(q->body, r) != 0)
		return;
	if (tasks_get_all_paged(q, r, &task_spec, task_view_apply))
		return;
	json_t *ids = plain_list(json_object_get(q->body, "id"));
	json_t *projects = ids ? NULL : plain_list(json_object_get(q->body, "project"));
	sqlite3_stmt *st;
	if (ids)
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE id IN (SELECT value FROM json_each(?1)) "
		                    "AND (company = ?2 OR company = '') ORDER BY created");
	else if (projects)
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE project IN (SELECT value FROM "
		                    "json_each(?1)) AND (company = ?2 OR company = '') ORDER BY created");
	else
		st = db_stmt(q->db, "SELECT doc FROM tasks WHERE (company = ?2 OR company = '') "
		                    "ORDER BY created");
	if (!st) {
		json_decref(ids);
		json_decref(projects);
		reply_err(r, 500, 100, "General data error");
		return;
	}
	char *list = ids ? json_dumps(ids, JSON_COMPACT) : projects ? json_dumps(projects, JSON_COMPACT)
	                                                          : NULL;
	if (list)
		sqlite3_bind_text(st, 1, list, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
	json_t *docs = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loads(text, 0, NULL) : NULL;
		if (json_is_object(d)) {
			task_view_apply(d, q->ver_major, q->ver_minor);
			json_array_append_new(docs, d);
		} else {
			json_decref(d);
		}
	}
	db_stmt_done(st);
	free(list);
	json_decref(ids);
	json_decref(projects);
	getall_reply(q, r, docs, &task_spec, "tasks");
	json_decref(docs);
}

/* tasks.get_by_id_ex: `id` checked with required_fields (400/11), then the get_all query. */
static void
tasks_get_by_id_ex(struct req *q, struct reply *r)
{
	json_t *id = json_object_get(q->body, "id");
	if (!id || json_is_null(id)) {
		reply_err(r, 400, 11, "Missing required fields: id");
		return;
	}
	tasks_get_all(q, r);
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

static void
tasks_edit(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &force))
		return;
	if (check_fields(q, r, 0) != 0 || check_refs(q, r, q->body) != 0)
		return;
	json_t *status = json_object_get(q->body, "status");
	if (status && !json_is_null(status) && !task_status_valid(json_string_value(status))) {
		reply_err(r, 400, 12, "Validation error (invalid task status): status=%s",
		          json_string_value(status) ? json_string_value(status) : "?");
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_t *fields = NULL;
	if (!force && strcmp(old, "created") != 0) {
		reply_err(r, 400, 110, "Invalid task status (Task is not in created status, use force "
		          "to edit): status=%s", old);
		goto fail;
	}
	fields = json_object();
	const json_t *b = q->body;
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
		legacy_inputs(q, e, t);
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
		                 ? json_object() : norm_hyperparams(json_object_get(b, "hyperparams"), r);
		if (!hp)
			goto fail;
		json_object_set_new(t, "hyperparams", hp);
		json_object_set(fields, "hyperparams", hp);
	}
	if (json_object_get(b, "configuration")) {
		json_t *cf = json_is_null(json_object_get(b, "configuration"))
		                 ? json_object() : norm_configuration(json_object_get(b, "configuration"), r);
		if (!cf)
			goto fail;
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
	if (json_is_string(status) && strcmp(json_string_value(status), old) != 0) {
		char now[48];
		db_now_iso(now, sizeof(now));
		json_object_set(t, "status", status);
		json_object_set_new(t, "status_changed", json_string(now));
		json_object_set(fields, "status", status);
	}
	stamp(t, fields, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	if (rc <= 0) {
		if (rc == 0)
			reply_err(r, 400, 121, "Failed changing task status (task changed meanwhile)");
		else
			reply_err(r, 500, 100, "General data error (saving task)");
		goto fail;
	}
	if (commit(q, r) != 0)
		goto out;
	reply_data(r, json_pack("{s:i,s:O}", "updated", 1, "fields", fields));
	goto out;
fail:
	db_rollback(q->db);
out:
	json_decref(fields);
	json_decref(t);
}

static void
tasks_update(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	if (check_fields(q, r, 0) != 0 || check_refs(q, r, q->body) != 0)
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_t *fields = json_object();
	static const char *const plain[] = {"name", "comment", "project", "created", "status_message",
	                                    NULL};
	for (const char *const *k = plain; *k; k++) {
		json_t *v = json_object_get(q->body, *k);
		if (!v || (!json_is_string(v) && !json_is_null(v)))
			continue;
		json_object_set(t, *k, v);
		json_object_set(fields, *k, v);
	}
	static const char *const tags[] = {"tags", "system_tags", NULL};
	for (const char *const *k = tags; *k; k++) {
		json_t *v = json_object_get(q->body, *k);
		if (!v)
			continue;
		json_object_set_new(t, *k, sorted_tags(v));
		json_object_set(fields, *k, json_object_get(t, *k));
	}
	json_t *err = json_object_get(q->body, "output__error");
	if (json_is_string(err)) {
		json_t *o = json_object_get(t, "output");
		if (!json_is_object(o)) {
			o = json_object();
			json_object_set_new(t, "output", o);
		}
		json_object_set(o, "error", err);
		json_object_set(fields, "output.error", err);
	}
	int only_user_fields = 1;
	stamp(t, fields, q->who, !only_user_fields);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc <= 0) {
		db_rollback(q->db);
		json_decref(fields);
		reply_err(r, rc == 0 ? 400 : 500, rc == 0 ? 121 : 100,
		          rc == 0 ? "Failed changing task status (task changed meanwhile)"
		                  : "General data error (saving task)");
		return;
	}
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	reply_data(r, json_pack("{s:i,s:o}", "updated", 1, "fields", fields));
}

/* ---------------------------------------------------------------- status endpoints */

/* Shared body of started/stopped/completed/failed/close: one transition with extras. */
static void
simple_status(struct req *q, struct reply *r, const char *new_status, json_t *extra,
              const char *count_key)
{
	struct common c;
	if (common_args(q, r, &c) != 0) {
		json_decref(extra);
		return;
	}
	if (begin(q, r) != 0) {
		json_decref(extra);
		return;
	}
	json_t *t = task_for_write(q, r, c.task);
	json_t *fields = NULL;
	if (!t || change_status(q, r, t, new_status, c.force, c.reason, c.message, extra, &fields) != 0) {
		db_rollback(q->db);
		json_decref(t);
		json_decref(extra);
		return;
	}
	json_decref(t);
	json_decref(extra);
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	json_t *d = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	if (count_key)
		json_object_set_new(d, count_key, json_integer(1));
	reply_data(r, d);
}

static void
tasks_started(struct req *q, struct reply *r)
{
	const char *id = json_string_value(json_object_get(q->body, "task"));
	json_t *extra = json_object();
	json_t *t = id ? task_load(q->db, id) : NULL;
	if (!sget(t, "started")) {
		char now[48];
		db_now_iso(now, sizeof(now));
		json_object_set_new(extra, "started", json_string(now));
	}
	json_decref(t);
	simple_status(q, r, "in_progress", extra, "started");
}

static void
tasks_stopped(struct req *q, struct reply *r)
{
	char now[48];
	db_now_iso(now, sizeof(now));
	simple_status(q, r, "stopped", json_pack("{s:s}", "completed", now), NULL);
}

static void
tasks_failed(struct req *q, struct reply *r)
{
	simple_status(q, r, "failed", json_object(), NULL);
}

static void
tasks_close(struct req *q, struct reply *r)
{
	simple_status(q, r, "closed", json_object(), NULL);
}

/* Publish inside the caller's transaction. */
static int
do_publish(struct req *q, struct reply *r, json_t *t, const struct common *c, json_t **fields)
{
	const char *cur = sget(t, "status");
	if (!c->force && !task_status_allowed(cur, "published")) {
		reply_err(r, 400, 110, "Invalid task status (Invalid status change): current_status=%s, "
		          "new_status=published", cur);
		return -1;
	}
	char now[48];
	db_now_iso(now, sizeof(now));
	json_t *extra = json_pack("{s:s}", "published", now);
	int rc = change_status(q, r, t, "published", 1, c->reason, c->message, extra, fields);
	json_decref(extra);
	return rc;
}

static void
tasks_completed(struct req *q, struct reply *r)
{
	struct common c;
	int publish = 0;
	if (common_args(q, r, &c) != 0 || req_bool(q, r, "publish", 0, &publish) != 0)
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, c.task);
	char now[48];
	db_now_iso(now, sizeof(now));
	json_t *extra = json_pack("{s:s}", "completed", now);
	json_t *fields = NULL, *pf = NULL;
	int ok = t && change_status(q, r, t, "completed", c.force, c.reason, c.message, extra, &fields) == 0;
	json_decref(extra);
	if (ok && publish) {
		struct common pc = c;
		pc.force = 0;
		ok = do_publish(q, r, t, &pc, &pf) == 0;
		if (ok)
			json_object_update(fields, pf);
		json_decref(pf);
	}
	json_decref(t);
	if (!ok) {
		db_rollback(q->db);
		json_decref(fields);
		return;
	}
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	reply_data(r, json_pack("{s:i,s:o,s:i}", "updated", 1, "fields", fields, "published",
	                        publish ? 1 : 0));
}

static void
tasks_publish(struct req *q, struct reply *r)
{
	struct common c;
	if (common_args(q, r, &c) != 0)
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, c.task);
	json_t *fields = NULL;
	if (!t || do_publish(q, r, t, &c, &fields) != 0) {
		db_rollback(q->db);
		json_decref(t);
		return;
	}
	json_decref(t);
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	reply_data(r, json_pack("{s:i,s:o,s:{}}", "updated", 1, "fields", fields,
	                        "committed_versions_results"));
}

/* Is a worker running this task right now (§2.4 tasks.stop)? */
static int
run_by_worker(struct req *q, const json_t *t)
{
	const char *w = sget(t, "last_worker");
	const char *lu = sget(t, "last_worker_report") ? sget(t, "last_worker_report")
	                                                : sget(t, "last_update");
	const char *lu2 = sget(t, "last_update");
	int64_t now_us = now_ms() * 1000;
	if (w && *w) {
		int64_t a = lu ? iso_time_parse(lu) : -1, b = lu2 ? iso_time_parse(lu2) : -1;
		int64_t last = a > b ? a : b;
		if (last > 0 && now_us - last < (int64_t)600 * 1000000)
			return 1;
	}
	return workers_task_has_live_worker(q->db, sget(t, "id"), now_ms());
}

static void
tasks_stop(struct req *q, struct reply *r)
{
	struct common c;
	if (common_args(q, r, &c) != 0)
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, c.task);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	const char *cur = sget(t, "status");
	int queued = !strcmp(cur, "queued");
	int set_stopped = queued || has_tag(t, "system_tags", "development") || !run_by_worker(q, t);
	json_t *fields = NULL;
	json_t *extra = json_object();
	int rc;
	if (set_stopped) {
		if (queued)
			queue_remove_task(q->db, NULL, c.task);
		char *msg = xasprintf("Stopped by %s", *q->who->user_name ? q->who->user_name : q->who->user);
		rc = change_status(q, r, t, "stopped", c.force, c.reason, msg, extra, &fields);
		free(msg);
	} else {
		char st[32];
		snprintf(st, sizeof(st), "%s", cur);
		rc = change_status(q, r, t, st, c.force, c.reason, "stopping", extra, &fields);
	}
	json_decref(extra);
	json_decref(t);
	if (rc != 0) {
		db_rollback(q->db);
		return;
	}
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	reply_data(r, json_pack("{s:i,s:o}", "updated", 1, "fields", fields));
}

static void
tasks_enqueue(struct req *q, struct reply *r)
{
	struct common c;
	const char *queue = NULL, *queue_name = NULL;
	int update_exec = 1, verify = 0;
	if (common_args(q, r, &c) || req_str(q, r, "queue", 0, &queue) ||
	    req_str(q, r, "queue_name", 0, &queue_name) ||
	    req_bool(q, r, "update_execution_queue", 0, &update_exec) ||
	    req_bool(q, r, "verify_watched_queue", 0, &verify))
		return;
	if (queue && *queue && queue_name && *queue_name) {
		reply_err(r, 400, 12, "Validation error (only one of queue and queue_name may be given)");
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, c.task);
	json_t *fields = NULL, *extra = NULL;
	if (!t)
		goto fail;
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	if (!c.force && !task_status_allowed(old, "queued")) {
		reply_err(r, 400, 110, "Invalid task status (Invalid status change): current_status=%s, "
		          "new_status=queued", old);
		goto fail;
	}
	char qid[33];
	if (queue_resolve_for_enqueue(q->db, q->who, queue && *queue ? queue : NULL,
	                              queue_name && *queue_name ? queue_name : NULL, qid, r) != 0)
		goto fail;
	/* 706 when it is already in that queue; else take it out of every queue, then add it. */
	if (queue_add_task(q->db, qid, c.task, r) != 0)
		goto fail;
	queue_remove_task(q->db, NULL, c.task);
	if (queue_add_task(q->db, qid, c.task, r) != 0)
		goto fail;
	remove_tag(t, "system_tags", "development");
	extra = json_object();
	const char *prev_enqueue = sget(t, "enqueue_status");
	json_object_set_new(extra, "enqueue_status",
	                    json_string(!strcmp(old, "queued") && prev_enqueue ? prev_enqueue : old));
	if (update_exec)
		json_object_set_new(extra, "execution.queue", json_string(qid));
	json_object_set(extra, "system_tags", json_object_get(t, "system_tags"));
	if (change_status(q, r, t, "queued", 1, c.reason, c.message, extra, &fields) != 0)
		goto fail;
	json_object_del(fields, "system_tags");
	json_decref(extra);
	json_decref(t);
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	json_t *d = json_pack("{s:i,s:i,s:o}", "queued", 1, "updated", 1, "fields", fields);
	if (verify)
		json_object_set_new(d, "queue_watched", json_false());
	reply_data(r, d);
	return;
fail:
	db_rollback(q->db);
	json_decref(extra);
	json_decref(t);
}

static void
tasks_dequeue(struct req *q, struct reply *r)
{
	const char *id, *reason = "", *message = "", *new_status = NULL;
	int all = 0;
	if (req_str(q, r, "task", 1, &id) || req_str(q, r, "status_reason", 0, &reason) ||
	    req_str(q, r, "status_message", 0, &message) ||
	    req_bool(q, r, "remove_from_all_queues", 0, &all) ||
	    req_str(q, r, "new_status", 0, &new_status))
		return;
	if (new_status && !task_status_valid(new_status)) {
		reply_err(r, 400, 12, "Validation error (invalid task status): new_status=%s", new_status);
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_load(q->db, id);
	const char *company = sget(t, "company");
	if (!t || !company || strcmp(company, q->who->company) != 0) {
		/* unknown task: still cleaned out of every queue, nothing else to update */
		queue_remove_task(q->db, NULL, id);
		json_decref(t);
		if (commit(q, r) == 0)
			reply_data(r, json_pack("{s:i,s:i}", "dequeued", 1, "updated", 0));
		return;
	}
	const char *eq = sget(json_object_get(t, "execution"), "queue");
	if (eq && *eq)
		queue_remove_task(q->db, eq, id);
	if (all)
		queue_remove_task(q->db, NULL, id);
	const char *cur = sget(t, "status");
	json_t *fields = NULL;
	int updated = 0;
	if (!strcmp(cur, "queued") || !strcmp(cur, "in_progress")) {
		const char *target = new_status ? new_status
		                     : sget(t, "enqueue_status") ? sget(t, "enqueue_status") : "created";
		char tgt[32];
		snprintf(tgt, sizeof(tgt), "%s", target);
		json_t *extra = json_pack("{s:n}", "enqueue_status");
		int rc = change_status(q, r, t, tgt, 1, reason, message, extra, &fields);
		json_decref(extra);
		if (rc != 0) {
			db_rollback(q->db);
			json_decref(t);
			return;
		}
		updated = 1;
	}
	json_decref(t);
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	json_t *d = json_pack("{s:i,s:i}", "dequeued", 1, "updated", updated);
	json_object_set_new(d, "fields", fields ? fields : json_object());
	reply_data(r, d);
}

static void
tasks_reset(struct req *q, struct reply *r)
{
	struct common c;
	int clear_all = 0, return_urls = 0;
	if (common_args(q, r, &c) || req_bool(q, r, "clear_all", 0, &clear_all) ||
	    req_bool(q, r, "return_file_urls", 0, &return_urls))
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, c.task);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	if (!c.force && !strcmp(sget(t, "status"), "published")) {
		db_rollback(q->db);
		json_decref(t);
		reply_err(r, 400, 110, "Invalid task status (Cannot reset a published task, use force): "
		          "status=published");
		return;
	}
	int removed = queue_remove_task(q->db, NULL, c.task);
	if (events_delete_for_task(q->db, c.task) < 0) {
		db_rollback(q->db);
		json_decref(t);
		reply_err(r, 500, 100, "General data error (deleting task events)");
		return;
	}
	static const char *const drop[] = {"last_metrics", "metric_stats", "last_worker",
	                                   "last_worker_report", "started", "completed", "published",
	                                   "active_duration", "enqueue_status", NULL};
	for (const char *const *k = drop; *k; k++)
		json_object_del(t, *k);
	json_object_set_new(t, "last_iteration", json_integer(0));
	json_object_set_new(t, "runtime", json_object());
	json_t *models = json_object_get(t, "models");
	if (json_is_object(models))
		json_object_set_new(models, "output", json_array());
	json_t *out = json_object_get(t, "output");
	if (json_is_object(out)) {
		json_object_del(out, "result");
		json_object_del(out, "error");
		json_object_del(out, "model");
	}
	json_t *exec = json_object_get(t, "execution");
	if (json_is_object(exec)) {
		json_object_del(exec, "queue");
		json_t *arts = json_object_get(exec, "artifacts");
		for (size_t i = json_array_size(arts); i > 0; i--) {
			const char *mode = sget(json_array_get(arts, i - 1), "mode");
			if (!mode || strcmp(mode, "input") != 0)
				json_array_remove(arts, i - 1);
		}
	}
	if (clear_all) {
		json_object_set_new(t, "execution", json_pack("{s:[],s:i}", "artifacts", "test_split", 0));
		json_object_del(t, "script");
	}
	json_t *fields = NULL;
	json_t *extra = json_object();
	int rc = change_status(q, r, t, "created", 1, "reset", "reset", extra, &fields);
	json_decref(extra);
	json_decref(t);
	if (rc != 0) {
		db_rollback(q->db);
		return;
	}
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	json_t *d = json_pack("{s:i,s:o,s:i}", "updated", 1, "fields", fields, "deleted_models", 0);
	json_object_set_new(d, "dequeued", removed > 0 ? json_pack("{s:i}", "removed", removed)
	                                                : json_object());
	json_object_set_new(d, "urls", return_urls ? json_pack("{s:[],s:[],s:[]}", "model_urls",
	                                                       "event_urls", "artifact_urls")
	                                           : json_null());
	reply_data(r, d);
}

static void
tasks_delete(struct req *q, struct reply *r)
{
	struct common c;
	int return_urls = 0;
	if (common_args(q, r, &c) || req_bool(q, r, "return_file_urls", 0, &return_urls))
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, c.task);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	const char *cur = sget(t, "status");
	if (!c.force && strcmp(cur, "created") != 0 && !has_tag(t, "system_tags", "archived")) {
		db_rollback(q->db);
		reply_err(r, 400, 123, "Task cannot be deleted (only created or archived tasks can be "
		          "deleted without force): id=%s, status=%s", c.task, cur);
		json_decref(t);
		return;
	}
	json_decref(t);
	queue_remove_task(q->db, NULL, c.task);
	int children = 0;
	sqlite3_stmt *st = db_stmt(q->db, "SELECT id FROM tasks WHERE json_extract(doc, '$.parent') = ?");
	json_t *kids = json_array();
	if (st) {
		sqlite3_bind_text(st, 1, c.task, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(kids, json_string((const char *)sqlite3_column_text(st, 0)));
		db_stmt_done(st);
	}
	size_t i;
	json_t *k;
	char *dead = xasprintf("__DELETED__%s", c.task);
	json_array_foreach(kids, i, k) {
		json_t *kt = task_load(q->db, json_string_value(k));
		if (kt) {
			json_object_set_new(kt, "parent", json_string(dead));
			if (task_save(q->db, kt) == 0)
				children++;
			json_decref(kt);
		}
	}
	free(dead);
	json_decref(kids);
	if (events_delete_for_task(q->db, c.task) < 0 || task_delete_row(q->db, c.task) != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (deleting task)");
		return;
	}
	if (commit(q, r) != 0)
		return;
	json_t *d = json_pack("{s:b,s:i,s:i,s:i}", "deleted", 1, "updated_children", children,
	                      "updated_models", 0, "deleted_models", 0);
	json_object_set_new(d, "urls", return_urls ? json_pack("{s:[],s:[],s:[]}", "model_urls",
	                                                       "event_urls", "artifact_urls")
	                                           : json_null());
	reply_data(r, d);
}

static void
tasks_clone(struct req *q, struct reply *r)
{
	const char *id, *s = NULL;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	static const char *const strs[] = {"new_task_name", "new_task_comment", "new_task_parent",
	                                   "new_task_project", "new_project_name", NULL};
	for (const char *const *k = strs; *k; k++)
		if (req_str(q, r, *k, 0, &s) != 0)
			return;
	if (begin(q, r) != 0)
		return;
	json_t *src = task_for_read(q, r, id);
	if (!src) {
		db_rollback(q->db);
		return;
	}
	const json_t *b = q->body;
	char nid[33], now[48];
	gen_hex_id(nid);
	db_now_iso(now, sizeof(now));
	json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "id", nid, "status", "created",
	                      "user", q->who->user, "company", q->who->company, "created", now,
	                      "last_update", now, "last_change", now, "last_changed_by", q->who->user,
	                      "last_iteration", 0);
	static const char *const copy[] = {"type", "script", "hyperparams", "configuration",
	                                   "container", "project", "comment", "tags", NULL};
	for (const char *const *k = copy; *k; k++)
		if (json_object_get(src, *k))
			json_object_set_new(t, *k, json_deep_copy(json_object_get(src, *k)));
	json_object_set_new(t, "name", json_string(sget(b, "new_task_name") ? sget(b, "new_task_name")
	                                                                   : sget(src, "name")));
	json_t *st = json_deep_copy(json_object_get(src, "system_tags"));
	if (!st)
		st = json_array();
	json_object_set_new(t, "system_tags", st);
	remove_tag(t, "system_tags", "development");
	remove_tag(t, "system_tags", "archived");
	json_t *exec = json_is_object(json_object_get(src, "execution"))
	                   ? json_deep_copy(json_object_get(src, "execution")) : json_object();
	json_object_del(exec, "queue");
	json_t *arts = json_object_get(exec, "artifacts");
	for (size_t i = json_array_size(arts); i > 0; i--) {
		const char *mode = sget(json_array_get(arts, i - 1), "mode");
		if (!mode || strcmp(mode, "input") != 0)
			json_array_remove(arts, i - 1);
	}
	json_t *ov = json_object_get(b, "execution_overrides");
	if (json_is_object(ov))
		json_object_update(exec, ov);
	json_object_set_new(t, "execution", exec);
	json_t *models = json_pack("{s:O,s:[]}", "input",
	                           json_is_array(json_object_get(json_object_get(src, "models"), "input"))
	                               ? json_object_get(json_object_get(src, "models"), "input")
	                               : json_array(), "output");
	/* json_pack "O" on a fresh array above leaks nothing: the fallback is owned by the pack */
	json_object_set_new(t, "models", models);
	const char *dest = sget(json_object_get(src, "output"), "destination");
	json_object_set_new(t, "output", dest ? json_pack("{s:s}", "destination", dest) : json_object());
	json_object_set_new(t, "runtime", json_object());
	const char *parent = sget(src, "parent") ? sget(src, "parent") : id;
	json_object_set_new(t, "parent", json_string(sget(b, "new_task_parent") ? sget(b, "new_task_parent")
	                                                                       : parent));
	static const struct {
		const char *from, *to;
	} over[] = {{"new_task_comment", "comment"}, {"new_task_tags", "tags"},
	            {"new_task_system_tags", "system_tags"}, {"new_task_project", "project"},
	            {"new_task_hyperparams", "hyperparams"},
	            {"new_task_configuration", "configuration"},
	            {"new_task_container", "container"}, {"new_task_input_models", "models.input"}};
	for (size_t i = 0; i < ARRAY_LEN(over); i++) {
		json_t *v = json_object_get(b, over[i].from);
		if (!v || json_is_null(v))
			continue;
		if (!strcmp(over[i].to, "models.input"))
			json_object_set(json_object_get(t, "models"), "input", v);
		else if (!strcmp(over[i].to, "tags") || !strcmp(over[i].to, "system_tags"))
			json_object_set_new(t, over[i].to, sorted_tags(v));
		else
			json_object_set(t, over[i].to, v);
	}
	json_t *data = json_pack("{s:s}", "id", nid);
	const char *pname = sget(b, "new_project_name");
	if (pname && *pname) {
		char pid[33];
		if (project_create(q->db, q->who, pname, NULL, pid, r) != 0) {
			db_rollback(q->db);
			json_decref(t);
			json_decref(src);
			json_decref(data);
			return;
		}
		json_object_set_new(t, "project", json_string(pid));
		json_object_set_new(data, "new_project", json_pack("{s:s,s:s}", "id", pid, "name", pname));
	}
	json_decref(src);
	const char *proj = sget(t, "project");
	if (proj && *proj && !project_visible(q->db, q->who, proj)) {
		db_rollback(q->db);
		json_decref(t);
		json_decref(data);
		reply_err(r, 400, 16, "Fields value error (expecting Project id): project=%s", proj);
		return;
	}
	if (task_save(q->db, t) != 0) {
		db_rollback(q->db);
		json_decref(t);
		json_decref(data);
		reply_err(r, 500, 100, "General data error (saving task)");
		return;
	}
	json_decref(t);
	if (commit(q, r) != 0) {
		json_decref(data);
		return;
	}
	reply_data(r, data);
}

static void
tasks_ping(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_load(q->db, id);
	const char *company = sget(t, "company");
	if (t && company && !strcmp(company, q->who->company)) {
		char now[48];
		db_now_iso(now, sizeof(now));
		json_object_set_new(t, "last_update", json_string(now));
		json_object_set_new(t, "last_change", json_string(now));
		if (!strcmp(sget(t, "status"), "in_progress") && sget(t, "started")) {
			int64_t st = iso_time_parse(sget(t, "started"));
			if (st > 0)
				json_object_set_new(t, "active_duration",
				                    json_integer((json_int_t)((now_ms() * 1000 - st) / 1000000)));
		}
		task_save(q->db, t);
	}
	json_decref(t);
	if (commit(q, r) == 0)
		reply_data(r, json_object());
}

static void
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
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	json_t *script = json_object_get(t, "script");
	if (!json_is_object(script)) {
		db_rollback(q->db);
		json_decref(t);
		reply_err(r, 400, 122, "Task is missing fields (script): id=%s", id);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_object_set(script, "requirements", req);
	json_t *fields = json_pack("{s:O}", "script.requirements", req);
	stamp(t, fields, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		json_decref(fields);
		reply_err(r, rc == 0 ? 400 : 500, rc == 0 ? 121 : 100, "Failed saving task requirements");
		return;
	}
	if (commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	reply_data(r, json_pack("{s:i,s:o}", "updated", 1, "fields", fields));
}

/* ---------------------------------------------------------------- hyper-parameters, config */

static int
cmp_params(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(sget(x, "section") ? sget(x, "section") : "", sget(y, "section") ? sget(y, "section") : "");
	return c ? c : strcmp(sget(x, "name") ? sget(x, "name") : "", sget(y, "name") ? sget(y, "name") : "");
}

static void
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

static void
tasks_edit_hyper_params(struct req *q, struct reply *r)
{
	const char *id, *replace = "none";
	int force = 0;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &force) ||
	    req_str(q, r, "replace_hyperparams", 0, &replace))
		return;
	json_t *items = json_object_get(q->body, "hyperparams");
	if (!json_is_array(items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=hyperparams");
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e) {
		json_t *val = json_object_get(e, "value");
		if (!sget(e, "section") || !sget(e, "name") || (val && !json_is_string(val) && !json_is_null(val))) {
			reply_err(r, 400, 12, "Validation error (hyperparams items need section, name and a "
			          "string value): item=%zu", i);
			return;
		}
	}
	if (strcmp(replace, "none") && strcmp(replace, "section") && strcmp(replace, "all")) {
		reply_err(r, 400, 12, "Validation error (replace_hyperparams must be none, section or all)");
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	int props = all_properties(items, "section");
	if (!t || !params_editable(r, t, force, props)) {
		db_rollback(q->db);
		json_decref(t);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_t *hp = json_object_get(t, "hyperparams");
	if (!json_is_object(hp) || !strcmp(replace, "all")) {
		hp = json_object();
		json_object_set_new(t, "hyperparams", hp);
	}
	if (!strcmp(replace, "section"))
		json_array_foreach(items, i, e) json_object_del(hp, sget(e, "section"));
	json_array_foreach(items, i, e) {
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
	stamp(t, NULL, q->who, !props);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving hyperparams (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "updated", 1));
}

static void
tasks_delete_hyper_params(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &force))
		return;
	json_t *items = json_object_get(q->body, "hyperparams");
	if (!json_is_array(items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=hyperparams");
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	int props = all_properties(items, "section");
	if (!t || !params_editable(r, t, force, props)) {
		db_rollback(q->db);
		json_decref(t);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_t *hp = json_object_get(t, "hyperparams");
	int deleted = 0;
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e) {
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
	stamp(t, NULL, q->who, !props);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving hyperparams (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "deleted", deleted));
}

static void
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

static void
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

static void
tasks_edit_configuration(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0, replace = 0;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &force) ||
	    req_bool(q, r, "replace_configuration", 0, &replace))
		return;
	json_t *items = json_object_get(q->body, "configuration");
	if (!json_is_array(items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=configuration");
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e) {
		if (!sget(e, "name")) {
			reply_err(r, 400, 12, "Validation error (configuration items need a name): item=%zu", i);
			return;
		}
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t || !params_editable(r, t, force, 0)) {
		db_rollback(q->db);
		json_decref(t);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_t *cf = json_object_get(t, "configuration");
	if (!json_is_object(cf) || replace) {
		cf = json_object();
		json_object_set_new(t, "configuration", cf);
	}
	json_array_foreach(items, i, e)
		json_object_set_new(cf, sget(e, "name"), json_deep_copy(e));
	stamp(t, NULL, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving configuration (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "updated", 1));
}

static void
tasks_delete_configuration(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0;
	if (req_str(q, r, "task", 1, &id) || req_bool(q, r, "force", 0, &force))
		return;
	json_t *names = json_object_get(q->body, "configuration");
	if (!is_str_list(names)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=configuration");
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t || !params_editable(r, t, force, 0)) {
		db_rollback(q->db);
		json_decref(t);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_t *cf = json_object_get(t, "configuration");
	int deleted = 0;
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n)
		if (json_object_del(cf, json_string_value(n)) == 0)
			deleted++;
	stamp(t, NULL, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving configuration (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "deleted", deleted));
}

/* ---------------------------------------------------------------- artifacts, models */

static int
cmp_artifacts(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(sget(x, "key") ? sget(x, "key") : "", sget(y, "key") ? sget(y, "key") : "");
	return c ? c : strcmp(sget(x, "mode") ? sget(x, "mode") : "", sget(y, "mode") ? sget(y, "mode") : "");
}

static void
sort_artifacts(json_t *exec)
{
	json_t *arts = json_object_get(exec, "artifacts");
	size_t n = json_array_size(arts);
	json_t **items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(arts, i));
	qsort(items, n, sizeof(*items), cmp_artifacts);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, items[i]);
	free(items);
	json_object_set_new(exec, "artifacts", out);
}

static void
tasks_add_or_update_artifacts(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	json_t *items = json_object_get(q->body, "artifacts");
	if (!json_is_array(items) || json_array_size(items) == 0) {
		reply_err(r, 400, 12, "Validation error (artifacts: at least one item is required)");
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e) {
		const char *mode = sget(e, "mode");
		if (!sget(e, "key") || !sget(e, "type") ||
		    (mode && strcmp(mode, "input") != 0 && strcmp(mode, "output") != 0)) {
			reply_err(r, 400, 12, "Validation error (artifacts need key, type and mode "
			          "input|output): item=%zu", i);
			return;
		}
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	const char *st = sget(t, "status");
	if (strcmp(st, "created") != 0 && strcmp(st, "in_progress") != 0) {
		db_rollback(q->db);
		reply_err(r, 400, 110, "Invalid task status (artifacts can change only in created or "
		          "in_progress status): status=%s", st);
		json_decref(t);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", st);
	json_t *exec = json_object_get(t, "execution");
	if (!json_is_object(exec)) {
		exec = json_object();
		json_object_set_new(t, "execution", exec);
	}
	json_t *arts = json_object_get(exec, "artifacts");
	if (!json_is_array(arts)) {
		arts = json_array();
		json_object_set_new(exec, "artifacts", arts);
	}
	json_array_foreach(items, i, e) {
		json_t *a = json_deep_copy(e);
		if (!sget(a, "mode"))
			json_object_set_new(a, "mode", json_string("output"));
		size_t k;
		json_t *x;
		int replaced = 0;
		json_array_foreach(arts, k, x) {
			if (!strcmp(sget(x, "key") ? sget(x, "key") : "", sget(a, "key")) &&
			    !strcmp(sget(x, "mode") ? sget(x, "mode") : "output", sget(a, "mode"))) {
				json_array_set(arts, k, a);
				replaced = 1;
				break;
			}
		}
		if (!replaced)
			json_array_append(arts, a);
		json_decref(a);
	}
	sort_artifacts(exec);
	stamp(t, NULL, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving artifacts (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "updated", 1));
}

static void
tasks_delete_artifacts(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	json_t *items = json_object_get(q->body, "artifacts");
	if (!json_is_array(items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=artifacts");
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	json_t *arts = json_object_get(json_object_get(t, "execution"), "artifacts");
	int deleted = 0;
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e) {
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
	stamp(t, NULL, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving artifacts (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "deleted", deleted));
}

static void
tasks_add_or_update_model(struct req *q, struct reply *r)
{
	const char *id, *name, *model, *type;
	long long iteration = -1;
	if (req_str(q, r, "task", 1, &id) || req_str(q, r, "name", 1, &name) ||
	    req_str(q, r, "model", 1, &model) || req_str(q, r, "type", 1, &type) ||
	    req_int(q, r, "iteration", 0, &iteration))
		return;
	if (strcmp(type, "input") != 0 && strcmp(type, "output") != 0) {
		reply_err(r, 400, 12, "Validation error (type must be input or output): type=%s", type);
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	char old[32], now[48];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	db_now_iso(now, sizeof(now));
	json_t *models = json_object_get(t, "models");
	if (!json_is_object(models)) {
		models = json_object();
		json_object_set_new(t, "models", models);
	}
	json_t *list = json_object_get(models, type);
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(models, type, list);
	}
	json_t *item = json_pack("{s:s,s:s,s:s}", "name", name, "model", model, "updated", now);
	if (iteration >= 0)
		json_object_set_new(item, "iteration", json_integer(iteration));
	size_t i;
	json_t *e;
	int replaced = 0;
	json_array_foreach(list, i, e) {
		if (sget(e, "name") && !strcmp(sget(e, "name"), name)) {
			json_array_set(list, i, item);
			replaced = 1;
			break;
		}
	}
	if (!replaced)
		json_array_append(list, item);
	json_decref(item);
	stamp(t, NULL, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving models (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "updated", 1));
}

static void
tasks_delete_models(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	json_t *items = json_object_get(q->body, "models");
	if (!json_is_array(items)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=models");
		return;
	}
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	int n = 0;
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e) {
		const char *name = sget(e, "name"), *type = sget(e, "type");
		json_t *list = type ? json_object_get(json_object_get(t, "models"), type) : NULL;
		for (size_t k = json_array_size(list); name && k > 0; k--)
			if (sget(json_array_get(list, k - 1), "name") &&
			    !strcmp(sget(json_array_get(list, k - 1), "name"), name)) {
				json_array_remove(list, k - 1);
				n++;
			}
	}
	stamp(t, NULL, q->who, 1);
	int rc = task_save_if_status(q->db, t, old);
	json_decref(t);
	if (rc != 1) {
		db_rollback(q->db);
		reply_err(r, 400, 121, "Failed saving models (task changed meanwhile)");
		return;
	}
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", "updated", n));
}

static void
tasks_get_types(struct req *q, struct reply *r)
{
	(void)q;
	json_t *types = json_array();
	for (const char *const *t = task_types; *t; t++)
		json_array_append_new(types, json_string(*t));
	reply_data(r, json_pack("{s:o}", "types", types));
}

/* ---------------------------------------------------------------- batch calls */

/* Run a single-task handler with body = item (the caller's request otherwise). r_item gets its
 * reply; the caller owns and clears it. */
static void
run_single(struct req *q, handler_fn fn, json_t *item, struct reply *r_item)
{
	struct req sub = *q;
	sub.body = item;
	sub.batch = NULL;
	fn(&sub, r_item);
}

static void
tasks_update_batch(struct req *q, struct reply *r)
{
	json_t *items = q->batch;
	if (!items && json_object_get(q->body, "task"))
		items = json_pack("[O]", q->body);
	else
		json_incref(items);
	if (json_array_size(items) == 0) {
		json_decref(items);
		reply_err(r, 400, 17, "Batch request contains no items");
		return;
	}
	int updated = 0;
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		struct reply one = {0};
		run_single(q, tasks_update, item, &one);
		if (!one.code || one.code == 200)
			updated++;
		reply_clear(&one);
	}
	json_decref(items);
	reply_data(r, json_pack("{s:i}", "updated", updated));
}

/* {ids*: [...], ...options} → {succeeded: [{id, ...}], failed: [{id, error: {codes, msg, data}}]} */
static void
many(struct req *q, struct reply *r, handler_fn fn)
{
	json_t *ids = json_object_get(q->body, "ids");
	if (!is_str_list(ids) || json_array_size(ids) == 0) {
		reply_err(r, 400, 12, "Validation error (ids: a non-empty list of task ids is required)");
		return;
	}
	json_t *ok = json_array(), *bad = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *item = json_deep_copy(q->body);
		json_object_del(item, "ids");
		json_object_set(item, "task", idv);
		struct reply one = {0};
		run_single(q, fn, item, &one);
		if (!one.code || one.code == 200) {
			json_t *d = one.data ? json_deep_copy(one.data) : json_object();
			json_object_set(d, "id", idv);
			json_array_append_new(ok, d);
		} else {
			json_array_append_new(bad, json_pack("{s:O,s:{s:[i,i],s:s,s:{}}}", "id", idv, "error",
			                                     "codes", one.code, one.subcode, "msg",
			                                     one.msg ? one.msg : "", "data"));
		}
		reply_clear(&one);
		json_decref(item);
	}
	reply_data(r, json_pack("{s:o,s:o}", "succeeded", ok, "failed", bad));
}

/* archive / unarchive one task: the `archived` system tag; queued tasks are dequeued first. */
static void
set_archived(struct req *q, struct reply *r, int archive)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	if (begin(q, r) != 0)
		return;
	json_t *t = task_for_write(q, r, id);
	if (!t) {
		db_rollback(q->db);
		return;
	}
	char old[32];
	snprintf(old, sizeof(old), "%s", sget(t, "status"));
	int changed = has_tag(t, "system_tags", "archived") != archive;
	if (archive && !strcmp(old, "queued")) {
		queue_remove_task(q->db, NULL, id);
		const char *back = sget(t, "enqueue_status") ? sget(t, "enqueue_status") : "created";
		json_t *f = NULL, *extra = json_pack("{s:n}", "enqueue_status");
		char tgt[32];
		snprintf(tgt, sizeof(tgt), "%s", back);
		int rc = change_status(q, r, t, tgt, 1, "", "", extra, &f);
		json_decref(extra);
		json_decref(f);
		if (rc != 0) {
			db_rollback(q->db);
			json_decref(t);
			return;
		}
		snprintf(old, sizeof(old), "%s", sget(t, "status"));
	}
	if (changed) {
		json_t *st = json_object_get(t, "system_tags");
		if (!json_is_array(st)) {
			st = json_array();
			json_object_set_new(t, "system_tags", st);
		}
		if (archive)
			json_array_append_new(st, json_string("archived"));
		else
			remove_tag(t, "system_tags", "archived");
		json_object_set_new(t, "system_tags", sorted_tags(st));
		stamp(t, NULL, q->who, 0);
		if (task_save_if_status(q->db, t, old) != 1) {
			db_rollback(q->db);
			json_decref(t);
			reply_err(r, 400, 121, "Failed changing task (changed meanwhile)");
			return;
		}
	}
	json_decref(t);
	if (commit(q, r) == 0)
		reply_data(r, json_pack("{s:i}", archive ? "archived" : "unarchived", changed));
}

static void task_archive_one(struct req *q, struct reply *r) { set_archived(q, r, 1); }
static void task_unarchive_one(struct req *q, struct reply *r) { set_archived(q, r, 0); }

static void
tasks_archive(struct req *q, struct reply *r)
{
	json_t *ids = json_object_get(q->body, "tasks");
	if (!is_str_list(ids)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=tasks");
		return;
	}
	int n = 0;
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		json_t *item = json_pack("{s:O}", "task", idv);
		struct reply one = {0};
		run_single(q, task_archive_one, item, &one);
		json_decref(item);
		if (one.code && one.code != 200) {
			reply_err(r, one.code, one.subcode, "%s", one.msg ? one.msg : "");
			reply_clear(&one);
			return;
		}
		n += (int)json_integer_value(json_object_get(one.data, "archived"));
		reply_clear(&one);
	}
	reply_data(r, json_pack("{s:i}", "archived", n));
}

#define MANY(fn_many, fn_one) \
	static void fn_many(struct req *q, struct reply *r) { many(q, r, fn_one); }
MANY(tasks_stop_many, tasks_stop)
MANY(tasks_enqueue_many, tasks_enqueue)
MANY(tasks_dequeue_many, tasks_dequeue)
MANY(tasks_reset_many, tasks_reset)
MANY(tasks_delete_many, tasks_delete)
MANY(tasks_publish_many, tasks_publish)
MANY(tasks_archive_many, task_archive_one)
MANY(tasks_unarchive_many, task_unarchive_one)
#undef MANY

const struct endpoint svc_tasks_endpoints[] = {
	{"tasks.create", "1.0", 0, tasks_create},
	{"tasks.validate", "1.0", 0, tasks_validate},
	{"tasks.get_by_id", "1.0", 0, tasks_get_by_id},
	{"tasks.get_all", "1.0", 0, tasks_get_all},
	{"tasks.get_all_ex", "1.0", 0, tasks_get_all},
	{"tasks.get_by_id_ex", "1.0", 0, tasks_get_by_id_ex},
	{"tasks.edit", "1.0", 0, tasks_edit},
	{"tasks.update", "1.0", 0, tasks_update},
	{"tasks.enqueue", "1.5", 0, tasks_enqueue},
	{"tasks.dequeue", "1.5", 0, tasks_dequeue},
	{"tasks.started", "1.0", 0, tasks_started},
	{"tasks.stopped", "1.0", 0, tasks_stopped},
	{"tasks.stop", "1.0", 0, tasks_stop},
	{"tasks.completed", "2.2", 0, tasks_completed},
	{"tasks.failed", "1.0", 0, tasks_failed},
	{"tasks.close", "1.0", 0, tasks_close},
	{"tasks.publish", "1.0", 0, tasks_publish},
	{"tasks.reset", "1.0", 0, tasks_reset},
	{"tasks.delete", "1.0", 0, tasks_delete},
	{"tasks.clone", "1.0", 0, tasks_clone},
	{"tasks.ping", "1.0", 0, tasks_ping},
	{"tasks.set_requirements", "1.0", 0, tasks_set_requirements},
	{"tasks.get_hyper_params", "2.9", 0, tasks_get_hyper_params},
	{"tasks.edit_hyper_params", "2.9", 0, tasks_edit_hyper_params},
	{"tasks.delete_hyper_params", "2.9", 0, tasks_delete_hyper_params},
	{"tasks.get_configurations", "2.9", 0, tasks_get_configurations},
	{"tasks.get_configuration_names", "2.9", 0, tasks_get_configuration_names},
	{"tasks.edit_configuration", "2.9", 0, tasks_edit_configuration},
	{"tasks.delete_configuration", "2.9", 0, tasks_delete_configuration},
	{"tasks.add_or_update_artifacts", "2.10", 0, tasks_add_or_update_artifacts},
	{"tasks.delete_artifacts", "2.10", 0, tasks_delete_artifacts},
	{"tasks.add_or_update_model", "2.13", 0, tasks_add_or_update_model},
	{"tasks.delete_models", "2.13", 0, tasks_delete_models},
	{"tasks.get_types", "2.8", 0, tasks_get_types},
	{"tasks.update_batch", "1.0", 0, tasks_update_batch},
	{"tasks.archive", "2.12", 0, tasks_archive},
	{"tasks.stop_many", "2.13", 0, tasks_stop_many},
	{"tasks.enqueue_many", "2.13", 0, tasks_enqueue_many},
	{"tasks.dequeue_many", "2.13", 0, tasks_dequeue_many},
	{"tasks.reset_many", "2.13", 0, tasks_reset_many},
	{"tasks.delete_many", "2.13", 0, tasks_delete_many},
	{"tasks.publish_many", "2.13", 0, tasks_publish_many},
	{"tasks.archive_many", "2.13", 0, tasks_archive_many},
	{"tasks.unarchive_many", "2.13", 0, tasks_unarchive_many},
	{0},
};
