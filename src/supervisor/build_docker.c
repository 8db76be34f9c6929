/*
 * build_docker — `clearml-agent build --id T --docker [IMAGE [ARGS]] [--target NAME]
 * [--entry-point reuse_task|clone_task] [--force-docker]` (spec §1.5, §9): a container image NAME
 * (default task_id_<id>) holding the task's code, its Python environment built against the image's
 * own python, and the agent (supervisor + static runner), made without touching the task on the
 * server.
 *
 * How (instead of upstream's live container polled for `build.done=true`):
 *   1. docker mode's own preparation (container.c, image_build): the image of §6.2 (the task's
 *      container unless --force-docker, match rules, templates), the merged and filtered
 *      arguments, the credential-free config in an io folder; the -e variables go to a build.env
 *      file there, so nothing of the build's environment enters the image's config.
 *   2. the host runner places the code (vcs cache and git credentials stay on the host);
 *   3. `<engine> create` of that container, `cp` of the agent bundle (build/agent-bundle: the
 *      agent linked with its own loader and libraries, the static runner) to /.clearml_agent and of
 *      the placed code to /.clearml_agent/build, then `start -a`: the static runner builds the
 *      venv at /.clearml_agent/venv with the image's python and stops (--build-only);
 *   4. only when the runner says "ready": `commit` with the image's new ENTRYPOINT/ENV, then the
 *      build container is removed in every case. A failed build tags nothing.
 * The image:
 *   ENV CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=/.clearml_agent/venv/bin/python   (the env is used as is)
 *   --entry-point reuse_task|clone_task: ENV CLEARML_AGENT_FORCE_CODE_DIR=<the code>,
 *     ENTRYPOINT ["/.clearml_agent/bin/clearml-agent", "execute", "--id", T, "--standalone-mode"
 *     (, "--clone")], CMD []: `docker run NAME` supervises the task (status, log) against the server
 *     named at run time: a clearml.conf mounted at /root/clearml.conf, or CLEARML_API_HOST,
 *     CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY. No credential is in the image.
 *   otherwise the base image's ENTRYPOINT and CMD: a base image for docker mode, whose tasks find
 *     their packages already installed.
 * Size and layers of the result are printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "runner/runner.h"
#include "runner/vcs.h"
#include "runner/venv_cache.h"
#include "supervisor/agent_ctx.h"
#include "supervisor/build.h"
#include "supervisor/container.h"
#include "util.h"

#define ENGINE_MS 120000
#define PULL_MS 900000

/* SIGINT/SIGTERM: the build container is removed at once (fork + execve of `<engine> rm -f`, both
 * async-signal-safe), which ends whatever engine command is waiting on it; the flag sends the
 * normal flow to its clean-up (the io folder with build.env, the placed code). */
static volatile sig_atomic_t bd_interrupted;
static char *bd_rm_argv[5];
extern char **environ;

static void
bd_on_signal(int sig)
{
	int saved = errno;
	(void)sig;
	bd_interrupted = 1;
	if (bd_rm_argv[0]) {
		pid_t p = fork();
		if (p == 0) {
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execve(bd_rm_argv[0], bd_rm_argv, environ);
			_exit(127);
		}
		if (p > 0)
			while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
				;
	}
	errno = saved;
}

/* prog's path on PATH (prog itself when it has a '/' or is not found). Caller frees. */
static char *
path_lookup(const char *prog)
{
	const char *path = getenv("PATH");
	if (strchr(prog, '/') || path == NULL)
		return xstrdup(prog);
	char *copy = xstrdup(path), *save = NULL;
	char *found = NULL;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *cand = xasprintf("%s/%s", *d ? d : ".", prog);
		if (access(cand, X_OK) == 0)
			found = cand;
		else
			free(cand);
	}
	free(copy);
	return found ? found : xstrdup(prog);
}

