/*
 * yaml_out — a JSON value written as YAML byte-for-byte as Python's
 * `yaml.safe_dump(data, indent=1)` (PyYAML 5.1+, default_flow_style=False) writes it, for
 * `clearml-agent list`.
 *
 * This is a port of the parts of PyYAML's Emitter that a JSON tree reaches: block mappings with
 * sorted keys, indentless block sequences inside mappings, `[]`/`{}` for empty collections,
 * complex keys (`? `) for keys that cannot be simple, and the three scalar styles (plain, single-
 * and double-quoted) with PyYAML's scalar analysis, its implicit-type resolver (a string that
 * reads as a bool, number, null or timestamp is quoted) and its line folding at width 80.
 * Note: PyYAML ignores indent=1 (only 2..9 are honoured), so the indent is 2.
 * Output is ASCII: non-ASCII characters are escaped in double quotes (allow_unicode=False).
 */
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "yaml_out.h"

#define BEST_INDENT 2
#define BEST_WIDTH 80
#define NONE_CH UINT32_MAX
#define YAML_MAX ((size_t)1 << 30)

struct emitter {
	struct buf out;
	int column;
	int whitespace;
	int indention;
	int open_ended;
	int indent;              /* -1: None */
	int *indents;
	size_t nindents, capindents;
	int flow_level;
	int root_context, mapping_context, simple_key_context;
};

struct scalar {
	uint32_t *cp;            /* code points */
	size_t n;
	int implicit_plain;      /* read back as plain, it keeps its type */
};

struct analysis {
	int empty, multiline;
	int allow_flow_plain, allow_block_plain, allow_single_quoted, allow_block;
};

/* ------------------------------------------------------------------ output primitives */

static void
put(struct emitter *e, const char *s, size_t n)
{
	if (buf_append(&e->out, s, n) != 0)
		fatal("yaml_out: output larger than %zu bytes", e->out.max);
	e->column += (int)n;
}

static void
put_cps(struct emitter *e, const uint32_t *cp, size_t start, size_t end)
{
	for (size_t i = start; i < end; i++) {
		char c = (char)cp[i]; /* callers only pass ASCII here */
		put(e, &c, 1);
	}
}

static void
write_line_break(struct emitter *e)
{
	if (buf_append(&e->out, "\n", 1) != 0)
		fatal("yaml_out: output too large");
	e->whitespace = 1;
	e->indention = 1;
	e->column = 0;
}

static void
write_indent(struct emitter *e)
{
	int indent = e->indent < 0 ? 0 : e->indent;
	if (!e->indention || e->column > indent || (e->column == indent && !e->whitespace))
		write_line_break(e);
	if (e->column < indent) {
		e->whitespace = 1;
		while (e->column < indent)
			put(e, " ", 1);
	}
}

static void
write_indicator(struct emitter *e, const char *ind, int need_whitespace, int whitespace,
                int indention)
{
	if (!e->whitespace && need_whitespace)
		put(e, " ", 1);
	put(e, ind, strlen(ind));
	e->whitespace = whitespace;
	e->indention = e->indention && indention;
	e->open_ended = 0;
}

static void
increase_indent(struct emitter *e, int flow, int indentless)
{
	if (e->nindents == e->capindents) {
		e->capindents = e->capindents ? e->capindents * 2 : 16;
		e->indents = xreallocarray(e->indents, e->capindents, sizeof *e->indents);
	}
	e->indents[e->nindents++] = e->indent;
	if (e->indent < 0)
		e->indent = flow ? BEST_INDENT : 0;
	else if (!indentless)
		e->indent += BEST_INDENT;
}

static void
pop_indent(struct emitter *e)
{
	e->indent = e->indents[--e->nindents];
}

/* ------------------------------------------------------------------ scalars */

