/* Unit tests for requirements.c: line parsing, PEP 503 names, classification, cache-key
 * stability, PEP 440 specifiers, PEP 508 markers and the freeze filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "runner/requirements.h"
#include "util.h"

static void
test_canonical_name(void **state)
{
	(void)state;
	const char *cases[][2] = {{"Foo_Bar", "foo-bar"}, {"foo.-_bar", "foo-bar"},
	                          {"TinyAlpha", "tinyalpha"}, {"a__b..c", "a-b-c"}};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *c = req_canonical_name(cases[i][0], strlen(cases[i][0]));
		assert_string_equal(c, cases[i][1]);
		free(c);
	}
}

static void
test_parse_named(void **state)
{
	(void)state;
	struct req r;
	assert_int_equal(req_parse_line("  Tiny_Alpha [Extra2, extra1] >= 1.0 , < 2  ; python_version >= '3.8'",
	                                &r), 0);
	assert_int_equal(r.kind, REQ_NAMED);
	assert_string_equal(r.name, "tiny-alpha");
	assert_string_equal(r.marker, "python_version >= '3.8'");
	assert_string_equal(r.norm, "tiny-alpha[extra2,extra1]>=1.0,<2;python_version >= '3.8'");
	req_free(&r);

	assert_int_equal(req_parse_line("   ", &r), -1);

	assert_int_equal(req_parse_line("pkg @ git+https://h/x.git@v1", &r), 0);
	assert_int_equal(r.kind, REQ_VCS);
	assert_string_equal(r.name, "pkg");
	req_free(&r);

	assert_int_equal(req_parse_line("git+file:///tmp/r.git@v1#egg=My.Pkg&subdirectory=x", &r), 0);
	assert_int_equal(r.kind, REQ_VCS);
	assert_string_equal(r.name, "my-pkg");
	req_free(&r);

	assert_int_equal(req_parse_line("-e ./local/dir", &r), 0);
	assert_int_equal(r.kind, REQ_LOCAL);
	assert_true(r.editable);
	req_free(&r);

	assert_int_equal(req_parse_line("https://h/x-1.0-py3-none-any.whl", &r), 0);
	assert_int_equal(r.kind, REQ_URL);
	req_free(&r);

	assert_int_equal(req_parse_line("-r other.txt", &r), 0);
	assert_int_equal(r.kind, REQ_INCLUDE);
	req_free(&r);

	assert_int_equal(req_parse_line("--extra-index-url http://127.0.0.1/simple", &r), 0);
	assert_int_equal(r.kind, REQ_OPTION);
	req_free(&r);

	/* hostile text stays data: it parses as something, and the name never contains it */
	assert_int_equal(req_parse_line("evil; $(touch /tmp/x) ../../etc", &r), 0);
	assert_string_equal(r.name, "evil");
	req_free(&r);
}

static void
test_parse_text_comments_and_continuations(void **state)
{
	(void)state;
	struct req_list l = {0};
	req_list_parse_text(&l, "# comment\n\nalpha==1.0  # trailing\r\n"
	                        "beta \\\n  >=2\n"
	                        "git+https://h/r.git#egg=gamma\n"
	                        "   \n#last");
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].line, "alpha==1.0");
	assert_string_equal(l.v[1].norm, "beta>=2");
	assert_string_equal(l.v[2].name, "gamma"); /* URL fragment is not a comment */
	assert_false(req_list_has_include(&l));
	req_list_free(&l);

	json_t *arr = json_pack("[s,s,i]", "a==1", "b==2\nc==3", 5);
	assert_int_equal(req_list_from_json(&l, arr), 0);
	assert_int_equal(l.n, 3);
	req_list_free(&l);
	json_decref(arr);
	json_t *num = json_integer(1);
	assert_int_equal(req_list_from_json(&l, num), -1);
	json_decref(num);
}

static void
test_classify(void **state)
{
	(void)state;
	struct req_list l = {0};
	req_list_parse_text(&l, "clearml==1.0\nnumpy\nfoo\nhorovod\n./local\nClearML==1.1\n"
	                        "pygobject\nbar\n-e git+https://h/x.git#egg=x\nmypost\n");
	const char *post[] = {"MyPost", "horovod", NULL};
	struct req_policy p = {.post = post};
	req_classify(&l, &p);
	assert_int_equal(l.v[0].cls, RC_DROPPED);     /* earlier clearml */
	assert_int_equal(l.v[1].cls, RC_PRIORITY);    /* numpy */
	assert_int_equal(l.v[2].cls, RC_NORMAL);
	assert_int_equal(l.v[3].cls, RC_POST);
	assert_int_equal(l.v[4].cls, RC_EXTERNAL);
	assert_int_equal(l.v[5].cls, RC_COLLECTED);
	assert_int_equal(l.v[6].cls, RC_PRIORITY_OPTIONAL);
	assert_int_equal(l.v[8].cls, RC_EXTERNAL);
	assert_int_equal(l.v[9].cls, RC_POST);
	char *main_file = req_render_main(&l);
	assert_string_equal(main_file, "numpy\nfoo\nbar\nClearML==1.1\n");
	free(main_file);
	req_list_free(&l);
}

