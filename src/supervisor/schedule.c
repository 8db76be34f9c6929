/*
 * schedule — parsing "<hours> <days>" entries and deciding, per queue and per round, whether the
 * worker may pull (contract in schedule.h). No I/O and no clock: the caller passes the time.
 */
#include "supervisor/schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const char *const g_days[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const char *
schedule_day_name(int wday)
{
	return wday >= 0 && wday < 7 ? g_days[wday] : "?";
}

/* A 1–2 digit number at *p; advances. -1 when there is none. */
static int
take_num(const char **p)
{
	const char *s = *p;
	int v = 0, n = 0;
	while (isdigit((unsigned char)*s) && n < 3) {
		v = v * 10 + (*s - '0');
		s++;
		n++;
	}
	if (n == 0 || n > 2)
		return -1;
	*p = s;
	return v;
}

static int
day_index(const char *s, size_t len)
{
	if (len != 3)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(s, g_days[i], 3) == 0)
			return i;
	return -1;
}

static int
parse_hours(const char *spec, const char *tok, size_t len, struct sched_entry *e, char *err,
            size_t errlen)
{
	char item[64];
	size_t i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && tok[j] != ',')
			j++;
		size_t il = j - i;
		if (il == 0 || il >= sizeof item) {
			snprintf(err, errlen, "uptime/downtime entry \"%s\": empty or over-long hour item "
			         "(want H or H1-H2, hours 00-23)", spec);
			return -1;
		}
		memcpy(item, tok + i, il);
		item[il] = '\0';
		const char *p = item;
		int a = take_num(&p), b = 24;
		if (a < 0 || a > 23) {
			snprintf(err, errlen, "uptime/downtime entry \"%s\": \"%s\" is not an hour 00-23 "
			         "(want H or H1-H2)", spec, item);
			return -1;
		}
		if (*p == '-') {
			p++;
			b = take_num(&p);
			if (b < 0 || b > 24) {
				snprintf(err, errlen, "uptime/downtime entry \"%s\": \"%s\" does not end in an "
				         "hour 00-24", spec, item);
				return -1;
			}
			if (b == 0)
				b = 24; /* "20-00": up to midnight */
		}
		if (*p != '\0') {
			snprintf(err, errlen, "uptime/downtime entry \"%s\": \"%s\" is not H or H1-H2",
			         spec, item);
			return -1;
		}
		if (b <= a) {
			snprintf(err, errlen, "uptime/downtime entry \"%s\": hour range \"%s\" is empty or "
			         "runs backwards; write a span over midnight as two spans, e.g. "
			         "\"%02d-00,00-%02d\"", spec, item, a, b % 24);
			return -1;
		}
		if (e->nr >= SCHED_MAX_RANGES) {
			snprintf(err, errlen, "uptime/downtime entry \"%s\": more than %d hour ranges", spec,
			         SCHED_MAX_RANGES);
			return -1;
		}
		e->r[e->nr++] = (struct sched_range){(uint8_t)a, (uint8_t)b};
		i = j + 1;
	}
	return 0;
}

static int
parse_days(const char *spec, const char *tok, size_t len, struct sched_entry *e, char *err,
           size_t errlen)
{
	size_t i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && tok[j] != ',')
			j++;
		const char *it = tok + i;
		size_t il = j - i;
		const char *dash = memchr(it, '-', il);
		int a, b;
		if (dash) {
			a = day_index(it, (size_t)(dash - it));
			b = day_index(dash + 1, il - (size_t)(dash - it) - 1);
		} else {
			a = b = day_index(it, il);
		}
		if (a < 0 || b < 0) {
			snprintf(err, errlen, "uptime/downtime entry \"%s\": \"%.*s\" is not a day "
			         "(SUN, MON, TUE, WED, THU, FRI, SAT) or a range of days (SUN-TUE)", spec,
			         (int)(il > 40 ? 40 : il), it);
			return -1;
		}
		for (int d = a;; d = (d + 1) % 7) { /* a range may wrap the week end: FRI-MON */
			e->days |= (uint8_t)(1u << d);
			if (d == b)
				break;
		}
		i = j + 1;
	}
	return 0;
}

int
schedule_parse_entry(const char *spec, struct sched_entry *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!spec) {
		snprintf(err, errlen, "empty uptime/downtime entry");
		return -1;
	}
	const char *w[3];
	size_t wl[3], nw = 0;
	for (const char *p = spec; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (nw < 3) {
			w[nw] = s;
			wl[nw] = (size_t)(p - s);
		}
		nw++;
	}
	if (nw != 2) {
		snprintf(err, errlen, "uptime/downtime entry \"%s\": want \"<hours> <days>\", e.g. "
		         "\"17-20 SUN-TUE\" or \"20-00,00-08 SUN\"", spec);
		return -1;
	}
	if (parse_hours(spec, w[0], wl[0], out, err, errlen) < 0 ||
	    parse_days(spec, w[1], wl[1], out, err, errlen) < 0)
		return -1;
	return 0;
}

