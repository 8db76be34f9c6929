/* libFuzzer target: one json-lines item of events.add_batch through the §6.1 normalization
 * (event_store.c), as the server does with every event it receives. Must never crash, leak, or
 * leave an accepted event without its indexed fields. */
// fuzz-sources: src/server/event_store.c src/server/store_sql.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/event_store.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *ev = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!ev)
		return 0;
	char *key = NULL;
	const char *why = NULL;
	if (event_normalize(ev, "fuzz-host", 1700000000000, &key, &why) == 0) {
		if (!json_is_string(json_object_get(ev, "task")) ||
		    !json_is_string(json_object_get(ev, "type")) ||
		    !json_is_integer(json_object_get(ev, "timestamp")) ||
		    !json_is_string(json_object_get(ev, "metric")) ||
		    !json_is_string(json_object_get(ev, "variant")))
			abort();
		const char *type = json_string_value(json_object_get(ev, "type"));
		if ((strcmp(type, "log") == 0) != (key == NULL))
			abort();
	} else if (!why) {
		abort();
	}
	free(key);
	json_decref(ev);
	return 0;
}
