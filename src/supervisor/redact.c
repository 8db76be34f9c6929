/*
 * redact — streaming secret masking (contract in redact.h).
 */
#include "supervisor/redact.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void
redact_init(struct redactor *r)
{
	memset(r, 0, sizeof *r);
}

void
redact_free(struct redactor *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	free(r->len);
	memset(r, 0, sizeof *r);
}

int
redact_add(struct redactor *r, const char *secret, size_t minlen)
{
	if (!secret)
		return 0;
	size_t l = strlen(secret);
	if (l == 0 || l < minlen || l > REDACT_MAX_SECRET || strpbrk(secret, "\r\n"))
		return 0;
	if (strspn(secret, "*") == l)
		return 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->len[i] == l && memcmp(r->v[i], secret, l) == 0)
			return 0;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->v = xreallocarray(r->v, r->cap, sizeof *r->v);
		r->len = xreallocarray(r->len, r->cap, sizeof *r->len);
	}
	r->v[r->n] = xstrdup(secret);
	r->len[r->n] = l;
	r->n++;
	if (l > r->maxlen)
		r->maxlen = l;
	return 1;
}

/* Longest suffix of buf[0..len) that is a proper prefix of some secret. */
static size_t
hold_back(const struct redactor *r, const char *buf, size_t len)
{
	size_t hold = 0;
	for (size_t i = 0; i < r->n; i++) {
		size_t l = r->len[i];
		size_t kmax = l - 1 < len ? l - 1 : len;
		for (size_t k = kmax; k > hold; k--) {
			if (buf[len - k] == r->v[i][0] && memcmp(buf + len - k, r->v[i], k) == 0) {
				hold = k;
				break;
			}
		}
	}
	return hold;
}

struct occ {
	size_t at, end;
};

size_t
redact_apply(const struct redactor *r, char *buf, size_t len, size_t from, int final)
{
	if (r->n == 0 || from >= len)
		return len;
	/* every occurrence starting at or after `from`, found on the original bytes */
	struct occ *o = NULL;
	size_t no = 0, co = 0;
	for (size_t i = 0; i < r->n; i++) {
		size_t l = r->len[i];
		const char *p = buf + from, *end = buf + len;
		while ((size_t)(end - p) >= l) {
			const char *hit = memmem(p, (size_t)(end - p), r->v[i], l);
			if (!hit)
				break;
			if (no == co) {
				co = co ? co * 2 : 16;
				o = xreallocarray(o, co, sizeof *o);
			}
			o[no].at = (size_t)(hit - buf);
			o[no].end = o[no].at + l;
			no++;
			p = hit + 1;
		}
	}
	/* Safe: before a tail that may begin a secret, and never inside an occurrence (bytes at and
	 * after the safe point stay original, so the next call sees them as they were written). */
	size_t safe = final ? len : len - hold_back(r, buf + from, len - from);
	for (int moved = 1; moved && !final;) {
		moved = 0;
		for (size_t k = 0; k < no; k++) {
			if (o[k].at < safe && o[k].end > safe) {
				safe = o[k].at;
				moved = 1;
			}
		}
	}
	/* mask the union of what lies before it (masking one by one could hide an overlap) */
	unsigned char *mark = no ? xcalloc(safe - from + 1, 1) : NULL;
	for (size_t k = 0; k < no; k++)
		if (o[k].end <= safe)
			memset(mark + (o[k].at - from), 1, o[k].end - o[k].at);
	for (size_t j = 0; mark && j < safe - from; j++)
		if (mark[j])
			buf[from + j] = '*';
	free(mark);
	free(o);
	return safe;
}

void
redact_text(const struct redactor *r, char *s)
{
	redact_apply(r, s, strlen(s), 0, 1);
}

int
redact_name_matches(const char *name, const char *const *globs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (globs[i] && fnmatch(globs[i], name, 0) == 0)
			return 1;
	return 0;
}

const char *
redact_url_password(const char *url, size_t *len)
{
	const char *p = url ? strstr(url, "://") : NULL;
	if (!p)
		return NULL;
	p += 3;
	size_t auth = strcspn(p, "/?#");
	const char *at = memrchr(p, '@', auth);
	if (!at)
		return NULL;
	const char *colon = memchr(p, ':', (size_t)(at - p));
	if (!colon || colon + 1 >= at)
		return NULL;
	*len = (size_t)(at - colon - 1);
	return colon + 1;
}
