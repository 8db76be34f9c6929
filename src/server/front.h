/*
 * front — the request pipeline of clearml-server-lite below the services: pure decoding of the
 * wire form (path, query string, body, json-lines) so a fuzzer can drive it without sockets, the
 * router (endpoint tables, handler choice by min_version, authentication), the envelope, and the
 * libmicrohttpd front that ties them to sockets. Owner: srvcore (http.c, router.c, reply.c).
 */
#ifndef CLEARML_SERVER_FRONT_H
#define CLEARML_SERVER_FRONT_H

#include <jansson.h>
#include <stddef.h>

#include "server/server.h"

#define SRV_DEFAULT_VERSION "2.31"

/* Parse a request path per §1.1 (`^/?(v(\d+\.?\d+)/)?([a-zA-Z_]\w+\.[a-zA-Z_]\w+)/?$`). name gets
 * "service.action", ver the version text ("2.31" when absent). 0, or -1 when it does not parse. */
int front_parse_path(const char *path, char *name, size_t namelen, char *ver, size_t verlen,
                     int *maj, int *min);
/* Merge one query-string / form pair into body with the §1.2 conversions (dotted keys nest, a
 * repeated key or "key[]" makes a list, digit strings become numbers, true/false booleans).
 * 0, or -1 when the key conflicts with a non-object value already there (ignored by callers). */
int front_merge_query(json_t *body, const char *key, const char *value);
/* Decode a request body: JSON object (empty → {}), or json-lines when content_type says so
 * (then *batch is an array of objects and *body is {}). Strings above SRV_MAX_STRING are refused
 * except on events.* endpoints. 0, or -1 with r filled (400). */
int front_decode_body(const char *endpoint, const char *content_type, const char *data,
                      size_t len, json_t **body, json_t **batch, struct reply *r);
/* The reply envelope as compact ASCII-escaped JSON text (caller frees). endpoint may be "" for
 * unparsable paths (requested version then 1.0 as a float, like the real server). */
char *front_envelope(const char *endpoint, const char *req_version, int ver_major, int ver_minor,
                     const char *trx, const struct reply *r, size_t *len);

/* Free the reply's message and data and zero it. */
void reply_clear(struct reply *r);

/* Router: all service tables. */
void router_init(void);
/* The handler for name at version maj.min (highest min_version <= requested), or NULL. */
const struct endpoint *router_find(const char *name, int maj, int min);
/* Find, authenticate (Bearer JWT unless the endpoint says otherwise), call. */
void router_dispatch(struct req *q, struct reply *r);
/* The Impersonate-As / Act-As headers of q applied to the authenticated who (impersonate.c):
 * 0 (who replaced when one was sent) or -1 with a 400 in r. */
int impersonate_apply(const struct req *q, struct reply *r, struct identity *who);

/* HTTP front (http.c). */
struct http_front;
/* Listen on host:port (port 0 → any free port; srv->port gets the actual one). NULL on error. */
struct http_front *http_start(struct server *srv, int threads);
/* Stop accepting, let in-flight requests finish, free. */
void http_stop(struct http_front *f);

#endif
