/* projects — what other services need of projects (svc_projects.c). Owner: srvcore. */
#ifndef CLEARML_SERVER_PROJECTS_H
#define CLEARML_SERVER_PROJECTS_H

#include <jansson.h>
#include <sqlite3.h>

#include "server/server.h"

/* Endpoint tables of the other projects.* files (svc_projects_meta.c, svc_projects_tags.c,
 * svc_projects_delete.c). */
extern const struct endpoint svc_projects_meta_endpoints[];
extern const struct endpoint svc_projects_delete_endpoints[];
/* svc_projects_move.c: projects.move, projects.merge */
extern const struct endpoint svc_projects_move_endpoints[];
/* Inside the caller's transaction: the company's project old_name and every project below it
 * renamed to new_name…, the top one's parent set to parent_id (NULL/"": none); *moved (may be
 * NULL) the number renamed. 0, or -1 with r filled (400/801 on a name clash). */
int project_rename_tree(struct req *q, struct reply *r, const char *old_name, const char *new_name,
                        const char *parent_id, int *moved);
/* svc_tags.c: projects.get_*_tags, organization.get_tags, tasks|models.update_tags */
extern const struct endpoint svc_tags_endpoints[];

/* The project document (new reference) or NULL. */
json_t *project_load(sqlite3 *db, const char *id);
/* 1 when the project exists and who may see it (own company or public). */
int project_visible(sqlite3 *db, const struct identity *who, const char *id);
/* Create name (and missing parents) inside the caller's transaction; extra may hold description,
 * tags, system_tags, default_output_destination. 0 and out_id; -2 duplicate; -1 error; r filled. */
int project_create(sqlite3 *db, const struct identity *who, const char *name, const json_t *extra,
                   char out_id[33], struct reply *r);

/* Insert or replace a whole project document. 0, -2 on a duplicate name, -1 on error. */
int project_save(sqlite3 *db, const json_t *p);

/* ---- svc_projects_meta.c: what lies in a set of projects ---- */
/* 0 when ids (the request's field) is absent, null or a bounded list of ids (nulls allowed);
 * else -1 with 400/12 in r. */
int project_ids_check(const json_t *ids, struct reply *r, const char *field);
/* The string ids of ids plus, when children, every project below them, as JSON array text
 * (malloc'd) for json_each(); NULL on a database error. */
char *project_ids_expand(sqlite3 *db, const json_t *ids, int children);
enum { PS_ALL = 0, PS_ROOT = 1, PS_LIST = 2, PS_LIST_ROOT = 3 };
/* The task (models 0) or model (1) documents of company (and public ones when allow_public) in
 * scope: PS_ALL every one, PS_ROOT those without a project, PS_LIST those in list (JSON array
 * text), PS_LIST_ROOT both. New array, oldest first; NULL on a database error. */
json_t *project_entities(sqlite3 *db, int models, const char *company, int allow_public, int scope,
                         const char *list);
/* The same for a request: in projects (with children when asked; a null id adds those without
 * a project) or, when projects is absent or empty, every one. NULL with r filled on error. */
json_t *project_entities_of(struct req *q, struct reply *r, int models, const json_t *projects,
                            int children, int allow_public);

#endif
