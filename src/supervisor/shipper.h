/*
 * shipper — pure packing of a task's console output into ClearML log events (spec §4.4).
 *
 * The slot reads raw bytes of the spool file; the shipper turns a window of them into one
 * json-lines packet for events.add_batch, exactly as upstream packs them (lines joined into one
 * `msg` while < 64 KiB, longer lines cut into 64 KiB pieces, `\r` progress bars collapsed,
 * `\x1b[0m` lines dropped, `\x08` stripped, UTF-8 decoded with U+FFFD replacement, every line
 * ending with `\n`, packets <= 1 MiB), and says how many raw bytes the packet covers. Nothing moves
 * until the caller confirms the packet with shipper_commit, so a failed send is simply re-sent.
 *
 * Agent messages (INFO/ERROR/WARNING lines) are queued with the spool offset at which they were
 * said, so they interleave with the task's output in the order things happened.
 * No I/O here; no allocation per line. Owner: shipper.c.
 */
#ifndef CLEARML_SHIPPER_H
#define CLEARML_SHIPPER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SHIP_MAX_EVENT 65536          /* upstream max_event_size: msg stays below this */
#define SHIP_MAX_PACKET 1048576       /* upstream max_packet_size: sum(json line + 1) */

struct ship_msg {
	uint64_t off;   /* spool offset when it was said: output before it ships first */
	char level[12]; /* "info", "error", "warning" (lower-cased as the server schema wants) */
	char *text;
};

struct shipper {
	char *task;            /* JSON-escaped task id */
	char *worker;          /* JSON-escaped worker id */
	int suppress_cr;       /* agent.suppress_carriage_return (default true) */
	int64_t last_ts;       /* last timestamp confirmed: timestamps only grow */
	struct ship_msg *msgs; /* queued agent messages, in order */
	size_t nmsgs, capmsgs;
	char ev[SHIP_MAX_EVENT + 8]; /* the event being filled */
	size_t max_event;      /* msg bound (tests may lower it) */
	size_t max_packet;     /* packet bound (tests may lower it) */
};

/* What one shipper_build produced. */
struct ship_batch {
	size_t consumed;     /* raw bytes covered (the confirmed offset moves by this) */
	size_t msgs;         /* queued agent messages included */
	size_t events;       /* events in the packet (0: nothing to send; still commit) */
	int64_t last_ts;     /* timestamp of the last event */
};

void shipper_init(struct shipper *sh, const char *task_id, const char *worker_id, int suppress_cr);
void shipper_free(struct shipper *sh);

/* Queue an agent message said when the spool was `off` bytes long. A missing final newline is
 * added. */
void shipper_add_message(struct shipper *sh, uint64_t off, const char *level, const char *text);
size_t shipper_pending_messages(const struct shipper *sh);

/* Build one packet from raw spool bytes data[0..len) that start at spool offset base_off.
 * flush_partial: also ship a trailing line without '\n' (child gone, or held long enough).
 * Queued messages with off <= the position reached are interleaved. The packet (json lines
 * joined by '\n') is written to pkt (reset first). */
void shipper_build(struct shipper *sh, const char *data, size_t len, uint64_t base_off,
                   int flush_partial, int64_t now_ms, struct buf *pkt, struct ship_batch *res);

/* The server confirmed the packet of res: drop its messages, remember its last timestamp. */
void shipper_commit(struct shipper *sh, const struct ship_batch *res);

/* Helpers, exposed for tests. */
/* Append s[0..n) JSON-escaped (no quotes) to b; s must be valid UTF-8. -1 when b is full. */
int json_escape_append(struct buf *b, const char *s, size_t n);
/* Decode p[0..n) as UTF-8 into out (at most room bytes): invalid sequences become U+FFFD,
 * \x08 dropped, and \r becomes \n when cr_to_nl. Stops at a character boundary before room would
 * be passed. Returns the raw bytes consumed; *outlen gets the bytes written. */
size_t utf8_decode_replace(const unsigned char *p, size_t n, char *out, size_t room,
                           size_t *outlen, int cr_to_nl);

#endif
