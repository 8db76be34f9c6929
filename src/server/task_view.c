/*
 * task_view — the reply view of a stored task for the requested version: nulls left out, tags
 * sorted, and the copies older clients read (below 2.13 execution.docker_cmd, execution.model
 * and output.model; below 2.9 execution.parameters and model_desc from the legacy sections).
 */
#include <string.h>

#include "server/svc_tasks.h"
#include "util.h"

static int
cmp_artifacts(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(sget(x, "key") ? sget(x, "key") : "", sget(y, "key") ? sget(y, "key") : "");
	return c ? c : strcmp(sget(x, "mode") ? sget(x, "mode") : "", sget(y, "mode") ? sget(y, "mode") : "");
}

/* execution.artifacts in key order, as the real server returns them whatever order they were
 * given in (it keeps them keyed by key + mode) */
void
task_sort_artifacts(json_t *exec)
{
	json_t *arts = json_object_get(exec, "artifacts");
	if (!json_is_array(arts))
		return;
	size_t n = json_array_size(arts);
	json_t **items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(arts, i));
	qsort(items, n, sizeof(*items), cmp_artifacts);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, items[i]);
	free(items);
	json_object_set_new(exec, "artifacts", out);
}

json_t *
task_container_from_docker_cmd(const char *docker_cmd)
{
	while (*docker_cmd == ' ')
		docker_cmd++;
	size_t n = strcspn(docker_cmd, " \t");
	char *image = xstrndup(docker_cmd, n);
	const char *rest = docker_cmd + n;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	json_t *c = json_pack("{s:s,s:s}", "image", image, "arguments", rest);
	free(image);
	return c;
}

void
task_view_apply(json_t *t, int maj, int min)
{
	/* fields set to null are simply left out, as the real server does */
	const char *key;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(t, tmp, key, val)
		if (json_is_null(val))
			json_object_del(t, key);
	json_t *tags = json_object_get(t, "tags");
	if (json_is_array(tags))
		json_object_set_new(t, "tags", sorted_tags(tags));
	json_t *st = json_object_get(t, "system_tags");
	if (json_is_array(st))
		json_object_set_new(t, "system_tags", sorted_tags(st));
	last_metrics_sort(t);
	task_sort_artifacts(json_object_get(t, "execution"));
	int below_2_13 = maj < 2 || (maj == 2 && min < 13);
	int below_2_9 = maj < 2 || (maj == 2 && min < 9);
	if (below_2_13) {
		json_t *exec = json_object_get(t, "execution");
		if (!json_is_object(exec)) {
			exec = json_object();
			json_object_set_new(t, "execution", exec);
		}
		json_t *cont = json_object_get(t, "container");
		const char *image = sget(cont, "image");
		const char *args = sget(cont, "arguments");
		if (image && *image) {
			char *cmd = args && *args ? xasprintf("%s %s", image, args) : xstrdup(image);
			json_object_set_new(exec, "docker_cmd", json_string(cmd));
			free(cmd);
		}
		json_t *in = json_object_get(json_object_get(t, "models"), "input");
		const char *m = sget(json_array_get(in, 0), "model");
		if (m)
			json_object_set_new(exec, "model", json_string(m));
		json_t *outm = json_object_get(json_object_get(t, "models"), "output");
		size_t on = json_array_size(outm);
		const char *om = on ? sget(json_array_get(outm, on - 1), "model") : NULL;
		if (om) {
			json_t *o = json_object_get(t, "output");
			if (!json_is_object(o)) {
				o = json_object();
				json_object_set_new(t, "output", o);
			}
			json_object_set_new(o, "model", json_string(om));
		}
	}
	if (below_2_9) {
		json_t *exec = json_object_get(t, "execution");
		json_t *params = json_object();
		const char *k;
		json_t *v;
		static const char *const legacy_sections[] = {"Args", "TF_DEFINE", NULL};
		for (const char *const *sec = legacy_sections; *sec; sec++) {
			json_t *args = json_object_get(json_object_get(t, "hyperparams"), *sec);
			int tf = !strcmp(*sec, "TF_DEFINE");
			json_object_foreach(args, k, v) {
				const char *type = sget(v, "type");
				if (!type || strcmp(type, "legacy") != 0 || !json_object_get(v, "value"))
					continue;
				char *name = xasprintf("%s%s", tf ? "TF_DEFINE/" : "",
				                       sget(v, "name") ? sget(v, "name") : k);
				json_object_set(params, name, json_object_get(v, "value"));
				free(name);
			}
		}
		json_t *desc = json_object();
		json_object_foreach(json_object_get(t, "configuration"), k, v) {
			const char *type = sget(v, "type");
			if (type && !strcmp(type, "legacy") && json_object_get(v, "value"))
				json_object_set(desc, k, json_object_get(v, "value"));
		}
		if (json_is_object(exec)) {
			json_object_set_new(exec, "parameters", params);
			json_object_set_new(exec, "model_desc", desc);
		} else {
			json_decref(params);
			json_decref(desc);
		}
	}
}

json_t *
task_view(const json_t *task, int maj, int min)
{
	json_t *t = json_deep_copy(task);
	task_view_apply(t, maj, min);
	return t;
}
