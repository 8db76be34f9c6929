/* libFuzzer target: streaming secret masking (redact.c). Input: a secret count, secrets
 * (length-prefixed), a chunking seed, then the text. Streaming the text in arbitrary chunks
 * (consuming the safe part after every call, as the slot does) must give exactly the one-shot
 * result, ship every byte once, and leave no secret (free of '*') in what was shipped. */
// fuzz-sources: src/supervisor/redact.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/redact.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t ns = (data[0] & 3) + 1;
	unsigned seed = data[1];
	size_t i = 2;
	struct redactor r;
	redact_init(&r);
	for (size_t k = 0; k < ns && i < size; k++) {
		size_t l = (data[i++] & 15) + 1;
		if (i + l > size)
			break;
		char *sec = xstrndup((const char *)data + i, l);
		if (strlen(sec) == l)
			redact_add(&r, sec, 1);
		free(sec);
		i += l;
	}
	size_t n = size - i;
	const char *text = (const char *)data + i;

	char *once = xmalloc(n + 1);
	memcpy(once, text, n);
	size_t s1 = redact_apply(&r, once, n, 0, 1);
	if (s1 != n)
		abort();

	char *win = xmalloc(n + 1);
	char *out = xmalloc(n + 1);
	size_t wl = 0, ol = 0, fed = 0;
	while (fed < n) {
		seed = seed * 1103515245u + 12345u;
		size_t add = 1 + (seed >> 16) % 7;
		if (add > n - fed)
			add = n - fed;
		memcpy(win + wl, text + fed, add);
		wl += add;
		fed += add;
		size_t safe = redact_apply(&r, win, wl, 0, fed == n);
		if (safe > wl)
			abort();
		memcpy(out + ol, win, safe);
		ol += safe;
		memmove(win, win + safe, wl - safe);
		wl -= safe;
	}
	if (ol != n || wl != 0 || memcmp(out, once, n) != 0)
		abort();
	for (size_t k = 0; k < r.n; k++)
		if (!strchr(r.v[k], '*') && memmem(out, n, r.v[k], r.len[k]))
			abort();
	free(once);
	free(win);
	free(out);
	redact_free(&r);
	return 0;
}
