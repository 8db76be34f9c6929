/*
 * gpu_lock — flock'd files per GPU (gpu_lock.h).
 */
#include "supervisor/gpu_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "supervisor/worker_id.h"
#include "util.h"

char *
gpu_lock_dir(void)
{
	const char *e = env_get("CLEARML_AGENT_GPU_LOCK_DIR");
	char *dir = e && *e ? xstrdup(e) : xasprintf("%s/.clearml_agent_gpu_locks", pidfile_dir());
	if (mkdir_p(dir, 0700) < 0)
		log_warn("cannot create the GPU lock directory %s: %s", dir, strerror(errno));
	return dir;
}

int
gpu_lock_try(const char *dir, const char *id)
{
	for (const char *p = id; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || *p == ':')) {
			errno = EINVAL;
			return -1;
		}
	}
	char *path = xasprintf("%s/gpu-%s.lock", dir, id);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
gpu_lock_release(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}
