/*
 * shipper — cuts raw spool bytes into ClearML log events and json-lines packets (spec §4.4).
 *
 * One pass over the window: find each line, choose what upstream keeps of it (the last non-empty
 * `\r` segment), decode it straight into the event buffer (UTF-8 with replacement, `\x08`
 * dropped), and when the event would reach 64 KiB write it as one JSON line into the packet. The
 * packet stops before 1 MiB; the batch then says exactly how many raw bytes it covers, so the
 * caller can re-send the same packet after a failure and move its offset only on success.
 * Timestamps are base + i like upstream, but the base never goes below the last confirmed
 * timestamp + 1, so the server's time order is the output order across packets too.
 */
#include "supervisor/shipper.h"

#include <stdlib.h>
#include <string.h>

void
shipper_init(struct shipper *sh, const char *task_id, const char *worker_id, int suppress_cr)
{
	struct buf b;
	memset(sh, 0, offsetof(struct shipper, ev));
	buf_init(&b, 4096);
	json_escape_append(&b, task_id, strlen(task_id));
	sh->task = buf_steal(&b);
	json_escape_append(&b, worker_id, strlen(worker_id));
	sh->worker = buf_steal(&b);
	buf_free(&b);
	sh->suppress_cr = suppress_cr;
	sh->max_event = SHIP_MAX_EVENT;
	sh->max_packet = SHIP_MAX_PACKET;
}

void
shipper_free(struct shipper *sh)
{
	for (size_t i = 0; i < sh->nmsgs; i++)
		free(sh->msgs[i].text);
	free(sh->msgs);
	free(sh->task);
	free(sh->worker);
	sh->msgs = NULL;
	sh->task = sh->worker = NULL;
	sh->nmsgs = sh->capmsgs = 0;
}

void
shipper_add_message(struct shipper *sh, uint64_t off, const char *level, const char *text)
{
	if (sh->nmsgs == sh->capmsgs) {
		sh->capmsgs = sh->capmsgs ? sh->capmsgs * 2 : 8;
		sh->msgs = xreallocarray(sh->msgs, sh->capmsgs, sizeof *sh->msgs);
	}
	struct ship_msg *m = &sh->msgs[sh->nmsgs++];
	/* A message never goes before one queued earlier. */
	if (sh->nmsgs > 1 && off < sh->msgs[sh->nmsgs - 2].off)
		off = sh->msgs[sh->nmsgs - 2].off;
	m->off = off;
	snprintf(m->level, sizeof m->level, "%s", level);
	/* the server's schema (and the SDK) use lower-case levels: "info", "error", "warning" */
	for (char *c = m->level; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	size_t n = strlen(text);
	if (n == 0 || text[n - 1] != '\n')
		m->text = xasprintf("%s\n", text);
	else
		m->text = xstrdup(text);
}

size_t
shipper_pending_messages(const struct shipper *sh)
{
	return sh->nmsgs;
}

/* ---- UTF-8 ---- */

static const char REPL[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* Length of the valid sequence at p (1..4), or 0 with *bad = bytes forming the maximal invalid
 * subpart (at least 1), following the Unicode "maximal subpart" practice Python uses. */
static size_t
utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
	unsigned c = p[0];
	size_t need;
	unsigned lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*bad = 1;
		return 0;
	}
	size_t i = 1;
	for (; i < need; i++) {
		if (i >= n) {
			*bad = i;
			return 0;
		}
		unsigned b = p[i];
		unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
		if (b < l || b > h) {
			*bad = i;
			return 0;
		}
	}
	return need;
}

