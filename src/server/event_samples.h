/*
 * event_samples — the pure part of the plots / debug images navigation (events.plots,
 * events.debug_images, get/next_plot_sample, get/next_debug_image_sample): parsing the
 * requested task metrics, assembling one page of iterations from ordered event rows against a
 * task's scroll state, and choosing which variants the next/previous image sample may come
 * from. No SQL here; svc_events_pages.c and svc_events_samples.c feed it rows.
 *
 * States are JSON documents (kept by event_scroll.c):
 *   pages (plots and debug_images share it, as the real server's do):
 *     {"tasks": [{"task", "metrics": [{"metric", "variants": [{"variant",
 *                 "last_invalid_iteration"?}]}], "last_min_iter"?, "last_max_iter"?}]}
 *   plot sample:  {"task", "metric", "iteration"?, "navigate_current_metric",
 *                  "metric_states": [{"name", "min_iteration", "max_iteration"}]}
 *   image sample: {"task", "metric", "variant", "iteration"?, "navigate_current_metric",
 *                  "variant_states": [{"metric", "name", "min_iteration", "max_iteration"}]}
 */
#ifndef CLEARML_EVENT_SAMPLES_H
#define CLEARML_EVENT_SAMPLES_H

#include <jansson.h>
#include <stdint.h>

#define SAMPLES_MAX_REQUEST_METRICS 1000  /* entries of a request's `metrics` */
#define SAMPLES_MAX_METRICS 100           /* metrics kept per task state (real server: 100) */
#define SAMPLES_MAX_VARIANTS 100          /* variants kept per metric */
#define SAMPLES_MAX_ITERS 1000            /* `iters` of one page */
#define SAMPLES_MAX_PAGE_EVENTS 10000     /* events in one page over all its tasks */
#define SAMPLES_MAX_PLOT_EVENTS 100       /* events of one plot sample (one iteration, metric) */

/* The request's metrics [{task, metric?, variants?}] as [{task, metrics}] in first-seen task
 * order, where metrics is null (every metric of the task; also when any entry of the task has
 * no metric) or {metric: [variant, ...] | null}. NULL with *why set on a malformed list. */
json_t *samples_task_metrics(const json_t *metrics, const char **why);

/* 1 when a metric/variant passes a task's `metrics` from samples_task_metrics. */
int samples_wanted(const json_t *metrics, const char *metric, const char *variant);

/* One page of a task: rows arrive ordered by iteration (the page's direction), then metric,
 * variant and the preferred event of a variant first. The first row of each
 * (iteration, metric, variant) is kept when that variant is in the task state and the
 * iteration is past its last_invalid_iteration. */
struct samples_page {
	json_t *valid;        /* "metric\x1fvariant" -> last_invalid_iteration or null */
	json_t *iterations;   /* [{iter, events}] in arrival order */
	json_t *cur;          /* events of the current iteration */
	int64_t cur_iter;
	int have_cur;
	char *last_key;       /* metric\x1fvariant of the previous row of this iteration */
	size_t events, max_events;
};

void samples_page_begin(struct samples_page *pg, const json_t *task_state, size_t max_events);
/* Offer one row: 1 when its event belongs in the page (hand it to samples_page_take), 0 when
 * not, -1 when the page cannot take more events. */
int samples_page_row(struct samples_page *pg, int64_t iter, const char *metric,
                     const char *variant);
/* Add the event of the row just accepted (ev is stolen). */
void samples_page_take(struct samples_page *pg, json_t *ev);
/* The iterations newest first, empty ones dropped; records their range in task_state
 * (last_min_iter / last_max_iter) when there is any. New reference; pg is freed. */
json_t *samples_page_end(struct samples_page *pg, json_t *task_state);

/* The iteration bound of the next page of a task: 0 none (first page, newest first), else
 * *op is "<" or ">" and *bound the iteration. A state never paged always goes newest first:
 * *earlier is forced to 1 then. */
int samples_page_range(const json_t *task_state, int *earlier, const char **op, int64_t *bound);

/* next_debug_image_sample: the variants [[metric, variant, min_iteration], ...] a sample may
 * come from, for the same iteration (same_iteration: variants ordered before/after the
 * current one that have images there) or for another one. Empty array when none. */
json_t *samples_image_candidates(const json_t *state, int earlier, int same_iteration);

/* Choosing the next image among the rows of an iteration-ordered scan: the first iteration
 * with a candidate variant (at or past its min_iteration) wins, and within it the variant
 * last (earlier) or first (later) by (metric, variant), then the greatest url. */
struct samples_pick {
	json_t *cands;        /* "metric\x1fvariant" -> min_iteration */
	int earlier;
	int have;
	int64_t iter;
	char *metric, *variant, *url, *doc;
};

void samples_pick_begin(struct samples_pick *p, const json_t *candidates, int earlier);
/* Offer one row; 1 when the scan can stop (a pick was made in an earlier-seen iteration). */
int samples_pick_row(struct samples_pick *p, int64_t iter, const char *metric,
                     const char *variant, const char *url, const char *doc);
/* The picked row's doc text (caller frees) or NULL; p is freed. */
char *samples_pick_end(struct samples_pick *p);

/* The state entry (metric_states / variant_states item) for metric (and variant when not
 * NULL), borrowed; NULL when absent. */
const json_t *samples_find_state(const json_t *states, const char *metric, const char *variant);

#endif
