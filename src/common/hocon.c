/*
 * hocon — the HOCON parser behind clearml.conf: text → jansson object.
 *
 * One recursive-descent pass over the bytes (no token list), tracking line and column for every
 * error ("file:line:col: message"). Values land directly in the tree: objects at the same path
 * merge, anything else replaces. Substitutions cannot be resolved while parsing (they may point
 * forward), so a value containing `${...}` is stored as a marker object (a single reserved key)
 * and a second pass resolves every marker against the finished document, then the process
 * environment. Self-references (`path: ${path}":/x"`) are resolved at assignment time against the
 * value the key had before, as HOCON specifies.
 *
 * Bounds: input size (HOCON_MAX_TEXT), nesting depth (HOCON_MAX_DEPTH, includes count), include
 * depth, path segments, string length, and a budget on substitution expansion so that neither a
 * cycle nor an exponential "billion laughs" document can hang or exhaust the process.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"

#define HOCON_MAX_TEXT ((size_t)4 << 20)
#define HOCON_MAX_DEPTH 64
#define HOCON_MAX_INCLUDE 8
#define HOCON_MAX_SEGS 64
#define HOCON_MAX_STR ((size_t)4 << 20)
#define HOCON_SUBST_BUDGET 1000000L  /* json nodes / bytes produced by substitution */
#define HOCON_SUBST_DEPTH 32

/* Reserved key of a pending-substitution marker. Quoted keys equal to it are rejected. */
static const char MARKER_KEY[] = "\x01hocon-subst";

struct src {
	const char *p, *end;
	const char *file; /* for messages and include resolution; never NULL */
	int line, col;
};

struct ctx {
	json_t *root;
	char *err;
	size_t errlen;
	int failed;
	int include_depth;
	/* path of the object being filled, from the root; invalid inside arrays */
	const char *prefix[HOCON_MAX_DEPTH + HOCON_MAX_SEGS];
	int nprefix;
	int in_array;
	long budget;
	/* markers being resolved (cycle detection) */
	json_t *resolving[HOCON_SUBST_DEPTH];
	int nresolving;
};

struct path {
	char *seg[HOCON_MAX_SEGS];
	int n;
};

static void
path_free(struct path *pa)
{
	for (int i = 0; i < pa->n; i++)
		free(pa->seg[i]);
	pa->n = 0;
}

static void ATTR_PRINTF(5, 6)
fail_at(struct ctx *c, const char *file, int line, int col, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = 1;
	if (c->err == NULL || c->errlen == 0)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%d:%d: %s", file, line, col, msg);
}

#define FAIL(c, s, ...) fail_at((c), (s)->file, (s)->line, (s)->col, __VA_ARGS__)

/* ---- character stream ---- */

static int
at_end(const struct src *s)
{
	return s->p >= s->end;
}

static int
peek(const struct src *s)
{
	return s->p < s->end ? (unsigned char)*s->p : -1;
}

static int
peek_at(const struct src *s, size_t off)
{
	return (size_t)(s->end - s->p) > off ? (unsigned char)s->p[off] : -1;
}

static void
adv(struct src *s)
{
	if (s->p >= s->end)
		return;
	if (*s->p == '\n') {
		s->line++;
		s->col = 1;
	} else {
		s->col++;
	}
	s->p++;
}

static void
adv_n(struct src *s, size_t n)
{
	while (n-- > 0)
		adv(s);
}

static int
is_inline_ws(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int
at_comment(const struct src *s)
{
	return peek(s) == '#' || (peek(s) == '/' && peek_at(s, 1) == '/');
}

static void
skip_comment(struct src *s)
{
	while (!at_end(s) && peek(s) != '\n')
		adv(s);
}

static void
skip_inline_ws(struct src *s)
{
	while (is_inline_ws(peek(s)))
		adv(s);
}

/* Whitespace, newlines and comments. */
static void
skip_all_ws(struct src *s)
{
	for (;;) {
		int ch = peek(s);
		if (is_inline_ws(ch) || ch == '\n')
			adv(s);
		else if (ch >= 0 && at_comment(s))
			skip_comment(s);
		else
			return;
	}
}

/* ---- markers ---- */

static int
is_marker(const json_t *v)
{
	return json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, MARKER_KEY) != NULL;
}

/* Deep merge; markers are opaque values (never merged into). */
static void
merge_into(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v;
	json_object_foreach(src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (d && json_is_object(d) && json_is_object(v) && !is_marker(d) && !is_marker(v))
			merge_into(d, v);
		else
			json_object_set(dst, k, v);
	}
}

void
hocon_merge(json_t *dst, json_t *src)
{
	if (!json_is_object(dst) || !json_is_object(src))
		return;
	merge_into(dst, src);
}

/* ---- strings ---- */

static int
append_utf8(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(b, u, n);
}

static int
hex4(const struct src *s, size_t off, unsigned long *out)
{
	unsigned long v = 0;
	for (size_t i = 0; i < 4; i++) {
		int ch = peek_at(s, off + i);
		int d;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			return -1;
		v = v * 16 + (unsigned long)d;
	}
	*out = v;
	return 0;
}

