/*
 * clearml-server-lite — program entry: command line, data directory (database, token secret,
 * clearml.conf with the credentials), first-start initialisation (user, credential pair, default
 * queue), the HTTP front, the background thread (worker expiry and the in-progress watchdog),
 * and an orderly stop on SIGTERM/SIGINT.
 *
 * Signals are blocked before any thread starts and taken synchronously with sigwait() in main,
 * so no handler ever runs inside a request.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/files.h"
#include "server/front.h"
#include "server/models.h"
#include "server/organization.h"
#include "server/serving.h"
#include "server/server.h"
#include "server/status_history.h"
#include "server/task_page.h"
#include "server/web.h"
#include "server/worker_stats.h"
#include "util.h"
#include "version.h"

/* srvq's queue_store.c provides this; a weak reference keeps the server linkable before it does. */
extern int queue_ensure_default(sqlite3 *db, const struct identity *who) __attribute__((weak));

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: clearml-server-lite [--host 127.0.0.1] [--port 8008] [--data-dir DIR]\n"
	        "                           [--worker-timeout-sec 600] [--task-watchdog-sec 7200] [--debug]\n"
	        "                           [--files-port 8081|off] [--files-no-auth]\n"
	        "                           [--files-max-upload-mb 4096] [--web-root DIR]\n"
	        "       clearml-server-lite credentials create [--data-dir DIR]\n"
	        "\n"
	        "A ClearML-compatible API server on SQLite. The data directory (default\n"
	        "~/.clearml/server-lite) holds the database, the token secret and clearml.conf with\n"
	        "credentials usable by clearml-agent --config-file and the ClearML SDK.\n"
	        "--port 0 takes a free port; the line 'listening on http://HOST:PORT' says which.\n"
	        "The files server (artifacts, models, debug images) listens on --files-port (a free\n"
	        "one when --port is 0) and stores under DIR/files; clearml.conf names it.\n"
	        "The web app is at http://HOST:PORT/ui/ (sign in with clearml.conf's credentials);\n"
	        "--web-root names its folder (default: found next to the program).\n");
}

static int
load_or_make_secret(struct server *srv)
{
	char *path = xasprintf("%s/token_secret", srv->data_dir);
	size_t len = 0;
	char *text = read_file(path, 4096, &len);
	int rc = -1;
	if (text && len >= 2 * sizeof(srv->jwt_secret)) {
		rc = 0;
		for (size_t i = 0; i < sizeof(srv->jwt_secret); i++) {
			unsigned v = 0;
			for (int k = 0; k < 2; k++) {
				char c = text[2 * i + (size_t)k];
				int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
				if (d < 0)
					rc = -1;
				v = v * 16 + (unsigned)(d < 0 ? 0 : d);
			}
			srv->jwt_secret[i] = (unsigned char)v;
		}
	}
	free(text);
	if (rc != 0) {
		static const char hx[] = "0123456789abcdef";
		char out[2 * sizeof(srv->jwt_secret) + 2];
		random_bytes(srv->jwt_secret, sizeof(srv->jwt_secret));
		for (size_t i = 0; i < sizeof(srv->jwt_secret); i++) {
			out[2 * i] = hx[srv->jwt_secret[i] >> 4];
			out[2 * i + 1] = hx[srv->jwt_secret[i] & 15];
		}
		out[2 * sizeof(srv->jwt_secret)] = '\n';
		rc = write_file_atomic(path, out, 2 * sizeof(srv->jwt_secret) + 1, 0600);
		if (rc != 0)
			log_error("cannot write %s: %s", path, strerror(errno));
	}
	free(path);
	return rc;
}

static int
open_database(struct server *srv, sqlite3 **out)
{
	if (mkdir_p(srv->data_dir, 0700) != 0) {
		log_error("cannot create %s: %s", srv->data_dir, strerror(errno));
		return -1;
	}
	sqlite3 *db = db_thread_conn(srv);
	if (!db)
		return -1;
	if (db_exec(db, svc_core_schema) || db_exec(db, svc_queues_schema) ||
	    db_exec(db, svc_workers_schema) || db_exec(db, svc_events_schema) ||
	    db_exec(db, svc_models_schema) || db_exec(db, worker_stats_schema) ||
	    db_exec(db, task_page_schema) || db_exec(db, status_history_schema) ||
	    db_exec(db, organization_schema) || db_exec(db, serving_schema))
		return -1;
	*out = db;
	return 0;
}

