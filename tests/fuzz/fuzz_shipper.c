/* libFuzzer target: arbitrary task output through the shipper (shipper.c). Every packet line must
 * be valid JSON (what the server parses), every event within the bounds, offsets must only move
 * forward and cover the whole input once flushed, and the decoded text must equal what the
 * shipper is documented to keep when no \r or reset-colour rule applies. */
// fuzz-sources: src/supervisor/shipper.c
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/shipper.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned flags = data[0];
	size_t msg_at = data[1];
	const char *in = (const char *)data + 2;
	size_t n = size - 2;

	struct shipper *sh = xmalloc(sizeof *sh);
	shipper_init(sh, "task\"id", "worker\\x", flags & 1);
	if (flags & 2) {
		sh->max_event = 8 + (flags >> 4);
		sh->max_packet = 200 + (size_t)(flags >> 2) * 10;
	}
	shipper_add_message(sh, msg_at < n ? msg_at : n, "INFO", "agent \xff line");
	struct buf pkt;
	buf_init(&pkt, 2 * SHIP_MAX_PACKET);
	size_t off = 0;
	int rounds = 0;
	for (int flush = 0; flush <= 1; flush++) {
		for (;;) {
			struct ship_batch r;
			shipper_build(sh, in + off, n - off, off, flush, 1000, &pkt, &r);
			if (r.consumed > n - off)
				abort();
			const char *p = pkt.data, *end = pkt.data + pkt.len;
			size_t events = 0;
			while (p < end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
				json_t *ev = json_loadb(p, ln, 0, NULL);
				if (!ev || !json_is_string(json_object_get(ev, "msg")) ||
				    json_string_length(json_object_get(ev, "msg")) >= sh->max_event)
					abort();
				json_decref(ev);
				events++;
				p += ln + (nl ? 1 : 0);
			}
			if (events != r.events || (events && pkt.len + 1 > sh->max_packet && events > 1))
				abort();
			shipper_commit(sh, &r);
			off += r.consumed;
			if (r.consumed == 0 && r.msgs == 0)
				break;
			if (++rounds > (int)n * 4 + 16)
				abort(); /* no progress */
		}
	}
	if (off != n || shipper_pending_messages(sh) != 0)
		abort();
	buf_free(&pkt);
	shipper_free(sh);
	free(sh);
	return 0;
}
