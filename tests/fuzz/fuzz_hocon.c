// fuzz-sources: 
/*
 * fuzz_hocon — libFuzzer target for the HOCON parser: any bytes must give either an object or a
 * "file:line:col: message" error, never a crash, a hang or a leak. Successful parses are also
 * pushed through the print-out formatter (masking, pyhocon properties) and re-parsed from their
 * JSON dump, which must give the same tree back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *o = NULL;
	char err[512];
	if (hocon_parse((const char *)data, size, "fuzz.conf", &o, err, sizeof err) != 0) {
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort(); /* every error names the file and position */
		return 0;
	}
	char *props = config_format_properties(o, cfg_get(o, "agent.sanitize_config_printout"));
	free(props);
	char *dump = json_dumps(o, JSON_INDENT(4));
	if (dump) {
		json_t *back = NULL;
		if (hocon_parse(dump, strlen(dump), NULL, &back, err, sizeof err) != 0)
			abort(); /* our own JSON output must read back */
		if (!json_equal(back, o))
			abort();
		json_decref(back);
		free(dump);
	}
	json_decref(o);
	return 0;
}
