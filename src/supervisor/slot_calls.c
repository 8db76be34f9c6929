/*
 * slot_calls — a slot's calls about its task (slot_internal.h): bounded call options,
 * tasks.started, the agent's host name in the runtime properties, the task JSON (with its
 * Environment section) for the runner, the runner's result file (frozen requirements, commit),
 * ping and the final status. Errors are logged; a task that cannot start is failed with a reason.
 */
#include "supervisor/slot_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/secrets.h"

/* Call options: bounded; cancellable by the agent's signal flag unless it is the agent itself
 * stopping (then the final calls must still go out, bounded by their deadline). */
struct api_call_opts
slot_call_opts(const struct slot *s, const char *version, int deadline_ms)
{
	struct api_call_opts o = {.version = version, .deadline_ms = deadline_ms};
	if (s->stop != STOP_AGENT)
		o.cancel = s->ctx->cancel;
	return o;
}

int
slot_task_call(struct slot *s, const char *endpoint, const char *version, json_t *req, int deadline_ms,
          json_t **data, struct api_error *err)
{
	struct api_call_opts o = slot_call_opts(s, version, deadline_ms);
	int rc = api_call_ex(s->ctx->api, endpoint, req, &o, data, err);
	json_decref(req);
	return rc;
}

void
slot_set_runtime_hostname(struct slot *s)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s]}", "id", s->task_id, "only_fields", "runtime");
	if (slot_task_call(s, "tasks.get_all", "2.15", req, POLL_DEADLINE_MS, &data, &e) < 0) {
		log_warn("task %s: could not read runtime properties: %s", s->task_id, e.msg);
		return;
	}
	json_t *t = json_array_get(json_object_get(data, "tasks"), 0);
	json_t *rt = json_object_get(t, "runtime");
	json_t *runtime = json_is_object(rt) ? json_deep_copy(rt) : json_object();
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	json_object_set_new(runtime, "_exec_agent_hostname", json_string(host));
	json_decref(data);
	req = json_pack("{s:s,s:b,s:o}", "task", s->task_id, "force", 1, "runtime", runtime);
	if (slot_task_call(s, "tasks.edit", NULL, req, POLL_DEADLINE_MS, NULL, &e) < 0)
		log_warn("task %s: could not store the agent host name: %s", s->task_id, e.msg);
}

int
slot_mark_started(struct slot *s, const char *status_message, const char *status_reason)
{
	struct api_error e;
	json_t *req = json_pack("{s:s,s:b}", "task", s->task_id, "force", 1);
	if (status_message)
		json_object_set_new(req, "status_message", json_string(status_message));
	if (status_reason)
		json_object_set_new(req, "status_reason", json_string(status_reason));
	if (slot_task_call(s, "tasks.started", NULL, req, STATUS_DEADLINE_MS, NULL, &e) < 0) {
		log_warn("task %s: tasks.started failed: %s", s->task_id, e.msg);
		return -1;
	}
	return 0;
}

/* tasks.completed / failed / stopped with the upstream strings; errors only logged (the task
 * may have set its own status). */
void
slot_set_final_status(struct slot *s, const char *endpoint, const char *reason)
{
	struct api_error e;
	char *msg = xasprintf("Changed by clearml-agent %s", s->worker_id ? s->worker_id : "");
	json_t *req = json_pack("{s:s,s:s,s:s}", "task", s->task_id, "status_reason", reason,
	                        "status_message", msg);
	free(msg);
	struct api_call_opts o = {.deadline_ms = STATUS_DEADLINE_MS};
	int rc = api_call_ex(s->ctx->api, endpoint, req, &o, NULL, &e);
	json_decref(req);
	if (rc < 0)
		log_warn("task %s: %s failed (task probably set its own status): %s", s->task_id,
		         endpoint, e.msg);
}

/* Fail a task that could not be started. */
void
slot_fail_start(struct slot *s, const char *reason)
{
	log_error("task %s: %s", s->task_id, reason);
	slot_set_final_status(s, "tasks.failed", reason);
}

/* The "Environment" hyper-parameter section, for the runner (runner.h: "_environment"). */
static void
add_task_environment(struct slot *s, json_t *task)
{
	if (!cfg_bool(s->ctx->cfg->root, "agent.enable_task_env", 0))
		return;
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s]}", "tasks", s->task_id);
	if (slot_task_call(s, "tasks.get_hyper_params", "2.9", req, POLL_DEADLINE_MS, &data, &e) < 0) {
		log_warn("task %s: could not read hyper-parameters: %s", s->task_id, e.msg);
		return;
	}
	json_t *env = json_object();
	json_t *params = json_object_get(json_array_get(json_object_get(data, "params"), 0),
	                                 "hyperparams");
	size_t i;
	json_t *p;
	json_array_foreach(params, i, p) {
		const char *sec = json_string_value(json_object_get(p, "section"));
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *v = json_object_get(p, "value");
		if (sec && name && strcmp(sec, "Environment") == 0)
			json_object_set_new(env, name, json_string(json_is_string(v) ? json_string_value(v) : ""));
	}
	json_object_set_new(task, "_environment", env);
	json_decref(data);
}

