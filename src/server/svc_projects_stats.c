/*
 * svc_projects_stats — what projects.get_all(_ex) adds to the get_all language for the web app's
 * Projects page, as the real server does:
 *
 *   - parent / shallow_search: shallow looks at one level only (the root when no parent is
 *     given, else the direct children of parent); otherwise parent selects every descendant;
 *   - children_type (dataset / pipeline / report) and active_users: only the projects that hold
 *     such children (or entities of those users), their ancestors included;
 *   - include_stats: stats.active {status_count, total_tasks, total_runtime,
 *     completed_tasks_24h, last_task_run} over the project's non-archived tasks and (unless
 *     stats_with_children is false) those of its subprojects, with sub_projects [{id, name}];
 *     for dataset children stats.datasets {count, tags} of the dataset projects below;
 *   - check_own_contents: own_tasks / own_models (or own_datasets) of the project itself;
 *   - include_dataset_stats: dataset_stats from the last updated task's runtime.ds_* fields;
 *   - search_hidden: hidden projects come back marked "hidden": true.
 *
 * The projects are held in memory as an index (id -> parent index) built from the documents
 * get_all already loaded; tasks and models come from SQL by project list and are aggregated
 * here, through the entity filters of stats_filter.c.
 */
#include <string.h>

#include "server/getall.h"
#include "server/projects.h"
#include "server/ref_expand.h"
#include "server/reports.h"
#include "server/server.h"
#include "server/stats_filter.h"
#include "server/svc_tasks.h"
#include "util.h"

#define MAX_DEPTH 64          /* parent links followed before a chain counts as broken */
#define MAX_LIST 1000         /* ids / users / tags a request may name */
#define N_STATUS 10

static const char *const task_statuses[N_STATUS] = {
	"created", "queued", "in_progress", "stopped", "published",
	"publishing", "closed", "failed", "completed", "unknown",
};

/* ---------------------------------------------------------------- the project index */

struct pindex {
	json_t **doc;   /* borrowed from the pool array */
	int *parent;    /* index of the parent project, -1 at the root or when unknown */
	size_t n;
	json_t *by_id;  /* id -> index */
};

static int
pindex_find(const struct pindex *x, const char *id)
{
	json_t *v = id ? json_object_get(x->by_id, id) : NULL;
	return v ? (int)json_integer_value(v) : -1;
}

static void
pindex_build(struct pindex *x, const json_t *pool)
{
	x->n = json_array_size(pool);
	x->doc = xcalloc(x->n ? x->n : 1, sizeof(*x->doc));
	x->parent = xcalloc(x->n ? x->n : 1, sizeof(*x->parent));
	x->by_id = json_object();
	for (size_t i = 0; i < x->n; i++) {
		x->doc[i] = json_array_get(pool, i);
		const char *id = sget(x->doc[i], "id");
		if (id)
			json_object_set_new(x->by_id, id, json_integer((json_int_t)i));
	}
	for (size_t i = 0; i < x->n; i++)
		x->parent[i] = pindex_find(x, sget(x->doc[i], "parent"));
}

static void
pindex_free(struct pindex *x)
{
	free(x->doc);
	free(x->parent);
	json_decref(x->by_id);
}

/* 1 when anc is a strict ancestor of i. */
static int
pindex_under(const struct pindex *x, int i, int anc)
{
	int p = x->parent[i];
	for (int d = 0; p >= 0 && d < MAX_DEPTH; d++, p = x->parent[p])
		if (p == anc)
			return 1;
	return 0;
}

static int
is_hidden(const json_t *doc)
{
	return has_tag(doc, "system_tags", "hidden");
}

/* ---------------------------------------------------------------- the request */

struct ex_opts {
	int ex, shallow, search_hidden, include_stats, with_children, own_contents;
	int dataset_stats, allow_public;
	const char *children_type;     /* NULL, "dataset", "pipeline" or "report" */
	const json_t *parents, *ids, *users, *children_tags, *children_tags_filter, *stats_filter;
};

