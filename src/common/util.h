/*
 * util — the small things every program here needs: allocation that never returns NULL,
 * bounded growable buffers, logging, ids and timestamps, path expansion, boolean parsing.
 *
 * Allocation failure is fatal (x* functions abort with a message). Buffers declare their maximum
 * size at init; an append that would pass it fails with -1 and leaves the buffer unchanged.
 */
#ifndef CLEARML_UTIL_H
#define CLEARML_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ATTR_NORETURN __attribute__((noreturn))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) ATTR_PRINTF(1, 0);

/* Bounded growable byte buffer; always NUL-terminated after data[len]. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* hard upper bound of len */
};
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);   /* -1 when max would be passed */
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
void buf_consume(struct buf *b, size_t n);                /* drop n bytes from the front */
char *buf_steal(struct buf *b);                           /* caller frees; buffer is reset */
/* w as one POSIX shell word, as Python's shlex.quote writes it: bare when every character is
 * alphanumeric, one of @%+=:,./-_ or of extra_safe (may be NULL), else in single quotes. */
int buf_put_shell_word(struct buf *b, const char *w, const char *extra_safe);

/* Logging to stderr. Level set once at start; log_debug only prints at LOG_DEBUG. */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_set_prefix(const char *prefix); /* e.g. "clearml-server-lite" */
void log_error(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_warn(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_info(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_debug(const char *fmt, ...) ATTR_PRINTF(1, 2);
void fatal(const char *fmt, ...) ATTR_PRINTF(1, 2) ATTR_NORETURN;

/* Time. */
int64_t now_ms(void);          /* wall clock, epoch milliseconds */
int64_t mono_ms(void);         /* monotonic milliseconds */
double now_sec(void);          /* wall clock, epoch seconds with fraction */
/* ISO-8601 UTC with offset and microseconds: "2020-02-24T15:05:35.426770+00:00". out >= 40 bytes. */
void iso_time(int64_t epoch_us, char *out, size_t outlen);
void iso_time_now(char *out, size_t outlen);
/* Parse what iso_time writes (and "Z"/no fraction); returns epoch microseconds or -1. */
int64_t iso_time_parse(const char *s);

/* 32 lowercase hex chars from the kernel's random source; out must hold 33 bytes. */
void gen_hex_id(char out[33]);
/* Random bytes (getrandom); fatal on failure. */
void random_bytes(void *p, size_t n);
/* Uniform random double in [0,1). */
double random_unit(void);

/* Strings. */
int str_starts_with(const char *s, const char *prefix);
int str_ends_with(const char *s, const char *suffix);
char *str_trim(char *s);               /* in place, returns s moved past leading space */
/* Parse a boolean the way the Python agent does: y yes t true on 1 / n no f false off 0,
 * case-insensitive. Returns 1/0, or -1 when the text is not a boolean. */
int parse_bool(const char *s);
/* Environment variable as boolean; empty or unset → dflt; unparsable → dflt. */
int env_bool(const char *name, int dflt);
/* Non-empty environment value or NULL. */
const char *env_get(const char *name);
/* Strict integer parse: whole string, range-checked. 0 ok, -1 error. */
int parse_long(const char *s, long long min, long long max, long long *out);

/* Escape s the way Python's re.escape does (3.7+), for names sent as server-side patterns.
 * Caller frees. */
char *re_escape(const char *s);

/* Paths: expand a leading ~ and $VAR / ${VAR} (unknown variables left as is). Caller frees. */
char *path_expand(const char *p);
/* Append s with $VAR / ${VAR} replaced as os.path.expandvars does (unknown ones left as is). */
void buf_put_expandvars(struct buf *b, const char *s);
/* mkdir -p with mode; 0 or -1 (errno set). */
int mkdir_p(const char *path, unsigned mode);
/* Write a whole file atomically (tmp + fsync + rename) with mode. 0 or -1. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* The same without fsync, for rebuildable files (caches, markers): readers see the old file or
 * the whole new one, never a part, but a power loss may lose the update. 0 or -1. */
int write_file_replace(const char *path, const void *data, size_t len, unsigned mode);
/* Read a whole file up to max bytes; NULL on error or if larger (errno EFBIG). */
char *read_file(const char *path, size_t max, size_t *len_out);

#endif
