/*
 * svc_organization — organization.get_user_companies, get_entities_count and
 * get_project_usages (organization.get_tags lives with the projects service).
 *
 * get_entities_count never filters by itself: each kind is counted by calling that kind's own
 * get_all handler (found through the router) with only_fields [id], page after page of at most
 * SRV_MAX_PAGE_SIZE, so a count always agrees with what the same filters list. The kinds the
 * real server maps onto tasks or projects (reports, pipeline runs, dataset versions, pipelines,
 * datasets) get the same forced task type / include_subprojects / hidden handling it applies.
 *
 * get_project_usages follows upstream's aggregation (bll/project/project_usages.py): the tasks
 * of the projects (and their sub-projects) that ran inside [from_date's day, to_date's day] in
 * from_date's time zone, cut per calendar day, each day's running seconds weighted by the
 * resources the task's queue declared at workers.register (1.0 and an "artificial weights" flag
 * when it declared none), summed per project (sub-projects fold into the top ones asked for),
 * user and queue.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/front.h"
#include "server/organization.h"
#include "server/store_sql.h"
#include "util.h"

#define MAX_ACTIVE_USERS 1000
#define MAX_USAGE_PROJECTS 1000
#define MAX_USAGE_DAYS 3700          /* ten years of days */
#define MAX_USAGE_CELLS (4L << 20)    /* keys x days over all breakdowns */
#define MAX_COUNT_PAGES 100000
#define DEFAULT_RESOURCE 1.0          /* services.queues.resource_usages.{cpu,gpu} */

const char organization_schema[] =
	"CREATE TABLE IF NOT EXISTS queue_resources(queue TEXT PRIMARY KEY, cpu_usage REAL, "
	"  gpu_usage REAL);";

/* ---------------------------------------------------------------- queue resources */

static int
usage_value(const json_t *res, const char *k, double *out, int *have, struct reply *r)
{
	json_t *v = json_object_get(res, k);
	*have = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v)) {
		reply_err(r, 400, 12, "Validation error (resources.%s must be a number)", k);
		return -1;
	}
	*out = json_number_value(v);
	*have = 1;
	return 0;
}

int
queue_resources_set(sqlite3 *db, const json_t *queues, const json_t *resources, struct reply *r)
{
	if (!json_is_object(resources) || !json_is_array(queues) || !json_array_size(queues))
		return 0;
	double cpu = 0, gpu = 0;
	int have_cpu, have_gpu;
	if (usage_value(resources, "cpu_usage", &cpu, &have_cpu, r) != 0 ||
	    usage_value(resources, "gpu_usage", &gpu, &have_gpu, r) != 0)
		return -1;
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO queue_resources(queue, cpu_usage, gpu_usage) "
	                               "VALUES(?1, ?2, ?3) ON CONFLICT(queue) DO UPDATE SET "
	                               "cpu_usage = excluded.cpu_usage, gpu_usage = excluded.gpu_usage");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return -1;
	}
	int rc = 0;
	size_t i;
	json_t *qv;
	json_array_foreach(queues, i, qv) {
		if (!json_is_string(qv))
			continue;
		sqlite3_bind_text(st, 1, json_string_value(qv), -1, SQLITE_STATIC);
		if (have_cpu)
			sqlite3_bind_double(st, 2, cpu);
		else
			sqlite3_bind_null(st, 2);
		if (have_gpu)
			sqlite3_bind_double(st, 3, gpu);
		else
			sqlite3_bind_null(st, 3);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = -1;
		sqlite3_reset(st);
		if (rc)
			break;
	}
	db_stmt_done(st);
	if (rc)
		reply_err(r, 500, 100, "General data error (%s)", sqlite3_errmsg(db));
	return rc;
}

/* ---------------------------------------------------------------- get_user_companies */

