/*
 * db — SQLite for clearml-server-lite: opening a connection (WAL, busy timeout, foreign keys),
 * one connection per thread (MHD pool threads, the background thread, main), a small per-thread
 * cache of prepared statements, and IMMEDIATE transactions that retry while another writer holds
 * the lock.
 *
 * Invariant: a connection is only ever used by the thread that opened it, so the statement cache
 * needs no lock. A pool thread's connection is closed by the thread-key destructor when MHD
 * stops its threads; main calls db_thread_close() itself.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "server/server.h"
#include "util.h"

#define STMT_CACHE 96

struct conn {
	sqlite3 *db;
	struct {
		char *sql;            /* key: a copy of the statement text */
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	int ncache;
};

static pthread_key_t g_conn_key;
static pthread_once_t g_conn_once = PTHREAD_ONCE_INIT;

static void
conn_free(void *p)
{
	struct conn *c = p;
	if (!c)
		return;
	for (int i = 0; i < c->ncache; i++) {
		sqlite3_finalize(c->cache[i].st);
		free(c->cache[i].sql);
	}
	if (c->db && sqlite3_close(c->db) != SQLITE_OK)
		log_warn("db: close: %s", sqlite3_errmsg(c->db));
	free(c);
}

static void
conn_key_init(void)
{
	if (pthread_key_create(&g_conn_key, conn_free) != 0)
		fatal("db: pthread_key_create failed");
}

sqlite3 *
db_open(const char *path)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		log_error("db: open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
	                "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;") != 0) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

int
db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("db: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int
db_begin(sqlite3 *db)
{
	/* busy_timeout covers most waits; keep trying a while longer for very long writers. */
	for (int i = 0; i < 50; i++) {
		int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
			log_error("db: begin: %s", sqlite3_errmsg(db));
			return -1;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	log_error("db: begin: database stays locked");
	return -1;
}

int
db_commit(sqlite3 *db)
{
	for (int i = 0; i < 50; i++) {
		int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY) {
			log_error("db: commit: %s", sqlite3_errmsg(db));
			db_rollback(db);
			return -1;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	db_rollback(db);
	return -1;
}

void
db_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static struct conn *
conn_get(void)
{
	pthread_once(&g_conn_once, conn_key_init);
	return pthread_getspecific(g_conn_key);
}

sqlite3 *
db_thread_conn(struct server *srv)
{
	struct conn *c = conn_get();
	if (c)
		return c->db;
	sqlite3 *db = db_open(srv->db_path);
	if (!db)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->db = db;
	if (pthread_setspecific(g_conn_key, c) != 0)
		fatal("db: pthread_setspecific failed");
	return db;
}

void
db_thread_close(void)
{
	struct conn *c = conn_get();
	if (!c)
		return;
	pthread_setspecific(g_conn_key, NULL);
	conn_free(c);
}

sqlite3_stmt *
db_stmt(sqlite3 *db, const char *sql)
{
	struct conn *c = conn_get();
	sqlite3_stmt *st = NULL;
	if (c && c->db == db) {
		for (int i = 0; i < c->ncache; i++)
			if (strcmp(c->cache[i].sql, sql) == 0)
				return c->cache[i].st;
	}
	unsigned flags = (c && c->db == db && c->ncache < STMT_CACHE) ? SQLITE_PREPARE_PERSISTENT : 0;
	if (sqlite3_prepare_v3(db, sql, -1, flags, &st, NULL) != SQLITE_OK) {
		log_error("db: prepare: %s (%.80s)", sqlite3_errmsg(db), sql);
		sqlite3_finalize(st);
		return NULL;
	}
	if (flags) {
		c->cache[c->ncache].sql = xstrdup(sql);
		c->cache[c->ncache].st = st;
		c->ncache++;
	}
	return st;
}

void
db_stmt_done(sqlite3_stmt *st)
{
	if (!st)
		return;
	struct conn *c = conn_get();
	if (c && sqlite3_db_handle(st) == c->db) {
		for (int i = 0; i < c->ncache; i++)
			if (c->cache[i].st == st) {
				sqlite3_reset(st);
				sqlite3_clear_bindings(st);
				return;
			}
	}
	sqlite3_finalize(st);
}

void
db_now_iso(char *out, size_t outlen)
{
	iso_time_now(out, outlen);
}
