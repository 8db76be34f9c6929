/*
 * config — the effective configuration (spec §2): built-in defaults, CLEARML_CONFIG_PATH,
 * ~/trains.conf + ~/clearml.conf (or only CLEARML_CONFIG_FILE / --config-file), the
 * CLEARML_AGENT__A__B injection, the environment override table, and the post-processing that
 * is pure configuration (api.host, agent.worker_name). Also the typed lookups by dotted path,
 * the `clearml-agent config` print-out with its masking rules (§2.8), and the JSON dump handed to
 * children. The HOCON grammar itself lives in hocon.c.
 *
 * Masking never relies on the caller: config_format_properties hides every key the
 * sanitize_config_printout rules name, every password inside URLs of the `urls` keys, and every
 * secret-looking docker environment value of the `docker_commands` keys.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "version.h"

#define CONF_MAX_FILE ((size_t)4 << 20)
#define CONF_DIR_MAX_DEPTH 8
#define CONF_DIR_MAX_FILES 256

extern char **environ;

/* ---- lookups ---- */

json_t *
cfg_get(const json_t *root, const char *path)
{
	if (root == NULL || path == NULL)
		return NULL;
	const json_t *node = root;
	const char *p = path;
	for (;;) {
		if (!json_is_object(node))
			return NULL;
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0)
			return NULL;
		char key[256];
		if (n >= sizeof key)
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		node = json_object_get(node, key);
		if (node == NULL)
			return NULL;
		if (!dot)
			return (json_t *)(uintptr_t)node;
		p = dot + 1;
	}
}

const char *
cfg_str(const json_t *root, const char *path, const char *dflt)
{
	json_t *v = cfg_get(root, path);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

long long
cfg_int(const json_t *root, const char *path, long long dflt)
{
	json_t *v = cfg_get(root, path);
	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (isfinite(d) && d >= -9.2e18 && d <= 9.2e18)
			return (long long)d;
		return dflt;
	}
	if (json_is_string(v)) {
		long long out;
		char *t = xstrdup(json_string_value(v));
		int r = parse_long(str_trim(t), LLONG_MIN, LLONG_MAX, &out);
		free(t);
		return r == 0 ? out : dflt;
	}
	return dflt;
}

double
cfg_num(const json_t *root, const char *path, double dflt)
{
	json_t *v = cfg_get(root, path);
	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end = NULL;
		errno = 0;
		double d = strtod(s, &end);
		if (end != s && errno == 0) {
			while (*end == ' ' || *end == '\t')
				end++;
			if (*end == '\0')
				return d;
		}
	}
	return dflt;
}

int
cfg_bool(const json_t *root, const char *path, int dflt)
{
	json_t *v = cfg_get(root, path);
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v)) {
		char *t = xstrdup(json_string_value(v));
		int b = parse_bool(str_trim(t));
		free(t);
		return b < 0 ? dflt : b;
	}
	return dflt;
}

int
cfg_set(json_t *root, const char *path, json_t *value)
{
	if (value == NULL)
		return -1;
	if (!json_is_object(root) || path == NULL || *path == '\0') {
		json_decref(value);
		return -1;
	}
	json_t *node = root;
	const char *p = path;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0) {
			json_decref(value);
			return -1;
		}
		char *key = xstrndup(p, n);
		if (!dot) {
			int r = json_object_set_new(node, key, value);
			free(key);
			return r == 0 ? 0 : -1;
		}
		json_t *ch = json_object_get(node, key);
		if (!json_is_object(ch)) {
			ch = json_object();
			if (json_object_set_new(node, key, ch) < 0) {
				free(key);
				json_decref(value);
				return -1;
			}
		}
		free(key);
		node = ch;
		p = dot + 1;
	}
}

char *
cfg_path(const json_t *root, const char *path)
{
	const char *s = cfg_str(root, path, NULL);
	if (s == NULL || *s == '\0')
		return NULL;
	return path_expand(s);
}

/* ---- loading ---- */

static int
is_regular_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
load_file_into(json_t *root, const char *path, char *err, size_t errlen)
{
	json_t *t = NULL;
	if (hocon_parse_file(path, &t, err, errlen) < 0)
		return -1;
	hocon_merge(root, t);
	json_decref(t);
	return 0;
}

