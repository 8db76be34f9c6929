/*
 * files_server — the ClearML fileserver protocol on its own listener (default port 8081), so the
 * SDK's artifacts, debug images, models and dataset chunks have somewhere to go:
 *
 *   POST /[prefix/]       multipart/form-data; each file part is stored at <prefix/><field name>
 *                         (the SDK names the part by its target path); reply: JSON list of paths
 *   GET|HEAD /<path>      the file (?download: as an attachment)
 *   DELETE /<path>        reply: the path as a JSON string; 404 when it is not a file
 *   POST /delete_many     {"files": [...]} → {"deleted": {file: path}, "errors": {msg: [file]}}
 *   GET /                 "OK"
 *
 * Files live under <data dir>/files. A path is confined to that root: it is split into segments
 * (no empty, "." or ".." segment, no NUL or backslash, bounded lengths) and walked from the
 * root's directory fd with O_NOFOLLOW at every step, so neither "../" nor a symlink planted in
 * the tree leads outside it. Uploads are streamed to a temporary file beside the target and
 * renamed into place when complete; a request above the size bound (--files-max-upload-mb) ends
 * in 413 and leaves nothing behind.
 *
 * Authentication as the real fileserver is configured by default (auth.enabled): an
 * `Authorization: Bearer <token>` header — the token auth.login issued — or the web app's
 * `clearml_token_basic` cookie, checked with the API server's own key and revocation list.
 * --files-no-auth turns it off (upstream's auth.enabled: false).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server/auth.h"
#include "server/files.h"
#include "util.h"

#define FILES_MAX_PATH 4096
#define FILES_MAX_SEGMENT 255
#define FILES_MAX_DEPTH 64
#define FILES_MAX_JSON_BODY (1u << 20)
#define FILES_POST_BUFFER (64u << 10)

struct files_front {
	struct MHD_Daemon *d;
	struct server *srv;
	int root_fd;
};

/* ---------------------------------------------------------------- paths (pure) */

int
files_path_check(const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || n > FILES_MAX_PATH)
		return -1;
	int depth = 0;
	const char *p = path;
	while (*p == '/')
		p++;
	if (!*p)
		return -1;
	while (*p) {
		size_t seg = strcspn(p, "/");
		if (seg == 0 || seg > FILES_MAX_SEGMENT)
			return -1;
		if ((seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		for (size_t i = 0; i < seg; i++)
			if (p[i] == '\\' || (unsigned char)p[i] < 0x20)
				return -1;
		if (++depth > FILES_MAX_DEPTH)
			return -1;
		p += seg;
		if (*p == '/') {
			p++;
			if (!*p)
				return -1; /* a trailing slash names no file */
		}
	}
	return 0;
}

/*
 * Walk the directories of path (all but its last segment) from root with O_NOFOLLOW, creating
 * missing ones when create. Returns the parent directory fd (caller closes) and points *leaf at
 * the last segment inside path; -1 with errno on a bad path, a symlink or a missing directory.
 */
static int
walk_parent(int root_fd, const char *path, int create, const char **leaf)
{
	if (files_path_check(path) != 0) {
		errno = EINVAL;
		return -1;
	}
	while (*path == '/')
		path++;
	int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	const char *p = path;
	for (;;) {
		size_t seg = strcspn(p, "/");
		if (!p[seg]) {
			*leaf = p;
			return fd;
		}
		char name[FILES_MAX_SEGMENT + 1];
		memcpy(name, p, seg);
		name[seg] = '\0';
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, 0700) != 0 && errno != EEXIST) {
				close(fd);
				return -1;
			}
			next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
		p += seg + 1;
	}
}

/* ---------------------------------------------------------------- replies */

static enum MHD_Result
send_buf(struct MHD_Connection *c, unsigned status, const char *ctype, const char *text)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
	                                                            MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Server", "clearml");
	enum MHD_Result rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	enum MHD_Result rc = send_buf(c, status, "application/json", text ? text : "null");
	free(text);
	return rc;
}

static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return send_buf(c, status, "text/plain; charset=utf-8", msg);
}

/* ---------------------------------------------------------------- authentication */

/* 0 when the request carries a valid token (or auth is off), else -1. */
static int
authorized(struct files_front *f, struct MHD_Connection *c)
{
	if (!f->srv->files_auth)
		return 0;
	const char *tok = NULL;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (h) {
		while (*h == ' ')
			h++;
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return -1;
		tok = h + 7;
		while (*tok == ' ')
			tok++;
	} else {
		tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "clearml_token_basic");
	}
	if (!tok || !*tok)
		return -1;
	json_t *claims = NULL;
	if (jwt_verify(f->srv->jwt_secret, sizeof(f->srv->jwt_secret), tok, now_ms() / 1000,
	               &claims) != 0)
		return -1;
	sqlite3 *db = db_thread_conn(f->srv);
	int revoked = db ? auth_revoked(db, json_string_value(json_object_get(claims, "session_id")))
	                 : -1;
	json_decref(claims);
	return revoked == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- upload */

