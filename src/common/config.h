/*
 * config — clearml.conf: the HOCON parser's entry points, the effective configuration (built-in
 * defaults + files + CLEARML_AGENT__ injection + environment overrides), typed lookups by dotted
 * path, the sanitised print-out and the JSON dump handed to children.
 *
 * The configuration tree is a jansson object (insertion order is preserved). HOCON values map to
 * JSON: objects, arrays, strings (quoted, unquoted, triple-quoted), integers, reals, true/false,
 * null. Owner: hocon.c (parser), config.c (load order, overrides, lookups, print, dump).
 */
#ifndef CLEARML_CONFIG_H
#define CLEARML_CONFIG_H

#include <jansson.h>
#include <stdio.h>

/* ---- HOCON ---- */
/* Parse HOCON text. filename is used in messages and to resolve `include` relative paths (may be
 * NULL for in-memory text). On success returns 0 and *out is a new object. On error returns -1 and
 * err holds "file:line:col: message". Substitutions resolve within the document, then fall back
 * to the process environment. */
int hocon_parse(const char *text, size_t len, const char *filename, json_t **out, char *err,
                size_t errlen);
int hocon_parse_file(const char *path, json_t **out, char *err, size_t errlen);
/* Parse a single HOCON value (as used by CLEARML_AGENT__X=value); falls back to a string. */
json_t *hocon_parse_value(const char *text);
/* Deep merge: objects merge key by key recursively, everything else in src replaces dst. */
void hocon_merge(json_t *dst, json_t *src);

/* ---- effective configuration ---- */
struct config {
	json_t *root;       /* effective tree: api, agent, sdk, ... */
	char *location;     /* the file(s) loaded, for the print-out header ("" when none) */
};

/* Load in the documented order. explicit_file (from --config-file) may be NULL. Returns 0, or -1
 * with err set (parse error "file:line:col: message", or an unreadable explicit file). */
int config_load(struct config *cfg, const char *explicit_file, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Lookups by dotted path ("agent.venvs_cache.path"). Missing or wrong type → dflt. */
json_t *cfg_get(const json_t *root, const char *path);
const char *cfg_str(const json_t *root, const char *path, const char *dflt);
long long cfg_int(const json_t *root, const char *path, long long dflt);
double cfg_num(const json_t *root, const char *path, double dflt);
int cfg_bool(const json_t *root, const char *path, int dflt); /* accepts "true"/"yes" strings too */
/* Set a dotted path, creating objects on the way; steals value. 0 or -1. */
int cfg_set(json_t *root, const char *path, json_t *value);
/* cfg_str + ~ and $VAR expansion; caller frees; NULL when missing/empty. */
char *cfg_path(const json_t *root, const char *path);

/* `clearml-agent config` print-out (§2.8): header, flattened `a.b = value` lines, masked. */
void config_print(FILE *out, const struct config *cfg);
/* Flatten + mask one tree into `a.b = value` lines (used by config_print; exposed for tests). */
char *config_format_properties(const json_t *root, const json_t *sanitize_cfg);
/* Hide the password of a URL ("https://u:p@h/x" → "https://u:********@h/x"); caller frees. */
char *config_mask_url(const char *url);

/* Write the effective tree as pretty JSON (indent 4) for children, mode 0600, only when the
 * content changed. 0 or -1. */
int config_dump_json(const json_t *root, const char *path);

/* Built-in defaults (config_defaults.c, spec §2.3–2.5): one HOCON document per top-level section,
 * parsed by config_load as its first layer. */
struct config_default {
	const char *name; /* top-level key: "agent", "api", "logging", "sdk" */
	const char *text; /* HOCON */
};
extern const struct config_default config_defaults[];
extern const size_t config_defaults_count;

#endif