int
slot_fetch_task(struct slot *s)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:s}", "task", s->task_id);
	if (slot_task_call(s, "tasks.get_by_id", NULL, req, STATUS_DEADLINE_MS, &data, &e) < 0) {
		char *r = xasprintf("Could not find task id=%s (%s)", s->task_id, e.msg);
		slot_fail_start(s, r);
		free(r);
		return -1;
	}
	json_t *task = json_object_get(data, "task");
	if (!json_is_object(task)) {
		json_decref(data);
		slot_fail_start(s, "tasks.get_by_id returned no task");
		return -1;
	}
	const char *ver = json_string_value(json_object_get(json_object_get(task, "script"), "version_num"));
	s->had_version = ver && *ver;
	add_task_environment(s, task);
	secrets_collect(&s->red, s->ctx->cfg ? s->ctx->cfg->root : NULL, task);
	char *text = json_dumps(task, JSON_INDENT(2));
	json_decref(data);
	int rc = text ? write_file_atomic(s->task_path, text, strlen(text), 0600) : -1;
	free(text);
	if (rc < 0) {
		char *r = xasprintf("cannot write %s: %s", s->task_path, strerror(errno));
		slot_fail_start(s, r);
		free(r);
		return -1;
	}
	return 0;
}

static void
report_requirements(struct slot *s, json_t *reqs)
{
	struct api_error e;
	json_t *data = NULL;
	json_t *req = json_pack("{s:[s],s:[s]}", "id", s->task_id, "only_fields", "script.requirements");
	json_t *cur = NULL;
	if (slot_task_call(s, "tasks.get_all", NULL, req, POLL_DEADLINE_MS, &data, &e) == 0) {
		json_t *t = json_array_get(json_object_get(data, "tasks"), 0);
		cur = json_object_get(json_object_get(t, "script"), "requirements");
	} else {
		log_warn("task %s: could not read its requirements: %s", s->task_id, e.msg);
	}
	json_t *out = json_is_object(cur) ? json_deep_copy(cur) : json_object();
	json_decref(data);
	/* The original requests are kept once, the first time (spec §5.7). */
	if (!json_object_get(out, "org_pip") && json_object_get(out, "pip"))
		json_object_set(out, "org_pip", json_object_get(out, "pip"));
	if (!json_object_get(out, "org_conda") && json_object_get(out, "conda"))
		json_object_set(out, "org_conda", json_object_get(out, "conda"));
	const char *key;
	json_t *v;
	json_object_foreach(reqs, key, v) json_object_set(out, key, v);
	req = json_pack("{s:s,s:o}", "task", s->task_id, "requirements", out);
	if (slot_task_call(s, "tasks.set_requirements", "2.5", req, POLL_DEADLINE_MS, NULL, &e) < 0)
		log_warn("task %s: could not store the frozen requirements: %s", s->task_id, e.msg);
}

void
slot_check_result(struct slot *s)
{
	if (s->result_seen || !s->result_path)
		return;
	size_t len;
	char *text = read_file(s->result_path, 16u << 20, &len);
	if (!text)
		return;
	s->result_seen = 1;
	json_error_t jerr;
	json_t *r = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(r)) {
		log_warn("task %s: unreadable result file: %s", s->task_id, jerr.text);
		json_decref(r);
		return;
	}
	const char *status = json_string_value(json_object_get(r, "status"));
	if (status && strcmp(status, "ready") == 0) {
		json_t *reqs = json_object_get(r, "requirements");
		if (json_is_object(reqs) && json_object_size(reqs))
			report_requirements(s, reqs);
		const char *ver = json_string_value(json_object_get(r, "version_num"));
		if (ver && *ver && !s->had_version) {
			struct api_error e;
			json_t *req = json_pack("{s:s,s:b,s:{s:s}}", "task", s->task_id, "force", 1, "script",
			                        "version_num", ver);
			if (slot_task_call(s, "tasks.edit", "2.5", req, POLL_DEADLINE_MS, NULL, &e) < 0)
				log_warn("task %s: could not store the commit: %s", s->task_id, e.msg);
		}
		/* An abort that arrived during the set-up lives only in status_message ("stopping");
		 * tasks.started would overwrite it, so look first (upstream loses such a stop). */
		slot_poll_abort(s);
		if (s->st == SLOT_RUNNING) {
			slot_mark_started(s, NULL, "worker starting task execution");
			/* ... and once more right after it: a stop that landed between that look and the
			 * update is kept by the server ("stopping" survives a re-confirming tasks.started,
			 * server-lite) and is seen now instead of never. */
			if (s->st == SLOT_RUNNING)
				slot_poll_abort(s);
		}
	} else if (status && strcmp(status, "failed") == 0) {
		s->setup_failed = 1;
		const char *why = json_string_value(json_object_get(r, "status_reason"));
		free(s->setup_reason);
		s->setup_reason = xstrdup(why && *why ? why : "task environment setup failed");
	}
	json_decref(r);
}

void
slot_ping(struct slot *s)
{
	struct api_error e;
	json_t *req = json_pack("{s:s}", "task", s->task_id);
	if (slot_task_call(s, "tasks.ping", NULL, req, POLL_DEADLINE_MS, NULL, &e) < 0)
		log_debug("task %s: ping failed: %s", s->task_id, e.msg);
}
