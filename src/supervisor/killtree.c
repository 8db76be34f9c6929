/*
 * killtree — group signal, grace, SIGKILL, and the sweep for escaped descendants.
 *
 * The sweep reads /proc/<pid>/environ of every process we may read and matches one exact
 * `KEY=VALUE` entry; matches are SIGSTOPped first so a fork bomb cannot outrun the pass, then
 * SIGKILLed, and passes repeat until one finds nothing. Where a cgroup v2 subtree is writable the
 * slot also puts the task in its own cgroup, and `cgroup.kill` takes everything at once.
 */
#include "supervisor/killtree.h"

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

#define ENVIRON_MAX (4u << 20)
#define SWEEP_PASSES 20

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
killtree_signal_group(pid_t pgid, int sig)
{
	if (pgid <= 1) {
		errno = EINVAL;
		return -1;
	}
	return kill(-pgid, sig);
}

/* State letter of /proc/<pid>/stat, and its process group; 0 when gone. */
static char
proc_state(pid_t pid, pid_t *pgrp)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	char st = p[2];
	if (pgrp) {
		/* ") S ppid pgrp" */
		long long v = 0;
		char *q = p + 3;
		while (*q == ' ')
			q++;
		q = strchr(q, ' '); /* skip ppid */
		if (q) {
			char *end;
			v = strtoll(q + 1, &end, 10);
		}
		*pgrp = (pid_t)v;
	}
	return st;
}

static int
is_pid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int
killtree_group_alive(pid_t pgid)
{
	if (pgid <= 1 || (kill(-pgid, 0) < 0 && errno == ESRCH))
		return 0;
	/* Something answers; zombies do too, and they hold nothing: look closer. */
	DIR *d = opendir("/proc");
	if (!d)
		return 1;
	int alive = 0;
	struct dirent *e;
	while (!alive && (e = readdir(d)) != NULL) {
		if (!is_pid_name(e->d_name))
			continue;
		pid_t pg = 0;
		char st = proc_state((pid_t)strtol(e->d_name, NULL, 10), &pg);
		if (st && st != 'Z' && st != 'X' && pg == pgid)
			alive = 1;
	}
	closedir(d);
	return alive;
}

int
killtree_env_match(pid_t pid, const char *key, const char *value)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t kl = strlen(key), vl = strlen(value);
	size_t want = kl + 1 + vl;
	struct buf b;
	buf_init(&b, ENVIRON_MAX);
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(&b, chunk, (size_t)n) < 0)
			break;
	}
	close(fd);
	int found = 0;
	size_t i = 0;
	while (i < b.len) {
		const char *entry = b.data + i;
		size_t el = strnlen(entry, b.len - i);
		if (el == want && memcmp(entry, key, kl) == 0 && entry[kl] == '=' &&
		    memcmp(entry + kl + 1, value, vl) == 0) {
			found = 1;
			break;
		}
		i += el + 1;
	}
	buf_free(&b);
	return found;
}

/* One pass: the live matching pids (but ours) into out (up to max). */
static size_t
env_scan(const char *key, const char *value, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	pid_t self = getpid();
	size_t n = 0;
	struct dirent *e;
	while (n < max && (e = readdir(d)) != NULL) {
		if (!is_pid_name(e->d_name))
			continue;
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
		if (pid == self || pid <= 1)
			continue;
		char st = proc_state(pid, NULL);
		if (!st || st == 'Z' || st == 'X')
			continue;
		if (killtree_env_match(pid, key, value))
			out[n++] = pid;
	}
	closedir(d);
	return n;
}

int
killtree_env_alive(const char *key, const char *value)
{
	pid_t p;
	return env_scan(key, value, &p, 1) > 0;
}

int
killtree_sweep_env(const char *key, const char *value)
{
	enum { MAXP = 4096 };
	pid_t *pids = xmalloc(MAXP * sizeof *pids);
	int killed = 0;
	for (int pass = 0; pass < SWEEP_PASSES; pass++) {
		size_t n = env_scan(key, value, pids, MAXP);
		if (n == 0)
			break;
		/* freeze all first: a stopped process cannot fork a new one between our kills */
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGSTOP);
		for (size_t i = 0; i < n; i++)
			if (kill(pids[i], SIGKILL) == 0)
				killed++;
		sleep_ms(pass < 3 ? 5 : 50);
	}
	free(pids);
	return killed;
}

/* ---- cgroup v2 ---- */

static int
file_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

