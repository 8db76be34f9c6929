/*
 * vcs — the task's code from git (§5.2, §5.3): clone through the vcs cache (flock-guarded entry
 * `<cache>/<name>.<md5(url)>/<name>`, fetched on reuse, re-cloned when broken), a working copy
 * under `<build_dir>/task_repository/<name>` made with a local clone (objects hardlinked, not
 * copied), checkout of commit / tag / branch / default branch, submodules, the uncommitted diff
 * (`git apply --unidiff-zero` on stdin) and literal scripts. Every git call runs without a shell,
 * with stdin on /dev/null, no terminal prompt, ssh in batch mode, credentials only through the
 * GIT_ASKPASS helper, and its output printed with passwords masked. Owner: vcs.c.
 */
#ifndef CLEARML_VCS_H
#define CLEARML_VCS_H

#include <jansson.h>

#include "runner/task_env.h"

enum diff_kind { DIFF_NONE = 0, DIFF_GIT, DIFF_LITERAL };
/* §5.3: text starting with "diff " (or "submodule " followed by a "diff " line) is a diff;
 * other non-blank text is a literal script. */
enum diff_kind vcs_diff_kind(const char *diff);

/* Folder name for a repository URL: its last path component ("https://h/o/repo.git" →
 * "repo.git"); never "", "." or "..". Caller frees. */
char *vcs_repo_name(const char *url);
/* md5 of text as 32 lowercase hex chars. */
void vcs_md5_hex(const char *text, char out[33]);
/* Is a revision / branch / tag name safe to hand to git as an argument (no leading '-', no
 * control characters, no whitespace)? */
int vcs_rev_ok(const char *rev);
/* rm -rf without following symlinks; 0 when the path is gone. */
int rm_rf(const char *path);

struct vcs_request {
	const json_t *config;             /* effective config root */
	const struct exec_info *ei;
	const char *build_dir;
	int standalone;                   /* the code must already be at the destination */
};

struct vcs_result {
	char *repo_root;                  /* the working copy */
	char *commit;                     /* HEAD after checkout */
	char *url;                        /* the URL used, without credentials */
	int cache_used;
	char reason[256];                 /* status_reason on failure */
	char *error;                      /* longer text on failure (already printed) */
};

/* Clone/fetch/checkout into the working copy. 0, or -1 with reason/error set. */
int vcs_checkout(const struct vcs_request *rq, struct vcs_result *rs);
void vcs_result_free(struct vcs_result *rs);

/* Apply an uncommitted diff in repo_root (empty files created first for `--- a/<path>` lines that
 * are missing, inside the repository only). 0, or -1 with reason and *error (git's message). */
int vcs_apply_diff(const char *repo_root, const char *diff, char *reason, size_t reasonlen,
                   char **error);

#endif