static void
org_get_user_companies(struct req *q, struct reply *r)
{
	sqlite3_stmt *st = db_stmt(q->db, "SELECT u.id, u.name, json_extract(p.doc, '$.avatar') "
	                                  "FROM users u LEFT JOIN user_profiles p ON p.id = u.id "
	                                  "WHERE u.company = ? ORDER BY u.name, u.id");
	if (!st) {
		reply_err(r, 500, 100, "General data error");
		return;
	}
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	json_t *owners = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *avatar = (const char *)sqlite3_column_text(st, 2);
		json_array_append_new(owners, json_pack("{s:s,s:s,s:o}", "id", sq_col_text(st, 0),
		                                        "name", sq_col_text(st, 1), "avatar",
		                                        avatar ? json_string(avatar) : json_null()));
	}
	db_stmt_done(st);
	const char *cname = *q->who->company_name ? q->who->company_name : SRV_DEFAULT_COMPANY_NAME;
	json_t *company = json_pack("{s:s,s:s,s:I,s:o}", "id", q->who->company, "name", cname,
	                            "allocated", (json_int_t)json_array_size(owners), "owners",
	                            owners);
	reply_data(r, json_pack("{s:[o]}", "companies", company));
}

/* ---------------------------------------------------------------- get_entities_count */

struct count_kind {
	const char *field;       /* request and reply key */
	const char *endpoint;    /* the get_all that lists this kind */
	const char *list_key;    /* its reply array */
	const char *type;        /* task type forced on the filter, or NULL */
	int project;             /* a project kind (active_users selects projects) */
	int plain;               /* hidden entities counted only with search_hidden */
};

static const struct count_kind g_kinds[] = {
	{"projects", "projects.get_all", "projects", NULL, 1, 1},
	{"tasks", "tasks.get_all", "tasks", NULL, 0, 1},
	{"models", "models.get_all", "models", NULL, 0, 0},
	{"pipelines", "projects.get_all", "projects", NULL, 1, 0},
	{"pipeline_runs", "tasks.get_all", "tasks", "controller", 0, 0},
	{"datasets", "projects.get_all", "projects", NULL, 1, 0},
	{"dataset_versions", "tasks.get_all", "tasks", "data_processing", 0, 0},
	{"reports", "tasks.get_all", "tasks", "report", 0, 0},
};

/*
 * The projects where one of users created a project, task or model, with all their parents
 * (upstream's get_projects_with_selected_children), narrowed to the ids of `requested` (a string
 * or list) when given. A new array.
 */
static json_t *
active_user_projects(struct req *q, const char *users_text, const json_t *requested)
{
	sqlite3_stmt *st = db_stmt(q->db,
		"WITH u(v) AS (SELECT value FROM json_each(?2)), act(pid) AS ("
		" SELECT id FROM projects WHERE (company = ?1 OR company = '')"
		"  AND json_extract(doc, '$.user') IN u"
		" UNION SELECT project FROM tasks WHERE (company = ?1 OR company = '')"
		"  AND project IS NOT NULL AND json_extract(doc, '$.user') IN u"
		" UNION SELECT project FROM models WHERE (company = ?1 OR company = '')"
		"  AND project IS NOT NULL AND json_extract(doc, '$.user') IN u)"
		"SELECT DISTINCT p.id FROM projects c JOIN projects p ON p.company = c.company"
		" AND (p.id = c.id OR substr(c.name, 1, length(p.name) + 1) = p.name || '/')"
		" WHERE c.id IN act");
	json_t *out = json_array();
	if (!st)
		return out;
	sqlite3_bind_text(st, 1, q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, users_text, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = sq_col_text(st, 0);
		int keep = !requested || json_is_null(requested);
		if (json_is_string(requested))
			keep = !strcmp(json_string_value(requested), id);
		if (json_is_array(requested)) {
			size_t i;
			json_t *e;
			json_array_foreach(requested, i, e)
				if (json_is_string(e) && !strcmp(json_string_value(e), id))
					keep = 1;
		}
		if (keep)
			json_array_append_new(out, json_string(id));
	}
	db_stmt_done(st);
	return out;
}

/* Count what kind's get_all lists for filters body (owned by the caller, changed here), up to
 * limit when > 0. 0 and *count, or -1 with *err a new message. */
