/*
 * gpu_alloc — dynamic GPU allocation (spec §8.2, the documentation's "Dynamic GPU Allocation"),
 * the pure part: the `--gpus` set (`0-7` or `0,1,2,3`, MIG `0:1` in lists), the per-queue specs
 * (`quad=4`, `opportunistic=1-4`), which GPUs other workers hold (worker ids
 * `<name>:gpu<ids>` from workers.get_all), and the pick (lowest free indexes, at least min, at
 * most max). No I/O: gpu_lock.c holds the machine-wide locks, the daemon asks the server.
 * Owner: gpu_alloc.c.
 */
#ifndef CLEARML_GPU_ALLOC_H
#define CLEARML_GPU_ALLOC_H

#include <stddef.h>

#define GPU_MAX 64
#define GPU_ID_LEN 16

struct gpu_set {
	size_t n;
	char id[GPU_MAX][GPU_ID_LEN]; /* "0".."63", or MIG "0:1" */
};

/* `a-b` (a <= b) or a comma list of ids (digits, optionally ":digits"), no duplicates.
 * 0, or -1 with a message. */
int gpu_set_parse(const char *spec, struct gpu_set *out, char *err, size_t errlen);

/* Index of id in the set, or -1. */
int gpu_set_find(const struct gpu_set *s, const char *id);

struct gpu_queue_spec {
	char name[256]; /* the queue name or id before '=' */
	int min, max;   /* GPUs per task */
};

/* "name=N" or "name=MIN-MAX" against a set of ngpus. N/MIN >= 1, MIN <= MAX <= ngpus, whole
 * numbers; fractions (< 1, upstream's fractional GPUs) are refused: without docker as needing
 * it, with docker as not available in this agent. 0, or -1 with a message. */
int gpu_queue_spec_parse(const char *arg, size_t ngpus, int docker, struct gpu_queue_spec *out,
                         char *err, size_t errlen);

/* A worker id of another worker on this machine holding GPUs: "<name>:gpu<ids>" where ids is a
 * comma list. Marks each id found in the set in busy[] (size s->n). Returns how many it marked;
 * 0 for ids that are not such a worker (other names, ":dgpu", ":cpu", fractions "0.25a"). */
size_t gpu_busy_from_worker(const struct gpu_set *s, const char *name, const char *worker_id,
                            unsigned char *busy);

/* Pick GPUs: the lowest-indexed indexes with busy[i] == 0, at most max; when fewer than min are
 * free, none. Returns the number picked (0 or min..max), indexes in picked[]. */
size_t gpu_pick(const struct gpu_set *s, const unsigned char *busy, int min, int max,
                size_t *picked);

/* "0,1" for picked indexes (comma list of ids), into out (bounded). */
void gpu_ids_join(const struct gpu_set *s, const size_t *idx, size_t n, char *out, size_t outlen);

#endif
