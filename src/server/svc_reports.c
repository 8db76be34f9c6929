/*
 * svc_reports — the life of a report: create, update, move, publish, archive, unarchive, delete,
 * and the endpoint table of reports.* (the reads are in svc_reports_query.c).
 *
 * Reports are tasks (reports.h), so every write goes through the task service's skeleton
 * (task_write: one transaction, load for write, conditional save) after checking the task is a
 * report (400/150 otherwise). A report may only be edited while it is a draft (created); after
 * publishing, its name, tags and comment still may change, as upstream allows. The ".reports"
 * project a report lives in is found or created in the same transaction as the write, and one
 * left without tasks by a move or delete is removed in it too.
 */
#include <string.h>

#include "server/projects.h"
#include "server/reports.h"
#include "server/status_history.h"
#include "server/svc_tasks.h"
#include "util.h"

#define REPORT_MAX_LIST 10000      /* tags / report_assets entries */
#define REPORT_SHORTEN_WIDTH 100   /* the report text echoed in update's fields */

/* ---------------------------------------------------------------- input checks */

/* field, when present and not null, is a list of at most REPORT_MAX_LIST strings. */
static int
check_list(struct req *q, struct reply *r, const char *field)
{
	json_t *v = json_object_get(q->body, field);
	if (!v || json_is_null(v))
		return 0;
	if (!is_str_list(v) || json_array_size(v) > REPORT_MAX_LIST) {
		reply_err(r, 400, 12, "Validation error (expected a list of strings): field=%s", field);
		return -1;
	}
	return 0;
}

/* field, when present and not null, is a string (of at least 3 characters for a name). */
static int
check_text(struct req *q, struct reply *r, const char *field)
{
	json_t *v = json_object_get(q->body, field);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		reply_err(r, 400, 12, "Validation error (expected a string): field=%s", field);
		return -1;
	}
	if (!strcmp(field, "name") && json_string_length(v) < 3) {
		reply_err(r, 400, 12, "Validation error (name must be at least 3 characters)");
		return -1;
	}
	return 0;
}

static int
check_report_fields(struct req *q, struct reply *r)
{
	static const char *const texts[] = {"name", "comment", "report", NULL};
	static const char *const lists[] = {"tags", "report_assets", NULL};
	for (const char *const *k = texts; *k; k++)
		if (check_text(q, r, *k) != 0)
			return -1;
	for (const char *const *k = lists; *k; k++)
		if (check_list(q, r, *k) != 0)
			return -1;
	return 0;
}

/* The mutation's first step: the loaded task must be a report. */
static int
is_report(struct task_write *w)
{
	const char *type = sget(w->task, "type");
	if (type && !strcmp(type, REPORT_TYPE))
		return 1;
	reply_err(w->r, 400, 150, "Passed task is not report: id=%s", sget(w->task, "id"));
	return 0;
}

/* ---------------------------------------------------------------- the .reports projects */

/* id of the project named name in who's company into out, 1; 0 when none; -1 on error. */
static int
project_id_by_name(sqlite3 *db, const struct identity *who, const char *name, char out[33])
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id FROM projects WHERE company = ? AND name = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int rc = 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 1;
	}
	db_stmt_done(st);
	return rc;
}

/* The name of a project the caller may write (own company): 0 and *name (caller frees), or -1
 * with 400/401 (unknown or another company's) or 403/21 (public). */
static int
writable_project_name(struct req *q, struct reply *r, const char *id, char **name)
{
	json_t *p = project_load(q->db, id);
	const char *c = sget(p, "company"), *n = sget(p, "name");
	if (!p || !c || !n || (*c && strcmp(c, q->who->company) != 0)) {
		json_decref(p);
		reply_err(r, 400, 401, "Invalid project id: id=%s", id);
		return -1;
	}
	if (!*c) {
		json_decref(p);
		reply_err(r, 403, 21, "No write permission for public objects: id=%s", id);
		return -1;
	}
	*name = xstrdup(n);
	json_decref(p);
	return 0;
}

/*
 * The ".reports" project under base (a project name, "" for the root; base may already end in
 * ".reports"), found or created (hidden, tagged reports; missing parents created plain) inside
 * the caller's transaction. 0 and out, or -1 with r filled.
 */
