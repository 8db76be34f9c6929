// fuzz-sources: src/server/http.c src/server/reply.c src/server/getall.c src/server/getall_value.c src/server/getall_regex.c src/server/auth.c src/server/db.c src/server/web_static.c src/server/session_cookie.c src/server/longpoll.c
/*
 * Fuzz clearml-server-lite's request decoding, the code every request runs before any handler:
 * the path parser, the query-string merge, JSON / json-lines body decoding (with the string cap),
 * the get_all query builder (filters, regex translation, ordering, paging, projection), JWT and
 * base64 decoding, and the envelope writer. The first byte picks the target; NUL bytes split the
 * rest into fields. The router and the per-thread database are stubbed: no sockets, no files.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/front.h"
#include "server/getall.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* http.c links against these; the fuzzer never dispatches. */
void router_dispatch(struct req *q, struct reply *r) { (void)q; reply_err(r, 500, 0, "stub"); }
void router_init(void) {}
void workers_expire(sqlite3 *db, int64_t now) { (void)db; (void)now; }

#define MAX_FIELDS 8

static int
split(const char *p, size_t n, const char *out[MAX_FIELDS], size_t lens[MAX_FIELDS])
{
	int k = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n && k < MAX_FIELDS; i++) {
		if (i == n || p[i] == '\0') {
			out[k] = p + start;
			lens[k] = i - start;
			k++;
			start = i + 1;
		}
	}
	return k;
}

static const char *const pat[] = {"name", "comment", NULL};
static const char *const lst[] = {"id", "tags", "system_tags", "status", "project", "hyperparams.*",
                                  NULL};
static const char *const rng[] = {"last_iteration", NULL};
static const char *const dts[] = {"last_update", NULL};
static const char *const txt[] = {"name", "id", NULL};
static const char *const hid[] = {"enqueue_status", NULL};
static const struct getall_spec spec = {pat, lst, rng, dts, txt, hid, 1, "hidden", 0};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	unsigned mode = data[0] % 6;
	/* a NUL-terminated copy so every field is a C string */
	char *buf = xmalloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	const char *f[MAX_FIELDS] = {0};
	size_t fl[MAX_FIELDS] = {0};
	int nf = split(buf, size - 1, f, fl);
	struct reply r = {0};
	switch (mode) {
	case 0: {
		char name[160], ver[16];
		int maj, min;
		front_parse_path(f[0], name, sizeof(name), ver, sizeof(ver), &maj, &min);
		break;
	}
	case 1: {
		json_t *body = json_object();
		for (int i = 0; i + 1 < nf; i += 2)
			front_merge_query(body, f[i], f[i + 1]);
		json_decref(body);
		break;
	}
	case 2: {
		json_t *body = NULL, *batch = NULL;
		const char *ctype = (fl[0] & 1) ? "application/json-lines" : "application/json";
		const char *ep = (fl[0] & 2) ? "events.add_batch" : "tasks.create";
		const char *b = nf > 1 ? f[1] : "";
		size_t bl = nf > 1 ? size - 1 - (size_t)(f[1] - buf) : 0;
		if (front_decode_body(ep, ctype, b, bl, &body, &batch, &r) == 0) {
			json_decref(body);
			json_decref(batch);
		}
		break;
	}
	case 3: {
		json_t *docs = json_loadb(f[0], fl[0], 0, NULL);
		json_t *body = nf > 1 ? json_loadb(f[1], fl[1], 0, NULL) : NULL;
		if (!json_is_array(docs)) {
			json_decref(docs);
			docs = json_loads("[{\"id\":\"a\",\"name\":\"alpha\",\"tags\":[\"x\"],\"last_iteration\":3,"
			                  "\"last_update\":\"2024-01-01T00:00:00.000000+00:00\"},"
			                  "{\"id\":\"b\",\"name\":\"beta\",\"system_tags\":[\"hidden\"]}]", 0, NULL);
		}
		if (!json_is_object(body)) {
			json_decref(body);
			body = json_pack("{s:s%}", "name", f[0], fl[0]);
			if (!body)
				body = json_object();
		}
		json_t *out = NULL;
		char *scroll = NULL;
		if (getall_query(docs, body, &spec, &r, &out, &scroll) == 0)
			json_decref(out);
		free(scroll);
		if (json_is_array(json_object_get(body, "only_fields"))) {
			json_t *p = getall_project(json_array_get(docs, 0), json_object_get(body, "only_fields"), hid);
			json_decref(p);
		}
		getall_regex_match(f[0], nf > 1 ? f[1] : "");
		json_decref(docs);
		json_decref(body);
		break;
	}
	case 4: {
		unsigned char key[32] = {7};
		json_t *claims = NULL;
		if (jwt_verify(key, sizeof(key), f[0], 1000, &claims) == 0) {
			struct identity who;
			identity_from_claims(claims, &who);
			json_decref(claims);
		}
		size_t n;
		free(b64_decode(f[0], fl[0], 0, &n));
		free(b64_decode(f[0], fl[0], 1, &n));
		if (nf > 1)
			secret_verify(f[1], f[0]);
		break;
	}
	default: {
		size_t len;
		r.actual_version = "1.0";
		if (fl[0] & 1)
			reply_err(&r, 400, (int)fl[0], "%s", f[0]);
		else
			reply_data(&r, json_pack("{s:s%}", "x", f[0], fl[0]));
		char *t = front_envelope(nf > 1 ? f[1] : "", nf > 2 ? f[2] : "2.5", (int)fl[0], 1,
		                         nf > 3 ? f[3] : NULL, &r, &len);
		free(t);
		break;
	}
	}
	reply_clear(&r);
	free(buf);
	return 0;
}
