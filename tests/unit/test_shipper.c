/* Unit tests for shipper.c: how spool bytes become log events and json-lines packets (§4.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/shipper.h"
#include "util.h"

struct parsed {
	json_t *events; /* array of event objects */
};

/* Parse a packet; every line must be valid JSON (this is the point of several tests). */
static json_t *
parse_packet(const struct buf *pkt)
{
	json_t *arr = json_array();
	const char *p = pkt->data, *end = pkt->data + pkt->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		json_error_t err;
		json_t *ev = json_loadb(p, n, 0, &err);
		if (!ev)
			fail_msg("invalid JSON line: %s: %.*s", err.text, (int)(n > 200 ? 200 : n), p);
		json_array_append_new(arr, ev);
		p += n + (nl ? 1 : 0);
	}
	return arr;
}

static const char *
ev_msg(json_t *arr, size_t i)
{
	return json_string_value(json_object_get(json_array_get(arr, i), "msg"));
}

static const char *
ev_level(json_t *arr, size_t i)
{
	return json_string_value(json_object_get(json_array_get(arr, i), "level"));
}

/* Build one packet from the whole of s, commit it; returns the parsed events. */
static json_t *
ship_once(struct shipper *sh, const char *s, size_t n, int flush, struct ship_batch *res)
{
	struct buf pkt;
	buf_init(&pkt, 2 * SHIP_MAX_PACKET);
	shipper_build(sh, s, n, 0, flush, 1000, &pkt, res);
	json_t *arr = parse_packet(&pkt);
	assert_int_equal(json_array_size(arr), res->events);
	shipper_commit(sh, res);
	buf_free(&pkt);
	return arr;
}

static void
test_lines_joined_in_one_event(void **state)
{
	(void)state;
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T1", "host:0", 1);
	struct ship_batch r;
	const char *in = "a\nb\nc\n";
	json_t *ev = ship_once(sh, in, strlen(in), 0, &r);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.consumed, strlen(in));
	assert_string_equal(ev_msg(ev, 0), "a\nb\nc\n");
	assert_string_equal(ev_level(ev, 0), "debug");
	json_t *e0 = json_array_get(ev, 0);
	assert_string_equal(json_string_value(json_object_get(e0, "type")), "log");
	assert_string_equal(json_string_value(json_object_get(e0, "task")), "T1");
	assert_string_equal(json_string_value(json_object_get(e0, "worker")), "host:0");
	assert_int_equal(json_integer_value(json_object_get(e0, "timestamp")), 1000);
	json_decref(ev);
	shipper_free(sh);
	free(sh);
}

static void
test_partial_line_held_back(void **state)
{
	(void)state;
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	struct ship_batch r;
	const char *in = "first\nsec";
	json_t *ev = ship_once(sh, in, strlen(in), 0, &r);
	assert_int_equal(r.consumed, 6);
	assert_string_equal(ev_msg(ev, 0), "first\n");
	json_decref(ev);
	/* nothing but a partial line: nothing to send, nothing consumed */
	ev = ship_once(sh, "sec", 3, 0, &r);
	assert_int_equal(r.events, 0);
	assert_int_equal(r.consumed, 0);
	json_decref(ev);
	/* once it is flushed (old enough / child gone) it ships with a newline */
	ev = ship_once(sh, "sec", 3, 1, &r);
	assert_int_equal(r.consumed, 3);
	assert_string_equal(ev_msg(ev, 0), "sec\n");
	json_decref(ev);
	shipper_free(sh);
	free(sh);
}

static void
test_carriage_return_rules(void **state)
{
	(void)state;
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	struct ship_batch r;
	const char *in = "10%\r50%\r100%\r\nx\ry\nplain\n\r\r\n";
	json_t *ev = ship_once(sh, in, strlen(in), 0, &r);
	assert_string_equal(ev_msg(ev, 0), "100%\ny\nplain\n\n");
	json_decref(ev);
	shipper_free(sh);

	shipper_init(sh, "T", "w", 0); /* suppress_carriage_return off: \r becomes \n */
	ev = ship_once(sh, "a\rb\n", 4, 0, &r);
	assert_string_equal(ev_msg(ev, 0), "a\nb\n");
	json_decref(ev);
	shipper_free(sh);
	free(sh);
}

static void
test_reset_colour_dropped_and_backspace_stripped(void **state)
{
	(void)state;
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	struct ship_batch r;
	const char *in = "\x1b[0m\nab\x08\x08" "c\n\x1b[0m\n";
	json_t *ev = ship_once(sh, in, strlen(in), 0, &r);
	assert_int_equal(r.consumed, strlen(in));
	assert_int_equal(r.events, 1);
	assert_string_equal(ev_msg(ev, 0), "abc\n");
	json_decref(ev);
	/* only dropped lines: no event, but the bytes are consumed */
	ev = ship_once(sh, "\x1b[0m\n", 5, 0, &r);
	assert_int_equal(r.events, 0);
	assert_int_equal(r.consumed, 5);
	json_decref(ev);
	shipper_free(sh);
	free(sh);
}

