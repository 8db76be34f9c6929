/*
 * task_page — one page of tasks.get_all / get_all_ex without reading every task: when the
 * request pages (page_size) and orders by a column the tasks table keeps (name, status, created,
 * last_update), optionally then by id, SQLite hands the documents over in that order and only
 * as many are parsed and filtered as the requested page needs. The result is then exactly what
 * the general path (parse all, filter, stable sort, page) returns, because the documents reach
 * getall_query already in its order: ties keep the general path's creation order. Anything else
 * (scrolling, other keys, id lists, missing column values) takes the general path.
 *
 * This is what keeps the web app's Experiments table fast with 10,000 tasks and more.
 */
#include <string.h>

#include "server/getall.h"
#include "server/task_page.h"
#include "util.h"

const char task_page_schema[] =
	"CREATE INDEX IF NOT EXISTS tasks_last_update ON tasks(company, last_update);"
	"CREATE INDEX IF NOT EXISTS tasks_name ON tasks(company, name);";

static const char *const g_columns[] = {"name", "status", "created", "last_update"};

/* The column of an order_by key ("-last_update" → "last_update", desc), or NULL. */
static const char *
column_of(const char *key, int *desc)
{
	*desc = key[0] == '-';
	const char *k = key[0] == '-' || key[0] == '+' ? key + 1 : key;
	for (size_t i = 0; i < ARRAY_LEN(g_columns); i++)
		if (!strcmp(k, g_columns[i]))
			return g_columns[i];
	return NULL;
}

static int
column_has_null(sqlite3 *db, const char *col, const char *company)
{
	/* empty values sort last in ascending order (getall), which an ORDER BY would not do */
	char *sql = xasprintf("SELECT 1 FROM tasks WHERE (company = ?1 OR company = '') AND (%s IS NULL"
	                      " OR %s = '') LIMIT 1", col, col);
	sqlite3_stmt *st = db_stmt(db, sql);
	free(sql);
	if (!st)
		return 1;
	sqlite3_bind_text(st, 1, company, -1, SQLITE_STATIC);
	int has = sqlite3_step(st) == SQLITE_ROW;
	db_stmt_done(st);
	return has;
}

int
tasks_page_docs(struct req *q, struct reply *r, const struct getall_spec *spec,
                void (*view)(json_t *doc, int maj, int min), json_t **docs_out)
{
	const json_t *b = q->body;
	json_t *ob = json_object_get(b, "order_by");
	json_t *psv = json_object_get(b, "page_size"), *pv = json_object_get(b, "page");
	if (!json_is_array(ob) || json_array_size(ob) < 1 || json_array_size(ob) > 2 ||
	    !json_is_integer(psv) || (pv && !json_is_integer(pv)) || json_object_get(b, "size") ||
	    json_object_get(b, "scroll_id") || json_object_get(b, "id") ||
	    json_is_true(json_object_get(b, "include_subprojects")))
		return 0;
	const char *k0 = json_string_value(json_array_get(ob, 0));
	const char *k1 = json_string_value(json_array_get(ob, 1));
	int d0 = 0, d1 = 0;
	const char *col = k0 ? column_of(k0, &d0) : NULL;
	if (!col)
		return 0;
	if (json_array_size(ob) == 2) {
		if (!k1)
			return 0;
		d1 = k1[0] == '-';
		if (strcmp(k1[0] == '-' || k1[0] == '+' ? k1 + 1 : k1, "id") != 0)
			return 0;
	}
	/* project: a plain list of ids narrows the scan (as the general path does) */
	json_t *proj = json_object_get(b, "project");
	char *projects = NULL;
	if (proj) {
		json_t *list = json_is_string(proj) ? json_pack("[O]", proj) : json_incref(proj);
		size_t i;
		json_t *e;
		int plain = json_is_array(list) && json_array_size(list) > 0;
		json_array_foreach(list, i, e) {
			const char *s = json_string_value(e);
			if (!s || s[0] == '-' || !strncmp(s, "__$", 3))
				plain = 0;
		}
		if (plain)
			projects = json_dumps(list, JSON_COMPACT);
		json_decref(list);
		if (!plain)
			return 0;
	}
	if (column_has_null(q->db, col, q->who->company)) {
		free(projects);
		return 0;
	}
	long long page = json_is_integer(pv) ? json_integer_value(pv) : 0;
	long long want = (page + 1) * json_integer_value(psv);
	char *sql = xasprintf("SELECT doc FROM tasks WHERE (company = ?1 OR company = '')%s"
	                      " ORDER BY %s %s, %s", projects ?
	                      " AND project IN (SELECT value FROM json_each(?2))" : "",
	                      col, d0 ? "DESC" : "ASC",
	                      k1 ? (d1 ? "id DESC" : "id ASC") : "created, rowid");
	sqlite3_stmt *st = db_stmt(q->db, sql);
	free(sql);
	if (!st) {
		free(projects);
		return 0;
	}
	struct getall_filter *f = getall_filter_new(b, spec, r);
	if (!f) {
		db_stmt_done(st);
		free(projects);
		return -1; /* r holds the filter's error, as the general path would answer */
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	if (projects)
		sqlite3_bind_text(st, 2, projects, -1, SQLITE_STATIC);
	json_t *docs = json_array();
	long long got = 0;
	while (got < want && sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *d = text ? json_loadb(text, (size_t)sqlite3_column_bytes(st, 0), 0, NULL) : NULL;
		if (!json_is_object(d)) {
			json_decref(d);
			continue;
		}
		view(d, q->ver_major, q->ver_minor);
		if (getall_filter_pass(f, d)) {
			json_array_append_new(docs, d);
			got++;
		} else {
			json_decref(d);
		}
	}
	db_stmt_done(st);
	getall_filter_free(f);
	free(projects);
	*docs_out = docs;
	return 1;
}
