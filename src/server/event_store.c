/* event_store — STUB until the events work lands (owner: queues/workers/events helper). */
#include "server/server.h"

const char svc_events_schema[] = "";
int events_delete_for_task(sqlite3 *db, const char *task_id) { (void)db; (void)task_id; return 0; }
