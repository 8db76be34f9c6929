/*
 * event_scroll — the server-side navigation states behind the scroll_id of events.plots,
 * events.debug_images and the get/next_*_sample calls (the real server keeps them in Redis for
 * an hour). A state is a JSON document of one kind, owned by one company, stored in the
 * event_scroll table (schema in event_store.c's svc_events_schema) and dropped an hour after it
 * was last written.
 */
#ifndef CLEARML_EVENT_SCROLL_H
#define CLEARML_EVENT_SCROLL_H

#include <jansson.h>
#include <sqlite3.h>

#define EVENT_SCROLL_TTL_MS (3600LL * 1000)
#define EVENT_SCROLL_MAX_DOC (8u << 20)   /* a state larger than this is not stored */

/* The state `id` of `kind` for company, a new reference; NULL when unknown, expired or of
 * another kind or company. */
json_t *event_scroll_load(sqlite3 *db, const char *kind, const char *company, const char *id);

/* Store (create or replace) a state and push its expiry an hour ahead; expired states of any
 * kind are dropped on the way. Runs in its own transaction. 0 or -1. */
int event_scroll_save(sqlite3 *db, const char *kind, const char *company, const char *id,
                      const json_t *doc);

#endif