static int
path_has_suffix_conf(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* A config directory: every *.conf below it, the file stem (and sub-directories) naming the key
 * it lands under, as upstream's _read_recursive. */
static int
load_dir_into(json_t *root, const char *dir, const char *prefix, int depth, int *nfiles, char *err,
              size_t errlen)
{
	if (depth > CONF_DIR_MAX_DEPTH)
		return 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	/* sorted, so that the result does not depend on directory order */
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);
	closedir(d);
	if (n < 0)
		return 0;
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		if (rc < 0 || name[0] == '.')
			continue;
		char *full = xasprintf("%s/%s", dir, name);
		struct stat st;
		if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			char *pre = *prefix ? xasprintf("%s.%s", prefix, name) : xstrdup(name);
			rc = load_dir_into(root, full, pre, depth + 1, nfiles, err, errlen);
			free(pre);
		} else if (S_ISREG(st.st_mode) && path_has_suffix_conf(name) &&
		           (*nfiles)++ < CONF_DIR_MAX_FILES) {
			json_t *t = NULL;
			if (hocon_parse_file(full, &t, err, errlen) < 0) {
				rc = -1;
			} else {
				char *stem = xstrndup(name, strlen(name) - 5);
				char *key = *prefix ? xasprintf("%s.%s", prefix, stem) : xstrdup(stem);
				json_t *wrap = json_object();
				cfg_set(wrap, key, t);
				hocon_merge(root, wrap);
				json_decref(wrap);
				free(stem);
				free(key);
			}
		}
		free(full);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return rc;
}

static const char *
first_env(const char *const *names)
{
	for (; *names; names++) {
		const char *v = env_get(*names);
		if (v)
			return v;
	}
	return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* CLEARML_AGENT__A__B=value → a.b: <value parsed as HOCON>, in sorted variable order. */
static void
apply_env_injection(json_t *root)
{
	static const char prefix[] = "CLEARML_AGENT__";
	size_t n = 0, cap = 0;
	char **names = NULL;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, prefix, sizeof prefix - 1) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (eq == NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			names = xreallocarray(names, cap, sizeof *names);
		}
		names[n++] = xstrndup(*e, (size_t)(eq - *e));
	}
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);
	json_t *inj = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *val = getenv(names[i]);
		const char *rest = names[i] + sizeof prefix - 1;
		struct buf path;
		buf_init(&path, 4096);
		int bad = *rest == '\0';
		for (const char *p = rest; *p && !bad; p++) {
			if (p[0] == '_' && p[1] == '_') {
				buf_puts(&path, ".");
				p++;
			} else {
				char ch = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
				buf_append(&path, &ch, 1);
			}
		}
		if (!bad && val && path.data[0] != '.' && !strstr(path.data, "..") &&
		    path.data[path.len - 1] != '.') {
			json_t *wrap = json_object();
			if (cfg_set(wrap, path.data, hocon_parse_value(val)) == 0)
				hocon_merge(inj, wrap);
			json_decref(wrap);
		} else {
			log_warn("ignoring %s: not a configuration path", names[i]);
		}
		buf_free(&path);
		free(names[i]);
	}
	free(names);
	hocon_merge(root, inj);
	json_decref(inj);
}

struct env_override {
	const char *path;
	int is_bool;
	const char *names[5];
};

/* definitions.ENVIRONMENT_CONFIG (spec §2.6); first non-empty variable wins. */
static const struct env_override env_overrides[] = {
	{"api.api_server", 0, {"CLEARML_API_HOST", "TRAINS_API_HOST", NULL}},
	{"api.files_server", 0, {"CLEARML_FILES_HOST", "TRAINS_FILES_HOST", NULL}},
	{"api.web_server", 0, {"CLEARML_WEB_HOST", "TRAINS_WEB_HOST", NULL}},
	{"api.credentials.access_key", 0, {"CLEARML_API_ACCESS_KEY", "TRAINS_API_ACCESS_KEY", NULL}},
	{"api.credentials.secret_key", 0, {"CLEARML_API_SECRET_KEY", "TRAINS_API_SECRET_KEY", NULL}},
	{"agent.worker_name", 0, {"CLEARML_WORKER_NAME", "TRAINS_WORKER_NAME", NULL}},
	{"agent.worker_id", 0, {"CLEARML_WORKER_ID", "TRAINS_WORKER_ID", NULL}},
	{"agent.cuda_version", 0,
	 {"CLEARML_CUDA_VERSION", "TRAINS_CUDA_VERSION", "CUDA_VERSION", NULL}},
	{"agent.cudnn_version", 0,
	 {"CLEARML_CUDNN_VERSION", "TRAINS_CUDNN_VERSION", "CUDNN_VERSION", NULL}},
	{"agent.cpu_only", 1, {"CLEARML_CPU_ONLY", "TRAINS_CPU_ONLY", "CPU_ONLY", NULL}},
	/* upstream reads only the misspelt name; we accept the correct spelling first */
	{"agent.crash_on_exception", 1,
	 {"CLEARML_AGENT_CRASH_ON_EXCEPTION", "CLEAMRL_AGENT_CRASH_ON_EXCEPTION", NULL}},
	{"sdk.aws.s3.key", 0, {"AWS_ACCESS_KEY_ID", NULL}},
	{"sdk.aws.s3.secret", 0, {"AWS_SECRET_ACCESS_KEY", NULL}},
	{"sdk.aws.s3.region", 0, {"AWS_DEFAULT_REGION", NULL}},
	{"sdk.google.storage.credentials_json", 0, {"GOOGLE_APPLICATION_CREDENTIALS", NULL}},
};

