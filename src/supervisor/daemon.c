/*
 * daemon — `clearml-agent daemon` (spec §4.1, §4.2, §4.8–§4.10, §7): the supervisor process.
 *
 * Start-up: GPU environment, `environment {}`, `--stop` (no server needed), login with back-off,
 * queue resolution, instance registration (pid file, slot, worker id), config dump, background /
 * detached mode, workers.register, orphan recovery. Then ONE event loop (poll on a self-pipe):
 *
 *   signals   handlers only set flags and write the self-pipe. SIGCHLD → waitpid(-1, WNOHANG)
 *             until 0, each status handed to the slot owning the pid (others are ignored).
 *             SIGTERM/SIGINT → abort running tasks, wait for them (bounded), exit 254.
 *             SIGQUIT → drain: finish the running task, take no new one, exit 0.
 *   slots     N task supervisors (N = 1 for now); slot_tick every 250 ms while one is busy.
 *   queues    when a slot is free: queues.get_next_task per queue in CLI order. Priority mode
 *             starts over from the first queue after every task; --order-fairness continues with
 *             the next queue (round robin). A round that found nothing sleeps polling_interval.
 *   reports   monitor_sample every second; workers.status_report every 30 s (±jitter, first
 *             after ~3 s) plus immediate ones on task pull and after the task.
 *
 * Every API call from the loop carries a deadline so a dead server cannot stall the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/agent_ctx.h"
#include "agent/commands.h"
#include "supervisor/gpu_env.h"
#include "supervisor/monitor.h"
#include "supervisor/queue_sched.h"
#include "supervisor/slot.h"
#include "supervisor/status_print.h"
#include "supervisor/worker_id.h"
#include "api.h"
#include "util.h"
#include "version.h"

#define EXIT_INTERRUPTED 254
#define TICK_MS 250
#define SAMPLE_MS 1000
#define REPORT_MS 30000
#define FIRST_REPORT_MS 3000
#define LOOP_CALL_DEADLINE_MS 5000
#define REPORT_DEADLINE_MS 2000 /* reports are best effort: keep slot ticks on time */
#define STOP_WAIT_SEC 10
#define STOP_GRACEFUL_WAIT_SEC 3600

static volatile sig_atomic_t g_term, g_drain, g_child, g_cancel;
static int g_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	int saved = errno;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		g_term++;
		g_cancel = 1;
		break;
	case SIGQUIT:
		g_drain = 1;
		break;
	case SIGCHLD:
		g_child = 1;
		break;
	default:
		break;
	}
	if (g_pipe[1] >= 0) {
		ssize_t w = write(g_pipe[1], "x", 1);
		(void)w;
	}
	errno = saved;
}

static int
signals_setup(void)
{
	if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	int sigs[] = {SIGTERM, SIGINT, SIGQUIT};
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void
drain_pipe(void)
{
	char b[64];
	while (read(g_pipe[0], b, sizeof b) > 0)
		;
}

/* ---- queues ---- */

struct queue_ref {
	char *id;
	char *name;
	char *tags; /* comma-joined, for the table */
};

struct daemon {
	struct agent_ctx ctx;
	const struct cli_opts *o;
	struct config *cfg;
	struct queue_ref *q;
	size_t nq;
	struct slot **slots;
	char **slot_queue; /* queue id each busy slot's task came from */
	int64_t *slot_next_tick;
	size_t nslots;
	struct monitor *mon;
	char *pidfile;
	char *daemon_log;
	double poll_interval;
	int64_t next_poll, next_sample, next_report;
	struct queue_sched qs; /* which queue to ask next */
	json_t *tags;        /* --child-report-tags, or NULL */
	int registered;
	int long_poll_sec;   /* server-lite offers long-poll dispatch: the wait we ask for; else 0 */
	int64_t long_poll_took_ms; /* how long the last long-poll call lasted (-1: none was made) */
};

static void
queues_free(struct daemon *d)
{
	for (size_t i = 0; i < d->nq; i++) {
		free(d->q[i].id);
		free(d->q[i].name);
		free(d->q[i].tags);
	}
	free(d->q);
	d->q = NULL;
	d->nq = 0;
}

static void
queue_add(struct daemon *d, const char *id, const char *name)
{
	for (size_t i = 0; i < d->nq; i++)
		if (strcmp(d->q[i].id, id) == 0)
			return; /* the same queue twice: once is enough */
	d->q = xreallocarray(d->q, d->nq + 1, sizeof *d->q);
	d->q[d->nq++] = (struct queue_ref){.id = xstrdup(id), .name = xstrdup(name ? name : ""),
	                                   .tags = xstrdup("")};
}

static json_t *
queue_ids_json(const struct daemon *d)
{
	json_t *a = json_array();
	for (size_t i = 0; i < d->nq; i++)
		json_array_append_new(a, json_string(d->q[i].id));
	return a;
}

/* Find a queue by name: the server matches the escaped name anywhere (case-insensitively, by the
 * (?i) prefix); we keep the exact case-insensitive match (an exact case-sensitive one wins).
 * 1 found, 0 not, -1 error. */
static int
queue_lookup(struct daemon *d, const char *name, char **id_out, char **name_out)
{
	/* (?i): the server's pattern match is case-sensitive; we want every case variant back */
	char *esc = re_escape(name);
	char *rx = xasprintf("(?i)%s", esc);
	free(esc);
	json_t *req = json_pack("{s:s,s:[s,s],s:b}", "name", rx, "only_fields", "name", "id",
	                        "search_hidden", 1);
	free(rx);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(d->ctx.api, "queues.get_all", "2.5", req, &data, &e);
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "clearml_agent: ERROR: could not look up queue \"%s\": %s\n", name, e.msg);
		return -1;
	}
	json_t *qs = json_object_get(data, "queues"), *q, *best = NULL;
	size_t i;
	json_array_foreach(qs, i, q) {
		const char *qn = json_string_value(json_object_get(q, "name"));
		if (qn == NULL || strcasecmp(qn, name) != 0)
			continue;
		if (best == NULL || strcmp(qn, name) == 0)
			best = q;
	}
	if (best) {
		*id_out = xstrdup(json_string_value(json_object_get(best, "id")));
		*name_out = xstrdup(json_string_value(json_object_get(best, "name")));
	}
	json_decref(data);
	return best ? 1 : 0;
}

