/* monitor — STUB (owner: monitor helper): reports nothing until the real sampler lands. */
#include "agent/monitor.h"

#include <stdlib.h>

#include "util.h"

struct monitor {
	int unused;
};

struct monitor *monitor_new(const json_t *config) { (void)config; return xcalloc(1, sizeof(struct monitor)); }
void monitor_free(struct monitor *m) { free(m); }
void monitor_sample(struct monitor *m) { (void)m; }
json_t *monitor_report(struct monitor *m) { (void)m; return json_object(); }
