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

/* When the request qualifies: 1 and *docs (new array) holds, in the requested order, the
 * documents up to the end of the requested page that pass its filters — give them to
 * getall_query as the general path's candidates. 0 when it does not qualify (nothing touched),
 * -1 with r filled on a bad filter. view is the service's version view, applied to each
 * document before filtering. */
int tasks_page_docs(struct req *q, struct reply *r, const struct getall_spec *spec,
                    void (*view)(json_t *doc, int maj, int min), json_t **docs);

#endif
