/*
 * container_choice — which image a task's container runs (spec §6.2, v3 §2/§9) and the
 * `${CLEARML_…}` template values (contract in container_choice.h).
 */
#include "supervisor/container_choice.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli.h"
#include "config.h"
#include "util.h"

/* ---- image selection (§6.2) ---- */

static int
rule_search(const char *pattern, const char *text)
{
	regex_t re;
	if (!pattern || regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	int ok = regexec(&re, text ? text : "", 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static char *
project_name(struct agent_ctx *ctx, const char *project_id)
{
	if (!project_id || !*project_id || !ctx->api)
		return NULL;
	json_t *req = json_pack("{s:[s],s:[s]}", "id", project_id, "only_fields", "name");
	json_t *data = NULL;
	struct api_error e;
	char *name = NULL;
	if (api_call(ctx->api, "projects.get_all", NULL, req, &data, &e) == 0) {
		const char *n = json_string_value(json_object_get(json_array_get(json_object_get(data, "projects"), 0), "name"));
		name = n ? xstrdup(n) : NULL;
	}
	json_decref(req);
	json_decref(data);
	return name;
}

/* The first agent.default_docker.match_rules entry that matches the task, or NULL. */
static const json_t *
match_rule(struct agent_ctx *ctx, const json_t *task)
{
	const json_t *rules = cfg_get(ctx->cfg->root, "agent.default_docker.match_rules");
	const json_t *script = json_object_get(task, "script");
	char *pname = NULL;
	int pname_done = 0;
	const json_t *found = NULL;
	size_t i;
	const json_t *r;
	json_array_foreach(rules, i, r) {
		const json_t *m = json_object_get(r, "match");
		if (!json_is_object(m) || !json_string_value(json_object_get(r, "image")))
			continue;
		int ok = 1;
		const json_t *ms = json_object_get(m, "script");
		const char *keys[] = {"repository", "branch", "binary"};
		for (size_t k = 0; ok && k < 3; k++) {
			const char *pat = json_string_value(json_object_get(ms, keys[k]));
			if (pat)
				ok = rule_search(pat, json_string_value(json_object_get(script, keys[k])));
		}
		const char *ppat = json_string_value(json_object_get(m, "project"));
		if (ok && ppat) {
			if (!pname_done) {
				pname = project_name(ctx, json_string_value(json_object_get(task, "project")));
				pname_done = 1;
			}
			ok = rule_search(ppat, pname);
		}
		const char *pid = json_string_value(json_object_get(m, "project_id"));
		if (ok && pid)
			ok = rule_search(pid, json_string_value(json_object_get(task, "project")));
		if (ok) {
			found = r;
			break;
		}
	}
	free(pname);
	return found;
}

static char *
join_args(const struct dargs *a)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	for (size_t i = 0; i < a->n; i++)
		buf_printf(&b, "%s%s", i ? " " : "", a->v[i]);
	buf_append(&b, "", 1);
	char *s = buf_steal(&b);
	buf_free(&b);
	return s;
}

static void
write_back_container(struct agent_ctx *ctx, const char *task_id, const char *image, const struct dargs *args,
                     const char *setup)
{
	char *a = join_args(args);
	json_t *req = json_pack("{s:s,s:b,s:{s:s,s:s,s:s}}", "task", task_id, "force", 1, "container", "image",
	                        image, "arguments", a, "setup_shell_script", setup ? setup : "");
	struct api_error e;
	if (api_call(ctx->api, "tasks.edit", "2.13", req, NULL, &e) < 0)
		log_warn("task %s: could not store the container it runs in: %s", task_id, e.msg);
	json_decref(req);
	free(a);
}

/* ---- templates ---- */

static char *
json_scalar(const json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "true" : "false");
	return NULL;
}

static const json_t *
json_path(const json_t *root, const char *path)
{
	char *copy = xstrdup(path);
	const json_t *v = root;
	char *save = NULL;
	for (char *p = strtok_r(copy, ".", &save); p && v; p = strtok_r(NULL, ".", &save))
		v = json_object_get(v, p);
	free(copy);
	return v;
}

static char *
tmpl_lookup(void *vp, const char *path)
{
	struct container_tmpl *tc = vp;
	if (str_starts_with(path, "TASK."))
		return json_scalar(json_path(tc->task, path + 5));
	if (str_starts_with(path, "CONFIG."))
		return json_scalar(cfg_get(tc->ctx->cfg->root, path + 7));
	if (strcmp(path, "WORKER_ID") == 0)
		return tc->worker_id ? xstrdup(tc->worker_id) : NULL;
	if (strcmp(path, "QUEUE_ID") == 0)
		return tc->queue_id ? xstrdup(tc->queue_id) : NULL;
	if (strcmp(path, "QUEUE_NAME") == 0)
		return tc->queue_name ? xstrdup(tc->queue_name) : NULL;
	if (strcmp(path, "PROJECT_ID") == 0)
		return json_scalar(json_object_get(tc->task, "project"));
	if (strcmp(path, "PROJECT_NAME") == 0)
		return project_name(tc->ctx, json_string_value(json_object_get(tc->task, "project")));
	return NULL;
}

void
container_resolve_templates(struct dargs *a, struct container_tmpl *tc, struct buf *notes)
{
	for (size_t i = 0; i < a->n; i++) {
		if (!strstr(a->v[i], "${CLEARML_"))
			continue;
		char *r = docker_template_resolve(a->v[i], tmpl_lookup, tc, notes);
		free(a->v[i]);
		a->v[i] = r;
	}
}


int
container_choose(struct agent_ctx *ctx, const json_t *task, const char *task_id, char **image,
                 struct dargs *img_args, struct buf *notes)
{
	struct container_mode *m = ctx->container;
	const json_t *root = ctx->cfg->root;
	const struct cli_opts *o = ctx->opts;
	const json_t *tc = json_object_get(task, "container");
	const char *timg = json_string_value(json_object_get(tc, "image"));
	const char *targs = json_string_value(json_object_get(tc, "arguments"));
	const char *setup = json_string_value(json_object_get(tc, "setup_shell_script"));
	char *timg_own = timg ? xstrdup(timg) : NULL;
	char *timg_s = timg_own ? str_trim(timg_own) : NULL; /* inside timg_own */
		int use_task = timg_s && *timg_s && !cfg_bool(root, "agent.disable_task_docker_override", 0) &&
	               !(o && o->force_docker);
	int write_back = 0;
	if (use_task) {
		*image = xstrdup(timg_s);
		if (targs && docker_split_args(targs, img_args) < 0)
			buf_printf(notes, "WARNING: task container arguments have an unbalanced quote: %s\n", targs);
	} else {
		const json_t *rule = m->cli_override ? NULL : match_rule(ctx, task);
		if (rule) {
			char *rj = json_dumps(rule, JSON_COMPACT);
			buf_printf(notes, "INFO: Matching default container with rule: %s\n", rj ? rj : "");
			free(rj);
			*image = xstrdup(json_string_value(json_object_get(rule, "image")));
			const json_t *ra = json_object_get(rule, "arguments");
			if (json_is_string(ra))
				docker_split_args(json_string_value(ra), img_args);
			size_t i;
			const json_t *e;
			json_array_foreach(ra, i, e)
				if (json_is_string(e))
					dargs_push(img_args, json_string_value(e));
			const json_t *ub = json_object_get(rule, "update_back_task");
			write_back = ub ? json_is_true(ub) : cfg_bool(root, "agent.default_docker.update_back_task", 1);
		} else {
			*image = xstrdup(m->image);
			dargs_extend(img_args, &m->args);
			write_back = !(timg_s && *timg_s); /* upstream writes the default back to the task */
		}
	}
	free(timg_own);
	if (write_back && ctx->api && task_id) /* task_id NULL: build --docker, the task is left alone */
		write_back_container(ctx, task_id, *image, img_args, setup);

	return use_task;
}
