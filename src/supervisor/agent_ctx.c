/*
 * agent_ctx — what `daemon` and `execute` both need before they can supervise a task: a logged-in
 * API session, the config dump the runner and the task read, per-instance directories, the task
 * control settings, and the `environment {}` section applied to our own environment (children
 * inherit it).
 *
 * Login at start must survive a server that is not up yet (agents are often started by the same
 * boot script as the server): a transport error or a 5xx prints one clear line naming the URL and
 * the cause and retries with jittered exponential back-off (1 s doubling to 30 s), interruptible
 * by SIGTERM through the cancel flag. Wrong credentials will not heal by waiting and fail at once.
 */
#include "supervisor/agent_ctx.h"

#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/worker_id.h"
#include "util.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

int
agent_parse_signal(const json_t *v, int dflt)
{
	if (v == NULL)
		return dflt;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		return n > 0 && n < NSIG ? (int)n : dflt;
	}
	if (!json_is_string(v))
		return dflt;
	const char *s = json_string_value(v);
	long long n;
	if (parse_long(s, 1, NSIG - 1, &n) == 0)
		return (int)n;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	static const struct {
		const char *name;
		int sig;
	} names[] = {{"TERM", SIGTERM}, {"INT", SIGINT}, {"KILL", SIGKILL}, {"HUP", SIGHUP},
	             {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].sig;
	return dflt;
}

char *
agent_worker_name(const json_t *root)
{
	const char *n = cfg_str(root, "agent.worker_name", NULL);
	if (n == NULL || *n == '\0')
		n = env_get("CLEARML_WORKER_NAME");
	if (n == NULL)
		n = env_get("TRAINS_WORKER_NAME");
	if (n)
		return xstrdup(n);
	char host[HOST_NAME_MAX + 1];
	if (gethostname(host, sizeof host) < 0)
		return xstrdup("localhost");
	host[HOST_NAME_MAX] = '\0';
	return xstrdup(host);
}

const char *
agent_explicit_worker_id(const json_t *root)
{
	const char *id = env_get("CLEARML_WORKER_ID");
	if (id == NULL)
		id = env_get("TRAINS_WORKER_ID");
	if (id == NULL)
		id = cfg_str(root, "agent.worker_id", NULL);
	return id && *id ? id : NULL;
}

double
agent_polling_interval(const json_t *root, double requested)
{
	double min = cfg_num(root, "agent.polling_interval_min_sec", 5.0);
	if (!(min >= 0.05))
		min = 0.05;
	if (!(requested >= min))
		requested = min;
	return requested;
}

