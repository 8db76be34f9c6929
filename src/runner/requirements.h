/*
 * requirements — pure logic over pip requirement text (no processes, no files): split a
 * requirements text into lines (comments, continuations), parse each line (name, extras,
 * specifiers, markers, VCS / URL / local / editable / option lines), canonicalise names (PEP 503),
 * classify them the way the Python agent's requirements manager does (priority, post, external,
 * collected), compute the environment-cache key, compare PEP 440 versions, check specifiers and
 * evaluate the environment markers the agent's own pins use. Owner: requirements.c.
 */
#ifndef CLEARML_REQUIREMENTS_H
#define CLEARML_REQUIREMENTS_H

#include <jansson.h>
#include <stddef.h>

enum req_kind {
	REQ_NAMED,   /* name[extras] specifiers ; markers */
	REQ_VCS,     /* git+https://…, name @ git+file://…, -e git+… */
	REQ_URL,     /* https://…/x.whl, name @ https://… */
	REQ_LOCAL,   /* ./dir, /abs/x.whl, file://…, -e . */
	REQ_OPTION,  /* --index-url, -f, --pre, … (kept in the file as is) */
	REQ_INCLUDE, /* -r / --requirement / -c / --constraint: refers to another file */
};

enum req_class {
	RC_NORMAL,
	RC_PRIORITY,          /* installed first, one by one (and left in the main file) */
	RC_PRIORITY_OPTIONAL, /* like priority, failure ignored, removed from the main file */
	RC_POST,              /* removed from the main file, installed after it */
	RC_POST_OPTIONAL,     /* like post, failure ignored */
	RC_EXTERNAL,          /* VCS / local / editable / URL: removed, installed one by one */
	RC_COLLECTED,         /* clearml, trains, nbconvert, ipython: last occurrence kept, at the end */
	RC_DROPPED,           /* an earlier duplicate of a collected package */
};

struct req {
	char *line;      /* the requirement text, comment and surrounding space removed */
	char *name;      /* canonical (PEP 503) project name, or NULL when unknown */
	char *norm;      /* normalised text for cache keys (name canonical, spaces folded) */
	char *marker;    /* the marker text after ';', or NULL */
	enum req_kind kind;
	int editable;
	enum req_class cls;
};

struct req_list {
	struct req *v;
	size_t n;
};

/* PEP 503 name: lower case, runs of '-', '_', '.' become one '-'. Caller frees. */
char *req_canonical_name(const char *name, size_t len);

/* Parse one logical line (already stripped of comments). 0, or -1 for an empty line. */
int req_parse_line(const char *line, struct req *out);
void req_free(struct req *r);

/* Split a requirements text into logical lines (backslash continuations joined, `#` comments at
 * the start or after white space dropped, blank lines dropped) and append them. */
void req_list_parse_text(struct req_list *l, const char *text);
/* script.requirements.pip value: a string (a whole file) or an array of lines. -1 on any other
 * type (l unchanged). */
int req_list_from_json(struct req_list *l, const json_t *pip);
void req_list_free(struct req_list *l);
/* 1 when a line refers to another file (-r / -c): such a set has no cache key. */
int req_list_has_include(const struct req_list *l);

/* Name lists for classification; NULL-terminated arrays of canonical or raw names. NULL list →
 * the Python agent's defaults (priority: cython numpy setuptools pip uv; priority optional:
 * pygobject; post: horovod; post optional: none). */
struct req_policy {
	const char *const *priority;
	const char *const *priority_optional;
	const char *const *post;
	const char *const *post_optional;
};
void req_classify(struct req_list *l, const struct req_policy *p);

/* The text of the main requirements file: every line whose class is NORMAL, PRIORITY or OPTION
 * kinds, then the COLLECTED ones, each on its own line. Caller frees. */
char *req_render_main(const struct req_list *l);

/* The environment cache key: hex SHA-256 (first 32 chars) over a versioned header (python
 * version, package manager, CUDA version, system-site-packages flag, extra key text) and the
 * sorted, de-duplicated normalised lines. out must hold 33 bytes. */
struct req_key_input {
	const char *python_version; /* "3.11.7" */
	const char *manager;        /* "pip", "uv", "conda" */
	const char *cuda;           /* "0" when none */
	int system_site_packages;
	const char *extra;          /* anything else that changes the result (index URLs), or NULL */
};
void req_cache_key(const struct req_list *l, const struct req_key_input *in, char out[33]);

/* PEP 440-ish version comparison (release numbers, then pre/post/dev tags): <0, 0, >0. */
int pep440_compare(const char *a, const char *b);
/* Does version satisfy a comma-separated specifier set (">=20.3,<24.3", "==1.*", "~=2.1")?
 * 1 yes, 0 no, -1 unparsable. An empty spec is satisfied. */
int pep440_satisfies(const char *version, const char *spec);

/* Evaluate a PEP 508 environment marker for this machine with the given python version
 * ("3.11.7"). Supports python_version, python_full_version, sys_platform, platform_system,
 * os_name, platform_machine, implementation_name, and/or/parentheses. 1, 0, or -1 if malformed. */
int req_marker_eval(const char *marker, const char *python_full_version);

/* One `pip freeze` output → JSON array of lines, dropping blanks, comments and any line that
 * mentions clearml-agent (§5.7). */
json_t *req_freeze_lines(const char *freeze_output);

/* POSIX-shell-like word splitting (quotes and backslashes, no expansion), as Python's
 * shlex.split: for CLEARML_EXTRA_PIP_INSTALL_FLAGS. Returns a NULL-terminated vector (caller frees
 * each and the vector) with *n set, or NULL on an unterminated quote. */
char **req_shlex_split(const char *s, size_t *n);

/* The last meaningful error line of a tool's output: pip's last "ERROR: …", uv's "error: …"
 * (prefix dropped), a traceback's last line (module path dropped), else the last non-empty
 * line. out gets at most outlen-1 bytes ("" for empty output). */
void req_tool_error_line(const char *output, char *out, size_t outlen);

/* Requested python version from script.binary: "…/python3.8" → "3.8"; "python3", "python" and
 * non-python binaries → "" (the default interpreter). */
void req_python_from_binary(const char *binary, char *out, size_t outlen);
/* Does an interpreter version "3.10.13" match a request "3.10" / "3.10.13" / "3"? */
int req_python_version_matches(const char *have, const char *want);

/* agent.package_manager.pip_version for one python: the entries whose marker holds (or that have
 * none), as one specifier set ("<22.3" or ">=23,<24.3"; "" when none applies) and as requirement
 * lines for pip (*lines_out: NULL-terminated, caller frees each and the vector). Caller frees. */
char *req_pip_pin(const char *const *pins, const char *python_full_version, char ***lines_out);

#endif
