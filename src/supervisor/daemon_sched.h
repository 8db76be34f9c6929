/*
 * daemon_sched — the daemon's per-round decisions beyond queue order (spec §8): how many tasks
 * may run at once (1; services mode: N or unlimited, stored as the worker runtime property
 * `max_num_instances`; dynamic GPUs: one per free GPU set), whether a queue may hand out work
 * now (queue tags `force_workers:on|off` > runtime property `force` > --uptime/--downtime,
 * schedule.c), and, with --dynamic-gpus, which GPUs a task from a queue gets: the free set is the
 * --gpus set minus what other workers named "<worker_name>:gpu<ids>" hold (workers.get_all, as
 * upstream, so mixed fleets with the Python agent work) minus what is locked on this machine
 * (gpu_lock.c: one flock'd file per GPU, so two of our agents never hand out one GPU twice).
 * Owner: daemon_sched.c; the --status print-out is schedule_status.c.
 */
#ifndef CLEARML_DAEMON_SCHED_H
#define CLEARML_DAEMON_SCHED_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "agent/cli.h"
#include "api.h"
#include "supervisor/gpu_alloc.h"
#include "supervisor/schedule.h"

struct dsched_queue {
	enum sched_force tag;  /* from the queue's tags (refreshed each round) */
	int gpu_min, gpu_max;  /* --dynamic-gpus */
	int last_active;       /* -1: not decided yet */
	int waiting;           /* its task waits for GPUs (said once) */
};

struct dsched {
	struct schedule sch;
	int services;          /* --services-mode */
	int cap;               /* tasks at once; 0 = unlimited */
	int dynamic;           /* --dynamic-gpus */
	struct gpu_set gpus;
	char *gpu_name;        /* "<worker_name>" of the "<worker_name>:gpu<ids>" child ids */
	char *lock_dir;
	int lock_fd[GPU_MAX];  /* our machine-wide lock of each GPU, -1 when not held */
	struct dsched_queue *q;
	size_t nq;
	enum sched_force prop; /* the worker's runtime property `force` */
	long long prop_expiry; /* its seconds left as the server said (-1: none) */
	char prop_raw[64];
	int props_unsupported; /* the server has no runtime properties (API < 2.10 or refused) */
	int64_t next_refresh;  /* mono ms */
};

/* From the options and config (no I/O): the schedule (--uptime/--downtime, else agent.uptime /
 * agent.downtime), the services cap, the dynamic-GPU set and queue specs. *names gets the queue
 * names to resolve (the "=N" parts cut off). Returns 0, or -1 with a usage message in err (the
 * caller exits 2). */
int dsched_setup(struct dsched *s, const struct cli_opts *o, const json_t *root,
                 const char *worker_name, struct strlist *names, char *err, size_t errlen);
void dsched_free(struct dsched *s);

/* After the queues were resolved (a queue given twice is kept once): nq queues. With dynamic
 * GPUs the count must match the specs (-1 with err otherwise). */
int dsched_queues_resolved(struct dsched *s, size_t nq, char *err, size_t errlen);

/* Services mode with a cap: store it as the runtime property max_num_instances (as upstream; a
 * server without runtime properties drops nothing but the record). */
void dsched_store_cap(struct dsched *s, struct api_session *api, const char *worker_id);

/* Once per round (rate-limited to the polling interval): the queues' tags and the worker's
 * runtime properties from the server. Failures keep the last known values. */
void dsched_refresh(struct dsched *s, struct api_session *api, const char *worker_id,
                    char *const *queue_ids, size_t nq, int64_t interval_ms,
                    volatile sig_atomic_t *cancel);

/* 1 when the pull decision can change with time or the server's overrides: a schedule is set, or
 * the force property or a force_workers tag is present (then no long waits on a queue). */
int dsched_decision_may_change(const struct dsched *s);

/* May queue qi hand out work now? Logs the reason once each time the answer changes. */
int dsched_queue_active(struct dsched *s, size_t qi, const char *queue_name, time_t now);

/* Dynamic GPUs: the busy set now (others' workers + our locks); own_prefix workers that are our
 * own slots are counted through the locks. 0, or -1 when the server could not be asked (then
 * nothing should be handed out this round). */
int dsched_gpu_busy(struct dsched *s, struct api_session *api, unsigned char *busy,
                    volatile sig_atomic_t *cancel);

/* Take GPUs for a task of queue qi: pick min..max free ones and lock each (a GPU another agent
 * locked a moment ago is skipped). Returns the count (0: not enough), indexes in idx. */
size_t dsched_gpu_take(struct dsched *s, unsigned char *busy, size_t qi, size_t *idx);
void dsched_gpu_release(struct dsched *s, const size_t *idx, size_t n);

/* 1 when queue id has at least one entry (queues.get_by_id); a failed look counts as empty. */
int dsched_queue_has_entries(struct api_session *api, const char *queue_id,
                             volatile sig_atomic_t *cancel);

#endif

/* The start-up lines saying what the daemon will do (services, GPUs per queue, working hours). */
void dsched_print_mode(const struct dsched *s, char *const *queue_names, size_t nq);

/* `daemon --status` (schedule_status.c): the working hours, the runtime property `force` with its
 * expiry, each queue with its force_workers tag, and whether the worker would pull from it now,
 * in upstream's wording. s must have been refreshed. */
void schedule_print_status(FILE *out, struct dsched *s, char *const *queue_names, size_t nq,
                           time_t now);