static void
key_of(const char *text, const char *py, char out[33])
{
	struct req_list l = {0};
	req_list_parse_text(&l, text);
	struct req_key_input in = {.python_version = py, .manager = "pip", .cuda = "0"};
	req_cache_key(&l, &in, out);
	req_list_free(&l);
}

static void
test_cache_key_stability(void **state)
{
	(void)state;
	char a[33], b[33], c[33], d[33], e[33];
	key_of("TinyAlpha==1.0\ntinybeta>=1 # why\n", "3.11.7", a);
	key_of("# header\n  tinybeta >= 1\n\nTINYALPHA == 1.0\ntinyalpha==1.0\n", "3.11.7", b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 32);
	key_of("tinyalpha==2.0\ntinybeta>=1\n", "3.11.7", c);
	assert_string_not_equal(a, c);
	key_of("tinyalpha==1.0\ntinybeta>=1\n", "3.10.13", d);
	assert_string_not_equal(a, d);

	struct req_list l = {0};
	req_list_parse_text(&l, "tinyalpha==1.0\ntinybeta>=1\n");
	struct req_key_input in = {.python_version = "3.11.7", .manager = "pip", .cuda = "122"};
	req_cache_key(&l, &in, e);
	assert_string_not_equal(a, e);
	in.cuda = "0";
	in.manager = "uv";
	req_cache_key(&l, &in, e);
	assert_string_not_equal(a, e);
	req_list_free(&l);
}

static void
test_pep440(void **state)
{
	(void)state;
	assert_true(pep440_compare("23.2.1", "22.3") > 0);
	assert_true(pep440_compare("1.0", "1.0.0") == 0);
	assert_true(pep440_compare("1.0rc1", "1.0") < 0);
	assert_true(pep440_compare("1.0.post1", "1.0") > 0);
	assert_true(pep440_compare("1.0.dev1", "1.0a1") < 0);
	assert_int_equal(pep440_satisfies("23.2.1", ">=20.3,<24.3"), 1);
	assert_int_equal(pep440_satisfies("24.3", ">=20.3,<24.3"), 0);
	assert_int_equal(pep440_satisfies("22.0.4", "<22.3"), 1);
	assert_int_equal(pep440_satisfies("1.4.2", "==1.4.*"), 1);
	assert_int_equal(pep440_satisfies("1.5", "==1.4.*"), 0);
	assert_int_equal(pep440_satisfies("2.2", "~=2.1"), 1);
	assert_int_equal(pep440_satisfies("3.0", "~=2.1"), 0);
	assert_int_equal(pep440_satisfies("1.0", ""), 1);
	assert_int_equal(pep440_satisfies("1.0", "=>1"), -1);
	assert_int_equal(pep440_satisfies("1.0", ">="), -1); /* fuzz: an operator and nothing else */
	assert_int_equal(pep440_satisfies("1.0", "<<<"), -1);
}

static void
test_markers(void **state)
{
	(void)state;
	assert_int_equal(req_marker_eval("python_version >= '3.10' and python_version <= '3.11'",
	                                 "3.11.7"), 1);
	assert_int_equal(req_marker_eval("python_version < '3.10'", "3.11.7"), 0);
	assert_int_equal(req_marker_eval("python_version < '3.10'", "3.9.18"), 1);
	assert_int_equal(req_marker_eval("sys_platform == 'win32' or (os_name == \"posix\")",
	                                 "3.8.1"), 1);
	assert_int_equal(req_marker_eval("'3.12' <= python_version", "3.13.0"), 1);
	assert_int_equal(req_marker_eval("python_full_version != '3.11.7'", "3.11.7"), 0);
	assert_int_equal(req_marker_eval("python_version >> '3'", "3.11.7"), -1);
	assert_int_equal(req_marker_eval("nonsense", "3.11.7"), -1);
	assert_int_equal(req_marker_eval("python_version == '3.11' extra", "3.11.7"), -1);
}

static void
test_freeze_filter(void **state)
{
	(void)state;
	json_t *a = req_freeze_lines("tinyalpha==1.0\n\nclearml-agent==1.9\n# note\n  tinybeta==1.0  \n");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "tinyalpha==1.0");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "tinybeta==1.0");
	json_decref(a);
}

