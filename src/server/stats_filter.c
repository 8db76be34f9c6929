/*
 * stats_filter — the entity filters of the projects statistics queries (include_stats_filter,
 * children_tags, children_tags_filter), read the way upstream's aggregation reads them, which
 * differs from the get_all language in getall.c: a legacy list (list_filter_pass) ORs its
 * conditions when it starts with __$any, and a {any, all, op} field filter
 * (field_filter_pass). Pure logic over JSON documents; svc_projects_stats.c uses it.
 */
#include <string.h>

#include "server/getall.h"
#include "server/stats_filter.h"
#include "server/svc_tasks.h"
#include "util.h"

#define MAX_LIST 1000         /* values one filter list may hold */
#define MAX_FILTER_KEYS 16    /* fields of one filter */

int
sfilter_has(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && s && !strcmp(json_string_value(v), s))
			return 1;
	return 0;
}

/* The strings a document holds at a field, as a new array (a scalar becomes one item). */
static json_t *
field_values(const json_t *doc, const char *field)
{
	json_t *v = json_path_get(doc, field);
	if (json_is_array(v))
		return json_incref(v);
	json_t *out = json_array();
	if (json_is_string(v))
		json_array_append(out, v);
	return out;
}

static int
count_in(const json_t *want, const json_t *have)
{
	int n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(want, i, v)
		if (json_is_string(v) && sfilter_has(have, json_string_value(v)))
			n++;
	return n;
}

/* The {any: {include, exclude}, all: {include, exclude}, op} filter over the strings of have:
 * any.include "holds one of", any.exclude "misses one of" (either passes); all.include "holds
 * every one", all.exclude "holds none" (both must); op joins the two parts (and / or). */
static int
field_filter_pass(const json_t *f, const json_t *have)
{
	int parts = 0, any_ok = 1, all_ok = 1;
	const json_t *any = json_object_get(f, "any"), *all = json_object_get(f, "all");
	if (json_is_object(any)) {
		const json_t *inc = json_object_get(any, "include"), *exc = json_object_get(any, "exclude");
		size_t ni = json_array_size(inc), ne = json_array_size(exc);
		if (ni || ne) {
			parts |= 1;
			any_ok = (ni && count_in(inc, have) > 0) ||
			         (ne && count_in(exc, have) < (int)ne);
		}
	}
	if (json_is_object(all)) {
		const json_t *inc = json_object_get(all, "include"), *exc = json_object_get(all, "exclude");
		size_t ni = json_array_size(inc), ne = json_array_size(exc);
		if (ni || ne) {
			parts |= 2;
			all_ok = (!ni || count_in(inc, have) == (int)ni) && (!ne || count_in(exc, have) == 0);
		}
	}
	const char *op = sget(f, "op");
	if (op && !strcmp(op, "or") && parts == 3)
		return any_ok || all_ok;
	return any_ok && all_ok;
}

int
sfilter_field_check(const json_t *f, struct reply *r, const char *field)
{
	static const char *const parts[] = {"any", "all"};
	const char *op = sget(f, "op");
	if (op && strcmp(op, "and") != 0 && strcmp(op, "or") != 0) {
		reply_err(r, 400, 12, "Validation error (op must be and / or): field=%s", field);
		return -1;
	}
	for (int p = 0; p < 2; p++) {
		const json_t *part = json_object_get(f, parts[p]);
		if (!part || json_is_null(part))
			continue;
		if (!json_is_object(part))
			goto bad;
		static const char *const lists[] = {"include", "exclude"};
		for (int l = 0; l < 2; l++) {
			const json_t *v = json_object_get(part, lists[l]);
			if (!v || json_is_null(v))
				continue;
			if (!json_is_array(v) || json_array_size(v) > MAX_LIST)
				goto bad;
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
				if (!json_is_string(e))
					goto bad;
		}
	}
	return 0;
bad:
	reply_err(r, 400, 12, "Validation error (expected {any, all: {include, exclude}}): field=%s",
	          field);
	return -1;
}

/* The legacy list filter of the stats queries over the strings of have, as upstream's
 * aggregation reads it: the first __$all / __$any sets how the conditions join (and by default),
 * each one sets the context of the values after it (any by default, __$nop resets); a value is
 * excluded by __$not before it or, outside an operator context, a '-' prefix. Included values
 * under any: holds one of them; under all: holds each; excluded ones: holds none of them. */