static int
id_list_check(const json_t *v, struct reply *r, const char *field, int allow_null)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > MAX_LIST)
		goto bad;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (!(json_is_string(e) && json_string_length(e) <= 256) && !(allow_null && json_is_null(e)))
			goto bad;
	return 0;
bad:
	reply_err(r, 400, 12, "Validation error (expected a list of at most %d strings): field=%s",
	          MAX_LIST, field);
	return -1;
}

static int
opts_parse(struct req *q, struct reply *r, struct ex_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ex = ref_expand_wanted(q);
	o->with_children = 1;
	o->allow_public = 1;
	const json_t *b = q->body;
	if (req_bool(q, r, "shallow_search", 0, &o->shallow) ||
	    req_bool(q, r, "search_hidden", 0, &o->search_hidden))
		return -1;
	o->parents = json_object_get(b, "parent");
	if (o->parents && json_is_string(o->parents)) {
		reply_err(r, 400, 12, "Validation error (expected a list of ids): field=parent");
		return -1;
	}
	if (id_list_check(o->parents, r, "parent", 1) != 0)
		return -1;
	if (json_is_null(o->parents))
		o->parents = NULL;
	o->ids = json_object_get(b, "id");
	if (!json_is_array(o->ids))
		o->ids = NULL;
	if (!o->ex)
		return 0;
	int non_public = 0;
	const char *state = NULL;
	if (req_bool(q, r, "include_stats", 0, &o->include_stats) ||
	    req_bool(q, r, "stats_with_children", 0, &o->with_children) ||
	    req_bool(q, r, "check_own_contents", 0, &o->own_contents) ||
	    req_bool(q, r, "include_dataset_stats", 0, &o->dataset_stats) ||
	    req_bool(q, r, "non_public", 0, &non_public) ||
	    req_str(q, r, "children_type", 0, &o->children_type) ||
	    req_str(q, r, "stats_for_state", 0, &state))
		return -1;
	/* allow_public wins over non_public when both are given, as upstream */
	if (json_object_get(b, "allow_public")) {
		if (req_bool(q, r, "allow_public", 0, &o->allow_public))
			return -1;
	} else if (json_object_get(b, "non_public")) {
		o->allow_public = !non_public;
	}
	if (state && strcmp(state, "active") != 0 && strcmp(state, "archived") != 0) {
		reply_err(r, 400, 12, "Validation error (stats_for_state must be active or archived)");
		return -1;
	}
	if (o->children_type && strcmp(o->children_type, "dataset") != 0 &&
	    strcmp(o->children_type, "pipeline") != 0 && strcmp(o->children_type, "report") != 0) {
		reply_err(r, 400, 12, "Validation error (children_type must be pipeline, report or "
		          "dataset)");
		return -1;
	}
	o->users = json_object_get(b, "active_users");
	o->children_tags = json_object_get(b, "children_tags");
	o->children_tags_filter = json_object_get(b, "children_tags_filter");
	o->stats_filter = json_object_get(b, "include_stats_filter");
	if (id_list_check(o->users, r, "active_users", 0) ||
	    id_list_check(o->children_tags, r, "children_tags", 1))
		return -1;
	if (o->children_tags_filter && !json_is_null(o->children_tags_filter) &&
	    (!json_is_object(o->children_tags_filter) ||
	     sfilter_field_check(o->children_tags_filter, r, "children_tags_filter") != 0)) {
		if (!r->code)
			reply_err(r, 400, 12, "Validation error (object expected): field=children_tags_filter");
		return -1;
	}
	if (o->stats_filter && !json_is_null(o->stats_filter) && !json_is_object(o->stats_filter)) {
		reply_err(r, 400, 12, "Validation error (object expected): field=include_stats_filter");
		return -1;
	}
	if (!json_array_size(o->users))
		o->users = NULL;
	if (!json_array_size(o->children_tags))
		o->children_tags = NULL;
	if (!json_is_object(o->children_tags_filter) || !json_object_size(o->children_tags_filter))
		o->children_tags_filter = NULL;
	if (!json_is_object(o->stats_filter) || !json_object_size(o->stats_filter))
		o->stats_filter = NULL;
	return 0;
}

