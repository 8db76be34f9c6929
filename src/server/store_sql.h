/*
 * store_sql — small SQLite and JSON helpers shared by the queue, worker and event stores
 * (queue_store.c, svc_workers.c, event_store.c): prepare-or-log, JSON columns, ISO times,
 * glob-free list filters. Nothing here knows about a service.
 */
#ifndef CLEARML_STORE_SQL_H
#define CLEARML_STORE_SQL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

/* Prepare a statement; logs and returns NULL on error. */
sqlite3_stmt *sq_prepare(sqlite3 *db, const char *sql);
/* Bind text (NULL → SQL NULL). */
void sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Column text, never NULL. */
const char *sq_col_text(sqlite3_stmt *st, int i);
/* String value of v, or "" when v is not a string. */
const char *sq_str(const json_t *v);
/* Parse a JSON text column; on NULL/garbage returns a new `dflt_array ? [] : {}`. */
json_t *sq_col_json(sqlite3_stmt *st, int i, int dflt_array);
/* Compact JSON text of v (caller frees); "null" for NULL. */
char *sq_json_text(const json_t *v);
/* ISO-8601 string of epoch microseconds as a new JSON string. */
json_t *sq_iso(int64_t us);
int64_t sq_now_us(void);

/* A request list field that may be a string or an array of strings: fills a NULL-terminated
 * array of borrowed strings (caller frees the array only). NULL when the field is absent/null. */
const char **sq_str_list(const json_t *v, size_t *n_out);
/* get_all tag filter: `want` is a list of "tag" (any of → include) and "-tag" (exclude) items;
 * `have` a JSON array of strings. 1 when the object passes. */
int sq_tags_match(const char *const *want, size_t nwant, const json_t *have);
/* JSON array of strings, sorted (a new reference); non-strings dropped. */
json_t *sq_sorted_strings(const json_t *arr);
/* Validate a tags list for create/update: array of strings, none starting with "__$".
 * 0 ok, -1 otherwise. */
int sq_tags_valid(const json_t *arr);
/* Project an object to only_fields (dotted paths; "-x" excludes); id is always kept.
 * Returns a new reference. */
json_t *sq_project(json_t *obj, const json_t *only_fields);

#endif
