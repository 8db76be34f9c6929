/*
 * descendants — every process a task started, found without the task's cooperation (issue 9).
 *
 * The supervisor is a child subreaper (PR_SET_CHILD_SUBREAPER): a descendant whose parent exits
 * is re-parented to the agent, not to init, however it detached itself (setsid, double fork,
 * exec with an empty environment). Each slot keeps the set of its task's descendants, refreshed
 * from /proc on every tick (pid + start time, so a reused pid is never taken for a member); the
 * agent's re-parented children that no other running task claims belong to the task being
 * killed. Killing = SIGSTOP every member (no more forks), then SIGKILL, pass after pass until no
 * member is left; the agent's SIGCHLD loop reaps the re-parented ones.
 *
 * The pure part (desc_close over a process table) is unit-tested. Owner: descendants.c.
 */
#ifndef CLEARML_DESCENDANTS_H
#define CLEARML_DESCENDANTS_H

#include <stddef.h>
#include <sys/types.h>

struct proc_ent {
	pid_t pid, ppid;
	pid_t sid;                /* session: tasks run in their own, never in the agent's */
	unsigned long long start; /* start time in clock ticks since boot (/proc/<pid>/stat #22) */
	char state;               /* 'R', 'S', 'Z'... */
};

struct desc_set {
	struct proc_ent *v;
	size_t n, cap;
};

/* Make this process a child subreaper (once; harmless when repeated). 0 or -1. */
int desc_become_subreaper(void);

/* Pure: given a process table, keep the members of set that still exist (same pid and start),
 * then add every process whose parent is root or a member, to a fixed point. root <= 0: none. */
void desc_close(struct desc_set *set, const struct proc_ent *tab, size_t n, pid_t root);
int desc_contains(const struct desc_set *set, pid_t pid, unsigned long long start);
void desc_add(struct desc_set *set, const struct proc_ent *e);
void desc_free(struct desc_set *set);
/* desc_update for the periodic refresh: the process table is shared by the calls of the same
 * ~250 ms (every slot ticking in one tick period), so N slots cost one /proc read, not N. */
void desc_update_shared(struct desc_set *set, pid_t root);

/* Read /proc into a table (caller frees *tab). Returns the count, or -1. */
long desc_read_table(struct proc_ent **tab);

/* Refresh set from /proc with desc_close. */
void desc_update(struct desc_set *set, pid_t root);

/* SIGSTOP then SIGKILL every live member, re-reading /proc for new children of members, until a
 * pass finds none (bounded). Returns how many were killed. */
int desc_kill(struct desc_set *set);

#endif