static void
test_shlex(void **state)
{
	(void)state;
	size_t n = 0;
	char **v = req_shlex_split("  --no-cache-dir -i 'http://x/a b' \"q\\\"x\" a\\ b ''", &n);
	assert_non_null(v);
	assert_int_equal(n, 6);
	assert_string_equal(v[0], "--no-cache-dir");
	assert_string_equal(v[2], "http://x/a b");
	assert_string_equal(v[3], "q\"x");
	assert_string_equal(v[4], "a b");
	assert_string_equal(v[5], "");
	assert_null(v[6]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	assert_null(req_shlex_split("'unterminated", &n));
	v = req_shlex_split("", &n);
	assert_int_equal(n, 0);
	free(v);
}

static void
test_tool_error_line(void **state)
{
	(void)state;
	char out[256];
	req_tool_error_line("Looking in indexes: x\nERROR: Could not find a version that satisfies "
	                    "the requirement nosuchpkg==9.9\nERROR: No matching distribution found for "
	                    "nosuchpkg==9.9\n\n", out, sizeof out);
	assert_string_equal(out, "No matching distribution found for nosuchpkg==9.9");
	req_tool_error_line("ERROR: Exception:\nTraceback (most recent call last):\n  File \"x\"\n"
	                    "pip._vendor.packaging.markers.InvalidMarker: Invalid marker: 'touch'\n",
	                    out, sizeof out);
	assert_string_equal(out, "InvalidMarker: Invalid marker: 'touch'");
	req_tool_error_line("  × No solution found\nerror: Failed to fetch: `http://x/`\n  Caused by: y\n",
	                    out, sizeof out);
	assert_string_equal(out, "Failed to fetch: `http://x/`");
	req_tool_error_line("something odd\n  last words  \n", out, sizeof out);
	assert_string_equal(out, "last words");
	req_tool_error_line("", out, sizeof out);
	assert_string_equal(out, "");
	req_tool_error_line("ERROR: No matching distribution found for a-very-long-name", out, 12);
	assert_string_equal(out, "No matching");
}

static void
test_python_from_binary(void **state)
{
	(void)state;
	char v[32];
	req_python_from_binary("python3.8", v, sizeof v);
	assert_string_equal(v, "3.8");
	req_python_from_binary("/usr/bin/python3.10.13", v, sizeof v);
	assert_string_equal(v, "3.10.13");
	req_python_from_binary("python3", v, sizeof v);
	assert_string_equal(v, "");
	req_python_from_binary("bash", v, sizeof v);
	assert_string_equal(v, "");
	req_python_from_binary(NULL, v, sizeof v);
	assert_string_equal(v, "");
	assert_true(req_python_version_matches("3.10.13", "3.10"));
	assert_true(req_python_version_matches("3.10.13", "3"));
	assert_true(req_python_version_matches("3.10.13", "3.10.13"));
	assert_false(req_python_version_matches("3.10.13", "3.1"));
	assert_false(req_python_version_matches("3.11.7", "3.10"));
}

static void
test_pip_pin(void **state)
{
	(void)state;
	const char *const pins[] = {"<20.2 ; python_version < '3.10'",
	                            "<22.3 ; python_version >= '3.10' and python_version <= '3.11'",
	                            ">=23,<24.3 ; python_version >= '3.12'", NULL};
	struct {
		const char *py, *spec, *line;
	} cases[] = {{"3.8.18", "<20.2", "pip<20.2"}, {"3.11.7", "<22.3", "pip<22.3"},
	             {"3.10.13", "<22.3", "pip<22.3"}, {"3.13.0", ">=23,<24.3", "pip>=23,<24.3"}};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char **lines = NULL;
		char *spec = req_pip_pin(pins, cases[i].py, &lines);
		assert_string_equal(spec, cases[i].spec);
		assert_string_equal(lines[0], cases[i].line);
		assert_null(lines[1]);
		free(lines[0]);
		free(lines);
		free(spec);
	}
	/* no pins, or a "pip==X" form with no marker */
	char **lines = NULL;
	char *spec = req_pip_pin(NULL, "3.11.7", &lines);
	assert_string_equal(spec, "");
	assert_null(lines[0]);
	free(lines);
	free(spec);
	const char *const eq[] = {"pip == 23.2.1", NULL};
	spec = req_pip_pin(eq, "3.11.7", &lines);
	assert_string_equal(spec, "== 23.2.1");
	assert_int_equal(pep440_satisfies("23.2.1", spec), 1);
	free(lines[0]);
	free(lines);
	free(spec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_name),
		cmocka_unit_test(test_parse_named),
		cmocka_unit_test(test_parse_text_comments_and_continuations),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_cache_key_stability),
		cmocka_unit_test(test_pep440),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_freeze_filter),
		cmocka_unit_test(test_shlex),
		cmocka_unit_test(test_tool_error_line),
		cmocka_unit_test(test_python_from_binary),
		cmocka_unit_test(test_pip_pin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
