/*
 * daemon_sched — capacity, working hours and GPU choice for the daemon's rounds
 * (daemon_sched.h). The decisions themselves are pure (schedule.c, gpu_alloc.c); this file
 * feeds them what the server says and holds the machine-wide GPU locks.
 */
#include "supervisor/daemon_sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "supervisor/gpu_lock.h"
#include "util.h"

#define SCHED_CALL_DEADLINE_MS 3000

static void
strlist_add(struct strlist *l, const char *v)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = xstrdup(v);
}

/* agent.uptime / agent.downtime: a list of strings, or one string. */
static size_t
cfg_specs(const json_t *root, const char *path, const char **out, size_t max)
{
	json_t *v = root ? cfg_get(root, path) : NULL;
	size_t n = 0;
	if (json_is_string(v) && *json_string_value(v)) {
		out[n++] = json_string_value(v);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (json_is_string(e) && n < max)
				out[n++] = json_string_value(e);
		}
	}
	return n;
}

int
dsched_setup(struct dsched *s, const struct cli_opts *o, const json_t *root,
             const char *worker_name, struct strlist *names, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	memset(names, 0, sizeof *names);
	s->prop_expiry = -1;
	for (size_t i = 0; i < GPU_MAX; i++)
		s->lock_fd[i] = -1;
	s->cap = 1;

	/* working hours: the command line's, else the configuration's */
	const char *up[SCHED_MAX_ENTRIES + 1], *down[SCHED_MAX_ENTRIES + 1];
	size_t nup = 0, ndown = 0;
	if (o->uptime.n || o->downtime.n) {
		for (size_t i = 0; i < o->uptime.n && nup <= SCHED_MAX_ENTRIES; i++)
			up[nup++] = o->uptime.v[i];
		for (size_t i = 0; i < o->downtime.n && ndown <= SCHED_MAX_ENTRIES; i++)
			down[ndown++] = o->downtime.v[i];
	} else {
		nup = cfg_specs(root, "agent.uptime", up, SCHED_MAX_ENTRIES + 1);
		ndown = cfg_specs(root, "agent.downtime", down, SCHED_MAX_ENTRIES + 1);
	}
	if (schedule_build(&s->sch, up, nup, down, ndown, err, errlen) < 0)
		return -1;

	s->services = o->services_mode_given && o->services_mode != 0;
	if (s->services) {
		if (o->services_mode < -1) {
			snprintf(err, errlen, "--services-mode %d: give the most services to run at once "
			         "(N >= 1), or no number for unlimited", o->services_mode);
			return -1;
		}
		s->cap = o->services_mode > 0 ? o->services_mode : 0;
	}
	s->dynamic = o->dynamic_gpus;
	if (!s->dynamic) {
		for (size_t i = 0; i < o->queues.n; i++)
			strlist_add(names, o->queues.v[i]);
		s->nq = names->n;
		s->q = xcalloc(s->nq ? s->nq : 1, sizeof *s->q);
		for (size_t i = 0; i < s->nq; i++)
			s->q[i].last_active = -1;
		return 0;
	}
	if (gpu_set_parse(o->gpus, &s->gpus, err, errlen) < 0)
		return -1;
	if (o->queues.n == 0) {
		snprintf(err, errlen, "--dynamic-gpus needs queues with their GPU counts, e.g. "
		         "--queue dual_gpus=2 single_gpu=1 opportunistic=1-4");
		return -1;
	}
	s->nq = o->queues.n;
	s->q = xcalloc(s->nq, sizeof *s->q);
	for (size_t i = 0; i < o->queues.n; i++) {
		struct gpu_queue_spec qs;
		if (gpu_queue_spec_parse(o->queues.v[i], s->gpus.n, o->docker, &qs, err, errlen) < 0)
			goto fail;
		for (size_t k = 0; k < names->n; k++) {
			if (strcmp(names->v[k], qs.name) == 0) {
				snprintf(err, errlen, "--dynamic-gpus: queue \"%s\" is listed twice", qs.name);
				goto fail;
			}
		}
		strlist_add(names, qs.name);
		s->q[i].gpu_min = qs.min;
		s->q[i].gpu_max = qs.max;
		s->q[i].last_active = -1;
	}
	s->cap = (int)s->gpus.n; /* every task holds at least one GPU */
	s->gpu_name = xstrdup(worker_name ? worker_name : "localhost");
	s->lock_dir = gpu_lock_dir();
	return 0;
fail:
	for (size_t k = 0; k < names->n; k++)
		free(names->v[k]);
	free(names->v);
	memset(names, 0, sizeof *names);
	free(s->q);
	s->q = NULL;
	s->nq = 0;
	return -1;
}

