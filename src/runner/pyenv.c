/*
 * pyenv — the task's Python environment (§5.4–§5.7): which interpreter, which virtual
 * environment, which packages, and what ended up installed.
 *
 *   interpreter  script.binary ("python3.8" → 3.8) → agent.python_binary → agent.default_python →
 *                python3; candidates python3.X.Y, python3.X, python3, python on PATH and in
 *                $(pyenv root)/versions/[star]/bin, each verified by running it. An explicit version
 *                the machine lacks fails the task (upstream silently falls back).
 *   pip          <build_dir>/<X.Y>: `python -m venv --without-pip` (50 ms instead of 5 s of
 *                ensurepip), pip seeded from the interpreter's bundled wheel or, when the
 *                agent.package_manager.pip_version pin needs another one, from the index, by the
 *                interpreter's own pip (`pip --python`); then the venv's pip installs priority
 *                packages one by one, the main requirement file, post packages, and VCS / local
 *                requirements one by one; then `pip freeze`.
 *   uv           `uv sync --locked` for a repository with uv.lock (task runs via `uv run`), else
 *                `uv venv` + `uv pip install` of the requirement list (cached like pip).
 *   poetry       poetry.lock → `poetry install -n` in the repository, task runs via `poetry run`.
 *   conda        `conda create --prefix`, `conda env update --file <yml>`, pip for the rest.
 *   cache        venv_cache.c, keyed by requirements.c's req_cache_key.
 *
 * Every tool runs from an argv array (requirement text is written to a file or passed as one
 * argument, never to a shell), with stdin /dev/null and PYTHONPATH removed; its output goes to
 * our stdout (the task log) and its last error line becomes the failure reason.
 */
#include "runner/pyenv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/gitcred.h"
#include "runner/requirements.h"
#include "runner/venv_cache.h"
#include "config.h"
#include "proc.h"
#include "path_confine.h"
#include "util.h"

#define TOOL_TAIL_MAX (64u * 1024)

enum pm_type { PM_PIP, PM_UV, PM_POETRY, PM_CONDA };

struct pyinfo {
	char *exe;           /* absolute path of the interpreter (sys.executable) */
	char version[32];    /* "3.11.7" */
	char xy[16];         /* "3.11" */
	char pip[32];        /* its pip's version, "" when none */
	char *bundled;       /* ensurepip's _bundled dir, or NULL */
};

static void
pyinfo_free(struct pyinfo *p)
{
	free(p->exe);
	free(p->bundled);
	memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------------------------------- */
/* small helpers                                                                            */

static void
say(const char *fmt, ...) ATTR_PRINTF(1, 2);

static void
say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void
set_reason(struct pyenv_result *rs, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void
set_reason(struct pyenv_result *rs, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rs->reason, sizeof rs->reason, fmt, ap);
	va_end(ap);
}

/* A config list of strings (or one string) → NULL-terminated vector; caller frees with strv_free. */
static char **
cfg_strv(const json_t *root, const char *path)
{
	const json_t *v = cfg_get(root, path);
	char **out = xcalloc(1, sizeof *out);
	size_t n = 0;
	if (json_is_string(v) && *json_string_value(v)) {
		out = xreallocarray(out, 2, sizeof *out);
		out[n++] = xstrdup(json_string_value(v));
	} else if (json_is_array(v)) {
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || !*json_string_value(e))
				continue;
			out = xreallocarray(out, n + 2, sizeof *out);
			out[n++] = xstrdup(json_string_value(e));
		}
	}
	out[n] = NULL;
	return out;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* A growing argv. */
struct argv {
	char **v;
	size_t n;
};

static void
av_add(struct argv *a, const char *s)
{
	a->v = xreallocarray(a->v, a->n + 2, sizeof *a->v);
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void
av_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

/* "scheme://user:pass@host" → "scheme://user:****@host" for printing. Caller frees. */
static char *
mask_arg(const char *s)
{
	const char *sch = strstr(s, "://");
	if (!sch)
		return xstrdup(s);
	const char *at = strchr(sch + 3, '@');
	const char *slash = strchr(sch + 3, '/');
	if (!at || (slash && slash < at))
		return xstrdup(s);
	const char *colon = memchr(sch + 3, ':', (size_t)(at - (sch + 3)));
	if (!colon)
		return xstrdup(s);
	return xasprintf("%.*s:********%s", (int)(colon - s), s, at);
}

static int
is_executable_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* Find a program on PATH (or take a path as is). Caller frees; NULL when absent. */
static char *
which(const char *prog)
{
	if (strchr(prog, '/'))
		return is_executable_file(prog) ? xstrdup(prog) : NULL;
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char *copy = xstrdup(path);
	char *save = copy;
	char *found = NULL;
	for (;;) {
		char *colon = strchr(save, ':');
		if (colon)
			*colon = '\0';
		char *cand = xasprintf("%s/%s", *save ? save : ".", prog);
		if (is_executable_file(cand)) {
			found = cand;
			break;
		}
		free(cand);
		if (!colon)
			break;
		save = colon + 1;
	}
	free(copy);
	return found;
}

/* The environment every tool gets: ours without PYTHONPATH and virtual-env activation. */
static void
tool_env(struct envv *e)
{
	envv_from_environ(e);
	envv_unset(e, "PYTHONPATH");
	envv_unset(e, "PYTHONHOME");
	envv_unset(e, "VIRTUAL_ENV");
	envv_unset(e, "CONDA_PREFIX");
	envv_unset(e, "PIP_REQUIRE_VIRTUALENV");
}

/* Run a tool with its output going to our stdout (through a temp file so its last lines can be
 * read back for the failure reason). Returns 0 when it exited 0; else -1 with errline set. */
static int
run_tool(char *const argv[], const char *cwd, char *const *envp, char *errline, size_t errlen)
{
	struct buf line;
	buf_init(&line, 64 * 1024);
	for (size_t i = 0; argv[i]; i++) {
		char *m = mask_arg(argv[i]);
		(void)buf_printf(&line, "%s%s", i ? " " : "", m);
		free(m);
	}
	say("%s%s%s%s", cwd ? "[" : "", cwd ? cwd : "", cwd ? "]$ " : "$ ",
	    line.data ? line.data : "");
	buf_free(&line);

	char tmpl[] = "/tmp/clearml-tool.XXXXXX";
	int fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0) {
		snprintf(errline, errlen, "cannot create a temp file: %s", strerror(errno));
		return -1;
	}
	unlink(tmpl);
	struct proc_opts o = {.cwd = cwd, .envp = envp, .out_fd = fd};
	struct proc_result r;
	int started = proc_run(argv, &o, &r) == 0;
	int ok = started && proc_ok(&r);
	/* copy the output to the log, keeping the tail */
	char *tail = xmalloc(TOOL_TAIL_MAX + 1);
	size_t tl = 0;
	if (lseek(fd, 0, SEEK_SET) == 0) {
		char b[16384];
		ssize_t n;
		while ((n = read(fd, b, sizeof b)) > 0) {
			fwrite(b, 1, (size_t)n, stdout);
			/* the read size (16 KiB) is below the tail size: shift, then append */
			if (tl + (size_t)n > TOOL_TAIL_MAX) {
				size_t drop = tl + (size_t)n - TOOL_TAIL_MAX;
				memmove(tail, tail + drop, tl - drop);
				tl -= drop;
			}
			memcpy(tail + tl, b, (size_t)n);
			tl += (size_t)n;
		}
	}
	tail[tl] = '\0';
	fflush(stdout);
	close(fd);
	if (!ok) {
		if (!started)
			snprintf(errline, errlen, "%s: %s", argv[0], strerror(errno));
		else {
			req_tool_error_line(tail, errline, errlen);
			if (!errline[0])
				snprintf(errline, errlen, "%s exited with status %d", argv[0],
				         r.exited ? r.exit_code : 128 + r.signal);
		}
	}
	free(tail);
	proc_result_free(&r);
	return ok ? 0 : -1;
}

/* Run and capture (small outputs: probes, freeze). Returns the output (caller frees) or NULL. */
static char *
run_capture(char *const argv[], const char *cwd, char *const *envp, int timeout_ms)
{
	struct proc_opts o = {.cwd = cwd, .envp = envp, .out_fd = -1, .keep_stderr_apart = 1,
	                      .capture_max = 16u << 20, .timeout_ms = timeout_ms};
	struct proc_result r;
	if (proc_run(argv, &o, &r) != 0)
		return NULL;
	char *out = NULL;
	if (proc_ok(&r) && r.output) {
		out = r.output;
		r.output = NULL;
	}
	proc_result_free(&r);
	return out;
}

