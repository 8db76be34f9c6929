/*
 * cmd_init — the pure parts of the `clearml-agent init` wizard (§2.9 of spec/clearml-agent.md),
 * apart from its dialogue so they can be unit-tested. Owner: cmd_misc.c.
 */
#ifndef CLEARML_CMD_INIT_H
#define CLEARML_CMD_INIT_H

#include <stddef.h>

#include "config.h"

struct init_answers {
	char *access_key, *secret_key;
	char *api_host, *web_host, *files_host;
	char *output_uri;             /* sdk.development.default_output_uri; NULL: none */
	char *git_user, *git_pass;
	char **extra_index;           /* agent.package_manager.extra_index_url */
	size_t n_extra_index;
};
void init_answers_free(struct init_answers *a);

/* The block pasted from the web app ("api { web_server: ..., credentials {...} }", or its
 * content alone): fills key/secret (required) and whichever hosts it names. 0 or -1. */
int init_parse_pasted(const char *text, struct init_answers *a);

/* The three hosts from any one of them, as upstream derives them: app./api./files. (and
 * demoapp./demoapi./demofiles.) host name prefixes, or ports 8080/8008/8081; a host without a
 * port gets those default ports. 0, or -1 when the text is not a URL or has another port. */
int init_derive_hosts(const char *given, char **api, char **web, char **files);

/* The configuration file's text: the api section, the built-in agent/sdk defaults, then the
 * answers (git credentials, extra index URLs, default output URI). Caller frees. */
char *init_build_conf(const struct init_answers *a);

#endif