/* The children tags as a stats filter on "tags" (a new object, maybe empty). */
static json_t *
children_tags_as_filter(const struct ex_opts *o)
{
	json_t *f = json_object();
	if (o->children_tags_filter)
		json_object_set(f, "tags", (json_t *)(uintptr_t)o->children_tags_filter);
	else if (o->children_tags)
		json_object_set(f, "tags", (json_t *)(uintptr_t)o->children_tags);
	return f;
}

/* ---------------------------------------------------------------- selected children */

/* The ids of x listed in ids plus every project below them, as JSON array text for SQL. */
static char *
ids_with_children(const struct pindex *x, const json_t *ids, char *mark)
{
	memset(mark, 0, x->n ? x->n : 1);
	json_t *out = json_array();
	size_t k;
	json_t *v;
	json_array_foreach(ids, k, v)
		if (json_is_string(v))
			json_array_append(out, v);
	for (size_t i = 0; i < x->n; i++) {
		int in = sfilter_has(ids, sget(x->doc[i], "id"));
		for (size_t a = 0; !in && a < json_array_size(ids); a++) {
			int ai = pindex_find(x, json_string_value(json_array_get(ids, a)));
			in = ai >= 0 && pindex_under(x, (int)i, ai);
		}
		if (in) {
			mark[i] = 1;
			json_array_append_new(out, json_string(sget(x->doc[i], "id")));
		}
	}
	char *text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return text;
}

/* Mark (in sel) the projects holding the children the request selects, with their ancestors.
 * 0, or -1 with r filled. */
static int
select_children(struct req *q, struct reply *r, const struct ex_opts *o, const struct pindex *x,
                char *sel)
{
	char *scope = xcalloc(x->n ? x->n : 1, 1), *list = NULL;
	char *hit = xcalloc(x->n ? x->n : 1, 1);
	/* children tags only narrow children of a type; active_users alone looks at everything */
	json_t *tags = o->children_type ? children_tags_as_filter(o) : json_object();
	struct sfilter *f = sfilter_new(tags, o->users, r);
	json_decref(tags);
	int rc = -1;
	if (!f)
		goto out;
	if (o->ids)
		list = ids_with_children(x, o->ids, scope);
	const char *ct = o->children_type;
	if (ct && strcmp(ct, "report") != 0) {
		const char *tag = !strcmp(ct, "dataset") ? "dataset" : "pipeline";
		const char *skip = !strcmp(ct, "dataset") ? ".datasets" : ".pipelines";
		for (size_t i = 0; i < x->n; i++) {
			const char *bn = sget(x->doc[i], "basename");
			if (!has_tag(x->doc[i], "system_tags", tag) || (bn && !strcmp(bn, skip)) ||
			    !sfilter_pass(f, x->doc[i]))
				continue;
			if (o->ids && (x->parent[i] < 0 || !scope[x->parent[i]]))
				continue;
			hit[i] = 1;
		}
	} else {
		if (!ct)
			for (size_t i = 0; i < x->n; i++)
				if (sfilter_pass(f, x->doc[i]) && (!o->ids || scope[i]))
					hit[i] = 1;
		for (int models = 0; models < (ct ? 1 : 2); models++) {
			json_t *docs = project_entities(q->db, models, q->who->company, o->allow_public,
			                                o->ids ? PS_LIST : PS_ALL, list);
			if (!docs) {
				reply_err(r, 500, 100, "General data error (reading children)");
				goto out;
			}
			size_t k;
			json_t *d;
			json_array_foreach(docs, k, d) {
				int pi = pindex_find(x, sget(d, "project"));
				if (pi < 0 || (ct && !has_tag(d, "system_tags", REPORTS_TAG)) ||
				    !sfilter_pass(f, d))
					continue;
				hit[pi] = 1;
			}
			json_decref(docs);
		}
	}
	for (size_t i = 0; i < x->n; i++) {
		if (!hit[i])
			continue;
		sel[i] = 1;
		int p = x->parent[i];
		for (int d = 0; p >= 0 && d < MAX_DEPTH; d++, p = x->parent[p])
			sel[p] = 1;
	}
	rc = 0;
out:
	sfilter_free(f);
	free(scope);
	free(hit);
	free(list);
	return rc;
}

