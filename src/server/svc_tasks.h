/*
 * svc_tasks — what the task service's files share (svc_tasks.c: create, read, clone, delete,
 * batch forms and the endpoint table; svc_tasks_status.c: the status changes; svc_tasks_edit.c:
 * edit, update, requirements and the create/edit input checks; svc_tasks_params.c:
 * hyper-parameters and configuration; svc_tasks_artifacts.c: artifacts and model links;
 * task_write.c: the write skeleton and document helpers). Not for other services: they go
 * through tasks.h and server.h.
 */
#ifndef CLEARML_SVC_TASKS_H
#define CLEARML_SVC_TASKS_H

#include <jansson.h>

#include "server/server.h"
#include "server/tasks.h"

static inline const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- task_write.c: the write skeleton ---- */

/*
 * One write of one task: begin → load it for write (400/101 unknown, 403/21 public) → the
 * mutation → save on condition that the status is still `status` (400/121 when another writer
 * won) → commit → reply with `data` ({} when NULL). The mutation returns one of TW_* and may
 * leave a 4xx in r (then TW_FAIL). A mutation that saved by itself (change_status) says
 * TW_SAVED; one that changed nothing, or removed the task, says TW_KEEP.
 */
enum { TW_FAIL = -1, TW_SAVE = 0, TW_SAVED = 1, TW_KEEP = 2 };

struct task_write {
	struct req *q;
	struct reply *r;
	json_t *task;              /* the loaded document, for the mutation to change */
	char status[32];           /* the status read; TW_SAVE saves only while it is still this */
	json_t *data;              /* the reply data the mutation builds (owned; NULL → {}) */
	void *arg;                 /* the handler's own context */
};

typedef int (*task_mutate_fn)(struct task_write *w);

/* Run the skeleton; `what` names the data in the 400/121 message ("artifacts"). 0 when the
 * reply is a success, -1 when r holds an error. */
int task_write(struct req *q, struct reply *r, const char *task_id, const char *what,
               task_mutate_fn mutate, void *arg);

/* The transaction frame alone, for handlers that load otherwise (500/100 on failure). */
int task_begin(struct req *q, struct reply *r);
int task_commit(struct req *q, struct reply *r);
/* Load a task the caller may read (own company or public): NULL with 400/101. */
json_t *task_for_read(struct req *q, struct reply *r, const char *id);
/* Load a task the caller may change: NULL with 400/101 or 403/21. */
json_t *task_for_write(struct req *q, struct reply *r, const char *id);

/* tasks|models.make_public / make_private: {ids} moved to company "" (company_origin keeps the
 * owner) or back; 400/<invalid_subcode> when one is not the caller's. 0 or -1, reply filled. */
int docs_set_public(struct req *q, struct reply *r, int enable, json_t *(*load)(sqlite3 *, const char *),
                    int (*save)(sqlite3 *, const json_t *), int invalid_subcode, const char *what);

/* ---- task_join.c: get_all_ex's joins ---- */
/* Does a projection list name path (exactly, as "path.*", or with prefix_ok as "path.x")? */
int task_projection_names(const json_t *of, const char *path, int prefix_ok);
/* getall_join_fn for tasks.get_all_ex (ctx: the struct req): execution.queue, project, user and
 * parent become the referenced documents where the projection reaches inside them. */
void tasks_join(void *ctx, json_t *page);

/* ---- task_write.c: document helpers ---- */
int has_tag(const json_t *task, const char *field, const char *tag);
void remove_tag(json_t *task, const char *field, const char *tag);
/* A sorted, de-duplicated copy of a list of strings. */
json_t *sorted_tags(const json_t *v);
int is_str_list(const json_t *v);
/* include_pipeline_steps (svc_pipelines.c): when the body asks for it and its task is a pipeline
 * controller, run fn on each step first (body with task = step, force); 0, or -1 with the
 * step's error in r. */