static int
queue_create(struct daemon *d, const char *name, char **id_out)
{
	json_t *req = json_pack("{s:s}", "name", name);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(d->ctx.api, "queues.create", "2.5", req, &data, &e);
	json_decref(req);
	if (rc < 0 || !json_is_string(json_object_get(data, "id"))) {
		fprintf(stderr, "clearml_agent: ERROR: could not create queue \"%s\": %s\n", name,
		        rc < 0 ? e.msg : "no id in reply");
		json_decref(data);
		return -1;
	}
	*id_out = xstrdup(json_string_value(json_object_get(data, "id")));
	json_decref(data);
	printf("Created queue \"%s\" (%s)\n", name, *id_out);
	return 0;
}

static int
resolve_default_queue(struct daemon *d)
{
	json_t *data = NULL;
	struct api_error e;
	json_t *req = json_object();
	int rc = api_call(d->ctx.api, "queues.get_default", "2.5", req, &data, &e);
	json_decref(req);
	if (rc == 0 && json_is_string(json_object_get(data, "id"))) {
		queue_add(d, json_string_value(json_object_get(data, "id")),
		          json_string_value(json_object_get(data, "name")));
		json_decref(data);
		return 0;
	}
	json_decref(data);
	char *id = NULL, *name = NULL;
	int found = queue_lookup(d, "default", &id, &name);
	if (found < 0)
		return -1;
	if (found == 0) {
		if (!d->o->create_queue) {
			fprintf(stderr,
			        "\nclearml_agent: ERROR: no default queue on the server; name one with "
			        "--queue, or add --create-queue to create \"default\"\n");
			return -1;
		}
		if (queue_create(d, "default", &id) < 0)
			return -1;
		name = xstrdup("default");
	}
	queue_add(d, id, name);
	free(id);
	free(name);
	return 0;
}

static int
resolve_queues(struct daemon *d)
{
	const struct strlist *ql = &d->o->queues;
	if (ql->n == 0)
		return resolve_default_queue(d);
	for (size_t i = 0; i < ql->n; i++) {
		const char *arg = ql->v[i];
		if (agent_looks_like_id(arg)) {
			queue_add(d, arg, NULL);
			continue;
		}
		char *id = NULL, *name = NULL;
		int found = queue_lookup(d, arg, &id, &name);
		if (found < 0)
			return -1;
		if (found == 0) {
			if (!d->o->create_queue) {
				fprintf(stderr,
				        "\nclearml_agent: ERROR: Could not find queue with name/id \"%s\" "
				        "(add --create-queue to create it)\n",
				        arg);
				return -1;
			}
			if (queue_create(d, arg, &id) < 0)
				return -1;
			name = xstrdup(arg);
		}
		queue_add(d, id, name);
		free(id);
		free(name);
	}
	return 0;
}