/* Pull `key: "value"` out of our own clearml.conf. */
static int
conf_value(const char *text, const char *key, char *out, size_t outlen)
{
	const char *p = text;
	size_t kl = strlen(key);
	while ((p = strstr(p, key)) != NULL) {
		const char *q = p + kl;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != ':' && *q != '=') {
			p = q;
			continue;
		}
		q++;
		while (*q == ' ' || *q == '\t' || *q == '"')
			q++;
		size_t n = strcspn(q, "\"\r\n ");
		if (n == 0 || n >= outlen)
			return -1;
		memcpy(out, q, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

static const char *
public_host(const char *host)
{
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !*host)
		return "127.0.0.1";
	return host;
}

static int
write_conf(const struct server *srv, const char *key, const char *secret)
{
	const char *h = public_host(srv->host);
	int v6 = strchr(h, ':') != NULL;
	char *url = xasprintf(v6 ? "http://[%s]:%d" : "http://%s:%d", h, srv->port);
	char *files = srv->files_port > 0 ? xasprintf(v6 ? "http://[%s]:%d" : "http://%s:%d", h,
	                                              srv->files_port) : xstrdup(url);
	char *text = xasprintf(
		"# Written by clearml-server-lite at every start (api_server follows the actual address).\n"
		"# Usable as is: clearml-agent --config-file THIS_FILE, or CLEARML_CONFIG_FILE for the SDK.\n"
		"api {\n"
		"    api_server: \"%s\"\n"
		"    web_server: \"%s/ui\"\n"
		"    files_server: \"%s\"\n"
		"    credentials {\n"
		"        access_key: \"%s\"\n"
		"        secret_key: \"%s\"\n"
		"    }\n"
		"}\n",
		url, url, files, key, secret);
	char *path = xasprintf("%s/clearml.conf", srv->data_dir);
	int rc = write_file_atomic(path, text, strlen(text), 0600);
	if (rc != 0)
		log_error("cannot write %s: %s", path, strerror(errno));
	explicit_bzero(text, strlen(text));
	free(text);
	free(path);
	free(url);
	free(files);
	return rc;
}

/* The credentials of clearml.conf when they still work, else a new pair (and identity). */
static int
ensure_credentials(struct server *srv, sqlite3 *db, struct identity *who, char key[64],
                   char secret[96])
{
	char uid[33];
	if (db_begin(db) != 0)
		return -1;
	if (user_ensure_default(db, uid) != 0 || user_identity(db, uid, who) != 0) {
		db_rollback(db);
		return -1;
	}
	char *path = xasprintf("%s/clearml.conf", srv->data_dir);
	char *text = read_file(path, 1 << 20, NULL);
	free(path);
	int have = 0;
	if (text && conf_value(text, "access_key", key, 64) == 0 &&
	    conf_value(text, "secret_key", secret, 96) == 0) {
		struct identity tmp;
		have = credentials_check(db, key, secret, "server-lite", &tmp) == 0;
	}
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (!have) {
		char k[AUTH_ACCESS_KEY_LEN + 1], s[80];
		if (credentials_create(db, uid, "server-lite", k, s) != 0) {
			db_rollback(db);
			return -1;
		}
		snprintf(key, 64, "%s", k);
		snprintf(secret, 96, "%s", s);
	}
	return db_commit(db);
}

static int
cmd_credentials_create(struct server *srv)
{
	sqlite3 *db;
	if (open_database(srv, &db) != 0)
		return 1;
	char uid[33], k[AUTH_ACCESS_KEY_LEN + 1], s[80];
	int rc = 1;
	if (db_begin(db) == 0) {
		if (user_ensure_default(db, uid) == 0 && credentials_create(db, uid, "cli", k, s) == 0 &&
		    db_commit(db) == 0) {
			printf("credentials {\n    access_key: \"%s\"\n    secret_key: \"%s\"\n}\n", k, s);
			rc = 0;
		} else {
			db_rollback(db);
		}
	}
	explicit_bzero(s, sizeof(s));
	db_thread_close();
	if (rc)
		log_error("could not create credentials");
	return rc;
}

/* ---------------------------------------------------------------- background jobs */

static pthread_mutex_t g_bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_bg_cond = PTHREAD_COND_INITIALIZER;
static int g_bg_stop;

static void
watchdog_run(sqlite3 *db, int watchdog_sec)
{
	char cutoff[48];
	iso_time((now_ms() - (int64_t)watchdog_sec * 1000) * 1000, cutoff, sizeof(cutoff));
	sqlite3_stmt *st = db_stmt(db, "SELECT id FROM tasks WHERE status = 'in_progress' AND "
	                               "last_update < ? LIMIT 1000");
	if (!st)
		return;
	sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
	json_t *ids = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
	db_stmt_done(st);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		if (db_begin(db) != 0)
			break;
		/* re-check inside the transaction: a ping may have arrived meanwhile */
		json_t *t = task_load(db, id);
		const char *status = json_string_value(json_object_get(t, "status"));
		const char *lu = json_string_value(json_object_get(t, "last_update"));
		if (status && !strcmp(status, "in_progress") && lu && strcmp(lu, cutoff) < 0) {
			task_force_status(db, id, "stopped", "Forced stop (non-responsive)",
			                  "Forced stop (non-responsive)", NULL);
			log_info("watchdog: task %s stopped (no update since %s)", id, lu);
		}
		json_decref(t);
		db_commit(db);
	}
	json_decref(ids);
}