/* ---------------------------------------------------------------------------------------- */
/* interpreter                                                                              */

/* Version and real path only, without site (-S): ~30 ms. The pip facts are probed separately,
 * only when a venv is built. */
static const char PROBE[] =
	"import sys\n"
	"print('%d.%d.%d' % tuple(sys.version_info[:3]))\n"
	"print(sys.executable)\n";

static const char PROBE_PIP[] =
	"import os\n"
	"try:\n"
	"    import pip\n"
	"    print(pip.__version__)\n"
	"except Exception:\n"
	"    print('')\n"
	"try:\n"
	"    import ensurepip\n"
	"    print(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled'))\n"
	"except Exception:\n"
	"    print('')\n";

static char *pyenv_root(void);

/* A pyenv shim (<root>/shims/NAME) is a bash script that costs most of a second per call; resolve
 * it the way pyenv does (PYENV_VERSION, .python-version up from cwd, <root>/version) to
 * <root>/versions/<v>/bin/NAME. NULL when it is not a shim or the version is "system". */
static char *
resolve_pyenv_shim(const char *path)
{
	char *root = pyenv_root();
	char *shims = xasprintf("%s/shims/", root);
	char *out = NULL;
	if (!str_starts_with(path, shims) || strchr(path + strlen(shims), '/')) {
		free(shims);
		free(root);
		return NULL;
	}
	const char *name = path + strlen(shims);
	char *ver = NULL;
	const char *ev = env_get("PYENV_VERSION");
	if (ev) {
		ver = xstrndup(ev, strcspn(ev, ":"));
	} else {
		char cwd[4096];
		if (getcwd(cwd, sizeof cwd)) {
			for (;;) {
				char *f = xasprintf("%s/.python-version", cwd);
				char *t = read_file(f, 4096, NULL);
				free(f);
				if (t) {
					ver = xstrndup(str_trim(t), strcspn(str_trim(t), " \t\r\n:"));
					free(t);
					break;
				}
				char *slash = strrchr(cwd, '/');
				if (!slash || slash == cwd)
					break;
				*slash = '\0';
			}
		}
		if (!ver) {
			char *f = xasprintf("%s/version", root);
			char *t = read_file(f, 4096, NULL);
			free(f);
			if (t) {
				ver = xstrndup(str_trim(t), strcspn(str_trim(t), " \t\r\n:"));
				free(t);
			}
		}
	}
	if (ver && *ver && strcmp(ver, "system") != 0 && !strchr(ver, '/')) {
		char *cand = xasprintf("%s/versions/%s/bin/%s", root, ver, name);
		if (is_executable_file(cand))
			out = cand;
		else
			free(cand);
	}
	free(ver);
	free(shims);
	free(root);
	return out;
}

/* Probe results are remembered per build dir, keyed by the interpreter file's identity (device,
 * inode, size, mtime), so a task start costs a stat instead of an interpreter start. */
static char *g_probe_cache;

