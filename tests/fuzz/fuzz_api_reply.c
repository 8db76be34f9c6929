/*
 * Fuzz what a server (or anything pretending to be one) hands the agent: reply envelopes and JWT
 * tokens, and the YAML writer `list` feeds with the reply's data. The first byte picks the target.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "util.h"
#include "yaml_out.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 3;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	if (which == 0) {
		json_t *out = NULL;
		struct api_error err;
		if (api_parse_envelope(text, len, 200, &out, &err) == 0) {
			char *y = yaml_dump(out);
			free(y);
		}
		json_decref(out);
	} else if (which == 1) {
		char *tok = xstrndup(text, len);
		struct api_claims c;
		api_parse_jwt_claims(tok, &c);
		free(tok);
	} else {
		json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (v) {
			char *y = yaml_dump(v);
			free(y);
			json_decref(v);
		}
	}
	return 0;
}