/* Names and tags for the table (queues.get_all by id). Unknown ids are an error. */
static int
describe_queues(struct daemon *d)
{
	json_t *req = json_pack("{s:o,s:b}", "id", queue_ids_json(d), "search_hidden", 1);
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call(d->ctx.api, "queues.get_all", "2.5", req, &data, &e);
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "clearml_agent: ERROR: could not read the queues: %s\n", e.msg);
		return -1;
	}
	json_t *qs = json_object_get(data, "queues");
	for (size_t i = 0; i < d->nq; i++) {
		json_t *q, *found = NULL;
		size_t k;
		json_array_foreach(qs, k, q) {
			const char *qid = json_string_value(json_object_get(q, "id"));
			if (qid && strcmp(qid, d->q[i].id) == 0)
				found = q;
		}
		if (found == NULL) {
			fprintf(stderr, "\nclearml_agent: ERROR: Could not find queue with name/id \"%s\"\n",
			        d->q[i].id);
			json_decref(data);
			return -1;
		}
		const char *n = json_string_value(json_object_get(found, "name"));
		free(d->q[i].name);
		d->q[i].name = xstrdup(n ? n : "");
		struct buf b;
		buf_init(&b, 4096);
		json_t *t;
		json_array_foreach(json_object_get(found, "tags"), k, t) {
			if (json_is_string(t))
				buf_printf(&b, "%s%s", b.len ? ", " : "", json_string_value(t));
		}
		free(d->q[i].tags);
		d->q[i].tags = buf_steal(&b);
	}
	json_decref(data);
	return 0;
}

static void
print_rule(const size_t w[3])
{
	putchar('+');
	for (int c = 0; c < 3; c++) {
		for (size_t i = 0; i < w[c] + 2; i++)
			putchar('-');
		putchar('+');
	}
	putchar('\n');
}

static void
print_queue_table(const struct daemon *d)
{
	size_t w[3] = {2, 4, 4};
	for (size_t i = 0; i < d->nq; i++) {
		size_t l[3] = {strlen(d->q[i].id), strlen(d->q[i].name), strlen(d->q[i].tags)};
		for (int c = 0; c < 3; c++)
			if (l[c] > w[c])
				w[c] = l[c];
	}
	printf("\nWorker \"%s\" - Listening to queues:\n", d->ctx.worker_id);
	print_rule(w);
	printf("| %-*s | %-*s | %-*s |\n", (int)w[0], "id", (int)w[1], "name", (int)w[2], "tags");
	print_rule(w);
	for (size_t i = 0; i < d->nq; i++)
		printf("| %-*s | %-*s | %-*s |\n", (int)w[0], d->q[i].id, (int)w[1], d->q[i].name,
		       (int)w[2], d->q[i].tags);
	print_rule(w);
	putchar('\n');
	fflush(stdout);
}

/* ---- worker reports ---- */

static void
status_report(struct daemon *d, json_t *machine_stats, const char *queue, const char *task)
{
	json_t *req = json_object();
	json_object_set_new(req, "worker", json_string(d->ctx.worker_id));
	json_object_set_new(req, "timestamp", json_integer((now_ms() / 1000) * 1000));
	json_object_set_new(req, "machine_stats", machine_stats ? machine_stats : json_null());
	if (d->tags)
		json_object_set(req, "tags", d->tags);
	json_object_set_new(req, "queues", queue_ids_json(d));
	if (queue)
		json_object_set_new(req, "queue", json_string(queue));
	if (task)
		json_object_set_new(req, "task", json_string(task));
	struct api_call_opts co = {.deadline_ms = REPORT_DEADLINE_MS, .cancel = &g_cancel};
	struct api_error e;
	if (api_call_ex(d->ctx.api, "workers.status_report", req, &co, NULL, &e) < 0)
		log_debug("status report failed: %s", e.msg);
	json_decref(req);
}

/* The periodic report: the running task (first busy slot) and where it came from. */
static void
periodic_report(struct daemon *d)
{
	const char *task = NULL, *queue = NULL;
	for (size_t i = 0; i < d->nslots; i++) {
		if (slot_state(d->slots[i]) != SLOT_IDLE && slot_task_id(d->slots[i])) {
			task = slot_task_id(d->slots[i]);
			queue = d->slot_queue[i];
			break;
		}
	}
	status_report(d, monitor_report(d->mon), queue, task);
}