static json_t *
probe_cache_entry(const char *cand, const struct stat *st, json_t **all_out)
{
	*all_out = NULL;
	if (!g_probe_cache)
		return NULL;
	json_error_t je;
	json_t *all = json_load_file(g_probe_cache, 0, &je);
	if (!json_is_object(all)) {
		json_decref(all);
		all = json_object();
	}
	*all_out = all;
	json_t *e = json_object_get(all, cand);
	char id[128];
	snprintf(id, sizeof id, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st->st_dev,
	         (unsigned long long)st->st_ino, (long long)st->st_size,
	         (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	const char *have = json_string_value(json_object_get(e, "id"));
	if (have && strcmp(have, id) == 0)
		return e;
	json_object_set_new(all, cand, json_pack("{s:s}", "id", id));
	return NULL;
}

static int
probe_python(const char *cand_in, struct pyinfo *pi)
{
	memset(pi, 0, sizeof *pi);
	char *real = resolve_pyenv_shim(cand_in);
	if (!real) {
		/* an unresolvable pyenv shim refuses anyway ("pyenv: python3.X: command not found") */
		char *root = pyenv_root();
		char *shims = xasprintf("%s/shims/", root);
		int is_shim = str_starts_with(cand_in, shims);
		free(shims);
		free(root);
		if (is_shim)
			return -1;
	}
	const char *cand = real ? real : cand_in;
	struct stat st;
	json_t *all = NULL, *hit = NULL;
	if (stat(cand, &st) == 0)
		hit = probe_cache_entry(cand, &st, &all);
	const char *hv = json_string_value(json_object_get(hit, "version"));
	const char *he = json_string_value(json_object_get(hit, "exe"));
	if (hv && he) {
		snprintf(pi->version, sizeof pi->version, "%s", hv);
		pi->exe = xstrdup(he);
	} else {
		char *argv[] = {(char *)(uintptr_t)cand, "-S", "-c", (char *)(uintptr_t)PROBE, NULL};
		struct envv e;
		tool_env(&e);
		char *out = run_capture(argv, NULL, e.v, 30000);
		envv_free(&e);
		char *nl = out ? strchr(out, '\n') : NULL;
		if (nl && isdigit((unsigned char)out[0]) && nl[1] == '/') {
			*nl = '\0';
			char *exe = nl + 1;
			exe[strcspn(exe, "\r\n")] = '\0';
			snprintf(pi->version, sizeof pi->version, "%s", out);
			pi->exe = xstrdup(exe);
			json_t *ent = all ? json_object_get(all, cand) : NULL;
			if (ent) {
				json_object_set_new(ent, "version", json_string(pi->version));
				json_object_set_new(ent, "exe", json_string(pi->exe));
				char *text = json_dumps(all, JSON_COMPACT);
				if (text)
					(void)write_file_replace(g_probe_cache, text, strlen(text), 0644);
				free(text);
			}
		}
		free(out);
	}
	json_decref(all);
	free(real);
	if (!pi->exe)
		return -1;
	const char *d1 = strchr(pi->version, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	snprintf(pi->xy, sizeof pi->xy, "%.*s",
	         (int)(d2 ? (size_t)(d2 - pi->version) : strlen(pi->version)), pi->version);
	return 0;
}

/* pip version and ensurepip's bundled wheels of the interpreter (only needed to build a venv). */
static void
probe_pip(struct pyinfo *pi)
{
	char *argv[] = {pi->exe, "-c", (char *)(uintptr_t)PROBE_PIP, NULL};
	struct envv e;
	tool_env(&e);
	char *out = run_capture(argv, NULL, e.v, 30000);
	envv_free(&e);
	char *lines[2] = {0};
	char *p = out;
	for (int i = 0; i < 2 && p; i++) {
		lines[i] = p;
		char *nl = strchr(p, '\n');
		if (nl) {
			*nl = '\0';
			p = nl + 1;
		} else {
			p = NULL;
		}
	}
	snprintf(pi->pip, sizeof pi->pip, "%s", lines[0] ? lines[0] : "");
	struct stat st;
	if (lines[1] && *lines[1] && stat(lines[1], &st) == 0 && S_ISDIR(st.st_mode))
		pi->bundled = xstrdup(lines[1]);
	else if (stat("/usr/share/python-wheels", &st) == 0)
		pi->bundled = xstrdup("/usr/share/python-wheels");
	free(out);
}

static char *
pyenv_root(void)
{
	const char *r = env_get("PYENV_ROOT");
	if (r)
		return xstrdup(r);
	return path_expand("~/.pyenv");
}

/* Search the machine for a python of version want ("3.10" or "3.10.13"). */
static int
find_python_version(const char *want, struct pyinfo *pi)
{
	char names[4][64];
	size_t nn = 0;
	snprintf(names[nn++], sizeof names[0], "python%s", want);
	const char *d1 = strchr(want, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d2)
		snprintf(names[nn++], sizeof names[0], "python%.*s", (int)(d2 - want), want);
	snprintf(names[nn++], sizeof names[0], "python%c", want[0]);
	snprintf(names[nn++], sizeof names[0], "python");
	for (size_t i = 0; i < nn; i++) {
		char *p = which(names[i]);
		if (!p)
			continue;
		struct pyinfo t;
		int ok = probe_python(p, &t) == 0 && req_python_version_matches(t.version, want);
		free(p);
		if (ok) {
			*pi = t;
			return 0;
		}
		pyinfo_free(&t);
	}
	/* pyenv's versions, newest patch first */
	char *root = pyenv_root();
	char *pat = xasprintf("%s/versions/%s*/bin/python%c", root, want, want[0]);
	glob_t g;
	int rc = -1;
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = g.gl_pathc; i-- > 0 && rc != 0;) {
			struct pyinfo t;
			if (probe_python(g.gl_pathv[i], &t) == 0 && req_python_version_matches(t.version, want)) {
				*pi = t;
				rc = 0;
			} else {
				pyinfo_free(&t);
			}
		}
		globfree(&g);
	}
	free(pat);
	free(root);
	return rc;
}

static int
default_python(struct pyinfo *pi)
{
	static const char *const names[] = {"python3", "python"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *p = which(names[i]);
		if (!p)
			continue;
		int ok = probe_python(p, pi) == 0;
		free(p);
		if (ok)
			return 0;
		pyinfo_free(pi);
	}
	return -1;
}

/* §5.4 interpreter choice. 0, or -1 with the reason set. */
static int
choose_python(const struct pyenv_request *rq, struct pyenv_result *rs, struct pyinfo *pi)
{
	const char *binary = json_string_value(json_object_get(json_object_get(rq->task, "script"),
	                                                       "binary"));
	char want[32];
	req_python_from_binary(binary, want, sizeof want);
	if (want[0] && cfg_bool(rq->config, "agent.ignore_requested_python_version", 0)) {
		say("Ignoring the requested python version %s (agent.ignore_requested_python_version)",
		    want);
		want[0] = '\0';
	}
	if (want[0]) {
		if (find_python_version(want, pi) == 0)
			return 0;
		set_reason(rs, "Python %s requested by the task (script.binary %s) is not installed",
		           want, binary);
		say("ERROR: %s (searched python%s on PATH and pyenv versions)", rs->reason, want);
		return -1;
	}
	const char *pb = cfg_str(rq->config, "agent.python_binary", NULL);
	if (pb && *pb) {
		char *exp = path_expand(pb);
		char *p = which(exp);
		int ok = p && probe_python(p, pi) == 0;
		free(p);
		if (ok) {
			free(exp);
			return 0;
		}
		say("WARNING: agent.python_binary %s does not run; using the default python3", exp);
		free(exp);
	}
	const char *dp = cfg_str(rq->config, "agent.default_python", NULL);
	if (dp && *dp && isdigit((unsigned char)dp[0])) {
		if (find_python_version(dp, pi) == 0)
			return 0;
		say("WARNING: agent.default_python %s is not installed; using the default python3", dp);
	}
	if (default_python(pi) == 0)
		return 0;
	set_reason(rs, "no python interpreter found (python3 / python on PATH)");
	say("ERROR: %s", rs->reason);
	return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* requirements of the task                                                                 */

struct task_reqs {
	struct req_list list;
	char *base_dir;   /* where relative paths in the requirements resolve */
	int from_task;
};

/* §5.5: task requirements if `pip` is present (even empty), else requirements.txt files from
 * the repository root down to the script directory. */
static void
collect_requirements(const struct pyenv_request *rq, struct task_reqs *tr)
{
	memset(tr, 0, sizeof *tr);
	const json_t *reqs = json_object_get(json_object_get(rq->task, "script"), "requirements");
	const json_t *pip = json_object_get(reqs, "pip");
	if (cfg_bool(rq->config, "agent.package_manager.force_original_requirements", 0)) {
		const json_t *org = json_object_get(reqs, "org_pip");
		if (org && !json_is_null(org))
			pip = org;
	}
	int force_repo = cfg_bool(rq->config, "agent.package_manager.force_repo_requirements_txt", 0);
	if (!force_repo && ((pip && !json_is_null(pip)) || !rq->repo_root)) {
		if (pip && !json_is_null(pip))
			(void)req_list_from_json(&tr->list, pip);
		tr->from_task = 1;
		tr->base_dir = xstrdup(rq->script_dir ? rq->script_dir : (rq->repo_root ? rq->repo_root : "."));
		return;
	}
	tr->base_dir = xstrdup(rq->repo_root);
	/* root first, then each directory down to script_dir */
	const char *sd = rq->script_dir ? rq->script_dir : rq->repo_root;
	size_t rl = strlen(rq->repo_root);
	char *dir = xstrdup(rq->repo_root);
	const char *rest = (strncmp(sd, rq->repo_root, rl) == 0) ? sd + rl : "";
	for (;;) {
		char *f = xasprintf("%s/requirements.txt", dir);
		/* a requirements.txt that is a link out of the repository is not read */
		const char *rel = f + rl;
		while (*rel == '/')
			rel++;
		char *resolved = NULL;
		char *text = NULL;
		if (confine_path(rq->repo_root, rel, &resolved) == 0)
			text = read_file(resolved, 16u << 20, NULL);
		else if (errno == EXDEV)
			say("WARNING: %s leads outside the repository (symbolic link); ignored", f);
		free(resolved);
		if (text) {
			say("Trying pip install: %s", f);
			req_list_parse_text(&tr->list, text);
			free(text);
		}
		free(f);
		while (*rest == '/')
			rest++;
		if (!*rest)
			break;
		const char *slash = strchr(rest, '/');
		size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
		char *next = xasprintf("%s/%.*s", dir, (int)n, rest);
		free(dir);
		dir = next;
		rest += n;
	}
	free(dir);
}

/* ---------------------------------------------------------------------------------------- */
/* pip                                                                                      */

struct pip_ctx {
	const struct pyenv_request *rq;
	struct pyinfo *base;
	char *venv;          /* venv dir */
	char *vpy;           /* venv python */
	struct envv env;
	char **extra_index;  /* agent.package_manager.extra_index_url */
	char **extra_flags;  /* extra_pip_install_flags / CLEARML_EXTRA_PIP_INSTALL_FLAGS */
	int legacy_resolver;
	int upgrade;
	enum pm_type pm;
	char *uv;            /* uv binary for PM_UV */
	struct git_creds creds;      /* for git+https:// requirement lines (§5.5 externals) */
	struct git_askpass askpass;  /* set up once, on the first VCS requirement */
	int askpass_done;
};

/* Extra index URLs may carry user:password: they reach pip and uv through their environment
 * (PIP_EXTRA_INDEX_URL / UV_EXTRA_INDEX_URL, space-separated, readable only by our user), never
 * through argv, which every local user can read in `ps`. A value already in the environment is
 * kept and extended. */
static void
pass_extra_index(struct pip_ctx *c)
{
	static const char *const vars[] = {"PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"};
	if (!c->extra_index || !c->extra_index[0])
		return;
	for (size_t v = 0; v < ARRAY_LEN(vars); v++) {
		struct buf b;
		buf_init(&b, 1u << 20);
		const char *cur = envv_get(&c->env, vars[v]);
		if (cur && *cur)
			buf_puts(&b, cur);
		for (size_t i = 0; c->extra_index[i]; i++) {
			if (strpbrk(c->extra_index[i], " \t\n"))
				continue; /* not a URL; would split into two */
			if (b.len)
				buf_puts(&b, " ");
			buf_puts(&b, c->extra_index[i]);
		}
		envv_set(&c->env, vars[v], b.data ? b.data : "");
		buf_free(&b);
	}
}

static void
add_install_options(struct pip_ctx *c, struct argv *a)
{
	if (c->pm == PM_PIP && c->legacy_resolver)
		av_add(a, "--use-deprecated=legacy-resolver");
	/* extra index URLs travel in the environment (pass_extra_index), never on argv */
	for (size_t i = 0; c->extra_flags && c->extra_flags[i]; i++)
		av_add(a, c->extra_flags[i]);
	if (c->upgrade)
		av_add(a, "--upgrade");
}

/* "<venv python> -m pip --disable-pip-version-check install" or "uv pip install --python V". */
static void
install_prefix(struct pip_ctx *c, struct argv *a)
{
	if (c->pm == PM_UV) {
		av_add(a, c->uv);
		av_add(a, "pip");
		av_add(a, "install");
		av_add(a, "--python");
		av_add(a, c->vpy);
	} else {
		av_add(a, c->vpy);
		av_add(a, "-m");
		av_add(a, "pip");
		av_add(a, "--disable-pip-version-check");
		av_add(a, "install");
	}
}

static int
pip_install_one(struct pip_ctx *c, const struct req *r, const char *cwd, int reinstall, char *err,
                size_t errlen)
{
	struct argv a = {0};
	install_prefix(c, &a);
	if (reinstall) {
		/* a cached environment: this package follows its current revision, nothing else moves */
		av_add(&a, c->pm == PM_UV ? "--reinstall" : "--force-reinstall");
		av_add(&a, "--no-deps");
	}
	if (r->editable) {
		const char *sp = strchr(r->line, ' ');
		const char *eq = strchr(r->line, '=');
		const char *arg = sp ? sp + 1 : (eq ? eq + 1 : r->line);
		av_add(&a, "-e");
		av_add(&a, arg);
	} else {
		av_add(&a, r->line);
	}
	add_install_options(c, &a);
	int rc = run_tool(a.v, cwd, c->env.v, err, errlen);
	av_free(&a);
	return rc;
}

static int
pip_install_file(struct pip_ctx *c, const char *file, const char *cwd, char *err, size_t errlen)
{
	struct argv a = {0};
	install_prefix(c, &a);
	av_add(&a, "-r");
	av_add(&a, file);
	add_install_options(c, &a);
	int rc = run_tool(a.v, cwd, c->env.v, err, errlen);
	av_free(&a);
	return rc;
}

/* The venv's pip version from its dist-info directory name ("" when none). */
static void
venv_pip_version(const char *venv, char *out, size_t outlen)
{
	out[0] = '\0';
	char *pat = xasprintf("%s/lib/python*/site-packages/pip-*.dist-info", venv);
	glob_t g;
	if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		const char *b = strrchr(g.gl_pathv[0], '/');
		b = b ? b + 5 : g.gl_pathv[0];
		const char *e = strstr(b, ".dist-info");
		snprintf(out, outlen, "%.*s", (int)(e ? (size_t)(e - b) : strlen(b)), b);
	}
	globfree(&g);
	free(pat);
}

/* Combined applicable pin of agent.package_manager.pip_version for this python. */
static char *
pip_pin(const json_t *config, const char *pyver, char ***lines_out)
{
	char **pins = cfg_strv(config, "agent.package_manager.pip_version");
	char *out = req_pip_pin((const char *const *)pins, pyver, lines_out);
	strv_free(pins);
	return out;
}

static void set_legacy_resolver(struct pip_ctx *c);

/* The newest pip wheel in the interpreter's bundled folder that satisfies pin ("" = any).
 * Caller frees; NULL when none. */
static char *
bundled_pip_wheel(const struct pyinfo *base, const char *pin)
{
	if (!base->bundled)
		return NULL;
	char *wheel = NULL;
	char wheel_ver[32] = "";
	char *pat = xasprintf("%s/pip-*.whl", base->bundled);
	glob_t g;
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			const char *b = strrchr(g.gl_pathv[i], '/') + 1;
			char v[32];
			snprintf(v, sizeof v, "%.*s", (int)strcspn(b + 4, "-"), b + 4);
			if ((!pin || !*pin || pep440_satisfies(v, pin) == 1) &&
			    (!wheel || pep440_compare(v, wheel_ver) > 0)) {
				free(wheel);
				wheel = xstrdup(g.gl_pathv[i]);
				snprintf(wheel_ver, sizeof wheel_ver, "%s", v);
			}
		}
	}
	globfree(&g);
	free(pat);
	return wheel;
}