void
agent_sleep_ms(int64_t ms, volatile sig_atomic_t *cancel)
{
	int64_t end = mono_ms() + ms;
	for (;;) {
		if (cancel && *cancel)
			return;
		int64_t left = end - mono_ms();
		if (left <= 0)
			return;
		if (left > 100)
			left = 100;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int
agent_looks_like_id(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!(s[n] == '-' || isdigit((unsigned char)s[n]) || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n >= 30;
}

int
agent_apply_environment_section(const json_t *root)
{
	json_t *env = cfg_get(root, "environment");
	int count = 0;
	if (env == NULL || json_is_null(env) || !cfg_bool(root, "agent.apply_environment", 1))
		return 0;
	const char *key;
	json_t *val;
	size_t idx;
	json_t *pairs = NULL;
	if (json_is_object(env)) {
		pairs = json_array();
		json_object_foreach(env, key, val)
			json_array_append_new(pairs, json_pack("{s:s,s:O}", "key", key, "value", val));
	} else if (json_is_array(env)) {
		pairs = json_incref(env);
	} else {
		log_warn("configuration 'environment' is neither an object nor a list; ignored");
		return 0;
	}
	json_array_foreach(pairs, idx, val) {
		const char *k = NULL;
		json_t *v = NULL;
		if (json_is_object(val)) {
			k = json_string_value(json_object_get(val, "key"));
			v = json_object_get(val, "value");
		} else if (json_is_array(val) && json_array_size(val) == 2) {
			k = json_string_value(json_array_get(val, 0));
			v = json_array_get(val, 1);
		}
		if (k == NULL || *k == '\0' || strchr(k, '=')) {
			log_warn("configuration 'environment': entry %zu has no usable name; ignored", idx);
			continue;
		}
		char *text = NULL;
		if (v == NULL || json_is_null(v))
			text = xstrdup("");
		else if (json_is_string(v))
			text = xstrdup(json_string_value(v));
		else if (json_is_integer(v))
			text = xasprintf("%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			text = xasprintf("%g", json_real_value(v));
		else if (json_is_boolean(v))
			text = xstrdup(json_is_true(v) ? "true" : "false");
		if (text == NULL) {
			log_warn("configuration 'environment': %s is not a plain value; ignored", k);
			continue;
		}
		setenv(k, text, 1);
		free(text);
		count++;
	}
	json_decref(pairs);
	return count;
}

int
agent_ctx_init(struct agent_ctx *ctx, struct config *cfg, const struct cli_opts *o,
               volatile sig_atomic_t *cancel, char *err, size_t errlen)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = cfg;
	ctx->opts = o;
	ctx->cancel = cancel;
	const json_t *root = cfg->root;

	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot find our own executable: %s", strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	ctx->self_exe = xstrdup(exe);

	double abort_sec = cfg_num(root, "agent.abort_poll_interval_sec", 2.0);
	if (!(abort_sec >= 0.1))
		abort_sec = 0.1;
	ctx->abort_poll_ms = (int)(abort_sec * 1000);
	ctx->ping_interval_sec = (int)cfg_int(root, "agent.task_ping_interval_sec", 60);
	if (ctx->ping_interval_sec < 1)
		ctx->ping_interval_sec = 60;
	ctx->kill_signal = agent_parse_signal(cfg_get(root, "agent.kill_signal"), SIGTERM);
	ctx->kill_grace_sec = (int)cfg_int(root, "agent.kill_grace_sec", 10);
	if (ctx->kill_grace_sec < 0)
		ctx->kill_grace_sec = 10;

	struct api_settings s;
	memset(&s, 0, sizeof s);
	api_settings_from_config(&s, root);
	if (s.host == NULL || *s.host == '\0') {
		snprintf(err, errlen, "no server configured (api.api_server)");
		api_settings_free(&s);
		return -1;
	}
	/* First attempts fail fast: our own loop retries with a visible message. */
	if (env_get("CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE") == NULL)
		s.initial_connect_retries = 1;
	ctx->api = api_session_new(&s);
	api_settings_free(&s);
	return 0;
}

void
agent_ctx_free(struct agent_ctx *ctx)
{
	if (ctx->config_dump)
		unlink(ctx->config_dump);
	if (ctx->api)
		api_session_free(ctx->api);
	free(ctx->config_dump);
	free(ctx->self_exe);
	free(ctx->state_dir);
	free(ctx->build_root);
	free(ctx->worker_id);
	memset(ctx, 0, sizeof *ctx);
}

static char *
slot_suffixed(char *base, int slot)
{
	if (slot <= 0)
		return base;
	size_t n = strlen(base);
	while (n > 1 && base[n - 1] == '/')
		base[--n] = '\0';
	char *s = xasprintf("%s.%d", base, slot);
	free(base);
	return s;
}

int
agent_ctx_set_instance(struct agent_ctx *ctx, const char *worker_id, int slot, char *err,
                       size_t errlen)
{
	const json_t *root = ctx->cfg->root;
	free(ctx->worker_id);
	ctx->worker_id = xstrdup(worker_id);

	char *venvs = cfg_path(root, "agent.venvs_dir");
	if (venvs == NULL)
		venvs = path_expand("~/.clearml/venvs-builds");
	char *state = cfg_path(root, "agent.state_dir");
	if (state == NULL)
		state = path_expand("~/.clearml/agent-state");
	free(ctx->build_root);
	free(ctx->state_dir);
	ctx->build_root = slot_suffixed(venvs, slot);
	ctx->state_dir = slot_suffixed(state, slot);
	/* The dumped config must agree with the slot's directories (§4.8: venvs_dir and
	 * docker_apt_cache get ".<slot>"). */
	cfg_set(ctx->cfg->root, "agent.venvs_dir", json_string(ctx->build_root));
	char *apt = cfg_path(root, "agent.docker_apt_cache");
	if (apt && slot > 0) {
		apt = slot_suffixed(apt, slot);
		cfg_set(ctx->cfg->root, "agent.docker_apt_cache", json_string(apt));
	}
	free(apt);
	const char *dirs[] = {ctx->build_root, ctx->state_dir};
	for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
		if (strpbrk(dirs[i], " \t\n")) {
			snprintf(err, errlen, "directory '%s' contains whitespace", dirs[i]);
			return -1;
		}
		if (mkdir_p(dirs[i], 0700) < 0) {
			snprintf(err, errlen, "cannot create directory %s: %s", dirs[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
transient(const struct api_error *e)
{
	return e->http_status == 0 || e->http_status >= 500 || e->http_status == 429;
}

int
agent_ctx_login(struct agent_ctx *ctx, int retry_forever)
{
	int64_t delay = BACKOFF_FIRST_MS;
	for (int attempt = 1;; attempt++) {
		struct api_error e;
		memset(&e, 0, sizeof e);
		if (api_login(ctx->api, &e) == 0) {
			if (attempt > 1)
				printf("Connected to the ClearML server after %d attempts\n", attempt);
			fflush(stdout);
			return 0;
		}
		if (!retry_forever || !transient(&e)) {
			fprintf(stderr, "\nclearml_agent: ERROR: could not log in to the ClearML server: %s\n",
			        e.msg);
			return -1;
		}
		int64_t wait = (int64_t)((double)delay * (0.75 + 0.5 * random_unit()));
		fprintf(stderr,
		        "clearml_agent: server unreachable: %s - retrying in %.1f s (attempt %d)\n",
		        e.msg, (double)wait / 1000.0, attempt);
		fflush(stderr);
		agent_sleep_ms(wait, ctx->cancel);
		if (ctx->cancel && *ctx->cancel)
			return -1;
		delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	}
}

/* Config dumps hold the credentials. Ours are named .clearml_agent.<pid>-XXXXXX.cfg; one whose
 * agent died without cleaning up (SIGKILL, power loss) is removed by the next agent. Python
 * agents' dumps (.clearml_agent.XXXXXX.cfg) are not ours to touch. */
static void
remove_stale_dumps(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		static const char pre[] = ".clearml_agent.";
		if (strncmp(e->d_name, pre, sizeof pre - 1) != 0 || !str_ends_with(e->d_name, ".cfg"))
			continue;
		char *end;
		errno = 0;
		long pid = strtol(e->d_name + sizeof pre - 1, &end, 10);
		if (errno || pid <= 1 || pid > INT32_MAX || *end != '-' || end == e->d_name + sizeof pre - 1)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
			unlink(path);
		free(path);
	}
	closedir(d);
}

int
agent_ctx_dump_config(struct agent_ctx *ctx, char *err, size_t errlen)
{
	remove_stale_dumps(pidfile_dir());
	char *path = xasprintf("%s/.clearml_agent.%d-XXXXXX.cfg", pidfile_dir(), (int)getpid());
	int fd = mkostemps(path, 4, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create the config dump in %s: %s", pidfile_dir(),
		         strerror(errno));
		free(path);
		return -1;
	}
	close(fd);
	if (config_dump_json(ctx->cfg->root, path) < 0) {
		snprintf(err, errlen, "cannot write the config dump %s", path);
		unlink(path);
		free(path);
		return -1;
	}
	free(ctx->config_dump);
	ctx->config_dump = path;
	return 0;
}
