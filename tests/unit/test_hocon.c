/* Unit tests for hocon.c: every HOCON feature clearml.conf files use, and malformed inputs that
 * must give a precise "file:line:col: message" (never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

static json_t *
parse_ok(const char *text)
{
	json_t *o = NULL;
	char err[512] = "";
	int r = hocon_parse(text, strlen(text), "t.conf", &o, err, sizeof err);
	if (r != 0)
		fail_msg("unexpected parse error: %s", err);
	assert_non_null(o);
	return o;
}

/* Parse must fail with exactly this message (which includes file:line:col). */
static void
expect_err(const char *text, const char *want)
{
	json_t *o = NULL;
	char err[512] = "";
	int r = hocon_parse(text, strlen(text), "t.conf", &o, err, sizeof err);
	if (r == 0) {
		json_decref(o);
		fail_msg("expected error '%s' for input '%s'", want, text);
	}
	assert_null(o);
	if (strcmp(err, want) != 0)
		fail_msg("want '%s', got '%s'", want, err);
}

static const char *
S(json_t *o, const char *path)
{
	const char *s = cfg_str(o, path, NULL);
	if (s == NULL)
		fail_msg("no string at %s", path);
	return s;
}

static void
test_comments_and_urls(void **state)
{
	(void)state;
	json_t *o = parse_ok("# a comment\n"
	                     "// another\n"
	                     "api {\n"
	                     "  api_server: http://localhost:8008\n"
	                     "  web_server: http://localhost:8080 // trailing comment\n"
	                     "  files_server: https://h:8081/x#y # hash comment\n"
	                     "  u: a//b\n"
	                     "}\n");
	assert_string_equal(S(o, "api.api_server"), "http://localhost:8008");
	assert_string_equal(S(o, "api.web_server"), "http://localhost:8080");
	assert_string_equal(S(o, "api.files_server"), "https://h:8081/x");
	assert_string_equal(S(o, "api.u"), "a//b");
	json_decref(o);
}

static void
test_separators_and_dotted_keys(void **state)
{
	(void)state;
	json_t *o = parse_ok("a: 1\nb = 2\nc { d: 3 }\ne = { f: 4 }\n"
	                     "agent.git_user=\"x\"\n"
	                     "google.storage { project: p }\n"
	                     "\"match_rules\": q\n"
	                     "\"dotted.key\".inner: r\n"
	                     "key-with_dash: s\n"
	                     "api.credentials.access_key: AK\n");
	assert_int_equal(cfg_int(o, "a", 0), 1);
	assert_int_equal(cfg_int(o, "b", 0), 2);
	assert_int_equal(cfg_int(o, "c.d", 0), 3);
	assert_int_equal(cfg_int(o, "e.f", 0), 4);
	assert_string_equal(S(o, "agent.git_user"), "x");
	assert_string_equal(S(o, "google.storage.project"), "p");
	assert_string_equal(S(o, "match_rules"), "q");
	json_t *dk = json_object_get(o, "dotted.key");
	assert_non_null(dk);
	assert_string_equal(json_string_value(json_object_get(dk, "inner")), "r");
	assert_string_equal(S(o, "key-with_dash"), "s");
	assert_string_equal(S(o, "api.credentials.access_key"), "AK");
	json_decref(o);
}

