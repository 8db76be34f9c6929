/*
 * jwt — base64/base64url coding and the JWT claims the agent reads (api_version, server_version,
 * feature_set, exp, identity.user/role/company, env, tenant, service_account_type). The signature
 * is never checked: like the Python agent we only need to know what the server said about itself,
 * and the server checks the token on every call anyway. Pure functions; no I/O.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jwt.h"
#include "util.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
api_b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t out_len = 4 * ((len + 2) / 3);
	char *out = xmalloc(out_len + 1);
	size_t o = 0;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

unsigned char *
api_b64_decode(const char *text, size_t len, size_t *out_len)
{
	/* Padding is optional (base64url in JWTs has none), but when present it must be at the end
	 * and make the length a multiple of four. */
	size_t pad = 0;
	while (len > 0 && text[len - 1] == '=') {
		len--;
		pad++;
	}
	if (pad > 2 || (pad > 0 && (len + pad) % 4 != 0) || len % 4 == 1)
		return NULL;
	unsigned char *out = xmalloc(len / 4 * 3 + 3);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)text[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	/* Leftover bits must be zero, or the text was not produced by an encoder. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

/* Copy a claim that is a string (or a number, written as the server would print it). */
static void
claim_str(const json_t *obj, const char *key, char *dst, size_t dstlen)
{
	const json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		snprintf(dst, dstlen, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(dst, dstlen, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(dst, dstlen, "%.10g", json_real_value(v));
}

static json_t *
decode_segment(const char *seg, size_t len)
{
	size_t n = 0;
	unsigned char *raw = api_b64_decode(seg, len, &n);
	if (!raw)
		return NULL;
	json_t *j = json_loadb((const char *)raw, n, 0, NULL);
	free(raw);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int
api_parse_jwt_claims(const char *token, struct api_claims *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->api_version, sizeof c->api_version, "2.1");
	snprintf(c->server_version, sizeof c->server_version, "1.0.0");
	snprintf(c->feature_set, sizeof c->feature_set, "basic");
	if (!token)
		return -1;
	const char *dot1 = strchr(token, '.');
	if (!dot1)
		return -1;
	const char *payload = dot1 + 1;
	const char *dot2 = strchr(payload, '.');
	size_t plen = dot2 ? (size_t)(dot2 - payload) : strlen(payload);
	if (dot2 && strchr(dot2 + 1, '.'))
		return -1; /* more than three segments: not a JWS compact token */

	json_t *header = decode_segment(token, (size_t)(dot1 - token));
	if (!header)
		return -1;
	json_decref(header);
	json_t *claims = decode_segment(payload, plen);
	if (!claims)
		return -1;

	claim_str(claims, "env", c->env, sizeof c->env);
	if (strcmp(c->env, "prod") == 0)
		snprintf(c->api_version, sizeof c->api_version, "2.2");
	claim_str(claims, "api_version", c->api_version, sizeof c->api_version);
	claim_str(claims, "server_version", c->server_version, sizeof c->server_version);
	claim_str(claims, "feature_set", c->feature_set, sizeof c->feature_set);
	claim_str(claims, "tenant", c->tenant, sizeof c->tenant);

	const json_t *identity = json_object_get(claims, "identity");
	if (json_is_object(identity)) {
		claim_str(identity, "user", c->user, sizeof c->user);
		claim_str(identity, "role", c->role, sizeof c->role);
		claim_str(identity, "company", c->company, sizeof c->company);
		const json_t *sat = json_object_get(identity, "service_account_type");
		if (json_is_integer(sat))
			c->service_account_type = (int)json_integer_value(sat);
	}
	const json_t *sat = json_object_get(claims, "service_account_type");
	if (json_is_integer(sat))
		c->service_account_type = (int)json_integer_value(sat);

	const json_t *iat = json_object_get(claims, "iat");
	if (json_is_integer(iat))
		c->iat = (int64_t)json_integer_value(iat);
	else if (json_is_real(iat))
		c->iat = (int64_t)json_real_value(iat);
	const json_t *exp = json_object_get(claims, "exp");
	if (json_is_integer(exp))
		c->exp = (int64_t)json_integer_value(exp);
	else if (json_is_real(exp))
		c->exp = (int64_t)json_real_value(exp);
	json_decref(claims);
	return 0;
}
