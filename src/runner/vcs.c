/*
 * vcs — clone / cache / checkout / diff for the runner (§5.2, §5.3).
 *
 * The vcs cache holds one full clone per URL (`<cache>/<name>.<md5(url)>/<name>`), guarded by an
 * exclusive flock on `<cache>/<md5>.lock`; on reuse it is fetched (`--all --tags
 * --recurse-submodules`), and a broken entry (or, with vcs_cache.clone_on_pull_fail, one that
 * cannot be fetched) is re-cloned. The task's working copy is then a *local clone* of the entry:
 * git hardlinks the object files instead of copying them (independent repository, instant even
 * for large histories), the remote-tracking branches and tags are fetched from the entry (no
 * object transfer), origin is set back to the real URL, and `.git/modules` is copied so
 * submodules come from the cache too. Objects are immutable, so sharing them by hardlink is safe.
 *
 * Credentials never reach argv or .git/config: the URL given to git has none, the GIT_ASKPASS
 * helper (gitcred.c) answers from the git process's environment. We never touch the user's
 * global git config (upstream runs `git config --global safe.directory '*'`, §12 item 18).
 */
#include "runner/vcs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runner/gitcred.h"
#include "config.h"
#include "proc.h"
#include "path_confine.h"
#include "util.h"

/* ---- pure helpers ---- */

enum diff_kind
vcs_diff_kind(const char *diff)
{
	if (diff == NULL)
		return DIFF_NONE;
	const char *p = diff;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p == '\0')
		return DIFF_NONE;
	if (str_starts_with(diff, "diff "))
		return DIFF_GIT;
	if (str_starts_with(diff, "submodule ") || str_starts_with(diff, "Submodule ")) {
		for (const char *l = diff; l; ) {
			if (str_starts_with(l, "diff "))
				return DIFF_GIT;
			l = strchr(l, '\n');
			if (l)
				l++;
		}
	}
	return DIFF_LITERAL;
}

char *
vcs_repo_name(const char *url)
{
	size_t n = strlen(url);
	while (n > 0 && (url[n - 1] == '/' || url[n - 1] == ' '))
		n--;
	size_t s = n;
	while (s > 0 && url[s - 1] != '/' && url[s - 1] != ':')
		s--;
	char *name = xstrndup(url + s, n - s);
	if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		free(name);
		return xstrdup("repository");
	}
	return name;
}

void
vcs_md5_hex(const char *text, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
		fatal("md5 digest failed");
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
}

int
vcs_rev_ok(const char *rev)
{
	if (rev == NULL || rev[0] == '\0' || rev[0] == '-')
		return 0;
	for (const unsigned char *p = (const unsigned char *)rev; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int
chmod_dir_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if ((flag == FTW_D || flag == FTW_DNR) && (st->st_mode & 0700) != 0700)
		chmod(path, (st->st_mode & 07777) | 0700);
	return 0;
}

int
rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	/* make every directory writable/searchable first so read-only trees (a task's own caches)
	 * can go too */
	nftw(path, chmod_dir_cb, 32, FTW_PHYS);
	int r = nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	return r == 0 ? 0 : -1;
}

/* ---- git calls ---- */

struct gitctx {
	struct envv env;
	struct git_askpass ap;
	char *secret;       /* masked in everything printed */
};

static void
print_masked(const struct gitctx *g, const char *text)
{
	if (text == NULL || text[0] == '\0')
		return;
	char *m = gitcred_mask_text(text, g->secret);
	fputs(m, stdout);
	if (m[strlen(m) - 1] != '\n')
		fputc('\n', stdout);
	free(m);
	fflush(stdout);
}

/* Run git with args (NULL-terminated, without "git"). Returns the exit code (0 ok), -1 when git
 * could not be started. *out (optional) gets the captured output (caller frees). */
