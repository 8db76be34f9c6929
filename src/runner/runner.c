/*
 * runner — the `_runner` role (§5.1 steps 5–11): read the task JSON, put the code in place (git
 * checkout + diff, a literal script, or an existing directory), ask pyenv for the interpreter,
 * build the task's command line and environment (§5.10), write the result file atomically and
 * then execve the task, so the task keeps the runner's pid, process group and spool.
 *
 * Task fields are data: paths are checked to stay inside their base directory, revisions are
 * checked before git sees them, and nothing is ever passed through a shell (a `bash` task's own
 * script is run by the shell it asked for, as a file or a -c argument, never interpolated).
 */
#include "runner/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/commands.h"
#include "runner/gitcred.h"
#include "runner/pyenv.h"
#include "runner/task_env.h"
#include "runner/vcs.h"
#include "config.h"
#include "path_confine.h"
#include "util.h"

struct run_state {
	const struct runner_args *a;
	const json_t *cfg;
	const json_t *task;
	runner_ready_fn ready;
	void *ctx;
	const char *task_id;
	struct exec_info ei;
	char *repo_root;       /* NULL without a repository */
	char *script_dir;      /* absolute: where the task runs */
	char *wd_rel;          /* with a repository: the working dir relative to its root */
	char *entry;           /* entry point relative to script_dir, or "-m …"/"-c …" */
	char *commit;          /* resolved commit when the task had none */
	struct pyenv_result py;
	int have_py;
};

static void
flush_all(void)
{
	fflush(stdout);
	fflush(stderr);
}

static int
write_result(const struct run_state *st, json_t *result)
{
	int rc = 0;
	char *text = json_dumps(result, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL || write_file_atomic(st->a->result_file, text, strlen(text), 0600) < 0) {
		printf("clearml-agent: cannot write result file %s: %s\n", st->a->result_file, strerror(errno));
		rc = -1;
	}
	free(text);
	if (st->ready)
		st->ready(st->ctx, result);
	return rc;
}

/* Print the error, write the failed result, and give the exit status to use. */
static int
fail_task(struct run_state *st, const char *reason, const char *error)
{
	printf("\n%s\n", error ? error : reason);
	flush_all();
	json_t *r = json_pack("{s:s, s:s, s:s, s:n, s:n, s:n, s:b}", "status", "failed",
	                      "status_reason", reason, "error", error ? error : reason,
	                      "requirements", "version_num", "python", "cache_hit", 0);
	if (st->commit)
		json_object_set_new(r, "version_num", json_string(st->commit));
	write_result(st, r);
	json_decref(r);
	return RUNNER_EXIT_SETUP_FAILED;
}

static int
fail_taskf(struct run_state *st, const char *reason, const char *fmt, ...) ATTR_PRINTF(3, 4);

static int
fail_taskf(struct run_state *st, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	int rc = fail_task(st, reason, msg);
	free(msg);
	return rc;
}

