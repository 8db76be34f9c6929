/*
 * svc_tasks_status — the task status machine's endpoints: started, stopped, stop, completed,
 * failed, close, publish, enqueue, dequeue, reset, ping. One path changes a status
 * (change_status: the §3.3 transition check unless force, status/reason/message/times, the
 * conditional save); queue entries are srvq's (queue_store.c), events are deleted through
 * events_delete_for_task().
 */
#include <string.h>

#include "server/models.h"
#include "server/status_history.h"
#include "server/svc_tasks.h"
#include "util.h"

int
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
	/* a change of status, or of its message on the same status ("stopping"), is history */
	const char *old_msg = sget(t, "status_message");
	int record = strcmp(old, new_status) != 0 ||
	             strcmp(old_msg ? old_msg : "", message ? message : "") != 0;
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
	if (record && status_history_add(q->db, sget(t, "id"), old, new_status, reason, message,
	                                 q->who->user, q->worker_header) != 0) {
		json_decref(f);
		reply_err(r, 500, 100, "General data error (saving status history)");
		return -1;
	}
	*fields = f;
	return 0;
}

/* A status change with extras: the mutation of started/stopped/completed/failed/close. */
struct simple {
	struct common c;
	const char *status;
	json_t *extra;
	const char *count_key;
	int publish;
};

static int do_publish(struct req *q, struct reply *r, json_t *t, const struct common *c,
                      json_t **fields);

static int
simple_change(struct task_write *w)
{
	struct simple *s = w->arg;
	json_t *fields = NULL;
	const char *msg = s->c.message;
	/* A pending stop request ("stopping") survives a tasks.started that only re-confirms a
	 * running task without a message of its own (the agent's "worker starting task execution"):
	 * otherwise a stop landing just before it is lost (docs/differences.md). */
	const char *cur_st = sget(w->task, "status"), *cur_msg = sget(w->task, "status_message");
	if (!strcmp(s->status, "in_progress") && !json_object_get(w->q->body, "status_message") &&
	    cur_st && !strcmp(cur_st, "in_progress") && cur_msg && strstr(cur_msg, "stopping"))
		msg = "stopping";
	if (change_status(w->q, w->r, w->task, s->status, s->c.force, s->c.reason, msg, s->extra,
	                  &fields) != 0)
		return TW_FAIL;
	if (s->publish) {
		struct common pc = s->c;
		pc.force = 0;
		json_t *pf = NULL;
		if (do_publish(w->q, w->r, w->task, &pc, &pf) != 0) {
			json_decref(fields);
			return TW_FAIL;
		}
		json_object_update(fields, pf);
		json_decref(pf);
	}
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	if (s->count_key)
		json_object_set_new(w->data, s->count_key, json_integer(1));
	return TW_SAVED;
}

/* Shared body of started/stopped/completed/failed/close: one transition with extras. */
static void
simple_status(struct req *q, struct reply *r, const char *new_status, json_t *extra,
              const char *count_key)
{
	struct simple s = {.status = new_status, .extra = extra, .count_key = count_key};
	if (common_args(q, r, &s.c) == 0)
		task_write(q, r, s.c.task, "task status", simple_change, &s);
	json_decref(extra);
}

void
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

void
tasks_stopped(struct req *q, struct reply *r)
{
	char now[48];
	db_now_iso(now, sizeof(now));
	simple_status(q, r, "stopped", json_pack("{s:s}", "completed", now), NULL);
}

void
tasks_failed(struct req *q, struct reply *r)
{
	simple_status(q, r, "failed", json_object(), NULL);
}

void
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

int
task_publish_in_txn(struct req *q, struct reply *r, json_t *t, int force, json_t **fields)
{
	struct common c = {.task = sget(t, "id"), .force = force, .reason = "", .message = ""};
	return do_publish(q, r, t, &c, fields);
}

void
tasks_completed(struct req *q, struct reply *r)
{
	struct simple s = {.status = "completed"};
	if (common_args(q, r, &s.c) != 0 || req_bool(q, r, "publish", 0, &s.publish) != 0)
		return;
	char now[48];
	db_now_iso(now, sizeof(now));
	s.extra = json_pack("{s:s}", "completed", now);
	if (task_write(q, r, s.c.task, "task status", simple_change, &s) == 0)
		json_object_set_new(r->data, "published", json_integer(s.publish ? 1 : 0));
	json_decref(s.extra);
}