static void *
background_main(void *arg)
{
	struct server *srv = arg;
	int shortest = srv->task_watchdog_sec < srv->worker_timeout_sec ? srv->task_watchdog_sec
	                                                                : srv->worker_timeout_sec;
	int64_t period_ms = (int64_t)shortest * 1000 / 4;
	if (period_ms < 250)
		period_ms = 250;
	if (period_ms > 5000)
		period_ms = 5000;
	pthread_mutex_lock(&g_bg_lock);
	while (!g_bg_stop) {
		pthread_mutex_unlock(&g_bg_lock);
		sqlite3 *db = db_thread_conn(srv);
		if (db) {
			workers_expire(db, now_ms());
			worker_stats_tick(db, now_ms());
			serving_prune(db, now_ms());
			watchdog_run(db, srv->task_watchdog_sec);
			auth_revoked_expire(db, now_ms() / 1000);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (period_ms % 1000) * 1000000;
		ts.tv_sec += period_ms / 1000 + ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_mutex_lock(&g_bg_lock);
		if (!g_bg_stop)
			pthread_cond_timedwait(&g_bg_cond, &g_bg_lock, &ts);
	}
	pthread_mutex_unlock(&g_bg_lock);
	db_thread_close();
	return NULL;
}

/* ---------------------------------------------------------------- main */

static int
int_arg(const char *opt, const char *v, long long lo, long long hi, int *out)
{
	long long x;
	if (!v || parse_long(v, lo, hi, &x) != 0) {
		fprintf(stderr, "clearml-server-lite: %s needs a number in [%lld, %lld]\n", opt, lo, hi);
		return -1;
	}
	*out = (int)x;
	return 0;
}

int
main(int argc, char **argv)
{
	log_set_prefix("clearml-server-lite");
	log_set_level(LOG_INFO);
	umask(077); /* the database, the token secret and clearml.conf are the owner's alone */
	struct server srv = {0};
	char *host = xstrdup("127.0.0.1");
	char *data_dir = NULL;
	const char *web_root = NULL;
	int port = 8008, threads = 4, cred_create = 0, rc = 1, files_port_set = 0;
	struct files_front *files = NULL;
	srv.worker_timeout_sec = 600;
	srv.task_watchdog_sec = 7200;
	srv.files_auth = 1;
	srv.files_max_upload_mb = 4096;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			rc = 0;
			goto out;
		} else if (!strcmp(a, "--host") && next) {
			free(host);
			host = xstrdup(next);
			i++;
		} else if (!strcmp(a, "--port")) {
			if (int_arg(a, next, 0, 65535, &port))
				goto usage_err;
			i++;
		} else if (!strcmp(a, "--data-dir") && next) {
			free(data_dir);
			data_dir = xstrdup(next);
			i++;
		} else if (!strcmp(a, "--web-root") && next) {
			web_root = next;
			i++;
		} else if (!strcmp(a, "--worker-timeout-sec")) {
			if (int_arg(a, next, 1, 100000000, &srv.worker_timeout_sec))
				goto usage_err;
			i++;
		} else if (!strcmp(a, "--task-watchdog-sec")) {
			if (int_arg(a, next, 1, 100000000, &srv.task_watchdog_sec))
				goto usage_err;
			i++;
		} else if (!strcmp(a, "--threads")) {
			if (int_arg(a, next, 1, 64, &threads))
				goto usage_err;
			i++;
		} else if (!strcmp(a, "--files-port") && next && !strcmp(next, "off")) {
			srv.files_port = -1;
			files_port_set = 1;
			i++;
		} else if (!strcmp(a, "--files-port")) {
			if (int_arg(a, next, 0, 65535, &srv.files_port))
				goto usage_err;
			files_port_set = 1;
			i++;
		} else if (!strcmp(a, "--files-no-auth")) {
			srv.files_auth = 0;
		} else if (!strcmp(a, "--files-max-upload-mb")) {
			int mb;
			if (int_arg(a, next, 0, 1 << 20, &mb))
				goto usage_err;
			srv.files_max_upload_mb = mb;
			i++;
		} else if (!strcmp(a, "--debug")) {
			log_set_level(LOG_DEBUG);
		} else if (!strcmp(a, "credentials") && next && !strcmp(next, "create")) {
			cred_create = 1;
			i++;
		} else {
			fprintf(stderr, "clearml-server-lite: unknown argument '%s'\n", a);
			usage(stderr);
			goto usage_err;
		}
	}
	if (!data_dir)
		data_dir = path_expand("~/.clearml/server-lite");
	srv.host = host;
	srv.port = port;
	if (!files_port_set)
		srv.files_port = port == 0 ? 0 : 8081;
	srv.data_dir = data_dir;
	srv.db_path = xasprintf("%s/server-lite.db", data_dir);
	if (cred_create) {
		rc = cmd_credentials_create(&srv);
		goto out;
	}

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	sqlite3 *db;
	if (open_database(&srv, &db) != 0 || load_or_make_secret(&srv) != 0)
		goto out;
	struct identity who;
	char key[64], secret[96];
	if (ensure_credentials(&srv, db, &who, key, secret) != 0) {
		log_error("cannot set up credentials");
		goto out;
	}
	if (queue_ensure_default) {
		if (db_begin(db) == 0) {
			if (queue_ensure_default(db, &who) == 0)
				db_commit(db);
			else
				db_rollback(db);
		}
	}
	router_init();
	web_static_init(web_root);
	struct http_front *front = http_start(&srv, threads);
	if (!front) {
		explicit_bzero(secret, sizeof(secret));
		goto out;
	}
	if (srv.files_port >= 0) {
		int wanted = srv.files_port;
		files = files_start(&srv);
		if (!files && files_port_set) {
			log_error("cannot listen for files on %s:%d", srv.host, wanted);
			explicit_bzero(secret, sizeof(secret));
			http_stop(front);
			goto out;
		}
		if (!files) {
			log_warn("files server off: port %d is taken (--files-port to choose one)", wanted);
			srv.files_port = -1;
		}
	}
	if (write_conf(&srv, key, secret) != 0) {
		explicit_bzero(secret, sizeof(secret));
		files_stop(files);
		http_stop(front);
		goto out;
	}
	explicit_bzero(secret, sizeof(secret));

	pthread_t bg;
	int bg_ok = pthread_create(&bg, NULL, background_main, &srv) == 0;
	if (!bg_ok)
		log_warn("cannot start the background thread: worker expiry and watchdog are off");

	const char *ph = public_host(srv.host);
	printf(strchr(ph, ':') ? "listening on http://[%s]:%d\n" : "listening on http://%s:%d\n", ph,
	       srv.port);
	fflush(stdout);
	log_info("serving %s (data dir %s)", srv.db_path, srv.data_dir);
	if (files)
		log_info("files server on port %d (%s/files)", srv.files_port, srv.data_dir);

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) == 0 && (sig == SIGTERM || sig == SIGINT))
			break;
	}
	log_info("stopping");
	files_stop(files);
	http_stop(front);
	if (bg_ok) {
		pthread_mutex_lock(&g_bg_lock);
		g_bg_stop = 1;
		pthread_cond_signal(&g_bg_cond);
		pthread_mutex_unlock(&g_bg_lock);
		pthread_join(bg, NULL);
	}
	rc = 0;
	goto out;
usage_err:
	rc = 2;
out:
	db_thread_close();
	free(srv.db_path);
	free(data_dir);
	free(host);
	return rc;
}