static int
is_dir(const char *p)
{
	struct stat s;
	return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static int
is_file(const char *p)
{
	struct stat s;
	return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

/* Write a literal script unless the file exists. O_NOFOLLOW: a symlink in a repo must not
 * redirect the write. */
static int
write_literal(const char *path, const char *text, int only_if_missing)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (only_if_missing ? O_EXCL : O_TRUNC);
	int fd = open(path, flags, 0644);
	if (fd < 0)
		return (only_if_missing && errno == EEXIST) ? 0 : -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* write_literal inside a repository: the path may not leave root through a link. */
static int
write_literal_confined(const char *root, const char *rel, const char *text)
{
	int fd = confine_open(root, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* The file name of a literal script written without a repository (§5.3). */
static char *
literal_file_name(const struct exec_info *ei, enum task_binary kind)
{
	const char *dflt = kind == TASK_BIN_SHELL ? "untitled.sh" : "untitled.py";
	if (entry_is_flag(ei->entry_point)) {
		/* -m/-c entry points carry the file name in working_dir as "dir:file" */
		const char *colon = strchr(ei->working_dir, ':');
		char *b = colon ? path_basename(colon + 1) : xstrdup("");
		if (b[0] == '\0' || strcmp(b, "..") == 0 || strcmp(b, ".") == 0) {
			free(b);
			return xstrdup(dflt);
		}
		return b;
	}
	char *b = path_basename(ei->entry_point);
	if (b[0] == '\0' || strcmp(b, "..") == 0 || strcmp(b, ".") == 0) {
		free(b);
		return xstrdup(dflt);
	}
	return b;
}

/* Relative working dir inside base, checked; "" → ".". */
static char *
join_contained(const char *base, const char *rel, int *bad)
{
	*bad = 0;
	char *c = path_contained(rel[0] ? rel : ".");
	if (c == NULL) {
		*bad = 1;
		return NULL;
	}
	char *out = strcmp(c, ".") == 0 ? xstrdup(base) : xasprintf("%s/%s", base, c);
	free(c);
	return out;
}

static int
place_code(struct run_state *st, enum task_binary kind, int entry_forced)
{
	const struct exec_info *ei = &st->ei;
	const char *build = st->a->build_dir;
	enum diff_kind dk = vcs_diff_kind(ei->diff);
	const char *force_dir = env_get("CLEARML_AGENT_FORCE_CODE_DIR");
	int flag_entry = entry_is_flag(ei->entry_point);

	/* The entry point is relative to the working dir and must stay inside it. */
	if (!flag_entry && ei->entry_point[0]) {
		char *c = path_contained(ei->entry_point);
		if (c == NULL && !(entry_forced && ei->entry_point[0] == '/')) {
			return fail_taskf(st, "invalid entry point",
			                  "Invalid entry point '%s': it must be a path inside the working directory",
			                  ei->entry_point);
		}
		st->entry = c ? c : xstrdup(ei->entry_point);
	} else {
		st->entry = xstrdup(ei->entry_point);
	}

	if (!st->a->standalone) {
		char *code = xasprintf("%s/code", build);
		rm_rf(code);
		free(code);
	}

	int bad = 0;
	if (force_dir) {
		if (!is_dir(force_dir))
			return fail_taskf(st, "invalid code directory",
			                  "CLEARML_AGENT_FORCE_CODE_DIR '%s' is not a directory", force_dir);
		st->repo_root = xstrdup(force_dir);
		printf("Using code directory %s (CLEARML_AGENT_FORCE_CODE_DIR)\n", force_dir);
	} else if (ei->repository[0]) {
		struct vcs_request rq = {.config = st->cfg, .ei = ei, .build_dir = build,
		                         .standalone = st->a->standalone};
		struct vcs_result rs;
		if (vcs_checkout(&rq, &rs) < 0) {
			int rc = fail_task(st, rs.reason, rs.error);
			vcs_result_free(&rs);
			return rc;
		}
		st->repo_root = xstrdup(rs.repo_root);
		if (ei->version_num[0] == '\0' && rs.commit)
			st->commit = xstrdup(rs.commit);
		vcs_result_free(&rs);
	}

	if (st->repo_root) {
		if (ei->working_dir[0] == '/')
			return fail_taskf(st, "invalid working directory",
			                  "Invalid working directory '%s': it must be relative to the repository root",
			                  ei->working_dir);
		st->script_dir = join_contained(st->repo_root, ei->working_dir, &bad);
		if (bad)
			return fail_taskf(st, "invalid working directory",
			                  "Invalid working directory '%s': it must stay inside the repository",
			                  ei->working_dir);
		/* ... also through the repository's symbolic links, which may point anywhere */
		char *wdrel = path_contained(ei->working_dir[0] ? ei->working_dir : ".");
		char *resolved = NULL;
		if (!wdrel || confine_path(st->repo_root, wdrel, &resolved) < 0) {
			free(wdrel);
			return fail_taskf(st, "invalid working directory: leads outside the repository",
			                  "Invalid working directory '%s': it leads outside the repository "
			                  "through a symbolic link",
			                  ei->working_dir);
		}
		free(resolved);
		free(st->wd_rel);
		st->wd_rel = wdrel;
		if (dk == DIFF_GIT && !force_dir) {
			char reason[256];
			char *error = NULL;
			printf("Applying uncommitted changes\n");
			flush_all();
			if (vcs_apply_diff(st->repo_root, ei->diff, reason, sizeof reason, &error) < 0) {
				printf("%s\n", ei->diff);
				int rc = fail_task(st, reason, error);
				free(error);
				return rc;
			}
		} else if (dk == DIFF_LITERAL && !force_dir && !flag_entry && st->entry[0]) {
			/* every directory and the file itself are created without leaving the repository */
			if (confine_mkdir_p(st->repo_root, st->wd_rel, 0755) < 0)
				return fail_taskf(st, errno == EXDEV ? "invalid working directory: leads outside "
				                                       "the repository" : "invalid working directory",
				                  "Cannot create working directory %s: %s", st->script_dir,
				                  errno == EXDEV ? "it leads outside the repository" : strerror(errno));
			char *rel = strcmp(st->wd_rel, ".") == 0 ? xstrdup(st->entry)
			                                          : xasprintf("%s/%s", st->wd_rel, st->entry);
			char *dir = path_dirname(rel);
			if (strcmp(dir, ".") != 0 && strcmp(dir, "") != 0)
				(void)confine_mkdir_p(st->repo_root, dir, 0755);
			free(dir);
			int r = write_literal_confined(st->repo_root, rel, ei->diff);
			int err = errno;
			free(rel);
			if (r < 0)
				return fail_taskf(st, err == EXDEV ? "failed writing script: leads outside the "
				                                     "repository" : "failed writing script",
				                  "Cannot write the task script: %s",
				                  err == EXDEV ? "its path leads outside the repository through a "
				                                 "symbolic link" : strerror(err));
		}
	} else if (dk == DIFF_LITERAL) {
		char *code = xasprintf("%s/code", build);
		if (mkdir_p(code, 0755) < 0) {
			free(code);
			return fail_taskf(st, "failed writing script", "Cannot create %s/code: %s", build, strerror(errno));
		}
		char *name = literal_file_name(ei, kind);
		char *path = xasprintf("%s/%s", code, name);
		int r = write_literal(path, ei->diff, 0);
		free(path);
		if (r < 0) {
			free(name);
			free(code);
			return fail_taskf(st, "failed writing script", "Cannot write the task script: %s", strerror(errno));
		}
		printf("Task script written to %s/%s\n", code, name);
		st->script_dir = code;
		if (!flag_entry) {
			free(st->entry);
			st->entry = name;
		} else {
			free(name);
		}
	} else if (ei->working_dir[0] == '/') {
		/* no code to fetch: the entry point lives in an existing directory on this machine */
		st->script_dir = xstrdup(ei->working_dir);
	} else {
		printf("warning: task has no repository and no script; running from %s/code\n", build);
		char *code = xasprintf("%s/code", build);
		mkdir_p(code, 0755);
		st->script_dir = join_contained(code, ei->working_dir, &bad);
		free(code);
		if (bad)
			return fail_taskf(st, "invalid working directory",
			                  "Invalid working directory '%s': it must stay inside the code directory",
			                  ei->working_dir);
	}

	if (!is_dir(st->script_dir)) {
		char *reason = xasprintf("working directory not found: %.200s", st->script_dir);
		int rc = fail_taskf(st, reason, "Working directory not found: %s", st->script_dir);
		free(reason);
		return rc;
	}
	if (st->entry[0] == '\0')
		return fail_task(st, "no entry point", "Task has no entry point (script.entry_point is empty)");
	if (!flag_entry) {
		char *full = st->entry[0] == '/' ? xstrdup(st->entry) : xasprintf("%s/%s", st->script_dir, st->entry);
		int ok = is_file(full);
		free(full);
		if (!ok) {
			char *reason = xasprintf("entry point not found: %.200s", st->entry);
			int rc = fail_taskf(st, reason, "Entry point not found: %s (in %s)", st->entry, st->script_dir);
			free(reason);
			return rc;
		}
	}
	return 0;
}

/* §5.3 / §5.10: move the SDK's Task.init lines below __future__ imports, or add them with
 * CLEARML_AGENT_FORCE_TASK_INIT. Best effort: a file we cannot read or write is left alone. */
static void
patch_entry_script(struct run_state *st)
{
	if (entry_is_flag(st->entry) || !str_ends_with(st->entry, ".py"))
		return;
	char *full = st->entry[0] == '/' ? xstrdup(st->entry) : xasprintf("%s/%s", st->script_dir, st->entry);
	struct stat sb;
	size_t len = 0;
	char *text = lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) ? read_file(full, (size_t)16 << 20, &len) : NULL;
	if (text && strlen(text) == len) {
		char *patched = script_patch_task_init(text, env_bool("CLEARML_AGENT_FORCE_TASK_INIT", 0));
		if (patched && write_file_atomic(full, patched, strlen(patched), sb.st_mode & 0777) < 0)
			printf("warning: could not update %s: %s\n", full, strerror(errno));
		free(patched);
	}
	free(text);
	free(full);
}

/* §5.9 custom build script. Returns 1 when it supplied the interpreter/entry/working dir (st->py
 * filled, pyenv skipped), 0 for the standard flow, or an exit status > 1 with the result written
 * (the script failed: the runner exits with its code). */
static int
custom_build(struct run_state *st)
{
	const char *e = env_get("CLEARML_AGENT_CUSTOM_BUILD_SCRIPT");
	const char *c = cfg_str(st->cfg, "agent.custom_build_script", NULL);
	const char *spec = e ? e : (c && c[0] ? c : NULL);
	if (spec == NULL)
		return 0;
	char *script = path_expand(spec);
	if (!is_file(script)) {
		printf("warning: custom build script %s not found, using the standard flow\n", script);
		free(script);
		return 0;
	}
	char *outdir = xasprintf("%s/.custom-build", st->a->build_dir);
	rm_rf(outdir);
	mkdir_p(outdir, 0700);
	char *outfile = xasprintf("%s/output.json", outdir);
	char *task_json = json_dumps(st->task, JSON_COMPACT);
	struct envv env;
	envv_from_environ(&env);
	envv_set(&env, "CLEARML_TASK_SCRIPT_ENTRY", st->entry);
	envv_set(&env, "CLEARML_TASK_WORKING_DIR", st->script_dir);
	envv_set(&env, "CLEARML_VENV_PATH", st->a->build_dir);
	envv_set(&env, "CLEARML_GIT_ROOT", st->repo_root ? st->repo_root : "");
	envv_set(&env, "CLEARML_AGENT_CUSTOM_BUILD_SCRIPT", script);
	envv_set(&env, "CLEARML_CUSTOM_BUILD_TASK_CONFIG_JSON", task_json ? task_json : "{}");
	envv_set(&env, "CLEARML_CUSTOM_BUILD_OUTPUT", outfile);
	free(task_json);
	printf("Running custom build script %s\n", script);
	flush_all();
	char *const argv[] = {script, NULL};
	struct proc_opts o = {.cwd = st->script_dir, .envp = env.v, .out_fd = STDOUT_FILENO};
	struct proc_result r;
	int ran = proc_run(argv, &o, &r);
	envv_free(&env);
	int ret = 0;
	if (ran < 0 || !proc_ok(&r)) {
		int code = ran < 0 ? 127 : (r.exited ? r.exit_code : 128 + r.signal);
		fail_taskf(st, "custom build script failed", "Custom build script %s failed (exit code %d)",
		           script, code);
		ret = code > 1 ? code : RUNNER_EXIT_SETUP_FAILED;
		goto done;
	}
	json_error_t je;
	json_t *outj = json_load_file(outfile, 0, &je);
	const char *bin = json_string_value(json_object_get(outj, "binary"));
	const char *ep = json_string_value(json_object_get(outj, "entry_point"));
	const char *wd = json_string_value(json_object_get(outj, "working_dir"));
	if (!bin || !ep || !wd || access(bin, X_OK) != 0 || !is_dir(wd)) {
		printf("warning: custom build script gave no usable output (%s), using the standard flow\n",
		       outj ? "binary/entry_point/working_dir missing or not found" : je.text);
	} else {
		char *full = ep[0] == '/' ? xstrdup(ep) : xasprintf("%s/%s", wd, ep);
		if (!is_file(full)) {
			printf("warning: custom build script entry point %s not found, using the standard flow\n", full);
		} else {
			memset(&st->py, 0, sizeof st->py);
			st->py.python = xstrdup(bin);
			st->have_py = 1;
			free(st->script_dir);
			st->script_dir = xstrdup(wd);
			free(st->entry);
			st->entry = xstrdup(ep);
			ret = 1;
		}
		free(full);
	}
	json_decref(outj);
done:
	proc_result_free(&r);
	rm_rf(outdir);
	free(outdir);
	free(outfile);
	free(script);
	return ret;
}

/* .ipynb entry points are converted with nbconvert first (§5.10). */
static int
convert_notebook(struct run_state *st)
{
	if (!str_ends_with(st->entry, ".ipynb"))
		return 0;
	char *const argv[] = {st->py.python, (char *)(uintptr_t) "-m", (char *)(uintptr_t) "nbconvert",
	                      (char *)(uintptr_t) "--to", (char *)(uintptr_t) "python", st->entry, NULL};
	struct proc_opts o = {.cwd = st->script_dir, .out_fd = STDOUT_FILENO};
	struct proc_result r;
	flush_all();
	if (proc_run(argv, &o, &r) < 0 || !proc_ok(&r)) {
		proc_result_free(&r);
		return fail_taskf(st, "failed converting notebook", "Failed converting notebook %s to a script",
		                  st->entry);
	}
	proc_result_free(&r);
	size_t n = strlen(st->entry) - strlen(".ipynb");
	char *py = xasprintf("%.*s.py", (int)n, st->entry);
	free(st->entry);
	st->entry = py;
	return 0;
}

static void
print_freeze(const json_t *frozen)
{
	printf("Summary - installed python packages:\n");
	if (!json_is_object(frozen) || json_object_size(frozen) == 0) {
		printf("No freeze information available\n");
		return;
	}
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)(uintptr_t)frozen, k, v) {
		printf("%s:\n", k);
		size_t i;
		const json_t *line;
		if (json_is_array(v)) {
			json_array_foreach(v, i, line)
				if (json_is_string(line))
					printf("- %s\n", json_string_value(line));
		} else if (json_is_string(v)) {
			printf("- %s\n", json_string_value(v));
		}
	}
}

static int
locale_is_ascii(void)
{
	const char *old = setlocale(LC_CTYPE, NULL);
	char *saved = old ? xstrdup(old) : NULL;
	int ascii = 0;
	if (setlocale(LC_CTYPE, "") != NULL) {
		const char *cs = nl_langinfo(CODESET);
		ascii = cs && (strcmp(cs, "ANSI_X3.4-1968") == 0 || strcasecmp(cs, "ascii") == 0);
	}
	if (saved) {
		setlocale(LC_CTYPE, saved);
		free(saved);
	}
	return ascii;
}

int
runner_run(const struct runner_args *args, const json_t *config_root, const json_t *task,
           runner_ready_fn ready, void *ctx)
{
	/* work on an absolute, existing build dir: paths end up in PYTHONPATH and the task's cwd */
	struct runner_args local = *args;
	const struct runner_args *a = &local;
	struct run_state st = {.a = a, .cfg = config_root, .task = task, .ready = ready, .ctx = ctx};
	int rc = RUNNER_EXIT_SETUP_FAILED;
	struct argvec argv = {0};
	struct envv env = {0};
	char err[512];
	char *abs_build = NULL;
	if (local.build_dir == NULL || local.build_dir[0] == '\0' || mkdir_p(local.build_dir, 0755) < 0 ||
	    (abs_build = realpath(local.build_dir, NULL)) == NULL) {
		rc = fail_taskf(&st, "invalid build directory", "Cannot use build directory '%s': %s",
		                local.build_dir ? local.build_dir : "", strerror(errno));
		return rc;
	}
	local.build_dir = abs_build;

	const json_t *idv = json_object_get(task, "id");
	st.task_id = json_is_string(idv) ? json_string_value(idv) : "";
	if (exec_info_from_task(task, &st.ei, err, sizeof err) < 0) {
		rc = fail_taskf(&st, "failed parsing task", "Failed parsing task: %s", err);
		goto out;
	}
	const char *force_exec = env_get("CLEARML_AGENT_FORCE_EXEC_SCRIPT");
	exec_info_force_script(&st.ei, force_exec);
	exec_info_print(stdout, st.task_id, &st.ei);

	if (strchr(st.ei.working_dir, '\\'))
		printf("warning: working_dir '%s' contains backslashes (a Windows path?)\n", st.ei.working_dir);
	if (env_get("CLEARML_AGENT_EXEC_USER"))
		printf("warning: CLEARML_AGENT_EXEC_USER is accepted but not supported: the task runs as the "
		       "agent's user\n");
	int unknown = 0;
	enum task_binary kind = task_binary_kind(st.ei.binary, &unknown);
	if (unknown)
		printf("warning: unsupported binary '%s', using python\n", st.ei.binary);
	flush_all();

	if ((rc = place_code(&st, kind, force_exec != NULL)) != 0)
		goto out;
	rc = RUNNER_EXIT_SETUP_FAILED;
	if (kind == TASK_BIN_PYTHON)
		patch_entry_script(&st);

	int cb = custom_build(&st);
	if (cb > 1) {
		rc = cb;
		goto out;
	}
	struct pyenv_request prq = {.config = config_root, .task = task, .build_dir = a->build_dir,
	                            .repo_root = st.repo_root, .script_dir = st.script_dir,
	                            .standalone = a->standalone};
	flush_all();
	if (cb == 1) {
		kind = TASK_BIN_PYTHON;
	} else if (pyenv_setup(&prq, &st.py) < 0) {
		st.have_py = 1;
		rc = fail_task(&st, st.py.reason[0] ? st.py.reason : "failed setting up python environment",
		               st.py.reason[0] ? st.py.reason : "Failed setting up the python environment");
		goto out;
	}
	st.have_py = 1;
	if (kind == TASK_BIN_PYTHON && (rc = convert_notebook(&st)) != 0)
		goto out;
	rc = RUNNER_EXIT_SETUP_FAILED;

	printf("Running task id [%s]:\n", st.task_id);
	const char *shell = env_get("SHELL");
	struct argv_spec spec = {.kind = kind, .python = st.py.python, .run_prefix = st.py.run_prefix,
	                         .n_run_prefix = st.py.n_run_prefix, .optimization = a->optimization,
	                         .shell = shell ? shell : (st.ei.binary[0] ? st.ei.binary : "/bin/sh"),
	                         .entry_point = st.entry};
	if (task_build_argv(&spec, &argv, err, sizeof err) < 0) {
		rc = fail_taskf(&st, "invalid entry point", "Invalid entry point '%s': %s", st.entry, err);
		goto out;
	}
	char *shown = argv_display(argv.v);
	printf("[%s]$ %s\n\n", st.script_dir, shown);
	free(shown);
	print_freeze(st.py.frozen);
	printf("\nEnvironment setup completed successfully\n\n");

	/* the task's environment */
	envv_from_environ(&env);
	char *entry_dir = NULL;
	if (!entry_is_flag(st.entry)) {
		char *full = st.entry[0] == '/' ? xstrdup(st.entry) : xasprintf("%s/%s", st.script_dir, st.entry);
		entry_dir = path_dirname(full);
		free(full);
	}
	const char *pp_first = st.script_dir;
	if (st.repo_root && cfg_bool(config_root, "agent.force_git_root_python_path", 0))
		pp_first = st.repo_root;
	const json_t *task_env = NULL;
	if (cfg_bool(config_root, "agent.enable_task_env", 0))
		task_env = json_object_get(task, "_environment");
	struct task_env_params tp = {
		.task_id = st.task_id,
		.log_level = a->log_level ? a->log_level : "INFO",
		.config_file = a->config_file,
		.pythonpath_extra_first = pp_first,
		.entry_dir = entry_dir,
		.sys_path = st.py.sys_path,
		.extra_python_path = env_get("CLEARML_AGENT_EXTRA_PYTHON_PATH"),
		.task_environment = task_env,
		.set_ioencoding = locale_is_ascii(),
	};
	task_env_apply(&env, &tp);
	free(entry_dir);

	json_t *result = json_pack("{s:s, s:O?, s:s?, s:s, s:b}", "status", "ready", "requirements",
	                           st.py.frozen, "version_num", st.commit, "python", st.py.python,
	                           "cache_hit", st.py.cache_hit);
	if (result == NULL) {
		rc = fail_task(&st, "internal error", "cannot build the result");
		goto out;
	}
	if (json_object_get(result, "requirements") == NULL)
		json_object_set_new(result, "requirements", json_null());
	if (json_object_get(result, "version_num") == NULL)
		json_object_set_new(result, "version_num", json_null());
	int wr = write_result(&st, result);
	json_decref(result);
	if (wr < 0) {
		rc = RUNNER_EXIT_SETUP_FAILED;
		goto out;
	}

	printf("Starting Task Execution:\n\n");
	flush_all();
	if (chdir(st.script_dir) < 0) {
		rc = fail_taskf(&st, "working directory not found", "Cannot enter %s: %s", st.script_dir,
		                strerror(errno));
		goto out;
	}
	execvpe(argv.v[0], argv.v, env.v);
	int e = errno;
	rc = fail_taskf(&st, "failed starting task", "Failed starting the task: %s: %s", argv.v[0], strerror(e));
out:
	flush_all();
	argvec_free(&argv);
	envv_free(&env);
	if (st.have_py)
		pyenv_result_free(&st.py);
	exec_info_free(&st.ei);
	free(st.repo_root);
	free(st.script_dir);
	free(st.wd_rel);
	free(st.entry);
	free(st.commit);
	free(abs_build);
	return rc;
}

/* ---- the `_runner` sub-command ---- */

static void
runner_usage(void)
{
	fprintf(stderr, "usage: clearml-agent _runner --task-file F --result-file R --build-dir D "
	                "[-O ...] [--log-level L] [--standalone-mode]\n");
}

static const char *
opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) == 0 && a[n] == '=')
		return a + n + 1;
	if (strcmp(a, name) == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

int
cmd_runner(int argc, char **argv)
{
	struct runner_args a = {0};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--task-file")))
			a.task_file = v;
		else if ((v = opt_value(argc, argv, &i, "--result-file")))
			a.result_file = v;
		else if ((v = opt_value(argc, argv, &i, "--build-dir")))
			a.build_dir = v;
		else if ((v = opt_value(argc, argv, &i, "--log-level")))
			a.log_level = v;
		else if (strcmp(arg, "--standalone-mode") == 0)
			a.standalone = 1;
		else if (arg[0] == '-' && arg[1] == 'O' && strspn(arg + 1, "O") == strlen(arg + 1))
			a.optimization += (int)strlen(arg + 1);
		else {
			fprintf(stderr, "clearml-agent _runner: unknown argument: %s\n", arg);
			runner_usage();
			return 2;
		}
	}
	if (!a.task_file || !a.result_file || !a.build_dir) {
		runner_usage();
		return 2;
	}
	a.config_file = env_get("CLEARML_CONFIG_FILE");

	struct run_state st = {.a = &a};
	json_error_t jerr;
	json_t *task = json_load_file(a.task_file, 0, &jerr);
	if (task == NULL)
		return fail_taskf(&st, "failed reading task", "Failed reading task file %s: %s", a.task_file, jerr.text);
	/* accept the tasks.get_by_id data too ({"task": {...}}) */
	json_t *inner = json_object_get(task, "task");
	if (json_is_object(inner) && json_object_get(task, "id") == NULL) {
		json_incref(inner);
		json_decref(task);
		task = inner;
	}
	struct config cfg;
	char err[1024];
	if (config_load(&cfg, NULL, err, sizeof err) < 0) {
		int rc = fail_taskf(&st, "failed loading configuration", "Failed loading configuration: %s", err);
		json_decref(task);
		return rc;
	}
	int rc = runner_run(&a, cfg.root, task, NULL, NULL);
	json_decref(task);
	config_free(&cfg);
	return rc;
}
