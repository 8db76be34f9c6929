/*
 * container — docker mode's I/O half (contract in container.h).
 *
 * Layout of one task on the host:
 *   <build>.docker/               the host places the code here (vcs, diff); mounted at the
 *                                 container's build dir, so the venv built inside persists for
 *                                 in-place reuse by the next task of the same image + requirements
 *   <state>/<task>.docker/        io folder (0700), mounted at /.clearml_agent/io:
 *       task.json  result.json  code.json  clearml.conf (no credentials)  launch.json
 * The runner is mounted read-only at /.clearml_agent/bin/clearml-agent-runner.
 */
#include "supervisor/container.h"
#include "supervisor/container_choice.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cli.h"
#include "config.h"
#include "runner/runner.h"
#include "runner/task_env.h"
#include "runner/vcs.h"
#include "util.h"

#define C_ROOT "/.clearml_agent"
#define C_IO C_ROOT "/io"
#define C_RUNNER C_ROOT "/bin/clearml-agent-runner"
#define ENGINE_TIMEOUT_MS 30000

struct container {
	struct container_mode *m;
	char *name, *image;
	char *io_dir, *task_file, *result_file, *launch_file, *code_file, *conf_file;
	char *host_build;
	struct dargs secret_kv;   /* "K=V" for the client's environment */
};

/* ---- small helpers ---- */

static char **
cfg_list(const json_t *root, const char *path)
{
	const json_t *v = cfg_get(root, path);
	size_t n = json_is_array(v) ? json_array_size(v) : (json_is_string(v) ? 1 : 0);
	char **out = xcalloc(n + 1, sizeof *out);
	size_t k = 0;
	if (json_is_string(v)) {
		out[k++] = xstrdup(json_string_value(v));
	} else {
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e)
			if (json_is_string(e))
				out[k++] = xstrdup(json_string_value(e));
	}
	return out;
}

static void
list_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Run an engine command quietly; 0 when it exited 0. out (may be NULL) gets its output. */
static int
engine_run(char *const argv[], char **out)
{
	struct proc_opts o = {.out_fd = -1, .timeout_ms = ENGINE_TIMEOUT_MS, .keep_stderr_apart = 0};
	struct proc_result r;
	int ran = proc_run(argv, &o, &r);
	int ok = ran == 0 && proc_ok(&r);
	if (out)
		*out = r.output ? xstrdup(r.output) : xstrdup("");
	proc_result_free(&r);
	return ok ? 0 : -1;
}

/* ---- agent mode ---- */

static void
mode_free(struct container_mode *m)
{
	if (!m)
		return;
	free(m->engine_bin);
	free(m->image);
	free(m->runner_bin);
	dargs_free(&m->args);
	free(m);
}