struct publish {
	struct common c;
	int publish_model;
};

static int
publish_one(struct task_write *w)
{
	struct publish *p = w->arg;
	json_t *fields = NULL;
	if (do_publish(w->q, w->r, w->task, &p->c, &fields) != 0)
		return TW_FAIL;
	/* the real server publishes the task's last output model with it */
	json_t *out = json_object_get(json_object_get(w->task, "models"), "output");
	const char *mid = sget(json_array_get(out, json_array_size(out) - 1), "model");
	if (p->publish_model && mid && model_publish_of_task(w->q, mid) != 0) {
		json_decref(fields);
		reply_err(w->r, 500, 100, "General data error (publishing the output model)");
		return TW_FAIL;
	}
	w->data = json_pack("{s:i,s:o,s:{}}", "updated", 1, "fields", fields,
	                    "committed_versions_results");
	return TW_SAVED;
}

void
tasks_publish(struct req *q, struct reply *r)
{
	struct publish p = {.publish_model = 1};
	if (common_args(q, r, &p.c) == 0 && req_bool(q, r, "publish_model", 0, &p.publish_model) == 0)
		task_write(q, r, p.c.task, "task status", publish_one, &p);
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

static int
stop_one(struct task_write *w)
{
	struct common *c = w->arg;
	struct req *q = w->q;
	json_t *t = w->task;
	int queued = !strcmp(w->status, "queued");
	int set_stopped = queued || has_tag(t, "system_tags", "development") || !run_by_worker(q, t);
	json_t *fields = NULL;
	json_t *extra = json_object();
	int rc;
	if (set_stopped) {
		if (queued)
			queue_remove_task(q->db, NULL, c->task);
		char *msg = xasprintf("Stopped by %s", *q->who->user_name ? q->who->user_name : q->who->user);
		rc = change_status(q, w->r, t, "stopped", c->force, c->reason, msg, extra, &fields);
		free(msg);
	} else {
		rc = change_status(q, w->r, t, w->status, c->force, c->reason, "stopping", extra, &fields);
	}
	json_decref(extra);
	if (rc != 0)
		return TW_FAIL;
	w->data = json_pack("{s:i,s:o}", "updated", 1, "fields", fields);
	return TW_SAVED;
}

void
tasks_stop(struct req *q, struct reply *r)
{
	struct common c;
	if (common_args(q, r, &c) == 0 && pipeline_steps_run(q, r, tasks_stop) == 0)
		task_write(q, r, c.task, "task status", stop_one, &c);
}

struct enqueue {
	struct common c;
	const char *queue, *queue_name;
	int update_exec, verify;
};

static int
enqueue_one(struct task_write *w)
{
	struct enqueue *a = w->arg;
	struct req *q = w->q;
	struct reply *r = w->r;
	json_t *t = w->task;
	const char *old = w->status;
	if (!a->c.force && !task_status_allowed(old, "queued")) {
		reply_err(r, 400, 110, "Invalid task status (Invalid status change): current_status=%s, "
		          "new_status=queued", old);
		return TW_FAIL;
	}
	char qid[33];
	if (queue_resolve_for_enqueue(q->db, q->who, a->queue && *a->queue ? a->queue : NULL,
	                              a->queue_name && *a->queue_name ? a->queue_name : NULL, qid,
	                              r) != 0)
		return TW_FAIL;
	/* 706 when it is already in that queue; else take it out of every queue, then add it. */
	if (queue_add_task(q->db, qid, a->c.task, r) != 0)
		return TW_FAIL;
	queue_remove_task(q->db, NULL, a->c.task);
	if (queue_add_task(q->db, qid, a->c.task, r) != 0)
		return TW_FAIL;
	remove_tag(t, "system_tags", "development");
	json_t *extra = json_object();
	const char *prev_enqueue = sget(t, "enqueue_status");
	json_object_set_new(extra, "enqueue_status",
	                    json_string(!strcmp(old, "queued") && prev_enqueue ? prev_enqueue : old));
	if (a->update_exec)
		json_object_set_new(extra, "execution.queue", json_string(qid));
	json_object_set(extra, "system_tags", json_object_get(t, "system_tags"));
	json_t *fields = NULL;
	int rc = change_status(q, r, t, "queued", 1, a->c.reason, a->c.message, extra, &fields);
	json_decref(extra);
	if (rc != 0)
		return TW_FAIL;
	json_object_del(fields, "system_tags");
	w->data = json_pack("{s:i,s:i,s:o}", "queued", 1, "updated", 1, "fields", fields);
	if (a->verify)
		json_object_set_new(w->data, "queue_watched", json_false());
	return TW_SAVED;
}

void
tasks_enqueue(struct req *q, struct reply *r)
{
	struct enqueue a = {.update_exec = 1};
	if (common_args(q, r, &a.c) || req_str(q, r, "queue", 0, &a.queue) ||
	    req_str(q, r, "queue_name", 0, &a.queue_name) ||
	    req_bool(q, r, "update_execution_queue", 0, &a.update_exec) ||
	    req_bool(q, r, "verify_watched_queue", 0, &a.verify))
		return;
	if (a.queue && *a.queue && a.queue_name && *a.queue_name) {
		reply_err(r, 400, 12, "Validation error (only one of queue and queue_name may be given)");
		return;
	}
	task_write(q, r, a.c.task, "task status", enqueue_one, &a);
}

void
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
	if (task_begin(q, r) != 0)
		return;
	json_t *t = task_load(q->db, id);
	const char *company = sget(t, "company");
	if (!t || !company || strcmp(company, q->who->company) != 0) {
		/* unknown task: still cleaned out of every queue, nothing else to update */
		queue_remove_task(q->db, NULL, id);
		json_decref(t);
		if (task_commit(q, r) == 0)
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
	if (task_commit(q, r) != 0) {
		json_decref(fields);
		return;
	}
	json_t *d = json_pack("{s:i,s:i}", "dequeued", 1, "updated", updated);
	json_object_set_new(d, "fields", fields ? fields : json_object());
	reply_data(r, d);
}


struct reset {
	struct common c;
	int clear_all, return_urls, delete_output_models;
};

static int
reset_one(struct task_write *w)
{
	struct reset *a = w->arg;
	struct req *q = w->q;
	json_t *t = w->task;
	if (!a->c.force && !strcmp(w->status, "published")) {
		reply_err(w->r, 400, 110, "Invalid task status (Cannot reset a published task, use "
		          "force): status=published");
		return TW_FAIL;
	}
	int removed = queue_remove_task(q->db, NULL, a->c.task);
	struct task_cleanup cl;
	if (task_cleanup_outputs(q, w->r, t, a->c.force, 0, a->delete_output_models, &cl) != 0) {
		task_cleanup_free(&cl);
		return TW_FAIL;
	}
	if (events_delete_for_task(q->db, a->c.task) < 0) {
		task_cleanup_free(&cl);
		reply_err(w->r, 500, 100, "General data error (deleting task events)");
		return TW_FAIL;
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
	if (a->clear_all) {
		json_object_set_new(t, "execution", json_pack("{s:[],s:i}", "artifacts", "test_split", 0));
		json_object_del(t, "script");
	}
	json_t *fields = NULL;
	json_t *extra = json_object();
	int rc = change_status(q, w->r, t, "created", 1, "reset", "reset", extra, &fields);
	json_decref(extra);
	if (rc != 0) {
		task_cleanup_free(&cl);
		return TW_FAIL;
	}
	w->data = json_pack("{s:i,s:o,s:i,s:i,s:i}", "updated", 1, "fields", fields,
	                    "updated_children", 0, "updated_models", cl.updated_models,
	                    "deleted_models", cl.deleted_models);
	json_object_set_new(w->data, "dequeued", removed > 0 ? json_pack("{s:i}", "removed", removed)
	                                                     : json_object());
	json_object_set_new(w->data, "urls", task_cleanup_urls(&cl, a->return_urls));
	task_cleanup_free(&cl);
	return TW_SAVED;
}

void
tasks_reset(struct req *q, struct reply *r)
{
	struct reset a = {.delete_output_models = 1};
	if (common_args(q, r, &a.c) || req_bool(q, r, "clear_all", 0, &a.clear_all) ||
	    req_bool(q, r, "return_file_urls", 0, &a.return_urls) ||
	    req_bool(q, r, "delete_output_models", 0, &a.delete_output_models))
		return;
	task_write(q, r, a.c.task, "task status", reset_one, &a);
}

void
tasks_ping(struct req *q, struct reply *r)
{
	const char *id;
	if (req_str(q, r, "task", 1, &id) != 0)
		return;
	if (task_begin(q, r) != 0)
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
	if (task_commit(q, r) == 0)
		reply_data(r, json_object());
}

