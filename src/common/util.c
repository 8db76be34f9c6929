/*
 * util — allocation, bounded buffers, logging, time, ids, strings and small file helpers shared by
 * every program. Nothing here talks to the network or forks.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		fatal("out of memory (%zu x %zu bytes)", nmemb, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		fatal("out of memory (%zu bytes)", n);
	return q;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		fatal("allocation overflow (%zu x %zu)", nmemb, size);
	return xrealloc(p, nmemb * size);
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (p == NULL)
		fatal("out of memory");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (p == NULL)
		fatal("out of memory");
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory");
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

/* ---- buffers ---- */

void
buf_init(struct buf *b, size_t max)
{
	b->data = xmalloc(64);
	b->data[0] = '\0';
	b->len = 0;
	b->cap = 64;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_put_shell_word(struct buf *b, const char *w, const char *extra_safe)
{
	int plain = *w != '\0';
	for (const char *p = w; *p && plain; p++)
		if (!isalnum((unsigned char)*p) && !strchr("@%+=:,./-_", *p) &&
		    !(extra_safe && strchr(extra_safe, *p)))
			plain = 0;
	if (plain)
		return buf_puts(b, w);
	int rc = buf_puts(b, "'");
	for (const char *p = w; *p && rc == 0; p++)
		rc = *p == '\'' ? buf_puts(b, "'\"'\"'") : buf_append(b, p, 1);
	return rc == 0 ? buf_puts(b, "'") : rc;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	int r = buf_puts(b, s);
	free(s);
	return r;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *
buf_steal(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL; /* the buffer stays usable: the next append allocates again */
	b->len = b->cap = 0;
	return p;
}

/* ---- logging ---- */

static enum log_level g_level = LOG_INFO;
static const char *g_prefix = "clearml";

void log_set_level(enum log_level lvl) { g_level = lvl; }
enum log_level log_get_level(void) { return g_level; }
void log_set_prefix(const char *prefix) { g_prefix = prefix; }

static void
vlog(enum log_level lvl, const char *tag, const char *fmt, va_list ap)
{
	if (lvl > g_level)
		return;
	char *msg = xvasprintf(fmt, ap);
	fprintf(stderr, "%s: %s%s\n", g_prefix, tag, msg);
	free(msg);
}

#define DEFINE_LOG(name, lvl, tag)                 \
	void name(const char *fmt, ...)            \
	{                                          \
		va_list ap;                        \
		va_start(ap, fmt);                 \
		vlog(lvl, tag, fmt, ap);           \
		va_end(ap);                        \
	}
DEFINE_LOG(log_error, LOG_ERROR, "ERROR: ")
DEFINE_LOG(log_warn, LOG_WARN, "WARNING: ")
DEFINE_LOG(log_info, LOG_INFO, "")
DEFINE_LOG(log_debug, LOG_DEBUG, "DEBUG: ")

void
fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: FATAL: ", g_prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* ---- time ---- */

int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
iso_time(int64_t epoch_us, char *out, size_t outlen)
{
	time_t secs = (time_t)(epoch_us / 1000000);
	long us = (long)(epoch_us % 1000000);
	if (us < 0) {
		us += 1000000;
		secs -= 1;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%06ld+00:00", base, us);
}

void
iso_time_now(char *out, size_t outlen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	iso_time((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, out, outlen);
}

int64_t
iso_time_parse(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	long us = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		while (isdigit((unsigned char)*p)) {
			if (digits < 6) {
				us = us * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		while (digits++ < 6)
			us *= 10;
	}
	long off = 0;
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int hh = 0, mm = 0;
		if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
			return -1;
		hh = (p[1] - '0') * 10 + (p[2] - '0');
		p += 3;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
			mm = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
		}
		off = sign * (hh * 3600L + mm * 60L);
	} else if (*p == 'Z') {
		p++;
	}
	if (*p != '\0')
		return -1;
	time_t t = timegm(&tm);
	return ((int64_t)t - off) * 1000000 + us;
}

/* ---- random ids ---- */

void
random_bytes(void *p, size_t n)
{
	unsigned char *c = p;
	while (n > 0) {
		ssize_t r = getrandom(c, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %s", strerror(errno));
		}
		c += r;
		n -= (size_t)r;
	}
}

void
gen_hex_id(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	random_bytes(raw, sizeof raw);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[32] = '\0';
}

double
random_unit(void)
{
	uint64_t v;
	random_bytes(&v, sizeof v);
	return (double)(v >> 11) / (double)(UINT64_C(1) << 53);
}

/* ---- strings ---- */

int
str_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
str_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *
str_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int
parse_bool(const char *s)
{
	static const char *yes[] = {"y", "yes", "t", "true", "on", "1"};
	static const char *no[] = {"n", "no", "f", "false", "off", "0"};
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

const char *
env_get(const char *name)
{
	const char *v = getenv(name);
	return (v && *v) ? v : NULL;
}

int
env_bool(const char *name, int dflt)
{
	const char *v = env_get(name);
	if (v == NULL)
		return dflt;
	int b = parse_bool(v);
	return b < 0 ? dflt : b;
}

int
parse_long(const char *s, long long min, long long max, long long *out)
{
	if (s == NULL || *s == '\0')
		return -1;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

char *
re_escape(const char *s)
{
	struct buf b;
	buf_init(&b, strlen(s) * 2 + 1);
	for (; *s; s++) {
		if (strchr("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", *s))
			buf_append(&b, "\\", 1);
		buf_append(&b, s, 1);
	}
	return buf_steal(&b);
}

/* ---- paths and files ---- */

static const char *
home_dir(void)
{
	const char *h = env_get("HOME");
	if (h)
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "/";
}

/* os.path.expandvars: $NAME and ${NAME} (NAME of \w characters) are replaced by the variable's
 * value; unknown variables and malformed references stay as written. */
void
buf_put_expandvars(struct buf *b, const char *p)
{
	while (*p) {
		if (*p == '$' && (p[1] == '{' || p[1] == '_' || isalnum((unsigned char)p[1]))) {
			const char *start = p + 1;
			int braced = *start == '{';
			if (braced)
				start++;
			const char *end = start;
			while (*end == '_' || isalnum((unsigned char)*end))
				end++;
			if (end > start && (!braced || *end == '}')) {
				char *name = xstrndup(start, (size_t)(end - start));
				const char *val = getenv(name);
				free(name);
				if (val) {
					buf_puts(b, val);
					p = braced ? end + 1 : end;
					continue;
				}
			}
		}
		buf_append(b, p, 1);
		p++;
	}
}

char *
path_expand(const char *p)
{
	struct buf b;
	buf_init(&b, (size_t)PATH_MAX * 16);
	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
		buf_puts(&b, home_dir());
		p++;
	}
	buf_put_expandvars(&b, p);
	return buf_steal(&b);
}

int
mkdir_p(const char *path, unsigned mode)
{
	char *tmp = xstrdup(path);
	size_t n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
			free(tmp);
			return -1;
		}
		*s = '/';
	}
	int r = mkdir(tmp, mode);
	int saved = errno;
	free(tmp);
	if (r < 0 && saved != EEXIST) {
		errno = saved;
		return -1;
	}
	return 0;
}

static int
write_replace(const char *path, const void *data, size_t len, unsigned mode, int sync)
{
	char *tmp = xasprintf("%s.tmp.%ld.XXXXXX", path, (long)getpid());
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fchmod(fd, (mode_t)(mode & 07777)) < 0 || (sync && fsync(fd) < 0))
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail:;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = saved;
	return -1;
}

int
write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	return write_replace(path, data, len, mode, 1);
}

int
write_file_replace(const char *path, const void *data, size_t len, unsigned mode)
{
	return write_replace(path, data, len, mode, 0);
}

char *
read_file(const char *path, size_t max, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct buf b;
	buf_init(&b, max);
	char chunk[65536];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			buf_free(&b);
			errno = saved;
			return NULL;
		}
		if (r == 0)
			break;
		if (buf_append(&b, chunk, (size_t)r) < 0) {
			close(fd);
			buf_free(&b);
			errno = EFBIG;
			return NULL;
		}
	}
	close(fd);
	if (len_out)
		*len_out = b.len;
	return b.data;
}