static int
worker_register(struct daemon *d)
{
	json_t *req = json_pack("{s:s,s:o}", "worker", d->ctx.worker_id, "queues", queue_ids_json(d));
	if (d->tags)
		json_object_set(req, "tags", d->tags);
	struct api_error e;
	int rc = api_call(d->ctx.api, "workers.register", NULL, req, NULL, &e);
	json_decref(req);
	if (rc < 0) {
		log_warn("workers.register failed (status reports will register us): %s", e.msg);
		return -1;
	}
	return 0;
}

static void
worker_unregister(struct daemon *d)
{
	json_t *req = json_pack("{s:s}", "worker", d->ctx.worker_id);
	struct api_call_opts co = {.deadline_ms = LOOP_CALL_DEADLINE_MS};
	struct api_error e;
	if (api_call_ex(d->ctx.api, "workers.unregister", req, &co, NULL, &e) < 0)
		log_warn("workers.unregister failed: %s", e.msg);
	json_decref(req);
}

/* ---- the loop ---- */

static void
reap_children(struct daemon *d)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			break;
		for (size_t i = 0; i < d->nslots; i++) {
			if (slot_pid(d->slots[i]) == pid) {
				slot_child_exited(d->slots[i], st);
				d->slot_next_tick[i] = 0;
			}
		}
	}
}

static struct slot *
free_slot(struct daemon *d, size_t *idx)
{
	for (size_t i = 0; i < d->nslots; i++) {
		if (slot_state(d->slots[i]) == SLOT_IDLE) {
			*idx = i;
			return d->slots[i];
		}
	}
	return NULL;
}

/*
 * Long-poll dispatch, server-lite's addition: when server.info says clearml_lite.long_poll_max_sec
 * > 0, queues.get_next_task takes wait_sec and answers as soon as a task is enqueued. We ask for
 * it only while no slot is busy (nothing else to tick) and with one queue (a wait on one queue
 * must not starve the others), and wait less than the status-report interval and the API read
 * time-out. Against any other server the offer is absent and polling stays as it was.
 */
#define LONG_POLL_SEC 15

static int
long_poll_offer(struct daemon *d)
{
	struct api_call_opts co = {.deadline_ms = LOOP_CALL_DEADLINE_MS, .cancel = &g_cancel};
	json_t *data = NULL;
	struct api_error e;
	if (api_call_ex(d->ctx.api, "server.info", json_object(), &co, &data, &e) < 0)
		return 0;
	json_t *v = json_object_get(json_object_get(data, "clearml_lite"), "long_poll_max_sec");
	int offer = json_is_integer(v) && json_integer_value(v) > 0
	                ? (int)(json_integer_value(v) < LONG_POLL_SEC ? json_integer_value(v)
	                                                              : LONG_POLL_SEC)
	                : 0;
	json_decref(data);
	return offer;
}

static int busy_slots(const struct daemon *d);

/* 1 while the supervisor has a child process at all, running or waiting to be reaped (a task's
 * escaped descendant killed at its end, reparented to us as subreaper, is one): the loop still has
 * work, so it must not sit in a long poll. */
