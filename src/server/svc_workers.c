/* svc_workers — STUB (owner: queues/workers/events helper). */
#include "server/server.h"
const char svc_workers_schema[] = "";
const struct endpoint svc_workers_endpoints[] = {{0}};
void workers_expire(sqlite3 *db, int64_t now) { (void)db; (void)now; }
int workers_task_has_live_worker(sqlite3 *db, const char *t, int64_t now) { (void)db; (void)t; (void)now; return 0; }