static json_t *
env_stripped(const char *const *names)
{
	const char *v = first_env(names);
	if (v == NULL)
		return NULL;
	char *t = xstrdup(v);
	char *s = str_trim(t);
	json_t *j = *s ? json_string(s) : NULL;
	free(t);
	return j;
}

static void
apply_env_overrides(json_t *root)
{
	for (size_t i = 0; i < ARRAY_LEN(env_overrides); i++) {
		const struct env_override *o = &env_overrides[i];
		json_t *v = env_stripped(o->names);
		if (v == NULL)
			continue;
		if (o->is_bool) {
			int b = parse_bool(json_string_value(v));
			json_decref(v);
			if (b < 0) {
				const char *const *nm = o->names;
				while (*nm && env_get(*nm) == NULL)
					nm++;
				log_warn("ignoring %s: not a boolean", *nm ? *nm : o->path);
				continue;
			}
			v = json_boolean(b);
		}
		cfg_set(root, o->path, v);
	}
	/* sdk.azure.storage.containers gets one more entry when either variable is set */
	static const char *const acc[] = {"AZURE_STORAGE_ACCOUNT", NULL};
	static const char *const key[] = {"AZURE_STORAGE_KEY", NULL};
	json_t *a = env_stripped(acc), *k = env_stripped(key);
	if (a || k) {
		json_t *list = cfg_get(root, "sdk.azure.storage.containers");
		if (!json_is_array(list)) {
			list = json_array();
			cfg_set(root, "sdk.azure.storage.containers", list);
		}
		json_array_append_new(list, json_pack("{s:o, s:o}", "account_name",
		                                      a ? a : json_null(), "account_key",
		                                      k ? k : json_null()));
	}
}

static json_t *
load_defaults(char *err, size_t errlen)
{
	json_t *root = json_object();
	for (size_t i = 0; i < config_defaults_count; i++) {
		json_t *t = NULL;
		char name[64];
		snprintf(name, sizeof name, "<built-in %s.conf>", config_defaults[i].name);
		if (hocon_parse(config_defaults[i].text, strlen(config_defaults[i].text), name, &t,
		                err, errlen) < 0) {
			json_decref(root);
			return NULL;
		}
		json_object_set_new(root, config_defaults[i].name, t);
	}
	return root;
}

