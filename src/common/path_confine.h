/*
 * path_confine — paths the agent writes or enters on a task's behalf stay inside their root
 * (issue 9): a repository may hold symbolic links that point anywhere, so "repo/link/file"
 * can be outside the repository although it reads as inside. Links are followed only while they
 * stay inside the root; anything else fails with errno EXDEV (left the root) or EINVAL (an
 * absolute path or "..").
 *
 * Opening uses openat2(RESOLVE_BENEATH) where the kernel has it (5.6+), else the realpath check
 * below plus O_NOFOLLOW. confine_within is pure. Owner: path_confine.c.
 */
#ifndef CLEARML_PATH_CONFINE_H
#define CLEARML_PATH_CONFINE_H

#include <sys/types.h>

/* Pure: 1 when absolute `path` is `root` or below it (component-wise: /a/bc is not in /a/b). */
int confine_within(const char *root, const char *path);

/* root/rel resolved: the part that exists is realpath'ed and must lie within realpath(root); the
 * rest (not yet created) is appended as is. rel must be relative without "..". 0 with *out
 * (caller frees), or -1 with errno. */
int confine_path(const char *root, const char *rel, char **out);

/* open(root/rel, flags, mode) without leaving root. An fd, or -1 with errno. */
int confine_open(const char *root, const char *rel, int flags, mode_t mode);

/* mkdir -p root/rel without leaving root. 0 or -1 with errno. */
int confine_mkdir_p(const char *root, const char *rel, mode_t mode);

#endif
