/*
 * schedule — working hours (spec §8.3, the documentation's "Scheduling working hours"): the
 * `--uptime`/`--downtime` (`agent.uptime`/`agent.downtime`) entries "<hours> <days>", and the
 * decision whether the worker may pull from a queue now, with the documented precedence:
 * queue tag `force_workers:on|off` > worker runtime property `force` (on/off) > the schedule.
 *
 * Pure: no I/O, no clock of its own. Times are handed in as time_t and broken down with
 * localtime_r (the process's TZ), so tests drive it with any clock and zone. Owner: schedule.c
 * (+ schedule_status.c for the `daemon --status` print-out).
 *
 * Entry format: hours = comma list of `H` (H up to midnight) or `H1-H2` (H2 exclusive; `-0`
 * and `-24` mean midnight); days = comma list of SUN..SAT or ranges (`SUN-TUE`; a range may wrap
 * the week end: `FRI-MON`), case-insensitive. Unlike upstream, a range starting at hour 0
 * counts (upstream silently ignores it, §12 item 17). A backwards hour range (`22-02`) is an
 * error: spans over midnight are written as two spans, as the documentation says.
 */
#ifndef CLEARML_SCHEDULE_H
#define CLEARML_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SCHED_MAX_ENTRIES 64
#define SCHED_MAX_RANGES 24

enum sched_kind { SCHED_NONE = 0, SCHED_UPTIME, SCHED_DOWNTIME };

struct sched_range {
	uint8_t start, end; /* hours [start, end), 0 <= start < end <= 24 */
};

struct sched_entry {
	struct sched_range r[SCHED_MAX_RANGES];
	size_t nr;
	uint8_t days; /* bit d: d = 0 (SUN) .. 6 (SAT) */
};

struct schedule {
	enum sched_kind kind;
	struct sched_entry e[SCHED_MAX_ENTRIES];
	size_t n;
};

/* Parse one "<hours> <days>" entry. 0, or -1 with a message naming the entry and the problem. */
int schedule_parse_entry(const char *spec, struct sched_entry *out, char *err, size_t errlen);

/* Build a schedule from the two lists (either may be empty). Both non-empty is an error (the
 * documentation: use only one of them). 0, or -1 with err. */
int schedule_build(struct schedule *s, const char *const *uptime, size_t nup,
                   const char *const *downtime, size_t ndown, char *err, size_t errlen);

/* 1 when the broken-down local time (tm_wday, tm_hour) falls in some entry. */
int schedule_matches_tm(const struct schedule *s, int wday, int hour);

/* The schedule alone at time t (local time): 1 active, 0 idle. No schedule → 1. */
int schedule_active_at(const struct schedule *s, time_t t);

/* The three override levels. */
enum sched_force { FORCE_NONE = 0, FORCE_ON, FORCE_OFF };

/* The worker runtime property `force` value: "on"/"off" (case-insensitive, trimmed) → ON/OFF;
 * NULL/empty → NONE; anything else → NONE and *bad = 1 (the caller warns). */
enum sched_force schedule_force_value(const char *v, int *bad);

/* The queue's tags (n strings): `force_workers:on` / `force_workers:off` → ON/OFF. With both
 * present off wins (upstream checks off first). */
enum sched_force schedule_queue_force(const char *const *tags, size_t n);

/* Whether the worker may pull from a queue now. why gets a short reason (for the once-per-change
 * log line), e.g. "queue tagged force_workers:off", "outside working hours". 1 / 0. */
int schedule_decide(const struct schedule *s, enum sched_force queue_tag, enum sched_force prop,
                    time_t now, char *why, size_t whylen);

/* One line per (hour range, day), upstream's format: "  - 17:00-19:59 on TUE". Into out (bounded,
 * always NUL-terminated). Returns the number of lines. */
size_t schedule_describe(const struct schedule *s, char *out, size_t outlen);

/* "SUN".."SAT" for 0..6. */
const char *schedule_day_name(int wday);

#endif
