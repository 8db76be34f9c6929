/*
 * tags_compat — the tags of clients older than API 2.3, which knew a single `tags` list: on the
 * way in their tags are split into tags and system_tags by the real server's table of system
 * tag names per entity; on the way out system_tags are merged back into tags. The router calls
 * both around tasks.*, models.*, projects.* and queues.* below 2.3. Owner: projects.
 */
#ifndef CLEARML_SERVER_TAGS_COMPAT_H
#define CLEARML_SERVER_TAGS_COMPAT_H

#include "server/server.h"

/* 1 when the request needs the translation (old version, an entity service). */
int tags_compat_applies(const struct req *q);
/* Split body.tags when the body names no system_tags. */
void tags_compat_request(struct req *q);
/* Merge system_tags into tags in the entity documents of the reply. */
void tags_compat_reply(const struct req *q, struct reply *r);

#endif