static int
ensure_reports_project(struct req *q, struct reply *r, const char *base, char out[33])
{
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	while (n && *base == '/') {
		base++;
		n--;
	}
	const char *slash = memrchr(base, '/', n);
	const char *last = slash ? slash + 1 : base;
	size_t lastlen = n - (size_t)(last - base);
	char *name;
	if (lastlen == strlen(REPORTS_PROJECT) && !memcmp(last, REPORTS_PROJECT, lastlen))
		name = xstrndup(base, n);
	else if (n)
		name = xasprintf("%.*s/%s", (int)n, base, REPORTS_PROJECT);
	else
		name = xstrdup(REPORTS_PROJECT);
	int found = project_id_by_name(q->db, q->who, name, out);
	int rc = 0;
	if (found < 0) {
		reply_err(r, 500, 100, "General data error (reading projects)");
		rc = -1;
	} else if (!found) {
		json_t *extra = json_pack("{s:s,s:[s,s]}", "description", "Reports project",
		                          "system_tags", "hidden", REPORTS_TAG);
		rc = project_create(q->db, q->who, name, extra, out, r) == 0 ? 0 : -1;
		json_decref(extra);
	}
	free(name);
	return rc;
}

/* Remove project_id when it is a ".reports" project no task is left in. 0, or -1 on error. */
static int
drop_reports_project_if_empty(sqlite3 *db, const char *project_id)
{
	if (!project_id || !*project_id)
		return 0;
	json_t *p = project_load(db, project_id);
	const char *name = sget(p, "name");
	size_t n = name ? strlen(name) : 0, k = strlen(REPORTS_PROJECT);
	int is_reports = name && n >= k && !strcmp(name + n - k, REPORTS_PROJECT) &&
	                 (n == k || name[n - k - 1] == '/');
	json_decref(p);
	if (!is_reports)
		return 0;
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*) FROM tasks WHERE project = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, project_id, -1, SQLITE_STATIC);
	long long left = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	db_stmt_done(st);
	if (left != 0)
		return left < 0 ? -1 : 0;
	st = db_stmt(db, "DELETE FROM projects WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, project_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	db_stmt_done(st);
	return rc;
}

/* ---------------------------------------------------------------- create */

static void
reports_create(struct req *q, struct reply *r)
{
	const char *name, *project = NULL;
	if (req_str(q, r, "name", 1, &name) != 0 || check_report_fields(q, r) != 0 ||
	    req_str(q, r, "project", 0, &project) != 0)
		return;
	if (task_begin(q, r) != 0)
		return;
	char *base = NULL, pid[33];
	if (project && *project && writable_project_name(q, r, project, &base) != 0)
		goto fail;
	if (ensure_reports_project(q, r, base ? base : "", pid) != 0)
		goto fail;
	char id[33], now[48];
	gen_hex_id(id);
	db_now_iso(now, sizeof(now));
	json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s,s],s:i}", "id", id,
	                      "name", name, "type", REPORT_TYPE, "status", "created", "user",
	                      q->who->user, "company", q->who->company, "project", pid, "created", now,
	                      "last_update", now, "last_change", now, "last_changed_by", q->who->user,
	                      "system_tags", "hidden", REPORTS_TAG, "last_iteration", 0);
	const json_t *b = q->body;
	json_object_set_new(t, "comment", json_string(sget(b, "comment") ? sget(b, "comment") : ""));
	json_object_set_new(t, "tags", sorted_tags(json_object_get(b, "tags")));
	if (sget(b, "report"))
		json_object_set(t, "report", json_object_get(b, "report"));
	if (json_is_array(json_object_get(b, "report_assets")))
		json_object_set(t, "report_assets", json_object_get(b, "report_assets"));
	int saved = task_save(q->db, t) == 0 &&
	            status_history_add(q->db, id, NULL, "created", "", "", q->who->user,
	                               q->worker_header) == 0;
	json_decref(t);
	if (!saved) {
		reply_err(r, 500, 100, "General data error (saving report)");
		goto fail;
	}
	free(base);
	if (task_commit(q, r) != 0)
		return;
	reply_data(r, json_pack("{s:s,s:s}", "id", id, "project_id", pid));
	return;
fail:
	free(base);
	db_rollback(q->db);
}

/* ---------------------------------------------------------------- update */

/* Python's textwrap.shorten(s, width): whitespace runs collapsed, then as many whole words as
 * fit with " [...]" after them (widths in characters). New string. */
