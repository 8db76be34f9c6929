/*
 * venv_cache — the environment cache (§5.4, §5.6): finished virtual environments stored under
 * `agent.venvs_cache.path`, one directory per cache key, restored into a task's venv directory by
 * hard links (a copy only across file systems), never by a full copy.
 *
 * Layout:  <root>/<key>/venv/…        the environment as it was built
 *          <root>/<key>/meta.json      {"origin": <path it was built at>, "frozen": …, "sys_path": …}
 *          <root>/.clearml.lock        flock: shared to restore, exclusive to store / evict
 *          <root>/_temp.<rand>/        an entry being written (renamed into place when complete)
 * Venvs embed their own path (bin/activate*, script shebangs); a restore to another path rewrites
 * those few text files in bin/ (as new files, so the shared cache copy is untouched).
 * Owner: venv_cache.c.
 */
#ifndef CLEARML_VENV_CACHE_H
#define CLEARML_VENV_CACHE_H

#include <jansson.h>

struct venv_cache {
	const char *root;            /* cache directory */
	long max_entries;            /* <= 0: unlimited */
	double free_space_gb;        /* keep at least this much free on the cache's file system */
	int lock_timeout_sec;        /* waiting for the cache lock */
};

/* Restore entry `key` into dest (created; must not hold files of the same names). 1 on a hit
 * (*meta_out = the entry's meta.json, with origin-relative strings left to the caller), 0 on a
 * miss, -1 on error (dest cleaned up by the caller). entry_out (may be NULL) gets the entry path. */
int venv_cache_restore(const struct venv_cache *c, const char *key, const char *dest,
                       json_t **meta_out, char **entry_out);

/* Store the venv at src (top-level `task_repository` and `code` left out) as entry `key` with
 * meta (the caller's object; "origin" is added). Atomic: written to _temp.<rand>, then renamed;
 * an existing entry for the key wins (0). Evicts oldest entries beyond max_entries-1 and while
 * free space is below the threshold; skips storing (0, with a warning) if space stays short.
 * 0 or -1. */
int venv_cache_store(const struct venv_cache *c, const char *key, const char *src,
                     const json_t *meta);

/* Helpers shared with pyenv.c and tests. */
/* Hard-link (or copy) the tree src into dst (created). Top-level names in skip (NULL-terminated,
 * may be NULL) are left out. 0 or -1. */
int tree_link(const char *src, const char *dst, const char *const *skip);
/* rm -rf path (no error when missing). 0 or -1. */
int tree_remove(const char *path);
/* Remove everything inside dir except the top-level names in keep. 0 or -1. */
int tree_clear_except(const char *dir, const char *const *keep);
/* Entries of the cache, oldest first (by mtime): names only. Caller frees each and the array. */
char **venv_cache_list(const char *root, size_t *n_out);

#endif
