/*
 * reply — what handlers use to answer: data, errors formatted like the real server's messages,
 * and typed access to the request body that turns a wrong type or a missing field into the
 * 400/12 validation error (so every handler reports them the same way).
 */
#include <stdarg.h>
#include <string.h>

#include "server/front.h"
#include "server/server.h"
#include "util.h"

void
reply_data(struct reply *r, json_t *data)
{
	if (r->data)
		json_decref(r->data);
	r->data = data;
}

void
reply_err(struct reply *r, int code, int subcode, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(r->msg);
	r->msg = xvasprintf(fmt, ap);
	va_end(ap);
	r->code = code;
	r->subcode = subcode;
	if (r->data) {
		json_decref(r->data);
		r->data = NULL;
	}
}

void
reply_clear(struct reply *r)
{
	free(r->msg);
	if (r->data)
		json_decref(r->data);
	memset(r, 0, sizeof(*r));
}

int
req_version_ge(const struct req *q, int major, int minor)
{
	return q->ver_major > major || (q->ver_major == major && q->ver_minor >= minor);
}

static const json_t *
field_get(const struct req *q, const char *field)
{
	const json_t *v = json_object_get(q->body, field);
	return json_is_null(v) ? NULL : v;
}

int
req_str(const struct req *q, struct reply *r, const char *field, int required, const char **out)
{
	const json_t *v = field_get(q, field);
	if (!v) {
		if (required) {
			reply_err(r, 400, 12, "Validation error (required field missing): field=%s", field);
			return -1;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		reply_err(r, 400, 12, "Validation error (expected a string): field=%s", field);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
req_int(const struct req *q, struct reply *r, const char *field, int required, long long *out)
{
	const json_t *v = field_get(q, field);
	if (!v) {
		if (required) {
			reply_err(r, 400, 12, "Validation error (required field missing): field=%s", field);
			return -1;
		}
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d) {
			*out = (long long)d;
			return 0;
		}
	}
	reply_err(r, 400, 12, "Validation error (expected an integer): field=%s", field);
	return -1;
}

int
req_bool(const struct req *q, struct reply *r, const char *field, int required, int *out)
{
	const json_t *v = field_get(q, field);
	if (!v) {
		if (required) {
			reply_err(r, 400, 12, "Validation error (required field missing): field=%s", field);
			return -1;
		}
		return 0;
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
		*out = (int)json_integer_value(v);
		return 0;
	}
	reply_err(r, 400, 12, "Validation error (expected a boolean): field=%s", field);
	return -1;
}