struct upload {
	struct MHD_PostProcessor *pp;
	char prefix[FILES_MAX_PATH + 1];
	char path[FILES_MAX_PATH + 1];   /* target of the part being written */
	char tmp[64];                    /* its temporary name in dir_fd */
	int dir_fd, fd;
	uint64_t total, max;
	unsigned status;                 /* first error: 400/404/413/500; 0 while fine */
	const char *why;
	json_t *done;                    /* stored paths */
};

struct conn {
	struct files_front *f;
	int kind;                        /* 1 upload, 2 delete_many body */
	struct upload up;
	struct buf body;
};

static void
upload_abort_part(struct upload *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
		unlinkat(u->dir_fd, u->tmp, 0);
	}
	if (u->dir_fd >= 0) {
		close(u->dir_fd);
		u->dir_fd = -1;
	}
}

static void
upload_fail(struct upload *u, unsigned status, const char *why)
{
	if (!u->status) {
		u->status = status;
		u->why = why;
	}
	upload_abort_part(u);
}

/* Finish the part being written: fsync-free close, then rename into place. */
static void
upload_finish_part(struct upload *u)
{
	if (u->fd < 0)
		return;
	int ok = close(u->fd) == 0;
	u->fd = -1;
	const char *leaf = strrchr(u->path, '/');
	leaf = leaf ? leaf + 1 : u->path;
	if (ok && renameat(u->dir_fd, u->tmp, u->dir_fd, leaf) == 0) {
		json_array_append_new(u->done, json_string(u->path));
	} else {
		unlinkat(u->dir_fd, u->tmp, 0);
		if (!u->status) {
			u->status = errno == EISDIR || errno == ENOTEMPTY ? 400 : 500;
			u->why = "cannot store the file";
		}
	}
	close(u->dir_fd);
	u->dir_fd = -1;
}

static int
upload_start_part(struct files_front *f, struct upload *u, const char *key)
{
	const char *k = key;
	while (*k == '/')
		k++;
	int n = snprintf(u->path, sizeof(u->path), "%s%s", u->prefix, k);
	if (n < 0 || (size_t)n >= sizeof(u->path) || files_path_check(u->path) != 0) {
		upload_fail(u, 400, "invalid file path");
		return -1;
	}
	const char *leaf;
	u->dir_fd = walk_parent(f->root_fd, u->path, 1, &leaf);
	if (u->dir_fd < 0) {
		upload_fail(u, errno == EINVAL ? 400 : 404, "invalid file path");
		return -1;
	}
	struct stat st;
	if (fstatat(u->dir_fd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
		upload_fail(u, 400, "the path names a directory or a link");
		return -1;
	}
	char rnd[9];
	random_bytes(rnd, sizeof(rnd) - 1);
	static const char hx[] = "0123456789abcdef";
	char hex[17];
	for (int i = 0; i < 8; i++) {
		hex[2 * i] = hx[(unsigned char)rnd[i] >> 4];
		hex[2 * i + 1] = hx[(unsigned char)rnd[i] & 15];
	}
	hex[16] = '\0';
	snprintf(u->tmp, sizeof(u->tmp), ".upload-%s.part", hex);
	u->fd = openat(u->dir_fd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (u->fd < 0) {
		upload_fail(u, 500, "cannot create the file");
		return -1;
	}
	return 0;
}

static enum MHD_Result
post_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
          const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
          size_t size)
{
	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	struct conn *x = cls;
	struct upload *u = &x->up;
	struct files_front *f = x->f;
	if (u->status)
		return MHD_YES; /* keep draining; the reply carries the first error */
	if (!filename || !key || !*key)
		return MHD_YES; /* plain form fields are not files */
	if (off == 0) {
		upload_finish_part(u);
		if (u->status || upload_start_part(f, u, key) != 0)
			return MHD_YES;
	}
	u->total += size;
	if (u->max && u->total > u->max) {
		upload_fail(u, 413, "upload above the size limit");
		return MHD_YES;
	}
	while (size) {
		ssize_t w = write(u->fd, data, size);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			upload_fail(u, errno == ENOSPC ? 507 : 500, "cannot write the file");
			return MHD_YES;
		}
		data += w;
		size -= (size_t)w;
	}
	return MHD_YES;
}

/* ---------------------------------------------------------------- download, delete */