/* ---------------------------------------------------------------- narrowing before get_all */

/* keep[i] for the shallow / parent rules. */
static void
narrow_by_parent(const struct ex_opts *o, const struct pindex *x, char *keep)
{
	if (!o->shallow && !o->parents)
		return;
	for (size_t i = 0; i < x->n; i++) {
		if (!keep[i])
			continue;
		const char *parent = sget(x->doc[i], "parent");
		int ok = 0;
		if (o->shallow && !o->parents) {
			ok = !parent || !*parent;
		} else if (o->shallow) {
			size_t k;
			json_t *v;
			json_array_foreach(o->parents, k, v)
				if (json_is_null(v) ? !parent || !*parent
				                    : parent && !strcmp(parent, json_string_value(v)))
					ok = 1;
		} else {
			size_t k;
			json_t *v;
			json_array_foreach(o->parents, k, v) {
				int a = json_is_string(v) ? pindex_find(x, json_string_value(v)) : -1;
				if (a >= 0 && pindex_under(x, (int)i, a))
					ok = 1;
			}
		}
		keep[i] = (char)ok;
	}
}

/* ---------------------------------------------------------------- decorations */

struct acc {
	long long count[N_STATUS];
	long long runtime, recent;
	int64_t max_started;          /* epoch us, -1 none */
};

static void
acc_task(struct acc *a, const json_t *t, int64_t since_us)
{
	const char *status = sget(t, "status");
	int si = -1;
	for (int k = 0; k < N_STATUS; k++)
		if (!strcmp(status ? status : "unknown", task_statuses[k]))
			si = k;
	if (si >= 0)
		a->count[si]++;
	const char *s = sget(t, "started"), *c = sget(t, "completed");
	int64_t su = s ? iso_time_parse(s) : -1, cu = c ? iso_time_parse(c) : -1;
	if (su >= 0 && cu > su)
		a->runtime += (cu - su) / 1000000;
	if (cu > since_us && (!status || (strcmp(status, "queued") != 0 &&
	                                  strcmp(status, "in_progress") != 0 &&
	                                  strcmp(status, "failed") != 0)))
		a->recent++;
	if (su > a->max_started)
		a->max_started = su;
}

static void
acc_add(struct acc *to, const struct acc *from)
{
	for (int k = 0; k < N_STATUS; k++)
		to->count[k] += from->count[k];
	to->runtime += from->runtime;
	to->recent += from->recent;
	if (from->max_started > to->max_started)
		to->max_started = from->max_started;
}

static json_t *
acc_json(const struct acc *a)
{
	json_t *sc = json_object();
	long long total = 0;
	for (int k = 0; k < N_STATUS; k++) {
		json_object_set_new(sc, task_statuses[k], json_integer(a->count[k]));
		total += a->count[k];
	}
	json_t *last = json_null();
	if (a->max_started >= 0) {
		char buf[48];
		iso_time(a->max_started, buf, sizeof(buf));
		json_decref(last);
		last = json_string(buf);
	}
	return json_pack("{s:o,s:I,s:I,s:I,s:o}", "status_count", sc, "total_tasks", (json_int_t)total,
	                 "total_runtime", (json_int_t)a->runtime, "completed_tasks_24h",
	                 (json_int_t)a->recent, "last_task_run", last);
}