static void
test_unquoted_values(void **state)
{
	(void)state;
	json_t *o = parse_ok("p: ~/.clearml/venvs-builds\nsz: 10GB\nfmt: JPEG\n"
	                     "words: hello big world   \nver: 1.2.3\nneg: -7\npos: +5\nflt: 2.0\n"
	                     "exp: 1e3\nhalf: .5\nbig: 123456789012345678901234\n"
	                     "t: True\nf: FALSE\nn: null\nN: NULL\nyes: yes\n"
	                     "dollar: a$b\nspec: \">=23,<24.3 ; python_version >= '3.12'\"\n");
	assert_string_equal(S(o, "p"), "~/.clearml/venvs-builds");
	assert_string_equal(S(o, "sz"), "10GB");
	assert_string_equal(S(o, "fmt"), "JPEG");
	assert_string_equal(S(o, "words"), "hello big world");
	assert_string_equal(S(o, "ver"), "1.2.3");
	assert_true(json_is_integer(cfg_get(o, "neg")));
	assert_int_equal(cfg_int(o, "neg", 0), -7);
	assert_true(json_is_integer(cfg_get(o, "pos")));
	assert_int_equal(cfg_int(o, "pos", 0), 5);
	assert_true(json_is_real(cfg_get(o, "flt")));
	assert_true(json_is_real(cfg_get(o, "exp")));
	assert_true(cfg_num(o, "exp", 0) == 1000.0);
	assert_true(cfg_num(o, "half", 0) == 0.5);
	assert_true(json_is_real(cfg_get(o, "big")));
	assert_true(json_is_true(cfg_get(o, "t")));
	assert_true(json_is_false(cfg_get(o, "f")));
	assert_true(json_is_null(cfg_get(o, "n")));
	assert_true(json_is_null(cfg_get(o, "N")));
	assert_string_equal(S(o, "yes"), "yes"); /* only true/false are booleans in HOCON */
	assert_string_equal(S(o, "dollar"), "a$b");
	assert_string_equal(S(o, "spec"), ">=23,<24.3 ; python_version >= '3.12'");
	json_decref(o);
}

static void
test_quoted_strings(void **state)
{
	(void)state;
	json_t *o = parse_ok("a: \"tab\\there\\nnl \\\"q\\\" \\\\ \\/ \\u00e9 \\ud83d\\ude00\"\n"
	                     "b: \"\"\"multi\nline \"quoted\" \\n raw\"\"\"\n"
	                     "c: \"\"\"x\"\"\"\"\"\n"
	                     "d: \"x\" \"y\"\n"
	                     "e: \"\"\n"
	                     "f: \"true\"\n"
	                     "g: \"12\"\n");
	assert_string_equal(S(o, "a"), "tab\there\nnl \"q\" \\ / \xc3\xa9 \xf0\x9f\x98\x80");
	assert_string_equal(S(o, "b"), "multi\nline \"quoted\" \\n raw");
	assert_string_equal(S(o, "c"), "x\"\"");
	assert_string_equal(S(o, "d"), "x y");
	assert_string_equal(S(o, "e"), "");
	assert_true(json_is_string(cfg_get(o, "f"))); /* quoted stays a string */
	assert_true(json_is_string(cfg_get(o, "g")));
	json_decref(o);
}

static void
test_lists_and_inline_objects(void **state)
{
	(void)state;
	json_t *o = parse_ok("l1: [\"pytorch\", \"conda-forge\", ]\n"
	                     "l2: [\n  1\n  2,\n  3\n]\n"
	                     "l3: [[1, 2], [], [a]]\n"
	                     "l4: [ { url: \"file://*\" }  # comment\n ]\n"
	                     "creds {\"access_key\": \"A\", \"secret_key\": \"S\"},\n"
	                     "obj: { a: 1 },\n"
	                     "empty: []\n"
	                     "eo: {}\n");
	json_t *l1 = cfg_get(o, "l1");
	assert_int_equal(json_array_size(l1), 2);
	assert_string_equal(json_string_value(json_array_get(l1, 1)), "conda-forge");
	json_t *l2 = cfg_get(o, "l2");
	assert_int_equal(json_array_size(l2), 3);
	assert_int_equal(json_integer_value(json_array_get(l2, 2)), 3);
	json_t *l3 = cfg_get(o, "l3");
	assert_int_equal(json_array_size(l3), 3);
	assert_int_equal(json_array_size(json_array_get(l3, 1)), 0);
	json_t *l4 = cfg_get(o, "l4");
	assert_string_equal(json_string_value(json_object_get(json_array_get(l4, 0), "url")),
	                    "file://*");
	assert_string_equal(S(o, "creds.secret_key"), "S");
	assert_int_equal(cfg_int(o, "obj.a", 0), 1);
	assert_int_equal(json_array_size(cfg_get(o, "empty")), 0);
	assert_int_equal(json_object_size(cfg_get(o, "eo")), 0);
	json_decref(o);
}

