/* stats_filter — entity filters of the projects statistics queries (stats_filter.c). */
#ifndef CLEARML_SERVER_STATS_FILTER_H
#define CLEARML_SERVER_STATS_FILTER_H

#include <jansson.h>

#include "server/server.h"

/* 1 when list (an array) holds the string s. */
int sfilter_has(const json_t *list, const char *s);
/* 0 when f is a well-formed {any: {include, exclude}, all: {...}, op} filter; else -1 with
 * 400/12 in r naming field. */
int sfilter_field_check(const json_t *f, struct reply *r, const char *field);

/* A compiled filter: {field: legacy list | field filter} over documents, plus a user list. */
struct sfilter;
/* filter (an object or NULL) and users (an array or NULL; borrowed, must outlive the filter);
 * NULL with r filled (400/12) when malformed. */
struct sfilter *sfilter_new(const json_t *filter, const json_t *users, struct reply *r);
/* 1 when doc passes every field of f (and its user is one of the users). */
int sfilter_pass(const struct sfilter *f, const json_t *doc);
void sfilter_free(struct sfilter *f);
/* A copy of filter (or {}) with system_tags adjusted: mode 'a' replaces archived / -archived by
 * -archived (stats of active tasks), 'o' puts -archived first unless either is named (own
 * contents), 'd' adds "dataset" (dataset projects). New object. */
json_t *sfilter_with_state(const json_t *filter, int mode);

#endif
