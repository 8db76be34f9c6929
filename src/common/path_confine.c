/*
 * path_confine — keep task paths inside their root (contract in path_confine.h).
 */
#include "path_confine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

int
confine_within(const char *root, const char *path)
{
	if (!root || !path || root[0] != '/' || path[0] != '/')
		return 0;
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (rl == 1)
		return 1; /* everything is below "/" */
	if (strncmp(root, path, rl) != 0)
		return 0;
	return path[rl] == '\0' || path[rl] == '/';
}

/* rel is relative, has no "..", no empty leading part */
static int
rel_ok(const char *rel)
{
	if (!rel || rel[0] == '/')
		return 0;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += n;
		while (*p == '/')
			p++;
	}
	return 1;
}

int
confine_path(const char *root, const char *rel, char **out)
{
	*out = NULL;
	if (!rel_ok(rel)) {
		errno = EINVAL;
		return -1;
	}
	char *rroot = realpath(root, NULL);
	if (!rroot)
		return -1;
	/* the longest prefix of rel that exists */
	char *cand = xasprintf("%s/%s", root, rel);
	size_t base = strlen(root) + 1;
	size_t end = strlen(cand);
	char *real = NULL;
	for (;;) {
		char saved = cand[end];
		cand[end] = '\0';
		struct stat st;
		if (lstat(cand, &st) == 0) {
			real = realpath(cand, NULL);
			cand[end] = saved;
			break;
		}
		cand[end] = saved;
		if (end <= base) {
			end = base - 1; /* only the root exists */
			real = xstrdup(rroot);
			break;
		}
		while (end > base && cand[end - 1] != '/')
			end--;
		while (end > base && cand[end - 1] == '/')
			end--;
		if (end <= base) {
			end = base - 1;
			real = xstrdup(rroot);
			break;
		}
	}
	int rc = -1;
	if (!real) {
		/* a dangling link (or a loop) on the way: where it points is unknown */
		errno = EXDEV;
	} else if (!confine_within(rroot, real)) {
		errno = EXDEV;
	} else {
		const char *rest = cand + end;
		while (*rest == '/')
			rest++;
		*out = *rest ? xasprintf("%s/%s", real, rest) : xstrdup(real);
		rc = 0;
	}
	int saved = errno;
	free(real);
	free(cand);
	free(rroot);
	errno = saved;
	return rc;
}

int
confine_open(const char *root, const char *rel, int flags, mode_t mode)
{
	if (!rel_ok(rel)) {
		errno = EINVAL;
		return -1;
	}
#ifdef SYS_openat2
	int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	long fd = syscall(SYS_openat2, dfd, rel, &how, sizeof how);
	int saved = errno;
	close(dfd);
	if (fd >= 0 || (saved != ENOSYS && saved != EPERM)) {
		errno = saved;
		return (int)fd;
	}
#endif
	/* older kernel (or a seccomp filter refusing openat2): check, then open without following
	 * a link in the last component */
	char *path = NULL;
	if (confine_path(root, rel, &path) < 0)
		return -1;
	int fd2 = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	int saved2 = errno;
	free(path);
	errno = saved2;
	return fd2;
}

int
confine_mkdir_p(const char *root, const char *rel, mode_t mode)
{
	char *path = NULL;
	if (confine_path(root, rel, &path) < 0)
		return -1;
	int rc = mkdir_p(path, mode);
	int saved = errno;
	free(path);
	errno = saved;
	return rc;
}
