/*
 * event_samples — pure navigation logic of the plots / debug images views (event_samples.h):
 * what a request asks for, how one page of iterations is put together from ordered rows, and
 * which variants the next image sample may come from. The rules follow the real server's
 * metric events and history iterators: an image variant whose file names are recycled is only
 * valid after the last iteration that reused its newest file, and a variant first reported
 * after the state was built stays out of it until a refresh.
 */
#include <stdlib.h>
#include <string.h>

#include "server/event_samples.h"
#include "util.h"

static const char *
sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

json_t *
samples_task_metrics(const json_t *metrics, const char **why)
{
	if (!json_is_array(metrics) || json_array_size(metrics) == 0) {
		*why = "metrics";
		return NULL;
	}
	if (json_array_size(metrics) > SAMPLES_MAX_REQUEST_METRICS) {
		*why = "metrics (too many entries)";
		return NULL;
	}
	json_t *out = json_array();
	json_t *all = json_object();   /* tasks asked for without a metric */
	size_t i;
	json_t *m;
	json_array_foreach(metrics, i, m) {
		const char *task = sget(m, "task");
		json_t *metric = json_object_get(m, "metric");
		json_t *vars = json_object_get(m, "variants");
		if (!task || !*task || (metric && !json_is_null(metric) && !json_is_string(metric)) ||
		    (vars && !json_is_null(vars) && !json_is_array(vars))) {
			*why = "metrics";
			goto bad;
		}
		size_t k;
		json_t *v;
		json_array_foreach(vars, k, v) {
			if (!json_is_string(v)) {
				*why = "metrics.variants";
				goto bad;
			}
		}
		json_t *entry = NULL;
		json_array_foreach(out, k, v) {
			if (strcmp(sget(v, "task"), task) == 0)
				entry = v;
		}
		if (!entry) {
			entry = json_pack("{s:s,s:{}}", "task", task, "metrics");
			json_array_append_new(out, entry);
		}
		if (!json_is_string(metric)) {
			json_object_set_new(all, task, json_true());
			continue;
		}
		json_t *tm = json_object_get(entry, "metrics");
		json_object_set(tm, json_string_value(metric),
		                json_array_size(vars) ? vars : json_null());
	}
	json_array_foreach(out, i, m) {
		if (json_object_get(all, sget(m, "task")))
			json_object_set_new(m, "metrics", json_null());
	}
	json_decref(all);
	return out;
bad:
	json_decref(all);
	json_decref(out);
	return NULL;
}

int
samples_wanted(const json_t *metrics, const char *metric, const char *variant)
{
	if (!json_is_object(metrics))
		return 1;
	json_t *vars = json_object_get(metrics, metric);
	if (!vars)
		return 0;
	if (!json_array_size(vars))
		return 1;
	size_t i;
	json_t *v;
	json_array_foreach(vars, i, v) {
		if (strcmp(json_string_value(v), variant) == 0)
			return 1;
	}
	return 0;
}

/* ---- one page of iterations ------------------------------------------------------------ */

void
samples_page_begin(struct samples_page *pg, const json_t *task_state, size_t max_events)
{
	memset(pg, 0, sizeof *pg);
	pg->valid = json_object();
	pg->iterations = json_array();
	pg->max_events = max_events;
	size_t i, j;
	json_t *m, *v;
	json_array_foreach(json_object_get(task_state, "metrics"), i, m) {
		json_array_foreach(json_object_get(m, "variants"), j, v) {
			char *key = xasprintf("%s\x1f%s", sget(m, "metric"), sget(v, "variant"));
			json_t *inv = json_object_get(v, "last_invalid_iteration");
			json_object_set(pg->valid, key, json_is_integer(inv) ? inv : json_null());
			free(key);
		}
	}
}

static void
close_iteration(struct samples_page *pg)
{
	if (pg->have_cur && json_array_size(pg->cur))
		json_array_append_new(pg->iterations, json_pack("{s:I,s:O}", "iter",
		                      (json_int_t)pg->cur_iter, "events", pg->cur));
	json_decref(pg->cur);
	pg->cur = NULL;
	pg->have_cur = 0;
	free(pg->last_key);
	pg->last_key = NULL;
}

int
samples_page_row(struct samples_page *pg, int64_t iter, const char *metric, const char *variant)
{
	if (pg->events >= pg->max_events)
		return -1;
	if (!pg->have_cur || pg->cur_iter != iter) {
		close_iteration(pg);
		pg->cur = json_array();
		pg->cur_iter = iter;
		pg->have_cur = 1;
	}
	char *key = xasprintf("%s\x1f%s", metric, variant);
	if (pg->last_key && strcmp(pg->last_key, key) == 0) {
		/* a later event of the same variant and iteration */
		free(key);
		return 0;
	}
	free(pg->last_key);
	pg->last_key = key;
	json_t *inv = json_object_get(pg->valid, key);
	if (!inv || (json_is_integer(inv) && iter <= json_integer_value(inv)))
		return 0;
	return 1;
}

void
samples_page_take(struct samples_page *pg, json_t *ev)
{
	if (!pg->cur || !ev) {
		json_decref(ev);
		return;
	}
	json_array_append_new(pg->cur, ev);
	pg->events++;
}

