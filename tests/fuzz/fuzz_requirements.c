/* libFuzzer target for requirements.c: requirement text (lines, continuations, comments, VCS /
 * URL / local / option lines), classification, the main-file rendering, the cache key, PEP 440
 * specifiers, PEP 508 markers, shlex splitting and tool error lines. Nothing may crash, leak or
 * read out of bounds whatever the bytes. */
// fuzz-sources: src/runner/requirements.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runner/requirements.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	struct req_list l = {0};
	req_list_parse_text(&l, text);
	req_classify(&l, NULL);
	char *main_file = req_render_main(&l);
	free(main_file);
	struct req_key_input in = {.python_version = "3.11.7", .manager = "pip", .cuda = "0"};
	char key[33];
	req_cache_key(&l, &in, key);
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].marker)
			(void)req_marker_eval(l.v[i].marker, "3.11.7");
		(void)pep440_satisfies("1.2.3", l.v[i].line);
		(void)pep440_compare(l.v[i].line, "1.0rc1.post2.dev3");
	}
	req_list_free(&l);
	size_t n = 0;
	char **w = req_shlex_split(text, &n);
	for (size_t i = 0; w && i < n; i++)
		free(w[i]);
	free(w);
	char out[128];
	req_tool_error_line(text, out, sizeof out);
	req_python_from_binary(text, out, sizeof out);
	(void)req_python_version_matches(text, "3.1");
	json_t *f = req_freeze_lines(text);
	json_decref(f);
	free(text);
	return 0;
}
