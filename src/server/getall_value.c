/*
 * getall_value — the value side of the get_all query language: ordering a document's value
 * against a query's (numbers, ISO-8601 datetimes in any of the spellings clients send, strings),
 * and the `filters` object of list fields ({"tags": {"any": {"include": [...], "exclude": [...]},
 * "all": {...}, "op": "and"|"or"}}). Pure: no SQL, no I/O; getall.c uses it per clause.
 *
 * The list filter's parts map to set tests on the document's list (a scalar counts as a
 * one-element list, a missing one as empty):
 *   any.include → holds one of them        any.exclude → lacks at least one of them
 *   all.include → holds all of them        all.exclude → holds none of them
 * and a null among the values stands for "the list is empty" (include) / "is not" (exclude).
 * The tests of "any" are OR'ed, those of "all" AND'ed, and the two parts combined by op.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/getall.h"
#include "util.h"

#define MAX_FILTER_VALUES 256

/* n decimal digits at *p into *v (advancing *p): 0, or -1 when fewer digits are there. */
static int
take_digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

int
getall_datetime_parse(const char *s, int64_t *us_out)
{
	if (!s)
		return -1;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	if (take_digits(&p, 4, &y) || *p++ != '-' || take_digits(&p, 2, &mo) || *p++ != '-' ||
	    take_digits(&p, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	long us = 0, off = 0;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (take_digits(&p, 2, &h) || *p++ != ':' || take_digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (take_digits(&p, 2, &sec))
				return -1;
			if (*p == '.') {
				p++;
				int digits = 0;
				if (!isdigit((unsigned char)*p))
					return -1;
				for (; isdigit((unsigned char)*p); p++)
					if (digits < 6) {
						us = us * 10 + (*p - '0');
						digits++;
					}
				while (digits++ < 6)
					us *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (take_digits(&p, 2, &oh))
				return -1;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) && take_digits(&p, 2, &om))
				return -1;
			off = sign * (oh * 3600L + om * 60L);
		}
	}
	if (*p)
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	*us_out = ((int64_t)t - off) * 1000000 + us;
	return 0;
}

/* A string that is wholly a number (as the real server reads metric values given as text). */
static int
numeric_string(const char *s, double *v)
{
	char *end;
	if (!s || !*s || isspace((unsigned char)*s))
		return 0;
	*v = strtod(s, &end);
	return *end == '\0';
}

static int
order(double a, double b)
{
	return a < b ? -1 : a > b;
}

int
getall_value_cmp(const json_t *docv, const json_t *qv, int *cmp)
{
	if (!docv || json_is_null(docv) || !qv || json_is_null(qv))
		return -1;
	double x, y;
	if (json_is_number(docv) && json_is_number(qv)) {
		*cmp = order(json_number_value(docv), json_number_value(qv));
		return 0;
	}
	if (json_is_number(docv) && json_is_string(qv)) {
		if (!numeric_string(json_string_value(qv), &y))
			return -1;
		*cmp = order(json_number_value(docv), y);
		return 0;
	}
	if (json_is_string(docv) && json_is_number(qv)) {
		if (!numeric_string(json_string_value(docv), &x))
			return -1;
		*cmp = order(x, json_number_value(qv));
		return 0;
	}
	if (json_is_string(docv) && json_is_string(qv)) {
		int64_t a, b;
		const char *ds = json_string_value(docv), *qs = json_string_value(qv);
		if (getall_datetime_parse(ds, &a) == 0 && getall_datetime_parse(qs, &b) == 0)
			*cmp = a < b ? -1 : a > b;
		else
			*cmp = strcmp(ds, qs);
		return 0;
	}
	return -1;
}

/* ---------------------------------------------------------------- list filters */

struct list_part {
	int present;
	json_t *include, *exclude; /* values, nulls left out */
	int include_empty, exclude_empty;
};

struct getall_list_filter {
	struct list_part any, all;
	int or_op;
};