static int
git_run(struct gitctx *g, const char *cwd, const char *stdin_data, char **out, int print_fail,
        const char *const *args)
{
	struct argvec av = {0};
	argvec_push(&av, "git");
	for (size_t i = 0; args[i]; i++)
		argvec_push(&av, args[i]);
	struct proc_opts o = {.cwd = cwd, .envp = g->env.v, .out_fd = -1,
	                      .stdin_data = stdin_data, .stdin_len = stdin_data ? strlen(stdin_data) : 0};
	struct proc_result r;
	int rc;
	if (proc_run(av.v, &o, &r) < 0) {
		printf("git executable could not be started (%s): install git and make sure it is on PATH\n",
		       strerror(errno));
		fflush(stdout);
		rc = -1;
	} else {
		rc = r.exited ? r.exit_code : 128 + r.signal;
		if (rc == 127 && r.output && strstr(r.output, "cannot run git")) {
			printf("git executable not found: install git and make sure it is on PATH\n");
			fflush(stdout);
			rc = -1;
		} else if (rc != 0 && print_fail) {
			print_masked(g, r.output);
		}
	}
	if (out)
		*out = r.output ? gitcred_mask_text(r.output, g->secret) : xstrdup("");
	proc_result_free(&r);
	argvec_free(&av);
	return rc;
}

#define GIT(g, cwd, out, pf, ...) git_run((g), (cwd), NULL, (out), (pf), (const char *const[]){__VA_ARGS__, NULL})

static int
is_git_checkout(const char *dir)
{
	char *gitdir = xasprintf("%s/.git", dir);
	struct stat st;
	int ok = stat(gitdir, &st) == 0;
	free(gitdir);
	return ok;
}

/* A cheap sanity check of a cached clone without running git: the files every repository has.
 * Anything subtler shows up as a failing fetch or checkout. */
static int
entry_looks_sane(const char *entry)
{
	static const char *const need[] = {"HEAD", "objects", "refs", "config"};
	for (size_t i = 0; i < ARRAY_LEN(need); i++) {
		char *p = xasprintf("%s/.git/%s", entry, need[i]);
		struct stat st;
		int ok = stat(p, &st) == 0;
		free(p);
		if (!ok)
			return 0;
	}
	return 1;
}

/* ---- cache lock ---- */

static int
lock_with_timeout(const char *path, int timeout_sec)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int64_t end = mono_ms() + (int64_t)timeout_sec * 1000;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return -1;
		}
		if (mono_ms() >= end) {
			close(fd);
			errno = ETIMEDOUT;
			return -1;
		}
		struct timespec ts = {0, 100 * 1000000};
		nanosleep(&ts, NULL);
	}
}

/* ---- clone / checkout ---- */

static void
fail(struct vcs_result *rs, const char *reason, const char *fmt, ...) ATTR_PRINTF(3, 4);

static void
fail(struct vcs_result *rs, const char *reason, const char *fmt, ...)
{
	snprintf(rs->reason, sizeof rs->reason, "%s", reason);
	va_list ap;
	va_start(ap, fmt);
	free(rs->error);
	rs->error = xvasprintf(fmt, ap);
	va_end(ap);
	printf("%s\n", rs->error);
	fflush(stdout);
}

static int
clone_into(struct gitctx *g, const char *url, const char *dest, struct vcs_result *rs)
{
	char *masked = gitcred_mask_url(url);
	printf("cloning: %s\n", masked);
	fflush(stdout);
	if (rm_rf(dest) < 0) {
		fail(rs, "failed cloning repository", "Repository cloning failed: cannot remove %s: %s",
		     dest, strerror(errno));
		free(masked);
		return -1;
	}
	char *parent = path_dirname(dest);
	mkdir_p(parent, 0755);
	free(parent);
	const char *verbosity = env_bool("CLEARML_AGENT_GIT_CLONE_VERBOSE", 0) ? "--verbose" : "--quiet";
	char *out = NULL;
	int rc = GIT(g, NULL, &out, 0, "clone", "--recursive", verbosity, "--", url, dest);
	if (rc != 0) {
		char *t = str_trim(out);
		fail(rs, "failed cloning repository",
		     "Repository cloning failed: %s\nFailed cloning repository.\n"
		     "1) Make sure you pushed the requested commit:\n(repository='%s')\n"
		     "2) Check if remote-worker has valid credentials [see worker configuration file]",
		     t[0] ? t : "git clone failed", masked);
		free(out);
		free(masked);
		return -1;
	}
	free(out);
	free(masked);
	return 0;
}

