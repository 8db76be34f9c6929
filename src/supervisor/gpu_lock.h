/*
 * gpu_lock — machine-wide GPU reservations between agents on one host: one file per GPU under a
 * shared directory (the pid-file directory, where agents already meet), held with flock while a
 * task runs on it. flock is atomic, so two agents deciding in the same instant cannot both get a
 * GPU; the kernel drops the lock with the holder (a killed agent leaves no stale reservation).
 * Owner: gpu_lock.c.
 */
#ifndef CLEARML_GPU_LOCK_H
#define CLEARML_GPU_LOCK_H

/* The directory (created 0700 on first use): <pid-file dir>/.clearml_agent_gpu_locks, or
 * CLEARML_AGENT_GPU_LOCK_DIR. Caller frees. */
char *gpu_lock_dir(void);

/* Lock GPU id without waiting: the fd (O_CLOEXEC) holding it, or -1 (errno EWOULDBLOCK when
 * another holder has it). */
int gpu_lock_try(const char *dir, const char *id);
void gpu_lock_release(int fd);

#endif