int
container_attach(struct agent_ctx *ctx, char *err, size_t errlen)
{
	const struct cli_opts *o = ctx->opts;
	const json_t *root = ctx->cfg->root;
	struct container_mode *m = xcalloc(1, sizeof *m);
	m->engine = o->podman ? ENGINE_PODMAN : ENGINE_DOCKER;
	const char *bin_env = getenv(o->podman ? "CLEARML_AGENT_PODMAN_BIN" : "CLEARML_AGENT_DOCKER_BIN");
	m->engine_bin = xstrdup(bin_env && *bin_env ? bin_env : (o->podman ? "podman" : "docker"));
	const struct strlist *cli = o->podman ? &o->podman_args : &o->docker_args;
	if (o->docker && o->podman && (o->docker_args.n || o->podman_args.n)) {
		int same = o->docker_args.n == o->podman_args.n;
		for (size_t i = 0; same && i < o->docker_args.n; i++)
			same = strcmp(o->docker_args.v[i], o->podman_args.v[i]) == 0;
		if (!same) {
			snprintf(err, errlen, "--docker and --podman were given different images/arguments");
			free(m->engine_bin);
			free(m);
			return -1;
		}
	}
	if (cli->n > 0) {
		m->cli_override = 1;
		/* "IMAGE ARGS" in one word is split (§6.1) */
		struct dargs words = {0};
		for (size_t i = 0; i < cli->n; i++)
			if (i > 0 || docker_split_args(cli->v[i], &words) < 0 || words.n == 0)
				dargs_push(&words, cli->v[i]);
		m->image = xstrdup(words.v[0]);
		for (size_t i = 1; i < words.n; i++)
			dargs_push(&m->args, words.v[i]);
		dargs_free(&words);
	} else {
		const char *env_img = getenv("CLEARML_DOCKER_IMAGE");
		const char *img = env_img && *env_img ? env_img : cfg_str(root, "agent.default_docker.image", NULL);
		struct dargs words = {0};
		docker_split_args(img && *img ? img : "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu20.04", &words);
		m->image = xstrdup(words.n ? words.v[0] : "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu20.04");
		for (size_t i = 1; i < words.n; i++)
			dargs_push(&m->args, words.v[i]);
		dargs_free(&words);
		if (m->args.n == 0) {
			const json_t *a = cfg_get(root, "agent.default_docker.arguments");
			if (json_is_string(a)) {
				docker_split_args(json_string_value(a), &m->args);
			} else {
				size_t i;
				const json_t *e;
				json_array_foreach(a, i, e)
					if (json_is_string(e))
						dargs_push(&m->args, json_string_value(e));
			}
		}
	}
	const char *rb = getenv("CLEARML_AGENT_RUNNER_BIN");
	if (rb && *rb) {
		m->runner_bin = xstrdup(rb);
	} else {
		char *dir = path_dirname(ctx->self_exe ? ctx->self_exe : "/usr/local/bin/clearml-agent");
		m->runner_bin = xasprintf("%s/clearml-agent-runner", dir);
		free(dir);
	}
	if (access(m->runner_bin, X_OK) != 0) {
		snprintf(err, errlen, "docker mode needs the static runner %s (make builds it; set "
		         "CLEARML_AGENT_RUNNER_BIN to use another): %s", m->runner_bin, strerror(errno));
		mode_free(m);
		return -1;
	}
	char *probe_argv[] = {m->engine_bin, (char *)(uintptr_t) "--version", NULL};
	if (engine_run(probe_argv, NULL) < 0) {
		snprintf(err, errlen, "docker mode needs the %s command on PATH", m->engine_bin);
		mode_free(m);
		return -1;
	}
	char *shown = docker_display(m->args.v, NULL, 1);
	printf("Running in %s mode - using default %s image: %s %s\n",
	       m->engine == ENGINE_PODMAN ? "Podman" : "Docker", m->engine == ENGINE_PODMAN ? "podman" : "docker",
	       m->image, shown);
	fflush(stdout);
	free(shown);
	ctx->container = m;
	return 0;
}

void
container_detach(struct agent_ctx *ctx)
{
	mode_free(ctx->container);
	ctx->container = NULL;
}

static void
note_removed(struct buf *notes, const char *what, const struct dargs *removed)
{
	if (removed->n == 0)
		return;
	char *shown = docker_display(removed->v, NULL, 1);
	buf_printf(notes, "WARNING: %s: %s\n", what, shown);
	free(shown);
}

/* ---- per task ---- */

static int
host_has_nvidia(void)
{
	return access("/dev/nvidiactl", F_OK) == 0 || access("/proc/driver/nvidia/version", F_OK) == 0;
}

static void
add_mount(struct dargs *mounts, struct buf *notes, const char *host, const char *cpath, int ro, int create)
{
	if (!host || !*host || !cpath || !*cpath)
		return;
	char *h = path_expand(host);
	if (create)
		mkdir_p(h, 0755);
	const char *k8s = getenv("CLEARML_AGENT_K8S_HOST_MOUNT");
	char *mapped = docker_k8s_host_path(k8s, h);
	if (!mapped) {
		buf_printf(notes, "WARNING: %s is not under CLEARML_AGENT_K8S_HOST_MOUNT (%s): not mounted\n", h, k8s);
	} else {
		char *c = str_starts_with(cpath, "~/") ? xasprintf("/root/%s", cpath + 2) : xstrdup(cpath);
		dargs_pushf(mounts, "%s:%s%s", mapped, c, ro ? ":ro" : "");
		free(c);
	}
	free(mapped);
	free(h);
}

static char *
internal(const json_t *root, const char *key, const char *dflt)
{
	char *path = xasprintf("agent.docker_internal_mounts.%s", key);
	const char *v = cfg_str(root, path, dflt);
	free(path);
	return str_starts_with(v, "~/") ? xasprintf("/root/%s", v + 2) : xstrdup(v);
}

/* The config the task and the in-container runner read: the agent's, without credentials, with
 * the container's paths (§6.7). */
