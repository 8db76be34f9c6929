/*
 * schedule_status — the `daemon --status` print-out of the working hours and their overrides
 * (spec §8.3, upstream's print_uptime_properties wording). Contract in daemon_sched.h.
 */
#include <stdio.h>
#include <time.h>

#include "supervisor/daemon_sched.h"

void
schedule_print_status(FILE *out, struct dsched *s, char *const *queue_names, size_t nq,
                      time_t now)
{
	fprintf(out, "\nWorking hours uptime/downtime configurations:\n");
	if (s->sch.kind == SCHED_NONE) {
		fprintf(out, "  none: the worker is active at all hours\n");
	} else {
		char lines[8192];
		schedule_describe(&s->sch, lines, sizeof lines);
		fprintf(out, "  %s:\n%s", s->sch.kind == SCHED_UPTIME ? "uptime" : "downtime", lines);
	}
	if (s->props_unsupported) {
		fprintf(out, "\nThe server has no worker runtime properties (no force override)\n");
	} else if (s->prop != FORCE_NONE) {
		const char *v = s->prop == FORCE_ON ? "on" : "off";
		if (s->prop_expiry >= 0) {
			time_t until = now + (time_t)s->prop_expiry;
			struct tm tm;
			char when[64] = "";
			if (localtime_r(&until, &tm))
				strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
			fprintf(out, "\nWorker is forced %s by its runtime property until %s (%lld s)\n", v,
			        when, s->prop_expiry);
		} else {
			fprintf(out, "\nWorker is forced %s by its runtime property (no expiry)\n", v);
		}
	} else {
		fprintf(out, "\nNo runtime property forces the worker on or off\n");
	}
	fprintf(out, "\nQueues:\n");
	for (size_t i = 0; i < nq && i < s->nq; i++) {
		const char *tag = s->q[i].tag == FORCE_ON    ? " (tagged 'force_workers:on')"
		                  : s->q[i].tag == FORCE_OFF ? " (tagged 'force_workers:off')"
		                                             : "";
		char why[128];
		int active = schedule_decide(&s->sch, s->q[i].tag, s->prop, now, why, sizeof why);
		fprintf(out, "  - Listening to queue '%s'%s: %s now (%s)\n", queue_names[i], tag,
		        active ? "pulling" : "not pulling", why);
	}
	fflush(out);
}