static int
count_with_get_all(struct req *q, const struct count_kind *k, json_t *body, long long limit,
                   long long *count, char **err)
{
	const struct endpoint *ep = router_find(k->endpoint, q->ver_major, q->ver_minor);
	if (!ep) {
		*err = xasprintf("Unable to find endpoint for name %s", k->endpoint);
		return -1;
	}
	static const char *const paging[] = {"page", "page_size", "scroll_id", "size", "start",
	                                     "refresh_scroll", "order_by", "only_fields",
	                                     "include_stats", NULL};
	for (const char *const *p = paging; *p; p++)
		json_object_del(body, *p);
	json_object_set_new(body, "only_fields", json_pack("[s]", "id"));
	long long page_size = SRV_MAX_PAGE_SIZE;
	if (limit > 0 && limit < page_size)
		page_size = limit;
	json_object_set_new(body, "page_size", json_integer(page_size));
	struct req sub = *q;
	sub.endpoint = ep->name;
	sub.body = body;
	sub.batch = NULL;
	sub.wait_until_ms = 0;
	long long n_total = 0;
	for (long long page = 0; page < MAX_COUNT_PAGES; page++) {
		json_object_set_new(body, "page", json_integer(page));
		struct reply sr;
		memset(&sr, 0, sizeof(sr));
		ep->fn(&sub, &sr);
		if (sr.code && sr.code != 200) {
			*err = xstrdup(sr.msg ? sr.msg : "error");
			reply_clear(&sr);
			return -1;
		}
		long long n = (long long)json_array_size(json_object_get(sr.data, k->list_key));
		reply_clear(&sr);
		n_total += n;
		if (n < page_size || (limit > 0 && n_total >= limit))
			break;
	}
	if (limit > 0 && n_total > limit)
		n_total = limit;
	*count = n_total;
	return 0;
}

static void
org_get_entities_count(struct req *q, struct reply *r)
{
	int search_hidden = 0, allow_public = 1;
	long long limit = 0;
	if (req_bool(q, r, "search_hidden", 0, &search_hidden) != 0 ||
	    req_bool(q, r, "allow_public", 0, &allow_public) != 0 ||
	    req_int(q, r, "limit", 0, &limit) != 0)
		return;
	json_t *users = json_object_get(q->body, "active_users");
	if (users && !json_is_null(users)) {
		size_t i;
		json_t *e;
		if (!json_is_array(users) || json_array_size(users) > MAX_ACTIVE_USERS) {
			reply_err(r, 400, 12, "Validation error (active_users must be a list of at most "
			          "%d user ids)", MAX_ACTIVE_USERS);
			return;
		}
		json_array_foreach(users, i, e)
			if (!json_is_string(e)) {
				reply_err(r, 400, 12, "Validation error (active_users must be strings)");
				return;
			}
		if (!json_array_size(users))
			users = NULL;
	} else {
		users = NULL;
	}
	char *users_text = users ? json_dumps(users, JSON_COMPACT) : NULL;
	json_t *data = json_object(), *errors = json_object();
	for (size_t i = 0; i < ARRAY_LEN(g_kinds); i++) {
		const struct count_kind *k = &g_kinds[i];
		json_t *filters = json_object_get(q->body, k->field);
		if (!filters || json_is_null(filters))
			continue;
		if (!json_is_object(filters)) {
			json_object_set_new(errors, k->field, json_string("search criteria must be an "
			                                                  "object"));
			continue;
		}
		json_t *body = json_deep_copy(filters);
		if (k->type) {
			json_object_set_new(body, "type", json_pack("[s]", k->type));
			json_object_set_new(body, "include_subprojects", json_true());
		}
		json_object_set_new(body, "search_hidden",
		                    json_boolean(k->plain ? search_hidden : 1));
		json_object_set_new(body, "allow_public", json_boolean(allow_public));
		long long n = 0;
		char *err = NULL;
		int rc = 0;
		if (users && k->project) {
			json_t *ids = active_user_projects(q, users_text, json_object_get(body, "id"));
			if (json_array_size(ids))
				json_object_set_new(body, "id", ids);
			else
				json_decref(ids), rc = 1;
		} else if (users) {
			json_t *u = json_object_get(body, "user");
			if (!u || json_is_null(u) || (json_is_array(u) && !json_array_size(u)))
				json_object_set(body, "user", users);
		}
		if (rc == 0)
			rc = count_with_get_all(q, k, body, limit, &n, &err);
		else
			rc = 0; /* no project of those users: nothing to count */
		json_decref(body);
		if (rc == 0) {
			json_object_set_new(data, k->field, json_integer(n));
		} else {
			json_object_set_new(errors, k->field, json_string(err ? err : "error"));
			free(err);
		}
	}
	free(users_text);
	if (json_object_size(errors))
		json_object_set_new(data, "errors", errors);
	else
		json_decref(errors);
	reply_data(r, data);
}

