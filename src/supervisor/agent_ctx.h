/*
 * agent_ctx — building the `struct agent_ctx` (slot.h) that daemon and execute share: the API
 * session and its login (with back-off while the server is unreachable), the JSON config dump
 * handed to runners and tasks, the per-instance state and build directories, the task-control
 * settings (abort poll, ping, kill signal and grace), the `environment {}` section (§2.7), and
 * the small config lookups both commands need (worker name, explicit worker id, polling clamp).
 * Owner: agent_ctx.c.
 */
#ifndef CLEARML_AGENT_CTX_H
#define CLEARML_AGENT_CTX_H

#include <signal.h>
#include <stdint.h>

#include "supervisor/slot.h"

/* Everything from config + options; no network, no files. ctx->api is created but not logged
 * in. 0, or -1 with err. */
int agent_ctx_init(struct agent_ctx *ctx, struct config *cfg, const struct cli_opts *o,
                   volatile sig_atomic_t *cancel, char *err, size_t errlen);
void agent_ctx_free(struct agent_ctx *ctx); /* also removes the config dump */

/* Per-instance paths: build_root = agent.venvs_dir (+ ".<slot>" for slot > 0), state_dir =
 * agent.state_dir or ~/.clearml/agent-state (+ ".<slot>"); both created (0700). Also sets
 * ctx->worker_id. 0, or -1 with err. */
int agent_ctx_set_instance(struct agent_ctx *ctx, const char *worker_id, int slot, char *err,
                           size_t errlen);

/* Log in. With retry_forever, an unreachable server (transport error, 5xx) prints a message
 * naming the URL and the cause and retries with jittered back-off until it answers or *cancel is
 * set; bad credentials fail at once. 0, or -1 (message printed). */
int agent_ctx_login(struct agent_ctx *ctx, int retry_forever);

/* Dump the effective configuration as JSON to a new <tmp>/.clearml_agent.XXXXXX.cfg (0600)
 * and keep its path in ctx->config_dump. 0, or -1 with err. */
int agent_ctx_dump_config(struct agent_ctx *ctx, char *err, size_t errlen);

/* §2.7: export each `environment { KEY: value }` entry (object or list of {key,value} pairs;
 * null → "") unless agent.apply_environment is false. Returns how many were set. Non-scalar
 * values are skipped with a warning. */
int agent_apply_environment_section(const json_t *root);

/* agent.worker_name, else CLEARML_WORKER_NAME, else the host name. Caller frees. */
char *agent_worker_name(const json_t *root);
/* CLEARML_WORKER_ID / TRAINS_WORKER_ID, else agent.worker_id, else NULL. */
const char *agent_explicit_worker_id(const json_t *root);
/* max(requested, agent.polling_interval_min_sec (5)); the minimum itself is at least 0.05. */
double agent_polling_interval(const json_t *root, double requested);
/* "SIGTERM", "TERM", "15" or a JSON integer → signal number; dflt when absent or unknown. */
int agent_parse_signal(const json_t *v, int dflt);

/* Sleep up to ms, waking early when *cancel becomes non-zero (checked every 100 ms). */
void agent_sleep_ms(int64_t ms, volatile sig_atomic_t *cancel);

/* 1 when s looks like an id (^[-a-f0-9]{30,}$). */
int agent_looks_like_id(const char *s);

#endif
