/*
 * venv_cache — stores finished virtual environments and restores them by hard links.
 *
 * Invariants: an entry directory named by its key is always complete (it only appears through
 * rename(2) of a fully written _temp.<rand> directory, under the exclusive cache lock); readers
 * hold the shared lock while they link files out of an entry, so eviction (exclusive) never
 * removes an entry half-way through a restore. Anything named _temp.* found under the exclusive
 * lock is the remains of a crashed writer and is removed.
 *
 * Hard links share inodes between the cache and every venv restored from it: pip and Python
 * replace files (write-new + rename, unlink), they do not rewrite them in place, so this is safe
 * for normal use. The few files that carry the venv's own path are rewritten as new files on
 * restore to another path.
 */
#include "runner/venv_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define META_MAX (16u << 20)

static int
in_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

static int
copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = -1;
				break;
			}
			off += w;
		}
		if (rc)
			break;
	}
	close(in);
	if (close(out) != 0)
		rc = -1;
	return rc;
}

static int
link_tree_rec(const char *src, const char *dst, const char *const *skip, int depth)
{
	if (depth > 64) {
		errno = ELOOP;
		return -1;
	}
	struct stat st;
	if (lstat(src, &st) != 0)
		return -1;
	if (mkdir(dst, st.st_mode & 07777) != 0 && errno != EEXIST)
		return -1;
	DIR *d = opendir(src);
	if (!d)
		return -1;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (depth == 0 && in_list(skip, e->d_name))
			continue;
		char *s = xasprintf("%s/%s", src, e->d_name);
		char *t = xasprintf("%s/%s", dst, e->d_name);
		struct stat es;
		if (lstat(s, &es) != 0) {
			rc = -1;
		} else if (S_ISDIR(es.st_mode)) {
			rc = link_tree_rec(s, t, NULL, depth + 1);
		} else if (S_ISLNK(es.st_mode)) {
			char target[4096];
			ssize_t n = readlink(s, target, sizeof target - 1);
			if (n < 0) {
				rc = -1;
			} else {
				target[n] = '\0';
				if (symlink(target, t) != 0)
					rc = -1;
			}
		} else if (S_ISREG(es.st_mode)) {
			if (link(s, t) != 0) {
				if (errno == EXDEV || errno == EPERM || errno == EMLINK)
					rc = copy_file(s, t, es.st_mode);
				else
					rc = -1;
			}
		} /* sockets, fifos, devices: not part of a venv; skipped */
		free(s);
		free(t);
	}
	closedir(d);
	return rc;
}

int
tree_link(const char *src, const char *dst, const char *const *skip)
{
	return link_tree_rec(src, dst, skip, 0);
}

static int
remove_rec(const char *path, int depth)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	if (depth > 128) {
		errno = ELOOP;
		return -1;
	}
	DIR *d = opendir(path);
	if (!d) {
		/* an unreadable directory may still be removable when empty */
		return rmdir(path) == 0 ? 0 : -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *s = xasprintf("%s/%s", path, e->d_name);
		if (remove_rec(s, depth + 1) != 0)
			rc = -1;
		free(s);
	}
	closedir(d);
	if (rmdir(path) != 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int
tree_remove(const char *path)
{
	return remove_rec(path, 0);
}

int
tree_clear_except(const char *dir, const char *const *keep)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    in_list(keep, e->d_name))
			continue;
		char *s = xasprintf("%s/%s", dir, e->d_name);
		if (remove_rec(s, 1) != 0)
			rc = -1;
		free(s);
	}
	closedir(d);
	return rc;
}

/* ---- the lock ---------------------------------------------------------------------------- */