static const char *
mime_of(const char *path)
{
	static const char *const map[][2] = {
		{".json", "application/json"}, {".txt", "text/plain"}, {".log", "text/plain"},
		{".html", "text/html"}, {".csv", "text/csv"}, {".png", "image/png"},
		{".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
		{".svg", "image/svg+xml"}, {".webp", "image/webp"}, {".mp4", "video/mp4"},
		{".wav", "audio/x-wav"}, {".mp3", "audio/mpeg"}, {".yaml", "text/yaml"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < ARRAY_LEN(map); i++)
		if (!strcasecmp(dot, map[i][0]))
			return map[i][1];
	return "application/octet-stream";
}

static enum MHD_Result
download(struct files_front *f, struct MHD_Connection *c, const char *path)
{
	const char *leaf;
	int dir = walk_parent(f->root_fd, path, 0, &leaf);
	int fd = dir < 0 ? -1 : openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (dir >= 0)
		close(dir);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return send_error(c, 404, "Not Found");
	}
	int nb = fcntl(fd, F_GETFL);
	if (nb >= 0)
		fcntl(fd, F_SETFL, nb & ~O_NONBLOCK);
	struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", mime_of(leaf));
	MHD_add_response_header(resp, "Server", "clearml");
	const char *dv = NULL;
	size_t dvl = 0;
	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, "download", 8, &dv, &dvl) ==
	    MHD_YES) {
		char *cd = xasprintf("attachment; filename=\"%s\"", leaf);
		for (char *p = cd + 22; *p; p++)
			if (*p == '"' || *p == '\r' || *p == '\n')
				*p = '_';
		cd[strlen(cd) - 1] = '"';
		MHD_add_response_header(resp, "Content-Disposition", cd);
		free(cd);
	}
	enum MHD_Result rc = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Remove everything under dir fd (consumed), depth-bounded, never following links. */