int
dsched_queues_resolved(struct dsched *s, size_t nq, char *err, size_t errlen)
{
	if (s->dynamic) {
		if (nq != s->nq) {
			snprintf(err, errlen, "--dynamic-gpus: a queue is listed twice (by name and id)");
			return -1;
		}
		return 0;
	}
	free(s->q);
	s->nq = nq;
	s->q = xcalloc(nq ? nq : 1, sizeof *s->q);
	for (size_t i = 0; i < nq; i++)
		s->q[i].last_active = -1;
	return 0;
}

void
dsched_free(struct dsched *s)
{
	for (size_t i = 0; i < GPU_MAX; i++)
		if (s->lock_fd[i] >= 0)
			gpu_lock_release(s->lock_fd[i]);
	free(s->q);
	free(s->gpu_name);
	free(s->lock_dir);
	memset(s, 0, sizeof *s);
}

void
dsched_store_cap(struct dsched *s, struct api_session *api, const char *worker_id)
{
	if (!s->services || s->cap <= 0)
		return;
	if (api_version_cmp(api, "2.10") < 0) {
		log_warn("the server has no worker runtime properties: max_num_instances not stored");
		return;
	}
	char v[32];
	snprintf(v, sizeof v, "%d", s->cap);
	json_t *req = json_pack("{s:s,s:[{s:s,s:s}]}", "worker", worker_id, "runtime_properties",
	                        "key", "max_num_instances", "value", v);
	struct api_call_opts co = {.version = "2.10", .deadline_ms = SCHED_CALL_DEADLINE_MS};
	struct api_error e;
	if (api_call_ex(api, "workers.set_runtime_properties", req, &co, NULL, &e) < 0)
		log_warn("could not store max_num_instances=%s: %s", v, e.msg);
	json_decref(req);
}

static void
refresh_tags(struct dsched *s, struct api_session *api, char *const *ids, size_t nq,
             volatile sig_atomic_t *cancel)
{
	json_t *a = json_array();
	for (size_t i = 0; i < nq; i++)
		json_array_append_new(a, json_string(ids[i]));
	json_t *req = json_pack("{s:o,s:[s,s],s:b}", "id", a, "only_fields", "id", "tags",
	                        "search_hidden", 1);
	struct api_call_opts co = {.version = "2.5", .deadline_ms = SCHED_CALL_DEADLINE_MS,
	                           .cancel = cancel};
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call_ex(api, "queues.get_all", req, &co, &data, &e);
	json_decref(req);
	if (rc < 0) {
		log_debug("could not read the queues' tags: %s", e.msg);
		return;
	}
	json_t *qs = json_object_get(data, "queues"), *q;
	size_t k;
	for (size_t i = 0; i < nq && i < s->nq; i++) {
		enum sched_force f = FORCE_NONE;
		json_array_foreach(qs, k, q) {
			const char *id = json_string_value(json_object_get(q, "id"));
			if (!id || strcmp(id, ids[i]) != 0)
				continue;
			json_t *tags = json_object_get(q, "tags"), *t;
			const char *tv[64];
			size_t n = 0, j;
			json_array_foreach(tags, j, t) {
				if (json_is_string(t) && n < 64)
					tv[n++] = json_string_value(t);
			}
			f = schedule_queue_force(tv, n);
		}
		s->q[i].tag = f;
	}
	json_decref(data);
}