int
config_load(struct config *cfg, const char *explicit_file, char *err, size_t errlen)
{
	cfg->root = NULL;
	cfg->location = NULL;
	if (err && errlen)
		err[0] = '\0';
	json_t *root = load_defaults(err, errlen);
	if (root == NULL)
		return -1;
	/* the environment name picks a CLEARML_CONFIG_PATH sub-folder: only the known names */
	const char *envname = env_get("TRAINS_ENV") ? env_get("TRAINS_ENV") : "default";
	if (strcmp(envname, "default") != 0 && strcmp(envname, "demo") != 0 &&
	    strcmp(envname, "local") != 0) {
		log_warn("ignoring TRAINS_ENV=%s: not one of default, demo, local", envname);
		envname = "default";
	}

	/* 2. CLEARML_CONFIG_PATH: <dir>/<env>/ read recursively */
	static const char *const path_vars[] = {"CLEARML_CONFIG_PATH", "TRAINS_CONFIG_PATH", NULL};
	const char *cpath = first_env(path_vars);
	if (cpath) {
		char *d = path_expand(cpath);
		char *sub = xasprintf("%s/default", d);
		int nfiles = 0;
		int r = load_dir_into(root, sub, "", 0, &nfiles, err, errlen);
		if (r == 0 && strcmp(envname, "default") != 0) {
			free(sub);
			sub = xasprintf("%s/%s", d, envname);
			r = load_dir_into(root, sub, "", 0, &nfiles, err, errlen);
		}
		free(sub);
		free(d);
		if (r < 0)
			goto fail;
	}

	/* 3. local files */
	static const char *const file_vars[] = {"CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE", NULL};
	const char *only = explicit_file && *explicit_file ? explicit_file : first_env(file_vars);
	if (only) {
		char *f = path_expand(only);
		if (f[0] != '/') {
			/* upstream prints the absolute path of the file in use */
			char cwd[4096];
			if (getcwd(cwd, sizeof cwd) != NULL) {
				char *abs = xasprintf("%s/%s", cwd, f);
				free(f);
				f = abs;
			}
		}
		if (!is_regular_file(f) || access(f, R_OK) != 0) {
			snprintf(err, errlen, "Could not open configuration file: %s", f);
			free(f);
			goto fail;
		}
		if (load_file_into(root, f, err, errlen) < 0) {
			free(f);
			goto fail;
		}
		cfg->location = f;
	} else {
		char *trains = path_expand("~/trains.conf");
		char *clearml = path_expand("~/clearml.conf");
		int r = 0;
		if (is_regular_file(trains))
			r = load_file_into(root, trains, err, errlen);
		if (r == 0 && is_regular_file(clearml))
			r = load_file_into(root, clearml, err, errlen);
		if (is_regular_file(clearml)) {
			cfg->location = clearml;
			clearml = NULL;
		} else if (is_regular_file(trains)) {
			cfg->location = trains;
			trains = NULL;
		}
		free(trains);
		free(clearml);
		if (r < 0)
			goto fail;
	}
	if (cfg->location == NULL)
		cfg->location = xstrdup("");

	/* 4. CLEARML_AGENT__ injection; 6. the env name */
	apply_env_injection(root);
	json_object_set_new(root, "env", json_string(envname));

	/* Session post-processing that is pure configuration */
	apply_env_overrides(root);
	const char *host = cfg_str(root, "api.host", NULL);
	const char *api_server = cfg_str(root, "api.api_server", NULL);
	if ((host == NULL || *host == '\0') && api_server && *api_server)
		cfg_set(root, "api.host", json_string(api_server));
	const char *wn = cfg_str(root, "agent.worker_name", NULL);
	if (wn == NULL || *wn == '\0') {
		struct utsname u;
		if (uname(&u) == 0 && u.nodename[0])
			cfg_set(root, "agent.worker_name", json_string(u.nodename));
	}
	cfg->root = root;
	return 0;
fail:
	json_decref(root);
	free(cfg->location);
	cfg->location = NULL;
	return -1;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	json_decref(cfg->root);
	free(cfg->location);
	cfg->root = NULL;
	cfg->location = NULL;
}

/* ---- masking ---- */

#define MASK "****"
#define URL_MASK "********"

/* The sanitize rules are regexes, but nearly all are literals or ^literal$; those are matched
 * with plain string compares (regexec per key per rule would dominate `clearml-agent config`). */
struct rx {
	regex_t re;
	char *lit;      /* non-NULL: a literal pattern */
	int at_start;   /* ^ */
	int at_end;     /* $ */
};

struct rx_list {
	struct rx rx[32];
	int n;
};

static int
rx_add(struct rx_list *l, const char *pat)
{
	struct rx *r = &l->rx[l->n];
	memset(r, 0, sizeof *r);
	size_t n = strlen(pat);
	const char *b = pat;
	if (*b == '^') {
		r->at_start = 1;
		b++;
		n--;
	}
	if (n > 0 && b[n - 1] == '$' && (n < 2 || b[n - 2] != '\\')) {
		r->at_end = 1;
		n--;
	}
	if (strcspn(b, ".[]()*+?{}|\\^$") >= n) {
		r->lit = xstrndup(b, n);
		l->n++;
		return 0;
	}
	r->at_start = r->at_end = 0;
	if (regcomp(&r->re, pat, REG_EXTENDED) != 0)
		return -1;
	l->n++;
	return 0;
}

static void
rx_compile(struct rx_list *l, const json_t *sanitize, const char *key, const char *const *dflt)
{
	l->n = 0;
	const json_t *list = sanitize ? json_object_get(sanitize, key) : NULL;
	if (json_is_array(list)) {
		size_t i;
		json_t *v;
		json_array_foreach(list, i, v) {
			if (!json_is_string(v) || l->n >= (int)ARRAY_LEN(l->rx))
				continue;
			if (rx_add(l, json_string_value(v)) < 0)
				log_warn("sanitize_config_printout.%s: cannot compile \"%s\"", key,
				         json_string_value(v));
		}
		return;
	}
	for (; *dflt && l->n < (int)ARRAY_LEN(l->rx); dflt++)
		rx_add(l, *dflt);
}

static void
rx_free(struct rx_list *l)
{
	for (int i = 0; i < l->n; i++) {
		if (l->rx[i].lit)
			free(l->rx[i].lit);
		else
			regfree(&l->rx[i].re);
	}
	l->n = 0;
}

