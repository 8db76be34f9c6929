/*
 * cmd_misc — the small sub-commands: `config` (print the effective configuration) and `init`,
 * the interactive wizard of §2.9 that writes ~/clearml.conf: it reads the `api { ... }` block pasted from the web app (or asks for key and secret), derives the
 * api/web/files hosts from one another, verifies the credentials with a login, asks for the
 * default output URI, git credentials and extra package indexes, and writes the file (mode 0600)
 * with the built-in defaults. It refuses to touch a non-empty existing file.
 *
 * The text handling (pasted block, host derivation, the file's text) is pure and exposed in
 * cmd_init.h for the unit tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/cmd_init.h"
#include "agent/commands.h"
#include "api.h"
#include "util.h"

#define INIT_LINE_MAX 4096
#define INIT_PASTE_MAX (64 * 1024)

int
cmd_config(const struct cli_opts *o, struct config *cfg)
{
	(void)o;
	config_print(stdout, cfg);
	return 0;
}

/* ------------------------------------------------------------------ pure helpers */

void
init_answers_free(struct init_answers *a)
{
	char **s[] = {&a->access_key, &a->secret_key, &a->api_host, &a->web_host, &a->files_host,
	              &a->output_uri, &a->git_user, &a->git_pass};
	for (size_t i = 0; i < ARRAY_LEN(s); i++)
		free(*s[i]);
	for (size_t i = 0; i < a->n_extra_index; i++)
		free(a->extra_index[i]);
	free(a->extra_index);
	memset(a, 0, sizeof *a);
}

static char *
dup_str(const json_t *v)
{
	const char *s = json_string_value(v);
	return s && *s ? xstrdup(s) : NULL;
}

int
init_parse_pasted(const char *text, struct init_answers *a)
{
	json_t *root = NULL;
	char err[256];
	if (hocon_parse(text, strlen(text), "<pasted>", &root, err, sizeof err) < 0)
		return -1;
	json_t *api = json_object_get(root, "api");
	if (!json_is_object(api))
		api = root; /* the block's content alone */
	json_t *cred = json_object_get(api, "credentials");
	char *key = dup_str(json_object_get(cred, "access_key"));
	char *secret = dup_str(json_object_get(cred, "secret_key"));
	if (key == NULL || secret == NULL) {
		free(key);
		free(secret);
		json_decref(root);
		return -1;
	}
	free(a->access_key);
	free(a->secret_key);
	a->access_key = key;
	a->secret_key = secret;
	char *api_host = dup_str(json_object_get(api, "api_server"));
	if (api_host == NULL)
		api_host = dup_str(json_object_get(api, "host"));
	if (api_host) {
		free(a->api_host);
		a->api_host = api_host;
	}
	char *web = dup_str(json_object_get(api, "web_server"));
	if (web) {
		free(a->web_host);
		a->web_host = web;
	}
	char *files = dup_str(json_object_get(api, "files_server"));
	if (files) {
		free(a->files_host);
		a->files_host = files;
	}
	json_decref(root);
	return 0;
}

/* Where `name` (a host prefix like "app." or a port like ":8080") sits in url's host part, or
 * NULL. A port must end the host part. */
static const char *
host_form_at(const char *url, const char *name)
{
	const char *host = strstr(url, "://") + 3;
	size_t hostlen = strcspn(host, "/");
	size_t len = strlen(name);
	if (name[0] != ':')
		return strncmp(host, name, len) == 0 ? host : NULL;
	const char *p = strstr(host, name);
	if (p == NULL || p + len > host + hostlen)
		return NULL;
	return p[len] == '\0' || p[len] == '/' ? p : NULL;
}

static char *
replaced_at(const char *url, const char *at, size_t len, const char *to)
{
	return xasprintf("%.*s%s%s", (int)(at - url), url, to, at + len);
}