static int
is_break(uint32_t c)
{
	return c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static int
is_ws_or_end(uint32_t c)
{
	return c == 0 || c == ' ' || c == '\t' || c == '\r' || is_break(c);
}

static struct analysis
analyze(const struct scalar *s)
{
	struct analysis a = { 0 };
	const uint32_t *t = s->cp;
	size_t n = s->n;
	if (n == 0) {
		a.empty = 1;
		a.allow_block_plain = 1;
		a.allow_single_quoted = 1;
		return a;
	}
	int block_ind = 0, flow_ind = 0, line_breaks = 0, special = 0;
	int leading_space = 0, leading_break = 0, trailing_space = 0, trailing_break = 0;
	int break_space = 0, space_break = 0;
	if (n >= 3 && ((t[0] == '-' && t[1] == '-' && t[2] == '-') ||
	               (t[0] == '.' && t[1] == '.' && t[2] == '.'))) {
		block_ind = 1;
		flow_ind = 1;
	}
	int preceded_ws = 1;
	int followed_ws = n == 1 || is_ws_or_end(t[1]);
	int prev_space = 0, prev_break = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t ch = t[i];
		if (i == 0) {
			if (ch < 128 && strchr("#,[]{}&*!|>'\"%@`", (int)ch) && ch != 0) {
				flow_ind = 1;
				block_ind = 1;
			}
			if (ch == '?' || ch == ':') {
				flow_ind = 1;
				if (followed_ws)
					block_ind = 1;
			}
			if (ch == '-' && followed_ws) {
				flow_ind = 1;
				block_ind = 1;
			}
		} else {
			if (ch == ',' || ch == '?' || ch == '[' || ch == ']' || ch == '{' || ch == '}')
				flow_ind = 1;
			if (ch == ':') {
				flow_ind = 1;
				if (followed_ws)
					block_ind = 1;
			}
			if (ch == '#' && preceded_ws) {
				flow_ind = 1;
				block_ind = 1;
			}
		}
		if (is_break(ch))
			line_breaks = 1;
		if (!(ch == '\n' || (ch >= 0x20 && ch <= 0x7e)))
			special = 1; /* unicode too: allow_unicode is False */
		if (ch == ' ') {
			if (i == 0)
				leading_space = 1;
			if (i == n - 1)
				trailing_space = 1;
			if (prev_break)
				break_space = 1;
			prev_space = 1;
			prev_break = 0;
		} else if (is_break(ch)) {
			if (i == 0)
				leading_break = 1;
			if (i == n - 1)
				trailing_break = 1;
			if (prev_space)
				space_break = 1;
			prev_space = 0;
			prev_break = 1;
		} else {
			prev_space = 0;
			prev_break = 0;
		}
		preceded_ws = is_ws_or_end(ch);
		followed_ws = i + 2 >= n || is_ws_or_end(t[i + 2]);
	}
	a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = a.allow_block = 1;
	if (leading_space || leading_break || trailing_space || trailing_break)
		a.allow_flow_plain = a.allow_block_plain = 0;
	if (trailing_space)
		a.allow_block = 0;
	if (break_space)
		a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = 0;
	if (space_break || special)
		a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = a.allow_block = 0;
	if (line_breaks)
		a.allow_flow_plain = a.allow_block_plain = 0;
	if (flow_ind)
		a.allow_flow_plain = 0;
	if (block_ind)
		a.allow_block_plain = 0;
	a.multiline = line_breaks;
	return a;
}

/* PyYAML's implicit resolvers (YAML 1.1), as POSIX EREs: a plain scalar matching one of them
 * would not read back as a string. */
static const char *const implicit_res[] = {
	"^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
	"^([-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"
	"|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$",
	"^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
	"|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$",
	"^<<$",
	"^(~|null|Null|NULL|)$",
	"^([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
	"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]"
	":[0-9][0-9](\\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?)$",
	"^=$",
};

static regex_t implicit_compiled[ARRAY_LEN(implicit_res)];
static pthread_once_t implicit_once = PTHREAD_ONCE_INIT;

static void
compile_implicit(void)
{
	for (size_t i = 0; i < ARRAY_LEN(implicit_res); i++)
		if (regcomp(&implicit_compiled[i], implicit_res[i], REG_EXTENDED | REG_NOSUB) != 0)
			fatal("yaml_out: bad resolver pattern %zu", i);
}