static int
cmp_doc_name(const void *a, const void *b)
{
	const char *x = sget(*(json_t *const *)a, "name"), *y = sget(*(json_t *const *)b, "name");
	return strcmp(x ? x : "", y ? y : "");
}

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *
sorted_keys(json_t *set)
{
	size_t n = json_object_size(set), m = 0;
	const char **k = xcalloc(n ? n : 1, sizeof(*k));
	const char *key;
	json_t *v;
	json_object_foreach(set, key, v)
		k[m++] = key;
	qsort(k, m, sizeof(*k), cmp_cstr);
	json_t *out = json_array();
	for (size_t i = 0; i < m; i++)
		json_array_append_new(out, json_string(k[i]));
	free(k);
	return out;
}

/* What the decorations share: the request, the index, the results. */
struct deco {
	struct req *q;
	struct reply *r;
	const struct ex_opts *o;
	const struct pindex *x;
	const char *sel;       /* the selected projects (children_type / active_users), or NULL */
	json_t *projects;      /* the reply's list */
	int *res;              /* index of each reply entry, -1 when unknown */
	size_t m;
	json_t *base;          /* the stats filter before the state rules */
	int stats_hidden;      /* hidden subprojects count in stats */
};

/* Mark in rel the project ri and (with children) the subprojects that count for it. */
static void
relevant(const struct deco *d, int ri, int search_hidden, char *rel)
{
	const struct pindex *x = d->x;
	memset(rel, 0, x->n ? x->n : 1);
	rel[ri] = 1;
	if (!d->o->with_children)
		return;
	for (size_t j = 0; j < x->n; j++)
		if (pindex_under(x, (int)j, ri) && (search_hidden || !is_hidden(x->doc[j])) &&
		    (!d->sel || d->sel[j]))
			rel[j] = 1;
}

/* The JSON id list text of the reply entries (and, with rels, every project marked there). */
static char *
id_list(const struct deco *d, const char *rels)
{
	json_t *ids = json_array();
	for (size_t j = 0; j < d->x->n; j++) {
		int want = rels && rels[j];
		for (size_t i = 0; !want && i < d->m; i++)
			want = d->res[i] == (int)j;
		if (want)
			json_array_append_new(ids, json_string(sget(d->x->doc[j], "id")));
	}
	char *text = json_dumps(ids, JSON_COMPACT);
	json_decref(ids);
	return text;
}

/* Entities (models 0/1) in list passing f, counted per project index into cnt. 0 or -1. */
static int
count_entities(const struct deco *d, int models, const char *list, const struct sfilter *f,
               long long *cnt)
{
	json_t *docs = project_entities(d->q->db, models, d->q->who->company, 1, PS_LIST, list);
	if (!docs) {
		reply_err(d->r, 500, 100, "General data error (reading %s)", models ? "models" : "tasks");
		return -1;
	}
	size_t k;
	json_t *t;
	json_array_foreach(docs, k, t) {
		int pi = pindex_find(d->x, sget(t, "project"));
		if (pi >= 0 && sfilter_pass(f, t))
			cnt[pi]++;
	}
	json_decref(docs);
	return 0;
}