static void
test_invalid_utf8_replaced(void **state)
{
	(void)state;
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	struct ship_batch r;
	/* \xff, \xfe: one each; \xe2\x82 then '(' : one for the truncated prefix; \xed\xa0\x80 is a
	 * surrogate: \xed alone is the maximal subpart, then two lone continuation bytes. */
	const char in[] = "ok\xff\xfe\xe2\x82(\xed\xa0\x80 \xc3\xa9\xe2\x82\xac\n";
	json_t *ev = ship_once(sh, in, sizeof in - 1, 0, &r);
	assert_string_equal(ev_msg(ev, 0),
	                    "ok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                    " \xc3\xa9\xe2\x82\xac\n");
	json_decref(ev);
	shipper_free(sh);
	free(sh);
}

static void
test_control_chars_escaped(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1024);
	const char raw[] = "q\"b\\s\x01\x1f\t\r\n\x7f\x00z";
	assert_int_equal(json_escape_append(&b, raw, sizeof raw - 1), 0);
	assert_string_equal(b.data, "q\\\"b\\\\s\\u0001\\u001f\\t\\r\\n\x7f\\u0000z");
	buf_free(&b);

	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T\"x", "w\\y", 1);
	struct ship_batch r;
	const char in[] = "a\x00\x01\"\\b\n";
	json_t *ev = ship_once(sh, in, sizeof in - 1, 0, &r);
	json_t *e0 = json_array_get(ev, 0);
	/* NUL shows as U+FFFD (stores refuse \u0000); the rest round-trips exactly */
	assert_string_equal(json_string_value(json_object_get(e0, "msg")),
	                    "a\xef\xbf\xbd\x01\"\\b\n");
	assert_string_equal(json_string_value(json_object_get(e0, "task")), "T\"x");
	assert_string_equal(json_string_value(json_object_get(e0, "worker")), "w\\y");
	json_decref(ev);
	shipper_free(sh);
	free(sh);
}

/* Ship everything in `in` through packets; returns all msgs concatenated; checks bounds. */
static char *
ship_all(struct shipper *sh, const char *in, size_t n, size_t *npackets, size_t *nevents)
{
	struct buf out, pkt;
	buf_init(&out, 64u << 20);
	buf_init(&pkt, 2 * SHIP_MAX_PACKET);
	size_t off = 0;
	int64_t last = -1;
	*npackets = *nevents = 0;
	while (off < n) {
		struct ship_batch r;
		shipper_build(sh, in + off, n - off, off, 1, 1000, &pkt, &r);
		assert_true(r.consumed > 0);
		/* the packet bound, counted like upstream: each json line + 1 */
		assert_true(pkt.len + 1 <= sh->max_packet);
		json_t *arr = parse_packet(&pkt);
		for (size_t i = 0; i < json_array_size(arr); i++) {
			json_t *e = json_array_get(arr, i);
			const char *m = json_string_value(json_object_get(e, "msg"));
			assert_true(json_string_length(json_object_get(e, "msg")) < sh->max_event);
			int64_t ts = json_integer_value(json_object_get(e, "timestamp"));
			assert_true(ts > last); /* strictly growing, across packets too */
			last = ts;
			buf_append(&out, m, strlen(m));
		}
		*nevents += json_array_size(arr);
		json_decref(arr);
		shipper_commit(sh, &r);
		off += r.consumed;
		(*npackets)++;
	}
	buf_free(&pkt);
	return buf_steal(&out);
}

static void
test_long_line_cut_into_64k_pieces(void **state)
{
	(void)state;
	size_t n = 150000;
	char *in = xmalloc(n + 1);
	memset(in, 'x', n - 1);
	in[n - 1] = '\n';
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	size_t np, ne;
	char *out = ship_all(sh, in, n, &np, &ne);
	assert_int_equal(ne, 3); /* 65535 + 65535 + rest */
	assert_int_equal(strlen(out), n);
	assert_memory_equal(out, in, n);
	free(out);
	shipper_free(sh);
	free(sh);
	free(in);
}

static void
test_lines_split_across_events_and_packets(void **state)
{
	(void)state;
	/* 3 MiB of numbered lines: several events per packet, several packets, nothing lost,
	 * nothing repeated, order kept. */
	struct buf in;
	buf_init(&in, 8u << 20);
	for (int i = 0; in.len < (3u << 20); i++)
		buf_printf(&in, "line %d of the test output\n", i);
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	size_t np, ne;
	char *out = ship_all(sh, in.data, in.len, &np, &ne);
	assert_true(np >= 3);
	assert_true(ne >= 48);
	assert_int_equal(strlen(out), in.len);
	assert_memory_equal(out, in.data, in.len);
	free(out);
	shipper_free(sh);
	free(sh);
	buf_free(&in);
}

