/*
 * server — clearml-server-lite internals shared by the HTTP front, the router and the services.
 *
 * One request = one `struct req` built by the front (http.c): endpoint name and requested version
 * parsed from the path, the JSON body (query string merged), the json-lines batch if any, the
 * authenticated identity, and this thread's SQLite connection. A handler fills `struct reply`;
 * the front wraps it in the envelope (meta.id, trx, endpoint{name, requested_version,
 * actual_version}, result_code, result_subcode, result_msg, error_stack, then data) with the HTTP
 * status equal to result_code.
 *
 * Services live one per file (svc_<service>.c) and export a NULL-terminated endpoint table and
 * their SQL schema. Cross-service operations go through the small store APIs below (task_store.c,
 * queue_store.c, event_store.c) so that, e.g., tasks.enqueue and queues.get_next_task share one
 * implementation of a queue entry.
 *
 * Concurrency: libmicrohttpd thread pool; each thread has its own sqlite3 connection (WAL). Every
 * write runs inside db_begin() (BEGIN IMMEDIATE) … db_commit(), so a read-modify-write such as
 * get_next_task is atomic across threads and processes.
 */
#ifndef CLEARML_SERVER_H
#define CLEARML_SERVER_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#define SRV_MAX_BODY (16u << 20)      /* request bodies above this: 400 */
#define SRV_MAX_STRING (1u << 20)      /* any single JSON string above this: 400 (except event msg) */
#define SRV_MAX_PAGE_SIZE 500          /* get_all results per query (real server: 500) */
#define SRV_DEFAULT_COMPANY "d1bd92a3b039400cbafc60a7a5b1e52b"
#define SRV_DEFAULT_COMPANY_NAME "clearml"

struct server {
	char *host;
	int port;                 /* actual port once listening */
	char *data_dir;
	char *db_path;
	int worker_timeout_sec;   /* default register timeout (600) */
	int task_watchdog_sec;    /* in_progress tasks idle longer than this are stopped (7200) */
	unsigned char jwt_secret[32];
	int files_port;           /* files server port (0 any free; actual once listening); -1 off */
	int files_auth;           /* files server wants a Bearer token / cookie (upstream default) */
	long long files_max_upload_mb; /* one upload request at most this (0: unbounded) */
};

struct identity {
	char user[64];
	char company[64];
	char role[32];
	char user_name[128];
	char company_name[128];
};

struct req {
	const char *endpoint;          /* "tasks.get_by_id" */
	char version[16];              /* requested version as text; "2.31" when the path had none */
	int ver_major, ver_minor;
	json_t *body;                  /* always an object */
	json_t *batch;                 /* json-lines body: array of objects; else NULL */
	const struct identity *who;    /* NULL on endpoints without auth */
	const char *authorization;     /* raw Authorization header (auth.login), may be NULL */
	const char *worker_header;     /* X-ClearML-Worker / X-Trains-Worker, may be NULL */
	const char *impersonate_as;    /* X-ClearML-Impersonate-As (or X-Trains-), may be NULL */
	const char *act_as;            /* X-ClearML-Act-As (or X-Trains-), may be NULL */
	const char *client_ip;
	sqlite3 *db;
	struct server *srv;
	int64_t wait_until_ms;         /* a parked request dispatched again: its deadline; else 0 */
};

struct reply {
	int code;                 /* HTTP status = result_code; 0 means 200 */
	int subcode;
	char *msg;                /* NULL → "OK" */
	json_t *data;             /* NULL → {} */
	const char *actual_version; /* handler min_version; set by the router */
	int64_t suspend_until_ms; /* no answer yet: park the request until then (longpoll.h) */
};

