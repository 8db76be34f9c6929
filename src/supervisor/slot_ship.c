/*
 * slot_ship — the task's log to the server (slot_internal.h): the spool is read in a window,
 * masked (redact.h), cut into events.add_batch packets (shipper.h); the confirmed offset moves
 * only after the server took a packet, a failed one is re-sent byte for byte with jittered
 * back-off, shipped ranges are punched out of the spool. Also the agent's own lines and the
 * agent's disk (a full state/spool directory fails the task).
 */
#include "supervisor/slot_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PACKETS_PER_TICK 8
#define PARTIAL_HOLD_MS 1000        /* a line without '\n' waits this long for its end */
#define SHIP_DEADLINE_MS 5000
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 10000

uint64_t
slot_spool_size(const struct slot *s)
{
	struct stat st;
	if (s->spool_fd < 0 || fstat(s->spool_fd, &st) < 0)
		return s->confirmed + s->raw_len;
	return (uint64_t)st.st_size;
}

/* An agent line for the task's log (and the agent's own stdout, as upstream echoes it). */
void
slot_say(struct slot *s, const char *level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);
	redact_text(&s->red, text);
	if (s->sh)
		shipper_add_message(s->sh, slot_spool_size(s), level, text);
	fputs(text, stdout);
	if (!str_ends_with(text, "\n"))
		fputc('\n', stdout);
	fflush(stdout);
	free(text);
}

/* The state/spool directory is full: the task's output cannot be captured any more. Kill the
 * task and fail it with a reason that says so; what was written is still shipped. */
void
slot_note_disk_full(struct slot *s)
{
	if (s->disk_full)
		return;
	const char *dir = s->ctx->state_dir ? s->ctx->state_dir : ".";
	s->disk_full = xasprintf("agent disk full: no space left in the agent's state/spool directory "
	                         "%s (task log %s)", dir, s->spool_path ? s->spool_path : "?");
	log_error("task %s: %s", s->task_id, s->disk_full);
	if (s->sh)
		shipper_add_message(s->sh, slot_spool_size(s), "ERROR", s->disk_full);
	if (s->st == SLOT_RUNNING && !s->child_gone) {
		s->stop = STOP_NONE;
		slot_begin_kill(s);
	}
}

void
slot_check_disk(struct slot *s)
{
	const char *dir = s->ctx->state_dir ? s->ctx->state_dir : ".";
	struct statvfs v;
	if (s->disk_full || statvfs(dir, &v) < 0)
		return;
	unsigned long long avail = geteuid() == 0 ? v.f_bfree : v.f_bavail;
	if (avail == 0)
		slot_note_disk_full(s);
}

/* Give back the disk space of spool bytes the server already confirmed (offsets stay valid:
 * the file keeps its size, the range reads as zeros and is never read again). */
static void
reclaim_spool(struct slot *s)
{
	if (s->spool_fd < 0 || !s->reclaim_step)
		return;
	uint64_t upto = s->confirmed & ~(uint64_t)4095;
	if (upto < s->reclaimed + s->reclaim_step)
		return;
	if (fallocate(s->spool_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s->reclaimed,
	              (off_t)(upto - s->reclaimed)) < 0) {
		log_debug("task %s: cannot reclaim spool space: %s", s->task_id, strerror(errno));
		s->reclaim_step = 0; /* not supported here: stop trying */
		return;
	}
	s->reclaimed = upto;
}

static void
advance(struct slot *s, const struct ship_batch *b)
{
	shipper_commit(s->sh, b);
	if (b->consumed) {
		memmove(s->raw, s->raw + b->consumed, s->raw_len - b->consumed);
		s->raw_len -= b->consumed;
		s->confirmed += b->consumed;
		slot_save_state(s);
		reclaim_spool(s);
	}
}

