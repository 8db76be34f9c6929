/*
 * killtree — make sure nothing of a task survives an abort (the fix of upstream quirk 5): the
 * configured signal to the task's process group, a grace period, SIGKILL to the group, then a
 * sweep for descendants that escaped the group (setsid, double fork): every process whose
 * environment carries the task's marker (CLEARML_TASK_ID=<id>), or everything in the task's
 * cgroup v2 (`cgroup.kill`) where the machine lets us create one. Owner: killtree.c.
 */
#ifndef CLEARML_KILLTREE_H
#define CLEARML_KILLTREE_H

#include <sys/types.h>

/* Signal the process group; 0, or -1 (errno ESRCH when the group is empty). */
int killtree_signal_group(pid_t pgid, int sig);
/* 1 when a live (non-zombie) process of the group is left. */
int killtree_group_alive(pid_t pgid);

/* 1 when /proc/<pid>/environ holds key=value. */
int killtree_env_match(pid_t pid, const char *key, const char *value);
/* Every process (but this one) whose environment holds key=value: stopped, then SIGKILLed, pass
 * after pass until one finds none (bounded). Returns how many were killed. */
int killtree_sweep_env(const char *key, const char *value);
/* 1 when a live process (but this one) holds key=value in its environment. */
int killtree_env_alive(const char *key, const char *value);

/* cgroup v2: a new child cgroup of ours named `name` with cgroup.kill, or NULL when cgroups are
 * not usable here (no cgroup2, no permission, kernel < 5.14). Caller frees the path. */
char *killtree_cgroup_create(const char *name);
/* Open <cg>/cgroup.procs for the child to join with write(fd, "0", 1) between fork and exec.
 * O_CLOEXEC; -1 on failure. */
int killtree_cgroup_procs_fd(const char *cg);
/* Kill everything in the cgroup (cgroup.kill). 0 or -1. */
int killtree_cgroup_kill(const char *cg);
/* 1 while the cgroup has processes. */
int killtree_cgroup_populated(const char *cg);
/* rmdir the cgroup; 0, or -1 (EBUSY while populated). */
int killtree_cgroup_remove(const char *cg);
/* Remove empty sibling cgroups named "<prefix>...-<agent pid>-<n>" whose agent is dead (left by
 * an agent that was killed). Returns how many were removed. */
int killtree_cgroup_remove_stale(const char *prefix);

/* The whole sequence, blocking (used at start-up recovery and by tests): sig to the group,
 * up to grace_ms for it to go, SIGKILL to the group, cgroup.kill, environment sweep. Returns 0
 * when nothing is left, -1 otherwise. pgid <= 1, cg NULL or key NULL skip that part. */
int killtree_kill(pid_t pgid, const char *cg, const char *key, const char *value, int sig,
                  int grace_ms);

#endif
