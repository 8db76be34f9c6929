/*
 * worker_id — worker identity and single-instance bookkeeping (spec §4.8/§4.9).
 *
 * Every running daemon (and `execute --full-monitoring`) owns one pid file in the temp directory:
 * `.clearmlagent_<pid>_<random>.tmp` with "<worker_id>\n<slot>". The slot is the smallest number
 * no live instance uses; it suffixes the build directories so concurrent agents never share one.
 * Registration runs under an existence-based global lock (`_.clearmlagent_global.lock`, stale
 * after 10 s) so two agents starting together cannot take the same slot. Files of dead pids are
 * removed whenever the directory is scanned.
 */
#include "supervisor/worker_id.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define LOCK_STALE_SEC 10
#define LOCK_WAIT_MS 15000
#define PIDFILE_MAX 4096

void
worker_ident_compute(struct worker_ident *wi, const char *explicit_id, const char *name,
                     const char *nvidia, const char *cuda, int dynamic_gpus)
{
	memset(wi, 0, sizeof *wi);
	wi->worker_name = xstrdup(name && *name ? name : "localhost");
	if (explicit_id && *explicit_id) {
		wi->worker_id = xstrdup(explicit_id);
		return;
	}
	const char *dev = nvidia ? nvidia : cuda;
	if (dev == NULL || *dev == '\0')
		return;
	if (strcasecmp(dev, "none") == 0) {
		char *n = xasprintf("%s:cpu", wi->worker_name);
		free(wi->worker_name);
		wi->worker_name = n;
		return;
	}
	wi->worker_id = xasprintf("%s:%sgpu%s", wi->worker_name, dynamic_gpus ? "d" : "", dev);
}

void
worker_ident_free(struct worker_ident *wi)
{
	free(wi->worker_id);
	free(wi->worker_name);
	wi->worker_id = wi->worker_name = NULL;
}

char *
worker_ident_final(const struct worker_ident *wi, int slot)
{
	if (wi->worker_id)
		return xstrdup(wi->worker_id);
	return xasprintf("%s:%d", wi->worker_name, slot);
}

int
pidfile_name_pid(const char *fname, pid_t *pid)
{
	if (!str_starts_with(fname, PIDFILE_PREFIX) || !str_ends_with(fname, PIDFILE_SUFFIX))
		return -1;
	const char *p = fname + strlen(PIDFILE_PREFIX);
	const char *us = strchr(p, '_');
	if (us == NULL || us == p || us - p > 10)
		return -1;
	char num[16];
	memcpy(num, p, (size_t)(us - p));
	num[us - p] = '\0';
	for (const char *c = num; *c; c++)
		if (!isdigit((unsigned char)*c))
			return -1;
	long long v;
	if (parse_long(num, 1, 0x7fffffff, &v) < 0)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

int
pidfile_parse(const char *text, char **worker_id, int *slot)
{
	const char *nl = strchr(text, '\n');
	if (nl == NULL || nl == text)
		return -1;
	char *rest = xstrdup(nl + 1);
	char *s = str_trim(rest);
	long long v;
	int rc = parse_long(s, 0, 1000000, &v);
	free(rest);
	if (rc < 0)
		return -1;
	size_t idlen = (size_t)(nl - text);
	if (idlen > 0 && text[idlen - 1] == '\r')
		idlen--;
	if (idlen == 0)
		return -1;
	*worker_id = xstrndup(text, idlen);
	*slot = (int)v;
	return 0;
}

int
pidfile_free_slot(const int *used, size_t n)
{
	for (int s = 0;; s++) {
		int taken = 0;
		for (size_t i = 0; i < n && !taken; i++)
			taken = used[i] == s;
		if (!taken)
			return s;
	}
}

int
pidfile_stop_match(const char *uid, const char *worker_id, const char *worker_name)
{
	if (worker_id && strcmp(uid, worker_id) == 0)
		return 1;
	if (worker_name && *worker_name) {
		size_t n = strlen(worker_name);
		if (strncmp(uid, worker_name, n) == 0 && uid[n] == ':')
			return 1;
	}
	return 0;
}

const char *
pidfile_dir(void)
{
	static const char *const vars[] = {"TMPDIR", "TEMP", "TMP"};
	for (size_t i = 0; i < ARRAY_LEN(vars); i++) {
		const char *v = env_get(vars[i]);
		struct stat st;
		if (v && stat(v, &st) == 0 && S_ISDIR(st.st_mode))
			return v;
	}
	return "/tmp";
}

int
pid_is_alive(pid_t pid)
{
	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno != EPERM)
		return 0;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	size_t len = 0;
	char *st = read_file(path, 8192, &len);
	if (st == NULL)
		return 1; /* no /proc: trust kill() */
	const char *rp = strrchr(st, ')');
	int zombie = rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
	free(st);
	return !zombie;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct pidfile_entry *x = a, *y = b;
	int c = strcmp(x->worker_id, y->worker_id);
	return c ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

int
pidfile_scan(const char *dir, int remove_stale, struct pidfile_list *out)
{
	memset(out, 0, sizeof *out);
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		pid_t pid;
		if (pidfile_name_pid(de->d_name, &pid) < 0)
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		if (!pid_is_alive(pid)) {
			if (remove_stale)
				unlink(path);
			free(path);
			continue;
		}
		char *text = read_file(path, PIDFILE_MAX, NULL);
		char *wid = NULL;
		int slot = 0;
		if (text == NULL || pidfile_parse(text, &wid, &slot) < 0) {
			free(text);
			free(path);
			continue;
		}
		free(text);
		out->v = xreallocarray(out->v, out->n + 1, sizeof *out->v);
		out->v[out->n++] = (struct pidfile_entry){.pid = pid, .slot = slot, .worker_id = wid,
		                                          .path = path};
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, entry_cmp);
	return 0;
}

