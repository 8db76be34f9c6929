/* Unit tests for schedule.c: the "<hours> <days>" parser (every example of the documentation,
 * midnight spans, malformed entries with their messages), the evaluator on a fake clock in a
 * fixed time zone (incl. both DST changes), and the precedence queue tag > runtime property >
 * schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/schedule.h"

enum { SUN, MON, TUE, WED, THU, FRI, SAT };

static struct schedule
build1(enum sched_kind kind, const char *spec)
{
	struct schedule s;
	char err[256];
	const char *v[] = {spec};
	int rc = kind == SCHED_UPTIME ? schedule_build(&s, v, 1, NULL, 0, err, sizeof err)
	                              : schedule_build(&s, NULL, 0, v, 1, err, sizeof err);
	if (rc != 0)
		fail_msg("%s: %s", spec, err);
	return s;
}

/* Which of the 7*24 (day, hour) cells an uptime entry covers, as a string per day. */
static void
assert_cells(const struct schedule *s, int day, const char *hours24)
{
	char got[25];
	for (int h = 0; h < 24; h++)
		got[h] = schedule_matches_tm(s, day, h) ? 'X' : '.';
	got[24] = '\0';
	assert_string_equal(got, hours24);
}

static const char *const NONE = "........................";

static void
test_documented_examples(void **state)
{
	(void)state;
	/* "20-23 SUN" - 8 PM to 11 PM on Sundays (end exclusive) */
	struct schedule s = build1(SCHED_UPTIME, "20-23 SUN");
	assert_cells(&s, SUN, "....................XXX.");
	assert_cells(&s, MON, NONE);
	assert_cells(&s, SAT, NONE);
	/* "20-23 SUN,TUE" */
	s = build1(SCHED_UPTIME, "20-23 SUN,TUE");
	assert_cells(&s, SUN, "....................XXX.");
	assert_cells(&s, MON, NONE);
	assert_cells(&s, TUE, "....................XXX.");
	/* "20-23 SUN-TUE" */
	s = build1(SCHED_UPTIME, "20-23 SUN-TUE");
	for (int d = SUN; d <= TUE; d++)
		assert_cells(&s, d, "....................XXX.");
	assert_cells(&s, WED, NONE);
	/* "20 SUN" - 8 PM to midnight */
	s = build1(SCHED_UPTIME, "20 SUN");
	assert_cells(&s, SUN, "....................XXXX");
	assert_cells(&s, MON, NONE);
	/* "20-00,00-08 SUN": the range starting at 0 counts (upstream ignores it) */
	s = build1(SCHED_UPTIME, "20-00,00-08 SUN");
	assert_cells(&s, SUN, "XXXXXXXX............XXXX");
	assert_cells(&s, MON, NONE);
	/* "17-20 SUN-TUE", "13-22 WED" (the agent.uptime example) */
	const char *two[] = {"17-20 SUN-TUE", "13-22 WED"};
	char err[256];
	assert_int_equal(schedule_build(&s, two, 2, NULL, 0, err, sizeof err), 0);
	assert_int_equal(s.kind, SCHED_UPTIME);
	assert_cells(&s, MON, ".................XXX....");
	assert_cells(&s, WED, ".............XXXXXXXXX..");
	assert_cells(&s, THU, NONE);
	/* the command-line help's "09-13 TUE" */
	s = build1(SCHED_DOWNTIME, "09-13 TUE");
	assert_cells(&s, TUE, ".........XXXX...........");
}