size_t
utf8_decode_replace(const unsigned char *p, size_t n, char *out, size_t room, size_t *outlen,
                    int cr_to_nl)
{
	size_t i = 0, o = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c < 0x80) {
			if (c == 0x08) {
				i++;
				continue;
			}
			if (c == 0) {
				/* NUL is legal JSON (\u0000) but many JSON stores refuse it (jansson without
				 * JSON_ALLOW_NUL): show it as U+FFFD rather than lose the whole event. */
				if (o + 3 > room)
					break;
				memcpy(out + o, REPL, 3);
				o += 3;
				i++;
				continue;
			}
			if (o + 1 > room)
				break;
			out[o++] = (cr_to_nl && c == '\r') ? '\n' : (char)c;
			i++;
			continue;
		}
		size_t bad = 0;
		size_t len = utf8_seq(p + i, n - i, &bad);
		if (len) {
			if (o + len > room)
				break;
			memcpy(out + o, p + i, len);
			o += len;
			i += len;
		} else {
			if (o + 3 > room)
				break;
			memcpy(out + o, REPL, 3);
			o += 3;
			i += bad;
		}
	}
	*outlen = o;
	return i;
}

/* ---- JSON ---- */

int
json_escape_append(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (i > start && buf_append(b, s + start, i - start) < 0)
			return -1;
		char esc[6];
		size_t el = 2;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
			break;
		}
		if (buf_append(b, esc, el) < 0)
			return -1;
		start = i + 1;
	}
	if (n > start && buf_append(b, s + start, n - start) < 0)
		return -1;
	return 0;
}

/* ---- packing ---- */

struct build {
	struct shipper *sh;
	struct buf *pkt;
	size_t budget;   /* sum of (line + 1) so far */
	int64_t base_ts;
	size_t events;
	int full;        /* the packet cannot take the next event */
};

/* Write one event; 0, or -1 (packet unchanged, b->full set) when it does not fit. */
static int
emit_event(struct build *b, const char *level, const char *msg, size_t msglen)
{
	struct buf *p = b->pkt;
	size_t mark = p->len;
	if (mark > 0 && buf_append(p, "\n", 1) < 0)
		goto nofit;
	size_t line_start = p->len;
	if (buf_printf(p, "{\"type\":\"log\",\"level\":\"%s\",\"task\":\"%s\",\"worker\":\"%s\",\"msg\":\"",
	               level, b->sh->task, b->sh->worker) < 0 ||
	    json_escape_append(p, msg, msglen) < 0 ||
	    buf_printf(p, "\",\"timestamp\":%lld}", (long long)(b->base_ts + (int64_t)b->events)) < 0)
		goto nofit;
	size_t line = p->len - line_start;
	if (b->budget + line + 1 > b->sh->max_packet && b->events > 0)
		goto nofit;
	b->budget += line + 1;
	b->events++;
	return 0;
nofit:
	p->len = mark;
	p->data[mark] = '\0';
	b->full = 1;
	return -1;
}

/* The part of line [0,n) upstream keeps with suppress_carriage_return: the last non-empty
 * segment between \r's (the whole line when it has none, empty when all are empty). */
static void
kept_segment(const char *s, size_t n, size_t *a, size_t *e)
{
	const char *cr = memchr(s, '\r', n);
	if (!cr) {
		*a = 0;
		*e = n;
		return;
	}
	size_t end = n;
	for (;;) {
		/* last segment: after the last \r before end */
		size_t st = end;
		while (st > 0 && s[st - 1] != '\r')
			st--;
		if (st < end) {
			*a = st;
			*e = end;
			return;
		}
		if (st == 0) {
			*a = *e = 0;
			return;
		}
		end = st - 1; /* drop the empty segment and its \r */
	}
}

