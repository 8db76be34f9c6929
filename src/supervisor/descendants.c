/*
 * descendants — a task's process set by parentage (contract in descendants.h).
 */
#include "supervisor/descendants.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define KILL_PASSES 20
#define TABLE_MAX 1000000

int
desc_become_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int
desc_contains(const struct desc_set *set, pid_t pid, unsigned long long start)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].pid == pid && set->v[i].start == start)
			return 1;
	return 0;
}

static int
has_pid(const struct desc_set *set, pid_t pid)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].pid == pid)
			return 1;
	return 0;
}

void
desc_add(struct desc_set *set, const struct proc_ent *e)
{
	if (desc_contains(set, e->pid, e->start))
		return;
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 16;
		set->v = xreallocarray(set->v, set->cap, sizeof *set->v);
	}
	set->v[set->n++] = *e;
}

void
desc_free(struct desc_set *set)
{
	free(set->v);
	memset(set, 0, sizeof *set);
}

void
desc_close(struct desc_set *set, const struct proc_ent *tab, size_t n, pid_t root)
{
	/* members that are gone (or whose pid now names another process) leave */
	size_t k = 0;
	for (size_t i = 0; i < set->n; i++) {
		int live = 0;
		size_t j;
		for (j = 0; j < n && !live; j++)
			live = tab[j].pid == set->v[i].pid && tab[j].start == set->v[i].start;
		if (live)
			set->v[k++] = tab[j - 1]; /* with its current state */
	}
	set->n = k;
	for (size_t j = 0; j < n; j++)
		if (root > 0 && tab[j].pid == root)
			desc_add(set, &tab[j]);
	for (int grew = 1; grew;) {
		grew = 0;
		for (size_t j = 0; j < n; j++) {
			if (tab[j].pid <= 1 || has_pid(set, tab[j].pid))
				continue;
			if ((root > 0 && tab[j].ppid == root) || has_pid(set, tab[j].ppid)) {
				desc_add(set, &tab[j]);
				grew = 1;
			}
		}
	}
}

/* /proc/<pid>/stat: "pid (comm) S ppid pgrp session tty tpgid flags minflt cminflt majflt
 * cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime ..." */
static int
read_stat(pid_t pid, struct proc_ent *e)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	e->pid = pid;
	e->state = p[2];
	p += 3;
	/* fields after the state: ppid is #1, starttime #19 */
	unsigned long long f[20] = {0};
	for (int i = 1; i <= 19 && *p; i++) {
		while (*p == ' ')
			p++;
		char *end;
		f[i] = strtoull(p, &end, 10);
		if (end == p)
			return -1;
		p = end;
	}
	e->ppid = (pid_t)f[1];
	e->sid = (pid_t)f[3];
	e->start = f[19];
	return 0;
}

long
desc_read_table(struct proc_ent **tab)
{
	*tab = NULL;
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < TABLE_MAX) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		struct proc_ent e;
		if (read_stat((pid_t)pid, &e) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			*tab = xreallocarray(*tab, cap, sizeof **tab);
		}
		(*tab)[n++] = e;
	}
	closedir(d);
	return (long)n;
}

void
desc_update(struct desc_set *set, pid_t root)
{
	struct proc_ent *tab;
	long n = desc_read_table(&tab);
	if (n >= 0)
		desc_close(set, tab, (size_t)n, root);
	free(tab);
}

/* One /proc read serves every slot that ticks in the same moment: with N services each ticking
 * four times a second, a read per slot per tick cost O(N x processes) (50 idle services: 10 s of
 * CPU a minute). A table younger than DESC_CACHE_MS is reused; kills always read afresh. */
#define DESC_CACHE_MS 250 /* one slot tick */

void
desc_update_shared(struct desc_set *set, pid_t root)
{
	static struct proc_ent *cache;
	static long cache_n = -1;
	static int64_t cache_at;
	int64_t now = mono_ms();
	if (cache_n < 0 || now - cache_at >= DESC_CACHE_MS || now < cache_at) {
		free(cache);
		cache_n = desc_read_table(&cache);
		cache_at = now;
	}
	if (cache_n >= 0)
		desc_close(set, cache, (size_t)cache_n, root);
}

int
desc_kill(struct desc_set *set)
{
	int killed = 0;
	pid_t self = getpid();
	for (int pass = 0; pass < KILL_PASSES; pass++) {
		desc_update(set, 0);
		int live = 0;
		/* freeze first: a stopped process cannot fork between our kills */
		for (size_t i = 0; i < set->n; i++) {
			if (set->v[i].pid == self || set->v[i].state == 'Z' || set->v[i].state == 'X')
				continue;
			if (kill(set->v[i].pid, SIGSTOP) == 0)
				live++;
		}
		if (!live)
			break;
		for (size_t i = 0; i < set->n; i++) {
			if (set->v[i].pid == self || set->v[i].state == 'Z' || set->v[i].state == 'X')
				continue;
			if (kill(set->v[i].pid, SIGKILL) == 0)
				killed++;
		}
		struct timespec ts = {0, 5 * 1000000};
		nanosleep(&ts, NULL);
	}
	return killed;
}