static void
test_before_and_after_midnight(void **state)
{
	(void)state;
	/* "20-00 SUN", "00-08 MON" - 8 PM on Sundays to 8 AM on Mondays */
	const char *v[] = {"20-00 SUN", "00-08 MON"};
	struct schedule s;
	char err[256];
	assert_int_equal(schedule_build(&s, v, 2, NULL, 0, err, sizeof err), 0);
	assert_cells(&s, SUN, "....................XXXX");
	assert_cells(&s, MON, "XXXXXXXX................");
	assert_cells(&s, TUE, NONE);
	/* a whole day three ways; 24 as an end; the 0 start of upstream's quirk */
	s = build1(SCHED_UPTIME, "0 SAT");
	assert_cells(&s, SAT, "XXXXXXXXXXXXXXXXXXXXXXXX");
	s = build1(SCHED_UPTIME, "00-00 SAT");
	assert_cells(&s, SAT, "XXXXXXXXXXXXXXXXXXXXXXXX");
	s = build1(SCHED_UPTIME, "0-24 sat");
	assert_cells(&s, SAT, "XXXXXXXXXXXXXXXXXXXXXXXX");
	s = build1(SCHED_UPTIME, "0-1 MON");
	assert_cells(&s, MON, "X.......................");
	s = build1(SCHED_UPTIME, "23 FRI");
	assert_cells(&s, FRI, ".......................X");
	assert_cells(&s, SAT, NONE);
}

static void
test_days_and_case(void **state)
{
	(void)state;
	struct schedule s = build1(SCHED_UPTIME, "8-9 fri-mon"); /* wraps the week end */
	for (int d = 0; d < 7; d++)
		assert_int_equal(schedule_matches_tm(&s, d, 8), d == FRI || d == SAT || d == SUN || d == MON);
	s = build1(SCHED_UPTIME, "8-9 SUN-SAT");
	for (int d = 0; d < 7; d++)
		assert_true(schedule_matches_tm(&s, d, 8));
	s = build1(SCHED_UPTIME, "  8-9   Wed,sat-sun  ");
	assert_true(schedule_matches_tm(&s, WED, 8));
	assert_true(schedule_matches_tm(&s, SAT, 8));
	assert_true(schedule_matches_tm(&s, SUN, 8));
	assert_false(schedule_matches_tm(&s, MON, 8));
	assert_false(schedule_matches_tm(&s, WED, 9));
	assert_false(schedule_matches_tm(&s, 7, 8));
	assert_false(schedule_matches_tm(&s, -1, 8));
	s = build1(SCHED_UPTIME, "1-2,3-4,5-7 THU");
	assert_cells(&s, THU, ".X.X.XX.................");
}

static void
assert_bad(const char *spec, const char *fragment)
{
	struct sched_entry e;
	char err[512];
	err[0] = '\0';
	if (schedule_parse_entry(spec, &e, err, sizeof err) == 0)
		fail_msg("\"%s\" was accepted", spec);
	if (!strstr(err, fragment))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", spec, err, fragment);
	/* every message names the entry */
	if (spec && !strstr(err, spec))
		fail_msg("\"%s\": message \"%s\" does not name the entry", spec, err);
}

static void
test_malformed(void **state)
{
	(void)state;
	assert_bad("", "want \"<hours> <days>\"");
	assert_bad("17-20", "want \"<hours> <days>\"");
	assert_bad("17-20 SUN MON", "want \"<hours> <days>\"");
	assert_bad("SUN 17-20", "is not an hour");
	assert_bad("24 SUN", "is not an hour");
	assert_bad("-3 SUN", "is not an hour");
	assert_bad("17-25 SUN", "does not end in an hour");
	assert_bad("17- SUN", "does not end in an hour");
	assert_bad("22-02 SUN", "runs backwards");
	assert_bad("22-02 SUN", "22-00,00-02");
	assert_bad("8-8 SUN", "empty or runs backwards");
	assert_bad("17:00-20 SUN", "is not H or H1-H2");
	assert_bad("17-20x SUN", "is not H or H1-H2");
	assert_bad("017-20 SUN", "is not an hour");
	assert_bad("17,,20 SUN", "empty or over-long hour item");
	assert_bad("17-20, SUN", "empty or over-long hour item");
	assert_bad("17-20 SUNDAY", "is not a day");
	assert_bad("17-20 SUN-", "is not a day");
	assert_bad("17-20 SUN,,MON", "is not a day");
	assert_bad("17-20 XYZ", "is not a day");
	assert_bad("17-20 1", "is not a day");
	struct sched_entry e;
	char err[128];
	assert_int_equal(schedule_parse_entry(NULL, &e, err, sizeof err), -1);
	/* both lists: refused */
	struct schedule s;
	const char *u[] = {"17-20 SUN"}, *d[] = {"9-10 MON"};
	assert_int_equal(schedule_build(&s, u, 1, d, 1, err, sizeof err), -1);
	assert_non_null(strstr(err, "use only one"));
	/* a bad entry among good ones: refused, nothing half-built */
	const char *mixed[] = {"17-20 SUN", "bogus"};
	assert_int_equal(schedule_build(&s, mixed, 2, NULL, 0, err, sizeof err), -1);
	assert_int_equal(s.kind, SCHED_NONE);
	assert_int_equal(s.n, 0);
	/* too many ranges in one entry: bounded */
	char big[512] = "";
	for (int i = 0; i < 30; i++) {
		char one[8];
		snprintf(one, sizeof one, "%s%d", i ? "," : "", i % 23);
		strncat(big, one, sizeof big - strlen(big) - 1);
	}
	strncat(big, " SUN", sizeof big - strlen(big) - 1);
	assert_int_equal(schedule_parse_entry(big, &e, err, sizeof err), -1);
	assert_non_null(strstr(err, "more than"));
}

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
	                .tm_min = mi, .tm_sec = s};
	return timegm(&tm);
}