void
shipper_build(struct shipper *sh, const char *data, size_t len, uint64_t base_off,
              int flush_partial, int64_t now_ms, struct buf *pkt, struct ship_batch *res)
{
	struct build b = {.sh = sh, .pkt = pkt};
	b.base_ts = now_ms > sh->last_ts ? now_ms : sh->last_ts + 1;
	buf_reset(pkt);
	memset(res, 0, sizeof *res);

	size_t end = len;
	if (!flush_partial) {
		const char *nl = len ? memrchr(data, '\n', len) : NULL;
		end = nl ? (size_t)(nl - data) + 1 : 0;
	}
	size_t limit = sh->max_event - 1; /* msg stays < max_event */
	size_t evlen = 0;                 /* bytes in sh->ev */
	size_t ev_raw_end = 0;            /* raw offset the pending event covers */
	size_t committed = 0;             /* raw offset covered by events in the packet */
	size_t msgi = 0;
	size_t pos = 0;

	for (;;) {
		/* Agent messages said before this point go first. */
		while (msgi < sh->nmsgs && sh->msgs[msgi].off <= base_off + pos) {
			if (evlen) {
				if (emit_event(&b, "debug", sh->ev, evlen) < 0)
					goto done;
				evlen = 0;
				committed = ev_raw_end;
			}
			const char *t = sh->msgs[msgi].text;
			size_t tl = strlen(t), ol;
			/* Agent text may quote server data: make it valid UTF-8 too, within one event. */
			utf8_decode_replace((const unsigned char *)t, tl, sh->ev, limit, &ol, 0);
			if (emit_event(&b, sh->msgs[msgi].level, sh->ev, ol) < 0)
				goto done;
			msgi++;
			res->msgs = msgi;
			committed = pos;
			ev_raw_end = pos;
		}
		if (pos >= end)
			break;

		const char *nl = memchr(data + pos, '\n', end - pos);
		size_t le = nl ? (size_t)(nl - data) : end;
		size_t next = nl ? le + 1 : end;
		size_t a = 0, e = le - pos;
		if (sh->suppress_cr)
			kept_segment(data + pos, le - pos, &a, &e);
		a += pos;
		e += pos;
		if (e - a == 4 && memcmp(data + a, "\x1b[0m", 4) == 0) {
			/* upstream drops reset-colour lines */
			pos = next;
			if (evlen)
				ev_raw_end = pos;
			else
				committed = ev_raw_end = pos;
			continue;
		}
		/* room for the text, keeping one byte for its '\n'; none when the event is full */
		size_t outn = 0, used = 0;
		int fits = 0;
		if (evlen + 1 <= limit) {
			used = utf8_decode_replace((const unsigned char *)data + a, e - a, sh->ev + evlen,
			                           limit - evlen - 1, &outn, !sh->suppress_cr);
			fits = used == e - a;
		}
		if (fits) {
			evlen += outn;
			sh->ev[evlen++] = '\n';
			pos = next;
			ev_raw_end = pos;
			continue;
		}
		if (evlen) {
			/* does not fit beside what is there: send that, retry the line alone */
			if (emit_event(&b, "debug", sh->ev, evlen) < 0)
				goto done;
			evlen = 0;
			committed = ev_raw_end;
			continue;
		}
		/* one line longer than an event: a 64 KiB piece, the rest continues from here */
		used = utf8_decode_replace((const unsigned char *)data + a, e - a, sh->ev, limit, &outn,
		                           !sh->suppress_cr);
		if (used == 0)
			used = 1; /* cannot happen with limit >= 4; never loop forever */
		if (emit_event(&b, "debug", sh->ev, outn) < 0)
			goto done;
		pos = a + used;
		committed = ev_raw_end = pos;
	}
	if (evlen && emit_event(&b, "debug", sh->ev, evlen) == 0)
		committed = ev_raw_end;
done:
	res->consumed = committed;
	res->events = b.events;
	res->last_ts = b.events ? b.base_ts + (int64_t)b.events - 1 : sh->last_ts;
}

void
shipper_commit(struct shipper *sh, const struct ship_batch *res)
{
	for (size_t i = 0; i < res->msgs && i < sh->nmsgs; i++)
		free(sh->msgs[i].text);
	size_t k = res->msgs < sh->nmsgs ? res->msgs : sh->nmsgs;
	if (k > 0) {
		memmove(sh->msgs, sh->msgs + k, (sh->nmsgs - k) * sizeof *sh->msgs);
		sh->nmsgs -= k;
	}
	if (res->last_ts > sh->last_ts)
		sh->last_ts = res->last_ts;
}