/* ---------------------------------------------------------------- get_project_usages */

enum { BK_PROJECT, BK_USER, BK_QUEUE, NBK };
enum { UF_DURATION, UF_CPU, UF_GPU, NUF };
static const char *const g_bk_names[NBK] = {"project", "user", "queue"};
static const char *const g_uf_names[NUF] = {"duration", "cpu_usage", "gpu_usage"};

struct usage_key {
	char *id;                 /* NULL: tasks without one (no queue) */
	double *vals[NUF];        /* per day */
	int def[NUF];             /* a task here had no declared resource (cpu, gpu) */
};

struct usage_group {
	struct usage_key *keys;
	size_t n, cap;
};

struct usage_ctx {
	struct req *q;
	int64_t start_s;          /* first local midnight (epoch seconds) */
	long ndays;
	int bk[NBK];              /* breakdowns asked for */
	int uf[NUF];              /* usage fields asked for */
	struct usage_group groups[NBK];
	long cells;
	json_t *child_to_top;     /* sub-project id → the asked-for project it folds into */
	json_t *queues;           /* this company's queue ids → "display_name or name" */
};

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t d = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? d - 1 : d;
}

/* ISO 8601 date-time (or date) as Python's fromisoformat reads it: epoch seconds, the
 * wall-clock day number and the UTC offset (0 when none). 0 or -1. */
static int
parse_when(const char *s, int64_t *epoch_s, int64_t *local_day, long *off_s)
{
	char buf[64];
	size_t n = strlen(s);
	if (n < 10 || n >= sizeof(buf) - 10)
		return -1;
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == 'Z' || buf[n - 1] == 'z')
		buf[--n] = '\0';
	if (n == 10)
		memcpy(buf + 10, "T00:00:00", 10);
	else if (buf[10] == ' ')
		buf[10] = 'T';
	int64_t us = iso_time_parse(buf);
	if (us < 0 && strlen(buf) == 16) { /* no seconds */
		memcpy(buf + 16, ":00", 4);
		us = iso_time_parse(buf);
	}
	if (us < 0)
		return -1;
	long off = 0;
	const char *p = buf + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		long hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = 0;
		p += 3;
		if (*p == ':')
			p++;
		if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9')
			mm = (p[0] - '0') * 10 + (p[1] - '0');
		off = sign * (hh * 3600 + mm * 60);
	}
	*epoch_s = floor_div(us, 1000000);
	*local_day = floor_div(*epoch_s + off, 86400);
	*off_s = off;
	return 0;
}

static int
enum_list(struct req *q, struct reply *r, const char *field, const char *const *names, int n,
          int *on, const int *dflt)
{
	json_t *v = json_object_get(q->body, field);
	if (!v || json_is_null(v) || (json_is_array(v) && !json_array_size(v))) {
		memcpy(on, dflt, sizeof(int) * (size_t)n);
		return 0;
	}
	memset(on, 0, sizeof(int) * (size_t)n);
	if (!json_is_array(v)) {
		reply_err(r, 400, 12, "Validation error (%s must be a list)", field);
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		int found = -1;
		for (int j = 0; s && j < n; j++)
			if (!strcmp(s, names[j]))
				found = j;
		if (found < 0) {
			reply_err(r, 400, 12, "Validation error (unsupported %s value): %s", field,
			          s ? s : "?");
			return -1;
		}
		on[found] = 1;
	}
	return 0;
}