static int
cmp_iter_desc(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "iter"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "iter"));
	return x < y ? 1 : x > y ? -1 : 0;
}

json_t *
samples_page_end(struct samples_page *pg, json_t *task_state)
{
	close_iteration(pg);
	json_t *its = pg->iterations;
	size_t n = json_array_size(its);
	json_t **v = n ? xreallocarray(NULL, n, sizeof *v) : NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(its, i));
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_iter_desc);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, v[i]);
	free(v);
	json_decref(its);
	json_decref(pg->valid);
	memset(pg, 0, sizeof *pg);
	if (n) {
		json_object_set(task_state, "last_max_iter",
		                json_object_get(json_array_get(out, 0), "iter"));
		json_object_set(task_state, "last_min_iter",
		                json_object_get(json_array_get(out, n - 1), "iter"));
	}
	return out;
}

int
samples_page_range(const json_t *task_state, int *earlier, const char **op, int64_t *bound)
{
	json_t *mx = json_object_get(task_state, "last_max_iter");
	json_t *mn = json_object_get(task_state, "last_min_iter");
	if (!json_is_integer(mx) || !json_is_integer(mn)) {
		*earlier = 1;
		return 0;
	}
	*op = *earlier ? "<" : ">";
	*bound = json_integer_value(*earlier ? mn : mx);
	return 1;
}

/* ---- image sample navigation ----------------------------------------------------------- */

static int
cmp_mv(const char *m1, const char *v1, const char *m2, const char *v2)
{
	int c = strcmp(m1, m2);
	return c ? c : strcmp(v1, v2);
}

json_t *
samples_image_candidates(const json_t *state, int earlier, int same_iteration)
{
	json_t *out = json_array();
	const char *metric = sget(state, "metric");
	const char *variant = sget(state, "variant");
	json_t *itv = json_object_get(state, "iteration");
	int has_iter = json_is_integer(itv);
	json_int_t iter = json_integer_value(itv);
	int current = json_is_true(json_object_get(state, "navigate_current_metric"));
	size_t i;
	json_t *vs;
	json_array_foreach(json_object_get(state, "variant_states"), i, vs) {
		const char *m = sget(vs, "metric"), *v = sget(vs, "name");
		json_t *mi = json_object_get(vs, "min_iteration");
		if (!m || !v || !json_is_integer(mi))
			continue;
		if (current && metric && strcmp(m, metric) != 0)
			continue;
		json_int_t min_iter = json_integer_value(mi);
		if (same_iteration) {
			if (!has_iter || !metric || !variant || min_iter > iter)
				continue;
			int c = cmp_mv(m, v, metric, variant);
			if (earlier ? c >= 0 : c <= 0)
				continue;
		} else if (earlier && has_iter && min_iter >= iter) {
			continue;
		}
		json_array_append_new(out, json_pack("[s,s,I]", m, v, min_iter));
	}
	return out;
}

void
samples_pick_begin(struct samples_pick *p, const json_t *candidates, int earlier)
{
	memset(p, 0, sizeof *p);
	p->cands = json_object();
	p->earlier = earlier;
	size_t i;
	json_t *c;
	json_array_foreach(candidates, i, c) {
		char *key = xasprintf("%s\x1f%s", json_string_value(json_array_get(c, 0)),
		                      json_string_value(json_array_get(c, 1)));
		json_object_set(p->cands, key, json_array_get(c, 2));
		free(key);
	}
}

int
samples_pick_row(struct samples_pick *p, int64_t iter, const char *metric, const char *variant,
                 const char *url, const char *doc)
{
	if (p->have && iter != p->iter)
		return 1;
	char *key = xasprintf("%s\x1f%s", metric, variant);
	json_t *mi = json_object_get(p->cands, key);
	free(key);
	if (!json_is_integer(mi) || iter < json_integer_value(mi))
		return 0;
	if (p->have) {
		int c = cmp_mv(metric, variant, p->metric, p->variant);
		if (p->earlier ? c < 0 : c > 0)
			return 0;
		if (c == 0 && strcmp(url, p->url) <= 0)
			return 0;
		free(p->metric);
		free(p->variant);
		free(p->url);
		free(p->doc);
	}
	p->have = 1;
	p->iter = iter;
	p->metric = xstrdup(metric);
	p->variant = xstrdup(variant);
	p->url = xstrdup(url);
	p->doc = xstrdup(doc);
	return 0;
}

char *
samples_pick_end(struct samples_pick *p)
{
	char *doc = p->doc;
	free(p->metric);
	free(p->variant);
	free(p->url);
	json_decref(p->cands);
	memset(p, 0, sizeof *p);
	return doc;
}

const json_t *
samples_find_state(const json_t *states, const char *metric, const char *variant)
{
	size_t i;
	json_t *s;
	json_array_foreach(states, i, s) {
		if (variant) {
			const char *m = sget(s, "metric"), *v = sget(s, "name");
			if (m && v && strcmp(m, metric) == 0 && strcmp(v, variant) == 0)
				return s;
		} else {
			const char *m = sget(s, "name");
			if (m && strcmp(m, metric) == 0)
				return s;
		}
	}
	return NULL;
}