static int
copy_dir(const char *src, const char *dst)
{
	struct stat st;
	if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	char *const argv[] = {(char *)(uintptr_t) "cp", (char *)(uintptr_t) "-a", (char *)(uintptr_t)src,
	                      (char *)(uintptr_t)dst, NULL};
	struct proc_opts o = {.out_fd = -1};
	struct proc_result r;
	int ok = proc_run(argv, &o, &r) == 0 && proc_ok(&r);
	proc_result_free(&r);
	return ok ? 0 : -1;
}

/* Refresh (or create) the cache entry for url. Returns 0 with the entry usable. */
static int
cache_refresh(struct gitctx *g, const json_t *cfg, const char *url, const char *entry,
              struct vcs_result *rs)
{
	int clone_on_fail = cfg_bool(cfg, "agent.vcs_cache.clone_on_pull_fail", 0);
	if (is_git_checkout(entry)) {
		if (!entry_looks_sane(entry)) {
			printf("cached repository in \"%s\" is broken: cloning it again\n", entry);
			fflush(stdout);
			return clone_into(g, url, entry, rs);
		}
		/* the entry's origin is url by construction: its name is md5(url) */
		printf("Using cached repository in \"%s\"\n", entry);
		printf("pulling git\n");
		fflush(stdout);
		char *out = NULL;
		int rc = GIT(g, entry, &out, 0, "fetch", "--all", "--tags", "--force", "--prune",
		             "--recurse-submodules");
		if (rc != 0) {
			char *t = str_trim(out);
			if (clone_on_fail) {
				printf("git fetch failed (%s): cloning the repository again\n", t);
				fflush(stdout);
				free(out);
				return clone_into(g, url, entry, rs);
			}
			fail(rs, "failed cloning repository", "Repository cloning failed: git fetch failed: %s", t);
			free(out);
			return -1;
		}
		free(out);
		/* origin/HEAD may be missing in an old entry: ask the remote (ignore failures). It is a
		 * symbolic ref, so always a loose file. */
		char *head_ref = xasprintf("%s/.git/refs/remotes/origin/HEAD", entry);
		struct stat hst;
		int have_head = lstat(head_ref, &hst) == 0;
		free(head_ref);
		if (!have_head)
			GIT(g, entry, NULL, 0, "remote", "set-head", "origin", "--auto");
		return 0;
	}
	return clone_into(g, url, entry, rs);
}

/* The task's working copy from the cache entry: local clone (hardlinked objects). */
static int
working_copy_from_cache(struct gitctx *g, const char *entry, const char *url, const char *dest,
                        struct vcs_result *rs)
{
	char *parent = path_dirname(dest);
	mkdir_p(parent, 0755);
	free(parent);
	char *out = NULL;
	int rc = GIT(g, NULL, &out, 0, "clone", "--no-checkout", "--quiet", "--", entry, dest);
	if (rc == 0) {
		free(out);
		out = NULL;
		rc = GIT(g, dest, &out, 0, "-c", "gc.auto=0", "-c", "maintenance.auto=false", "fetch",
		         "--quiet", "--force", "--no-tags", entry,
		         "+refs/remotes/origin/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*");
	}
	if (rc != 0) {
		char *t = str_trim(out);
		fail(rs, "failed cloning repository",
		     "Repository cloning failed: cannot copy the cached repository: %s", t);
		free(out);
		return -1;
	}
	free(out);
	GIT(g, dest, NULL, 0, "remote", "set-url", "origin", url);
	char *src_mod = xasprintf("%s/.git/modules", entry);
	char *dst_git = xasprintf("%s/.git/", dest);
	if (copy_dir(src_mod, dst_git) < 0)
		printf("warning: could not copy cached submodules; they will be cloned\n");
	free(src_mod);
	free(dst_git);
	return 0;
}