static int
cache_lock(const struct venv_cache *c, int exclusive)
{
	if (mkdir_p(c->root, 0755) != 0)
		return -1;
	char *p = xasprintf("%s/.clearml.lock", c->root);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(p);
	if (fd < 0)
		return -1;
	int64_t end = mono_ms() + (int64_t)(c->lock_timeout_sec > 0 ? c->lock_timeout_sec : 30) * 1000;
	for (;;) {
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		if (mono_ms() > end) {
			errno = ETIMEDOUT;
			break;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void
cache_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

/* ---- entries ----------------------------------------------------------------------------- */

struct ent {
	char *name;
	struct timespec mtime;
};

static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

char **
venv_cache_list(const char *root, size_t *n_out)
{
	*n_out = 0;
	DIR *d = opendir(root);
	if (!d)
		return NULL;
	struct ent *v = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || e->d_name[0] == '_')
			continue;
		char *p = xasprintf("%s/%s", root, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n].name = xstrdup(e->d_name);
			v[n].mtime = st.st_mtim;
			n++;
		}
		free(p);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, ent_cmp);
	char **names = xcalloc(n + 1, sizeof *names);
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].name;
	free(v);
	*n_out = n;
	return names;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
remove_stale_temps(const char *root)
{
	DIR *d = opendir(root);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!str_starts_with(e->d_name, "_temp.") && !str_starts_with(e->d_name, "_del."))
			continue;
		char *p = xasprintf("%s/%s", root, e->d_name);
		(void)tree_remove(p);
		free(p);
	}
	closedir(d);
}

static double
free_gb(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return -1;
	return (double)sv.f_bavail * (double)sv.f_frsize / (1024.0 * 1024.0 * 1024.0);
}

static void
evict_entry(const char *root, const char *name)
{
	char *p = xasprintf("%s/%s", root, name);
	log_info("venv cache: evicting %s", p);
	if (tree_remove(p) != 0)
		log_warn("venv cache: could not remove %s: %s", p, strerror(errno));
	free(p);
}


/* Rewrite the files in <dest>/bin (and pyvenv.cfg) that mention origin, as new files. */
static void
relocate(const char *dest, const char *origin)
{
	size_t ol = strlen(origin);
	char *bindir = xasprintf("%s/bin", dest);
	DIR *d = opendir(bindir);
	char *cfg = xasprintf("%s/pyvenv.cfg", dest);
	const char *files[1024];
	char *owned[1024];
	size_t nf = 0;
	owned[nf] = cfg;
	files[nf++] = cfg;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && nf < ARRAY_LEN(files)) {
		if (e->d_name[0] == '.')
			continue;
		owned[nf] = xasprintf("%s/%s", bindir, e->d_name);
		files[nf] = owned[nf];
		nf++;
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < nf; i++) {
		struct stat st;
		if (lstat(files[i], &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20))
			continue;
		size_t len = 0;
		char *data = read_file(files[i], 1u << 20, &len);
		if (!data)
			continue;
		if (memchr(data, '\0', len) || !strstr(data, origin)) {
			free(data);
			continue;
		}
		struct buf b;
		buf_init(&b, 4u << 20);
		const char *p = data;
		const char *hit;
		while ((hit = strstr(p, origin)) != NULL) {
			(void)buf_append(&b, p, (size_t)(hit - p));
			(void)buf_puts(&b, dest);
			p = hit + ol;
		}
		(void)buf_puts(&b, p);
		/* a new file renamed over the link: the cache copy is untouched */
		if (write_file_replace(files[i], b.data, b.len, st.st_mode) != 0)
			log_warn("venv cache: could not relocate %s: %s", files[i], strerror(errno));
		buf_free(&b);
		free(data);
	}
	for (size_t i = 0; i < nf; i++)
		free(owned[i]);
	free(bindir);
}