int
init_derive_hosts(const char *given, char **api, char **web, char **files)
{
	*api = *web = *files = NULL;
	const char *sep = strstr(given, "://");
	if (sep == NULL || sep == given || sep[3] == '\0' || sep[3] == '/')
		return -1;
	char *url = xstrdup(given);
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	static const struct {
		const char *web, *api, *files;
	} forms[] = {
		{"demoapp.", "demoapi.", "demofiles."},
		{"app.", "api.", "files."},
		{":8080", ":8008", ":8081"},
	};
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		const char *names[3] = {forms[i].web, forms[i].api, forms[i].files};
		for (int k = 0; k < 3; k++) {
			const char *at = host_form_at(url, names[k]);
			if (at == NULL)
				continue;
			size_t len = strlen(names[k]);
			*web = replaced_at(url, at, len, forms[i].web);
			*api = replaced_at(url, at, len, forms[i].api);
			*files = replaced_at(url, at, len, forms[i].files);
			free(url);
			return 0;
		}
	}
	/* no port at all: upstream's default answer, the standard ports */
	const char *host = strstr(url, "://") + 3;
	size_t hostlen = strcspn(host, "/");
	if (memchr(host, ':', hostlen) == NULL && host[0] != '[') {
		const char *end = host + hostlen;
		*web = xasprintf("%.*s:8080%s", (int)(end - url), url, end);
		*api = xasprintf("%.*s:8008%s", (int)(end - url), url, end);
		*files = xasprintf("%.*s:8081%s", (int)(end - url), url, end);
		free(url);
		return 0;
	}
	free(url);
	return -1;
}

/* A HOCON (JSON) quoted string. Caller frees. */
static char *
quoted(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	return out ? out : xstrdup("\"\"");
}

char *
init_build_conf(const struct init_answers *a)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	char *api = quoted(a->api_host), *web = quoted(a->web_host), *files = quoted(a->files_host);
	char *key = quoted(a->access_key), *secret = quoted(a->secret_key);
	buf_printf(&b,
	           "# CLEARML-AGENT configuration file\n"
	           "api {\n"
	           "    # Notice: 'api_server' is the api server (default port 8008), not the web server.\n"
	           "    api_server: %s\n"
	           "    web_server: %s\n"
	           "    files_server: %s\n"
	           "    # Credentials are generated using the webapp, %s/settings\n"
	           "    # Override with os environment: CLEARML_API_ACCESS_KEY / CLEARML_API_SECRET_KEY\n"
	           "    credentials {\"access_key\": %s, \"secret_key\": %s}\n"
	           "}\n\n",
	           api, web, files, a->web_host ? a->web_host : "", key, secret);
	free(api);
	free(web);
	free(files);
	free(key);
	free(secret);
	/* the built-in defaults, then the answers (later keys win in HOCON) */
	for (size_t i = 0; i < config_defaults_count; i++) {
		const char *name = config_defaults[i].name;
		if (strcmp(name, "agent") != 0 && strcmp(name, "sdk") != 0)
			continue;
		buf_printf(&b, "%s {\n%s}\n\n", name, config_defaults[i].text);
	}
	char *user = quoted(a->git_user), *pass = quoted(a->git_pass);
	buf_printf(&b,
	           "# Set GIT user/pass credentials (leave blank for GIT SSH credentials)\n"
	           "agent.git_user: %s\n"
	           "agent.git_pass: %s\n\n",
	           user, pass);
	free(user);
	free(pass);
	buf_puts(&b, "# extra_index_url: [\"https://pypi.example.com/simple\"]\n"
	             "agent.package_manager.extra_index_url: [\n");
	for (size_t i = 0; i < a->n_extra_index; i++) {
		char *q = quoted(a->extra_index[i]);
		buf_printf(&b, "    %s\n", q);
		free(q);
	}
	buf_puts(&b, "]\n");
	if (a->output_uri && *a->output_uri) {
		char *q = quoted(a->output_uri);
		buf_printf(&b, "\nsdk.development.default_output_uri: %s\n", q);
		free(q);
	}
	return buf_steal(&b);
}