static int
do_checkout(struct gitctx *g, const struct exec_info *ei, const char *repo, struct vcs_result *rs)
{
	/* candidates in order; the first that checks out wins (no separate existence probes) */
	struct argvec cand = {0};
	const char *shown;
	if (ei->version_num[0]) {
		argvec_push(&cand, ei->version_num);
		shown = ei->version_num;
	} else if (ei->tag[0]) {
		char *t = xasprintf("refs/tags/%s", ei->tag);
		argvec_push(&cand, t);
		free(t);
		shown = ei->tag;
	} else if (ei->branch[0]) {
		char *b = xasprintf("origin/%s", ei->branch);
		argvec_push(&cand, b);
		free(b);
		if (str_starts_with(ei->branch, "origin/"))
			argvec_push(&cand, ei->branch);
		shown = ei->branch;
	} else {
		static const char *const dflt[] = {"origin/HEAD", "origin/master", "origin/main", "HEAD"};
		for (size_t i = 0; i < ARRAY_LEN(dflt); i++)
			argvec_push(&cand, dflt[i]);
		shown = "the default branch";
	}
	int ok_names = ei->version_num[0] || ei->tag[0] || ei->branch[0] ? vcs_rev_ok(shown) : 1;
	for (size_t i = 0; i < cand.n; i++)
		ok_names = ok_names && vcs_rev_ok(cand.v[i]);
	if (!ok_names) {
		fail(rs, "failed checking out repository",
		     "Repository checkout failed: invalid revision name '%s'", shown);
		argvec_free(&cand);
		return -1;
	}
	char *out = NULL;
	int rc = -1;
	for (size_t i = 0; i < cand.n && rc != 0; i++) {
		free(out);
		out = NULL;
		rc = GIT(g, repo, &out, 0, "checkout", "--force", "--quiet", cand.v[i], "--");
		if (rc != 0 && ei->version_num[0]) {
			/* a commit no branch or tag advertises (a deleted branch, a PR ref): ask for it by id */
			printf("commit %s not found in the fetched refs, fetching it from origin\n", cand.v[i]);
			fflush(stdout);
			if (GIT(g, repo, NULL, 0, "fetch", "--quiet", "origin", cand.v[i]) == 0) {
				free(out);
				out = NULL;
				rc = GIT(g, repo, &out, 0, "checkout", "--force", "--quiet", cand.v[i], "--");
			}
		}
	}
	argvec_free(&cand);
	if (rc != 0) {
		char *t = str_trim(out);
		fail(rs, "failed checking out repository",
		     "Repository checkout failed: revision '%s': %s\n"
		     "Make sure you pushed the requested commit/branch/tag", shown, t);
		free(out);
		return -1;
	}
	free(out);
	out = NULL;
	char *gitmodules = xasprintf("%s/.gitmodules", repo);
	struct stat st;
	int has_modules = stat(gitmodules, &st) == 0;
	free(gitmodules);
	if (!has_modules)
		return 0;
	rc = GIT(g, repo, &out, 0, "submodule", "update", "--init", "--recursive");
	if (rc != 0) {
		printf("warning: git submodule update failed:\n");
		print_masked(g, out);
	}
	free(out);
	return 0;
}

static void
print_info(struct gitctx *g, const char *repo, struct vcs_result *rs)
{
	/* one call: top level, commit, branch (HEAD when detached) */
	char *out = NULL;
	int rc = git_run(g, repo, NULL, &out, 0,
	                 (const char *const[]){"rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD", NULL});
	char *lines[3] = {NULL, NULL, NULL};
	if (rc == 0) {
		char *p = out;
		for (int i = 0; i < 3 && p && *p; i++) {
			char *nl = strchr(p, '\n');
			lines[i] = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
			p = nl ? nl + 1 : NULL;
		}
	}
	free(out);
	char *murl = gitcred_mask_url(rs->url ? rs->url : "");
	printf("type = git\nurl = %s\nbranch = %s\ncommit = %s\nroot = %s\n\n", murl,
	       lines[2] ? lines[2] : "", lines[1] ? lines[1] : "", lines[0] ? lines[0] : repo);
	fflush(stdout);
	free(murl);
	free(rs->commit);
	rs->commit = lines[1];
	free(lines[0]);
	free(lines[2]);
}