/* A "..." string (the opening quote at s->p); appends the decoded text to b. */
static int
parse_quoted(struct ctx *c, struct src *s, struct buf *b)
{
	int line = s->line, col = s->col;
	adv(s);
	for (;;) {
		int ch = peek(s);
		if (ch < 0 || ch == '\n') {
			fail_at(c, s->file, line, col, "unterminated string");
			return -1;
		}
		if (ch == '"') {
			adv(s);
			return 0;
		}
		if (ch == '\\') {
			int e = peek_at(s, 1);
			const char *rep = NULL;
			switch (e) {
			case '"': rep = "\""; break;
			case '\\': rep = "\\"; break;
			case '/': rep = "/"; break;
			case 'b': rep = "\b"; break;
			case 'f': rep = "\f"; break;
			case 'n': rep = "\n"; break;
			case 'r': rep = "\r"; break;
			case 't': rep = "\t"; break;
			case 'u': break;
			default:
				FAIL(c, s, "bad escape sequence in string");
				return -1;
			}
			if (rep) {
				if (buf_puts(b, rep) < 0)
					goto toolong;
				adv_n(s, 2);
				continue;
			}
			unsigned long cp, lo;
			if (hex4(s, 2, &cp) < 0) {
				FAIL(c, s, "bad \\u escape in string");
				return -1;
			}
			size_t used = 6;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (peek_at(s, 6) != '\\' || peek_at(s, 7) != 'u' || hex4(s, 8, &lo) < 0 ||
				    lo < 0xDC00 || lo > 0xDFFF) {
					FAIL(c, s, "bad \\u escape in string (unpaired surrogate)");
					return -1;
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				used = 12;
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				FAIL(c, s, "bad \\u escape in string (unpaired surrogate)");
				return -1;
			}
			if (cp == 0) {
				FAIL(c, s, "NUL character in string");
				return -1;
			}
			if (append_utf8(b, cp) < 0)
				goto toolong;
			adv_n(s, used);
			continue;
		}
		if (ch == 0) {
			FAIL(c, s, "NUL character in string");
			return -1;
		}
		char ch8 = (char)ch;
		if (buf_append(b, &ch8, 1) < 0)
			goto toolong;
		adv(s);
	}
toolong:
	FAIL(c, s, "string too long");
	return -1;
}

static int
at_triple(const struct src *s)
{
	return peek(s) == '"' && peek_at(s, 1) == '"' && peek_at(s, 2) == '"';
}

/* A """...""" string: raw, may span lines; extra quotes before the closing three belong to it. */
static int
parse_triple(struct ctx *c, struct src *s, struct buf *b)
{
	int line = s->line, col = s->col;
	adv_n(s, 3);
	for (;;) {
		if (at_end(s)) {
			fail_at(c, s->file, line, col, "unterminated triple-quoted string");
			return -1;
		}
		if (at_triple(s)) {
			size_t n = 3;
			while (peek_at(s, n) == '"')
				n++;
			if (buf_append(b, s->p, n - 3) < 0)
				goto toolong;
			adv_n(s, n);
			return 0;
		}
		if (peek(s) == 0) {
			FAIL(c, s, "NUL character in string");
			return -1;
		}
		if (buf_append(b, s->p, 1) < 0)
			goto toolong;
		adv(s);
	}
toolong:
	FAIL(c, s, "string too long");
	return -1;
}

/* ---- keys ---- */

/* Characters that end an unquoted key segment. */
static int
key_stop(int ch)
{
	return ch < 0 || ch == '.' || ch == ':' || ch == '=' || ch == '{' || ch == '}' || ch == '[' ||
	       ch == ']' || ch == ',' || ch == '"' || ch == '#' || ch == '\n' || ch == '$' ||
	       ch == '+' || ch == '\\' || ch == '`' || ch == '^' || ch == '?' || ch == '!' ||
	       ch == '@' || ch == '*' || ch == '&';
}

/* A JSON string, or an error at line:col (where the value started) when not valid UTF-8. */
static json_t *
str_value(struct ctx *c, struct src *s, int line, int col, const char *p, size_t n)
{
	json_t *v = json_stringn(p, n);
	if (v == NULL)
		fail_at(c, s->file, line, col, "invalid UTF-8 in string");
	return v;
}

/* A path expression: segments separated by '.', each quoted or unquoted; whitespace inside an
 * unquoted run is kept, trailing whitespace trimmed. Stops before the separator. */