/* ------------------------------------------------------------------ the dialogue */

/* One line from in without its newline; NULL at end of input. Caller frees. */
static char *
read_line(FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, in);
	if (n < 0) {
		free(line);
		return NULL;
	}
	if (n > INIT_LINE_MAX)
		line[INIT_LINE_MAX] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

static char *
ask(FILE *in, const char *prompt)
{
	fputs(prompt, stdout);
	fflush(stdout);
	char *l = read_line(in);
	if (l == NULL)
		return NULL;
	char *t = xstrdup(str_trim(l));
	free(l);
	size_t n = strlen(t);
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		t[--n] = '\0';
	return t;
}

/* Read the pasted block: up to the line where the braces balance (or end of input). */
static char *
read_pasted(FILE *in)
{
	struct buf b;
	buf_init(&b, INIT_PASTE_MAX);
	int depth = 0, seen = 0;
	char *l;
	while ((l = read_line(in)) != NULL) {
		for (const char *p = l; *p; p++) {
			depth += *p == '{';
			depth -= *p == '}';
			seen |= *p == '{';
		}
		int full = buf_puts(&b, l) < 0 || buf_puts(&b, "\n") < 0;
		int blank = *str_trim(l) == '\0';
		free(l);
		if (full || (seen && depth <= 0) || (blank && !seen && b.len > 1))
			break;
	}
	return buf_steal(&b);
}

static int
verify_credentials(const struct config *cfg, const struct init_answers *a, char *why, size_t len)
{
	struct api_settings s;
	api_settings_from_config(&s, cfg->root);
	free(s.host);
	free(s.access_key);
	free(s.secret_key);
	free(s.auth_token);
	s.host = xstrdup(a->api_host);
	s.access_key = xstrdup(a->access_key);
	s.secret_key = xstrdup(a->secret_key);
	s.auth_token = NULL; /* the new credentials are what is checked */
	s.initial_connect_retries = 2;
	struct api_session *sess = api_session_new(&s);
	int rc = -1;
	if (sess) {
		struct api_error err;
		memset(&err, 0, sizeof err);
		rc = api_login(sess, &err);
		if (rc != 0)
			snprintf(why, len, "%s", err.msg[0] ? err.msg : "login failed");
		api_session_free(sess);
	} else {
		snprintf(why, len, "no API client");
	}
	api_settings_free(&s);
	return rc == 0 ? 0 : -1;
}

static const char *
conf_path_for_init(char **owned)
{
	const char *env = env_get("CLEARML_CONFIG_FILE");
	if (env)
		return env;
	*owned = path_expand("~/clearml.conf");
	return *owned;
}

static int
non_empty_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