static struct usage_key *
usage_key_get(struct usage_ctx *c, int g, const char *id, struct reply *r)
{
	struct usage_group *grp = &c->groups[g];
	for (size_t i = 0; i < grp->n; i++) {
		const char *k = grp->keys[i].id;
		if ((!k && !id) || (k && id && !strcmp(k, id)))
			return &grp->keys[i];
	}
	if (c->cells + c->ndays > MAX_USAGE_CELLS) {
		reply_err(r, 400, 12, "Validation error (too many usage series for the date range)");
		return NULL;
	}
	if (grp->n == grp->cap) {
		grp->cap = grp->cap ? grp->cap * 2 : 16;
		grp->keys = xreallocarray(grp->keys, grp->cap, sizeof(*grp->keys));
	}
	struct usage_key *k = &grp->keys[grp->n++];
	memset(k, 0, sizeof(*k));
	k->id = id ? xstrdup(id) : NULL;
	for (int u = 0; u < NUF; u++)
		k->vals[u] = xcalloc((size_t)c->ndays, sizeof(double));
	c->cells += c->ndays;
	return k;
}

static void
usage_ctx_free(struct usage_ctx *c)
{
	for (int g = 0; g < NBK; g++) {
		for (size_t i = 0; i < c->groups[g].n; i++) {
			free(c->groups[g].keys[i].id);
			for (int u = 0; u < NUF; u++)
				free(c->groups[g].keys[i].vals[u]);
		}
		free(c->groups[g].keys);
	}
	json_decref(c->child_to_top);
	json_decref(c->queues);
}

/* Projects to read and how they fold: one project asked → its direct children are the groups
 * (the project itself its own group); several → each with its sub-projects. A new array of
 * every project id to read; c->child_to_top filled. */
static json_t *
usage_projects(struct usage_ctx *c, const json_t *asked)
{
	sqlite3 *db = c->q->db;
	const char *company = c->q->who->company;
	json_t *tops = json_array(), *all = json_array();
	c->child_to_top = json_object();
	const char *root = NULL;
	if (json_array_size(asked) == 1) {
		root = json_string_value(json_array_get(asked, 0));
		sqlite3_stmt *st = db_stmt(db, "SELECT id FROM projects WHERE (company = ?1 OR "
		                               "company = '') AND json_extract(doc, '$.parent') = ?2");
		if (st) {
			sqlite3_bind_text(st, 1, company, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, root, -1, SQLITE_STATIC);
			while (sqlite3_step(st) == SQLITE_ROW)
				json_array_append_new(tops, json_string(sq_col_text(st, 0)));
			db_stmt_done(st);
		}
	} else {
		json_array_extend(tops, (json_t *)(uintptr_t)asked);
	}
	sqlite3_stmt *st = db_stmt(db, "SELECT c.id FROM projects p JOIN projects c ON c.company = "
	                               "p.company AND substr(c.name, 1, length(p.name) + 1) = "
	                               "p.name || '/' WHERE p.id = ?1 AND (p.company = ?2 OR "
	                               "p.company = '')");
	size_t i;
	json_t *t;
	json_array_foreach(tops, i, t) {
		json_array_append(all, t);
		if (!st)
			continue;
		sqlite3_bind_text(st, 1, json_string_value(t), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, company, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *cid = sq_col_text(st, 0);
			json_array_append_new(all, json_string(cid));
			json_object_set(c->child_to_top, cid, t);
		}
		sqlite3_reset(st);
	}
	if (st)
		db_stmt_done(st);
	if (root)
		json_array_append_new(all, json_string(root));
	json_decref(tops);
	return all;
}