static int
resolves_to_non_string(const char *s, size_t len)
{
	if (memchr(s, '\0', len))
		return 0; /* a NUL cannot be plain anyway (special character) */
	pthread_once(&implicit_once, compile_implicit);
	for (size_t i = 0; i < ARRAY_LEN(implicit_res); i++)
		if (regexec(&implicit_compiled[i], s, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

/* UTF-8 (valid, as jansson guarantees) → code points. */
static void
scalar_from_utf8(struct scalar *sc, const char *s, size_t len, int is_string)
{
	sc->cp = xreallocarray(NULL, len + 1, sizeof *sc->cp);
	sc->n = 0;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		uint32_t c = p[i];
		int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
		if (extra)
			c &= 0x3fu >> extra;
		i++;
		for (int k = 0; k < extra && i < len; k++, i++)
			c = (c << 6) | (p[i] & 0x3f);
		sc->cp[sc->n++] = c;
	}
	sc->implicit_plain = is_string ? !resolves_to_non_string(s, len) : 1;
}

static void
write_plain(struct emitter *e, const struct scalar *s, int split)
{
	if (e->root_context)
		e->open_ended = 1;
	if (s->n == 0)
		return;
	if (!e->whitespace)
		put(e, " ", 1);
	e->whitespace = 0;
	e->indention = 0;
	int spaces = 0;
	size_t start = 0;
	for (size_t end = 0; end <= s->n; end++) {
		uint32_t ch = end < s->n ? s->cp[end] : NONE_CH;
		if (spaces) {
			if (ch != ' ') {
				if (start + 1 == end && e->column > BEST_WIDTH && split) {
					write_indent(e);
					e->whitespace = 0;
					e->indention = 0;
				} else {
					put_cps(e, s->cp, start, end);
				}
				start = end;
			}
		} else if (ch == NONE_CH || ch == ' ' || is_break(ch)) {
			put_cps(e, s->cp, start, end);
			start = end;
		}
		if (ch != NONE_CH)
			spaces = ch == ' ';
	}
}

static void
write_single_quoted(struct emitter *e, const struct scalar *s, int split)
{
	write_indicator(e, "'", 1, 0, 0);
	int spaces = 0, breaks = 0;
	size_t start = 0;
	for (size_t end = 0; end <= s->n; end++) {
		uint32_t ch = end < s->n ? s->cp[end] : NONE_CH;
		if (spaces) {
			if (ch == NONE_CH || ch != ' ') {
				if (start + 1 == end && e->column > BEST_WIDTH && split && start != 0 &&
				    end != s->n)
					write_indent(e);
				else
					put_cps(e, s->cp, start, end);
				start = end;
			}
		} else if (breaks) {
			if (ch == NONE_CH || !is_break(ch)) {
				if (s->cp[start] == '\n')
					write_line_break(e);
				for (size_t i = start; i < end; i++)
					write_line_break(e);
				write_indent(e);
				start = end;
			}
		} else if (ch == NONE_CH || ch == ' ' || is_break(ch) || ch == '\'') {
			if (start < end) {
				put_cps(e, s->cp, start, end);
				start = end;
			}
		}
		if (ch == '\'') {
			put(e, "''", 2);
			start = end + 1;
		}
		if (ch != NONE_CH) {
			spaces = ch == ' ';
			breaks = is_break(ch);
		}
	}
	write_indicator(e, "'", 0, 0, 0);
}

static const char *
escape_for(uint32_t ch)
{
	switch (ch) {
	case 0: return "0";
	case 0x07: return "a";
	case 0x08: return "b";
	case 0x09: return "t";
	case 0x0a: return "n";
	case 0x0b: return "v";
	case 0x0c: return "f";
	case 0x0d: return "r";
	case 0x1b: return "e";
	case '"': return "\"";
	case '\\': return "\\";
	case 0x85: return "N";
	case 0xa0: return "_";
	case 0x2028: return "L";
	case 0x2029: return "P";
	default: return NULL;
	}
}

static void
write_double_quoted(struct emitter *e, const struct scalar *s, int split)
{
	write_indicator(e, "\"", 1, 0, 0);
	size_t start = 0;
	for (size_t end = 0; end <= s->n; end++) {
		uint32_t ch = end < s->n ? s->cp[end] : NONE_CH;
		if (ch == NONE_CH || ch == '"' || ch == '\\' || ch == 0x85 || ch == 0x2028 ||
		    ch == 0x2029 || ch == 0xfeff || !(ch >= 0x20 && ch <= 0x7e)) {
			if (start < end) {
				put_cps(e, s->cp, start, end);
				start = end;
			}
			if (ch != NONE_CH) {
				char esc[16];
				const char *r = escape_for(ch);
				if (r)
					snprintf(esc, sizeof esc, "\\%s", r);
				else if (ch <= 0xff)
					snprintf(esc, sizeof esc, "\\x%02X", (unsigned)ch);
				else if (ch <= 0xffff)
					snprintf(esc, sizeof esc, "\\u%04X", (unsigned)ch);
				else
					snprintf(esc, sizeof esc, "\\U%08X", (unsigned)ch);
				put(e, esc, strlen(esc));
				start = end + 1;
			}
		}
		if (end > 0 && end + 1 < s->n && (ch == ' ' || start >= end) &&
		    (long)e->column + ((long)end - (long)start) > BEST_WIDTH && split) {
			if (start < end) {
				put_cps(e, s->cp, start, end);
				start = end;
			}
			put(e, "\\", 1);
			write_indent(e);
			e->whitespace = 0;
			e->indention = 0;
			if (s->cp[start] == ' ')
				put(e, "\\", 1);
		}
	}
	write_indicator(e, "\"", 0, 0, 0);
}

static void
expect_scalar(struct emitter *e, const struct scalar *s)
{
	increase_indent(e, 1, 0);
	struct analysis a = analyze(s);
	int split = !e->simple_key_context;
	if (s->implicit_plain && !(e->simple_key_context && (a.empty || a.multiline)) &&
	    (e->flow_level ? a.allow_flow_plain : a.allow_block_plain))
		write_plain(e, s, split);
	else if (a.allow_single_quoted && !(e->simple_key_context && a.multiline))
		write_single_quoted(e, s, split);
	else
		write_double_quoted(e, s, split);
	pop_indent(e);
}

/* Python's repr(float), then PyYAML's fix-ups (lower case, "1e+16" → "1.0e+16"). */
static void
float_text(double v, char *out, size_t outlen)
{
	if (isnan(v)) {
		snprintf(out, outlen, ".nan");
		return;
	}
	if (isinf(v)) {
		snprintf(out, outlen, v > 0 ? ".inf" : "-.inf");
		return;
	}
	char tmp[64];
	int prec;
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
	/* tmp: [-]d[.ddd]e±XX */
	const char *p = tmp;
	int neg = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	char digits[32];
	size_t nd = 0;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && nd + 1 < sizeof digits)
			digits[nd++] = *p;
	long long exp10 = 0;
	if (*p == 'e')
		parse_long(p + 1 + (p[1] == '+'), -400, 400, &exp10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	long long decpt = exp10 + 1;
	if (v == 0)
		decpt = 1;
	struct buf b;
	buf_init(&b, 512);
	if (neg)
		buf_puts(&b, "-");
	if (decpt <= -4 || decpt > 16) {
		buf_append(&b, digits, 1);
		if (nd > 1) {
			buf_puts(&b, ".");
			buf_puts(&b, digits + 1);
		} else {
			buf_puts(&b, ".0"); /* PyYAML's fix-up of repr's "1e+16" */
		}
		buf_printf(&b, "e%c%02lld", decpt - 1 < 0 ? '-' : '+',
		           decpt - 1 < 0 ? -(decpt - 1) : decpt - 1);
	} else if (decpt <= 0) {
		buf_puts(&b, "0.");
		for (long long i = 0; i < -decpt; i++)
			buf_puts(&b, "0");
		buf_puts(&b, digits);
	} else if ((size_t)decpt < nd) {
		buf_append(&b, digits, (size_t)decpt);
		buf_puts(&b, ".");
		buf_puts(&b, digits + decpt);
	} else {
		buf_puts(&b, digits);
		for (long long i = (long long)nd; i < decpt; i++)
			buf_puts(&b, "0");
		buf_puts(&b, ".0");
	}
	snprintf(out, outlen, "%s", b.data ? b.data : "");
	buf_free(&b);
}

static void
scalar_from_json(struct scalar *sc, const json_t *v)
{
	char tmp[512];
	if (json_is_string(v)) {
		scalar_from_utf8(sc, json_string_value(v), json_string_length(v), 1);
		return;
	}
	if (json_is_integer(v))
		snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		float_text(json_real_value(v), tmp, sizeof tmp);
	else if (json_is_true(v))
		snprintf(tmp, sizeof tmp, "true");
	else if (json_is_false(v))
		snprintf(tmp, sizeof tmp, "false");
	else
		snprintf(tmp, sizeof tmp, "null");
	scalar_from_utf8(sc, tmp, strlen(tmp), 0);
}

/* ------------------------------------------------------------------ nodes */

static void expect_node(struct emitter *e, const json_t *v, int root, int mapping,
                        int simple_key);

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
emit_scalar_node(struct emitter *e, const json_t *v)
{
	struct scalar sc;
	scalar_from_json(&sc, v);
	expect_scalar(e, &sc);
	free(sc.cp);
}

static void
emit_block_mapping(struct emitter *e, const json_t *obj)
{
	increase_indent(e, 0, 0);
	size_t n = json_object_size(obj);
	const char **keys = xreallocarray(NULL, n ? n : 1, sizeof *keys);
	size_t k = 0;
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)(uintptr_t)obj, key, val)
		keys[k++] = key;
	qsort(keys, k, sizeof *keys, cmp_keys);
	for (size_t i = 0; i < k; i++) {
		write_indent(e);
		json_t *kj = json_string(keys[i]);
		struct scalar ks;
		scalar_from_json(&ks, kj);
		json_decref(kj);
		struct analysis a = analyze(&ks);
		/* check_simple_key counts the prepared tag ("!!str", 5) with the text */
		int simple = ks.n + 5 < 128 && !a.empty && !a.multiline;
		const json_t *v = json_object_get(obj, keys[i]);
		if (simple) {
			e->root_context = 0;
			e->mapping_context = 1;
			e->simple_key_context = 1;
			expect_scalar(e, &ks);
			write_indicator(e, ":", 0, 0, 0);
		} else {
			write_indicator(e, "?", 1, 0, 1);
			e->root_context = 0;
			e->mapping_context = 1;
			e->simple_key_context = 0;
			expect_scalar(e, &ks);
			write_indent(e);
			write_indicator(e, ":", 1, 0, 1);
		}
		free(ks.cp);
		expect_node(e, v, 0, 1, 0);
	}
	free(keys);
	pop_indent(e);
}