/* Where does rule r match s? -1 when it does not; else the offset of the leftmost match. */
static long
rx_find(const struct rx *r, const char *s)
{
	if (r->lit) {
		size_t ls = strlen(s), ll = strlen(r->lit);
		if (r->at_start && r->at_end)
			return strcmp(s, r->lit) == 0 ? 0 : -1;
		if (r->at_start)
			return strncmp(s, r->lit, ll) == 0 ? 0 : -1;
		if (r->at_end)
			return ls >= ll && strcmp(s + ls - ll, r->lit) == 0 ? (long)(ls - ll) : -1;
		const char *f = strstr(s, r->lit);
		return f ? (long)(f - s) : -1;
	}
	regmatch_t m;
	if (regexec(&r->re, s, 1, &m, 0) != 0)
		return -1;
	return (long)m.rm_so;
}

/* Python re.search */
static int
rx_search(const struct rx_list *l, const char *s)
{
	for (int i = 0; i < l->n; i++)
		if (rx_find(&l->rx[i], s) >= 0)
			return 1;
	return 0;
}

/* Python re.match: anchored at the start (the leftmost match starts at 0 iff one can) */
static int
rx_match(const struct rx_list *l, const char *s)
{
	for (int i = 0; i < l->n; i++)
		if (rx_find(&l->rx[i], s) == 0)
			return 1;
	return 0;
}

static int
is_scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '-' || c == '.';
}

/* One whitespace-free token: mask the password of its URL netloc (user:pass@host). */
static int
mask_url_token(const char *tok, size_t n, struct buf *out)
{
	if (memchr(tok, '@', n) == NULL)
		return 0;
	size_t i = 0;
	/* optional scheme: [A-Za-z][A-Za-z0-9+.-]*: */
	if (n > 0 && ((tok[0] >= 'a' && tok[0] <= 'z') || (tok[0] >= 'A' && tok[0] <= 'Z'))) {
		size_t j = 1;
		while (j < n && is_scheme_char(tok[j]))
			j++;
		if (j < n && tok[j] == ':')
			i = j + 1;
	}
	if (n - i < 2 || tok[i] != '/' || tok[i + 1] != '/')
		return 0;
	size_t ns = i + 2, ne = ns;
	while (ne < n && tok[ne] != '/' && tok[ne] != '?' && tok[ne] != '#')
		ne++;
	/* ^([^:]*:)[^@]+(.*)$ on the netloc */
	const char *colon = memchr(tok + ns, ':', ne - ns);
	if (colon == NULL)
		return 0;
	size_t ps = (size_t)(colon - tok) + 1, pe = ps;
	while (pe < ne && tok[pe] != '@')
		pe++;
	if (pe == ps)
		return 0;
	buf_append(out, tok, ps);
	buf_puts(out, URL_MASK);
	buf_append(out, tok + pe, n - pe);
	return 1;
}

char *
config_mask_url(const char *url)
{
	if (url == NULL)
		return NULL;
	struct buf out;
	buf_init(&out, strlen(url) * 2 + 64);
	int changed = 0;
	const char *p = url;
	for (;;) {
		size_t n = strcspn(p, " \t\n\r\f\v");
		if (!mask_url_token(p, n, &out))
			buf_append(&out, p, n);
		else
			changed = 1;
		if (p[n] == '\0')
			break;
		buf_puts(&out, " ");
		p += n + 1;
	}
	if (!changed) {
		buf_free(&out);
		return xstrdup(url);
	}
	return buf_steal(&out);
}

static json_t *
mask_url_value(const json_t *v)
{
	char *m = config_mask_url(json_string_value(v));
	json_t *r = json_string(m);
	free(m);
	return r ? r : json_string(URL_MASK);
}

static const char *const docker_secret_env[] = {
	"CLEARML_AGENT_GIT_PASS", "TRAINS_AGENT_GIT_PASS", "CLEARML_API_SECRET_KEY",
	"TRAINS_API_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "AZURE_STORAGE_KEY", "CLEARML_AUTH_TOKEN",
	NULL};

struct docker_hide {
	int enabled;
	int parse_urls;
	const json_t *extra_keys;
	const char *env_keys; /* CLEARML_AGENT_DOCKER_ARGS_HIDE_ENV, whitespace separated */
};