static json_t *
shorten(const char *s, size_t width)
{
	static const char placeholder[] = " [...]";
	struct buf b;
	buf_init(&b, SRV_MAX_STRING);
	size_t chars = 0, fit_len = 0, fit_chars = 0;
	int cut = 0;
	const char *p = s;
	for (;;) {
		while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
			p++;
		if (!*p)
			break;
		const char *w = p;
		size_t wchars = 0;
		while (*p && *p != ' ' && !(*p >= '\t' && *p <= '\r')) {
			if (((unsigned char)*p & 0xc0) != 0x80)
				wchars++;
			p++;
		}
		size_t add = (b.len ? 1 : 0) + wchars;
		if (!cut && chars + add + (sizeof(placeholder) - 1) <= width) {
			fit_len = b.len + (b.len ? 1 : 0) + (size_t)(p - w);
			fit_chars = chars + add;
		}
		if (chars + add > width)
			cut = 1;
		if ((b.len && buf_append(&b, " ", 1) != 0) || buf_append(&b, w, (size_t)(p - w)) != 0)
			break;
		chars += add;
	}
	json_t *out;
	if (chars <= width) {
		out = json_stringn(b.data ? b.data : "", b.len);
	} else if (fit_chars == 0) {
		out = json_string(placeholder + 1);
	} else {
		char *t = xasprintf("%.*s%s", (int)fit_len, b.data, placeholder);
		out = json_string(t);
		free(t);
	}
	buf_free(&b);
	return out ? out : json_string("");
}

static int
update_one(struct task_write *w)
{
	static const char *const fields[] = {"name", "tags", "comment", "report", "report_assets",
	                                     NULL};
	static const char *const published_ok[] = {"name", "tags", "comment", NULL};
	if (!is_report(w))
		return TW_FAIL;
	json_t *set = json_object();
	int all_published_ok = 1;
	for (const char *const *k = fields; *k; k++) {
		json_t *v = json_object_get(w->q->body, *k);
		if (!v || json_is_null(v))
			continue;
		json_object_set(set, *k, v);
		int ok = 0;
		for (const char *const *a = published_ok; *a; a++)
			ok |= !strcmp(*a, *k);
		all_published_ok &= ok;
	}
	if (!json_object_size(set)) {
		json_decref(set);
		w->data = json_pack("{s:i}", "updated", 0);
		return TW_KEEP;
	}
	if (strcmp(w->status, "created") != 0 && !all_published_ok) {
		json_decref(set);
		reply_err(w->r, 400, 110, "Invalid task status: expected=created, status=%s", w->status);
		return TW_FAIL;
	}
	const char *k;
	json_t *v;
	json_object_foreach(set, k, v) {
		if (!strcmp(k, "tags")) {
			json_t *sorted = sorted_tags(v);
			json_object_set(w->task, k, sorted);
			json_object_set_new(set, k, sorted);
		} else {
			json_object_set(w->task, k, v);
			if (!strcmp(k, "report"))
				json_object_set_new(set, k, shorten(json_string_value(v),
				                                    REPORT_SHORTEN_WIDTH));
		}
	}
	stamp(w->task, NULL, w->q->who, 1);
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", set);
	return TW_SAVE;
}

static void
reports_update(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) == 0 && check_report_fields(q, r) == 0)
		task_write(q, r, id, "report", update_one, NULL);
}

/* ---------------------------------------------------------------- move */

static int
move_one(struct task_write *w)
{
	struct req *q = w->q;
	if (!is_report(w))
		return TW_FAIL;
	const char *project = sget(q->body, "project"), *pname = sget(q->body, "project_name");
	char *base = NULL, pid[33];
	if (pname && *pname)
		base = xstrdup(pname);
	else if (project && *project && writable_project_name(q, w->r, project, &base) != 0)
		return TW_FAIL;
	int rc = ensure_reports_project(q, w->r, base ? base : "", pid);
	free(base);
	if (rc != 0)
		return TW_FAIL;
	char *old = sget(w->task, "project") ? xstrdup(sget(w->task, "project")) : NULL;
	json_object_set_new(w->task, "project", json_string(pid));
	stamp(w->task, NULL, q->who, 1);
	int saved = task_save_if_status(q->db, w->task, w->status);
	if (saved > 0 && (!old || strcmp(old, pid) != 0) &&
	    drop_reports_project_if_empty(q->db, old) != 0)
		saved = -1;
	free(old);
	if (saved == 0) {
		reply_err(w->r, 400, 121, "Failed saving report (task changed meanwhile)");
		return TW_FAIL;
	}
	if (saved < 0) {
		reply_err(w->r, 500, 100, "General data error (moving report)");
		return TW_FAIL;
	}
	w->data = json_pack("{s:s}", "project_id", pid);
	return TW_SAVED;
}

static void
reports_move(struct req *q, struct reply *r)
{
	const char *id, *s = NULL;
	if (req_str(q, r, "task", 1, &id) != 0 || req_str(q, r, "project_name", 0, &s) != 0)
		return;
	json_t *p = json_object_get(q->body, "project");
	if (p && !json_is_null(p) && !json_is_string(p)) {
		reply_err(r, 400, 12, "Validation error (expected a string): field=project");
		return;
	}
	/* "project": null names the root; leaving both out is an error */
	if (!p && !(s && *s)) {
		reply_err(r, 400, 11, "Missing required fields: project or project_name is required");
		return;
	}
	task_write(q, r, id, "report", move_one, NULL);
}