static void
bd_signals(const char *engine_path, const char *name)
{
	bd_rm_argv[0] = (char *)(uintptr_t)engine_path;
	bd_rm_argv[1] = (char *)(uintptr_t) "rm";
	bd_rm_argv[2] = (char *)(uintptr_t) "-f";
	bd_rm_argv[3] = (char *)(uintptr_t)name;
	bd_rm_argv[4] = NULL;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = bd_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
bd_signals_off(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	bd_rm_argv[0] = NULL;
}

/* Run an engine command; its output captured into *out (may be NULL). 0 when it exited 0. */
static int
engine(char *const argv[], int timeout_ms, char **out)
{
	struct proc_opts po = {.out_fd = -1, .timeout_ms = timeout_ms};
	struct proc_result r;
	int ran = proc_run(argv, &po, &r);
	int ok = ran == 0 && proc_ok(&r);
	if (out)
		*out = xstrdup(r.output ? r.output : (ran < 0 ? strerror(errno) : ""));
	proc_result_free(&r);
	return ok ? 0 : -1;
}

static char *
trimmed(char *s)
{
	char *t = str_trim(s);
	size_t n = strlen(t);
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
		t[--n] = '\0';
	memmove(s, t, n + 1);
	return s;
}

/* The agent bundle: CLEARML_AGENT_BUNDLE_DIR, else next to our executable (build/agent-bundle,
 * as make leaves it), else <prefix>/lib/clearml-agent/bundle (make install). */
static char *
bundle_dir(const struct agent_ctx *ctx)
{
	const char *env = getenv("CLEARML_AGENT_BUNDLE_DIR");
	if (env && *env)
		return xstrdup(env);
	char *dir = path_dirname(ctx->self_exe ? ctx->self_exe : "/usr/local/bin/clearml-agent");
	char *b = xasprintf("%s/agent-bundle", dir);
	char *probe = xasprintf("%s/bin/clearml-agent", b);
	if (access(probe, X_OK) != 0) {
		free(b);
		b = xasprintf("%s/../lib/clearml-agent/bundle", dir);
	}
	free(probe);
	free(dir);
	return b;
}

static char *
json_text(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return s ? s : xstrdup("[]");
}

/* The base image's ENTRYPOINT or CMD as a Dockerfile JSON value ("[]" when it has none). */
static char *
image_config_json(const char *engine_bin, const char *image, const char *field)
{
	char *fmt = xasprintf("{{json .Config.%s}}", field);
	char *argv[] = {(char *)(uintptr_t)engine_bin, (char *)(uintptr_t) "image", (char *)(uintptr_t) "inspect",
	                (char *)(uintptr_t) "-f", fmt, (char *)(uintptr_t)image, NULL};
	char *out = NULL;
	char *res = NULL;
	if (engine(argv, ENGINE_MS, &out) == 0) {
		json_error_t je;
		json_t *v = json_loads(trimmed(out), JSON_DECODE_ANY, &je);
		if (json_is_array(v))
			res = json_text(v);
		else
			json_decref(v);
	}
	free(out);
	free(fmt);
	return res ? res : xstrdup("[]");
}

static void
print_notes(const json_t *launch)
{
	size_t i;
	const json_t *n;
	json_array_foreach(json_object_get(launch, "notes"), i, n)
		if (json_is_string(n))
			printf("%s\n", json_string_value(n));
}

/* The launch file's preparatory commands (remove a stale container, pull when forced). */
static int
run_pre(const json_t *launch)
{
	size_t i;
	const json_t *p;
	json_array_foreach(json_object_get(launch, "pre"), i, p) {
		const json_t *av = json_object_get(p, "argv");
		size_t n = json_array_size(av);
		if (n == 0)
			continue;
		char **argv = xcalloc(n + 1, sizeof *argv);
		for (size_t k = 0; k < n; k++)
			argv[k] = (char *)(uintptr_t)json_string_value(json_array_get(av, k));
		char *out = NULL;
		int ok = engine(argv, PULL_MS, &out) == 0;
		if (!ok && json_is_true(json_object_get(p, "required"))) {
			printf("%s failed: %s\n", argv[1] ? argv[1] : "engine", out);
			free(out);
			free(argv);
			return -1;
		}
		free(out);
		free(argv);
	}
	return 0;
}

static void
print_image_figures(const char *engine_bin, const char *name, const char *base)
{
	const char *imgs[2] = {name, base};
	long long size[2] = {-1, -1}, layers[2] = {-1, -1};
	for (int k = 0; k < 2; k++) {
		char *argv[] = {(char *)(uintptr_t)engine_bin, (char *)(uintptr_t) "image", (char *)(uintptr_t) "inspect",
		                (char *)(uintptr_t) "-f", (char *)(uintptr_t) "{{.Size}} {{len .RootFS.Layers}}",
		                (char *)(uintptr_t)imgs[k], NULL};
		char *out = NULL;
		if (engine(argv, ENGINE_MS, &out) == 0) {
			char *sp = strchr(trimmed(out), ' ');
			if (sp) {
				*sp = '\0';
				if (parse_long(out, 0, 1LL << 50, &size[k]) < 0 || parse_long(sp + 1, 0, 1 << 20, &layers[k]) < 0)
					size[k] = layers[k] = -1;
			}
		}
		free(out);
	}
	printf("Image %s: %.1f MB, %lld layers (base image %s: %.1f MB, %lld layers)\n", name,
	       (double)size[0] / 1e6, layers[0], base, (double)size[1] / 1e6, layers[1]);
}

int
build_image_name_ok(const char *s)
{
	/* [registry/]name[:tag], lower case: what docker accepts, and never an option */
	if (!s[0] || s[0] == '-' || strlen(s) > 255)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-/:@") == strlen(s);
}

int
build_docker(const struct cli_opts *o, struct config *cfg)
{
	char err[1024], reason[1024];
	struct agent_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	char *task_id = NULL, *tmp = NULL, *name = NULL, *bundle = NULL, *task_file = NULL;
	char *created_name = NULL, *engine_path = NULL;
	json_t *task = NULL, *tj = NULL, *launch = NULL, *result = NULL, *ctask = NULL;
	struct container *c = NULL;
	char **exec_argv = NULL;
	int rc = 1;
	if (o->target && !build_image_name_ok(o->target)) {
		fprintf(stderr, "clearml-agent build: error: --target %s is not a valid image name (lower case "
		                "letters, digits, . _ - / : @)\n", o->target);
		return 2;
	}
	agent_apply_environment_section(cfg->root);
	if (build_login_and_get_task(&ctx, cfg, o, &task_id, &task) < 0)
		goto out;
	name = o->target ? xstrdup(o->target) : xasprintf("task_id_%s", task_id);
	if (!build_image_name_ok(name)) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s is not a valid image name: give one with --target\n", name);
		goto out;
	}
	bundle = bundle_dir(&ctx);
	char *bagent = xasprintf("%s/bin/clearml-agent", bundle);
	int have_bundle = access(bagent, X_OK) == 0;
	free(bagent);
	if (!have_bundle) {
		fprintf(stderr, "\nclearml_agent: ERROR: build --docker needs the agent bundle %s (make builds "
		                "it; CLEARML_AGENT_BUNDLE_DIR names another)\n", bundle);
		goto out;
	}
	const char *tbase = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/.clearml_build.XXXXXX", tbase && *tbase ? tbase : "/tmp");
	if (mkdtemp(tmpl) == NULL) {
		fprintf(stderr, "\nclearml_agent: ERROR: cannot create a temporary folder: %s\n", strerror(errno));
		goto out;
	}
	tmp = xstrdup(tmpl);
	ctx.state_dir = xstrdup(tmp);
	if (container_attach(&ctx, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		goto out;
	}
	const char *engine_bin = ctx.container->engine_bin;

	/* 1. docker mode's preparation */
	tj = build_task_copy(task, o);
	task_file = xasprintf("%s/task-in.json", tmp);
	char *text = json_dumps(tj, JSON_INDENT(2));
	int wr = text ? write_file_atomic(task_file, text, strlen(text), 0600) : -1;
	free(text);
	if (wr < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: cannot write %s: %s\n", task_file, strerror(errno));
		goto out;
	}
	char *code_base = xasprintf("%s/code", tmp);
	struct container_task t = {.task_id = task_id, .worker_id = "build", .task_file = task_file,
	                           .build_dir = code_base, .image_build = 1};
	c = container_prepare(&ctx, &t, reason, sizeof reason);
	free(code_base);
	if (c == NULL) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", reason);
		goto out;
	}
	engine_path = path_lookup(engine_bin);
	bd_signals(engine_path, container_name(c));
	json_error_t je;
	launch = json_load_file(container_launch_file(c), 0, &je);
	const json_t *ex = json_object_get(launch, "exec");
	size_t n = json_array_size(ex);
	const char *image = container_image(c);
	if (n < 3 || strcmp(json_string_value(json_array_get(ex, 1)), "run") != 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: unexpected container launch file %s\n", container_launch_file(c));
		goto out;
	}
	printf("Building image %s for task id [%s] from image %s\n", name, task_id, image);
	print_notes(launch);
	fflush(stdout);

	/* 2. the code, placed on the host */
	ctask = json_load_file(container_task_file(c), 0, &je);
	char *placed = xasprintf("%s/placed.json", tmp);
	struct runner_args ra = {.task_file = container_task_file(c), .result_file = placed,
	                         .build_dir = container_host_build_dir(c), .code_file = container_code_file(c),
	                         .config_file = env_get("CLEARML_CONFIG_FILE"), .log_level = "INFO",
	                         .place_only = 1};
	int pr = ctask ? runner_run(&ra, cfg->root, ctask, NULL, NULL) : -1;
	json_t *pj = json_load_file(placed, 0, &je);
	free(placed);
	const char *pst = json_string_value(json_object_get(pj, "status"));
	if (pr != 0 || !pst || strcmp(pst, "ready") != 0) {
		const char *why = json_string_value(json_object_get(pj, "status_reason"));
		fprintf(stderr, "\nclearml_agent: ERROR: the code of task %s could not be placed: %s\n", task_id,
		        why ? why : "the runner failed");
		json_decref(pj);
		goto out;
	}
	json_decref(pj);

	/* 3. create, copy in, start */
	if (bd_interrupted || run_pre(launch) < 0)
		goto out;
	exec_argv = xcalloc(n + 1, sizeof *exec_argv);
	for (size_t i = 0; i < n; i++)
		exec_argv[i] = xstrdup(json_string_value(json_array_get(ex, i)));
	free(exec_argv[1]);
	exec_argv[1] = xstrdup("create");
	const char *display = json_string_value(json_object_get(launch, "display"));
	if (display) {
		const char *run = strstr(display, " run ");
		if (run)
			printf("%.*s create %s\n", (int)(run - display), display, run + 5);
	}
	fflush(stdout);
	char *out = NULL;
	if (engine(exec_argv, PULL_MS, &out) < 0) {
		char *img[] = {(char *)(uintptr_t)engine_bin, (char *)(uintptr_t) "image", (char *)(uintptr_t) "inspect",
		               (char *)(uintptr_t)image, NULL};
		char *dummy = NULL;
		int have_img = engine(img, ENGINE_MS, &dummy) == 0;
		free(dummy);
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n%s\n", have_img ? "the build container could not be created"
		        : "docker image not found or could not be pulled", trimmed(out));
		if (!have_img)
			fprintf(stderr, "image: %s\n", image);
		free(out);
		goto out;
	}
	free(out);
	created_name = xstrdup(container_name(c));
	if (bd_interrupted)
		goto out;
	/* one tree .clearml_agent (bundle + placed code, hard links) copied into "/", which exists in
	 * every image: engines differ on creating a missing destination */
	char *stage = xasprintf("%s/stage/" ".clearml_agent", tmp);
	char *stage_build = xasprintf("%s/build", stage);
	char *stage_parent = path_dirname(stage);
	int cp_ok = mkdir_p(stage_parent, 0700) == 0 && tree_link(bundle, stage, NULL) == 0 && tree_link(container_host_build_dir(c), stage_build, NULL) == 0;
	char *dst = xasprintf("%s:/", created_name);
	char *cp[] = {(char *)(uintptr_t)engine_bin, (char *)(uintptr_t) "cp", stage, dst, NULL};
	out = NULL;
	if (!cp_ok)
		out = xasprintf("cannot stage %s: %s", stage, strerror(errno));
	else
		cp_ok = engine(cp, ENGINE_MS, &out) == 0;
	free(stage);
	free(stage_parent);
	free(stage_build);
	free(dst);
	if (!cp_ok) {
		fprintf(stderr, "\nclearml_agent: ERROR: copying into the build container failed: %s\n", trimmed(out));
		free(out);
		goto out;
	}
	free(out);
	char *start[] = {(char *)(uintptr_t)engine_bin, (char *)(uintptr_t) "start", (char *)(uintptr_t) "-a",
	                 created_name, NULL};
	fflush(stdout);
	struct proc_opts so = {.out_fd = STDOUT_FILENO};
	struct proc_result sr;
	int ran = proc_run(start, &so, &sr);
	int started_ok = ran == 0 && proc_ok(&sr);
	proc_result_free(&sr);
	result = json_load_file(container_result_file(c), 0, &je);
	const char *status = json_string_value(json_object_get(result, "status"));
	if (bd_interrupted) {
		fprintf(stderr, "\nclearml_agent: ERROR: interrupted: no image was tagged %s\n", name);
		goto out;
	}
	if (!started_ok || status == NULL || strcmp(status, "ready") != 0) {
		const char *why = json_string_value(json_object_get(result, "status_reason"));
		fprintf(stderr, "\nclearml_agent: ERROR: building the environment of task %s in image %s failed: %s\n"
		                "No image was tagged %s\n", task_id, image,
		        why ? why : "the build container failed", name);
		goto out;
	}

	/* 4. commit */
	const char *python = json_string_value(json_object_get(result, "python"));
	const char *code_dir = json_string_value(json_object_get(result, "repo_root"));
	if (!code_dir)
		code_dir = json_string_value(json_object_get(result, "script_dir"));
	struct dargs commit = {0};
	dargs_push(&commit, engine_bin);
	dargs_push(&commit, "commit");
	dargs_push(&commit, "--change");
	dargs_pushf(&commit, "ENV CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=%s", python ? python : CONTAINER_IMAGE_VENV "/bin/python");
	dargs_push(&commit, "--change");
	dargs_pushf(&commit, "LABEL clearml.build.task-id=%s", task_id);
	char *entry = NULL, *cmd = NULL;
	if (o->entry_point) {
		int clone = strcmp(o->entry_point, "clone_task") == 0;
		json_t *ep = json_pack("[s,s,s,s,s]", CONTAINER_IMAGE_ROOT "/bin/clearml-agent", "execute", "--id", task_id,
		                       "--standalone-mode");
		if (clone)
			json_array_append_new(ep, json_string("--clone"));
		entry = json_text(ep);
		cmd = xstrdup("[]");
		dargs_push(&commit, "--change");
		dargs_pushf(&commit, "ENV CLEARML_AGENT_FORCE_CODE_DIR=%s", code_dir ? code_dir : CONTAINER_IMAGE_BUILD);
	} else {
		entry = image_config_json(engine_bin, image, "Entrypoint");
		cmd = image_config_json(engine_bin, image, "Cmd");
	}
	dargs_push(&commit, "--change");
	dargs_pushf(&commit, "ENTRYPOINT %s", entry);
	dargs_push(&commit, "--change");
	dargs_pushf(&commit, "CMD %s", cmd);
	dargs_push(&commit, created_name);
	dargs_push(&commit, name);
	free(entry);
	free(cmd);
	out = NULL;
	int committed = !bd_interrupted && engine(commit.v, PULL_MS, &out) == 0;
	dargs_free(&commit);
	if (!committed) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s commit failed: %s\n", engine_bin,
		        out ? trimmed(out) : "interrupted");
		free(out);
		goto out;
	}
	free(out);
	printf("\nImage %s built for task id [%s]\n", name, task_id);
	print_image_figures(engine_bin, name, image);
	if (o->entry_point) {
		printf("Run it with the server named at run time (no credentials are in the image):\n"
		       "    %s run --rm -v ~/clearml.conf:/root/clearml.conf:ro %s\n"
		       "or  %s run --rm -e CLEARML_API_HOST=<api> -e CLEARML_API_ACCESS_KEY=<key> "
		       "-e CLEARML_API_SECRET_KEY=<secret> %s\n"
		       "It runs %s, reporting to that server.\n", engine_bin, name, engine_bin, name,
		       strcmp(o->entry_point, "clone_task") == 0 ? "a new clone of the task" : "the task itself");
	} else {
		printf("A base image for tasks of this environment: run them in docker mode with this image "
		       "(their packages are installed already).\n");
	}
	fflush(stdout);
	rc = 0;
out:
	if (created_name) {
		container_remove_by_name(ctx.container ? ctx.container->engine_bin : "docker", created_name);
		free(created_name);
	}
	bd_signals_off();
	free(engine_path);
	if (bd_interrupted && rc == 0)
		rc = 1;
	if (exec_argv) {
		for (size_t i = 0; exec_argv[i]; i++)
			free(exec_argv[i]);
		free(exec_argv);
	}
	container_free(c);
	json_decref(launch);
	json_decref(result);
	json_decref(ctask);
	json_decref(tj);
	json_decref(task);
	if (tmp) {
		rm_rf(tmp);
		free(tmp);
	}
	free(task_file);
	free(task_id);
	free(name);
	free(bundle);
	agent_ctx_free(&ctx);
	return rc;
}