static int
load_queues(struct usage_ctx *c)
{
	c->queues = json_object();
	sqlite3_stmt *st = db_stmt(c->q->db, "SELECT id, COALESCE(NULLIF(display_name, ''), name) "
	                                     "FROM queues WHERE company = ? OR company = ''");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, c->q->who->company, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(c->queues, sq_col_text(st, 0), json_string(sq_col_text(st, 1)));
	db_stmt_done(st);
	return 0;
}

static int64_t
iso_s(const char *s)
{
	int64_t us = s ? iso_time_parse(s) : -1;
	return us < 0 ? -1 : floor_div(us, 1000000);
}

/* One task's running time inside the range, cut per local day, into every breakdown. */
static int
usage_add_task(struct usage_ctx *c, const char *keys[NBK], int64_t s, int64_t e,
               const double res[2], const int def[2], struct reply *r)
{
	int64_t end_s = c->start_s + (int64_t)c->ndays * 86400;
	if (s < c->start_s)
		s = c->start_s;
	if (e > end_s)
		e = end_s;
	if (e < s)
		return 0;
	long d0 = (long)floor_div(s - c->start_s, 86400);
	long d1 = (long)floor_div(e - c->start_s, 86400);
	if (d1 >= c->ndays)
		d1 = c->ndays - 1;
	for (int g = 0; g < NBK; g++) {
		if (!c->bk[g])
			continue;
		struct usage_key *k = usage_key_get(c, g, keys[g], r);
		if (!k)
			return -1;
		k->def[UF_CPU] |= def[0];
		k->def[UF_GPU] |= def[1];
		for (long d = d0; d <= d1; d++) {
			int64_t day = c->start_s + (int64_t)d * 86400;
			int64_t to = e - day < 86400 ? e - day : 86400;
			int64_t from = s - day > 0 ? s - day : 0;
			double secs = (double)(to - from);
			k->vals[UF_DURATION][d] += secs;
			k->vals[UF_CPU][d] += secs * res[0];
			k->vals[UF_GPU][d] += secs * res[1];
		}
	}
	return 0;
}

static int
usage_collect(struct usage_ctx *c, const json_t *project_ids, int include_dev, struct reply *r)
{
	char *ids = json_dumps(project_ids, JSON_COMPACT);
	sqlite3_stmt *st = ids ? db_stmt(c->q->db,
		"SELECT t.project, t.status, json_extract(t.doc, '$.user'),"
		" json_extract(t.doc, '$.execution.queue'), json_extract(t.doc, '$.started'),"
		" json_extract(t.doc, '$.completed'), json_extract(t.doc, '$.status_changed'),"
		" r.cpu_usage, r.gpu_usage"
		" FROM tasks t LEFT JOIN queue_resources r"
		"  ON r.queue = json_extract(t.doc, '$.execution.queue')"
		" WHERE (t.company = ?1 OR t.company = '')"
		"  AND t.project IN (SELECT value FROM json_each(?2))"
		"  AND json_extract(t.doc, '$.started') IS NOT NULL"
		"  AND json_extract(t.doc, '$.application') IS NULL"
		"  AND COALESCE(json_extract(t.doc, '$.type'), '') NOT IN ('dataset_import',"
		"   'annotation', 'annotation_manual', 'report', 'controller')"
		"  AND (?3 OR COALESCE(json_extract(t.doc, '$.execution.queue'), '') != '')"
		"  AND NOT EXISTS (SELECT 1 FROM json_each(t.doc, '$.system_tags') WHERE value IN"
		"   ('dataset', 'reports', 'hidden') OR (NOT ?3 AND value = 'development'))") : NULL;
	if (!st) {
		free(ids);
		reply_err(r, 500, 100, "General data error");
		return -1;
	}
	sqlite3_bind_text(st, 1, c->q->who->company, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ids, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, include_dev);
	int64_t now_s = sq_now_us() / 1000000;
	int64_t range_start = c->start_s, range_end = c->start_s + (int64_t)c->ndays * 86400;
	int rc = 0;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *status = sq_col_text(st, 1);
		const char *queue = (const char *)sqlite3_column_text(st, 3);
		int64_t started = iso_s((const char *)sqlite3_column_text(st, 4));
		int64_t completed = iso_s((const char *)sqlite3_column_text(st, 5));
		int64_t changed = iso_s((const char *)sqlite3_column_text(st, 6));
		int running = !strcmp(status, "in_progress");
		if (started < 0 || started >= range_end)
			continue;
		if (!running && !(completed > range_start) &&
		    !(completed < 0 && changed > range_start))
			continue;
		int64_t stopped = running ? now_s : completed >= 0 ? completed : changed;
		if (stopped < 0)
			continue;
		double res[2];
		int def[2];
		for (int i = 0; i < 2; i++) {
			def[i] = sqlite3_column_type(st, 7 + i) == SQLITE_NULL;
			res[i] = def[i] ? DEFAULT_RESOURCE : sqlite3_column_double(st, 7 + i);
		}
		const char *project = sq_col_text(st, 0);
		const char *top = json_string_value(json_object_get(c->child_to_top, project));
		const char *keys[NBK];
		keys[BK_PROJECT] = top ? top : project;
		keys[BK_USER] = (const char *)sqlite3_column_text(st, 2);
		keys[BK_QUEUE] = !queue || !*queue ? NULL
		                 : json_object_get(c->queues, queue) ? queue : "_other_";
		rc = usage_add_task(c, keys, started, stopped, res, def, r);
	}
	db_stmt_done(st);
	free(ids);
	return rc;
}