static int
has_children(void)
{
	siginfo_t si = {0};
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* The wait_sec to send now (0: plain poll). */
static int
long_poll_wait(const struct daemon *d)
{
	return d->long_poll_sec > 0 && d->nq == 1 && busy_slots(d) == 0 && !has_children()
	           ? d->long_poll_sec
	           : 0;
}

/* 1 when a task was started from queue qi; 0 when the queue was empty or failed. */
static int
try_queue(struct daemon *d, size_t qi)
{
	json_t *req = json_pack("{s:s}", "queue", d->q[qi].id);
	struct api_call_opts co = {.version = "2.14", .deadline_ms = LOOP_CALL_DEADLINE_MS,
	                           .cancel = &g_cancel};
	int wait = long_poll_wait(d);
	if (wait) {
		json_object_set_new(req, "wait_sec", json_integer(wait));
		co.deadline_ms += (int64_t)wait * 1000;
	}
	int64_t t0 = mono_ms();
	json_t *data = NULL;
	struct api_error e;
	int rc = api_call_ex(d->ctx.api, "queues.get_next_task", req, &co, &data, &e);
	json_decref(req);
	d->long_poll_took_ms = wait && rc == 0 ? mono_ms() - t0 : -1;
	if (rc < 0) {
		printf("Warning: could not get the next task from queue %s: %s\n", d->q[qi].name, e.msg);
		fflush(stdout);
		return 0;
	}
	const char *task = json_string_value(json_object_get(json_object_get(data, "entry"), "task"));
	if (task == NULL) {
		if (d->o->foreground || d->o->debug)
			printf("No tasks in queue %s\n", d->q[qi].id);
		json_decref(data);
		return 0;
	}
	char *task_id = xstrdup(task);
	json_decref(data);
	size_t si = 0;
	struct slot *s = free_slot(d, &si);
	if (s == NULL) { /* cannot happen: we only poll with a free slot */
		free(task_id);
		return 0;
	}
	if (slot_start(s, task_id, d->q[qi].id, d->q[qi].name) < 0) {
		printf("Task '%s' could not be started\n", task_id);
		fflush(stdout);
		free(task_id);
		return 1; /* the queue gave something: carry on without sleeping */
	}
	free(d->slot_queue[si]);
	d->slot_queue[si] = xstrdup(d->q[qi].id);
	d->slot_next_tick[si] = mono_ms() + TICK_MS;
	status_report(d, NULL, d->q[qi].id, task_id);
	free(task_id);
	return 1;
}

/* Fill free slots from the queues in queue_sched order. Returns when no slot is free (poll again
 * as soon as one is) or a whole round found nothing (then wait polling_interval). */
static void
poll_queues(struct daemon *d)
{
	size_t si;
	while (free_slot(d, &si) != NULL && !g_term && !g_drain) {
		long qi = queue_sched_next(&d->qs);
		if (qi < 0 && d->long_poll_took_ms >= 1000) {
			/* the server waited for us: ask again at once (a few calls a minute) */
			d->long_poll_took_ms = -1;
			d->next_poll = mono_ms();
			return;
		}
		if (qi < 0) {
			if (d->o->foreground || d->o->debug)
				printf("No tasks in Queues, sleeping for %.1f seconds\n", d->poll_interval);
			fflush(stdout);
			d->next_poll = mono_ms() + (int64_t)(d->poll_interval * 1000);
			return;
		}
		queue_sched_result(&d->qs, try_queue(d, (size_t)qi));
	}
	d->next_poll = mono_ms();
}

static int64_t
jitter_ms(int64_t base)
{
	return base + (int64_t)((random_unit() - 0.5) * 0.2 * (double)base);
}

static int
busy_slots(const struct daemon *d)
{
	int n = 0;
	for (size_t i = 0; i < d->nslots; i++)
		n += slot_state(d->slots[i]) != SLOT_IDLE;
	return n;
}

static int
event_loop(struct daemon *d)
{
	int terminating = 0, draining = 0, exit_code = 0;
	sig_atomic_t terms_seen = 0;
	int64_t term_deadline = 0;
	int64_t t0 = mono_ms();
	d->next_sample = t0;
	d->next_report = t0 + FIRST_REPORT_MS;
	d->next_poll = t0;

	for (;;) {
		if (g_child) {
			g_child = 0;
			reap_children(d);
		}
		int64_t now = mono_ms();
		if (terminating && g_term > terms_seen) {
			/* asked again (as `--stop` does after 10 s): no more grace for the tasks */
			terms_seen = g_term;
			g_cancel = 0;
			for (size_t i = 0; i < d->nslots; i++) {
				if (slot_state(d->slots[i]) != SLOT_IDLE) {
					slot_abort(d->slots[i], "task was stopped because the agent was stopped");
					d->slot_next_tick[i] = 0;
				}
			}
		}
		if (g_term && !terminating) {
			terms_seen = g_term;
			terminating = 1;
			exit_code = EXIT_INTERRUPTED;
			/* The flag broke any retry in flight; the shutdown calls are bounded by deadlines. */
			g_cancel = 0;
			printf("clearml-agent: stop requested (signal), aborting %d running task(s)\n",
			       busy_slots(d));
			fflush(stdout);
			for (size_t i = 0; i < d->nslots; i++) {
				if (slot_state(d->slots[i]) != SLOT_IDLE) {
					slot_abort(d->slots[i], "task was stopped because the agent was stopped");
					d->slot_next_tick[i] = 0;
				}
			}
			term_deadline = now + (int64_t)(d->ctx.kill_grace_sec + 30) * 1000;
		}
		if (g_drain && !draining && !terminating) {
			draining = 1;
			printf("clearml-agent: drain requested: finishing %d running task(s), taking no new "
			       "ones\n",
			       busy_slots(d));
			fflush(stdout);
		}

		for (size_t i = 0; i < d->nslots; i++) {
			if (slot_state(d->slots[i]) == SLOT_IDLE || now < d->slot_next_tick[i])
				continue;
			enum slot_state st = slot_tick(d->slots[i], now_ms());
			d->slot_next_tick[i] = mono_ms() + TICK_MS;
			if (st == SLOT_DONE) {
				int rc = slot_finish(d->slots[i]);
				log_debug("slot %zu: task finished, exit status %d", i, rc);
				free(d->slot_queue[i]);
				d->slot_queue[i] = NULL;
				if (!terminating)
					status_report(d, NULL, NULL, NULL);
				d->next_poll = mono_ms(); /* no sleep after a task */
			}
		}
		now = mono_ms();
		if ((terminating || draining) && busy_slots(d) == 0)
			break;
		if (terminating && now > term_deadline) {
			log_warn("running tasks did not finish in time; exiting anyway");
			break;
		}

		if (now >= d->next_sample) {
			monitor_sample(d->mon);
			d->next_sample = now + SAMPLE_MS;
		}
		if (now >= d->next_report && !terminating) {
			periodic_report(d);
			d->next_report = mono_ms() + jitter_ms(REPORT_MS);
		}
		size_t si;
		if (!terminating && !draining && !g_term && !g_drain && now >= d->next_poll &&
		    free_slot(d, &si))
			poll_queues(d);

		now = mono_ms();
		int64_t wake = d->next_sample < d->next_report ? d->next_sample : d->next_report;
		if (!terminating && !draining && free_slot(d, &si) && d->next_poll < wake)
			wake = d->next_poll;
		for (size_t i = 0; i < d->nslots; i++)
			if (slot_state(d->slots[i]) != SLOT_IDLE && d->slot_next_tick[i] < wake)
				wake = d->slot_next_tick[i];
		int64_t timeout = wake - now;
		if (timeout < 0)
			timeout = 0;
		if (timeout > 1000)
			timeout = 1000;
		if ((g_term && g_term != terms_seen) || g_child || (g_drain && !draining && !terminating))
			timeout = 0;
		struct pollfd pfd = {.fd = g_pipe[0], .events = POLLIN};
		int pr = poll(&pfd, 1, (int)timeout);
		if (pr > 0)
			drain_pipe();
	}
	return exit_code;
}

/* ---- --stop ---- */

static int
wait_pid_gone(pid_t pid, int seconds)
{
	int64_t end = mono_ms() + (int64_t)seconds * 1000;
	while (mono_ms() < end) {
		if (!pid_is_alive(pid))
			return 1;
		agent_sleep_ms(100, NULL);
	}
	return !pid_is_alive(pid);
}

static void
terminate_instance(const struct pidfile_entry *e, int graceful)
{
	printf("Terminating clearml-agent worker_id=%s pid=%d\n", e->worker_id, (int)e->pid);
	fflush(stdout);
	kill(e->pid, graceful ? SIGQUIT : SIGTERM);
	if (wait_pid_gone(e->pid, graceful ? STOP_GRACEFUL_WAIT_SEC : STOP_WAIT_SEC))
		return;
	if (!graceful) {
		kill(e->pid, SIGTERM);
		if (wait_pid_gone(e->pid, 2))
			return;
	}
	printf("clearml-agent worker_id=%s pid=%d did not exit in time; killing it\n", e->worker_id,
	       (int)e->pid);
	kill(e->pid, SIGKILL);
	wait_pid_gone(e->pid, 5);
}

static int
stop_instances(const struct cli_opts *o, const struct worker_ident *wi)
{
	struct pidfile_list l;
	if (pidfile_scan(pidfile_dir(), 1, &l) < 0) {
		fprintf(stderr, "clearml_agent: ERROR: cannot read %s: %s\n", pidfile_dir(),
		        strerror(errno));
		return 1;
	}
	int matched = 0;
	if (o->stop_ids.n > 0) {
		for (size_t k = 0; k < o->stop_ids.n; k++) {
			for (size_t i = 0; i < l.n; i++) {
				if (l.v[i].pid != getpid() && strcmp(l.v[i].worker_id, o->stop_ids.v[k]) == 0) {
					terminate_instance(&l.v[i], o->graceful);
					matched++;
					break;
				}
			}
		}
	} else {
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].pid != getpid() &&
			    pidfile_stop_match(l.v[i].worker_id, wi->worker_id,
			                       wi->worker_id ? NULL : wi->worker_name)) {
				terminate_instance(&l.v[i], o->graceful);
				matched++;
				break;
			}
		}
	}
	pidfile_list_free(&l);
	if (!matched) {
		printf("Could not find a running clearml-agent instance with worker_id=%s\n",
		       o->stop_ids.n ? o->stop_ids.v[0] : (wi->worker_id ? wi->worker_id : wi->worker_name));
		return 1;
	}
	return 0;
}

