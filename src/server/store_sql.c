/*
 * store_sql — SQLite/JSON helpers for the queue, worker and event stores: prepared statements
 * with logged errors, JSON text columns, ISO datetimes, the tag and projection parts of the
 * get_all language that queues and workers need. Pure helpers; no service logic.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "server/store_sql.h"
#include "util.h"

sqlite3_stmt *
sq_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("sqlite prepare failed: %s (%.80s)", sqlite3_errmsg(db), sql);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

void
sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

const char *
sq_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

const char *
sq_str(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

json_t *
sq_col_json(sqlite3_stmt *st, int i, int dflt_array)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	json_t *v = NULL;
	if (t && *t)
		v = json_loads(t, JSON_DECODE_ANY, NULL);
	if (!v)
		v = dflt_array ? json_array() : json_object();
	return v;
}

char *
sq_json_text(const json_t *v)
{
	if (!v)
		return xstrdup("null");
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		fatal("json_dumps failed");
	return s;
}

json_t *
sq_iso(int64_t us)
{
	char s[64];
	iso_time(us, s, sizeof s);
	return json_string(s);
}

int64_t
sq_now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

const char **
sq_str_list(const json_t *v, size_t *n_out)
{
	*n_out = 0;
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v)) {
		const char **l = xcalloc(2, sizeof *l);
		l[0] = json_string_value(v);
		*n_out = 1;
		return l;
	}
	if (!json_is_array(v))
		return NULL;
	const char **l = xcalloc(json_array_size(v) + 1, sizeof *l);
	size_t i, n = 0;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (json_is_string(e))
			l[n++] = json_string_value(e);
	}
	*n_out = n;
	return l;
}

static int
has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return 1;
	}
	return 0;
}

int
sq_tags_match(const char *const *want, size_t nwant, const json_t *have)
{
	int any_include = 0, included = 0;
	for (size_t i = 0; i < nwant; i++) {
		const char *t = want[i];
		if (t[0] == '-') {
			if (has_string(have, t + 1))
				return 0;
		} else {
			any_include = 1;
			if (has_string(have, t))
				included = 1;
		}
	}
	return !any_include || included;
}

static int
cmp_json_str(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(x), json_string_value(y));
}

json_t *
sq_sorted_strings(const json_t *arr)
{
	json_t *out = json_array();
	if (!json_is_array(arr))
		return out;
	size_t n = json_array_size(arr), k = 0, i;
	json_t **v = xcalloc(n + 1, sizeof *v);
	json_t *e;
	json_array_foreach(arr, i, e) {
		if (json_is_string(e))
			v[k++] = e;
	}
	qsort(v, k, sizeof *v, cmp_json_str);
	for (i = 0; i < k; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

int
sq_tags_valid(const json_t *arr)
{
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		if (!json_is_string(e) || str_starts_with(json_string_value(e), "__$"))
			return -1;
	}
	return 0;
}

/* Copy the value at dotted `path` of src into dst (creating objects on the way). */
static void
copy_path(json_t *dst, const json_t *src, const char *path)
{
	const char *dot = strchr(path, '.');
	if (!dot) {
		json_t *v = json_object_get(src, path);
		if (v)
			json_object_set(dst, path, v);
		return;
	}
	char *head = xstrndup(path, (size_t)(dot - path));
	json_t *sv = json_object_get(src, head);
	if (json_is_object(sv)) {
		json_t *dv = json_object_get(dst, head);
		if (!json_is_object(dv)) {
			dv = json_object();
			json_object_set_new(dst, head, dv);
		}
		copy_path(dv, sv, dot + 1);
	}
	free(head);
}

static void
del_path(json_t *obj, const char *path)
{
	const char *dot = strchr(path, '.');
	if (!dot) {
		json_object_del(obj, path);
		return;
	}
	char *head = xstrndup(path, (size_t)(dot - path));
	json_t *sv = json_object_get(obj, head);
	if (json_is_object(sv))
		del_path(sv, dot + 1);
	free(head);
}

json_t *
sq_project(json_t *obj, const json_t *only_fields)
{
	if (!json_is_array(only_fields) || json_array_size(only_fields) == 0)
		return json_incref(obj);
	size_t i;
	json_t *e;
	int includes = 0;
	json_array_foreach(only_fields, i, e) {
		if (json_is_string(e) && json_string_value(e)[0] != '-')
			includes = 1;
	}
	json_t *out;
	if (includes) {
		out = json_object();
		json_t *id = json_object_get(obj, "id");
		if (id)
			json_object_set(out, "id", id);
		json_array_foreach(only_fields, i, e) {
			if (json_is_string(e) && json_string_value(e)[0] != '-')
				copy_path(out, obj, json_string_value(e));
		}
	} else {
		out = json_deep_copy(obj);
	}
	json_array_foreach(only_fields, i, e) {
		if (json_is_string(e) && json_string_value(e)[0] == '-' &&
		    strcmp(json_string_value(e) + 1, "id") != 0)
			del_path(out, json_string_value(e) + 1);
	}
	return out;
}