static int
parse_path(struct ctx *c, struct src *s, struct path *pa)
{
	pa->n = 0;
	struct buf seg;
	buf_init(&seg, 64 * 1024);
	int any = 0; /* the current segment has content (possibly empty quoted) */
	int line = s->line, col = s->col;
	for (;;) {
		int ch = peek(s);
		if (ch == '"' && !at_triple(s)) {
			if (parse_quoted(c, s, &seg) < 0)
				goto fail;
			any = 1;
		} else if (ch == '"') {
			FAIL(c, s, "triple-quoted strings are not allowed in keys");
			goto fail;
		} else if (ch == '/' && peek_at(s, 1) == '/') {
			break;
		} else if (is_inline_ws(ch)) {
			/* keep inner whitespace only if the key continues on this line */
			const char *save = s->p;
			skip_inline_ws(s);
			int nx = peek(s);
			if (key_stop(nx) && nx != '"' && nx != '.')
				break;
			if (nx == '/' && peek_at(s, 1) == '/')
				break;
			if (buf_append(&seg, save, (size_t)(s->p - save)) < 0)
				goto toolong;
		} else if (ch == '.') {
			if (!any) {
				FAIL(c, s, "empty key segment");
				goto fail;
			}
			goto push;
		} else if (!key_stop(ch)) {
			const char *st = s->p;
			while (!key_stop(peek(s)) && !is_inline_ws(peek(s)) &&
			       !(peek(s) == '/' && peek_at(s, 1) == '/'))
				adv(s);
			if (buf_append(&seg, st, (size_t)(s->p - st)) < 0)
				goto toolong;
			any = 1;
		} else {
			break;
		}
		continue;
push:
		if (pa->n >= HOCON_MAX_SEGS) {
			FAIL(c, s, "key has too many segments");
			goto fail;
		}
		pa->seg[pa->n++] = buf_steal(&seg);
		any = 0;
		adv(s); /* the '.' */
	}
	if (!any) {
		if (pa->n == 0)
			fail_at(c, s->file, line, col, "expected a key");
		else
			FAIL(c, s, "empty key segment");
		goto fail;
	}
	if (pa->n >= HOCON_MAX_SEGS) {
		FAIL(c, s, "key has too many segments");
		goto fail;
	}
	pa->seg[pa->n++] = buf_steal(&seg);
	buf_free(&seg);
	for (int i = 0; i < pa->n; i++) {
		if (strcmp(pa->seg[i], MARKER_KEY) == 0) {
			fail_at(c, s->file, line, col, "reserved key");
			path_free(pa);
			return -1;
		}
		json_t *probe = json_string(pa->seg[i]);
		if (probe == NULL) {
			fail_at(c, s->file, line, col, "invalid UTF-8 in key");
			path_free(pa);
			return -1;
		}
		json_decref(probe);
	}
	return 0;
toolong:
	FAIL(c, s, "key too long");
fail:
	buf_free(&seg);
	path_free(pa);
	return -1;
}

/* ---- values ---- */

static int parse_object_body(struct ctx *c, struct src *s, json_t *obj, int depth, int braced);
static int parse_value(struct ctx *c, struct src *s, int depth, json_t **out);

static int
parse_array(struct ctx *c, struct src *s, int depth, json_t **out)
{
	int line = s->line, col = s->col;
	if (depth >= HOCON_MAX_DEPTH) {
		FAIL(c, s, "nesting too deep (max %d)", HOCON_MAX_DEPTH);
		return -1;
	}
	adv(s); /* [ */
	json_t *arr = json_array();
	c->in_array++;
	for (;;) {
		skip_all_ws(s);
		int ch = peek(s);
		if (ch < 0) {
			fail_at(c, s->file, line, col, "unterminated list");
			goto fail;
		}
		if (ch == ']') {
			adv(s);
			break;
		}
		if (ch == ',') {
			FAIL(c, s, "unexpected ',' in list");
			goto fail;
		}
		json_t *v = NULL;
		if (parse_value(c, s, depth + 1, &v) < 0)
			goto fail;
		json_array_append_new(arr, v);
		skip_inline_ws(s);
		if (at_comment(s))
			skip_comment(s);
		ch = peek(s);
		if (ch == ',') {
			adv(s);
		} else if (ch == '\n' || ch == ']') {
			/* separator or end */
		} else if (ch < 0) {
			fail_at(c, s->file, line, col, "unterminated list");
			goto fail;
		} else {
			FAIL(c, s, "expected ',' or ']' in list");
			goto fail;
		}
	}
	c->in_array--;
	*out = arr;
	return 0;
fail:
	c->in_array--;
	json_decref(arr);
	return -1;
}

/* Number grammar of pyhocon: [+-]?(\d*\.\d+|\d+(\.\d+)?)([eE][+-]?\d+)? on the whole token. */
static json_t *
number_value(const char *t, size_t n)
{
	size_t i = 0;
	if (i < n && (t[i] == '-' || t[i] == '+'))
		i++;
	size_t ds = i;
	while (i < n && t[i] >= '0' && t[i] <= '9')
		i++;
	size_t intdigits = i - ds;
	int real = 0;
	if (i < n && t[i] == '.') {
		size_t fs = ++i;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++;
		if (i == fs)
			return NULL;
		real = 1;
	} else if (intdigits == 0) {
		return NULL;
	}
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			i++;
		size_t es = i;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++;
		if (i == es)
			return NULL;
		real = 1;
	}
	if (i != n || n > 64)
		return NULL;
	char tmp[72];
	memcpy(tmp, t, n);
	tmp[n] = '\0';
	errno = 0;
	if (!real) {
		char *end;
		long long v = strtoll(tmp, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(v);
		errno = 0;
	}
	char *end;
	double d = strtod(tmp, &end);
	if (*end != '\0')
		return NULL;
	return json_real(d);
}

static json_t *
infer_unquoted(const char *t, size_t n)
{
	if (n == 4 && strncasecmp(t, "true", 4) == 0)
		return json_true();
	if (n == 5 && strncasecmp(t, "false", 5) == 0)
		return json_false();
	if (n == 4 && strncasecmp(t, "null", 4) == 0)
		return json_null();
	return number_value(t, n);
}

/* Characters that end an unquoted value run. */
static int
value_stop(const struct src *s)
{
	int ch = peek(s);
	return ch < 0 || ch == '\n' || ch == ',' || ch == '}' || ch == ']' || ch == '"' ||
	       ch == '#' || ch == '{' || ch == '[' || is_inline_ws(ch) ||
	       (ch == '$' && peek_at(s, 1) == '{');
}