static void
test_merge_and_replace(void **state)
{
	(void)state;
	json_t *o = parse_ok("a { x: 1, y: { p: 1 } }\n"
	                     "a { y { q: 2 }, z: 3 }\n"
	                     "a.x: 10\n"
	                     "b: 1\nb { c: 2 }\n"
	                     "c { d: 1 }\nc: 5\n"
	                     "l: [1, 2]\nl: [3]\n"
	                     "arr += 1\narr += [2]\n");
	assert_int_equal(cfg_int(o, "a.x", 0), 10);
	assert_int_equal(cfg_int(o, "a.y.p", 0), 1);
	assert_int_equal(cfg_int(o, "a.y.q", 0), 2);
	assert_int_equal(cfg_int(o, "a.z", 0), 3);
	assert_int_equal(cfg_int(o, "b.c", 0), 2);
	assert_int_equal(cfg_int(o, "c", 0), 5);
	json_t *l = cfg_get(o, "l");
	assert_int_equal(json_array_size(l), 1);
	assert_int_equal(json_integer_value(json_array_get(l, 0)), 3);
	json_t *arr = cfg_get(o, "arr");
	assert_int_equal(json_array_size(arr), 2);
	assert_true(json_is_array(json_array_get(arr, 1)));
	/* key order: first appearance wins the position */
	const char *first = NULL;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(o, "a"), k, v) {
		first = k;
		break;
	}
	assert_string_equal(first, "x");
	json_decref(o);

	/* public deep merge */
	json_t *dst = parse_ok("a { b: 1, c: [1] }\nd: 1\n");
	json_t *src = parse_ok("a { c: [2], e: 3 }\nd { x: 1 }\n");
	hocon_merge(dst, src);
	assert_int_equal(cfg_int(dst, "a.b", 0), 1);
	assert_int_equal(json_integer_value(json_array_get(cfg_get(dst, "a.c"), 0)), 2);
	assert_int_equal(cfg_int(dst, "a.e", 0), 3);
	assert_int_equal(cfg_int(dst, "d.x", 0), 1);
	json_decref(dst);
	json_decref(src);
}

static void
test_substitutions(void **state)
{
	(void)state;
	setenv("HOME", "/home/u", 1);
	setenv("CML_T_VAR", "envval", 1);
	unsetenv("CML_T_NOPE");
	json_t *o = parse_ok("fwd: ${later.v}\n"
	                     "later { v: 42, obj { k: x } }\n"
	                     "back: ${later.obj}\n"
	                     "home: ${HOME}/x\n"
	                     "mixed: \"pre-\"${CML_T_VAR}\"-post\"\n"
	                     "spaced: ${later.v} apples\n"
	                     "opt: ${?CML_T_NOPE}\n"
	                     "optcat: a${?CML_T_NOPE}b\n"
	                     "keep: 1\nkeep: ${?CML_T_NOPE}\n"
	                     "envo: ${?CML_T_VAR}\n"
	                     "path: /bin\npath: ${path}\":/extra\"\n"
	                     "chain1: ${chain2}\nchain2: ${chain3}\nchain3: end\n"
	                     "inlist: [${later.v}, ${?CML_T_NOPE}, z]\n");
	assert_int_equal(cfg_int(o, "fwd", 0), 42);
	assert_true(json_is_integer(cfg_get(o, "fwd"))); /* a whole substitution keeps the type */
	assert_string_equal(S(o, "back.k"), "x");
	assert_string_equal(S(o, "home"), "/home/u/x");
	assert_string_equal(S(o, "mixed"), "pre-envval-post");
	assert_string_equal(S(o, "spaced"), "42 apples");
	assert_null(cfg_get(o, "opt")); /* unresolved optional: the key is left unset */
	assert_string_equal(S(o, "optcat"), "ab");
	assert_int_equal(cfg_int(o, "keep", 0), 1);
	assert_string_equal(S(o, "envo"), "envval");
	assert_string_equal(S(o, "path"), "/bin:/extra");
	assert_string_equal(S(o, "chain1"), "end");
	json_t *l = cfg_get(o, "inlist");
	assert_int_equal(json_array_size(l), 2);
	assert_int_equal(json_integer_value(json_array_get(l, 0)), 42);
	assert_string_equal(json_string_value(json_array_get(l, 1)), "z");
	json_decref(o);

	/* a self-reference without a previous value falls back to the environment */
	setenv("CML_T_SELF", "/usr", 1);
	o = parse_ok("CML_T_SELF: ${CML_T_SELF}\"/bin\"\n");
	assert_string_equal(S(o, "CML_T_SELF"), "/usr/bin");
	json_decref(o);
	unsetenv("CML_T_SELF");
	unsetenv("CML_T_VAR");
}