static int
own_contents(struct deco *d)
{
	const struct pindex *x = d->x;
	int ds = d->o->children_type && !strcmp(d->o->children_type, "dataset");
	json_t *fj = sfilter_with_state(d->base, ds ? 'd' : 'o');
	struct sfilter *f = sfilter_new(fj, d->o->users, d->r);
	json_decref(fj);
	if (!f)
		return -1;
	long long *tasks = xcalloc(x->n ? x->n : 1, sizeof(*tasks));
	long long *models = xcalloc(x->n ? x->n : 1, sizeof(*models));
	int rc = 0;
	if (ds) {
		for (size_t j = 0; j < x->n; j++)
			if (x->parent[j] >= 0 && sfilter_pass(f, x->doc[j]))
				tasks[x->parent[j]]++;
	} else {
		char *list = id_list(d, NULL);
		rc = count_entities(d, 0, list, f, tasks);
		if (!rc)
			rc = count_entities(d, 1, list, f, models);
		free(list);
	}
	for (size_t i = 0; !rc && i < d->m; i++) {
		json_t *p = json_array_get(d->projects, i);
		int ri = d->res[i];
		if (ds) {
			json_object_set_new(p, "own_datasets", json_integer(ri >= 0 ? tasks[ri] : 0));
		} else {
			json_object_set_new(p, "own_tasks", json_integer(ri >= 0 ? tasks[ri] : 0));
			json_object_set_new(p, "own_models", json_integer(ri >= 0 ? models[ri] : 0));
		}
	}
	free(tasks);
	free(models);
	sfilter_free(f);
	return rc;
}

/* sub_projects of reply entry i: the projects marked in rel but itself, by name. */
static json_t *
sub_projects(const struct deco *d, int ri, const char *rel)
{
	const struct pindex *x = d->x;
	json_t **v = xcalloc(x->n ? x->n : 1, sizeof(*v));
	size_t m = 0;
	for (size_t j = 0; j < x->n; j++)
		if (rel[j] && (int)j != ri)
			v[m++] = x->doc[j];
	qsort(v, m, sizeof(*v), cmp_doc_name);
	json_t *out = json_array();
	for (size_t j = 0; j < m; j++)
		json_array_append_new(out, json_pack("{s:s?,s:s?}", "id", sget(v[j], "id"), "name",
		                                     sget(v[j], "name")));
	free(v);
	return out;
}

static int
dataset_children_stats(struct deco *d)
{
	const struct pindex *x = d->x;
	json_t *fj = sfilter_with_state(d->base, 'd');
	struct sfilter *f = sfilter_new(fj, d->o->users, d->r);
	json_decref(fj);
	if (!f)
		return -1;
	char *rel = xcalloc(x->n ? x->n : 1, 1);
	for (size_t i = 0; i < d->m; i++) {
		int ri = d->res[i];
		if (ri < 0)
			continue;
		relevant(d, ri, 1, rel);
		json_t *tags = json_object();
		long long count = 0;
		for (size_t j = 0; j < x->n; j++) {
			if (x->parent[j] < 0 || !rel[x->parent[j]] || !sfilter_pass(f, x->doc[j]))
				continue;
			count++;
			size_t k;
			json_t *t;
			json_array_foreach(json_object_get(x->doc[j], "tags"), k, t)
				if (json_is_string(t))
					json_object_set(tags, json_string_value(t), json_true());
		}
		json_t *p = json_array_get(d->projects, i);
		json_object_set_new(p, "stats", json_pack("{s:{s:I,s:o}}", "datasets", "count",
		                                          (json_int_t)count, "tags", sorted_keys(tags)));
		json_object_set_new(p, "sub_projects", sub_projects(d, ri, rel));
		json_decref(tags);
	}
	free(rel);
	sfilter_free(f);
	return 0;
}