/* Build a marker for a value with substitutions. parts: array of strings and {ref, opt}. */
static json_t *
make_marker(json_t *parts, int whole, const char *file, int line, int col)
{
	json_t *fs = json_string(file);
	if (fs == NULL)
		fs = json_string("<file>");
	json_t *info = json_object();
	json_object_set_new(info, "parts", parts);
	json_object_set_new(info, "whole", json_boolean(whole));
	json_object_set_new(info, "file", fs);
	json_object_set_new(info, "line", json_integer(line));
	json_object_set_new(info, "col", json_integer(col));
	json_t *m = json_object();
	json_object_set_new(m, MARKER_KEY, info);
	return m;
}

static int
parse_subst(struct ctx *c, struct src *s, json_t *parts)
{
	adv_n(s, 2); /* ${ */
	int opt = 0;
	if (peek(s) == '?') {
		opt = 1;
		adv(s);
	}
	skip_inline_ws(s);
	struct path pa;
	if (parse_path(c, s, &pa) < 0)
		return -1;
	skip_inline_ws(s);
	if (peek(s) != '}') {
		FAIL(c, s, "expected '}' to close substitution");
		path_free(&pa);
		return -1;
	}
	adv(s);
	json_t *segs = json_array();
	for (int i = 0; i < pa.n; i++)
		json_array_append_new(segs, json_string(pa.seg[i]));
	path_free(&pa);
	json_array_append_new(parts, json_pack("{s:o, s:b}", "ref", segs, "opt", opt));
	return 0;
}

/* A simple value: concatenation of unquoted runs, quoted strings and substitutions up to the
 * end of the line (or , } ] #). */
static int
parse_concat(struct ctx *c, struct src *s, json_t **out)
{
	int line = s->line, col = s->col;
	struct buf text, ws;
	buf_init(&text, HOCON_MAX_STR);
	buf_init(&ws, HOCON_MAX_STR);
	json_t *parts = NULL;
	int npieces = 0, only_unquoted = 1, nsubst = 0;
	for (;;) {
		int ch = peek(s);
		if (ch < 0 || ch == '\n' || ch == ',' || ch == '}' || ch == ']' || ch == '#')
			break;
		if (ch == '/' && peek_at(s, 1) == '/')
			break; /* a comment where a new piece would start */
		if (is_inline_ws(ch)) {
			const char *st = s->p;
			skip_inline_ws(s);
			buf_reset(&ws);
			if (buf_append(&ws, st, (size_t)(s->p - st)) < 0)
				goto toolong;
			continue;
		}
		if (ch == '{' || ch == '[') {
			FAIL(c, s, "unexpected '%c' in value (objects and lists cannot be concatenated "
			           "with strings)", ch);
			goto fail;
		}
		/* a piece follows: keep the whitespace between pieces */
		if (npieces > 0 && ws.len && buf_append(&text, ws.data, ws.len) < 0)
			goto toolong;
		buf_reset(&ws);
		if (ch == '"') {
			only_unquoted = 0;
			int r = at_triple(s) ? parse_triple(c, s, &text) : parse_quoted(c, s, &text);
			if (r < 0)
				goto fail;
		} else if (ch == '$' && peek_at(s, 1) == '{') {
			only_unquoted = 0;
			if (parts == NULL)
				parts = json_array();
			if (text.len) {
				json_t *lit = str_value(c, s, line, col, text.data, text.len);
				if (lit == NULL)
					goto fail;
				json_array_append_new(parts, lit);
				buf_reset(&text);
			}
			if (parse_subst(c, s, parts) < 0)
				goto fail;
			nsubst++;
		} else {
			const char *st = s->p;
			while (!value_stop(s))
				adv(s);
			if (s->p == st) { /* a lone '$' */
				adv(s);
			}
			if (buf_append(&text, st, (size_t)(s->p - st)) < 0)
				goto toolong;
		}
		npieces++;
	}
	if (npieces == 0) {
		fail_at(c, s->file, line, col, "expected a value");
		goto fail;
	}
	json_t *v = NULL;
	if (parts) {
		if (text.len) {
			json_t *lit = str_value(c, s, line, col, text.data, text.len);
			if (lit == NULL)
				goto fail;
			json_array_append_new(parts, lit);
		}
		int whole = npieces == 1 && nsubst == 1;
		v = make_marker(parts, whole, s->file, line, col);
		parts = NULL;
	} else {
		if (only_unquoted && npieces == 1)
			v = infer_unquoted(text.data, text.len);
		if (v == NULL) {
			v = str_value(c, s, line, col, text.data, text.len);
			if (v == NULL)
				goto fail;
		}
	}
	buf_free(&text);
	buf_free(&ws);
	*out = v;
	return 0;
toolong:
	FAIL(c, s, "value too long");
fail:
	json_decref(parts);
	buf_free(&text);
	buf_free(&ws);
	return -1;
}

static int
parse_value(struct ctx *c, struct src *s, int depth, json_t **out)
{
	int ch = peek(s);
	if (ch == '{') {
		if (depth >= HOCON_MAX_DEPTH) {
			FAIL(c, s, "nesting too deep (max %d)", HOCON_MAX_DEPTH);
			return -1;
		}
		json_t *obj = json_object();
		int saved_arr = c->in_array;
		c->in_array++; /* a fresh object has no path from the root */
		int r = parse_object_body(c, s, obj, depth + 1, 1);
		c->in_array = saved_arr;
		if (r < 0) {
			json_decref(obj);
			return -1;
		}
		*out = obj;
		return 0;
	}
	if (ch == '[')
		return parse_array(c, s, depth, out);
	return parse_concat(c, s, out);
}