static void
test_substitution_errors(void **state)
{
	(void)state;
	unsetenv("CML_T_NOPE");
	expect_err("a: 1\nb: ${CML_T_NOPE}\n", "t.conf:2:4: could not resolve substitution ${CML_T_NOPE}");
	expect_err("a: ${b}\nb: ${a}\n", "t.conf:1:4: substitution cycle");
	expect_err("a: ${b\n", "t.conf:1:7: expected '}' to close substitution");
	expect_err("a: ${}\n", "t.conf:1:6: expected a key");
	expect_err("o { x: 1 }\na: x${o}\n", "t.conf:2:4: cannot concatenate an object or list with a string");
	/* exponential expansion must stop, not hang or eat memory */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "l0: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n");
	for (int i = 1; i < 40; i++)
		buf_printf(&b, "l%d: ${l%d}${l%d}${l%d}${l%d}\n", i, i - 1, i - 1, i - 1, i - 1);
	json_t *o = NULL;
	char err[512];
	assert_int_equal(hocon_parse(b.data, b.len, "t.conf", &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "t.conf:"));
	buf_free(&b);
	/* and the same with object copies */
	buf_init(&b, 1 << 20);
	buf_puts(&b, "o0 { a: 1, b: 2, c: 3, d: 4 }\n");
	for (int i = 1; i < 40; i++)
		buf_printf(&b, "o%d { a: ${o%d}, b: ${o%d}, c: ${o%d} }\n", i, i - 1, i - 1, i - 1);
	assert_int_equal(hocon_parse(b.data, b.len, "t.conf", &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "too large"));
	buf_free(&b);
}