int
schedule_build(struct schedule *s, const char *const *uptime, size_t nup,
               const char *const *downtime, size_t ndown, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	if (nup && ndown) {
		snprintf(err, errlen, "both uptime and downtime are set; use only one of them");
		return -1;
	}
	const char *const *v = nup ? uptime : downtime;
	size_t n = nup ? nup : ndown;
	if (n > SCHED_MAX_ENTRIES) {
		snprintf(err, errlen, "more than %d uptime/downtime entries", SCHED_MAX_ENTRIES);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (schedule_parse_entry(v[i], &s->e[i], err, errlen) < 0) {
			memset(s, 0, sizeof *s);
			return -1;
		}
	s->n = n;
	s->kind = n == 0 ? SCHED_NONE : nup ? SCHED_UPTIME : SCHED_DOWNTIME;
	return 0;
}

int
schedule_matches_tm(const struct schedule *s, int wday, int hour)
{
	if (wday < 0 || wday > 6)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!(s->e[i].days & (1u << wday)))
			continue;
		for (size_t k = 0; k < s->e[i].nr; k++)
			if (hour >= s->e[i].r[k].start && hour < s->e[i].r[k].end)
				return 1;
	}
	return 0;
}

int
schedule_active_at(const struct schedule *s, time_t t)
{
	if (s->kind == SCHED_NONE)
		return 1;
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 1;
	int m = schedule_matches_tm(s, tm.tm_wday, tm.tm_hour);
	return s->kind == SCHED_UPTIME ? m : !m;
}

enum sched_force
schedule_force_value(const char *v, int *bad)
{
	if (bad)
		*bad = 0;
	if (!v)
		return FORCE_NONE;
	while (isspace((unsigned char)*v))
		v++;
	size_t n = strlen(v);
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (n == 0)
		return FORCE_NONE;
	if (n == 2 && strncasecmp(v, "on", 2) == 0)
		return FORCE_ON;
	if (n == 3 && strncasecmp(v, "off", 3) == 0)
		return FORCE_OFF;
	if (bad)
		*bad = 1;
	return FORCE_NONE;
}

enum sched_force
schedule_queue_force(const char *const *tags, size_t n)
{
	int on = 0;
	for (size_t i = 0; i < n; i++) {
		if (!tags[i])
			continue;
		if (strcmp(tags[i], "force_workers:off") == 0)
			return FORCE_OFF;
		if (strcmp(tags[i], "force_workers:on") == 0)
			on = 1;
	}
	return on ? FORCE_ON : FORCE_NONE;
}

int
schedule_decide(const struct schedule *s, enum sched_force queue_tag, enum sched_force prop,
                time_t now, char *why, size_t whylen)
{
	const char *w;
	int active;
	if (queue_tag == FORCE_OFF) {
		active = 0;
		w = "the queue is tagged force_workers:off";
	} else if (queue_tag == FORCE_ON) {
		active = 1;
		w = "the queue is tagged force_workers:on";
	} else if (prop == FORCE_OFF) {
		active = 0;
		w = "the worker's runtime property force is off";
	} else if (prop == FORCE_ON) {
		active = 1;
		w = "the worker's runtime property force is on";
	} else if (s->kind == SCHED_NONE) {
		active = 1;
		w = "no working hours are set";
	} else {
		active = schedule_active_at(s, now);
		if (s->kind == SCHED_UPTIME)
			w = active ? "inside the uptime hours" : "outside the uptime hours";
		else
			w = active ? "outside the downtime hours" : "inside the downtime hours";
	}
	if (whylen)
		snprintf(why, whylen, "%s", w);
	return active;
}

size_t
schedule_describe(const struct schedule *s, char *out, size_t outlen)
{
	size_t lines = 0, used = 0;
	if (outlen)
		out[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		for (size_t k = 0; k < s->e[i].nr; k++) {
			for (int d = 0; d < 7; d++) {
				if (!(s->e[i].days & (1u << d)))
					continue;
				if (used < outlen) {
					int w = snprintf(out + used, outlen - used, "  - %02d:00-%02d:59 on %s\n",
					                 s->e[i].r[k].start, s->e[i].r[k].end - 1, g_days[d]);
					if (w > 0)
						used += (size_t)w < outlen - used ? (size_t)w : outlen - used - 1;
				}
				lines++;
			}
		}
	}
	return lines;
}