static void
refresh_props(struct dsched *s, struct api_session *api, const char *worker_id,
              volatile sig_atomic_t *cancel)
{
	if (s->props_unsupported)
		return;
	if (api_version_cmp(api, "2.10") < 0) {
		s->props_unsupported = 1;
		return;
	}
	json_t *req = json_pack("{s:s}", "worker", worker_id);
	struct api_call_opts co = {.version = "2.10", .deadline_ms = SCHED_CALL_DEADLINE_MS,
	                           .cancel = cancel};
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call_ex(api, "workers.get_runtime_properties", req, &co, &data, &e);
	json_decref(req);
	if (rc < 0) {
		if (e.http_status >= 400 && e.http_status < 500 && e.http_status != 401 &&
		    e.http_status != 408 && e.http_status != 429) {
			log_warn("the server refuses worker runtime properties (%s): the force override "
			         "is not available", e.msg);
			s->props_unsupported = 1;
		} else {
			log_debug("could not read the runtime properties: %s", e.msg);
		}
		return;
	}
	enum sched_force f = FORCE_NONE;
	long long expiry = -1;
	char raw[64] = "";
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(data, "runtime_properties"), i, p) {
		const char *k = json_string_value(json_object_get(p, "key"));
		const char *v = json_string_value(json_object_get(p, "value"));
		if (!k || !v)
			continue;
		if (strcmp(k, "force") == 0) {
			int bad = 0;
			f = schedule_force_value(v, &bad);
			snprintf(raw, sizeof raw, "%s", v);
			json_t *ex = json_object_get(p, "expiry");
			expiry = json_is_integer(ex) ? (long long)json_integer_value(ex) : -1;
			if (bad && strcmp(raw, s->prop_raw) != 0)
				printf("Warning: the worker's runtime property force=\"%s\" is neither on nor "
				       "off; ignored\n", v);
		}
	}
	json_decref(data);
	if (f != s->prop) {
		if (f == FORCE_NONE)
			printf("Worker runtime property force is no longer set\n");
		else if (expiry >= 0)
			printf("Worker runtime property force=%s (expires in %lld s)\n",
			       f == FORCE_ON ? "on" : "off", expiry);
		else
			printf("Worker runtime property force=%s\n", f == FORCE_ON ? "on" : "off");
		fflush(stdout);
	}
	s->prop = f;
	s->prop_expiry = expiry;
	snprintf(s->prop_raw, sizeof s->prop_raw, "%s", raw);
}

void
dsched_refresh(struct dsched *s, struct api_session *api, const char *worker_id,
               char *const *queue_ids, size_t nq, int64_t interval_ms,
               volatile sig_atomic_t *cancel)
{
	int64_t now = mono_ms();
	if (now < s->next_refresh)
		return;
	s->next_refresh = now + (interval_ms > 0 ? interval_ms : 1000);
	refresh_tags(s, api, queue_ids, nq, cancel);
	refresh_props(s, api, worker_id, cancel);
}

int
dsched_decision_may_change(const struct dsched *s)
{
	if (s->sch.kind != SCHED_NONE || s->prop != FORCE_NONE)
		return 1;
	for (size_t i = 0; i < s->nq; i++)
		if (s->q[i].tag != FORCE_NONE)
			return 1;
	return 0;
}

int
dsched_queue_active(struct dsched *s, size_t qi, const char *queue_name, time_t now)
{
	if (qi >= s->nq)
		return 1;
	char why[128];
	int active = schedule_decide(&s->sch, s->q[qi].tag, s->prop, now, why, sizeof why);
	if (active != s->q[qi].last_active) {
		/* the first decision is only worth a line when it is "no" or a schedule is set */
		if (s->q[qi].last_active != -1 || !active || s->sch.kind != SCHED_NONE ||
		    s->q[qi].tag != FORCE_NONE || s->prop != FORCE_NONE) {
			printf("Queue '%s': %s, %s\n", queue_name ? queue_name : "", why,
			       active ? "pulling tasks" : "not pulling new tasks");
			fflush(stdout);
		}
		s->q[qi].last_active = active;
	}
	return active;
}