/* ---- assignment ---- */

/* Navigate/create objects along pa[0..n-2] under obj; returns the parent object. */
static json_t *
walk_create(json_t *obj, const struct path *pa, int n)
{
	for (int i = 0; i < n; i++) {
		json_t *ch = json_object_get(obj, pa->seg[i]);
		if (ch == NULL || !json_is_object(ch) || is_marker(ch)) {
			ch = json_object();
			json_object_set_new(obj, pa->seg[i], ch);
		}
		obj = ch;
	}
	return obj;
}

/* Is ref (array of segments) the same path as prefix + pa? */
static int
ref_is_path(const struct ctx *c, json_t *ref, const struct path *pa)
{
	if (c->in_array)
		return 0;
	if (json_array_size(ref) != (size_t)(c->nprefix + pa->n))
		return 0;
	for (int i = 0; i < c->nprefix; i++)
		if (strcmp(json_string_value(json_array_get(ref, (size_t)i)), c->prefix[i]) != 0)
			return 0;
	for (int i = 0; i < pa->n; i++)
		if (strcmp(json_string_value(json_array_get(ref, (size_t)(c->nprefix + i))),
		           pa->seg[i]) != 0)
			return 0;
	return 1;
}

static char *
segs_join(json_t *segs)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	size_t i;
	json_t *sv;
	json_array_foreach(segs, i, sv) {
		if (i)
			buf_puts(&b, ".");
		buf_puts(&b, json_string_value(sv));
	}
	return buf_steal(&b);
}

