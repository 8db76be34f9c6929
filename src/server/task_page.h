/*
 * task_page — a fast path for one page of tasks.get_all / get_all_ex ordered by an indexed
 * column (see task_page.c). Owner: web.
 */
#ifndef CLEARML_SERVER_TASK_PAGE_H
#define CLEARML_SERVER_TASK_PAGE_H

#include <jansson.h>

#include "server/getall.h"
#include "server/server.h"

extern const char task_page_schema[];

/* Answer the request when it qualifies (1; r filled), else 0 and nothing is touched. view is
 * the service's version view applied to each document before filtering. */
int tasks_get_all_paged(struct req *q, struct reply *r, const struct getall_spec *spec,
                        void (*view)(json_t *doc, int maj, int min));

#endif