static int
task_stats(struct deco *d)
{
	const struct pindex *x = d->x;
	size_t n = x->n ? x->n : 1;
	json_t *fj = sfilter_with_state(d->base, 'a');
	struct sfilter *f = sfilter_new(fj, d->o->users, d->r);
	json_decref(fj);
	if (!f)
		return -1;
	char *all = xcalloc(n, 1), *rel = xcalloc(n, 1);
	for (size_t i = 0; i < d->m; i++) {
		if (d->res[i] < 0)
			continue;
		relevant(d, d->res[i], d->stats_hidden, rel);
		for (size_t j = 0; j < x->n; j++)
			all[j] |= rel[j];
	}
	char *list = id_list(d, all);
	json_t *docs = project_entities(d->q->db, 0, d->q->who->company, 1, PS_LIST, list);
	free(list);
	struct acc *acc = xcalloc(n, sizeof(*acc));
	for (size_t j = 0; j < n; j++)
		acc[j].max_started = -1;
	int rc = -1;
	if (!docs) {
		reply_err(d->r, 500, 100, "General data error (reading tasks)");
		goto out;
	}
	int64_t since = now_ms() * 1000 - (int64_t)24 * 3600 * 1000000;
	size_t k;
	json_t *t;
	json_array_foreach(docs, k, t) {
		int pi = pindex_find(x, sget(t, "project"));
		if (pi >= 0 && sfilter_pass(f, t))
			acc_task(&acc[pi], t, since);
	}
	for (size_t i = 0; i < d->m; i++) {
		int ri = d->res[i];
		struct acc sum;
		memset(&sum, 0, sizeof(sum));
		sum.max_started = -1;
		json_t *subs;
		if (ri >= 0) {
			relevant(d, ri, d->stats_hidden, rel);
			for (size_t j = 0; j < x->n; j++)
				if (rel[j])
					acc_add(&sum, &acc[j]);
			subs = sub_projects(d, ri, rel);
		} else {
			subs = json_array();
		}
		json_t *p = json_array_get(d->projects, i);
		json_object_set_new(p, "stats", json_pack("{s:o}", "active", acc_json(&sum)));
		json_object_set_new(p, "sub_projects", subs);
	}
	rc = 0;
out:
	json_decref(docs);
	free(acc);
	free(all);
	free(rel);
	sfilter_free(f);
	return rc;
}

/* dataset_stats: the runtime ds_* counters of each project's last updated active task. */
static int
dataset_stats(struct deco *d)
{
	const struct pindex *x = d->x;
	json_t *fj = json_pack("{s:[s]}", "system_tags", "-archived");
	struct sfilter *f = sfilter_new(fj, d->o->users, d->r);
	json_decref(fj);
	if (!f)
		return -1;
	char *list = id_list(d, NULL);
	json_t *docs = project_entities(d->q->db, 0, d->q->who->company, 1, PS_LIST, list);
	free(list);
	if (!docs) {
		sfilter_free(f);
		reply_err(d->r, 500, 100, "General data error (reading tasks)");
		return -1;
	}
	json_t **last = xcalloc(x->n ? x->n : 1, sizeof(*last));
	size_t k;
	json_t *t;
	json_array_foreach(docs, k, t) {
		int pi = pindex_find(x, sget(t, "project"));
		json_t *rt = json_object_get(t, "runtime");
		if (pi < 0 || !json_is_object(rt) || !json_object_size(rt) || !sfilter_pass(f, t))
			continue;
		const char *lu = sget(t, "last_update"), *prev = last[pi] ? sget(last[pi], "last_update") : NULL;
		if (!last[pi] || strcmp(lu ? lu : "", prev ? prev : "") >= 0)
			last[pi] = t;
	}
	for (size_t i = 0; i < d->m; i++) {
		int ri = d->res[i];
		json_t *p = json_array_get(d->projects, i), *rt = ri >= 0 && last[ri] ?
		                                                   json_object_get(last[ri], "runtime") : NULL;
		if (!rt) {
			json_object_set_new(p, "dataset_stats", json_null());
			continue;
		}
		json_t *fc = json_object_get(rt, "ds_file_count"), *ts = json_object_get(rt, "ds_total_size");
		json_object_set_new(p, "dataset_stats", json_pack("{s:o,s:o}", "file_count",
		                    json_is_number(fc) ? json_incref(fc) : json_integer(0), "total_size",
		                    json_is_number(ts) ? json_incref(ts) : json_integer(0)));
	}
	free(last);
	json_decref(docs);
	sfilter_free(f);
	return 0;
}

/* The stats filter and whether hidden subprojects count, from the request (as upstream: an
 * explicit include_stats_filter wins; children_type implies its own). New object. */