int
vcs_checkout(const struct vcs_request *rq, struct vcs_result *rs)
{
	memset(rs, 0, sizeof *rs);
	const struct exec_info *ei = rq->ei;
	struct git_creds creds;
	gitcred_from_config(&creds, rq->config);
	char *user = NULL, *pass = NULL;
	char *url = gitcred_prepare(&creds, ei->repository, &user, &pass);
	rs->url = xstrdup(url);

	struct gitctx g = {0};
	envv_from_environ(&g.env);
	gitcred_git_env(&g.env);
	g.secret = pass ? xstrdup(pass) : NULL;
	char err[512];
	int ret = -1;
	char *name = vcs_repo_name(url);
	char *repos = xasprintf("%s/task_repository", rq->build_dir);
	char *dest = xasprintf("%s/%s", repos, name);
	char *entry = NULL, *lockpath = NULL;
	int lockfd = -1;

	if (gitcred_askpass_setup(&g.ap, user, pass, creds.host, &g.env, err, sizeof err) < 0) {
		fail(rs, "failed cloning repository", "Repository cloning failed: %s", err);
		goto out;
	}

	if (rq->standalone) {
		if (!is_git_checkout(dest)) {
			fail(rs, "failed cloning repository",
			     "Repository cloning failed: standalone mode: no repository at %s", dest);
			goto out;
		}
		rs->repo_root = xstrdup(dest);
		print_info(&g, dest, rs);
		ret = 0;
		goto out;
	}

	if (rm_rf(repos) < 0) {
		fail(rs, "failed cloning repository", "Repository cloning failed: cannot remove %s: %s",
		     repos, strerror(errno));
		goto out;
	}

	char *cache_path = cfg_bool(rq->config, "agent.vcs_cache.enabled", 1)
	                       ? cfg_path(rq->config, "agent.vcs_cache.path") : NULL;
	if (cache_path == NULL && cfg_bool(rq->config, "agent.vcs_cache.enabled", 1) &&
	    cfg_get(rq->config, "agent.vcs_cache.path") == NULL)
		cache_path = path_expand("~/.clearml/vcs-cache");
	if (cache_path && mkdir_p(cache_path, 0700) < 0) {
		printf("warning: vcs cache disabled: cannot create %s: %s\n", cache_path, strerror(errno));
		free(cache_path);
		cache_path = NULL;
	}
	if (cache_path) {
		char md5[33];
		vcs_md5_hex(url, md5);
		lockpath = xasprintf("%s/%s.lock", cache_path, md5);
		long long lock_timeout = cfg_int(rq->config, "agent.vcs_cache.lock_timeout", 300);
		lockfd = lock_with_timeout(lockpath, lock_timeout < 0 ? 0 : (int)(lock_timeout > 86400 ? 86400 : lock_timeout));
		if (lockfd >= 0) {
			entry = xasprintf("%s/%s.%s/%s", cache_path, name, md5, name);
		} else {
			/* somebody holds it for too long: use a private entry rather than wait forever */
			char rnd[33];
			gen_hex_id(rnd);
			entry = xasprintf("%s/%s.%s.%.8s/%s", cache_path, name, md5, rnd, name);
			printf("warning: vcs cache lock busy, using a private cache entry\n");
		}
		free(cache_path);
		rs->cache_used = 1;
		if (cache_refresh(&g, rq->config, url, entry, rs) < 0 ||
		    working_copy_from_cache(&g, entry, url, dest, rs) < 0)
			goto out;
		if (lockfd >= 0) {
			close(lockfd); /* the working copy is independent of the entry from here on */
			lockfd = -1;
		}
	} else {
		if (clone_into(&g, url, dest, rs) < 0)
			goto out;
	}
	if (do_checkout(&g, ei, dest, rs) < 0)
		goto out;
	rs->repo_root = xstrdup(dest);
	print_info(&g, dest, rs);
	ret = 0;
out:
	if (lockfd >= 0)
		close(lockfd);
	gitcred_askpass_cleanup(&g.ap);
	envv_free(&g.env);
	free(g.secret);
	free(lockpath);
	free(entry);
	free(dest);
	free(repos);
	free(name);
	free(url);
	free(user);
	free(pass);
	gitcred_free(&creds);
	return ret;
}

