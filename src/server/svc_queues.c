/* svc_queues — STUB endpoint table (owner: queues/workers/events helper). */
#include "server/server.h"
const struct endpoint svc_queues_endpoints[] = {{0}};