/* ---------------------------------------------------------------- status and archive */

/* The client's note on a status change: `message` (upstream's request model), else `comment`
 * (the schema's name for it). */
static const char *
client_message(const struct req *q)
{
	const char *m = sget(q->body, "message");
	if (!m)
		m = sget(q->body, "comment");
	return m ? m : "";
}

static int
publish_one(struct task_write *w)
{
	if (!is_report(w))
		return TW_FAIL;
	char now[48];
	db_now_iso(now, sizeof(now));
	json_t *extra = json_pack("{s:s}", "published", now), *fields = NULL;
	int rc = change_status(w->q, w->r, w->task, "published", 1, "", client_message(w->q), extra,
	                       &fields);
	json_decref(extra);
	if (rc != 0)
		return TW_FAIL;
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	return TW_SAVED;
}

static int
archive_one(struct task_write *w)
{
	int archive = *(int *)w->arg;
	if (!is_report(w))
		return TW_FAIL;
	json_t *st = json_object_get(w->task, "system_tags");
	if (!json_is_array(st)) {
		st = json_array();
		json_object_set_new(w->task, "system_tags", st);
	}
	if (archive && !has_tag(w->task, "system_tags", "archived"))
		json_array_append_new(st, json_string("archived"));
	else if (!archive)
		remove_tag(w->task, "system_tags", "archived");
	json_object_set_new(w->task, "system_tags",
	                    sorted_tags(json_object_get(w->task, "system_tags")));
	json_object_set_new(w->task, "status_message", json_string(client_message(w->q)));
	json_object_set_new(w->task, "status_reason", json_string(""));
	stamp(w->task, NULL, w->q->who, 0);
	w->data = json_pack("{s:i}", archive ? "archived" : "unarchived", 1);
	return TW_SAVE;
}

static void
reports_publish(struct req *q, struct reply *r)
{
	const char *id, *s;
	if (req_str(q, r, "task", 1, &id) == 0 && req_str(q, r, "message", 0, &s) == 0 &&
	    req_str(q, r, "comment", 0, &s) == 0)
		task_write(q, r, id, "report", publish_one, NULL);
}

static void
set_archived(struct req *q, struct reply *r, int archive)
{
	const char *id, *s;
	if (req_str(q, r, "task", 1, &id) == 0 && req_str(q, r, "message", 0, &s) == 0 &&
	    req_str(q, r, "comment", 0, &s) == 0)
		task_write(q, r, id, "report", archive_one, &archive);
}

static void reports_archive(struct req *q, struct reply *r) { set_archived(q, r, 1); }
static void reports_unarchive(struct req *q, struct reply *r) { set_archived(q, r, 0); }

/* ---------------------------------------------------------------- delete */

static int
delete_one(struct task_write *w)
{
	int force = *(int *)w->arg;
	struct req *q = w->q;
	if (!is_report(w))
		return TW_FAIL;
	const char *id = sget(w->task, "id");
	if (!force && strcmp(w->status, "created") != 0 &&
	    !has_tag(w->task, "system_tags", "archived")) {
		reply_err(w->r, 400, 123, "Task cannot be deleted (due to status, use force=True): "
		          "task=%s, expected=created, current=%s", id, w->status);
		return TW_FAIL;
	}
	if (events_delete_for_task(q->db, id) < 0 || task_delete_row(q->db, id) != 0 ||
	    drop_reports_project_if_empty(q->db, sget(w->task, "project")) != 0) {
		reply_err(w->r, 500, 100, "General data error (deleting report)");
		return TW_FAIL;
	}
	w->data = json_pack("{s:i}", "deleted", 1);
	return TW_KEEP;
}

static void
reports_delete(struct req *q, struct reply *r)
{
	const char *id;
	int force = 0;
	if (req_str(q, r, "task", 1, &id) == 0 && req_bool(q, r, "force", 0, &force) == 0)
		task_write(q, r, id, "report", delete_one, &force);
}

const struct endpoint svc_reports_endpoints[] = {
	{"reports.create", "2.23", 0, reports_create},
	{"reports.update", "2.23", 0, reports_update},
	{"reports.move", "2.23", 0, reports_move},
	{"reports.publish", "2.23", 0, reports_publish},
	{"reports.archive", "2.23", 0, reports_archive},
	{"reports.unarchive", "2.23", 0, reports_unarchive},
	{"reports.delete", "2.23", 0, reports_delete},
	{"reports.get_all_ex", "2.23", 0, reports_get_all_ex},
	{"reports.get_tags", "2.23", 0, reports_get_tags},
	{"reports.get_task_data", "2.23", 0, reports_get_task_data},
	{NULL, NULL, 0, NULL},
};