static void
fill_raw(struct slot *s)
{
	while (s->raw_len < RAW_MAX) {
		ssize_t n = pread(s->spool_fd, s->raw + s->raw_len, RAW_MAX - s->raw_len,
		                  (off_t)(s->confirmed + s->raw_len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s->raw_len += (size_t)n;
	}
}

/* Ship what is due. flush: the child is gone, send partial lines too. Returns 1 when everything
 * read so far is confirmed. */
int
slot_ship(struct slot *s, int flush)
{
	int64_t now = mono_ms();
	if (now < s->next_ship)
		return 0;
	for (int round = 0; round < PACKETS_PER_TICK; round++) {
		if (!s->have_pending) {
			if (s->spool_fd >= 0)
				fill_raw(s);
			/* mask secrets; a tail that may be the start of one waits for its rest */
			size_t from = s->redact_upto > s->confirmed ? (size_t)(s->redact_upto - s->confirmed) : 0;
			if (from > s->raw_len)
				from = s->raw_len;
			size_t len = redact_apply(&s->red, s->raw, s->raw_len, from,
			                          flush && s->raw_len < RAW_MAX);
			s->redact_upto = s->confirmed + len;
			int flush_partial = flush;
			const char *nl = len ? memrchr(s->raw, '\n', len) : NULL;
			size_t whole = nl ? (size_t)(nl - s->raw) + 1 : 0;
			if (whole < len && !flush_partial) {
				uint64_t pstart = s->confirmed + whole;
				if (pstart != s->partial_start) {
					s->partial_start = pstart;
					s->partial_since = now;
				}
				if (now - s->partial_since >= PARTIAL_HOLD_MS || (whole == 0 && len == RAW_MAX))
					flush_partial = 1;
			}
			shipper_build(s->sh, s->raw, len, s->confirmed, flush_partial, now_ms(), &s->pkt,
			              &s->pending);
			if (s->pending.events == 0) {
				if (s->pending.consumed || s->pending.msgs) {
					advance(s, &s->pending);
					continue;
				}
				return s->raw_len == 0 && shipper_pending_messages(s->sh) == 0;
			}
			s->have_pending = 1;
		}
		/* While the server is away, fail fast: the back-off spaces the attempts, and the loop
		 * (other slots, kills in progress) must not wait on a dead server. */
		struct api_call_opts o = slot_call_opts(s, NULL, s->ship_failing ? 1000 : SHIP_DEADLINE_MS);
		struct api_error e;
		json_t *data = NULL;
		int64_t t0 = mono_ms();
		int rc = api_call_batch(s->ctx->api, "events.add_batch", s->pkt.data, s->pkt.len, &o, &data,
		                        &e);
		log_debug("task %s: %zu log events (%zu bytes) sent in %lld ms: %s", s->task_id,
		          s->pending.events, s->pkt.len, (long long)(mono_ms() - t0), rc == 0 ? "ok" : e.msg);
		if (rc < 0 && e.http_status >= 400 && e.http_status < 500 && e.http_status != 408 &&
		    e.http_status != 429) {
			/* The server answered and refused (task deleted, published...): re-sending the same
			 * packet cannot succeed. */
			log_error("task %s: the server refused %zu log events: %s", s->task_id,
			          s->pending.events, e.msg);
			rc = 0;
		}
		if (rc < 0) {
			if (!s->ship_failing)
				log_warn("task %s: sending log events failed, will retry: %s", s->task_id, e.msg);
			s->ship_failing = 1;
			s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
			if (s->backoff_ms > BACKOFF_MAX_MS)
				s->backoff_ms = BACKOFF_MAX_MS;
			/* full jitter in [backoff/2, backoff] */
			s->next_ship = mono_ms() + s->backoff_ms / 2 +
			               (int64_t)(random_unit() * (double)(s->backoff_ms / 2));
			return 0;
		}
		if (data) {
			json_int_t added = json_integer_value(json_object_get(data, "added"));
			if ((size_t)added != s->pending.events) {
				char *errs = json_dumps(json_object_get(data, "errors_info"), JSON_COMPACT | JSON_ENCODE_ANY);
				log_error("Error (%s) sending events only %lld of %zu registered",
				          errs ? errs : "null", (long long)added, s->pending.events);
				free(errs);
			}
			json_decref(data);
		}
		if (s->ship_failing)
			log_info("task %s: sending log events works again", s->task_id);
		s->ship_failing = 0;
		s->backoff_ms = 0;
		s->have_pending = 0;
		advance(s, &s->pending);
	}
	return 0;
}

int
slot_all_shipped(struct slot *s)
{
	return !s->have_pending && s->raw_len == 0 && shipper_pending_messages(s->sh) == 0 &&
	       slot_spool_size(s) <= s->confirmed;
}