static int
list_filter_pass(const json_t *list, const json_t *have)
{
	int global = 0, ctx_all = 0, legacy = 1, negate = 0;   /* global: 0 unset, 1 and, 2 or */
	size_t n_in = 0, hit_in = 0, n_all = 0, hit_all = 0, n_nin = 0, hit_nin = 0;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *s = json_string_value(e);
		if (!s) {
			negate = 0;
			continue;
		}
		if (!strcmp(s, "__$nop")) {
			ctx_all = 0;
			legacy = 1;
			negate = 0;
			continue;
		}
		if (!strcmp(s, "__$not")) {
			negate = 1;
			continue;
		}
		if (!strcmp(s, "__$all") || !strcmp(s, "__$and") || !strcmp(s, "__$any") ||
		    !strcmp(s, "__$or")) {
			ctx_all = !strcmp(s, "__$all") || !strcmp(s, "__$and");
			if (!global)
				global = ctx_all ? 1 : 2;
			legacy = 0;
			continue;
		}
		int include = !negate;
		if (!negate && legacy && s[0] == '-' && s[1]) {
			include = 0;
			s++;
		}
		negate = 0;
		int has = sfilter_has(have, s);
		if (!include) {
			n_nin++;
			hit_nin += has;
		} else if (ctx_all) {
			n_all++;
			hit_all += has;
		} else {
			n_in++;
			hit_in += has;
		}
	}
	int conds = (n_in > 0) + (n_all > 0) + (n_nin > 0);
	int c_in = !n_in || hit_in > 0, c_all = hit_all == n_all, c_nin = hit_nin == 0;
	if (global == 2 && conds > 1)
		return (n_in && hit_in > 0) || (n_all && hit_all == n_all) || (n_nin && hit_nin == 0);
	return c_in && c_all && c_nin;
}

/* A compiled stats filter: {field: legacy list | field filter}, plus the users. */
struct sfilter {
	json_t *lists;                      /* the list-form fields */
	json_t *dicts;                      /* the {any, all} fields */
	const json_t *users;
};

void
sfilter_free(struct sfilter *f)
{
	if (!f)
		return;
	json_decref(f->lists);
	json_decref(f->dicts);
	free(f);
}

/* filter (an object or NULL) compiled; NULL with r filled when malformed. */
struct sfilter *
sfilter_new(const json_t *filter, const json_t *users, struct reply *r)
{
	struct sfilter *f = xcalloc(1, sizeof(*f));
	f->lists = json_object();
	f->dicts = json_object();
	f->users = json_array_size(users) ? users : NULL;
	if (json_object_size(filter) > MAX_FILTER_KEYS) {
		reply_err(r, 400, 12, "Validation error (at most %d stats filter fields)",
		          MAX_FILTER_KEYS);
		goto fail;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)(uintptr_t)filter, key, v) {
		if (json_is_array(v) && json_array_size(v) && json_array_size(v) <= MAX_LIST) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
				if (!json_is_string(e) && !json_is_null(e)) {
					reply_err(r, 400, 12, "Validation error (only string values are allowed "
					          "in the list filter): field=%s", key);
					goto fail;
				}
			json_object_set(f->lists, key, v);
		} else if (json_is_object(v) && json_object_size(v)) {
			if (sfilter_field_check(v, r, key) != 0)
				goto fail;
			json_object_set(f->dicts, key, v);
		} else {
			reply_err(r, 400, 12, "Validation error (non empty list or dictionary expected for "
			          "the field): field=%s", key);
			goto fail;
		}
	}
	return f;
fail:
	sfilter_free(f);
	return NULL;
}

int
sfilter_pass(const struct sfilter *f, const json_t *doc)
{
	if (f->users && !sfilter_has(f->users, sget(doc, "user")))
		return 0;
	const char *key;
	json_t *v;
	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach(pass ? f->dicts : f->lists, key, v) {
			json_t *have = field_values(doc, key);
			int ok = pass ? field_filter_pass(v, have) : list_filter_pass(v, have);
			json_decref(have);
			if (!ok)
				return 0;
		}
	}
	return 1;
}

/* A copy of filter (or {}) whose system_tags list is adjusted: mode 'a' replaces any
 * archived / -archived by -archived (stats over active tasks), 'o' adds -archived unless the
 * list names either (own contents), 'd' adds "dataset" (dataset projects). */
json_t *
sfilter_with_state(const json_t *filter, int mode)
{
	json_t *f = json_is_object(filter) ? json_deep_copy(filter) : json_object();
	json_t *st = json_object_get(f, "system_tags");
	if (st && !json_is_array(st))
		return f;
	json_t *out = json_array();
	int named = 0;
	size_t i;
	json_t *e;
	json_array_foreach(st, i, e) {
		const char *s = json_string_value(e);
		int arch = s && (!strcmp(s, "archived") || !strcmp(s, "-archived"));
		named |= arch;
		if (mode == 'a' && arch)
			continue;
		json_array_append(out, e);
	}
	if (mode == 'a')
		json_array_append_new(out, json_string("-archived"));
	else if (mode == 'o' && !named)
		json_array_insert_new(out, 0, json_string("-archived"));
	else if (mode == 'd' && !sfilter_has(out, "dataset"))
		json_array_append_new(out, json_string("dataset"));
	json_object_set_new(f, "system_tags", out);
	return f;
}
