/*
 * gitcred — git credentials without leaks (§5.2): the configured user/password/host, URL
 * rewriting (force_git_ssh_protocol / _port / _user, translate_ssh), password masking for
 * printed URLs and tool output, and a GIT_ASKPASS helper so the secret never appears in a URL,
 * a process's argv, a log line or the user's git config. The helper is a 0700 script in a private
 * 0700 temp dir that answers git's prompts from environment variables of the git process only.
 * pyenv uses the same functions for `git+https://` requirement lines. Owner: gitcred.c.
 */
#ifndef CLEARML_GITCRED_H
#define CLEARML_GITCRED_H

#include <jansson.h>

#include "proc.h"

struct git_creds {
	char *user;          /* agent.git_user / CLEARML_AGENT_GIT_USER; NULL when unset */
	char *pass;          /* agent.git_pass / CLEARML_AGENT_GIT_PASS; NULL when unset */
	char *host;          /* agent.git_host / CLEARML_AGENT_GIT_HOST: restrict to this host */
	int force_ssh;       /* agent.force_git_ssh_protocol */
	char *ssh_port;      /* agent.force_git_ssh_port (NULL = not forced) */
	char *ssh_user;      /* agent.force_git_ssh_user (NULL = not forced) */
	int translate_ssh;   /* agent.translate_ssh (default 1) */
};
void gitcred_from_config(struct git_creds *c, const json_t *config_root);
void gitcred_free(struct git_creds *c);

/* A parsed git remote. scp = 1 for "user@host:path". Strings owned, "" when absent. */
struct git_url {
	char *scheme;        /* "https", "ssh", "file", ... ; "" for scp style and local paths */
	char *user, *pass, *host, *port, *path;
	int scp;
	int local;           /* a plain filesystem path */
};
int git_url_parse(const char *url, struct git_url *u);
char *git_url_format(const struct git_url *u); /* inverse of parse; caller frees */
void git_url_free(struct git_url *u);

/* Does host match the configured git_host (always when none is configured)? */
int gitcred_host_matches(const struct git_creds *c, const char *host);

/* Rules 1–2: force ssh, or translate ssh → https when credentials are configured. Caller frees. */
char *gitcred_rewrite_url(const struct git_creds *c, const char *url);

/* The URL git is given (rewritten, with any embedded user:password removed) and the credentials
 * that go to the askpass helper for it (embedded ones first, else the configured ones when the
 * host matches and the scheme is http(s)). user and pass are set to NULL when none; caller frees all. */
char *gitcred_prepare(const struct git_creds *c, const char *url, char **user, char **pass);

/* "https://u:p@h/x" becomes "https://u:(8 stars)@h/x" (any URL in the text). Caller frees. */
char *gitcred_mask_url(const char *url);
/* Mask URL passwords anywhere in text, and every occurrence of secret (when non-empty). */
char *gitcred_mask_text(const char *text, const char *secret);

/* The GIT_ASKPASS helper. setup creates it (only when user or pass is non-NULL) and puts
 * GIT_ASKPASS and the answer variables into env; cleanup removes the files. Both are safe to
 * call on a zeroed struct. 0, or -1 with err. */
struct git_askpass {
	char *dir;
	char *script;
};
int gitcred_askpass_setup(struct git_askpass *ap, const char *user, const char *pass,
                          const char *host, struct envv *env, char *err, size_t errlen);
void gitcred_askpass_cleanup(struct git_askpass *ap);

/* The environment every git call gets: no terminal prompts, ssh in batch mode, and an HTTP
 * transfer that stays below 1000 B/s for 300 s aborted (GIT_HTTP_LOW_SPEED_*, unless set). */
void gitcred_git_env(struct envv *env);

/* For pyenv: a requirement line with a git URL (`git+https://…`, `pkg @ git+ssh://…`) rewritten
 * by the same rules (never with credentials inside); other lines returned unchanged. Caller
 * frees. Give pip's environment the helper with gitcred_askpass_setup(…, c->user, c->pass,
 * c->host, …) so git inside pip authenticates. */
char *gitcred_requirement_line(const struct git_creds *c, const char *line);

#endif
