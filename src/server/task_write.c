/*
 * task_write — the one write skeleton of the task service and the document helpers its files
 * share.
 *
 * Every write is one transaction (db_begin … db_commit) that loads the task document, lets the
 * handler's mutation check the state machine of §3.3 (unless force) and change the document, and
 * saves it with the condition "status is still what we read" (400/121 when another writer won).
 * A handler says only what it changes; loading, permissions, the conditional save, rollback on
 * any error and the reply live here.
 */
#include <string.h>

#include "server/svc_tasks.h"
#include "util.h"

int
task_begin(struct req *q, struct reply *r)
{
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (database busy)");
		return -1;
	}
	return 0;
}

int
task_commit(struct req *q, struct reply *r)
{
	if (db_commit(q->db) != 0) {
		reply_err(r, 500, 100, "General data error (commit failed)");
		return -1;
	}
	return 0;
}

json_t *
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

json_t *
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

void
status_of(const json_t *t, char out[32])
{
	snprintf(out, 32, "%s", sget(t, "status") ? sget(t, "status") : "created");
}

int
task_write(struct req *q, struct reply *r, const char *task_id, const char *what,
           task_mutate_fn mutate, void *arg)
{
	struct task_write w = {.q = q, .r = r, .arg = arg};
	if (task_begin(q, r) != 0)
		return -1;
	w.task = task_for_write(q, r, task_id);
	if (!w.task)
		goto fail;
	status_of(w.task, w.status);
	int rc = mutate(&w);
	if (rc == TW_FAIL)
		goto fail;
	if (rc == TW_SAVE) {
		int saved = task_save_if_status(q->db, w.task, w.status);
		if (saved == 0) {
			reply_err(r, 400, 121, "Failed saving %s (task changed meanwhile)", what);
			goto fail;
		}
		if (saved < 0) {
			reply_err(r, 500, 100, "General data error (saving task)");
			goto fail;
		}
	}
	json_decref(w.task);
	if (task_commit(q, r) != 0) {
		json_decref(w.data);
		return -1;
	}
	reply_data(r, w.data ? w.data : json_object());
	return 0;
fail:
	if (!r->code || r->code == 200)
		reply_err(r, 500, 100, "General data error (%s)", what);
	db_rollback(q->db);
	json_decref(w.task);
	json_decref(w.data);
	return -1;
}

/* ---------------------------------------------------------------- document helpers */

int
has_tag(const json_t *task, const char *field, const char *tag)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(task, field), i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), tag))
			return 1;
	return 0;
}

void
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

json_t *
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

int
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

void
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

void
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

int
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

int
docs_set_public(struct req *q, struct reply *r, int enable, json_t *(*load)(sqlite3 *, const char *),
                int (*save)(sqlite3 *, const json_t *), int invalid_subcode, const char *what)
{
	json_t *ids = json_object_get(q->body, "ids");
	if (!is_str_list(ids)) {
		reply_err(r, 400, 12, "Validation error (required field missing): field=ids");
		return -1;
	}
	if (task_begin(q, r) != 0)
		return -1;
	size_t i;
	json_t *idv;
	json_t *docs = json_array();
	json_array_foreach(ids, i, idv) {
		json_t *d = load(q->db, json_string_value(idv));
		const char *c = sget(d, "company"), *origin = sget(d, "company_origin");
		int ok = d && c && (enable ? !strcmp(c, q->who->company)
		                           : !*c && origin && !strcmp(origin, q->who->company));
		if (!ok) {
			json_decref(d);
			json_decref(docs);
			db_rollback(q->db);
			reply_err(r, 400, invalid_subcode, "Invalid %s id: ids=%s", what,
			          json_string_value(idv));
			return -1;
		}
		json_array_append_new(docs, d);
	}
	int updated = 0, rc = 0;
	json_t *d;
	json_array_foreach(docs, i, d) {
		if (enable) {
			json_object_set(d, "company_origin", json_object_get(d, "company"));
			json_object_set_new(d, "company", json_string(""));
		} else {
			json_object_set(d, "company", json_object_get(d, "company_origin"));
			json_object_del(d, "company_origin");
		}
		stamp(d, NULL, q->who, 0);
		rc |= save(q->db, d);
		updated++;
	}
	json_decref(docs);
	if (rc != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "General data error (saving %s)", what);
		return -1;
	}
	if (task_commit(q, r) != 0)
		return -1;
	reply_data(r, json_pack("{s:i}", "updated", updated));
	return 0;
}

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of obj with its keys in sorted order (values shared). */
static json_t *
keys_sorted(json_t *obj)
{
	size_t n = json_object_size(obj), m = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
		keys[m++] = k;
	qsort(keys, m, sizeof(*keys), cmp_keys);
	json_t *out = json_object();
	for (size_t i = 0; i < m; i++)
		json_object_set(out, keys[i], json_object_get(obj, keys[i]));
	free(keys);
	return out;
}

void
last_metrics_sort(json_t *doc)
{
	json_t *lm = json_object_get(doc, "last_metrics");
	if (!json_is_object(lm))
		return;
	json_t *out = keys_sorted(lm);
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v)
		if (json_is_object(v))
			json_object_set_new(out, k, keys_sorted(v));
	json_object_set_new(doc, "last_metrics", out);
}
