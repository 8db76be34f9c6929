/*
 * secrets — the values masked in task output (contract in secrets.h).
 */
#include "supervisor/secrets.h"

#include <string.h>

#include "api.h"
#include "config.h"
#include "util.h"

#define MIN_EXPLICIT 4 /* a configured password is masked even when short */
#define MIN_BY_NAME 6  /* FOO_TOKEN=true must not mask every "true" */

extern char **environ;

static const char *const default_globs[] = {"*_TOKEN", "*_SECRET", "*_PASSWORD", "*_PASS",
                                            "*_SECRET_KEY"};

static void
add_url_password(struct redactor *r, const char *url)
{
	size_t n;
	const char *p = redact_url_password(url, &n);
	if (!p || n > REDACT_MAX_SECRET)
		return;
	char *pw = xstrndup(p, n);
	redact_add(r, pw, MIN_EXPLICIT);
	free(pw);
}

static int
name_is_secret(const char *name, const json_t *extra)
{
	if (redact_name_matches(name, default_globs, ARRAY_LEN(default_globs)))
		return 1;
	size_t i;
	json_t *g;
	json_array_foreach(extra, i, g) {
		const char *glob = json_string_value(g);
		if (glob && redact_name_matches(name, &glob, 1))
			return 1;
	}
	return 0;
}

void
secrets_collect(struct redactor *r, const json_t *root, const json_t *task)
{
	if (root && !cfg_bool(root, "agent.redact_task_output", 1))
		return;
	struct api_settings s;
	memset(&s, 0, sizeof s);
	if (root) {
		api_settings_from_config(&s, root);
		redact_add(r, s.secret_key, MIN_EXPLICIT);
		redact_add(r, s.auth_token, MIN_EXPLICIT);
		api_settings_free(&s);
		const json_t *gp = cfg_get(root, "agent.git_pass");
		if (json_is_string(gp))
			redact_add(r, json_string_value(gp), MIN_EXPLICIT);
		const json_t *idx = cfg_get(root, "agent.package_manager.extra_index_url");
		size_t i;
		json_t *u;
		if (json_is_string(idx))
			add_url_password(r, json_string_value(idx));
		json_array_foreach(idx, i, u) add_url_password(r, json_string_value(u));
	}
	redact_add(r, getenv("CLEARML_AGENT_GIT_PASS"), MIN_EXPLICIT);
	const json_t *extra = root ? cfg_get(root, "agent.redact_task_output_patterns") : NULL;
	if (!json_is_array(extra))
		extra = NULL;
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			continue;
		char *name = xstrndup(*e, (size_t)(eq - *e));
		if (name_is_secret(name, extra))
			redact_add(r, eq + 1, MIN_BY_NAME);
		free(name);
	}
	if (!task)
		return;
	add_url_password(r, json_string_value(json_object_get(json_object_get(task, "script"),
	                                                       "repository")));
	const char *key;
	json_t *v;
	json_t *tenv = json_object_get(task, "_environment");
	json_object_foreach(tenv, key, v) {
		if (json_is_string(v) && name_is_secret(key, extra))
			redact_add(r, json_string_value(v), MIN_BY_NAME);
	}
}