void
pidfile_list_free(struct pidfile_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].worker_id);
		free(l->v[i].path);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Existence-based lock, interoperable with the Python agent; a lock older than 10 s is stale. */
static char *
lock_acquire(const char *dir, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, PIDFILE_LOCK);
	int64_t deadline = mono_ms() + LOCK_WAIT_MS;
	for (;;) {
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dprintf(fd, "%d\n", (int)getpid());
			close(fd);
			return path;
		}
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create lock file %s: %s", path, strerror(errno));
			free(path);
			return NULL;
		}
		struct stat st;
		if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > LOCK_STALE_SEC)
			unlink(path);
		if (mono_ms() > deadline) {
			snprintf(err, errlen, "timed out waiting for lock file %s", path);
			free(path);
			return NULL;
		}
		sleep_ms(20 + (int)(random_unit() * 30));
	}
}

static void
lock_release(char *path)
{
	if (path) {
		unlink(path);
		free(path);
	}
}

int
instance_register(const char *dir, const struct worker_ident *wi, char **worker_id_out,
                  int *slot_out, char **path_out, char **dup_id, char *err, size_t errlen)
{
	*worker_id_out = NULL;
	*path_out = NULL;
	*dup_id = NULL;
	char *lock = lock_acquire(dir, err, errlen);
	if (lock == NULL)
		return -1;
	struct pidfile_list l;
	if (pidfile_scan(dir, 1, &l) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
		lock_release(lock);
		return -1;
	}
	int *used = xcalloc(l.n + 1, sizeof(int));
	for (size_t i = 0; i < l.n; i++) {
		used[i] = l.v[i].slot;
		if (wi->worker_id && strcmp(l.v[i].worker_id, wi->worker_id) == 0 &&
		    l.v[i].pid != getpid()) {
			*dup_id = xstrdup(wi->worker_id);
			free(used);
			pidfile_list_free(&l);
			lock_release(lock);
			return 1;
		}
	}
	int slot = pidfile_free_slot(used, l.n);
	free(used);
	pidfile_list_free(&l);

	char *id = worker_ident_final(wi, slot);
	char *path = xasprintf("%s/" PIDFILE_PREFIX "%d_XXXXXX" PIDFILE_SUFFIX, dir, (int)getpid());
	int fd = mkostemps(path, (int)strlen(PIDFILE_SUFFIX), O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create pid file in %s: %s", dir, strerror(errno));
		free(id);
		free(path);
		lock_release(lock);
		return -1;
	}
	char *content = xasprintf("%s\n%d", id, slot);
	size_t len = strlen(content);
	ssize_t w = write(fd, content, len);
	free(content);
	if (close(fd) < 0 || w != (ssize_t)len) {
		snprintf(err, errlen, "cannot write pid file %s", path);
		unlink(path);
		free(id);
		free(path);
		lock_release(lock);
		return -1;
	}
	lock_release(lock);
	*worker_id_out = id;
	*slot_out = slot;
	*path_out = path;
	return 0;
}

int
pidfile_follow_pid(char **path, pid_t newpid)
{
	if (*path == NULL)
		return -1;
	const char *base = strrchr(*path, '/');
	base = base ? base + 1 : *path;
	const char *p = base + strlen(PIDFILE_PREFIX);
	const char *us = strchr(p, '_');
	if (!str_starts_with(base, PIDFILE_PREFIX) || us == NULL)
		return -1;
	char *np = xasprintf("%.*s" PIDFILE_PREFIX "%d%s", (int)(base - *path), *path, (int)newpid, us);
	if (rename(*path, np) < 0) {
		free(np);
		return -1;
	}
	free(*path);
	*path = np;
	return 0;
}

void
pidfile_remove(const char *path)
{
	if (path)
		unlink(path);
}