static int
docker_key_hidden(const struct docker_hide *h, const char *key, size_t n)
{
	for (const char *const *k = docker_secret_env; *k; k++)
		if (strlen(*k) == n && strncmp(*k, key, n) == 0)
			return 1;
	size_t i;
	json_t *v;
	json_array_foreach(h->extra_keys, i, v)
		if (json_is_string(v) && json_string_length(v) == n &&
		    strncmp(json_string_value(v), key, n) == 0)
			return 1;
	for (const char *p = h->env_keys; p && *p;) {
		p += strspn(p, " \t\n");
		size_t l = strcspn(p, " \t\n");
		if (l == n && l && strncmp(p, key, n) == 0)
			return 1;
		p += l;
	}
	return 0;
}

static char *sanitize_docker_string(const struct docker_hide *h, const char *s, int depth);

/* KEY=VALUE of a docker -e argument */
static char *
sanitize_env_assignment(const struct docker_hide *h, const char *kv, int depth)
{
	const char *eq = strchr(kv, '=');
	if (eq == NULL)
		return xstrdup(kv);
	size_t kn = (size_t)(eq - kv);
	if ((kn == 20 && strncmp(kv, "CLEARML_DOCKER_IMAGE", kn) == 0) ||
	    (kn == 19 && strncmp(kv, "TRAINS_DOCKER_IMAGE", kn) == 0)) {
		char *inner = sanitize_docker_string(h, eq + 1, depth + 1);
		char *r = xasprintf("%.*s=%s", (int)kn, kv, inner);
		free(inner);
		return r;
	}
	if (docker_key_hidden(h, kv, kn))
		return xasprintf("%.*s=%s", (int)kn, kv, URL_MASK);
	if (h->parse_urls) {
		char *m = config_mask_url(eq + 1);
		char *r = xasprintf("%.*s=%s", (int)kn, kv, m);
		free(m);
		return r;
	}
	return xstrdup(kv);
}

/* Sanitise a docker argument list in place (upstream's DockerArgsSanitizer, plus the
 * --env=K=V / -eK=V spellings upstream lets through). */
static void
sanitize_docker_list(const struct docker_hide *h, json_t *list, int depth)
{
	size_t n = json_array_size(list);
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(list, i);
		if (!json_is_string(it))
			continue;
		const char *s = json_string_value(it);
		char *rep = NULL;
		if ((strcmp(s, "-e") == 0 || strcmp(s, "--env") == 0) && i + 1 < n &&
		    json_is_string(json_array_get(list, i + 1))) {
			const char *kv = json_string_value(json_array_get(list, i + 1));
			if (strchr(kv, '=')) {
				char *r = sanitize_env_assignment(h, kv, depth);
				json_t *j = json_string(r);
				json_array_set_new(list, i + 1, j ? j : json_string(URL_MASK));
				free(r);
				i++;
			}
			continue;
		}
		if (str_starts_with(s, "--env=")) {
			char *r = sanitize_env_assignment(h, s + 6, depth);
			rep = xasprintf("--env=%s", r);
			free(r);
		} else if (str_starts_with(s, "-e") && s[2] != '\0' && strchr(s, '=')) {
			char *r = sanitize_env_assignment(h, s + 2, depth);
			rep = xasprintf("-e%s", r);
			free(r);
		} else if (h->parse_urls && s[0] != '-') {
			rep = config_mask_url(s);
		}
		if (rep) {
			json_t *j = json_string(rep);
			json_array_set_new(list, i, j ? j : json_string(URL_MASK));
			free(rep);
		}
	}
}

static char *
sanitize_docker_string(const struct docker_hide *h, const char *s, int depth)
{
	if (depth > 4)
		return xstrdup(URL_MASK);
	json_t *list = json_array();
	const char *p = s;
	for (;;) {
		size_t n = strcspn(p, " \t\n\r\f\v");
		json_t *j = json_stringn(p, n);
		json_array_append_new(list, j ? j : json_string(URL_MASK));
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	sanitize_docker_list(h, list, depth);
	struct buf b;
	buf_init(&b, strlen(s) * 2 + 1024);
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		if (i)
			buf_puts(&b, " ");
		buf_puts(&b, json_string_value(v));
	}
	json_decref(list);
	return buf_steal(&b);
}

struct masker {
	struct rx_list hide, hide_rec, dont_hide, docker, urls;
	struct docker_hide dh;
};

static void mask_object(struct masker *m, json_t *obj, int depth);

static void
mask_list_items(struct masker *m, json_t *list, int depth)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_object(v))
			mask_object(m, v, depth + 1);
}

