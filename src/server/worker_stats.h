/*
 * worker_stats — machine statistics of workers and queue length / wait-time samples, kept in
 * SQLite in fixed time buckets at three resolutions (10 s for a day, 5 min and 1 h for eight
 * days), and the endpoints that read them: workers.get_stats, workers.get_metric_keys,
 * workers.get_activity_report, queues.get_queue_metrics. The real server keeps one
 * Elasticsearch document per value and aggregates at query time; here a report adds into its
 * buckets (count, sum, min, max) so a query over a week reads a few thousand rows per series.
 */
#ifndef CLEARML_SERVER_WORKER_STATS_H
#define CLEARML_SERVER_WORKER_STATS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "server/server.h"

extern const char worker_stats_schema[];
extern const struct endpoint worker_stats_endpoints[];

/* Add one workers.status_report into the buckets (inside the caller's transaction).
 * ts_ms: the report's timestamp (epoch ms; a value below 1e11 is read as seconds).
 * machine_stats may be NULL (then only the activity is counted). 0 or -1. */
int worker_stats_record(sqlite3 *db, const char *company, const char *worker, int has_task,
                        int64_t ts_ms, const json_t *machine_stats);
/* Sample every queue's length and average wait into the queue buckets (own transaction when
 * own_txn). 0 or -1. */
int queue_stats_sample(sqlite3 *db, int64_t now_us, int own_txn);
/* Samples one queue's length and wait inside the caller's transaction, after a change to its
 * entries (as upstream logs queue metrics on every add/remove/dequeue). 0 or -1. */
int queue_stats_note_change(sqlite3 *db, const char *queue_id);
/* Background: sample queues every 10 s, drop buckets past their retention every minute. */
void worker_stats_tick(sqlite3 *db, int64_t now_ms_);
/* Drop buckets older than each resolution's retention relative to now_ms_. */
void worker_stats_prune(sqlite3 *db, int64_t now_ms_);

/* Pure: the resolution (index into the tier table) a query with this interval reads — the
 * coarsest whose bucket is not longer than the interval. */
int worker_stats_tier_for(long long interval_sec);
/* Pure: bucket keys (epoch ms) of a date histogram from..to (seconds) with interval seconds,
 * as Elasticsearch's extended bounds make them; the number of keys is returned (≤ max). */
size_t worker_stats_buckets(double from_sec, double to_sec, long long interval_sec,
                            int64_t *keys, size_t max);

#endif