static int
remove_tree_fd(int fd, int depth)
{
	if (depth > FILES_MAX_DEPTH) {
		close(fd);
		return -1;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = -1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || remove_tree_fd(sub, depth + 1) != 0 ||
			    unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) != 0)
				rc = -1;
		} else if (unlinkat(dirfd(d), e->d_name, 0) != 0) {
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

/* Delete path: 0, or -1 with *why ("Not found", "Not a file or folder", strerror). */
static int
delete_path(struct files_front *f, const char *path, int allow_dirs, const char **why)
{
	const char *leaf;
	int dir = walk_parent(f->root_fd, path, 0, &leaf);
	struct stat st;
	if (dir < 0 || fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (dir >= 0)
			close(dir);
		*why = "Not found";
		return -1;
	}
	int rc = -1;
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		rc = unlinkat(dir, leaf, 0);
	} else if (S_ISDIR(st.st_mode) && allow_dirs) {
		int sub = openat(dir, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = sub >= 0 && remove_tree_fd(sub, 0) == 0 ? unlinkat(dir, leaf, AT_REMOVEDIR) : -1;
	} else {
		close(dir);
		*why = S_ISDIR(st.st_mode) ? "Not a file" : "Not a file or folder";
		return -1;
	}
	if (rc != 0)
		*why = strerror(errno);
	close(dir);
	return rc;
}

static enum MHD_Result
delete_many(struct files_front *f, struct MHD_Connection *c, struct conn *x)
{
	json_t *body = json_loadb(x->body.data ? x->body.data : "", x->body.len, 0, NULL);
	json_t *files = json_object_get(body, "files");
	if (!json_is_array(files) || !json_array_size(files)) {
		json_decref(body);
		return send_error(c, 400, json_is_object(body) ? "files are missing"
		                                               : "Json payload is missing");
	}
	json_t *deleted = json_object(), *errors = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(files, i, e) {
		const char *file = json_string_value(e);
		if (!file)
			continue;
		const char *why = NULL;
		const char *p = file;
		while (*p == '/')
			p++;
		if (!*p)
			why = "Empty path not allowed";
		else if (delete_path(f, p, 1, &why) == 0) {
			json_object_set_new(deleted, file, json_string(p));
			continue;
		}
		json_t *list = json_object_get(errors, why);
		if (!list) {
			list = json_array();
			json_object_set_new(errors, why, list);
		}
		json_array_append_new(list, json_string(file));
	}
	json_decref(body);
	return send_json(c, 200, json_pack("{s:o,s:o}", "deleted", deleted, "errors", errors));
}

/* ---------------------------------------------------------------- the MHD callbacks */

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
          const char *version, const char *data, size_t *data_size, void **con_cls)
{
	(void)version;
	struct files_front *f = cls;
	struct conn *x = *con_cls;
	int is_post = !strcmp(method, "POST");
	if (!x) {
		x = xcalloc(1, sizeof(*x));
		x->up.fd = x->up.dir_fd = -1;
		x->f = f;
		*con_cls = x;
		int ping = !strcmp(url, "/") && (!strcmp(method, "GET") || !strcmp(method, "HEAD")) &&
		           !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (!ping && authorized(f, c) != 0) {
			x->kind = -1;
			return MHD_YES; /* drain the body, then 401 */
		}
		if (is_post && !strcmp(url, "/delete_many")) {
			x->kind = 2;
			buf_init(&x->body, FILES_MAX_JSON_BODY);
			return MHD_YES;
		}
		if (is_post) {
			const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
			long long n;
			uint64_t max = (uint64_t)f->srv->files_max_upload_mb << 20;
			if (len && parse_long(len, 0, INT64_MAX, &n) == 0 && max && (uint64_t)n > max + 65536)
				return send_error(c, 413, "Request Entity Too Large");
			x->kind = 1;
			x->up.max = max;
			x->up.done = json_array();
			const char *p = url;
			while (*p == '/')
				p++;
			if (*p && (strlen(p) >= sizeof(x->up.prefix) - 1 ||
			           snprintf(x->up.prefix, sizeof(x->up.prefix), "%s%s", p,
			                    p[strlen(p) - 1] == '/' ? "" : "/") < 0))
				x->up.status = 400;
			x->up.pp = MHD_create_post_processor(c, FILES_POST_BUFFER, post_iter, x);
			if (!x->up.pp)
				return send_error(c, 400, "expected a multipart/form-data upload");
			return MHD_YES;
		}
	}
	if (*data_size) {
		if (x->kind == 1 && x->up.pp) {
			MHD_post_process(x->up.pp, data, *data_size);
		} else if (x->kind == 2 && buf_append(&x->body, data, *data_size) != 0) {
			x->kind = 3; /* too big: drained, then 413 */
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (x->kind == -1)
		return send_error(c, 401, "Unauthorized");
	if (x->kind == 2)
		return delete_many(f, c, x);
	if (x->kind == 3)
		return send_error(c, 413, "Request Entity Too Large");
	if (x->kind == 1) {
		struct upload *u = &x->up;
		if (!u->status)
			upload_finish_part(u);
		else
			upload_abort_part(u);
		if (u->status)
			return send_error(c, u->status, u->why && u->status != 400 ? u->why
			                                                          : "Bad Request");
		log_debug("files: stored %zu file(s)", json_array_size(u->done));
		json_t *done = u->done;
		u->done = NULL;
		return send_json(c, 200, done);
	}
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
		if (!strcmp(url, "/"))
			return send_buf(c, 200, "text/plain", "OK");
		return download(f, c, url);
	}
	if (!strcmp(method, "DELETE")) {
		const char *why = NULL;
		const char *p = url;
		while (*p == '/')
			p++;
		if (delete_path(f, p, 0, &why) != 0) {
			char *msg = xasprintf("File %s not found", p);
			enum MHD_Result rc = send_error(c, 404, msg);
			free(msg);
			return rc;
		}
		return send_json(c, 200, json_string(p));
	}
	return send_error(c, 405, "Method Not Allowed");
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn *x = *con_cls;
	if (!x)
		return;
	if (x->up.pp)
		MHD_destroy_post_processor(x->up.pp);
	upload_abort_part(&x->up); /* an upload cut off midway leaves no partial file */
	json_decref(x->up.done);
	buf_free(&x->body);
	free(x);
	*con_cls = NULL;
}

struct files_front *
files_start(struct server *srv)
{
	char *root = xasprintf("%s/files", srv->data_dir);
	if (mkdir_p(root, 0700) != 0) {
		log_error("cannot create %s: %s", root, strerror(errno));
		free(root);
		return NULL;
	}
	int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(root);
	if (root_fd < 0)
		return NULL;
	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char port[16];
	snprintf(port, sizeof(port), "%d", srv->files_port);
	if (getaddrinfo(srv->host, port, &hints, &ai) != 0 || !ai) {
		close(root_fd);
		return NULL;
	}
	struct files_front *f = xcalloc(1, sizeof(*f));
	f->srv = srv;
	f->root_fd = root_fd;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	f->d = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, f,
	                        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	                        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	                        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
	                        MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!f->d) {
		close(root_fd);
		free(f);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	if (di && di->port)
		srv->files_port = di->port;
	return f;
}

void
files_stop(struct files_front *f)
{
	if (!f)
		return;
	MHD_quiesce_daemon(f->d);
	MHD_stop_daemon(f->d);
	close(f->root_fd);
	free(f);
}