int
cmd_init(const struct cli_opts *o, struct config *cfg)
{
	(void)o;
	FILE *in = stdin;
	char *owned = NULL;
	const char *path = conf_path_for_init(&owned);
	char *trains = path_expand("~/trains.conf");
	const char *existing = non_empty_file(trains) ? trains : non_empty_file(path) ? path : NULL;
	printf("CLEARML-AGENT setup process\n");
	if (existing) {
		printf("Configuration file already exists: %s\n"
		       "Leaving setup, feel free to edit the configuration file.\n", existing);
		free(trains);
		free(owned);
		return 0;
	}
	free(trains);

	struct init_answers a;
	memset(&a, 0, sizeof a);
	int rc = 1;
	char *text = NULL, *line = NULL;
	printf("\nPlease create new clearml credentials through the settings page in your "
	       "`clearml-server` web app,\nIn the settings > workspace page, press \"Create new "
	       "credentials\", then press \"Copy to clipboard\".\n\nPaste copied configuration here:\n");
	fflush(stdout);
	text = read_pasted(in);
	if (init_parse_pasted(text, &a) < 0) {
		printf("Could not parse credentials, please try entering them manually.\n");
		a.access_key = ask(in, "Enter user access key: ");
		a.secret_key = a.access_key ? ask(in, "Enter user secret: ") : NULL;
		if (a.access_key == NULL || a.secret_key == NULL || !*a.access_key || !*a.secret_key) {
			fprintf(stderr, "\nclearml_agent: ERROR: no credentials given\n");
			goto out;
		}
	}
	printf("Detected credentials key=\"%s\" secret=\"%.4s***\"\n", a.access_key, a.secret_key);

	if (a.api_host == NULL) {
		line = ask(in, "Enter the url of the clearml-server's Web service, for example: "
		               "http://localhost:8080 or https://app.clear.ml: ");
		if (line == NULL || init_derive_hosts(line, &a.api_host, &a.web_host, &a.files_host) < 0) {
			if (line && strstr(line, "://")) {
				a.api_host = xstrdup(line); /* taken as the API server itself */
			} else {
				fprintf(stderr, "\nclearml_agent: ERROR: could not parse the host name\n");
				goto out;
			}
		}
	} else if (a.web_host == NULL || a.files_host == NULL) {
		char *api = NULL, *web = NULL, *files = NULL;
		if (init_derive_hosts(a.api_host, &api, &web, &files) == 0) {
			if (a.web_host == NULL)
				a.web_host = web, web = NULL;
			if (a.files_host == NULL)
				a.files_host = files, files = NULL;
		}
		free(api);
		free(web);
		free(files);
	}
	printf("\nClearML Hosts configuration:\nWeb App: %s\nAPI: %s\nFile Store: %s\n\n",
	       a.web_host ? a.web_host : "", a.api_host, a.files_host ? a.files_host : "");
	printf("Verifying credentials ...\n");
	fflush(stdout);
	char why[1200];
	if (verify_credentials(cfg, &a, why, sizeof why) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: could not verify credentials: key=%s (%s)\n",
		        a.access_key, why);
		goto out;
	}
	printf("Credentials verified!\n");

	free(line);
	line = ask(in, "\nDefault Output URI (used to automatically store models and artifacts): "
	               "(N)one/ClearML (S)erver/(C)ustom [None] ");
	if (line && (line[0] == 's' || line[0] == 'S') && a.files_host)
		a.output_uri = xstrdup(a.files_host);
	else if (line && (line[0] == 'c' || line[0] == 'C'))
		a.output_uri = ask(in, "Custom Default Output URI: ");

	a.git_user = ask(in, "\nEnter git username for repository cloning (leave blank for SSH key "
	                     "authentication): [] ");
	if (a.git_user && *a.git_user) {
		char prompt[256];
		snprintf(prompt, sizeof prompt, "Enter password for user '%s': ", a.git_user);
		a.git_pass = ask(in, prompt);
		printf("Git repository cloning will be using user=%s password=***\n", a.git_user);
	}

	printf("\nEnter additional artifact repository (extra-index-url) to use when installing "
	       "python packages (leave blank if not required):");
	for (;;) {
		char *url = ask(in, "\nAdditional artifact repository (extra-index-url): ");
		if (url == NULL || *url == '\0' || a.n_extra_index >= 64) {
			free(url);
			break;
		}
		a.extra_index = xreallocarray(a.extra_index, a.n_extra_index + 1, sizeof(char *));
		a.extra_index[a.n_extra_index++] = url;
	}

	char *conf = init_build_conf(&a);
	if (write_file_atomic(path, conf, strlen(conf), 0600) < 0) {
		fprintf(stderr, "\nclearml_agent: ERROR: could not write %s: %s\n", path, strerror(errno));
		free(conf);
		goto out;
	}
	free(conf);
	printf("\nNew configuration stored in %s\nCLEARML-AGENT setup completed successfully.\n", path);
	rc = 0;
out:
	free(text);
	free(line);
	free(owned);
	init_answers_free(&a);
	return rc;
}