static int
write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Our own cgroup v2 directory ("<mount><path>"), or NULL when there is no cgroup2 mount. */
static char *
own_cgroup_dir(void)
{
	const char *root = NULL;
	if (file_exists("/sys/fs/cgroup/cgroup.controllers"))
		root = "/sys/fs/cgroup";
	else if (file_exists("/sys/fs/cgroup/unified/cgroup.controllers"))
		root = "/sys/fs/cgroup/unified";
	if (!root)
		return NULL;
	size_t len;
	char *self = read_file("/proc/self/cgroup", 65536, &len);
	if (!self)
		return NULL;
	char *own = NULL;
	for (char *line = self; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (str_starts_with(line, "0::")) {
			own = line + 3;
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	char *dir = NULL;
	if (own && !strstr(own, ".."))
		dir = xasprintf("%s%s", root, strcmp(own, "/") == 0 ? "" : own);
	free(self);
	return dir;
}

char *
killtree_cgroup_create(const char *name)
{
	char *parent = own_cgroup_dir();
	if (!parent)
		return NULL;
	char *cg = xasprintf("%s/%s", parent, name);
	free(parent);
	if (mkdir(cg, 0755) < 0 && errno != EEXIST) {
		free(cg);
		return NULL;
	}
	char *killf = xasprintf("%s/cgroup.kill", cg);
	char *procs = xasprintf("%s/cgroup.procs", cg);
	int ok = file_exists(killf) && access(procs, W_OK) == 0;
	free(killf);
	free(procs);
	if (!ok) {
		rmdir(cg);
		free(cg);
		return NULL;
	}
	return cg;
}

int
killtree_cgroup_remove_stale(const char *prefix)
{
	char *parent = own_cgroup_dir();
	if (!parent)
		return 0;
	DIR *d = opendir(parent);
	int removed = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (!str_starts_with(e->d_name, prefix))
			continue;
		/* "<prefix>...-<agent pid>-<index>": the agent pid is the second field from the end */
		char *name = xstrdup(e->d_name);
		char *last = strrchr(name, '-');
		long long pid = 0;
		if (last) {
			*last = '\0';
			char *p = strrchr(name, '-');
			if (!p || parse_long(p + 1, 2, 1 << 30, &pid) < 0)
				pid = 0;
		}
		free(name);
		if (pid == 0 || pid == getpid() || !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			continue;
		char *cg = xasprintf("%s/%s", parent, e->d_name);
		if (!killtree_cgroup_populated(cg) && rmdir(cg) == 0)
			removed++;
		free(cg);
	}
	if (d)
		closedir(d);
	free(parent);
	return removed;
}

int
killtree_cgroup_procs_fd(const char *cg)
{
	char *p = xasprintf("%s/cgroup.procs", cg);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	free(p);
	return fd;
}

int
killtree_cgroup_kill(const char *cg)
{
	char *p = xasprintf("%s/cgroup.kill", cg);
	int r = write_str(p, "1");
	free(p);
	return r;
}

int
killtree_cgroup_populated(const char *cg)
{
	char *p = xasprintf("%s/cgroup.events", cg);
	size_t len;
	char *ev = read_file(p, 65536, &len);
	free(p);
	if (!ev)
		return 0;
	int pop = strstr(ev, "populated 1") != NULL;
	free(ev);
	return pop;
}

int
killtree_cgroup_remove(const char *cg)
{
	return rmdir(cg);
}

int
killtree_kill(pid_t pgid, const char *cg, const char *key, const char *value, int sig,
              int grace_ms)
{
	if (pgid > 1 && sig > 0 && killtree_signal_group(pgid, sig) == 0) {
		for (int waited = 0; waited < grace_ms && killtree_group_alive(pgid); waited += 20)
			sleep_ms(20);
	}
	if (pgid > 1)
		killtree_signal_group(pgid, SIGKILL);
	if (cg)
		killtree_cgroup_kill(cg);
	if (key && value)
		killtree_sweep_env(key, value);
	/* SIGKILL is asynchronous: give the kernel a moment before judging. */
	for (int i = 0; i < 100; i++) {
		/* (cgroup.events keeps "populated 1" while an unreaped zombie is in it: not judged) */
		int left = (pgid > 1 && killtree_group_alive(pgid)) ||
		           (key && value && killtree_env_alive(key, value));
		if (!left)
			return 0;
		if (key && value)
			killtree_sweep_env(key, value);
		sleep_ms(20);
	}
	return -1;
}
