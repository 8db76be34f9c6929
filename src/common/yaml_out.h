/*
 * yaml_out — write a JSON value as YAML exactly as Python's yaml.safe_dump(data, indent=1) does
 * (PyYAML defaults otherwise: block style, sorted keys, width 80, ASCII output). Used by
 * `clearml-agent list`. Owner: yaml_out.c.
 */
#ifndef CLEARML_YAML_OUT_H
#define CLEARML_YAML_OUT_H

#include <jansson.h>

/* The YAML text (always ends with a newline). Caller frees. */
char *yaml_dump(const json_t *value);

#endif