int
dsched_gpu_busy(struct dsched *s, struct api_session *api, unsigned char *busy,
                volatile sig_atomic_t *cancel)
{
	memset(busy, 0, GPU_MAX);
	for (size_t i = 0; i < s->gpus.n; i++)
		busy[i] = s->lock_fd[i] >= 0;
	json_t *req = json_pack("{s:i}", "last_seen", 600);
	struct api_call_opts co = {.deadline_ms = SCHED_CALL_DEADLINE_MS, .cancel = cancel};
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call_ex(api, "workers.get_all", req, &co, &data, &e);
	json_decref(req);
	if (rc < 0) {
		log_debug("could not list the workers for the free GPUs: %s", e.msg);
		return -1;
	}
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(data, "workers"), i, w) {
		const char *id = json_string_value(json_object_get(w, "id"));
		gpu_busy_from_worker(&s->gpus, s->gpu_name, id, busy);
	}
	json_decref(data);
	return 0;
}

size_t
dsched_gpu_take(struct dsched *s, unsigned char *busy, size_t qi, size_t *idx)
{
	if (qi >= s->nq)
		return 0;
	int min = s->q[qi].gpu_min, max = s->q[qi].gpu_max;
	size_t cand[GPU_MAX];
	size_t nc = gpu_pick(&s->gpus, busy, min, max > 0 ? (int)s->gpus.n : 0, cand);
	size_t took = 0;
	for (size_t k = 0; k < nc && took < (size_t)max; k++) {
		size_t g = cand[k];
		int fd = gpu_lock_try(s->lock_dir, s->gpus.id[g]);
		if (fd < 0) {
			if (errno != EWOULDBLOCK)
				log_warn("cannot lock GPU %s in %s: %s", s->gpus.id[g], s->lock_dir,
				         strerror(errno));
			busy[g] = 1; /* another agent on this machine took it a moment ago */
			continue;
		}
		s->lock_fd[g] = fd;
		busy[g] = 1;
		idx[took++] = g;
	}
	if (took < (size_t)min) {
		dsched_gpu_release(s, idx, took);
		return 0;
	}
	return took;
}

void
dsched_gpu_release(struct dsched *s, const size_t *idx, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		size_t g = idx[k];
		if (g < GPU_MAX && s->lock_fd[g] >= 0) {
			gpu_lock_release(s->lock_fd[g]);
			s->lock_fd[g] = -1;
		}
	}
}

int
dsched_queue_has_entries(struct api_session *api, const char *queue_id,
                         volatile sig_atomic_t *cancel)
{
	json_t *req = json_pack("{s:s}", "queue", queue_id);
	struct api_call_opts co = {.version = "2.4", .deadline_ms = SCHED_CALL_DEADLINE_MS,
	                           .cancel = cancel};
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call_ex(api, "queues.get_by_id", req, &co, &data, &e);
	json_decref(req);
	if (rc < 0)
		return 0;
	int has = json_array_size(json_object_get(json_object_get(data, "queue"), "entries")) > 0;
	json_decref(data);
	return has;
}

void
dsched_print_mode(const struct dsched *s, char *const *names, size_t nq)
{
	if (s->services) {
		if (s->cap > 0)
			printf("Services mode: up to %d services at once, each a plain process in its own "
			       "environment\n", s->cap);
		else
			printf("Services mode: any number of services at once, each a plain process in its "
			       "own environment\n");
	}
	if (s->dynamic) {
		printf("Dynamic GPUs: %zu GPU(s); per queue:", s->gpus.n);
		for (size_t i = 0; i < nq && i < s->nq; i++) {
			if (s->q[i].gpu_min == s->q[i].gpu_max)
				printf(" %s=%d", names[i], s->q[i].gpu_min);
			else
				printf(" %s=%d-%d", names[i], s->q[i].gpu_min, s->q[i].gpu_max);
		}
		printf("\n");
	}
	if (s->sch.kind != SCHED_NONE) {
		char lines[8192];
		schedule_describe(&s->sch, lines, sizeof lines);
		printf("Working hours %s configurations:\n%s",
		       s->sch.kind == SCHED_UPTIME ? "uptime" : "downtime", lines);
	}
}
