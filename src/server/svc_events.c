/* svc_events — STUB endpoint table (owner: queues/workers/events helper). */
#include "server/server.h"
const struct endpoint svc_events_endpoints[] = {{0}};
