/*
 * jwt — base64 (standard and url-safe) and reading a JWT's claims without checking its signature,
 * as both the ClearML SDK and agent do. Pure functions, no I/O. Owner: jwt.c.
 * api_parse_jwt_claims (declared in api.h) lives in jwt.c as well.
 */
#ifndef CLEARML_JWT_H
#define CLEARML_JWT_H

#include <stddef.h>

/* Standard base64 with '=' padding. Caller frees. */
char *api_b64_encode(const void *data, size_t len);
/* Decode base64 or base64url, padding optional, no whitespace. Returns a NUL-terminated buffer
 * (caller frees) with *out_len set, or NULL when the text is not valid base64. */
unsigned char *api_b64_decode(const char *text, size_t len, size_t *out_len);

#endif