static int
set_tz(void **state)
{
	(void)state;
	/* a POSIX rule, no tzdata needed: US Eastern, DST from the 2nd Sunday of March to the 1st
	 * Sunday of November at 02:00 local */
	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	tzset();
	return 0;
}

static void
test_fake_clock_and_dst(void **state)
{
	(void)state;
	/* 2026-03-08 is the Sunday of the spring change: 02:00 EST jumps to 03:00 EDT */
	struct schedule s = build1(SCHED_UPTIME, "02-03 SUN");
	assert_false(schedule_active_at(&s, utc(2026, 3, 8, 6, 59, 59))); /* 01:59:59 EST */
	assert_false(schedule_active_at(&s, utc(2026, 3, 8, 7, 0, 0)));   /* 03:00:00 EDT */
	/* the hour 02 never exists that day; a week earlier it does (EST = UTC-5) */
	assert_true(schedule_active_at(&s, utc(2026, 3, 1, 7, 30, 0)));
	s = build1(SCHED_UPTIME, "03 SUN");
	assert_true(schedule_active_at(&s, utc(2026, 3, 8, 7, 0, 0)));    /* 03:00 EDT */
	assert_false(schedule_active_at(&s, utc(2026, 3, 8, 6, 59, 59)));
	/* 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:xx happens twice: two real hours */
	s = build1(SCHED_UPTIME, "01-02 SUN");
	assert_false(schedule_active_at(&s, utc(2026, 11, 1, 4, 59, 59))); /* 00:59:59 EDT */
	assert_true(schedule_active_at(&s, utc(2026, 11, 1, 5, 0, 0)));    /* 01:00 EDT */
	assert_true(schedule_active_at(&s, utc(2026, 11, 1, 6, 30, 0)));   /* 01:30 EST */
	assert_false(schedule_active_at(&s, utc(2026, 11, 1, 7, 0, 0)));   /* 02:00 EST */
	/* a downtime across local midnight, Saturday to Sunday, on the fake clock */
	const char *v[] = {"22-00 SAT", "00-06 SUN"};
	char err[128];
	assert_int_equal(schedule_build(&s, NULL, 0, v, 2, err, sizeof err), 0);
	assert_true(schedule_active_at(&s, utc(2026, 6, 13, 1, 59, 0)));   /* Fri 21:59 EDT */
	assert_false(schedule_active_at(&s, utc(2026, 6, 14, 2, 0, 0)));   /* Sat 22:00 EDT */
	assert_false(schedule_active_at(&s, utc(2026, 6, 14, 4, 0, 0)));   /* Sun 00:00 EDT */
	assert_false(schedule_active_at(&s, utc(2026, 6, 14, 9, 59, 59))); /* Sun 05:59 EDT */
	assert_true(schedule_active_at(&s, utc(2026, 6, 14, 10, 0, 0)));   /* Sun 06:00 EDT */
	/* no schedule: always active */
	struct schedule none;
	assert_int_equal(schedule_build(&none, NULL, 0, NULL, 0, err, sizeof err), 0);
	assert_true(schedule_active_at(&none, utc(2026, 6, 14, 3, 0, 0)));
}