/* Display names of a breakdown's keys: a new object id → name. */
static json_t *
usage_names(struct usage_ctx *c, int g)
{
	json_t *names = json_object();
	if (g == BK_QUEUE) {
		json_object_update(names, c->queues);
		json_object_set_new(names, "_other_", json_string("other"));
		return names;
	}
	sqlite3_stmt *st = db_stmt(c->q->db, g == BK_PROJECT ? "SELECT name FROM projects WHERE id = ?"
	                                                     : "SELECT name FROM users WHERE id = ?");
	if (!st)
		return names;
	for (size_t i = 0; i < c->groups[g].n; i++) {
		const char *id = c->groups[g].keys[i].id;
		if (!id)
			continue;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			json_object_set_new(names, id, json_string(sq_col_text(st, 0)));
		sqlite3_reset(st);
	}
	db_stmt_done(st);
	return names;
}

static json_t *
usage_number(int u, double v)
{
	return u == UF_DURATION ? json_integer((json_int_t)llround(v)) : json_real(v);
}

static json_t *
usage_reply(struct usage_ctx *c)
{
	json_t *data = json_object();
	for (int g = 0; g < NBK; g++) {
		if (!c->bk[g])
			continue;
		json_t *total = json_array(), *series = json_array();
		json_t *names = usage_names(c, g);
		for (size_t i = 0; i < c->groups[g].n; i++) {
			struct usage_key *k = &c->groups[g].keys[i];
			json_t *name = k->id ? json_object_get(names, k->id) : NULL;
			json_t *id = k->id ? json_string(k->id) : json_null();
			json_t *t = json_pack("{s:O,s:o}", "id", id, "name",
			                      name ? json_incref(name) : k->id ? json_string(k->id)
			                                                       : json_null());
			json_t *s = json_pack("{s:o,s:O}", "id", id, "name", json_object_get(t, "name"));
			json_t *dates = json_array();
			for (long d = 0; d < c->ndays; d++)
				json_array_append_new(dates, json_integer(c->start_s + (json_int_t)d * 86400));
			json_object_set_new(s, "dates", dates);
			for (int u = 0; u < NUF; u++) {
				if (!c->uf[u])
					continue;
				json_t *vals = json_array();
				double sum = 0;
				for (long d = 0; d < c->ndays; d++) {
					sum += k->vals[u][d];
					json_array_append_new(vals, usage_number(u, k->vals[u][d]));
				}
				json_object_set_new(s, g_uf_names[u], vals);
				json_object_set_new(t, g_uf_names[u], usage_number(u, sum));
				if (k->def[u]) {
					const char *flag = u == UF_CPU ? "cpu_artificial_weights"
					                               : "gpu_artificial_weights";
					json_object_set_new(s, flag, json_true());
					json_object_set_new(t, flag, json_true());
				}
			}
			json_array_append_new(total, t);
			json_array_append_new(series, s);
		}
		json_decref(names);
		char key[16];
		snprintf(key, sizeof(key), "%ss", g_bk_names[g]);
		json_object_set_new(data, key, json_pack("{s:o,s:o}", "total", total, "series", series));
	}
	return data;
}