static void
mask_object(struct masker *m, json_t *obj, int depth)
{
	if (depth > 256)
		return;
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(obj, tmp, k, v) {
		if (!rx_search(&m->dont_hide, k)) {
			if (rx_search(&m->hide, k)) {
				json_object_set_new(obj, k, json_string(MASK));
				continue;
			}
			if (rx_search(&m->hide_rec, k)) {
				if (json_is_object(v)) {
					json_t *r = json_object();
					const char *k2;
					json_t *v2;
					json_object_foreach(v, k2, v2)
						json_object_set_new(r, k2, json_string(MASK));
					json_object_set_new(obj, k, r);
				} else {
					json_object_set_new(obj, k, json_string(MASK));
				}
				continue;
			}
		}
		if (rx_search(&m->urls, k)) {
			if (json_is_string(v)) {
				json_object_set_new(obj, k, mask_url_value(v));
			} else if (json_is_array(v)) {
				size_t i;
				json_t *x;
				json_array_foreach(v, i, x)
					if (json_is_string(x))
						json_array_set_new(v, i, mask_url_value(x));
			} else if (json_is_object(v)) {
				const char *k2;
				json_t *x;
				json_object_foreach(v, k2, x)
					if (json_is_string(x))
						json_object_set_new(v, k2, mask_url_value(x));
			}
			v = json_object_get(obj, k);
		}
		if (json_is_object(v)) {
			mask_object(m, v, depth + 1);
		} else if (json_is_array(v)) {
			if (m->dh.enabled && rx_match(&m->docker, k))
				sanitize_docker_list(&m->dh, v, 0);
			mask_list_items(m, v, depth);
		} else if (json_is_string(v) && m->dh.enabled && rx_match(&m->docker, k)) {
			/* upstream leaves a plain string alone; a credential must never print */
			char *r = sanitize_docker_string(&m->dh, json_string_value(v), 0);
			json_t *j = json_string(r);
			json_object_set_new(obj, k, j ? j : json_string(MASK));
			free(r);
		}
	}
}

/* ---- properties output (pyhocon HOCONConverter.to_properties) ---- */

/* Python repr() of a float: shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16. */
static void
py_float(double d, char *out, size_t outlen)
{
	if (isnan(d)) {
		snprintf(out, outlen, "nan");
		return;
	}
	if (isinf(d)) {
		snprintf(out, outlen, d < 0 ? "-inf" : "inf");
		return;
	}
	char e[40];
	int prec;
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	snprintf(e, sizeof e, "%.*e", prec, d);
	/* e = [-]D[.DDD]e[+-]XX */
	const char *p = e;
	int neg = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	char digits[24];
	size_t nd = 0;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1)
			digits[nd++] = *p;
	digits[nd] = '\0';
	int exp = (int)strtol(p + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	struct buf b;
	buf_init(&b, 128);
	if (neg)
		buf_puts(&b, "-");
	if (exp >= -4 && exp < 16) {
		if (exp < 0) {
			buf_puts(&b, "0.");
			for (int i = 0; i < -exp - 1; i++)
				buf_puts(&b, "0");
			buf_puts(&b, digits);
		} else {
			for (int i = 0; i <= exp; i++) {
				char ch = (size_t)i < nd ? digits[i] : '0';
				buf_append(&b, &ch, 1);
			}
			buf_puts(&b, ".");
			if ((size_t)exp + 1 < nd)
				buf_puts(&b, digits + exp + 1);
			else
				buf_puts(&b, "0");
		}
	} else {
		buf_append(&b, digits, 1);
		if (nd > 1) {
			buf_puts(&b, ".");
			buf_puts(&b, digits + 1);
		}
		buf_printf(&b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	}
	snprintf(out, outlen, "%s", b.data);
	buf_free(&b);
}

static void
put_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '=': buf_puts(b, "\\="); break;
		case '!': buf_puts(b, "\\!"); break;
		case '#': buf_puts(b, "\\#"); break;
		case '\n': buf_puts(b, "\\\n"); break;
		default: buf_append(b, s, 1);
		}
	}
}

static void
strip_quotes_key(struct buf *b, const char *k)
{
	size_t n = strlen(k);
	size_t s = 0;
	while (s < n && k[s] == '"')
		s++;
	while (n > s && k[n - 1] == '"')
		n--;
	buf_append(b, k + s, n - s);
}

