/*
 * yaml_out: the YAML that `clearml-agent list` prints must be byte-identical to what the Python
 * agent prints, i.e. yaml.safe_dump(data, indent=1). The expected texts below were produced by
 * PyYAML 6.0 from the JSON inputs shown (and read through by hand: sorted keys, indentless lists
 * in mappings, `[]`/`{}`, quoting of look-alikes of bool/int/float/null/timestamp, indicators,
 * escapes, float repr, folding at width 80, `? ` complex keys, the `...` after a root scalar).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_out.h"

struct yaml_case {
	const char *name;
	const char *json;
	const char *yaml;
};

static const struct yaml_case cases[] = {
	{ "empty mapping at the root",
	  "{}",
	  "{}\n"
	    "" },
	{ "empty list at the root",
	  "[]",
	  "[]\n"
	    "" },
	{ "plain scalar at the root ends the document",
	  "\"abc\"",
	  "abc\n"
	    "...\n"
	    "" },
	{ "sorted keys, nested mapping, indentless list in a mapping",
	  "{\"workers\": [{\"id\": \"host:0\", \"key\": \"worker_c_u_host:0\", \"queues\": [], \"task\": null, \"tags\": [\"a\", \"b\"], \"user\": {\"id\": \"u1\", \"name\": \"Default User\"}}], \"b\": 1, \"a\": true}",
	  "a: true\n"
	    "b: 1\n"
	    "workers:\n"
	    "- id: host:0\n"
	    "  key: worker_c_u_host:0\n"
	    "  queues: []\n"
	    "  tags:\n"
	    "  - a\n"
	    "  - b\n"
	    "  task: null\n"
	    "  user:\n"
	    "    id: u1\n"
	    "    name: Default User\n"
	    "" },
	{ "list of lists and empty collections",
	  "[[1, 2], [], {}, [[]], {\"x\": {}}]",
	  "- - 1\n"
	    "  - 2\n"
	    "- []\n"
	    "- {}\n"
	    "- - []\n"
	    "- x: {}\n"
	    "" },
	{ "strings that would read as other types are quoted",
	  "{\"bool\": \"yes\", \"Off\": \"off\", \"int\": \"123\", \"oct\": \"0777\", \"float\": \"1.5\", \"exp\": \"1.0e+5\", \"null\": \"null\", \"tilde\": \"~\", \"empty\": \"\", \"ts\": \"2020-02-24T15:05:35.426770+00:00\", \"date\": \"2020-02-24\", \"merge\": \"<<\", \"eq\": \"=\", \"not_num\": \"1e5\", \"sexagesimal\": \"1:20\"}",
	  "'Off': 'off'\n"
	    "bool: 'yes'\n"
	    "date: '2020-02-24'\n"
	    "empty: ''\n"
	    "eq: '='\n"
	    "exp: '1.0e+5'\n"
	    "float: '1.5'\n"
	    "int: '123'\n"
	    "merge: '<<'\n"
	    "not_num: 1e5\n"
	    "'null': 'null'\n"
	    "oct: '0777'\n"
	    "sexagesimal: '1:20'\n"
	    "tilde: '~'\n"
	    "ts: '2020-02-24T15:05:35.426770+00:00'\n"
	    "" },
	{ "indicators and whitespace force quotes",
	  "{\"a\": \"a: b\", \"b\": \"- x\", \"c\": \"#c\", \"d\": \"a #c\", \"e\": \" lead\", \"f\": \"trail \", \"g\": \"it's\", \"h\": \"[x]\", \"i\": \"host:cpu:0\", \"j\": \"a,b\", \"k\": \"*ref\", \"l\": \"---\", \"m\": \"@at\", \"n\": \"-x\", \"o\": \"?\", \"p\": \"x?y\"}",
	  "a: 'a: b'\n"
	    "b: '- x'\n"
	    "c: '#c'\n"
	    "d: 'a #c'\n"
	    "e: ' lead'\n"
	    "f: 'trail '\n"
	    "g: it's\n"
	    "h: '[x]'\n"
	    "i: host:cpu:0\n"
	    "j: a,b\n"
	    "k: '*ref'\n"
	    "l: '---'\n"
	    "m: '@at'\n"
	    "n: -x\n"
	    "o: '?'\n"
	    "p: x?y\n"
	    "" },
	{ "control characters and unicode are escaped in double quotes",
	  "{\"tab\": \"a\\tb\", \"nl\": \"line1\\nline2\", \"uni\": \"caf\\u00e9 \\u65e5\\u672c \\ud83d\\ude00\", \"ctl\": \"\\u0007\\u001b\\u007f\", \"bs\": \"back\\\\slash\\t\", \"quote\": \"say \\\"hi\\\"\\t\", \"nbsp\": \"\\u00a0\"}",
	  "bs: \"back\\\\slash\\t\"\n"
	    "ctl: \"\\a\\e\\x7F\"\n"
	    "nbsp: \"\\_\"\n"
	    "nl: 'line1\n"
	    "\n"
	    "  line2'\n"
	    "quote: \"say \\\"hi\\\"\\t\"\n"
	    "tab: \"a\\tb\"\n"
	    "uni: \"caf\\xE9 \\u65E5\\u672C \\U0001F600\"\n"
	    "" },
	{ "numbers, booleans and null",
	  "{\"i\": -42, \"big\": 9007199254740993, \"f1\": 1.0, \"f2\": 0.1, \"f3\": 1e+16, \"f4\": 1.5e-07, \"f5\": -0.0, \"f6\": 123456789.125, \"f7\": 1000000000000000.0, \"f8\": 0.0001, \"t\": true, \"f\": false, \"n\": null}",
	  "big: 9007199254740993\n"
	    "f: false\n"
	    "f1: 1.0\n"
	    "f2: 0.1\n"
	    "f3: 1.0e+16\n"
	    "f4: 1.5e-07\n"
	    "f5: -0.0\n"
	    "f6: 123456789.125\n"
	    "f7: 1000000000000000.0\n"
	    "f8: 0.0001\n"
	    "i: -42\n"
	    "n: null\n"
	    "t: true\n"
	    "" },
	{ "long plain and quoted strings fold at width 80",
	  "{\"plain\": \"word word word word word word word word word word word word word word word word word word word word word word word word word end\", \"quoted\": \"it's a long line it's a long line it's a long line it's a long line it's a long line it's a long line it's a long line it's a long line \", \"dq\": \"tab\\t x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y \", \"list\": [\"alpha beta gamma delta alpha beta gamma delta alpha beta gamma delta alpha beta gamma delta alpha beta gamma delta \"]}",
	  "dq: \"tab\\t x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y x y\\\n"
	    "  \\ x y x y x y x y x y x y x y x y x y x y x y x y \"\n"
	    "list:\n"
	    "- 'alpha beta gamma delta alpha beta gamma delta alpha beta gamma delta alpha beta\n"
	    "  gamma delta alpha beta gamma delta '\n"
	    "plain: word word word word word word word word word word word word word word word\n"
	    "  word word word word word word word word word word end\n"
	    "quoted: 'it''s a long line it''s a long line it''s a long line it''s a long line it''s\n"
	    "  a long line it''s a long line it''s a long line it''s a long line '\n"
	    "" },
	{ "keys that cannot be simple use ? and :",
	  "{\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\": 1, \"\": \"empty key\", \"multi\\nline\": [1]}",
	  "? ''\n"
	    ": empty key\n"
	    "? kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\n"
	    ": 1\n"
	    "? 'multi\n"
	    "\n"
	    "  line'\n"
	    ": - 1\n"
	    "" },
	{ "a list of mappings inside a list",
	  "[{\"a\": 1, \"b\": [{\"c\": null}]}, \"s\"]",
	  "- a: 1\n"
	    "  b:\n"
	    "  - c: null\n"
	    "- s\n"
	    "" },
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_error_t je;
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
		assert_non_null(v);
		char *y = yaml_dump(v);
		if (strcmp(y, cases[i].yaml) != 0)
			print_error("case \"%s\"\nwant:\n%s\ngot:\n%s\n", cases[i].name, cases[i].yaml, y);
		assert_string_equal(y, cases[i].yaml);
		free(y);
		json_decref(v);
	}
}

static void
test_worker_list_shape(void **state)
{
	(void)state;
	/* The shape `list` prints for one registered worker, written out by hand. */
	json_t *v = json_pack("{s:[{s:s,s:s,s:s,s:[{s:s,s:s}]}]}", "workers", "id", "box:gpu0",
	                      "register_time", "2024-05-01T10:00:00.000000+00:00", "ip",
	                      "127.0.0.1", "queues", "id", "5f1e", "name", "default");
	char *y = yaml_dump(v);
	assert_string_equal(y, "workers:\n"
	                       "- id: box:gpu0\n"
	                       "  ip: 127.0.0.1\n"
	                       "  queues:\n"
	                       "  - id: 5f1e\n"
	                       "    name: default\n"
	                       "  register_time: '2024-05-01T10:00:00.000000+00:00'\n");
	free(y);
	json_decref(v);
}

static void
test_scalar_roots(void **state)
{
	(void)state;
	json_t *v = json_null();
	char *y = yaml_dump(v);
	assert_string_equal(y, "null\n...\n");
	free(y);
	v = json_string("");
	y = yaml_dump(v);
	assert_string_equal(y, "''\n"); /* quoted: no open end */
	free(y);
	json_decref(v);
	v = json_real(2.5);
	y = yaml_dump(v);
	assert_string_equal(y, "2.5\n...\n");
	free(y);
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_worker_list_shape),
		cmocka_unit_test(test_scalar_roots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