static void
org_get_project_usages(struct req *q, struct reply *r)
{
	const char *from_s, *to_s;
	int include_dev = 0;
	if (req_str(q, r, "from_date", 1, &from_s) != 0 || req_str(q, r, "to_date", 1, &to_s) != 0 ||
	    req_bool(q, r, "include_development", 0, &include_dev) != 0)
		return;
	json_t *asked = json_object_get(q->body, "projects");
	if (!json_is_array(asked)) {
		reply_err(r, 400, 12, "Validation error (projects must be a list of project ids)");
		return;
	}
	size_t i;
	json_t *e;
	if (json_array_size(asked) > MAX_USAGE_PROJECTS) {
		reply_err(r, 400, 12, "Validation error (at most %d projects)", MAX_USAGE_PROJECTS);
		return;
	}
	json_array_foreach(asked, i, e)
		if (!json_is_string(e) || strlen(json_string_value(e)) > 128) {
			reply_err(r, 400, 12, "Validation error (projects must be project ids)");
			return;
		}
	struct usage_ctx c;
	memset(&c, 0, sizeof(c));
	c.q = q;
	static const int bk_dflt[NBK] = {1, 1, 1}, uf_dflt[NUF] = {1, 0, 1};
	if (enum_list(q, r, "breakdown_keys", g_bk_names, NBK, c.bk, bk_dflt) != 0 ||
	    enum_list(q, r, "usage_fields", g_uf_names, NUF, c.uf, uf_dflt) != 0)
		return;
	int64_t from_e, to_e, from_day, to_day;
	long from_off, to_off;
	if (parse_when(from_s, &from_e, &from_day, &from_off) != 0) {
		reply_err(r, 400, 12, "Validation error (invalid ISO 8601 date): from_date=%s", from_s);
		return;
	}
	if (parse_when(to_s, &to_e, &to_day, &to_off) != 0) {
		reply_err(r, 400, 12, "Validation error (invalid ISO 8601 date): to_date=%s", to_s);
		return;
	}
	if (from_e > to_e) {
		reply_err(r, 400, 12, "Validation error (from_date cannot be later than to_date)");
		return;
	}
	/* Days are those of from_date's zone; to_date's own wall-clock day ends the range. */
	c.start_s = from_day * 86400 - from_off;
	c.ndays = (long)(to_day - from_day + 1);
	if (c.ndays > MAX_USAGE_DAYS) {
		reply_err(r, 400, 12, "Validation error (at most %d days)", MAX_USAGE_DAYS);
		return;
	}
	if (c.ndays < 0)
		c.ndays = 0;
	json_t *project_ids = usage_projects(&c, asked);
	int rc = 0;
	if (json_array_size(project_ids) && c.ndays > 0) {
		rc = load_queues(&c);
		if (rc != 0)
			reply_err(r, 500, 100, "General data error");
		else
			rc = usage_collect(&c, project_ids, include_dev, r);
	}
	json_decref(project_ids);
	if (rc == 0)
		reply_data(r, usage_reply(&c));
	usage_ctx_free(&c);
}

const struct endpoint svc_organization_endpoints[] = {
	{"organization.get_user_companies", "2.12", 0, org_get_user_companies},
	{"organization.get_entities_count", "2.20", 0, org_get_entities_count},
	/* upstream's 2.34; our API tops at 2.31, where the web app and SDK call it */
	{"organization.get_project_usages", "2.31", 0, org_get_project_usages},
	{NULL, NULL, 0, NULL},
};