/* Put pip into a --without-pip venv with the interpreter's own pip (`pip --python`): the bundled
 * wheel when it satisfies agent.package_manager.pip_version, else the pin from the index; when
 * the index cannot provide it (offline), the bundled wheel anyway, with a warning. */
static int
seed_pip(struct pip_ctx *c, const char *pin, char **pin_lines, char *err, size_t errlen)
{
	char *wheel = bundled_pip_wheel(c->base, pin);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct argv a = {0};
		av_add(&a, c->base->exe);
		av_add(&a, "-m");
		av_add(&a, "pip");
		av_add(&a, "--python");
		av_add(&a, c->vpy);
		av_add(&a, "--disable-pip-version-check");
		av_add(&a, "install");
		av_add(&a, "--no-compile");
		if (wheel) {
			av_add(&a, "--no-index");
			av_add(&a, "--no-deps");
			av_add(&a, wheel);
		} else {
			if (pin_lines[0]) {
				for (size_t i = 0; pin_lines[i]; i++)
					av_add(&a, pin_lines[i]);
			} else {
				av_add(&a, "pip");
			}
		}
		int rc = run_tool(a.v, NULL, c->env.v, err, errlen);
		av_free(&a);
		if (rc == 0 || wheel) {
			free(wheel);
			return rc;
		}
		wheel = bundled_pip_wheel(c->base, NULL);
		if (!wheel)
			return -1;
		say("WARNING: pip %s is not available from the index (%s); using the bundled %s",
		    pin, err, strrchr(wheel, '/') + 1);
	}
	free(wheel);
	return -1;
}

/* Create the venv (pip or uv flavour) and, when there is something to install, put pip into it.
 * 0 or -1 with err. */
static int
create_venv(struct pip_ctx *c, int need_pip, char *err, size_t errlen)
{
	const json_t *cfg = c->rq->config;
	int sys_site = cfg_bool(cfg, "agent.package_manager.system_site_packages", 0);
	struct argv a = {0};
	if (c->pm == PM_UV) {
		av_add(&a, c->uv);
		av_add(&a, "venv");
		av_add(&a, "--python");
		av_add(&a, c->base->exe);
		if (sys_site)
			av_add(&a, "--system-site-packages");
		av_add(&a, c->venv);
		int rc = run_tool(a.v, NULL, c->env.v, err, errlen);
		av_free(&a);
		return rc;
	}
	/* pip: --without-pip when the interpreter's own pip can install into it (--python, 22.3+);
	 * an empty requirement set needs no pip at all */
	int outer = 0;
	if (need_pip) {
		probe_pip(c->base);
		outer = c->base->pip[0] && pep440_compare(c->base->pip, "22.3") >= 0;
	}
	av_add(&a, c->base->exe);
	av_add(&a, "-m");
	av_add(&a, "venv");
	if (outer || !need_pip)
		av_add(&a, "--without-pip");
	if (sys_site)
		av_add(&a, "--system-site-packages");
	av_add(&a, c->venv);
	int rc = run_tool(a.v, NULL, c->env.v, err, errlen);
	av_free(&a);
	if (rc != 0 || !need_pip)
		return rc;

	char **pin_lines = NULL;
	char *pin = pip_pin(cfg, c->base->version, &pin_lines);
	char have[32];
	if (outer) {
		rc = seed_pip(c, pin, pin_lines, err, errlen);
	} else {
		venv_pip_version(c->venv, have, sizeof have);
		if (*pin && have[0] && pep440_satisfies(have, pin) != 1) {
			av_add(&a, c->vpy);
			av_add(&a, "-m");
			av_add(&a, "pip");
			av_add(&a, "--disable-pip-version-check");
			av_add(&a, "install");
			for (size_t i = 0; pin_lines[i]; i++)
				av_add(&a, pin_lines[i]);
			if (run_tool(a.v, NULL, c->env.v, err, errlen) != 0)
				say("WARNING: could not install %s (%s); keeping pip %s", pin, err, have);
			av_free(&a);
		}
	}
	free(pin);
	strv_free(pin_lines);
	if (rc != 0)
		return -1;
	set_legacy_resolver(c);
	return 0;
}

/* Install the requirements of one class (priority or post) one by one, in order; a failure of
 * the optional variant is only reported. 0 or -1 with err. */
static int
install_one_by_one(struct pip_ctx *c, struct task_reqs *tr, int cls, int optional_cls,
                   const char *label, char *err, size_t errlen)
{
	const struct req_list *l = &tr->list;
	for (size_t i = 0; i < l->n; i++) {
		const struct req *r = &l->v[i];
		if ((int)r->cls != cls && (int)r->cls != optional_cls)
			continue;
		if (pip_install_one(c, r, tr->base_dir, 0, err, errlen) != 0) {
			if ((int)r->cls != optional_cls)
				return -1;
			say("Optional %s package %s failed to install; continuing", label, r->line);
		}
	}
	return 0;
}