int pipeline_steps_run(struct req *q, struct reply *r, handler_fn fn);
/* last_change/last_changed_by (and last_update) on t and, when given, the reply's fields. */
void stamp(json_t *t, json_t *fields, const struct identity *who, int touch_update);
/* Set a value at a dotted path (objects created on the way); NULL val deletes. */
void path_set(json_t *doc, const char *dotted, json_t *val);
/* last_metrics (metric hash → variant hash → entry) with its keys in sorted order, as the real
 * server returns it. */
void last_metrics_sort(json_t *doc);
/* The status field of t copied into out[32] ("created" when missing). */
void status_of(const json_t *t, char out[32]);

/* task, force, status_reason, status_message: the arguments every status change takes. */
struct common {
	const char *task;
	int force;
	const char *reason;
	const char *message;
};
int common_args(struct req *q, struct reply *r, struct common *c);

/* ---- svc_tasks_status.c ---- */
/* The one status-change path, inside the caller's transaction: check the transition (unless
 * force), write status/reason/message/times plus `extra` (dotted path → value; null deletes),
 * save conditionally. 0 with *fields (new ref), or -1 with r filled. */
int change_status(struct req *q, struct reply *r, json_t *t, const char *new_status, int force,
                  const char *reason, const char *message, json_t *extra, json_t **fields);
/* Publish t inside the caller's transaction (models.set_ready). 0 with *fields, or -1. */
int task_publish_in_txn(struct req *q, struct reply *r, json_t *t, int force, json_t **fields);
void tasks_started(struct req *q, struct reply *r);
void tasks_stopped(struct req *q, struct reply *r);
void tasks_stop(struct req *q, struct reply *r);
void tasks_completed(struct req *q, struct reply *r);
void tasks_failed(struct req *q, struct reply *r);
void tasks_close(struct req *q, struct reply *r);
void tasks_publish(struct req *q, struct reply *r);
void tasks_enqueue(struct req *q, struct reply *r);
void tasks_dequeue(struct req *q, struct reply *r);
void tasks_reset(struct req *q, struct reply *r);
void tasks_ping(struct req *q, struct reply *r);

/* ---- svc_tasks_edit.c ---- */
/* Type checks shared by create and edit; reference checks (project, parent). 0 or -1, r filled. */
int task_check_fields(struct req *q, struct reply *r, int creating);
int task_check_refs(struct req *q, struct reply *r, const json_t *body);
/* hyperparams {section: {name: {...}}} / configuration {name: {...}} validated and normalised
 * (section/name filled in): a new object, or NULL with r filled. */
json_t *norm_hyperparams(const json_t *v, struct reply *r);
json_t *norm_configuration(const json_t *v, struct reply *r);
/* Strip the string values of script (not the diff), as the real server does. */
void strip_script(json_t *script);
/* Legacy execution.parameters → hyperparams.Args (type legacy); docker_cmd → container. */
void legacy_inputs(struct req *q, json_t *exec, json_t *target);
void tasks_edit(struct req *q, struct reply *r);
void tasks_update(struct req *q, struct reply *r);
void tasks_set_requirements(struct req *q, struct reply *r);

/* ---- svc_tasks_params.c ---- */
void tasks_get_hyper_params(struct req *q, struct reply *r);
void tasks_edit_hyper_params(struct req *q, struct reply *r);
void tasks_delete_hyper_params(struct req *q, struct reply *r);
void tasks_get_configurations(struct req *q, struct reply *r);
void tasks_get_configuration_names(struct req *q, struct reply *r);
void tasks_edit_configuration(struct req *q, struct reply *r);
void tasks_delete_configuration(struct req *q, struct reply *r);

/* ---- svc_tasks_artifacts.c ---- */
void tasks_add_or_update_artifacts(struct req *q, struct reply *r);
void tasks_delete_artifacts(struct req *q, struct reply *r);
void tasks_add_or_update_model(struct req *q, struct reply *r);
void tasks_delete_models(struct req *q, struct reply *r);

/* ---- task_state.c ---- */
/* The task type enum, NULL-terminated. */
extern const char *const task_types[];

#endif
