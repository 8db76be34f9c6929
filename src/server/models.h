/*
 * models — model documents (model_store.c) and the task ↔ model links other services need:
 * svc_models.c serves models.*, the task service deletes or detaches a task's output models on
 * tasks.delete / tasks.reset (task_cleanup.c). Owner: srvcore.
 */
#ifndef CLEARML_SERVER_MODELS_H
#define CLEARML_SERVER_MODELS_H

#include <jansson.h>
#include <sqlite3.h>

#include "server/server.h"

extern const char svc_models_schema[];
extern const struct endpoint svc_models_endpoints[];

/* The model document (new reference) or NULL when it does not exist. */
json_t *model_load(sqlite3 *db, const char *id);
/* A model of who's company, or a public one when allow_public: NULL with 400/201. */
json_t *model_for_read(sqlite3 *db, const struct identity *who, const char *id, int allow_public,
                       struct reply *r);
/* Insert or replace a whole model document. 0 or -1. */
int model_save(sqlite3 *db, const json_t *model);
int model_delete_row(sqlite3 *db, const char *id);
/* tasks.publish: mark model_id ready when it is a draft of the caller's company (inside the
 * caller's transaction; a missing or foreign model is left alone). 0 or -1 on a write error. */
int model_publish_of_task(struct req *q, const char *model_id);
/* Every model document (new array) whose `task` is task_id. */
json_t *models_of_task(sqlite3 *db, const char *task_id);
/* Ids of the tasks (new array) that use model_id as an input model. */
json_t *tasks_using_model(sqlite3 *db, const char *model_id);
/* Replace model_id by new_id (NULL: remove the entry) in models.<kind> of task_id. */
int task_relink_model(sqlite3 *db, const char *task_id, const char *kind, const char *model_id,
                      const char *new_id);

/* What cleaning up a task's outputs did (tasks.delete, tasks.reset). */
struct task_cleanup {
	int updated_children, updated_models, deleted_models;
	json_t *model_urls;       /* draft model uris that were deleted with the task */
	json_t *artifact_urls;    /* output artifact uris */
};
/* Inside the caller's transaction: without force, refuse (400/123) when the task has published
 * children or published output models; then delete the draft output models no other task uses
 * as input (delete_output_models), detach or re-point the rest, and re-parent the children
 * (update_children). 0, or -1 with r filled; c is filled either way (task_cleanup_free). */
int task_cleanup_outputs(struct req *q, struct reply *r, const json_t *task, int force,
                         int update_children, int delete_output_models, struct task_cleanup *c);
/* The `urls` reply field: {model_urls, event_urls: [], artifact_urls} or null. */
json_t *task_cleanup_urls(const struct task_cleanup *c, int return_file_urls);
void task_cleanup_free(struct task_cleanup *c);

#endif