/* Install the classified requirements into the venv. 0 or -1 with err. */
static int
install_requirements(struct pip_ctx *c, struct task_reqs *tr, int only_external, char *err,
                     size_t errlen)
{
	struct req_list *l = &tr->list;
	if (!only_external) {
		if (install_one_by_one(c, tr, RC_PRIORITY, RC_PRIORITY_OPTIONAL, "priority", err, errlen) != 0)
			return -1;
		char *text = req_render_main(l);
		if (*text) {
			char *file = xasprintf("%s/.clearml-requirements.txt", c->rq->build_dir);
			if (write_file_atomic(file, text, strlen(text), 0600) != 0) {
				snprintf(err, errlen, "cannot write %s: %s", file, strerror(errno));
				free(file);
				free(text);
				return -1;
			}
			say("Installing the task's requirements:\n%s", text);
			int rc = pip_install_file(c, file, tr->base_dir, err, errlen);
			unlink(file);
			free(file);
			if (rc != 0) {
				free(text);
				return -1;
			}
		}
		free(text);
		if (install_one_by_one(c, tr, RC_POST, RC_POST_OPTIONAL, "post", err, errlen) != 0)
			return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct req *r = &l->v[i];
		if (r->cls != RC_EXTERNAL)
			continue;
		/* git URLs get the VCS credential rules; the secret goes to git through an askpass
		 * helper in pip's environment, never into the URL, the argv or the log */
		struct req rr = *r;
		rr.line = r->kind == REQ_VCS ? gitcred_requirement_line(&c->creds, r->line)
		                             : xstrdup(r->line);
		if (r->kind == REQ_VCS && !c->askpass_done) {
			c->askpass_done = 1;
			gitcred_git_env(&c->env);
			if (gitcred_askpass_setup(&c->askpass, c->creds.user, c->creds.pass,
			                          c->creds.host, &c->env, err, errlen) != 0) {
				free(rr.line);
				return -1;
			}
		}
		int rc = pip_install_one(c, &rr, tr->base_dir, only_external, err, errlen);
		free(rr.line);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static json_t *
freeze(struct pip_ctx *c)
{
	struct argv a = {0};
	if (c->pm == PM_UV) {
		av_add(&a, c->uv);
		av_add(&a, "pip");
		av_add(&a, "freeze");
		av_add(&a, "--python");
		av_add(&a, c->vpy);
	} else {
		char have[32] = "x";
		if (c->venv && strcmp(c->vpy, c->base->exe) != 0)
			venv_pip_version(c->venv, have, sizeof have);
		if (!have[0]) {
			av_free(&a);
			return json_pack("{s:[]}", "pip"); /* an empty venv: nothing to freeze */
		}
		av_add(&a, c->vpy);
		av_add(&a, "-m");
		av_add(&a, "pip");
		av_add(&a, "--disable-pip-version-check");
		av_add(&a, "freeze");
	}
	char *out = run_capture(a.v, NULL, c->env.v, 300000);
	av_free(&a);
	if (!out)
		return NULL;
	json_t *f = json_pack("{s:o}", "pip", req_freeze_lines(out));
	free(out);
	return f;
}

static char *
probe_sys_path(const char *py, char *const *envp)
{
	char *argv[] = {(char *)(uintptr_t)py, "-c",
	                "import sys; print(':'.join(p for p in sys.path if p))", NULL};
	char *out = run_capture(argv, "/", envp, 30000);
	if (out) {
		size_t n = strlen(out);
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
			out[--n] = '\0';
	}
	return out;
}

static char *
replace_all(const char *s, const char *from, const char *to)
{
	struct buf b;
	buf_init(&b, 16u << 20);
	size_t fl = strlen(from);
	const char *p = s, *hit;
	while (fl && (hit = strstr(p, from)) != NULL) {
		(void)buf_append(&b, p, (size_t)(hit - p));
		(void)buf_puts(&b, to);
		p = hit + fl;
	}
	(void)buf_puts(&b, p);
	char *out = b.data ? buf_steal(&b) : xstrdup("");
	buf_free(&b);
	return out;
}

static const char *const KEEP_DIRS[] = {"task_repository", "code", NULL};

/* ---------------------------------------------------------------------------------------- */
/* lock-file managers: uv sync / poetry install                                             */

static char *
lock_dir(const struct pyenv_request *rq, const char *cfg_key, const char *lockfile)
{
	const char *dirs[2];
	size_t n = 0;
	if (cfg_bool(rq->config, cfg_key, 0) && rq->script_dir)
		dirs[n++] = rq->script_dir;
	if (rq->repo_root)
		dirs[n++] = rq->repo_root;
	for (size_t i = 0; i < n; i++) {
		char *f = xasprintf("%s/%s", dirs[i], lockfile);
		int ok = access(f, F_OK) == 0;
		free(f);
		if (ok)
			return xstrdup(dirs[i]);
	}
	return NULL;
}

static void
set_prefix(struct pyenv_result *rs, char **v)
{
	size_t n = 0;
	while (v[n])
		n++;
	rs->run_prefix = xcalloc(n + 1, sizeof *rs->run_prefix);
	for (size_t i = 0; i < n; i++)
		rs->run_prefix[i] = xstrdup(v[i]);
	rs->n_run_prefix = n;
}

static int
uv_sync(struct pip_ctx *c, const char *dir, struct pyenv_result *rs)
{
	const json_t *cfg = c->rq->config;
	char err[400] = "";
	struct argv a = {0};
	av_add(&a, c->uv);
	av_add(&a, "sync");
	char *lock = xasprintf("%s/uv.lock", dir);
	int locked = access(lock, F_OK) == 0 &&
	             cfg_bool(cfg, "agent.package_manager.uv_sync_locked_if_lock_file", 1);
	if (locked)
		av_add(&a, "--locked");
	free(lock);
	av_add(&a, "--python");
	av_add(&a, c->base->exe);
	char **extra = cfg_strv(cfg, "agent.package_manager.uv_sync_extra_args");
	for (size_t i = 0; extra[i]; i++) {
		size_t n = 0;
		char **w = req_shlex_split(extra[i], &n);
		for (size_t j = 0; w && j < n; j++)
			av_add(&a, w[j]);
		strv_free(w);
	}
	strv_free(extra);
	int rc = run_tool(a.v, dir, c->env.v, err, sizeof err);
	if (rc != 0 && locked) {
		/* v3: a lock that no longer matches pyproject.toml is re-resolved, with a warning */
		say("WARNING: uv sync --locked failed (%s); retrying without --locked", err);
		for (size_t i = 0; i < a.n; i++)
			if (strcmp(a.v[i], "--locked") == 0) {
				free(a.v[i]);
				memmove(&a.v[i], &a.v[i + 1], (a.n - i) * sizeof *a.v);
				a.n--;
				break;
			}
		rc = run_tool(a.v, dir, c->env.v, err, sizeof err);
	}
	av_free(&a);
	if (rc != 0) {
		set_reason(rs, "uv sync failed: %s", err);
		return -1;
	}
	free(c->vpy);
	c->vpy = xasprintf("%s/.venv/bin/python", dir);
	rs->venv_dir = xasprintf("%s/.venv", dir);
	rs->python = xstrdup("python");
	struct argv p = {0};
	av_add(&p, c->uv);
	av_add(&p, "run");
	av_add(&p, "--project");
	av_add(&p, dir);
	av_add(&p, "--frozen");
	char **rx = cfg_strv(cfg, "agent.package_manager.uv_run_extra_args");
	for (size_t i = 0; rx[i]; i++) {
		size_t n = 0;
		char **w = req_shlex_split(rx[i], &n);
		for (size_t j = 0; w && j < n; j++)
			av_add(&p, w[j]);
		strv_free(w);
	}
	strv_free(rx);
	set_prefix(rs, p.v);
	av_free(&p);
	rs->frozen = freeze(c);
	return 0;
}

static int
poetry_install(struct pip_ctx *c, const char *poetry, const char *dir, struct pyenv_result *rs)
{
	char err[400] = "";
	char *cfg_argv[] = {(char *)(uintptr_t)poetry, "config", "--local",
	                    "virtualenvs.in-project", "true", NULL};
	if (run_tool(cfg_argv, dir, c->env.v, err, sizeof err) != 0) {
		set_reason(rs, "poetry config failed: %s", err);
		return -1;
	}
	/* The in-project .venv made with the chosen interpreter (poetry would otherwise use the one
	 * it runs on; `poetry env use` ignores in-project and builds in its cache dir). */
	char *vdir = xasprintf("%s/.venv", dir);
	char *vbin = xasprintf("%s/bin/python", vdir);
	if (!is_executable_file(vbin)) {
		char *venv_tool = which("virtualenv");
		char *mk_a[] = {venv_tool, "-p", c->base->exe, vdir, NULL};
		char *mk_b[] = {c->base->exe, "-m", "venv", vdir, NULL};
		int mrc = run_tool(venv_tool ? mk_a : mk_b, dir, c->env.v, err, sizeof err);
		free(venv_tool);
		if (mrc != 0) {
			set_reason(rs, "creating the poetry virtual environment failed: %s", err);
			free(vdir);
			free(vbin);
			return -1;
		}
	}
	free(vdir);
	free(vbin);
	struct argv a = {0};
	av_add(&a, poetry);
	av_add(&a, "install");
	av_add(&a, "-n");
	char **extra = cfg_strv(c->rq->config, "agent.package_manager.poetry_install_extra_args");
	for (size_t i = 0; extra[i]; i++) {
		size_t n = 0;
		char **w = req_shlex_split(extra[i], &n);
		for (size_t j = 0; w && j < n; j++)
			av_add(&a, w[j]);
		strv_free(w);
	}
	strv_free(extra);
	int rc = run_tool(a.v, dir, c->env.v, err, sizeof err);
	av_free(&a);
	if (rc != 0) {
		set_reason(rs, "poetry install failed: %s", err);
		return -1;
	}
	free(c->vpy);
	c->vpy = xasprintf("%s/.venv/bin/python", dir);
	rs->venv_dir = xasprintf("%s/.venv", dir);
	rs->python = xstrdup("python");
	char *pre[] = {(char *)(uintptr_t)poetry, "run", NULL};
	set_prefix(rs, pre);
	char vp[32];
	venv_pip_version(rs->venv_dir, vp, sizeof vp);
	if (vp[0])
		rs->frozen = freeze(c);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* conda                                                                                    */

static int
conda_setup(struct pip_ctx *c, struct task_reqs *tr, struct pyenv_result *rs)
{
	char err[400] = "";
	char *conda = which("conda");
	if (!conda) {
		set_reason(rs, "package manager conda selected but conda is not installed");
		say("ERROR: %s", rs->reason);
		return -1;
	}
	(void)tree_remove(c->venv);
	char *pyspec = xasprintf("python=%s", c->base->xy);
	char *create[] = {conda, "create", "--yes", "--mkdir", "--prefix", c->venv, pyspec, NULL};
	int rc = run_tool(create, NULL, c->env.v, err, sizeof err);
	free(pyspec);
	if (rc != 0) {
		set_reason(rs, "conda create failed: %s", err);
		free(conda);
		return -1;
	}
	/* environment YAML: channels + the named requirements; the rest goes to pip */
	struct buf y;
	buf_init(&y, 16u << 20);
	(void)buf_puts(&y, "channels:\n");
	char **ch = cfg_strv(c->rq->config, "agent.package_manager.conda_channels");
	for (size_t i = 0; ch[i]; i++)
		(void)buf_printf(&y, "  - \"%s\"\n", ch[i]);
	strv_free(ch);
	(void)buf_puts(&y, "dependencies:\n");
	size_t named = 0;
	for (size_t i = 0; i < tr->list.n; i++) {
		const struct req *r = &tr->list.v[i];
		if (r->kind != REQ_NAMED || r->editable || r->cls == RC_DROPPED || r->marker)
			continue;
		/* json-quoted so no requirement text can break the YAML structure */
		json_t *s = json_string(r->line);
		char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		if (q) {
			(void)buf_printf(&y, "  - %s\n", q);
			named++;
		}
		free(q);
		json_decref(s);
	}
	int conda_ok = 1;
	if (named) {
		char *yml = xasprintf("%s/.clearml-conda-env.yml", c->rq->build_dir);
		if (write_file_atomic(yml, y.data, y.len, 0600) != 0) {
			set_reason(rs, "cannot write %s", yml);
			free(yml);
			buf_free(&y);
			free(conda);
			return -1;
		}
		char *upd[] = {conda, "env", "update", "-p", c->venv, "--file", yml, "--quiet", "--json",
		               NULL};
		conda_ok = run_tool(upd, NULL, c->env.v, err, sizeof err) == 0;
		if (!conda_ok)
			say("conda env update failed (%s); installing the requirements with pip", err);
		unlink(yml);
		free(yml);
	}
	buf_free(&y);
	free(conda);
	/* pip for what conda did not take: everything when conda failed, else the non-named lines */
	for (size_t i = 0; i < tr->list.n; i++) {
		struct req *r = &tr->list.v[i];
		if (conda_ok && r->kind == REQ_NAMED && !r->editable && !r->marker &&
		    r->cls != RC_EXTERNAL)
			r->cls = RC_DROPPED;
	}
	if (install_requirements(c, tr, 0, err, sizeof err) != 0) {
		set_reason(rs, "pip install failed: %s", err);
		return -1;
	}
	rs->python = xstrdup(c->vpy);
	rs->venv_dir = xstrdup(c->venv);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */

static void
set_legacy_resolver(struct pip_ctx *c)
{
	char have[32];
	venv_pip_version(c->venv, have, sizeof have);
	char **legacy = cfg_strv(c->rq->config, "agent.package_manager.pip_legacy_resolver");
	for (size_t i = 0; have[0] && legacy[i]; i++)
		if (pep440_satisfies(have, legacy[i]) == 1)
			c->legacy_resolver = 1;
	strv_free(legacy);
}

/* "<mtime of site-packages>/<mtime of bin>": any package installed or removed since changes it. */
static char *
venv_stamp(const char *venv, const char *xy)
{
	char *sp = xasprintf("%s/lib/python%s/site-packages", venv, xy);
	char *bin = xasprintf("%s/bin", venv);
	struct stat a, b;
	char *out = NULL;
	if (stat(sp, &a) == 0 && stat(bin, &b) == 0)
		out = xasprintf("%lld.%09ld/%lld.%09ld", (long long)a.st_mtim.tv_sec, a.st_mtim.tv_nsec,
		                (long long)b.st_mtim.tv_sec, b.st_mtim.tv_nsec);
	free(sp);
	free(bin);
	return out;
}

#define MARKER ".clearml-venv.json"

/* Remember what this venv is (its cache key and facts), so the next task with the same key on
 * this slot can use it as it is. Written after the venv is stored: never part of a cache entry. */
static void
write_marker(const char *venv, const char *xy, const char *key, const char *entry,
             const json_t *frozen, const char *sys_path)
{
	char *stamp = venv_stamp(venv, xy);
	if (!stamp)
		return;
	json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:s}", "key", key, "entry", entry ? entry : "",
	                      "stamp", stamp, "origin", venv, "sys_path", sys_path ? sys_path : "");
	if (frozen)
		json_object_set(m, "frozen", (json_t *)(uintptr_t)frozen);
	char *text = json_dumps(m, JSON_COMPACT);
	char *path = xasprintf("%s/" MARKER, venv);
	if (text)
		(void)write_file_replace(path, text, strlen(text), 0644);
	free(path);
	free(text);
	json_decref(m);
	free(stamp);
}

/* 1 when venv is the environment of key, untouched since it was set up (*meta_out = marker). */
static int
reuse_in_place(const char *venv, const char *xy, const char *key, json_t **meta_out)
{
	*meta_out = NULL;
	char *path = xasprintf("%s/" MARKER, venv);
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	unlink(path); /* one use: whatever happens next rewrites it */
	free(path);
	if (!json_is_object(m)) {
		json_decref(m);
		return 0;
	}
	char *stamp = venv_stamp(venv, xy);
	char *py = xasprintf("%s/bin/python", venv);
	const char *mk = json_string_value(json_object_get(m, "key"));
	const char *ms = json_string_value(json_object_get(m, "stamp"));
	const char *mo = json_string_value(json_object_get(m, "origin"));
	int ok = mk && ms && mo && stamp && strcmp(mk, key) == 0 && strcmp(ms, stamp) == 0 &&
	         strcmp(mo, venv) == 0 && access(py, X_OK) == 0;
	free(stamp);
	free(py);
	if (!ok) {
		json_decref(m);
		return 0;
	}
	*meta_out = m;
	return 1;
}

static enum pm_type
manager_type(const json_t *config)
{
	if (env_bool("CLEARML_AGENT_FORCE_UV", 0))
		return PM_UV;
	if (env_bool("CLEARML_AGENT_FORCE_POETRY", 0))
		return PM_POETRY;
	const char *t = cfg_str(config, "agent.package_manager.type", "pip");
	if (strcasecmp(t, "uv") == 0)
		return PM_UV;
	if (strcasecmp(t, "poetry") == 0)
		return PM_POETRY;
	if (strcasecmp(t, "conda") == 0)
		return PM_CONDA;
	return PM_PIP;
}

static const char *
pm_name(enum pm_type t)
{
	switch (t) {
	case PM_UV: return "uv";
	case PM_POETRY: return "poetry";
	case PM_CONDA: return "conda";
	case PM_PIP: break;
	}
	return "pip";
}

static char *
cache_path(const json_t *config)
{
	const char *e = env_get("CLEARML_AGENT_VENV_CACHE_PATH");
	if (e)
		return path_expand(e);
	return cfg_path(config, "agent.venvs_cache.path");
}

static void
classify(const json_t *config, struct req_list *l)
{
	char **prio = NULL, **prio_opt = NULL, **post = NULL, **post_opt = NULL;
	struct req_policy p = {0};
	if (cfg_get(config, "agent.package_manager.priority_packages"))
		p.priority = (const char *const *)(prio = cfg_strv(config,
		                                    "agent.package_manager.priority_packages"));
	if (cfg_get(config, "agent.package_manager.priority_optional_packages"))
		p.priority_optional = (const char *const *)(prio_opt = cfg_strv(
		                           config, "agent.package_manager.priority_optional_packages"));
	if (cfg_get(config, "agent.package_manager.post_packages"))
		p.post = (const char *const *)(post = cfg_strv(config,
		                                "agent.package_manager.post_packages"));
	if (cfg_get(config, "agent.package_manager.post_optional_packages"))
		p.post_optional = (const char *const *)(post_opt = cfg_strv(
		                       config, "agent.package_manager.post_optional_packages"));
	req_classify(l, &p);
	strv_free(prio);
	strv_free(prio_opt);
	strv_free(post);
	strv_free(post_opt);
}

int
pyenv_setup(const struct pyenv_request *rq, struct pyenv_result *rs)
{
	memset(rs, 0, sizeof *rs);
	struct pyinfo base = {0};
	struct task_reqs tr = {0};
	struct pip_ctx c = {.rq = rq, .base = &base};
	int64_t t_start = mono_ms();
	tool_env(&c.env);
	gitcred_from_config(&c.creds, rq->config);
	int rc = -1;
	char err[400] = "";
	if (rq->build_dir && mkdir_p(rq->build_dir, 0755) == 0)
		g_probe_cache = xasprintf("%s/.clearml-python-probes.json", rq->build_dir);

	/* CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=<python path> / SKIP_PYTHON_ENV_INSTALL */
	const char *skip_venv = env_get("CLEARML_AGENT_SKIP_PIP_VENV_INSTALL");
	int skip_all = env_bool("CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL", 0);
	if (skip_venv && parse_bool(skip_venv) < 0) {
		if (probe_python(skip_venv, &base) != 0) {
			set_reason(rs, "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=%s is not a working python",
			           skip_venv);
			say("ERROR: %s", rs->reason);
			goto out;
		}
	} else if (choose_python(rq, rs, &base) != 0) {
		goto out;
	}
	say("Using python %s (%s)", base.version, base.exe);

	if (skip_all || rq->standalone) {
		say("%s: no python environment installation",
		    skip_all ? "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL" : "standalone mode");
		char *vp = xasprintf("%s/%s/bin/python", rq->build_dir, base.xy);
		if (rq->standalone && !skip_all && is_executable_file(vp)) {
			rs->python = vp;
			rs->venv_dir = xasprintf("%s/%s", rq->build_dir, base.xy);
		} else {
			free(vp);
			rs->python = xstrdup(base.exe);
		}
		rc = 0;
		goto out;
	}

	c.pm = manager_type(rq->config);
	c.extra_index = cfg_strv(rq->config, "agent.package_manager.extra_index_url");
	pass_extra_index(&c);
	const char *flags_env = env_get("CLEARML_EXTRA_PIP_INSTALL_FLAGS");
	if (flags_env) {
		size_t n = 0;
		c.extra_flags = req_shlex_split(flags_env, &n);
		if (!c.extra_flags)
			say("WARNING: CLEARML_EXTRA_PIP_INSTALL_FLAGS has an unterminated quote; ignored");
	} else {
		char **raw = cfg_strv(rq->config, "agent.package_manager.extra_pip_install_flags");
		struct argv a = {0};
		for (size_t i = 0; raw[i]; i++) {
			size_t n = 0;
			char **w = req_shlex_split(raw[i], &n);
			for (size_t j = 0; w && j < n; j++)
				av_add(&a, w[j]);
			strv_free(w);
		}
		strv_free(raw);
		c.extra_flags = a.v;
	}
	c.upgrade = cfg_bool(rq->config, "agent.package_manager.force_upgrade", 0);
	{
		char *dl = cfg_bool(rq->config, "agent.pip_download_cache.enabled", 1)
		                   ? cfg_path(rq->config, "agent.pip_download_cache.path") : NULL;
		if (dl && !envv_get(&c.env, "PIP_CACHE_DIR") && mkdir_p(dl, 0755) == 0)
			envv_set(&c.env, "PIP_CACHE_DIR", dl);
		free(dl);
	}

	if (c.pm == PM_UV || c.pm == PM_POETRY) {
		const char *exe = c.pm == PM_UV ? (env_get("CLEARML_BOOTSTRAP_UV_EXEC")
		                                       ? env_get("CLEARML_BOOTSTRAP_UV_EXEC") : "uv")
		                                : "poetry";
		char *tool = which(exe);
		if (!tool) {
			say("WARNING: package manager %s selected but `%s` is not installed; using pip",
			    pm_name(c.pm), exe);
			c.pm = PM_PIP;
		} else if (c.pm == PM_UV) {
			c.uv = tool;
			if (!envv_get(&c.env, "UV_CACHE_DIR")) {
				char *vd = cfg_path(rq->config, "agent.venvs_dir");
				char *ucd = xasprintf("%s/.uv-cache", vd ? vd : rq->build_dir);
				envv_set(&c.env, "UV_CACHE_DIR", ucd);
				free(ucd);
				free(vd);
			}
			if (cfg_bool(rq->config, "agent.package_manager.uv_unsafe_best_match", 0) &&
			    !envv_get(&c.env, "UV_INDEX_STRATEGY"))
				envv_set(&c.env, "UV_INDEX_STRATEGY", "unsafe-best-match");
			char *dir = lock_dir(rq, "agent.package_manager.uv_files_from_repo_working_dir",
			                     "uv.lock");
			if (dir) {
				say("uv.lock found in %s: uv sync (task requirements ignored)", dir);
				rc = uv_sync(&c, dir, rs);
				free(dir);
				goto out;
			}
		} else {
			char *dir = lock_dir(rq, "agent.package_manager.poetry_files_from_repo_working_dir",
			                     "poetry.lock");
			if (dir) {
				say("poetry.lock found in %s: poetry install (task requirements ignored)", dir);
				envv_set(&c.env, "POETRY_VIRTUALENVS_IN_PROJECT", "true");
				rc = poetry_install(&c, tool, dir, rs);
				free(dir);
				free(tool);
				goto out;
			}
			free(tool);
			c.pm = PM_PIP; /* no lock file: the plain pip flow, as upstream */
		}
	}

	c.venv = xasprintf("%s/%s", rq->build_dir, base.xy);
	c.vpy = xasprintf("%s/bin/python", c.venv);
	if (mkdir_p(rq->build_dir, 0755) != 0) {
		set_reason(rs, "cannot create build dir %s: %s", rq->build_dir, strerror(errno));
		goto out;
	}
	collect_requirements(rq, &tr);
	classify(rq->config, &tr.list);

	if (c.pm == PM_CONDA) {
		rc = conda_setup(&c, &tr, rs);
		goto out;
	}

	/* cache */
	char *croot = cache_path(rq->config);
	char key[33] = "";
	struct venv_cache vc = {0};
	if (!croot) {
		say("::: Python virtual environment cache is DISABLED. To accelerate spin-up time set "
		    "`agent.venvs_cache.path=~/.clearml/venvs-cache` :::");
	} else if (req_list_has_include(&tr.list)) {
		say("::: Python virtual environment cache not used: requirements refer to other files "
		    "(-r) :::");
		free(croot);
		croot = NULL;
	} else {
		const char *cuda = cfg_str(rq->config, "agent.cuda_version", NULL);
		char cudabuf[32];
		if (!cuda) {
			const json_t *cv = cfg_get(rq->config, "agent.cuda_version");
			if (json_is_number(cv)) {
				snprintf(cudabuf, sizeof cudabuf, "%g", json_number_value(cv));
				cuda = cudabuf;
			}
		}
		struct buf extra;
		buf_init(&extra, 1u << 20);
		/* anything else that changes what gets installed */
		for (size_t i = 0; c.extra_index[i]; i++)
			(void)buf_printf(&extra, "index=%s\n", c.extra_index[i]);
		for (size_t i = 0; c.extra_flags && c.extra_flags[i]; i++)
			(void)buf_printf(&extra, "flag=%s\n", c.extra_flags[i]);
		if (c.upgrade)
			(void)buf_puts(&extra, "upgrade\n");
		if (c.pm == PM_PIP) {
			char **pins = cfg_strv(rq->config, "agent.package_manager.pip_version");
			for (size_t i = 0; pins[i]; i++)
				(void)buf_printf(&extra, "pip=%s\n", pins[i]);
			strv_free(pins);
		}
		struct req_key_input in = {
			.python_version = base.version, .manager = pm_name(c.pm),
			.cuda = cuda && *cuda ? cuda : "0",
			.system_site_packages =
				cfg_bool(rq->config, "agent.package_manager.system_site_packages", 0),
			.extra = extra.data};
		req_cache_key(&tr.list, &in, key);
		buf_free(&extra);
		vc.root = croot;
		vc.max_entries = cfg_int(rq->config, "agent.venvs_cache.max_entries", 10);
		vc.free_space_gb = cfg_num(rq->config, "agent.venvs_cache.free_space_threshold_gb", 2.0);
		vc.lock_timeout_sec = (int)cfg_int(rq->config, "agent.venvs_cache.lock_timeout", 30);
	}

	int is_skip_venv = skip_venv && parse_bool(skip_venv) != 0;
	if (is_skip_venv) {
		/* no venv: install into the chosen interpreter itself */
		free(c.vpy);
		c.vpy = xstrdup(base.exe);
		free(croot);
		croot = NULL;
		say("CLEARML_AGENT_SKIP_PIP_VENV_INSTALL: installing into %s", base.exe);
		if (install_requirements(&c, &tr, 0, err, sizeof err) != 0) {
			set_reason(rs, "%s install failed: %s", pm_name(c.pm), err);
			goto out;
		}
		rs->python = xstrdup(base.exe);
		rs->frozen = freeze(&c);
		rs->sys_path = probe_sys_path(base.exe, c.env.v);
		rc = 0;
		goto out;
	}

	if (croot) {
		/* The slot's venv may already be this very environment (the previous task had the
		 * same key and changed nothing): then reuse it in place, no relinking at all. */
		json_t *meta = NULL;
		char *entry = NULL;
		int hit = reuse_in_place(c.venv, base.xy, key, &meta);
		if (hit == 1) {
			entry = xstrdup(json_string_value(json_object_get(meta, "entry")));
			say("Virtual environment %s is unchanged since the last task: reused as it is",
			    c.venv);
		} else {
			if (tree_clear_except(c.venv, KEEP_DIRS) != 0) {
				set_reason(rs, "cannot clean the venv dir %s: %s", c.venv, strerror(errno));
				free(croot);
				goto out;
			}
			hit = venv_cache_restore(&vc, key, c.venv, &meta, &entry);
		}
		if (hit == 1) {
			say("::: Using Cached environment %s :::", entry);
			rs->cache_hit = 1;
			const char *origin = json_string_value(json_object_get(meta, "origin"));
			const json_t *fz = json_object_get(meta, "frozen");
			rs->frozen = json_is_object(fz) ? json_deep_copy(fz) : NULL;
			const char *sp = json_string_value(json_object_get(meta, "sys_path"));
			if (sp)
				rs->sys_path = origin ? replace_all(sp, origin, c.venv) : xstrdup(sp);
			json_decref(meta);
			/* VCS / local requirements follow their current revision (§5.6) */
			int ext = 0;
			for (size_t i = 0; i < tr.list.n; i++)
				ext |= tr.list.v[i].cls == RC_EXTERNAL;
			if (ext) {
				if (c.pm == PM_PIP)
					set_legacy_resolver(&c);
				if (install_requirements(&c, &tr, 1, err, sizeof err) != 0) {
					set_reason(rs, "%s install failed: %s", pm_name(c.pm), err);
					free(croot);
					free(entry);
					goto out;
				}
				json_decref(rs->frozen);
				rs->frozen = freeze(&c);
			}
			write_marker(c.venv, base.xy, key, entry, rs->frozen, rs->sys_path);
			free(entry);
			rs->python = xstrdup(c.vpy);
			rs->venv_dir = xstrdup(c.venv);
			free(croot);
			rc = 0;
			goto out;
		}
		free(entry);
		if (hit < 0)
			(void)tree_clear_except(c.venv, KEEP_DIRS);
	} else if (tree_clear_except(c.venv, KEEP_DIRS) != 0) {
		set_reason(rs, "cannot clean the venv dir %s: %s", c.venv, strerror(errno));
		goto out;
	}

	if (create_venv(&c, tr.list.n > 0, err, sizeof err) != 0) {
		set_reason(rs, "creating the virtual environment failed: %s", err);
		free(croot);
		goto out;
	}
	if (install_requirements(&c, &tr, 0, err, sizeof err) != 0) {
		set_reason(rs, "%s install failed: %s", pm_name(c.pm), err);
		say("ERROR: Could not install task requirements! %s", err);
		free(croot);
		goto out;
	}
	rs->frozen = freeze(&c);
	rs->sys_path = probe_sys_path(c.vpy, c.env.v);
	rs->python = xstrdup(c.vpy);
	rs->venv_dir = xstrdup(c.venv);
	if (croot) {
		json_t *meta = json_pack("{s:s,s:s,s:s}", "python", base.version, "manager",
		                         pm_name(c.pm), "sys_path", rs->sys_path ? rs->sys_path : "");
		if (rs->frozen)
			json_object_set(meta, "frozen", rs->frozen);
		if (venv_cache_store(&vc, key, c.venv, meta) == 0) {
			char *entry = xasprintf("%s/%s", croot, key);
			write_marker(c.venv, base.xy, key, entry, rs->frozen, rs->sys_path);
			free(entry);
		}
		json_decref(meta);
		free(croot);
	}
	rc = 0;
out:
	if (rc != 0 && !rs->reason[0])
		set_reason(rs, "python environment setup failed");
	if (rc == 0)
		say("Python environment ready in %.3f s%s", (double)(mono_ms() - t_start) / 1000.0,
		    rs->cache_hit ? " (cached)" : "");
	if (rc == 0 && rs->frozen) {
		char *s = json_dumps(json_object_get(rs->frozen, "pip"), 0);
		log_debug("frozen requirements: %s", s ? s : "");
		free(s);
	}
	req_list_free(&tr.list);
	free(tr.base_dir);
	pyinfo_free(&base);
	envv_free(&c.env);
	strv_free(c.extra_index);
	strv_free(c.extra_flags);
	free(c.venv);
	free(c.vpy);
	free(c.uv);
	free(g_probe_cache);
	g_probe_cache = NULL;
	gitcred_askpass_cleanup(&c.askpass);
	gitcred_free(&c.creds);
	return rc;
}

void
pyenv_result_free(struct pyenv_result *rs)
{
	free(rs->python);
	for (size_t i = 0; i < rs->n_run_prefix; i++)
		free(rs->run_prefix[i]);
	free(rs->run_prefix);
	free(rs->venv_dir);
	free(rs->sys_path);
	if (rs->frozen)
		json_decref(rs->frozen);
	memset(rs, 0, sizeof *rs);
}