static json_t *
stats_base(const struct ex_opts *o, int *search_hidden)
{
	*search_hidden = o->search_hidden;
	if (o->stats_filter || !o->children_type)
		return o->stats_filter ? json_deep_copy(o->stats_filter) : json_object();
	json_t *f = children_tags_as_filter(o);
	if (!strcmp(o->children_type, "pipeline")) {
		json_object_set_new(f, "system_tags", json_pack("[s]", "pipeline"));
		json_object_set_new(f, "type", json_pack("[s]", "controller"));
		*search_hidden = 1;
	} else if (!strcmp(o->children_type, "report")) {
		json_object_set_new(f, "system_tags", json_pack("[s]", REPORTS_TAG));
		json_object_set_new(f, "type", json_pack("[s]", "report"));
		*search_hidden = 1;
	}
	return f;
}

static int
decorate(struct req *q, struct reply *r, const struct ex_opts *o, const struct pindex *x,
         const char *sel, json_t *projects)
{
	struct deco d = {.q = q, .r = r, .o = o, .x = x, .sel = sel, .projects = projects};
	d.m = json_array_size(projects);
	d.res = xcalloc(d.m ? d.m : 1, sizeof(*d.res));
	for (size_t i = 0; i < d.m; i++) {
		d.res[i] = pindex_find(x, sget(json_array_get(projects, i), "id"));
		if (o->search_hidden && d.res[i] >= 0 && is_hidden(x->doc[d.res[i]]))
			json_object_set_new(json_array_get(projects, i), "hidden", json_true());
	}
	d.base = stats_base(o, &d.stats_hidden);
	int rc = 0;
	if (o->own_contents)
		rc = own_contents(&d);
	if (!rc && o->include_stats)
		rc = o->children_type && !strcmp(o->children_type, "dataset") ? dataset_children_stats(&d)
		                                                              : task_stats(&d);
	if (!rc && o->dataset_stats)
		rc = dataset_stats(&d);
	json_decref(d.base);
	free(d.res);
	return rc;
}

/* ---------------------------------------------------------------- the entry point */

void
projects_query_reply(struct req *q, struct reply *r, const json_t *docs,
                     const struct getall_spec *spec)
{
	struct ex_opts o;
	if (opts_parse(q, r, &o) != 0)
		return;
	json_t *pool = json_array();
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d) {
		const char *c = sget(d, "company");
		if (o.allow_public || (c && *c))
			json_array_append(pool, d);
	}
	struct pindex x;
	pindex_build(&x, pool);
	size_t n = x.n ? x.n : 1;
	char *keep = xcalloc(n, 1), *sel = NULL;
	memset(keep, 1, n);
	json_t *narrow = NULL, *body = NULL;
	if (o.ex && (o.users || o.children_type)) {
		sel = xcalloc(n, 1);
		if (select_children(q, r, &o, &x, sel) != 0)
			goto out;
		for (i = 0; i < x.n; i++)
			keep[i] = sel[i] && (!o.ids || sfilter_has(o.ids, sget(x.doc[i], "id")));
	}
	narrow_by_parent(&o, &x, keep);
	narrow = json_array();
	for (i = 0; i < x.n; i++)
		if (keep[i])
			json_array_append(narrow, x.doc[i]);
	/* parent was applied above with its own meaning; getall would read it as an exact match */
	body = json_copy(q->body);
	json_object_del(body, "parent");
	json_t *orig = q->body;
	q->body = body;
	getall_reply(q, r, narrow, spec, "projects");
	q->body = orig;
	if (!r->code && o.ex && decorate(q, r, &o, &x, sel, json_object_get(r->data, "projects")) != 0)
		goto out;
	if (!r->code && o.ex)
		ref_expand_ids(json_object_get(r->data, "projects"), ref_project_paths);
out:
	json_decref(body);
	json_decref(narrow);
	free(keep);
	free(sel);
	pindex_free(&x);
	json_decref(pool);
}