/* Render a scalar for string concatenation. -1 when it cannot be. */
static int
scalar_to_buf(const json_t *v, struct buf *b)
{
	char tmp[64];
	switch (json_typeof(v)) {
	case JSON_STRING: return buf_append(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
		return buf_puts(b, tmp);
	case JSON_REAL:
		snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
		return buf_puts(b, tmp);
	case JSON_TRUE: return buf_puts(b, "true");
	case JSON_FALSE: return buf_puts(b, "false");
	case JSON_NULL: return buf_puts(b, "null");
	default: return -1;
	}
}

/* Resolve self-references of a new value at prefix+pa against what the tree holds now. */
static void
resolve_self_refs(struct ctx *c, json_t *marker, const struct path *pa, json_t *prev)
{
	json_t *info = json_object_get(marker, MARKER_KEY);
	json_t *parts = json_object_get(info, "parts");
	size_t i;
	json_t *p;
	json_array_foreach(parts, i, p) {
		if (!json_is_object(p))
			continue;
		json_t *ref = json_object_get(p, "ref");
		if (!ref_is_path(c, ref, pa))
			continue;
		/* prev value, or the environment, or nothing */
		json_t *rep = NULL;
		if (prev && !is_marker(prev)) {
			rep = json_deep_copy(prev);
		} else {
			char *name = segs_join(ref);
			const char *e = getenv(name);
			free(name);
			if (e)
				rep = json_string(e);
		}
		if (rep == NULL) {
			/* leave it: resolution will report (required) or drop (optional); mark so it
			 * does not loop onto itself */
			json_object_set_new(p, "self", json_true());
			continue;
		}
		json_array_set_new(parts, i, json_pack("{s:o}", "lit", rep));
	}
	if (prev && !is_marker(prev))
		json_object_set(info, "prev", prev);
}

static int
assign(struct ctx *c, struct src *s, json_t *obj, struct path *pa, json_t *v, int append)
{
	json_t *parent = walk_create(obj, pa, pa->n - 1);
	const char *k = pa->seg[pa->n - 1];
	json_t *prev = json_object_get(parent, k);
	if (is_marker(v))
		/* an appended marker lives inside prev: recording prev would make a cycle */
		resolve_self_refs(c, v, pa, append ? NULL : prev);
	if (append) {
		if (prev && json_is_array(prev)) {
			json_array_append_new(prev, v);
			return 0;
		}
		json_t *arr = json_array();
		json_array_append_new(arr, v);
		json_object_set_new(parent, k, arr);
		return 0;
	}
	if (prev && json_is_object(prev) && json_is_object(v) && !is_marker(prev) && !is_marker(v)) {
		merge_into(prev, v);
		json_decref(v);
		return 0;
	}
	(void)s;
	json_object_set_new(parent, k, v);
	return 0;
}

/* ---- include ---- */

static int parse_root(struct ctx *c, struct src *s, json_t *obj, int depth);

static int
do_include(struct ctx *c, struct src *s, json_t *obj, int depth)
{
	int line = s->line, col = s->col;
	adv_n(s, 7); /* include */
	skip_inline_ws(s);
	int required = 0, closers = 0;
	for (;;) {
		if (s->end - s->p >= 9 && strncmp(s->p, "required(", 9) == 0) {
			required = 1;
			adv_n(s, 9);
			closers++;
		} else if (s->end - s->p >= 5 && strncmp(s->p, "file(", 5) == 0) {
			adv_n(s, 5);
			closers++;
		} else if ((s->end - s->p >= 4 && strncmp(s->p, "url(", 4) == 0) ||
		           (s->end - s->p >= 10 && strncmp(s->p, "classpath(", 10) == 0)) {
			FAIL(c, s, "only file includes are supported");
			return -1;
		} else {
			break;
		}
		skip_inline_ws(s);
	}
	(void)required; /* a missing include is an error either way (see docs/differences.md) */
	if (peek(s) != '"') {
		FAIL(c, s, "expected a quoted file name after include");
		return -1;
	}
	struct buf name;
	buf_init(&name, PATH_MAX);
	if (parse_quoted(c, s, &name) < 0) {
		buf_free(&name);
		return -1;
	}
	for (int i = 0; i < closers; i++) {
		skip_inline_ws(s);
		if (peek(s) != ')') {
			FAIL(c, s, "expected ')'");
			buf_free(&name);
			return -1;
		}
		adv(s);
	}
	if (c->include_depth >= HOCON_MAX_INCLUDE) {
		fail_at(c, s->file, line, col, "includes nested too deep (max %d)", HOCON_MAX_INCLUDE);
		buf_free(&name);
		return -1;
	}
	char *path;
	if (name.data[0] == '/' || strcmp(s->file, "<string>") == 0) {
		path = xstrdup(name.data);
	} else {
		const char *slash = strrchr(s->file, '/');
		if (slash)
			path = xasprintf("%.*s/%s", (int)(slash - s->file), s->file, name.data);
		else
			path = xstrdup(name.data);
	}
	buf_free(&name);
	size_t len = 0;
	char *text = read_file(path, HOCON_MAX_TEXT, &len);
	if (text == NULL) {
		int e = errno;
		fail_at(c, s->file, line, col, "cannot include \"%s\": %s", path,
		        e == EFBIG ? "file too large" : strerror(e));
		free(path);
		return -1;
	}
	struct src sub = {.p = text, .end = text + len, .file = path, .line = 1, .col = 1};
	c->include_depth++;
	int r = parse_root(c, &sub, obj, depth + 1);
	c->include_depth--;
	/* markers created in the included file keep their own copy of the file name */
	free(text);
	free(path);
	return r;
}

static int
at_include(const struct src *s)
{
	if (s->end - s->p < 8 || strncmp(s->p, "include", 7) != 0)
		return 0;
	const char *q = s->p + 7;
	if (!is_inline_ws((unsigned char)*q))
		return 0;
	while (q < s->end && is_inline_ws((unsigned char)*q))
		q++;
	return q < s->end && (*q == '"' || (s->end - q >= 5 && (strncmp(q, "file(", 5) == 0 ||
	                                                     strncmp(q, "url(", 4) == 0)) ||
	                      (s->end - q >= 9 && strncmp(q, "required(", 9) == 0) ||
	                      (s->end - q >= 10 && strncmp(q, "classpath(", 10) == 0));
}

/* ---- objects ---- */

/* Members until '}' (braced) or end of input. */
static int
parse_object_body(struct ctx *c, struct src *s, json_t *obj, int depth, int braced)
{
	int line = s->line, col = s->col;
	if (depth > HOCON_MAX_DEPTH) {
		FAIL(c, s, "nesting too deep (max %d)", HOCON_MAX_DEPTH);
		return -1;
	}
	if (braced)
		adv(s); /* { */
	for (;;) {
		skip_all_ws(s);
		while (peek(s) == ',') { /* tolerate stray separators (objects followed by ',') */
			adv(s);
			skip_all_ws(s);
		}
		int ch = peek(s);
		if (ch < 0) {
			if (braced) {
				fail_at(c, s->file, line, col, "unterminated object");
				return -1;
			}
			return 0;
		}
		if (ch == '}') {
			if (!braced) {
				FAIL(c, s, "unexpected '}'");
				return -1;
			}
			adv(s);
			return 0;
		}
		if (at_include(s)) {
			if (do_include(c, s, obj, depth) < 0)
				return -1;
		} else {
			struct path pa;
			int kl = s->line, kc = s->col;
			if (parse_path(c, s, &pa) < 0)
				return -1;
			skip_inline_ws(s);
			int append = 0;
			ch = peek(s);
			if (ch == ':' || ch == '=') {
				adv(s);
			} else if (ch == '+' && peek_at(s, 1) == '=') {
				adv_n(s, 2);
				append = 1;
			} else if (ch != '{') {
				if (ch < 0 || ch == '\n' || ch == '}' || ch == ',' || at_comment(s))
					fail_at(c, s->file, kl, kc, "key '%s' has no value", pa.seg[pa.n - 1]);
				else
					FAIL(c, s, "expected ':', '=' or '{' after key");
				path_free(&pa);
				return -1;
			}
			skip_inline_ws(s);
			ch = peek(s);
			if (ch == '{' && !append) {
				/* fill the object at this path in place: merges with what is there */
				if (depth + 1 > HOCON_MAX_DEPTH) {
					FAIL(c, s, "nesting too deep (max %d)", HOCON_MAX_DEPTH);
					path_free(&pa);
					return -1;
				}
				if (c->nprefix + pa.n > (int)ARRAY_LEN(c->prefix)) {
					fail_at(c, s->file, kl, kc, "key path too deep");
					path_free(&pa);
					return -1;
				}
				json_t *target = walk_create(obj, &pa, pa.n);
				int np = c->nprefix;
				for (int i = 0; i < pa.n; i++)
					c->prefix[c->nprefix++] = pa.seg[i];
				int r = parse_object_body(c, s, target, depth + 1, 1);
				c->nprefix = np;
				path_free(&pa);
				if (r < 0)
					return -1;
			} else {
				if (ch < 0 || ch == '\n' || ch == ',' || ch == '}' || at_comment(s)) {
					FAIL(c, s, "expected a value for key '%s'", pa.seg[pa.n - 1]);
					path_free(&pa);
					return -1;
				}
				json_t *v = NULL;
				if (parse_value(c, s, depth, &v) < 0) {
					path_free(&pa);
					return -1;
				}
				assign(c, s, obj, &pa, v, append);
				path_free(&pa);
			}
		}
		/* after a member: newline, ',', '}', comment or end */
		skip_inline_ws(s);
		if (at_comment(s))
			skip_comment(s);
		ch = peek(s);
		if (ch == ',' || ch == '\n') {
			adv(s);
		} else if (ch == '}' || ch < 0) {
			/* handled at loop top */
		} else {
			FAIL(c, s, "expected ',' or a new line after a value");
			return -1;
		}
	}
}

/* A document: either one braced object or the members of an implicit root object. */
static int
parse_root(struct ctx *c, struct src *s, json_t *obj, int depth)
{
	if (s->end - s->p >= 3 && memcmp(s->p, "\xEF\xBB\xBF", 3) == 0)
		s->p += 3; /* UTF-8 byte order mark */
	skip_all_ws(s);
	if (peek(s) == '[') {
		FAIL(c, s, "the document root must be an object");
		return -1;
	}
	if (peek(s) == '{') {
		if (parse_object_body(c, s, obj, depth + 1, 1) < 0)
			return -1;
		skip_all_ws(s);
		if (!at_end(s)) {
			FAIL(c, s, "unexpected content after the root object");
			return -1;
		}
		return 0;
	}
	return parse_object_body(c, s, obj, depth, 0);
}

/* ---- substitution resolution ---- */

static int resolve_tree(struct ctx *c, json_t *node);
static int resolve_marker(struct ctx *c, json_t *m, json_t **out);

/* Result of resolving a marker. */
enum { RES_OK, RES_UNSET, RES_ERR };

static long
count_nodes(json_t *v, long limit)
{
	long n = 1;
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			n += count_nodes(x, limit - n);
			if (n > limit)
				return n;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			n += count_nodes(x, limit - n);
			if (n > limit)
				return n;
		}
	} else if (json_is_string(v)) {
		n += (long)(json_string_length(v) / 64);
	}
	return n;
}

