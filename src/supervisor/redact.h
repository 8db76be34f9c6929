/*
 * redact — mask known secrets in a task's output stream before it leaves the machine (issue 9;
 * the masking of Buildkite's and GitLab's job logs; upstream masks only printed docker commands
 * and its config dump).
 *
 * Streaming: the caller keeps a window of raw bytes that grows at the end and is consumed at the
 * front (the slot's spool window). redact_apply masks every occurrence of a secret that lies in
 * the window (each byte of it becomes '*', so the length and every spool offset stay the same)
 * and says how much of the window is safe to ship: a tail that could be the start of a secret
 * whose rest has not been written yet is held back until the next call (or until `final`), so a
 * secret split across two writes is still caught. Overlapping secrets are masked as a union.
 * Pure; no I/O. Owner: redact.c.
 */
#ifndef CLEARML_REDACT_H
#define CLEARML_REDACT_H

#include <stddef.h>

#define REDACT_MAX_SECRET 4096 /* longer values are not secrets we can hold back for */

struct redactor {
	char **v;
	size_t *len;
	size_t n, cap;
	size_t maxlen;
};

void redact_init(struct redactor *r);
void redact_free(struct redactor *r);
/* Add a secret (copied). Values shorter than minlen, longer than REDACT_MAX_SECRET, made only of
 * '*', or holding a newline are ignored, as are duplicates. 1 when added, else 0. */
int redact_add(struct redactor *r, const char *secret, size_t minlen);
/* Mask buf[from..len) in place (from: where the previous call's safe length ended; bytes before
 * it are final). Returns the safe length (<= len); with final, len. */
size_t redact_apply(const struct redactor *r, char *buf, size_t len, size_t from, int final);
/* Mask a whole NUL-terminated string in place. */
void redact_text(const struct redactor *r, char *s);

/* 1 when the environment variable name matches one of the shell-style globs (fnmatch), e.g.
 * "*_TOKEN", "*_SECRET", "*_PASSWORD". */
int redact_name_matches(const char *name, const char *const *globs, size_t n);
/* The password of "scheme://user:password@host..." (a pointer into url and its length), or
 * NULL. */
const char *redact_url_password(const char *url, size_t *len);

#endif