static int
part_compile(const char *field, const char *name, const json_t *v, struct list_part *p,
             struct reply *r)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		reply_err(r, 400, 12, "Validation error (invalid filter for field, dictionary "
		          "expected): field=%s part=%s", field, name);
		return -1;
	}
	p->present = 1;
	p->include = json_array();
	p->exclude = json_array();
	const char *k;
	json_t *vals;
	json_object_foreach((json_t *)(uintptr_t)v, k, vals) {
		int inc = !strcmp(k, "include");
		if (!inc && strcmp(k, "exclude") != 0) {
			reply_err(r, 400, 12, "Validation error (unknown filter key %.64s, include or "
			          "exclude expected): field=%s", k, field);
			return -1;
		}
		if (json_is_null(vals))
			continue;
		if (!json_is_array(vals) || json_array_size(vals) > MAX_FILTER_VALUES) {
			reply_err(r, 400, 12, "Validation error (%s must be a list of at most %d values): "
			          "field=%s", k, MAX_FILTER_VALUES, field);
			return -1;
		}
		size_t i;
		json_t *e;
		json_array_foreach(vals, i, e) {
			if (json_is_null(e)) {
				if (inc)
					p->include_empty = 1;
				else
					p->exclude_empty = 1;
			} else if (json_is_string(e) || json_is_number(e) || json_is_boolean(e)) {
				json_array_append(inc ? p->include : p->exclude, e);
			} else {
				reply_err(r, 400, 12, "Validation error (filter values must be scalars): "
				          "field=%s", field);
				return -1;
			}
		}
	}
	return 0;
}

static void
part_free(struct list_part *p)
{
	json_decref(p->include);
	json_decref(p->exclude);
}

struct getall_list_filter *
getall_list_filter_new(const char *field, const json_t *spec, struct reply *r)
{
	if (!json_is_object(spec)) {
		reply_err(r, 400, 12, "Validation error (invalid filter for field, dictionary expected):"
		          " field=%s", field);
		return NULL;
	}
	struct getall_list_filter *f = xcalloc(1, sizeof(*f));
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)(uintptr_t)spec, k, v) {
		if (!strcmp(k, "any") || !strcmp(k, "all"))
			continue;
		if (!strcmp(k, "op") && (json_is_null(v) || (json_is_string(v) &&
		    (!strcmp(json_string_value(v), "and") || !strcmp(json_string_value(v), "or"))))) {
			f->or_op = json_is_string(v) && !strcmp(json_string_value(v), "or");
			continue;
		}
		reply_err(r, 400, 12, "Validation error (invalid list filter %.64s: any, all or op "
		          "(and|or) expected): field=%s", k, field);
		goto fail;
	}
	if (part_compile(field, "any", json_object_get(spec, "any"), &f->any, r) ||
	    part_compile(field, "all", json_object_get(spec, "all"), &f->all, r))
		goto fail;
	return f;
fail:
	getall_list_filter_free(f);
	return NULL;
}

void
getall_list_filter_free(struct getall_list_filter *f)
{
	if (!f)
		return;
	part_free(&f->any);
	part_free(&f->all);
	free(f);
}

static int
list_holds(const json_t *list, const json_t *x)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
		if (json_equal(e, x))
			return 1;
	return 0;
}

/* How many of vals the document's list holds. */
static size_t
held_count(const json_t *list, const json_t *vals)
{
	size_t i, n = 0;
	json_t *x;
	json_array_foreach(vals, i, x)
		n += (size_t)list_holds(list, x);
	return n;
}

/* The result of one part: -1 when it has no test (leaves the other part to decide). */
static int
part_pass(const struct list_part *p, const json_t *list, int or_mode)
{
	if (!p->present)
		return -1;
	int tests = 0, hits = 0;
	size_t empty = json_array_size(list) == 0;
	size_t ni = json_array_size(p->include), ne = json_array_size(p->exclude);
	if (p->include_empty) {
		tests++;
		hits += (int)empty;
	}
	if (p->exclude_empty) {
		tests++;
		hits += (int)!empty;
	}
	if (ni) {
		tests++;
		size_t held = held_count(list, p->include);
		hits += or_mode ? held > 0 : held == ni;
	}
	if (ne) {
		tests++;
		size_t held = held_count(list, p->exclude);
		hits += or_mode ? held < ne : held == 0;
	}
	if (!tests)
		return -1;
	return or_mode ? hits > 0 : hits == tests;
}

int
getall_list_filter_pass(const struct getall_list_filter *f, const json_t *docv)
{
	json_t *list;
	if (json_is_array(docv))
		list = json_incref((json_t *)(uintptr_t)docv);
	else if (!docv || json_is_null(docv))
		list = json_array();
	else
		list = json_pack("[O]", docv);
	int a = part_pass(&f->any, list, 1), b = part_pass(&f->all, list, 0);
	json_decref(list);
	if (a < 0 && b < 0)
		return 1;
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return f->or_op ? (a || b) : (a && b);
}