/* ---- background / detached ---- */

static int
open_daemon_log(char **path_out)
{
	char *path = xasprintf("%s/.clearml_agent_daemon_outXXXXXX.txt", pidfile_dir());
	int fd = mkostemps(path, 4, O_CLOEXEC | O_APPEND);
	if (fd < 0) {
		fprintf(stderr, "clearml_agent: ERROR: cannot create the daemon log in %s: %s\n",
		        pidfile_dir(), strerror(errno));
		free(path);
		return -1;
	}
	*path_out = path;
	return fd;
}

/* Returns 0 in the process that continues as the daemon; in the launcher it exits. */
static int
go_background(struct daemon *d)
{
	int fd = open_daemon_log(&d->daemon_log);
	if (fd < 0)
		return -1;
	printf("Running CLEARML-AGENT daemon in background mode, writing stdout/stderr to %s\n",
	       d->daemon_log);
	fflush(stdout);
	fflush(stderr);
	if (d->o->detached) {
		/* The launcher returns only after the daemon's pid file names the daemon's pid, so a
		 * `--stop` right after it finds the daemon (and never sees a dead pid's file). */
		int ready[2];
		if (pipe2(ready, O_CLOEXEC) < 0) {
			close(fd);
			return -1;
		}
		pid_t p = fork();
		if (p < 0) {
			close(ready[0]);
			close(ready[1]);
			close(fd);
			return -1;
		}
		if (p > 0) {
			close(ready[1]);
			int st;
			waitpid(p, &st, 0); /* the intermediate exits at once */
			char c;
			ssize_t n;
			do
				n = read(ready[0], &c, 1);
			while (n < 0 && errno == EINTR);
			_exit(n == 1 ? 0 : 1);
		}
		close(ready[0]);
		setsid();
		p = fork();
		if (p < 0)
			_exit(1);
		if (p > 0)
			_exit(0);
		if (pidfile_follow_pid(&d->pidfile, getpid()) < 0)
			log_warn("could not rename the pid file for the new pid");
		ssize_t w = write(ready[1], "1", 1);
		(void)w;
		close(ready[1]);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			close(null);
		}
	}
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return 0;
}