int
venv_cache_restore(const struct venv_cache *c, const char *key, const char *dest,
                   json_t **meta_out, char **entry_out)
{
	*meta_out = NULL;
	if (entry_out)
		*entry_out = NULL;
	char *entry = xasprintf("%s/%s", c->root, key);
	char *venv = xasprintf("%s/venv", entry);
	char *metap = xasprintf("%s/meta.json", entry);
	int rc = 0;
	int fd = -1;
	struct stat st;
	if (stat(venv, &st) != 0) /* cheap miss without the lock */
		goto out;
	fd = cache_lock(c, 0);
	if (fd < 0) {
		log_warn("venv cache: lock %s: %s", c->root, strerror(errno));
		goto out; /* a cache we cannot lock is a miss, not a failure */
	}
	if (stat(venv, &st) != 0)
		goto out;
	json_error_t jerr;
	json_t *meta = json_load_file(metap, 0, &jerr);
	if (!meta || !json_is_object(meta)) {
		log_warn("venv cache: entry %s has no valid meta.json; ignoring it", entry);
		json_decref(meta);
		goto out;
	}
	if (tree_link(venv, dest, NULL) != 0) {
		log_error("venv cache: restoring %s into %s: %s", entry, dest, strerror(errno));
		json_decref(meta);
		rc = -1;
		goto out;
	}
	const char *origin = json_string_value(json_object_get(meta, "origin"));
	if (origin && *origin && strcmp(origin, dest) != 0)
		relocate(dest, origin);
	(void)utimensat(AT_FDCWD, entry, NULL, 0); /* most recently used */
	*meta_out = meta;
	if (entry_out)
		*entry_out = xstrdup(entry);
	rc = 1;
out:
	cache_unlock(fd);
	free(entry);
	free(venv);
	free(metap);
	return rc;
}

int
venv_cache_store(const struct venv_cache *c, const char *key, const char *src,
                 const json_t *meta)
{
	int fd = cache_lock(c, 1);
	if (fd < 0) {
		log_warn("venv cache: lock %s: %s; not storing", c->root, strerror(errno));
		return -1;
	}
	int rc = 0;
	char *entry = xasprintf("%s/%s", c->root, key);
	char rnd[33];
	gen_hex_id(rnd);
	char *tmp = xasprintf("%s/_temp.%.12s", c->root, rnd);
	char *tmpvenv = xasprintf("%s/venv", tmp);
	char *tmpmeta = xasprintf("%s/meta.json", tmp);
	json_t *m = NULL;
	struct stat st;

	remove_stale_temps(c->root);
	if (stat(entry, &st) == 0) { /* another agent stored the same key first: keep theirs */
		(void)utimensat(AT_FDCWD, entry, NULL, 0);
		goto out;
	}
	size_t n = 0;
	char **names = venv_cache_list(c->root, &n);
	size_t first = 0;
	if (c->max_entries > 0)
		while (n - first >= (size_t)c->max_entries)
			evict_entry(c->root, names[first++]);
	if (c->free_space_gb > 0) {
		double f;
		while ((f = free_gb(c->root)) >= 0 && f < c->free_space_gb && first < n)
			evict_entry(c->root, names[first++]);
		f = free_gb(c->root);
		if (f >= 0 && f < c->free_space_gb) {
			log_warn("venv cache: only %.2f GB free under %s (threshold %.2f GB); not storing",
			         f, c->root, c->free_space_gb);
			free_names(names, n);
			goto out;
		}
	}
	free_names(names, n);

	if (mkdir(tmp, 0755) != 0) {
		rc = -1;
		goto out;
	}
	static const char *const skip[] = {"task_repository", "code", NULL};
	m = json_deep_copy(meta);
	if (!m)
		m = json_object();
	json_object_set_new(m, "origin", json_string(src));
	json_object_set_new(m, "created", json_integer(now_ms() / 1000));
	char *text = json_dumps(m, JSON_INDENT(2));
	if (tree_link(src, tmpvenv, skip) != 0 || !text ||
	    write_file_atomic(tmpmeta, text, strlen(text), 0644) != 0 || rename(tmp, entry) != 0) {
		log_warn("venv cache: storing %s failed: %s", entry, strerror(errno));
		(void)tree_remove(tmp);
		rc = -1;
	}
	free(text);
out:
	cache_unlock(fd);
	json_decref(m);
	free(entry);
	free(tmp);
	free(tmpvenv);
	free(tmpmeta);
	return rc;
}