static void
test_small_packet_bound(void **state)
{
	(void)state;
	/* Lower bounds make the cut points easy to see: each event holds what fits below 16
	 * bytes, each packet what fits in 300. */
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	sh->max_event = 16;
	sh->max_packet = 300;
	struct buf in;
	buf_init(&in, 1 << 20);
	for (int i = 0; i < 100; i++)
		buf_printf(&in, "l%02d\n", i);
	size_t np, ne;
	char *out = ship_all(sh, in.data, in.len, &np, &ne);
	assert_string_equal(out, in.data);
	assert_true(np > 5);
	free(out);
	buf_free(&in);
	shipper_free(sh);
	free(sh);
}

static void
test_event_filled_to_the_byte(void **state)
{
	(void)state;
	/* Lines that fill an event exactly to its bound: the next line starts a new event (this
	 * once computed a negative room and wrote past the event buffer). */
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	sh->max_event = 8; /* msg < 8 bytes */
	const char in[] = "abcdef\n\nxy\n\xe2\x82\nb\x00" "c\n";
	size_t np, ne;
	char *out = ship_all(sh, in, sizeof in - 1, &np, &ne);
	assert_string_equal(out, "abcdef\n\nxy\n\xef\xbf\xbd\nb\xef\xbf\xbd" "c\n");
	assert_true(ne >= 3);
	free(out);
	shipper_free(sh);
	free(sh);

	/* the same at the real bound: 65534 bytes + '\n' fill one event; the next line is apart */
	size_t n = 65535 + 3;
	char *big = xmalloc(n);
	memset(big, 'x', 65534);
	big[65534] = '\n';
	memcpy(big + 65535, "y\n", 2);
	big[n - 1] = '\n';
	sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	out = ship_all(sh, big, n - 1, &np, &ne);
	assert_int_equal(ne, 2);
	assert_int_equal(strlen(out), n - 1);
	free(out);
	free(big);
	shipper_free(sh);
	free(sh);
}

static void
test_agent_messages_interleave(void **state)
{
	(void)state;
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	shipper_add_message(sh, 0, "INFO", "task T pulled from q by worker w");
	shipper_add_message(sh, 2, "ERROR", "User aborted: stopping task (3) stopped\n");
	shipper_add_message(sh, 100, "INFO", "Process aborted by user");
	struct ship_batch r;
	json_t *ev = ship_once(sh, "x\ny\n", 4, 0, &r);
	assert_int_equal(r.events, 4);
	assert_string_equal(ev_level(ev, 0), "info");
	assert_string_equal(ev_msg(ev, 0), "task T pulled from q by worker w\n");
	assert_string_equal(ev_msg(ev, 1), "x\n");
	assert_string_equal(ev_level(ev, 2), "error");
	assert_string_equal(ev_msg(ev, 3), "y\n");
	assert_int_equal(r.msgs, 2);
	/* the third message was said after output not read yet: it waits */
	assert_int_equal(shipper_pending_messages(sh), 1);
	json_decref(ev);
	shipper_free(sh);
	free(sh);
}

static void
test_uncommitted_build_is_repeatable(void **state)
{
	(void)state;
	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "T", "w", 1);
	shipper_add_message(sh, 0, "INFO", "hello");
	struct buf p1, p2;
	buf_init(&p1, 2 * SHIP_MAX_PACKET);
	buf_init(&p2, 2 * SHIP_MAX_PACKET);
	struct ship_batch r1, r2;
	shipper_build(sh, "a\nb\n", 4, 0, 0, 5000, &p1, &r1);
	shipper_build(sh, "a\nb\n", 4, 0, 0, 5000, &p2, &r2);
	assert_string_equal(p1.data, p2.data);
	assert_int_equal(r1.consumed, r2.consumed);
	assert_int_equal(shipper_pending_messages(sh), 1);
	shipper_commit(sh, &r1);
	assert_int_equal(shipper_pending_messages(sh), 0);
	/* the next packet's timestamps continue after the confirmed ones even if the clock is
	 * behind */
	struct ship_batch r3;
	shipper_build(sh, "c\n", 2, 4, 0, 10, &p1, &r3);
	json_t *ev = parse_packet(&p1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 0), "timestamp")),
	                 r1.last_ts + 1);
	json_decref(ev);
	buf_free(&p1);
	buf_free(&p2);
	shipper_free(sh);
	free(sh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_joined_in_one_event),
		cmocka_unit_test(test_partial_line_held_back),
		cmocka_unit_test(test_carriage_return_rules),
		cmocka_unit_test(test_reset_colour_dropped_and_backspace_stripped),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_control_chars_escaped),
		cmocka_unit_test(test_long_line_cut_into_64k_pieces),
		cmocka_unit_test(test_lines_split_across_events_and_packets),
		cmocka_unit_test(test_small_packet_bound),
		cmocka_unit_test(test_event_filled_to_the_byte),
		cmocka_unit_test(test_agent_messages_interleave),
		cmocka_unit_test(test_uncommitted_build_is_repeatable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