static void
test_precedence(void **state)
{
	(void)state;
	struct schedule up = build1(SCHED_UPTIME, "10-11 MON");
	time_t inside = utc(2026, 6, 15, 14, 30, 0), outside = utc(2026, 6, 15, 16, 0, 0); /* EDT */
	char why[128];
	assert_true(schedule_decide(&up, FORCE_NONE, FORCE_NONE, inside, why, sizeof why));
	assert_string_equal(why, "inside the uptime hours");
	assert_false(schedule_decide(&up, FORCE_NONE, FORCE_NONE, outside, why, sizeof why));
	assert_string_equal(why, "outside the uptime hours");
	/* runtime property over the schedule */
	assert_true(schedule_decide(&up, FORCE_NONE, FORCE_ON, outside, why, sizeof why));
	assert_non_null(strstr(why, "force is on"));
	assert_false(schedule_decide(&up, FORCE_NONE, FORCE_OFF, inside, why, sizeof why));
	/* queue tag over both */
	assert_false(schedule_decide(&up, FORCE_OFF, FORCE_ON, inside, why, sizeof why));
	assert_non_null(strstr(why, "force_workers:off"));
	assert_true(schedule_decide(&up, FORCE_ON, FORCE_OFF, outside, why, sizeof why));
	assert_non_null(strstr(why, "force_workers:on"));
	/* downtime */
	struct schedule down = build1(SCHED_DOWNTIME, "10-11 MON");
	assert_false(schedule_decide(&down, FORCE_NONE, FORCE_NONE, inside, why, sizeof why));
	assert_string_equal(why, "inside the downtime hours");
	assert_true(schedule_decide(&down, FORCE_NONE, FORCE_NONE, outside, why, sizeof why));
	/* the override values */
	int bad;
	assert_int_equal(schedule_force_value("on", &bad), FORCE_ON);
	assert_int_equal(schedule_force_value(" OFF ", &bad), FORCE_OFF);
	assert_int_equal(schedule_force_value("On", &bad), FORCE_ON);
	assert_int_equal(bad, 0);
	assert_int_equal(schedule_force_value("maybe", &bad), FORCE_NONE);
	assert_int_equal(bad, 1);
	assert_int_equal(schedule_force_value("", &bad), FORCE_NONE);
	assert_int_equal(bad, 0);
	assert_int_equal(schedule_force_value(NULL, NULL), FORCE_NONE);
	const char *t1[] = {"x", "force_workers:on"}, *t2[] = {"force_workers:on", "force_workers:off"},
	           *t3[] = {"force_workers:ON", NULL};
	assert_int_equal(schedule_queue_force(t1, 2), FORCE_ON);
	assert_int_equal(schedule_queue_force(t2, 2), FORCE_OFF);
	assert_int_equal(schedule_queue_force(t3, 2), FORCE_NONE); /* tags are case-sensitive */
	assert_int_equal(schedule_queue_force(NULL, 0), FORCE_NONE);
}

static void
test_describe(void **state)
{
	(void)state;
	struct schedule s = build1(SCHED_UPTIME, "20-00,00-08 SUN-MON");
	char out[512];
	assert_int_equal(schedule_describe(&s, out, sizeof out), 4);
	assert_string_equal(out, "  - 20:00-23:59 on SUN\n  - 20:00-23:59 on MON\n"
	                         "  - 00:00-07:59 on SUN\n  - 00:00-07:59 on MON\n");
	s = build1(SCHED_UPTIME, "17-20 TUE");
	assert_int_equal(schedule_describe(&s, out, sizeof out), 1);
	assert_string_equal(out, "  - 17:00-19:59 on TUE\n");
	/* bounded */
	char tiny[10];
	schedule_describe(&s, tiny, sizeof tiny);
	assert_int_equal(strlen(tiny), 9);
	assert_string_equal(schedule_day_name(6), "SAT");
	assert_string_equal(schedule_day_name(9), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_examples),
		cmocka_unit_test(test_before_and_after_midnight),
		cmocka_unit_test(test_days_and_case),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_fake_clock_and_dst),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_describe),
	};
	return cmocka_run_group_tests(tests, set_tz, NULL);
}