/* Set the reply's data (steals the reference). */
void reply_data(struct reply *r, json_t *data);
/* Error reply; message formatted as the real server does ("Invalid task id: id=abc"). */
void reply_err(struct reply *r, int code, int subcode, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* requested version >= major.minor */
int req_version_ge(const struct req *q, int major, int minor);

/* Typed body access with validation errors (400/12) written into r. Each returns 0, or -1 after
 * filling r. `required` → missing field is an error; otherwise *out is left as dflt. */
int req_str(const struct req *q, struct reply *r, const char *field, int required, const char **out);
int req_int(const struct req *q, struct reply *r, const char *field, int required, long long *out);
int req_bool(const struct req *q, struct reply *r, const char *field, int required, int *out);

typedef void (*handler_fn)(struct req *q, struct reply *r);

#define EP_NO_AUTH 0x1   /* server.info, debug.ping: no credentials needed */
#define EP_LOGIN   0x2   /* auth.login: Basic (or Bearer) handled by the handler */

struct endpoint {
	const char *name;         /* "queues.get_next_task" */
	const char *min_version;  /* "1.0", "2.4", ... (the real server's handler min_version) */
	unsigned flags;
	handler_fn fn;
};

/* One table per service (NULL name terminates). */
extern const struct endpoint svc_auth_endpoints[];
extern const struct endpoint svc_server_endpoints[];   /* server.* and debug.* */
extern const struct endpoint svc_users_endpoints[];
extern const struct endpoint svc_move_endpoints[];    /* tasks.move, models.move */
extern const struct endpoint svc_pipelines_endpoints[];
extern const struct endpoint svc_projects_endpoints[];
extern const struct endpoint svc_projects_hyperparams_endpoints[];
extern const struct endpoint svc_tasks_endpoints[];
extern const struct endpoint svc_queues_endpoints[];
extern const struct endpoint svc_workers_endpoints[];
extern const struct endpoint svc_events_endpoints[];
extern const struct endpoint svc_events_multi_endpoints[]; /* svc_events_multi.c */
extern const struct endpoint svc_events_samples_endpoints[]; /* svc_events_samples.c */

/* Schemas, run at open in this order (CREATE TABLE IF NOT EXISTS ...). */
extern const char svc_core_schema[];     /* users, credentials, projects, tasks (task_store.c) */
extern const char svc_queues_schema[];   /* queue_store.c */
extern const char svc_workers_schema[];  /* svc_workers.c */
extern const char svc_events_schema[];   /* event_store.c */

/* ---- db.c ---- */
sqlite3 *db_open(const char *path);          /* WAL, busy timeout, foreign keys; NULL on error */
int db_begin(sqlite3 *db);                   /* BEGIN IMMEDIATE (retries while busy) */
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);
int db_exec(sqlite3 *db, const char *sql);
/* This thread's connection (opened on first use). */
sqlite3 *db_thread_conn(struct server *srv);
/* A prepared statement cached for this connection (keyed by the sql text), reset and unbound,
 * ready to bind. NULL on a prepare error (logged). Give it back with db_stmt_done() after use;
 * never hold two uses of the same sql at once. Use it only with db_thread_conn()'s connection. */
sqlite3_stmt *db_stmt(sqlite3 *db, const char *sql);
void db_stmt_done(sqlite3_stmt *st);
/* Close this thread's connection and its cached statements (main thread at exit; pool threads
 * close theirs when they end). */
void db_thread_close(void);
/* ISO-8601 "now" for document datetimes (out >= 40 bytes). */
void db_now_iso(char *out, size_t outlen);

/* ---- task_store.c (owned with svc_tasks.c) ---- */
/* Load a task document (new reference) or NULL when it does not exist. */
json_t *task_load(sqlite3 *db, const char *task_id);
/* Insert or replace a whole task document (indexed columns derived from it). 0 or -1. */
int task_save(sqlite3 *db, const json_t *task);
/* Status of a task ("" copy into out) → 0, or -1 when it does not exist. */
int task_get_status(sqlite3 *db, const char *task_id, char *out, size_t outlen);
/* Force a status change (used by queue operations that restore enqueue_status, the watchdog and
 * get_next_task's race fix). Updates status_changed/last_update/last_change and records the
 * change in the status history as done by user `by` (NULL: the server itself). 0 or -1. */
int task_force_status(sqlite3 *db, const char *task_id, const char *status, const char *reason,
                      const char *message, const char *by);
/* Record a worker's report on a task (last_worker, last_worker_report, last_update). */
int task_touch_worker(sqlite3 *db, const char *task_id, const char *worker);

/* ---- queue_store.c (owned with svc_queues.c) ---- */
int queue_exists(sqlite3 *db, const char *queue_id);
/* Append task at the tail. 0, or -1 with r filled (400/701 bad queue, 400/706 already queued). */
int queue_add_task(sqlite3 *db, const char *queue_id, const char *task_id, struct reply *r);
/* Remove a task from one queue (queue_id) or all queues (queue_id NULL). Returns count removed. */
int queue_remove_task(sqlite3 *db, const char *queue_id, const char *task_id);
/* Resolve the queue for tasks.enqueue: queue_id, else queue_name (created when missing), else the
 * default queue. out_id gets the id. 0 or -1 with r filled (701, 707, 708). */
int queue_resolve_for_enqueue(sqlite3 *db, const struct identity *who, const char *queue_id,
                              const char *queue_name, char out_id[33], struct reply *r);
/* Queue name for an id into out ("" if unknown). */
void queue_name_of(sqlite3 *db, const char *queue_id, char *out, size_t outlen);
/* First start: when who's company has no queue at all, create "default" with system tag
 * "default" (the real server's init). 0 or -1. main.c calls it at every start. */
int queue_ensure_default(sqlite3 *db, const struct identity *who);

/* ---- event_store.c (owned with svc_events.c) ---- */
int events_delete_for_task(sqlite3 *db, const char *task_id);

/* ---- svc_workers.c ---- */
/* Drop workers silent for longer than their timeout. Called by the background thread. */
void workers_expire(sqlite3 *db, int64_t now_ms);
/* 1 if a live worker currently reports this task (drives tasks.stop's "stopping"). */
int workers_task_has_live_worker(sqlite3 *db, const char *task_id, int64_t now_ms);

#endif