/* ---- start-up ---- */

static char *
shell_quote(const char *s)
{
	int safe = *s != '\0';
	for (const char *c = s; *c && safe; c++)
		safe = strchr("@%+=:,./-_", *c) != NULL || (*c >= 'a' && *c <= 'z') ||
		       (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
	if (safe)
		return xstrdup(s);
	struct buf b;
	buf_init(&b, strlen(s) * 4 + 3);
	buf_puts(&b, "'");
	for (const char *c = s; *c; c++) {
		if (*c == '\'')
			buf_puts(&b, "'\"'\"'");
		else
			buf_append(&b, c, 1);
	}
	buf_puts(&b, "'");
	return buf_steal(&b);
}

static void
export_worker_env(struct daemon *d)
{
	env_setenv_twin("CLEARML_WORKER_ID", d->ctx.worker_id);
	if (d->o->child_report_tags.n > 0) {
		struct buf b;
		buf_init(&b, 64 * 1024);
		d->tags = json_array();
		for (size_t i = 0; i < d->o->child_report_tags.n; i++) {
			char *q = shell_quote(d->o->child_report_tags.v[i]);
			buf_printf(&b, "%s%s", i ? " " : "", q);
			free(q);
			json_array_append_new(d->tags, json_string(d->o->child_report_tags.v[i]));
		}
		env_setenv_twin("CLEARML_WORKER_TAGS", b.data ? b.data : "");
		buf_free(&b);
	}
}

static void
daemon_free(struct daemon *d)
{
	for (size_t i = 0; i < d->nslots; i++) {
		slot_free(d->slots[i]);
		free(d->slot_queue[i]);
	}
	free(d->slots);
	free(d->slot_queue);
	free(d->slot_next_tick);
	if (d->mon)
		monitor_free(d->mon);
	queues_free(d);
	json_decref(d->tags);
	if (d->pidfile) {
		pidfile_remove(d->pidfile);
		free(d->pidfile);
	}
	free(d->daemon_log);
	agent_ctx_free(&d->ctx);
}

int
cmd_daemon(const struct cli_opts *o, struct config *cfg)
{
	char err[1024];
	struct daemon d;
	memset(&d, 0, sizeof d);
	d.o = o;
	d.cfg = cfg;
	int rc = 1;

	if (o->docker || o->dynamic_gpus || o->services_mode_given) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s is not supported by this agent yet\n",
		        o->docker ? "--docker" : o->dynamic_gpus ? "--dynamic-gpus" : "--services-mode");
		return 1;
	}
	if (gpu_env_setup_process(o->gpus, o->cpu_only, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		return 1;
	}
	int nenv = agent_apply_environment_section(cfg->root);
	if (nenv > 0)
		log_debug("exported %d variables from the configuration's environment section", nenv);

	struct worker_ident wi;
	char *name = agent_worker_name(cfg->root);
	worker_ident_compute(&wi, agent_explicit_worker_id(cfg->root), name,
	                     getenv("NVIDIA_VISIBLE_DEVICES"), getenv("CUDA_VISIBLE_DEVICES"), 0);
	free(name);
	if (o->stop) {
		rc = stop_instances(o, &wi);
		worker_ident_free(&wi);
		return rc;
	}

	if (signals_setup() < 0) {
		fprintf(stderr, "clearml_agent: ERROR: cannot set up signals: %s\n", strerror(errno));
		worker_ident_free(&wi);
		return 1;
	}
	d.poll_interval = agent_polling_interval(cfg->root, o->polling_interval);
	if (agent_ctx_init(&d.ctx, cfg, o, &g_cancel, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		goto out;
	}
	if (agent_ctx_login(&d.ctx, 1) < 0) {
		rc = g_term ? EXIT_INTERRUPTED : 1;
		goto out;
	}
	if (resolve_queues(&d) < 0 || describe_queues(&d) < 0)
		goto out;
	if (o->status) {
		/* print and exit: no instance, no config dump, no registration, no task (spec: 1) */
		struct status_queue *sq = xcalloc(d.nq + 1, sizeof *sq);
		for (size_t i = 0; i < d.nq; i++)
			sq[i] = (struct status_queue){d.q[i].name, d.q[i].tags};
		char *sname = wi.worker_id ? NULL : agent_worker_name(cfg->root);
		status_print(stdout, d.ctx.api, cfg->root, o, wi.worker_id ? wi.worker_id : sname, sq,
		             d.nq);
		free(sname);
		free(sq);
		rc = 1;
		goto out;
	}

	char *worker_id = NULL, *dup = NULL;
	int instance = 0;
	int reg = instance_register(pidfile_dir(), &wi, &worker_id, &instance, &d.pidfile, &dup, err,
	                            sizeof err);
	if (reg == 1) {
		fprintf(stderr, "\nclearml_agent: ERROR: Instance with the same WORKER_ID [%s] is already "
		                "running\n", dup);
		free(dup);
		goto out;
	}
	if (reg < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		goto out;
	}
	rc = agent_ctx_set_instance(&d.ctx, worker_id, instance, err, sizeof err);
	free(worker_id);
	if (rc < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		rc = 1;
		goto out;
	}
	rc = 1;
	if (agent_ctx_dump_config(&d.ctx, err, sizeof err) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: %s\n", err);
		goto out;
	}
	export_worker_env(&d);

	config_print(stdout, cfg);
	printf("\nclearml-agent %s (C build %s), worker %s, polling every %.1f s\n",
	       CLEARML_AGENT_VERSION, CLEARML_C_BUILD, d.ctx.worker_id, d.poll_interval);
	print_queue_table(&d);

	if (!o->foreground && go_background(&d) < 0)
		goto out;
	if (o->detached)
		print_queue_table(&d);

	queue_sched_init(&d.qs, d.nq, o->order_fairness);
	d.registered = worker_register(&d) == 0;
	d.long_poll_took_ms = -1;
	d.long_poll_sec = long_poll_offer(&d);
	if (d.long_poll_sec)
		log_debug("server offers long-poll dispatch: waiting up to %d s per poll", d.long_poll_sec);
	d.mon = monitor_new(cfg->root);
	d.nslots = 1;
	d.slots = xcalloc(d.nslots, sizeof *d.slots);
	d.slot_queue = xcalloc(d.nslots, sizeof *d.slot_queue);
	d.slot_next_tick = xcalloc(d.nslots, sizeof *d.slot_next_tick);
	for (size_t i = 0; i < d.nslots; i++)
		d.slots[i] = slot_new(&d.ctx, (int)i);
	if (slot_recover_orphans(&d.ctx) < 0)
		log_warn("could not recover tasks left by a previous agent");

	rc = event_loop(&d);
	printf("clearml-agent worker %s exiting\n", d.ctx.worker_id);
	fflush(stdout);
	worker_unregister(&d);
	if (d.daemon_log && rc == EXIT_INTERRUPTED && !o->debug)
		unlink(d.daemon_log);
out:
	if (rc == 1 && g_term)
		rc = EXIT_INTERRUPTED; /* stopped during start-up */
	worker_ident_free(&wi);
	daemon_free(&d);
	return rc;
}