static int
write_container_config(const json_t *root, const char *path, const char *cbuild)
{
	json_t *c = json_deep_copy(root);
	json_t *api = json_object_get(c, "api");
	if (json_is_object(api))
		json_object_del(api, "credentials");
	json_t *agent = json_object_get(c, "agent");
	if (json_is_object(agent)) {
		json_object_del(agent, "git_user");
		json_object_del(agent, "git_pass");
		json_object_del(agent, "git");
		json_object_del(agent, "custom_build_script");
	}
	cfg_set(c, "agent.venvs_dir", json_string(cbuild));
	char *vc = internal(root, "venvs_cache", "/root/.clearml/venvs-cache");
	if (cfg_str(root, "agent.venvs_cache.path", NULL))
		cfg_set(c, "agent.venvs_cache.path", json_string(vc));
	free(vc);
	char *pd = internal(root, "pip_download", "/root/.clearml/pip-download-cache");
	cfg_set(c, "agent.pip_download_cache.path", json_string(pd));
	free(pd);
	char *sc = internal(root, "sdk_cache", "/clearml_agent_cache");
	cfg_set(c, "sdk.storage.cache.default_base_dir", json_string(sc));
	free(sc);
	cfg_set(c, "agent.python_binary", json_string(""));
	cfg_set(c, "agent.default_python", json_string(""));
	cfg_set(c, "agent.package_manager.system_site_packages",
	        json_boolean(env_bool("CLEARML_AGENT_FORCE_SYSTEM_SITE_PACKAGES", 1)));
	cfg_set(c, "agent.package_manager.conda_env_as_base_docker", json_false());
	char *text = json_dumps(c, JSON_INDENT(2));
	json_decref(c);
	int rc = text ? write_file_atomic(path, text, strlen(text), 0600) : -1;
	free(text);
	return rc;
}

static char *
random_lower(size_t n)
{
	unsigned char raw[64];
	if (n > sizeof raw)
		n = sizeof raw;
	random_bytes(raw, n);
	char *s = xcalloc(n + 1, 1);
	for (size_t i = 0; i < n; i++)
		s[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[raw[i] % 36];
	return s;
}

/* build --docker: the container's environment (-e switches of the arguments, the agent's own
 * variables) goes to <io>/build.env, which the runner exports (--env-file), instead of into the
 * container's config, which `commit` would copy into the image. `--env-file` switches are read
 * into it too. */
static int
image_build_env(struct container *c, struct dargs *args, const struct dargs *env, struct buf *notes)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	struct dargs kv = {0}, files = {0};
	docker_take_env_args(args, &kv, &files);
	for (size_t i = 0; i < env->n; i++)
		buf_printf(&b, "%s\n", env->v[i]);
	for (size_t i = 0; i < kv.n; i++) {
		const char *v = strchr(kv.v[i], '=') ? NULL : getenv(kv.v[i]);
		if (strchr(kv.v[i], '='))
			buf_printf(&b, "%s\n", kv.v[i]);
		else if (v)
			buf_printf(&b, "%s=%s\n", kv.v[i], v);
	}
	for (size_t i = 0; i < files.n; i++) {
		size_t len = 0;
		char *text = read_file(files.v[i], 1u << 20, &len);
		if (text) {
			buf_printf(notes, "INFO: build: the variables of --env-file %s go to the build only\n", files.v[i]);
			buf_printf(&b, "%s\n", text);
		} else {
			buf_printf(notes, "WARNING: build: cannot read --env-file %s: %s\n", files.v[i], strerror(errno));
		}
		free(text);
	}
	dargs_free(&kv);
	dargs_free(&files);
	char *path = xasprintf("%s/build.env", c->io_dir);
	int rc = write_file_atomic(path, b.data ? b.data : "", b.len, 0600);
	free(path);
	buf_free(&b);
	return rc;
}

