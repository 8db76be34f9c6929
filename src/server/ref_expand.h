/* ref_expand — {id} for the unjoined reference fields of *_ex replies (ref_expand.c). */
#ifndef CLEARML_SERVER_REF_EXPAND_H
#define CLEARML_SERVER_REF_EXPAND_H

#include <jansson.h>

#include "server/server.h"

/* The reference fields of each kind: dotted paths, "x[]" walking a list. */
extern const char *const ref_task_paths[];
extern const char *const ref_model_paths[];
extern const char *const ref_project_paths[];

/* In each document of docs, a bare id string at one of paths becomes {"id": id}. */
void ref_expand_ids(json_t *docs, const char *const *paths);
/* 1 when q is an *_ex call (get_all_ex, get_by_id_ex), the ones the real server expands. */
int ref_expand_wanted(const struct req *q);

#endif