static void
props(struct buf *out, struct buf *key, const json_t *v, int depth)
{
	if (depth > 512)
		return;
	size_t klen = key->len;
	char tmp[64];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)(uintptr_t)v, k, x) {
			if (json_is_null(x))
				continue;
			if (klen)
				buf_puts(key, ".");
			strip_quotes_key(key, k);
			props(out, key, x, depth + 1);
			key->len = klen;
			key->data[klen] = '\0';
		}
		return;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			if (json_is_null(x))
				continue;
			buf_printf(key, klen ? ".%zu" : "%zu", i);
			props(out, key, x, depth + 1);
			key->len = klen;
			key->data[klen] = '\0';
		}
		return;
	}
	case JSON_NULL: return;
	default: break;
	}
	buf_append(out, key->data, key->len);
	buf_puts(out, " = ");
	switch (json_typeof(v)) {
	case JSON_STRING: put_escaped(out, json_string_value(v)); break;
	case JSON_TRUE: buf_puts(out, "true"); break;
	case JSON_FALSE: buf_puts(out, "false"); break;
	case JSON_INTEGER:
		snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
		buf_puts(out, tmp);
		break;
	case JSON_REAL:
		py_float(json_real_value(v), tmp, sizeof tmp);
		buf_puts(out, tmp);
		break;
	default: break;
	}
	buf_puts(out, "\n");
}

char *
config_format_properties(const json_t *root, const json_t *sanitize_cfg)
{
	static const char *const d_hide[] = {"secret", "pass", "token", "account_key", "contents", NULL};
	static const char *const d_rec[] = {"^environment$", NULL};
	static const char *const d_dont[] = {"^enable_git_ask_pass$", NULL};
	static const char *const d_docker[] = {"^extra_docker_arguments$", NULL};
	static const char *const d_urls[] = {"^extra_index_url$", NULL};
	json_t *copy = json_deep_copy(root);
	if (copy == NULL)
		return xstrdup("");
	if (json_is_object(copy)) {
		json_object_del(copy, "env");
		struct masker m;
		rx_compile(&m.hide, sanitize_cfg, "hide_secrets", d_hide);
		rx_compile(&m.hide_rec, sanitize_cfg, "hide_secrets_recursive", d_rec);
		rx_compile(&m.dont_hide, sanitize_cfg, "dont_hide_secrets", d_dont);
		rx_compile(&m.docker, sanitize_cfg, "docker_commands", d_docker);
		rx_compile(&m.urls, sanitize_cfg, "urls", d_urls);
		const char *hide_env = env_get("CLEARML_AGENT_DOCKER_ARGS_HIDE_ENV");
		m.dh.enabled = cfg_bool(root, "agent.hide_docker_command_env_vars.enabled", 0) ||
		               hide_env != NULL;
		m.dh.parse_urls = cfg_bool(root, "agent.hide_docker_command_env_vars.parse_embedded_urls", 1);
		m.dh.extra_keys = cfg_get(root, "agent.hide_docker_command_env_vars.extra_keys");
		m.dh.env_keys = hide_env;
		mask_object(&m, copy, 0);
		rx_free(&m.hide);
		rx_free(&m.hide_rec);
		rx_free(&m.dont_hide);
		rx_free(&m.docker);
		rx_free(&m.urls);
		json_t *u = cfg_get(copy, "logging.loggers.urllib3");
		if (json_is_object(u))
			json_object_del(u, "level");
		json_t *lg = json_object_get(copy, "logging");
		if (json_is_object(lg))
			json_object_del(lg, "version");
	}
	struct buf out, key;
	buf_init(&out, (size_t)64 << 20);
	buf_init(&key, (size_t)1 << 20);
	props(&out, &key, copy, 0);
	buf_free(&key);
	json_decref(copy);
	if (out.len && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	return buf_steal(&out);
}

void
config_print(FILE *out, const struct config *cfg)
{
	const json_t *sanitize = cfg_get(cfg->root, "agent.sanitize_config_printout");
	char *props_text = config_format_properties(cfg->root, json_is_object(sanitize) ? sanitize : NULL);
	fprintf(out, "Current configuration (clearml_agent v%s, location: %s):\n"
	             "----------------------\n%s\n\n",
	        CLEARML_AGENT_VERSION, cfg->location && *cfg->location ? cfg->location : "None",
	        props_text);
	free(props_text);
}

/* ---- JSON for children ---- */

int
config_dump_json(const json_t *root, const char *path)
{
	char *text = json_dumps(root, JSON_INDENT(4) | JSON_ENSURE_ASCII);
	if (text == NULL)
		return -1;
	size_t len = strlen(text);
	size_t old_len = 0;
	char *old = read_file(path, len + 1, &old_len);
	if (old && old_len == len && memcmp(old, text, len) == 0) {
		struct stat st;
		/* content is right; make sure nobody widened its mode */
		if (stat(path, &st) == 0 && (st.st_mode & 0777) != 0600)
			chmod(path, 0600);
		free(old);
		free(text);
		return 0;
	}
	free(old);
	int r = write_file_atomic(path, text, len, 0600);
	free(text);
	return r;
}