static char *
mktemp_dir(void)
{
	char tmpl[] = "/tmp/hocon-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static void
write_text(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static void
test_include(void **state)
{
	(void)state;
	char *d = mktemp_dir();
	char *sub = xasprintf("%s/sub", d);
	assert_int_equal(mkdir(sub, 0755), 0);
	char *main_f = xasprintf("%s/main.conf", d);
	char *inc_f = xasprintf("%s/sub/inc.conf", d);
	char *inc2_f = xasprintf("%s/sub/inc2.conf", d);
	write_text(inc2_f, "deep: yes\n");
	write_text(inc_f, "{ from_inc: 1, shared { b: 2 }\n include \"inc2.conf\" }\n");
	write_text(main_f, "shared { a: 1 }\n"
	                   "include \"sub/inc.conf\"\n"
	                   "nested { include file(\"sub/inc2.conf\") }\n"
	                   "include required(\"sub/inc2.conf\")\n"
	                   "ref: ${from_inc}\n"
	                   "include: notakeyword\n");
	json_t *o = NULL;
	char err[512] = "";
	if (hocon_parse_file(main_f, &o, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg_int(o, "from_inc", 0), 1);
	assert_int_equal(cfg_int(o, "shared.a", 0), 1);
	assert_int_equal(cfg_int(o, "shared.b", 0), 2);
	assert_string_equal(cfg_str(o, "deep", ""), "yes");
	assert_string_equal(cfg_str(o, "nested.deep", ""), "yes");
	assert_int_equal(cfg_int(o, "ref", 0), 1);
	assert_string_equal(cfg_str(o, "include", ""), "notakeyword");
	json_decref(o);

	/* a missing include is an error at the include's position */
	write_text(main_f, "a: 1\n  include \"nope.conf\"\n");
	assert_int_equal(hocon_parse_file(main_f, &o, err, sizeof err), -1);
	char *want = xasprintf("%s:2:3: cannot include \"%s/nope.conf\": No such file or directory",
	                       main_f, d);
	assert_string_equal(err, want);
	free(want);
	/* an error inside an included file names that file */
	write_text(inc_f, "x: 1\ny: \"open\n");
	write_text(main_f, "include \"sub/inc.conf\"\n");
	assert_int_equal(hocon_parse_file(main_f, &o, err, sizeof err), -1);
	want = xasprintf("%s:2:4: unterminated string", inc_f);
	assert_string_equal(err, want);
	free(want);
	/* self-inclusion is bounded */
	write_text(main_f, "include \"main.conf\"\n");
	assert_int_equal(hocon_parse_file(main_f, &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "includes nested too deep"));

	unlink(inc2_f);
	unlink(inc_f);
	unlink(main_f);
	rmdir(sub);
	rmdir(d);
	free(inc2_f);
	free(inc_f);
	free(main_f);
	free(sub);
	free(d);
}

static void
test_malformed(void **state)
{
	(void)state;
	expect_err("a {\n  b: \"open\n}\n", "t.conf:2:6: unterminated string");
	expect_err("a {\n  b: 1\n", "t.conf:1:3: unterminated object");
	expect_err("a: [1,\n 2\n", "t.conf:1:4: unterminated list");
	expect_err("a: \"bad \\q escape\"\n", "t.conf:1:9: bad escape sequence in string");
	expect_err("a: \"\\u12\"\n", "t.conf:1:5: bad \\u escape in string");
	expect_err("a: \"\\ud800x\"\n", "t.conf:1:5: bad \\u escape in string (unpaired surrogate)");
	expect_err("a: \"\"\"never closed\n", "t.conf:1:4: unterminated triple-quoted string");
	expect_err("a\nb: 1\n", "t.conf:1:1: key 'a' has no value");
	expect_err("a: \n", "t.conf:1:4: expected a value for key 'a'");
	expect_err("a: 1 }\n", "t.conf:1:6: unexpected '}'");
	expect_err("[1, 2]\n", "t.conf:1:1: the document root must be an object");
	expect_err("{ a: 1 } b: 2\n", "t.conf:1:10: unexpected content after the root object");
	expect_err("a: [1, , 2]\n", "t.conf:1:8: unexpected ',' in list");
	expect_err("a: x{\n", "t.conf:1:5: unexpected '{' in value (objects and lists cannot be "
	                      "concatenated with strings)");
	expect_err("a..b: 1\n", "t.conf:1:3: empty key segment");
	expect_err("a: \"nul \\u0000\"\n", "t.conf:1:9: NUL character in string");
	expect_err("\"\\u0001hocon-subst\": 1\n", "t.conf:1:1: reserved key");
	expect_err("a: \"\xff\xfe\"\n", "t.conf:1:4: invalid UTF-8 in string");
}

static void
test_limits(void **state)
{
	(void)state;
	/* deep nesting */
	struct buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 70; i++)
		buf_puts(&b, "a { ");
	json_t *o = NULL;
	char err[512];
	assert_int_equal(hocon_parse(b.data, b.len, "t.conf", &o, err, sizeof err), -1);
	assert_string_equal(err, "t.conf:1:259: nesting too deep (max 64)");
	buf_reset(&b);
	for (int i = 0; i < 70; i++)
		buf_puts(&b, "[");
	buf_reset(&b);
	buf_puts(&b, "a: ");
	for (int i = 0; i < 70; i++)
		buf_puts(&b, "[");
	assert_int_equal(hocon_parse(b.data, b.len, "t.conf", &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "nesting too deep"));
	buf_free(&b);
	/* too large */
	size_t big = ((size_t)4 << 20) + 1;
	char *t = xmalloc(big);
	memset(t, ' ', big);
	assert_int_equal(hocon_parse(t, big, "t.conf", &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "t.conf:1:1: file too large"));
	free(t);
	/* binary garbage: never a crash, always an error or an object */
	unsigned seed = 12345;
	char junk[2048];
	for (int round = 0; round < 300; round++) {
		for (size_t i = 0; i < sizeof junk; i++) {
			seed = seed * 1103515245u + 12345u;
			junk[i] = (char)(seed >> 16);
		}
		size_t n = 1 + (seed % sizeof junk);
		int r = hocon_parse(junk, n, NULL, &o, err, sizeof err);
		if (r == 0)
			json_decref(o);
		else
			assert_non_null(strstr(err, "<string>:"));
	}
	/* NUL byte in the middle */
	assert_int_equal(hocon_parse("a: \"x\0y\"", 8, "t.conf", &o, err, sizeof err), -1);
	assert_string_equal(err, "t.conf:1:6: NUL byte in input");
	/* empty documents */
	o = parse_ok("");
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	o = parse_ok("  # only a comment\n\n");
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	o = parse_ok("\xEF\xBB\xBF" "a: 1\n");
	assert_int_equal(cfg_int(o, "a", 0), 1);
	json_decref(o);
}

static void
test_parse_value(void **state)
{
	(void)state;
	json_t *v = hocon_parse_value("true");
	assert_true(json_is_true(v));
	json_decref(v);
	v = hocon_parse_value("42");
	assert_int_equal(json_integer_value(v), 42);
	json_decref(v);
	v = hocon_parse_value("[\"--ipc=host\", \"-v\"]");
	assert_int_equal(json_array_size(v), 2);
	json_decref(v);
	v = hocon_parse_value("{ image: x }");
	assert_string_equal(json_string_value(json_object_get(v, "image")), "x");
	json_decref(v);
	v = hocon_parse_value("my-host.example");
	assert_string_equal(json_string_value(v), "my-host.example");
	json_decref(v);
	v = hocon_parse_value("http://h:8008");
	assert_string_equal(json_string_value(v), "http://h:8008");
	json_decref(v);
	/* unparsable text falls back to the literal string */
	v = hocon_parse_value("a}b");
	assert_string_equal(json_string_value(v), "a}b");
	json_decref(v);
	v = hocon_parse_value("");
	assert_string_equal(json_string_value(v), "");
	json_decref(v);
	v = hocon_parse_value("x\ny: 2");
	assert_string_equal(json_string_value(v), "x\ny: 2");
	json_decref(v);
}

/* Modelled on upstream docs/clearml.conf: the shape real users have. */
static const char real_world[] =
	"# CLEARML-AGENT configuration file\n"
	"api {\n"
	"    api_server: https://api.example.com\n"
	"    web_server: https://app.example.com\n"
	"    files_server: https://files.example.com\n"
	"    # Credentials are generated in the webapp\n"
	"    credentials {\"access_key\": \"EGRTCO8JMSIGI6S39GTP43NFWXDQOW\", \"secret_key\": "
	"\"x!XTov_G-#vspE*Y(h$Anm&DIc5Ou-F)jsl$PdOyj5wG1&E!Z8\"}\n"
	"    verify_certificate: True\n"
	"}\n"
	"agent {\n"
	"    worker_id: \"\"\n"
	"    worker_name: \"\"\n"
	"    force_git_ssh_protocol: false\n"
	"    python_binary: \"\"\n"
	"    package_manager: {\n"
	"        type: pip,\n"
	"        # pip_version: [\"<20.2 ; python_version < '3.10'\"]\n"
	"        system_site_packages: false,\n"
	"        force_upgrade: false,\n"
	"        extra_index_url: []\n"
	"        conda_channels: [\"pytorch\", \"conda-forge\", \"nvidia\", \"defaults\", ]\n"
	"        torch_nightly: false,\n"
	"    },\n"
	"    venvs_dir = ~/.clearml/venvs-builds\n"
	"    venvs_cache: {\n"
	"        max_entries: 10\n"
	"        free_space_threshold_gb: 2.0\n"
	"        path: ~/.clearml/venvs-cache\n"
	"    },\n"
	"    vcs_cache: {\n"
	"        enabled: true,\n"
	"        path: ~/.clearml/vcs-cache\n"
	"    },\n"
	"    pip_download_cache {\n"
	"        enabled: true,\n"
	"        path: ~/.clearml/pip-download-cache\n"
	"    },\n"
	"    translate_ssh: true,\n"
	"    reload_config: false,\n"
	"    docker_pip_cache = ~/.clearml/pip-cache\n"
	"    docker_apt_cache = ~/.clearml/apt-cache\n"
	"    docker_force_pull: false\n"
	"    default_docker: {\n"
	"        image: \"nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04\"\n"
	"        # arguments: [\"--ipc=host\"]\n"
	"        \"match_rules\": [\n"
	"             {\n"
	"                 \"image\": \"python:3.6-bullseye\",\n"
	"                 \"arguments\": \"--ipc=host\",\n"
	"                 \"match\": {\n"
	"                     \"script\": {\n"
	"                         \"binary\": \"python3.6$\",\n"
	"                     },\n"
	"                 }\n"
	"             },\n"
	"        ]\n"
	"    }\n"
	"    enable_task_env: false\n"
	"    hide_docker_command_env_vars {\n"
	"        enabled: true\n"
	"        extra_keys: []\n"
	"        parse_embedded_urls: true\n"
	"    }\n"
	"}\n"
	"sdk {\n"
	"    storage {\n"
	"        cache {\n"
	"            default_base_dir: \"~/.clearml/cache\"\n"
	"        }\n"
	"        direct_access: [\n"
	"            { url: \"file://*\" }  # file-urls are always directly referenced\n"
	"        ]\n"
	"    }\n"
	"    metrics {\n"
	"        images {\n"
	"            format: JPEG\n"
	"            quality: 87\n"
	"        }\n"
	"        tensorboard_single_series_per_graph: False\n"
	"    }\n"
	"    aws {\n"
	"        s3 {\n"
	"            key: \"\"\n"
	"            secret: \"\"\n"
	"            credentials: [\n"
	"                {\n"
	"                    host: \"my-minio-host:9000\"\n"
	"                    key: \"12345678\"\n"
	"                    secret: \"12345678\"\n"
	"                    multipart: false\n"
	"                    secure: false\n"
	"                },\n"
	"                { bucket: \"b2\", key: \"k2\", secret: \"s2\" }\n"
	"            ]\n"
	"        }\n"
	"        boto3 {\n"
	"            pool_connections: 512\n"
	"            max_multipart_concurrency: 16\n"
	"        }\n"
	"    }\n"
	"    google.storage {\n"
	"        # project: \"clearml\"\n"
	"    }\n"
	"    azure.storage {\n"
	"        # containers: []\n"
	"    }\n"
	"    development {\n"
	"        task_reuse_time_window_in_hours: 72.0\n"
	"        worker {\n"
	"            report_period_sec: 2\n"
	"            log_stdout: True\n"
	"        }\n"
	"    }\n"
	"}\n";

static void
test_real_world_file(void **state)
{
	(void)state;
	json_t *o = parse_ok(real_world);
	assert_string_equal(S(o, "api.api_server"), "https://api.example.com");
	assert_string_equal(S(o, "api.credentials.secret_key"),
	                    "x!XTov_G-#vspE*Y(h$Anm&DIc5Ou-F)jsl$PdOyj5wG1&E!Z8");
	assert_true(cfg_bool(o, "api.verify_certificate", 0));
	assert_string_equal(S(o, "agent.package_manager.type"), "pip");
	assert_int_equal(json_array_size(cfg_get(o, "agent.package_manager.conda_channels")), 4);
	assert_string_equal(S(o, "agent.venvs_dir"), "~/.clearml/venvs-builds");
	assert_true(cfg_num(o, "agent.venvs_cache.free_space_threshold_gb", 0) == 2.0);
	json_t *rules = cfg_get(o, "agent.default_docker.match_rules");
	assert_int_equal(json_array_size(rules), 1);
	assert_string_equal(cfg_str(json_array_get(rules, 0), "match.script.binary", ""),
	                    "python3.6$");
	json_t *creds = cfg_get(o, "sdk.aws.s3.credentials");
	assert_int_equal(json_array_size(creds), 2);
	assert_string_equal(cfg_str(json_array_get(creds, 0), "host", ""), "my-minio-host:9000");
	assert_false(cfg_bool(json_array_get(creds, 0), "secure", 1));
	assert_true(json_is_object(cfg_get(o, "sdk.google.storage")));
	assert_true(json_is_object(cfg_get(o, "sdk.azure.storage")));
	assert_true(json_is_false(cfg_get(o, "sdk.metrics.tensorboard_single_series_per_graph")));
	assert_true(json_is_true(cfg_get(o, "sdk.development.worker.log_stdout")));
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comments_and_urls),
		cmocka_unit_test(test_separators_and_dotted_keys),
		cmocka_unit_test(test_unquoted_values),
		cmocka_unit_test(test_quoted_strings),
		cmocka_unit_test(test_lists_and_inline_objects),
		cmocka_unit_test(test_merge_and_replace),
		cmocka_unit_test(test_substitutions),
		cmocka_unit_test(test_substitution_errors),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parse_value),
		cmocka_unit_test(test_real_world_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