static void
emit_block_sequence(struct emitter *e, const json_t *arr)
{
	int indentless = e->mapping_context && !e->indention;
	increase_indent(e, 0, indentless);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		write_indent(e);
		write_indicator(e, "-", 1, 0, 1);
		expect_node(e, json_array_get(arr, i), 0, 0, 0);
	}
	pop_indent(e);
}

static void
expect_node(struct emitter *e, const json_t *v, int root, int mapping, int simple_key)
{
	e->root_context = root;
	e->mapping_context = mapping;
	e->simple_key_context = simple_key;
	if (json_is_object(v) || json_is_array(v)) {
		int is_obj = json_is_object(v);
		size_t n = is_obj ? json_object_size(v) : json_array_size(v);
		if (e->flow_level || n == 0) {
			write_indicator(e, is_obj ? "{" : "[", 1, 1, 0);
			e->flow_level++;
			increase_indent(e, 1, 0);
			pop_indent(e);
			e->flow_level--;
			write_indicator(e, is_obj ? "}" : "]", 0, 0, 0);
		} else if (is_obj) {
			emit_block_mapping(e, v);
		} else {
			emit_block_sequence(e, v);
		}
		return;
	}
	emit_scalar_node(e, v);
}

char *
yaml_dump(const json_t *value)
{
	struct emitter e = { .whitespace = 1, .indention = 1, .indent = -1 };
	buf_init(&e.out, YAML_MAX);
	expect_node(&e, value, 1, 0, 0);
	write_indent(&e); /* document end (implicit) */
	if (e.open_ended) {
		write_indicator(&e, "...", 1, 0, 0);
		write_indent(&e);
	}
	free(e.indents);
	if (!e.out.data)
		return xstrdup("");
	return buf_steal(&e.out);
}
