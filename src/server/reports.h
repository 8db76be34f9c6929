/*
 * reports — reports.* (svc_reports.c: create, update, move, publish, archive, unarchive, delete
 * and the endpoint table; svc_reports_query.c: get_all_ex, get_tags, get_task_data).
 *
 * A report is a task of type "report" with system tags {hidden, reports}, a `report` text and
 * `report_assets`, kept in a hidden ".reports" project: the root one, or "<project>/.reports"
 * below the project it belongs to. The hidden tag is what keeps reports out of tasks.get_all
 * (as upstream); a ".reports" project left empty by a move or delete is removed.
 */
#ifndef CLEARML_SERVER_REPORTS_H
#define CLEARML_SERVER_REPORTS_H

#include "server/server.h"

#define REPORTS_PROJECT ".reports"
#define REPORTS_TAG "reports"
#define REPORT_TYPE "report"

extern const struct endpoint svc_reports_endpoints[];

/* svc_reports_query.c */
void reports_get_all_ex(struct req *q, struct reply *r);
void reports_get_tags(struct req *q, struct reply *r);
void reports_get_task_data(struct req *q, struct reply *r);

/* Run another endpoint's handler (found for q's version) on body with q's caller and
 * connection: 0 and *data (new reference), or -1 with its error copied into r. */
int reports_call(struct req *q, struct reply *r, const char *endpoint, json_t *body, json_t **data);

#endif
