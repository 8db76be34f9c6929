/*
 * svc_projects_hyperparams — projects.get_hyperparam_values: the distinct values one
 * hyper-parameter (section, name) takes across the tasks of some projects (and, unless
 * include_subprojects is false, their subprojects; no projects: every task of the company),
 * optionally only those matching a case-insensitive pattern, in numeric-aware order, paged.
 * As the real server answers, `total` counts the values of the page returned.
 */
#include <ctype.h>
#include <string.h>

#include "server/getall.h"
#include "server/server.h"
#include "util.h"

#define MAX_PROJECTS 1000
#define MAX_KEY 1024

/* Order as a numeric collation does: runs of digits compare by their number ("2" < "10"), the
 * rest by letter without regard to case, then byte-wise. */
static int
natural_cmp(const char *a, const char *b)
{
	const char *p = a, *q = b;
	while (*p && *q) {
		if (isdigit((unsigned char)*p) && isdigit((unsigned char)*q)) {
			while (*p == '0')
				p++;
			while (*q == '0')
				q++;
			size_t np = 0, nq = 0;
			while (isdigit((unsigned char)p[np]))
				np++;
			while (isdigit((unsigned char)q[nq]))
				nq++;
			if (np != nq)
				return np < nq ? -1 : 1;
			int c = strncmp(p, q, np);
			if (c)
				return c;
			p += np;
			q += nq;
			continue;
		}
		int x = tolower((unsigned char)*p), y = tolower((unsigned char)*q);
		if (x != y)
			return x < y ? -1 : 1;
		p++;
		q++;
	}
	if (*p || *q)
		return *p ? 1 : -1;
	return strcmp(a, b);
}

static int
cmp_values(const void *a, const void *b)
{
	return natural_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* projects: absent/null → NULL (no project filter), else its JSON text; -1 with r filled. */
static int
projects_arg(struct req *q, struct reply *r, char **out)
{
	*out = NULL;
	json_t *p = json_object_get(q->body, "projects");
	if (!p || json_is_null(p))
		return 0;
	if (!json_is_array(p) || json_array_size(p) > MAX_PROJECTS) {
		reply_err(r, 400, 12, "Validation error (projects must be a list of at most %d ids)",
		          MAX_PROJECTS);
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(p, i, e)
		if (!json_is_string(e)) {
			reply_err(r, 400, 12, "Validation error (projects must be a list of ids)");
			return -1;
		}
	if (json_array_size(p))
		*out = json_dumps(p, JSON_COMPACT);
	return 0;
}

static void
projects_get_hyperparam_values(struct req *q, struct reply *r)
{
	const char *section, *name, *pattern = NULL;
	long long page = 0, page_size = 500;
	int subs = 1, allow_public = 1;
	if (req_str(q, r, "section", 1, &section) || req_str(q, r, "name", 1, &name) ||
	    req_str(q, r, "pattern", 0, &pattern) || req_int(q, r, "page", 0, &page) ||
	    req_int(q, r, "page_size", 0, &page_size) ||
	    req_bool(q, r, "include_subprojects", 0, &subs) ||
	    req_bool(q, r, "allow_public", 0, &allow_public))
		return;
	if (strlen(section) > MAX_KEY || strlen(name) > MAX_KEY) {
		reply_err(r, 400, 12, "Validation error (section and name are at most %d bytes)",
		          MAX_KEY);
		return;
	}
	/* out-of-range paging is clamped, as the real server does (and bounded here) */
	if (page < 0)
		page = 0;
	if (page > 1000000000)
		page = 1000000000;
	if (page_size < 1)
		page_size = 1;
	if (page_size > 100000)
		page_size = 100000;
	regex_t re;
	int has_re = 0;
	if (pattern && *pattern) {
		char *ci = str_starts_with(pattern, "(?i)") ? xstrdup(pattern)
		                                             : xasprintf("(?i)%s", pattern);
		int rc = getall_regex_compile(ci, &re);
		free(ci);
		if (rc != 0) {
			reply_err(r, 400, 12, "Validation error (invalid regular expression): "
			          "field=pattern");
			return;
		}
		has_re = 1;
	}
	char *projects = NULL;
	if (projects_arg(q, r, &projects) != 0) {
		if (has_re)
			regfree(&re);
		return;
	}
	sqlite3_stmt *st = db_stmt(q->db,
		"SELECT json_extract(doc, '$.hyperparams') FROM tasks WHERE (company = ?2 OR "
		"(?3 AND company = '')) AND (?1 IS NULL OR project IN (SELECT value FROM json_each(?1))"
		" OR (?4 AND project IN (SELECT c.id FROM projects p JOIN projects c ON c.company = "
		"p.company AND substr(c.name, 1, length(p.name) + 1) = p.name || '/' WHERE p.id IN "
		"(SELECT value FROM json_each(?1)))))");
	if (!st) {
		free(projects);
		if (has_re)
			regfree(&re);
		reply_err(r, 500, 100, "General data error");
		return;
	}
	if (projects)
		sqlite3_bind_text(st, 1, projects, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_text(st, 2, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, allow_public);
	sqlite3_bind_int(st, 4, subs);
	json_t *set = json_object();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *hp = text ? json_loadb(text, (size_t)sqlite3_column_bytes(st, 0), 0, NULL)
		                  : NULL;
		json_t *item = json_object_get(json_object_get(hp, section), name);
		const char *v = json_string_value(json_object_get(item, "value"));
		if (v && (!has_re || regexec(&re, v, 0, NULL, 0) == 0))
			json_object_set_new(set, v, json_true());
		json_decref(hp);
	}
	db_stmt_done(st);
	free(projects);
	if (has_re)
		regfree(&re);
	size_t n = json_object_size(set), m = 0;
	const char **vals = xcalloc(n ? n : 1, sizeof(*vals));
	const char *k;
	json_t *e;
	json_object_foreach(set, k, e)
		vals[m++] = k;
	qsort(vals, m, sizeof(*vals), cmp_values);
	json_t *out = json_array();
	for (long long i = page * page_size; i < (long long)m && i < (page + 1) * page_size; i++)
		json_array_append_new(out, json_string(vals[i]));
	free(vals);
	json_decref(set);
	reply_data(r, json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(out), "values",
	                        out));
}

const struct endpoint svc_projects_hyperparams_endpoints[] = {
	{"projects.get_hyperparam_values", "2.13", 0, projects_get_hyperparam_values},
	{0},
};
