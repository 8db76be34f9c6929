/* libFuzzer target for cli.c: any argument vector (the input split at newlines and NULs, at most
 * 48 words) through the argparse-like parser, including @files: "@x" reads one of a few fixed
 * files in a private directory (one names itself, one is empty, one holds flags), so nothing
 * outside is read and nothing can block. Nothing may crash, leak or read out of bounds; the
 * status is always 0, 1 or 2 and a 0 always comes with a sub-command and a log level. */
// fuzz-sources: src/agent/cli.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/cli.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIR "/tmp/fuzz_cli_files"

static void
setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	mkdir(DIR, 0700);
	static const struct {
		const char *name, *text;
	} files[] = {
		{"a", "daemon\n--queue\nq1\nq 2\n"},
		{"b", "@" DIR "/b\n"},
		{"c", ""},
		{"d", "--config-file\r\n/x\r\n\r\n-OO\n--services-mode=3"},
	};
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		char *p = xasprintf(DIR "/%s", files[i].name);
		FILE *f = fopen(p, "we");
		if (f) {
			fputs(files[i].text, f);
			fclose(f);
		}
		free(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	char *argv[50];
	int argc = 0;
	argv[argc++] = xstrdup("clearml-agent");
	size_t len = size;
	for (size_t i = 0, start = 0; i <= len && argc < 49; i++) {
		if (i < len && data[i] != '\n' && data[i] != '\0')
			continue;
		char *w = xstrndup((const char *)data + start, i - start);
		if (w[0] == '@') {
			/* only the private files: "@a".."@d", anything else becomes a missing one */
			char *mapped = xasprintf("@" DIR "/%s", strchr("abcd", w[1] ? w[1] : 'z') ? w + 1 : "none");
			free(w);
			w = mapped;
		}
		argv[argc++] = w;
		start = i + 1;
	}
	argv[argc] = NULL;
	FILE *null = fopen("/dev/null", "we");
	if (null) {
		struct cli_opts o;
		int rc = cli_parse(argc, argv, &o, null, null);
		if (rc < 0 || rc > 2)
			abort();
		if (rc == 0 && (o.cmd == CMD_NONE || o.log_level == NULL))
			abort();
		if (rc == 0 && (o.cmd == CMD_EXECUTE || o.cmd == CMD_BUILD) && o.id == NULL)
			abort();
		cli_opts_free(&o);
		fclose(null);
	}
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