/* Look up a reference in the document, resolving markers on the way. *found = 0 when absent. */
static int
lookup_ref(struct ctx *c, json_t *segs, json_t **out, const char *file, int line, int col)
{
	*out = NULL;
	json_t *node = c->root;
	size_t i;
	json_t *sv;
	json_array_foreach(segs, i, sv) {
		if (!json_is_object(node) || is_marker(node))
			return RES_UNSET;
		const char *k = json_string_value(sv);
		json_t *ch = json_object_get(node, k);
		if (ch == NULL)
			return RES_UNSET;
		if (is_marker(ch)) {
			json_t *r = NULL;
			int res;
			json_incref(ch);
			res = resolve_marker(c, ch, &r);
			json_decref(ch);
			if (res == RES_ERR)
				return RES_ERR;
			if (res == RES_UNSET)
				return RES_UNSET; /* the walker removes the key later */
			json_object_set_new(node, k, r);
			ch = r;
		}
		node = ch;
	}
	if (resolve_tree(c, node) < 0)
		return RES_ERR;
	c->budget -= count_nodes(node, c->budget + 1);
	if (c->budget < 0) {
		fail_at(c, file, line, col, "substitution expansion too large");
		return RES_ERR;
	}
	*out = json_deep_copy(node);
	return RES_OK;
}