void
vcs_result_free(struct vcs_result *rs)
{
	free(rs->repo_root);
	free(rs->commit);
	free(rs->url);
	free(rs->error);
	memset(rs, 0, sizeof *rs);
}

/* ---- diff ---- */

static void
touch_missing_sources(const char *repo_root, const char *diff)
{
	for (const char *l = diff; l && *l; ) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (n > 6 && strncmp(l, "--- a/", 6) == 0) {
			char *rel = xstrndup(l + 6, n - 6);
			char *t = rel;
			size_t tl = strlen(t);
			while (tl > 0 && (t[tl - 1] == '\r' || t[tl - 1] == '\t' || t[tl - 1] == ' '))
				t[--tl] = '\0';
			char *safe = path_contained(t);
			if (safe && strcmp(safe, ".") != 0) {
				/* never through a link out of the repository (diff_paths_confined checked) */
				int fd = confine_open(repo_root, safe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
				if (fd >= 0)
					close(fd);
			}
			free(safe);
			free(rel);
		}
		l = nl ? nl + 1 : NULL;
	}
}

/* Every file a diff names ("--- a/", "+++ b/", rename/copy targets) must resolve inside the
 * repository: a path through one of its symbolic links that points outside is refused before
 * anything is written (git apply refuses too, but only after we created missing files). Returns
 * the first offending path (caller frees), or NULL. */
static char *
diff_path_outside(const char *repo_root, const char *diff)
{
	static const char *const pre[] = {"--- a/", "+++ b/", "rename to ", "copy to ",
	                                  "rename from ", "copy from "};
	for (const char *l = diff; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		for (size_t i = 0; i < ARRAY_LEN(pre); i++) {
			size_t pl = strlen(pre[i]);
			if (n <= pl || strncmp(l, pre[i], pl) != 0)
				continue;
			char *rel = xstrndup(l + pl, n - pl);
			size_t tl = strlen(rel);
			while (tl > 0 && (rel[tl - 1] == '\r' || rel[tl - 1] == '\t' || rel[tl - 1] == ' '))
				rel[--tl] = '\0';
			char *safe = path_contained(rel);
			char *resolved = NULL;
			if (!safe || (strcmp(safe, ".") != 0 && confine_path(repo_root, safe, &resolved) < 0 &&
			              errno != ENOENT)) {
				free(safe);
				return rel;
			}
			free(resolved);
			free(safe);
			free(rel);
		}
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

int
vcs_apply_diff(const char *repo_root, const char *diff, char *reason, size_t reasonlen, char **error)
{
	*error = NULL;
	char *bad = diff_path_outside(repo_root, diff);
	if (bad) {
		snprintf(reason, reasonlen, "failed applying git diff: '%.120s' leads outside the repository",
		         bad);
		*error = xasprintf("Failed applying git diff: the path '%s' leads outside the repository "
		                   "(through a symbolic link, or with '..'); nothing was applied", bad);
		free(bad);
		return -1;
	}
	touch_missing_sources(repo_root, diff);
	struct gitctx g = {0};
	envv_from_environ(&g.env);
	gitcred_git_env(&g.env);
	char *input = xasprintf("%s\n", diff);
	char *out = NULL;
	int rc = git_run(&g, repo_root, input, &out, 0,
	                 (const char *const[]){"apply", "--unidiff-zero", "--whitespace=nowarn", "-", NULL});
	free(input);
	envv_free(&g.env);
	if (rc == 0) {
		free(out);
		return 0;
	}
	char *t = str_trim(out);
	size_t first = strcspn(t, "\n");
	snprintf(reason, reasonlen, "failed applying git diff: %.*s", (int)(first > 180 ? 180 : first), t);
	*error = xasprintf("Failed applying git diff:\n%s\n\nERROR! Failed applying git diff, see diff above.",
	                   t[0] ? t : "git apply failed");
	free(out);
	return -1;
}