struct container *
container_prepare(struct agent_ctx *ctx, const struct container_task *t, char *reason, size_t rlen)
{
	struct container_mode *m = ctx->container;
	const json_t *root = ctx->cfg->root;
	const struct cli_opts *o = ctx->opts;
	json_error_t je;
	json_t *task = json_load_file(t->task_file, 0, &je);
	if (!json_is_object(task)) {
		snprintf(reason, rlen, "cannot read the task file: %s", je.text);
		json_decref(task);
		return NULL;
	}
	struct container *c = xcalloc(1, sizeof *c);
	c->m = m;
	struct buf notes;
	buf_init(&notes, 1u << 20);

	/* §6.2 image and arguments */
	struct dargs img_args = {0};
	/* build --docker changes nothing on the task: no task id, no write-back */
	int use_task = container_choose(ctx, task, t->image_build ? NULL : t->task_id, &c->image, &img_args, &notes);
	const char *setup = json_string_value(json_object_get(json_object_get(task, "container"),
	                                                      "setup_shell_script"));

	/* agent arguments, templates, filters, forbidden switches, merge, ports (§6.5, v3 §9) */
	struct dargs extra = {0};
	const char *env_extra = getenv("CLEARML_AGENT_EXTRA_DOCKER_ARGS");
	if (env_extra && *env_extra) {
		docker_split_args(env_extra, &extra);
	} else {
		char **ex = cfg_list(root, "agent.extra_docker_arguments");
		for (size_t i = 0; ex[i]; i++) {
			struct buf b;
			buf_init(&b, 1u << 20);
			buf_put_expandvars(&b, ex[i]);
			buf_append(&b, "", 1);
			dargs_push(&extra, b.data);
			buf_free(&b);
		}
		list_free(ex);
	}
	struct container_tmpl tctx = {.ctx = ctx, .task = task, .worker_id = t->worker_id,
	                              .queue_id = t->queue_id, .queue_name = t->queue_name};
	container_resolve_templates(&img_args, &tctx, &notes);
	container_resolve_templates(&extra, &tctx, &notes);
	if (use_task) {
		const char *fenv = getenv("CLEARML_AGENT_DOCKER_ARGS_FILTERS");
		char **filters = NULL;
		if (fenv && *fenv) {
			struct dargs fw = {0};
			docker_split_args(fenv, &fw);
			filters = xcalloc(fw.n + 1, sizeof *filters);
			for (size_t i = 0; i < fw.n; i++)
				filters[i] = xstrdup(fw.v[i]);
			dargs_free(&fw);
		} else {
			filters = cfg_list(root, "agent.docker_args_filters");
		}
		struct dargs dropped = {0};
		docker_filter_args(&img_args, filters, &dropped);
		note_removed(&notes, "task docker arguments not allowed by agent.docker_args_filters", &dropped);
		dargs_free(&dropped);
		list_free(filters);
	}
	char **forbidden = cfg_get(root, "agent.forbidden_docker_args") ? cfg_list(root, "agent.forbidden_docker_args")
	                                                                 : NULL;
	if (!forbidden) {
		forbidden = xcalloc(2, sizeof *forbidden);
		forbidden[0] = xstrdup("entrypoint");
	}
	struct dargs removed = {0};
	docker_strip_forbidden(&img_args, forbidden, &removed);
	docker_strip_forbidden(&extra, forbidden, &removed);
	note_removed(&notes, "forbidden docker arguments removed (agent.forbidden_docker_args)", &removed);
	dargs_free(&removed);
	list_free(forbidden);
	char **protected_ = cfg_get(root, "agent.protected_docker_extra_args")
	                        ? cfg_list(root, "agent.protected_docker_extra_args") : NULL;
	if (!protected_) {
		static const char *const dflt[] = {"privileged", "security-opt", "network", "ipc"};
		protected_ = xcalloc(5, sizeof *protected_);
		for (size_t i = 0; i < 4; i++)
			protected_[i] = xstrdup(dflt[i]);
	}
	struct dargs merged = {0};
	docker_merge_args(&extra, &img_args, cfg_bool(root, "agent.docker_args_extra_precedes_task", 1),
	                  protected_, &merged);
	list_free(protected_);
	dargs_free(&extra);
	dargs_free(&img_args);
	const json_t *pr = cfg_get(root, "agent.docker_args_allowed_port_range");
	long plo = -1, phi = -1;
	if (json_is_array(pr) && json_array_size(pr) == 2) {
		plo = (long)json_integer_value(json_array_get(pr, 0));
		phi = (long)json_integer_value(json_array_get(pr, 1));
	} else if (json_is_string(pr)) {
		struct dargs w = {0};
		char *s = xstrdup(json_string_value(pr));
		char *dash = strchr(s, '-');
		long long a, b;
		if (dash) {
			*dash = '\0';
			if (parse_long(str_trim(s), 0, 65535, &a) == 0 && parse_long(str_trim(dash + 1), 0, 65535, &b) == 0) {
				plo = (long)a;
				phi = (long)b;
			}
		}
		free(s);
		dargs_free(&w);
	}
	if (plo >= 0) {
		struct dargs dropped = {0};
		docker_check_ports(&merged, plo, phi, &dropped);
		char what[128];
		snprintf(what, sizeof what, "host ports outside the allowed range %ld-%ld removed", plo, phi);
		note_removed(&notes, what, &dropped);
		dargs_free(&dropped);
	}

	/* GPUs (§6.4) */
	struct dargs gpu = {0};
	char *nvis = NULL;
	const char *vis = t->gpus ? t->gpus : getenv("NVIDIA_VISIBLE_DEVICES");
	if (!vis)
		vis = getenv("CUDA_VISIBLE_DEVICES");
	int explicit_list = vis && strcmp(vis, "all") != 0 && strcmp(vis, "none") != 0 && vis[0];
	docker_gpu_args(m->engine, vis, env_bool("CLEARML_DOCKER_SKIP_GPUS_FLAG", 0),
	                host_has_nvidia() || explicit_list, &gpu, &nvis);
	if (gpu.n == 0 && (!vis || strcmp(vis, "all") == 0) && !host_has_nvidia() &&
	    !env_bool("CLEARML_DOCKER_SKIP_GPUS_FLAG", 0))
		buf_printf(&notes, "INFO: no NVIDIA driver on this host: the container gets no GPUs\n");

	/* io folder, config, name */
	const char *sd = ctx->state_dir ? ctx->state_dir : ".";
	c->io_dir = xasprintf("%s/%s.docker", sd, t->task_id);
	rm_rf(c->io_dir);
	if (mkdir_p(c->io_dir, 0700) < 0) {
		snprintf(reason, rlen, "cannot create %s: %s", c->io_dir, strerror(errno));
		goto fail;
	}
	c->task_file = xasprintf("%s/task.json", c->io_dir);
	c->result_file = xasprintf("%s/result.json", c->io_dir);
	c->code_file = xasprintf("%s/code.json", c->io_dir);
	c->conf_file = xasprintf("%s/clearml.conf", c->io_dir);
	c->launch_file = xasprintf("%s/launch.json", c->io_dir);
	c->host_build = xasprintf("%s.docker", t->build_dir && *t->build_dir ? t->build_dir : "build");
	mkdir_p(c->host_build, 0755);
	char *cbuild = internal(root, "venv_build", "~/.clearml/venvs-builds");
	if (write_container_config(root, c->conf_file, cbuild) < 0) {
		snprintf(reason, rlen, "cannot write the container config: %s", strerror(errno));
		free(cbuild);
		goto fail;
	}
	/* the task JSON for the runners, with what the container side needs */
	json_t *cj = json_pack("{s:s,s:s,s:o,s:b}", "image", c->image, "setup_shell_script", setup ? setup : "",
	                       "extra_shell_script", json_array(), "opencv_libs",
	                       cfg_bool(root, "agent.docker_install_opencv_libs", 1));
	char **ess = cfg_list(root, "agent.extra_docker_shell_script");
	for (size_t i = 0; ess[i]; i++)
		json_array_append_new(json_object_get(cj, "extra_shell_script"), json_string(ess[i]));
	list_free(ess);
	json_object_set_new(task, "_container", cj);
	char *ttext = json_dumps(task, JSON_INDENT(2));
	int wr = ttext ? write_file_atomic(c->task_file, ttext, strlen(ttext), 0644) : -1;
	free(ttext);
	if (wr < 0) {
		snprintf(reason, rlen, "cannot write %s: %s", c->task_file, strerror(errno));
		free(cbuild);
		goto fail;
	}
	char *rnd = random_lower(64);
	/* a build never shares (and its clean-up never removes) a running task's container name */
	c->name = docker_container_name(t->image_build ? "clearml-build-{task_id}"
	                                : cfg_str(root, "agent.docker_container_name_format", NULL), t->task_id,
	                                t->worker_id, rnd);
	free(rnd);

	/* labels, environment, mounts */
	struct dargs labels = {0}, env = {0}, env_names = {0}, mounts = {0}, cmd = {0}, run = {0};
	dargs_pushf(&labels, "clearml-worker-id=%s", t->worker_id ? t->worker_id : "");
	dargs_pushf(&labels, "clearml-parent-worker-id=%s", ctx->worker_id ? ctx->worker_id : "");
	dargs_pushf(&labels, "clearml-task-id=%s", t->task_id);
	dargs_pushf(&labels, "clearml-agent-pid=%d", (int)getpid());
	const char *xl = getenv("CLEARML_AGENT_EXTRA_DOCKER_LABELS");
	if (xl && *xl)
		docker_split_args(xl, &labels);
	dargs_pushf(&env, "CLEARML_WORKER_ID=%s", t->worker_id ? t->worker_id : "");
	dargs_pushf(&env, "CLEARML_DOCKER_IMAGE=%s", c->image);
	dargs_pushf(&env, "CLEARML_TASK_ID=%s", t->task_id);
	dargs_pushf(&env, "CLEARML_CONFIG_FILE=%s/clearml.conf", C_IO);
	if (nvis)
		dargs_pushf(&env, "NVIDIA_VISIBLE_DEVICES=%s", nvis);
	static const struct { const char *key, *var; } hosts[] = {
		{"api.api_server", "CLEARML_API_HOST"}, {"api.web_server", "CLEARML_WEB_HOST"},
		{"api.files_server", "CLEARML_FILES_HOST"}};
	for (size_t i = 0; i < ARRAY_LEN(hosts); i++) {
		const char *h = cfg_str(root, hosts[i].key, NULL);
		if (h && *h)
			dargs_pushf(&env, "%s=%s", hosts[i].var, h);
	}
	const char *tags = getenv("CLEARML_WORKER_TAGS");
	if (tags && *tags)
		dargs_pushf(&env, "CLEARML_WORKER_TAGS=%s", tags);
	const char *skipv = getenv("CLEARML_AGENT_SKIP_PIP_VENV_INSTALL");
	if (skipv && *skipv)
		dargs_pushf(&env, "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=%s", skipv);
	/* secret values: by name, from the client's environment (never on argv) */
	const char *ak = cfg_str(root, "api.credentials.access_key", NULL);
	const char *sk = cfg_str(root, "api.credentials.secret_key", NULL);
	const char *tok = getenv("CLEARML_AUTH_TOKEN");
	if (ak && *ak) {
		dargs_push(&env_names, "CLEARML_API_ACCESS_KEY");
		dargs_pushf(&c->secret_kv, "CLEARML_API_ACCESS_KEY=%s", ak);
	}
	if (sk && *sk) {
		dargs_push(&env_names, "CLEARML_API_SECRET_KEY");
		dargs_pushf(&c->secret_kv, "CLEARML_API_SECRET_KEY=%s", sk);
	}
	if (tok && *tok) {
		dargs_push(&env_names, "CLEARML_AUTH_TOKEN");
		dargs_pushf(&c->secret_kv, "CLEARML_AUTH_TOKEN=%s", tok);
	}
	if (t->image_build && image_build_env(c, &merged, &env, &notes) < 0) {
		snprintf(reason, rlen, "cannot write the build environment file: %s", strerror(errno));
		free(cbuild);
		dargs_free(&labels);
		dargs_free(&env);
		dargs_free(&env_names);
		goto fail;
	}
	if (t->image_build) { /* nothing of these may end up in the committed image's config */
		dargs_free(&labels);
		dargs_free(&env);
		dargs_free(&env_names);
		dargs_free(&c->secret_kv);
	}
	add_mount(&mounts, &notes, c->io_dir, C_IO, 0, 0);
	if (!t->image_build) { /* build --docker copies the runner and the code in instead */
		add_mount(&mounts, &notes, m->runner_bin, C_RUNNER, 1, 0);
		add_mount(&mounts, &notes, c->host_build, cbuild, 0, 1);
	}
	if (mounts.n < (t->image_build ? 1u : 3u)) {
		snprintf(reason, rlen, "the task's files cannot be mounted into the container "
		         "(CLEARML_AGENT_K8S_HOST_MOUNT does not cover them)");
		free(cbuild);
		dargs_free(&labels);
		dargs_free(&env);
		dargs_free(&env_names);
		dargs_free(&mounts);
		goto fail;
	}
	char *cpath;
	char *vcache = cfg_path(root, "agent.venvs_cache.path");
	if (vcache) {
		cpath = internal(root, "venvs_cache", "/root/.clearml/venvs-cache");
		add_mount(&mounts, &notes, vcache, cpath, 0, 1);
		free(cpath);
		free(vcache);
	}
	char *pip = cfg_path(root, "agent.docker_pip_cache");
	cpath = internal(root, "pip_cache", "/root/.cache/pip");
	add_mount(&mounts, &notes, pip, cpath, 0, 1);
	free(cpath);
	free(pip);
	char *aptc = cfg_path(root, "agent.docker_apt_cache");
	cpath = internal(root, "apt_cache", "/var/cache/apt/archives");
	add_mount(&mounts, &notes, aptc, cpath, 0, 1);
	free(cpath);
	free(aptc);
	if (cfg_bool(root, "agent.pip_download_cache.enabled", 1)) {
		char *pdc = cfg_path(root, "agent.pip_download_cache.path");
		cpath = internal(root, "pip_download", "/root/.clearml/pip-download-cache");
		add_mount(&mounts, &notes, pdc, cpath, 0, 1);
		free(cpath);
		free(pdc);
	}
	char *sdk = cfg_path(root, "sdk.storage.cache.default_base_dir");
	cpath = internal(root, "sdk_cache", "/clearml_agent_cache");
	add_mount(&mounts, &notes, sdk, cpath, 0, 1);
	free(cpath);
	free(sdk);

	dargs_push(&cmd, C_RUNNER);
	dargs_push(&cmd, "--config-file");
	dargs_push(&cmd, C_IO "/clearml.conf");
	dargs_push(&cmd, "_runner");
	dargs_push(&cmd, "--task-file");
	dargs_push(&cmd, C_IO "/task.json");
	dargs_push(&cmd, "--result-file");
	dargs_push(&cmd, C_IO "/result.json");
	dargs_push(&cmd, "--build-dir");
	dargs_push(&cmd, t->image_build ? CONTAINER_IMAGE_BUILD : cbuild);
	dargs_push(&cmd, "--code-file");
	dargs_push(&cmd, C_IO "/code.json");
	dargs_push(&cmd, "--in-container");
	if (t->image_build) {
		dargs_push(&cmd, "--build-only");
		dargs_push(&cmd, "--venv-dir");
		dargs_push(&cmd, CONTAINER_IMAGE_VENV);
		dargs_push(&cmd, "--env-file");
		dargs_push(&cmd, C_IO "/build.env");
	}
	for (int i = 0; o && i < o->optimization && i < 4; i++)
		dargs_push(&cmd, "-O");
	if (o && o->log_level) {
		dargs_push(&cmd, "--log-level");
		dargs_push(&cmd, o->log_level);
	}
	if (o && o->standalone_mode)
		dargs_push(&cmd, "--standalone-mode");
	free(cbuild);

	struct docker_run_in in = {.engine_bin = m->engine_bin, .name = c->name, .labels = &labels, .gpu = &gpu,
	                           .args = &merged, .env = &env, .env_names = &env_names, .mounts = &mounts,
	                           .image = c->image, .command = &cmd};
	docker_build_run(&in, &run);
	char **hide = cfg_list(root, "agent.hide_docker_command_env_vars.extra_keys");
	int hide_on = cfg_bool(root, "agent.hide_docker_command_env_vars.enabled", 1) ||
	              env_bool("CLEARML_AGENT_DOCKER_ARGS_HIDE_ENV", 0);
	char *display = docker_display(run.v, hide, hide_on ? cfg_bool(root,
	                               "agent.hide_docker_command_env_vars.parse_embedded_urls", 1) : 0);
	list_free(hide);

	json_t *launch = json_object();
	json_t *jn = json_array(), *jpre = json_array(), *jexec = json_array();
	char *line = NULL, *save = NULL;
	buf_append(&notes, "", 1);
	for (line = strtok_r(notes.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		json_array_append_new(jn, json_string(line));
	json_t *rm = json_pack("{s:[s,s,s,s],s:b}", "argv", m->engine_bin, "rm", "-f", c->name, "quiet", 1);
	json_array_append_new(jpre, rm);
	if (cfg_bool(root, "agent.docker_force_pull", 0))
		json_array_append_new(jpre, json_pack("{s:[s,s,s],s:b}", "argv", m->engine_bin, "pull", c->image,
		                                      "required", 0));
	for (size_t i = 0; i < run.n; i++)
		json_array_append_new(jexec, json_string(run.v[i]));
	json_object_set_new(launch, "notes", jn);
	json_object_set_new(launch, "pre", jpre);
	json_object_set_new(launch, "exec", jexec);
	json_object_set_new(launch, "display", json_string(display));
	char *ltext = json_dumps(launch, JSON_INDENT(2));
	json_decref(launch);
	wr = ltext ? write_file_atomic(c->launch_file, ltext, strlen(ltext), 0600) : -1;
	free(ltext);
	free(display);
	dargs_free(&labels);
	dargs_free(&env);
	dargs_free(&env_names);
	dargs_free(&mounts);
	dargs_free(&cmd);
	dargs_free(&run);
	dargs_free(&merged);
	dargs_free(&gpu);
	free(nvis);
	buf_free(&notes);
	json_decref(task);
	if (wr < 0) {
		snprintf(reason, rlen, "cannot write the container launch file: %s", strerror(errno));
		container_free(c);
		return NULL;
	}
	return c;
fail:
	dargs_free(&merged);
	dargs_free(&gpu);
	free(nvis);
	buf_free(&notes);
	json_decref(task);
	container_free(c);
	return NULL;
}

const char *container_name(const struct container *c) { return c->name; }
const char *container_image(const struct container *c) { return c->image; }
const char *container_engine_bin(const struct container *c) { return c->m->engine_bin; }
const char *container_task_file(const struct container *c) { return c->task_file; }
const char *container_result_file(const struct container *c) { return c->result_file; }
const char *container_launch_file(const struct container *c) { return c->launch_file; }
const char *container_code_file(const struct container *c) { return c->code_file; }
const char *container_host_build_dir(const struct container *c) { return c->host_build; }

void
container_client_env(const struct container *c, struct envv *env)
{
	for (size_t i = 0; i < c->secret_kv.n; i++) {
		const char *kv = c->secret_kv.v[i];
		const char *eq = strchr(kv, '=');
		char *k = xstrndup(kv, (size_t)(eq - kv));
		envv_set(env, k, eq + 1);
		free(k);
	}
}

void
container_remove_by_name(const char *engine_bin, const char *name)
{
	if (!name || !*name)
		return;
	char *kill_argv[] = {(char *)(uintptr_t)engine_bin, (char *)(uintptr_t) "kill", (char *)(uintptr_t)name, NULL};
	engine_run(kill_argv, NULL);
	char *rm_argv[] = {(char *)(uintptr_t)engine_bin, (char *)(uintptr_t) "rm", (char *)(uintptr_t) "-f",
	                   (char *)(uintptr_t)name, NULL};
	engine_run(rm_argv, NULL);
}

void
container_kill(struct container *c)
{
	if (c && c->name)
		container_remove_by_name(c->m->engine_bin, c->name);
}

char *
container_exit_reason(struct container *c, int ws, int runner_reported)
{
	char *reason = NULL;
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	char *out = NULL;
	char *insp[] = {c->m->engine_bin, (char *)(uintptr_t) "inspect", (char *)(uintptr_t) "-f",
	                (char *)(uintptr_t) "{{.State.OOMKilled}} {{.State.Error}}", c->name, NULL};
	int have = engine_run(insp, &out) == 0;
	char *state_error = have && strchr(out, ' ') ? str_trim(strchr(out, ' ') + 1) : NULL;
	if (have && str_starts_with(out, "true")) {
		reason = xstrdup("container killed: out of memory (OOMKilled)");
	} else if (!runner_reported && code == 125 && state_error && *state_error) {
		/* created but not started: the engine says why (a GPU driver it lacks, a bad mount …) */
		reason = xasprintf("the container could not be started: %.300s", state_error);
	} else if (!runner_reported && code == 125) {
		char *img[] = {c->m->engine_bin, (char *)(uintptr_t) "image", (char *)(uintptr_t) "inspect", c->image, NULL};
		char *info[] = {c->m->engine_bin, (char *)(uintptr_t) "info", NULL};
		if (engine_run(info, NULL) < 0)
			reason = xasprintf("container engine (%s) is not reachable", c->m->engine_bin);
		else if (engine_run(img, NULL) < 0)
			reason = xasprintf("docker image not found or could not be pulled: %s", c->image);
		else
			reason = xstrdup("the container could not be started (docker run exit code 125)");
	} else if (!runner_reported && (code == 126 || code == 127)) {
		reason = xasprintf("the agent's runner could not start in image %s (exit code %d)", c->image, code);
	}
	free(out);
	container_remove_by_name(c->m->engine_bin, c->name);
	return reason;
}

void
container_free(struct container *c)
{
	if (!c)
		return;
	if (c->io_dir)
		rm_rf(c->io_dir);
	free(c->name);
	free(c->image);
	free(c->io_dir);
	free(c->task_file);
	free(c->result_file);
	free(c->launch_file);
	free(c->code_file);
	free(c->conf_file);
	free(c->host_build);
	dargs_free(&c->secret_kv);
	free(c);
}

static int
pid_alive(long pid)
{
	if (pid <= 1)
		return 0;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 0;
	char path[64], exe[4096];
	snprintf(path, sizeof path, "/proc/%ld/exe", pid);
	ssize_t n = readlink(path, exe, sizeof exe - 1);
	if (n < 0)
		return 1;
	exe[n] = '\0';
	return strstr(exe, "clearml-agent") != NULL;
}

int
container_sweep_orphans(struct agent_ctx *ctx)
{
	struct container_mode *m = ctx->container;
	if (!m || !ctx->worker_id)
		return 0;
	char *filter = xasprintf("label=clearml-parent-worker-id=%s", ctx->worker_id);
	/* the same question in each engine's template dialect */
	const char *fmt = m->engine == ENGINE_PODMAN
	                      ? "{{.Names}} {{index .Labels \"clearml-agent-pid\"}} {{index .Labels \"clearml-task-id\"}}"
	                      : "{{.Names}} {{.Label \"clearml-agent-pid\"}} {{.Label \"clearml-task-id\"}}";
	char *argv[] = {m->engine_bin, (char *)(uintptr_t) "ps", (char *)(uintptr_t) "-a", (char *)(uintptr_t) "--filter",
	                filter, (char *)(uintptr_t) "--format", (char *)(uintptr_t)fmt, NULL};
	char *out = NULL;
	int n = 0;
	if (engine_run(argv, &out) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			/* fields: name pid task */
			char *f[3] = {NULL, NULL, NULL};
			char *fs = NULL;
			size_t nf = 0;
			for (char *w = strtok_r(line, " ", &fs); w && nf < 3; w = strtok_r(NULL, " ", &fs))
				f[nf++] = w;
			if (nf < 1)
				continue;
			const char *name = f[0], *task = f[2] ? f[2] : "?";
			long long pid = 0;
			if (!f[1] || parse_long(f[1], 0, 1LL << 31, &pid) < 0)
				pid = 0;
			if (pid_alive((long)pid))
				continue;
			log_info("removing container %s of task %s: the agent that ran it (pid %lld) is gone", name,
			         task, pid);
			container_remove_by_name(m->engine_bin, name);
			n++;
		}
	}
	free(out);
	free(filter);
	return n;
}