static int
resolve_marker(struct ctx *c, json_t *m, json_t **out)
{
	json_t *info = json_object_get(m, MARKER_KEY);
	json_t *parts = json_object_get(info, "parts");
	const char *file = json_string_value(json_object_get(info, "file"));
	int line = (int)json_integer_value(json_object_get(info, "line"));
	int col = (int)json_integer_value(json_object_get(info, "col"));
	int whole = json_is_true(json_object_get(info, "whole"));
	*out = NULL;
	for (int i = 0; i < c->nresolving; i++) {
		if (c->resolving[i] == m) {
			fail_at(c, file, line, col, "substitution cycle");
			return RES_ERR;
		}
	}
	if (c->nresolving >= HOCON_SUBST_DEPTH) {
		fail_at(c, file, line, col, "substitutions nested too deep");
		return RES_ERR;
	}
	c->resolving[c->nresolving++] = m;
	int ret = RES_ERR;
	struct buf b;
	buf_init(&b, HOCON_MAX_STR);
	size_t i;
	json_t *p;
	json_array_foreach(parts, i, p) {
		json_t *val = NULL;
		int opt = 0;
		if (json_is_object(p) && json_object_get(p, "lit")) {
			val = json_incref(json_object_get(p, "lit"));
		} else if (json_is_object(p)) {
			json_t *ref = json_object_get(p, "ref");
			opt = json_is_true(json_object_get(p, "opt"));
			int res = RES_UNSET;
			if (!json_is_true(json_object_get(p, "self")))
				res = lookup_ref(c, ref, &val, file, line, col);
			if (res == RES_ERR)
				goto out;
			if (res == RES_UNSET) {
				char *name = segs_join(ref);
				const char *e = getenv(name);
				if (e) {
					val = json_string(e);
					if (val == NULL) {
						fail_at(c, file, line, col,
						        "environment variable %s is not valid UTF-8", name);
						free(name);
						goto out;
					}
				} else if (!opt) {
					fail_at(c, file, line, col, "could not resolve substitution ${%s}",
					        name);
					free(name);
					goto out;
				}
				free(name);
			}
		} else {
			val = json_incref(p);
		}
		if (whole) {
			if (val == NULL) {
				json_t *prev = json_object_get(info, "prev");
				if (prev) {
					*out = json_deep_copy(prev);
					ret = RES_OK;
				} else {
					ret = RES_UNSET;
				}
				goto out;
			}
			*out = val;
			ret = RES_OK;
			goto out;
		}
		if (val == NULL)
			continue; /* optional, unresolved: empty in a concatenation */
		if (scalar_to_buf(val, &b) < 0) {
			int ok = json_is_object(val) || json_is_array(val);
			json_decref(val);
			if (ok)
				fail_at(c, file, line, col,
				        "cannot concatenate an object or list with a string");
			else
				fail_at(c, file, line, col, "substitution result too long");
			goto out;
		}
		json_decref(val);
	}
	c->budget -= (long)(b.len / 16) + 1;
	if (c->budget < 0) {
		fail_at(c, file, line, col, "substitution expansion too large");
		goto out;
	}
	*out = json_stringn(b.data, b.len);
	if (*out == NULL) {
		fail_at(c, file, line, col, "invalid UTF-8 in substitution result");
		goto out;
	}
	ret = RES_OK;
out:
	buf_free(&b);
	c->nresolving--;
	return ret;
}

static int
resolve_tree(struct ctx *c, json_t *node)
{
	if (json_is_object(node)) {
		if (is_marker(node))
			return 0; /* handled by the parent */
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(node, tmp, k, v) {
			if (is_marker(v)) {
				json_t *r = NULL;
				json_incref(v);
				int res = resolve_marker(c, v, &r);
				json_decref(v);
				if (res == RES_ERR)
					return -1;
				if (res == RES_UNSET) {
					json_object_del(node, k);
					continue;
				}
				json_object_set_new(node, k, r);
				v = r;
			}
			if ((json_is_object(v) || json_is_array(v)) && resolve_tree(c, v) < 0)
				return -1;
		}
	} else if (json_is_array(node)) {
		size_t i = 0;
		while (i < json_array_size(node)) {
			json_t *v = json_array_get(node, i);
			if (is_marker(v)) {
				json_t *r = NULL;
				json_incref(v);
				int res = resolve_marker(c, v, &r);
				json_decref(v);
				if (res == RES_ERR)
					return -1;
				if (res == RES_UNSET) {
					json_array_remove(node, i);
					continue;
				}
				json_array_set_new(node, i, r);
				v = r;
			}
			if ((json_is_object(v) || json_is_array(v)) && resolve_tree(c, v) < 0)
				return -1;
			i++;
		}
	}
	return 0;
}

/* ---- entry points ---- */

int
hocon_parse(const char *text, size_t len, const char *filename, json_t **out, char *err,
            size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	struct ctx c = {.err = err, .errlen = errlen, .budget = HOCON_SUBST_BUDGET};
	const char *file = filename ? filename : "<string>";
	if (len > HOCON_MAX_TEXT) {
		fail_at(&c, file, 1, 1, "file too large (max %zu bytes)", HOCON_MAX_TEXT);
		return -1;
	}
	if (text == NULL)
		text = "";
	struct src s = {.p = text, .end = text + len, .file = file, .line = 1, .col = 1};
	const char *nul = memchr(text, '\0', len);
	if (nul != NULL) {
		/* a NUL byte can only be garbage; say where it is */
		while (s.p < nul)
			adv(&s);
		FAIL(&c, &s, "NUL byte in input");
		return -1;
	}
	c.root = json_object();
	if (parse_root(&c, &s, c.root, 0) < 0 || c.failed)
		goto fail;
	if (resolve_tree(&c, c.root) < 0 || c.failed)
		goto fail;
	*out = c.root;
	return 0;
fail:
	if (!c.failed)
		fail_at(&c, file, s.line, s.col, "parse error");
	json_decref(c.root);
	return -1;
}

int
hocon_parse_file(const char *path, json_t **out, char *err, size_t errlen)
{
	size_t len = 0;
	*out = NULL;
	char *text = read_file(path, HOCON_MAX_TEXT, &len);
	if (text == NULL) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s:1:1: %s", path,
			         e == EFBIG ? "file too large" : strerror(e));
		return -1;
	}
	int r = hocon_parse(text, len, path, out, err, errlen);
	free(text);
	return r;
}

json_t *
hocon_parse_value(const char *text)
{
	static const char key[] = "hocon_value_";
	char *doc = xasprintf("%s: %s", key, text);
	json_t *root = NULL;
	char err[256];
	json_t *v = NULL;
	if (hocon_parse(doc, strlen(doc), NULL, &root, err, sizeof err) == 0 &&
	    json_object_size(root) == 1)
		v = json_incref(json_object_get(root, key));
	json_decref(root);
	free(doc);
	if (v == NULL)
		v = json_string(text);
	return v;
}
