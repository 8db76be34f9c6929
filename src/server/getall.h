/*
 * getall — the common get_all query language of §2.0 over JSON documents in memory: pattern
 * (regex) fields, list fields with `-x` exclusion and the __$all/__$any/__$not operators, ranges,
 * datetime constraints, search_text, _any_/_all_, hidden-tag visibility, order_by, page/page_size
 * (capped at SRV_MAX_PAGE_SIZE), scroll_id/size, and only_fields projection.
 *
 * A service loads its candidate documents (optionally narrowed by an indexed SQL prefilter such
 * as an id list), then calls getall_query(). Owner: srvcore; queues and projects reuse it.
 */
#ifndef CLEARML_SERVER_GETALL_H
#define CLEARML_SERVER_GETALL_H

#include <jansson.h>
#include <regex.h>
#include <stdint.h>

#include "server/server.h"

struct getall_spec {
	const char *const *pattern_fields;  /* NULL-terminated; "name", "comment" … */
	const char *const *list_fields;     /* "id", "tags", "status", … ; "hyperparams.*" = prefix */
	const char *const *range_fields;    /* [min, max] numeric */
	const char *const *datetime_fields; /* ">=2024-01-01" strings */
	const char *const *text_fields;     /* search_text: case-insensitive substring */
	const char *const *hidden_by_default; /* fields left out of replies unless only_fields names them */
	int hidden_tag;                     /* skip system_tags "hidden" unless search_hidden / id */
	const char *hidden_system_tag;      /* the tag ("hidden"; queues: "k8s-glue") */
	int hidden_unless_name;             /* a `name` filter also shows hidden ones (queues) */
};

/* Check paging fields before any work: page >= 0, 1 <= page_size <= SRV_MAX_PAGE_SIZE, size too.
 * 0, or -1 with r filled (400/12). */
int getall_check(const json_t *body, struct reply *r);
/* Filter, order, page and project docs (array of objects; not stolen). *out gets a new array;
 * *scroll_id (when non-NULL) gets a new scroll id string to return when the request scrolled, else
 * NULL. 0, or -1 with r filled. */
int getall_query(const json_t *docs, const json_t *body, const struct getall_spec *spec,
                 struct reply *r, json_t **out, char **scroll_id);
/* getall_query, and join(ctx, page) called on copies of the page's documents just before their
 * projection (after filtering, ordering and paging): it may replace values in them, such as a
 * reference's id by the referenced document. */
typedef void (*getall_join_fn)(void *ctx, json_t *page);
int getall_query_join(const json_t *docs, const json_t *body, const struct getall_spec *spec,
                      struct reply *r, json_t **out, char **scroll_id, getall_join_fn join,
                      void *join_ctx);
/* getall_query over docs, then the reply {<list_key>: [...], scroll_id?} — the tail every
 * *.get_all handler shares. docs is not stolen. */
void getall_reply(struct req *q, struct reply *r, const json_t *docs, const struct getall_spec *spec,
                  const char *list_key);
/* 1 when doc passes the filters of body (no paging); -1 with r filled on a bad filter. */
int getall_match(const json_t *doc, const json_t *body, const struct getall_spec *spec,
                 struct reply *r);
/* A copy of doc holding only the dotted paths of only_fields (strings; "-x" removes x from a full
 * copy); id is always kept; hidden_by_default fields are dropped unless named. */
json_t *getall_project(const json_t *doc, const json_t *only_fields,
                       const char *const *hidden_by_default);
/* The filters of body compiled once, for testing many documents (getall_match compiles per
 * call): NULL with r filled on a bad filter. */
struct getall_filter;
struct getall_filter *getall_filter_new(const json_t *body, const struct getall_spec *spec,
                                        struct reply *r);
int getall_filter_pass(const struct getall_filter *f, const json_t *doc);
void getall_filter_free(struct getall_filter *f);
/* Value at a dotted path, or NULL. */
json_t *json_path_get(const json_t *doc, const char *dotted);
/* MongoDB-style $regex (a PCRE subset: \d \w \s, escaped punctuation, (?i)) against s:
 * 1 match, 0 no match, -1 invalid pattern. */
int getall_regex_match(const char *pattern, const char *s);
/* The same pattern compiled (getall_regex.c) for regexec(…, REG_NOSUB): 0, or -1 when invalid;
 * regfree after 0. */
int getall_regex_compile(const char *pattern, regex_t *re);

/* ---- getall_value.c: values and list filters (pure) */
/* ISO-8601 as clients send it ("2024-01-02", "2024-01-02T10:11", "…:12.345678", "Z" or
 * "+02:00"; no offset means UTC) into epoch microseconds: 0, or -1 when s is not one. */
int getall_datetime_parse(const char *s, int64_t *us);
/* A document value against a query value: 0 and *cmp (<0, 0, >0) when comparable (numbers,
 * numeric text against numbers, datetimes, else strings byte-wise); -1 when not (missing, null,
 * or different kinds — such a value matches no range, as in MongoDB). */
int getall_value_cmp(const json_t *docv, const json_t *qv, int *cmp);
/* The `filters` entry of one list field: {any: {include, exclude}, all: {…}, op: and|or}. NULL
 * with r filled (400/12) when malformed. */
struct getall_list_filter;
struct getall_list_filter *getall_list_filter_new(const char *field, const json_t *spec,
                                                  struct reply *r);
int getall_list_filter_pass(const struct getall_list_filter *f, const json_t *docv);
void getall_list_filter_free(struct getall_list_filter *f);

#endif
