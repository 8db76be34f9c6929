/*
 * ref_expand — the *_ex replies' reference fields as the real server returns them: a reference
 * (project, parent, user, company, execution.queue, models.input[].model …) that the projection
 * did not join arrives as {"id": "<id>"} rather than the bare id string, and an empty one as {}
 * (upstream's expand_reference_ids). A field already joined into an object, absent, or null is
 * left alone.
 */
#include <string.h>

#include "server/ref_expand.h"
#include "util.h"

/* Wrap the string at path (dotted; a "[]" part walks each item of a list) in {id}. */
static void
expand_path(json_t *at, const char *path)
{
	if (!json_is_object(at))
		return;
	const char *dot = strchr(path, '.');
	size_t n = dot ? (size_t)(dot - path) : strlen(path);
	int each = n >= 2 && path[n - 2] == '[' && path[n - 1] == ']';
	char key[64];
	size_t kn = each ? n - 2 : n;
	if (kn == 0 || kn >= sizeof(key))
		return;
	memcpy(key, path, kn);
	key[kn] = '\0';
	json_t *v = json_object_get(at, key);
	if (!v)
		return;
	if (each) {
		size_t i;
		json_t *item;
		if (dot)
			json_array_foreach(v, i, item)
				expand_path(item, dot + 1);
		return;
	}
	if (dot) {
		expand_path(v, dot + 1);
		return;
	}
	if (json_is_string(v))
		json_object_set_new(at, key, json_string_length(v) ? json_pack("{s:O}", "id", v)
		                                                   : json_object());
}

void
ref_expand_ids(json_t *docs, const char *const *paths)
{
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d)
		for (const char *const *p = paths; *p; p++)
			expand_path(d, *p);
}

const char *const ref_task_paths[] = {"company", "user", "project", "parent", "execution.queue",
                                      "models.input[].model", "models.output[].model", NULL};
const char *const ref_model_paths[] = {"company", "user", "project", "parent", "task", NULL};
const char *const ref_project_paths[] = {"company", "user", "parent", NULL};

int
ref_expand_wanted(const struct req *q)
{
	size_t n = strlen(q->endpoint);
	return n > 3 && !strcmp(q->endpoint + n - 3, "_ex");
}
