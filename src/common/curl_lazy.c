/*
 * curl_lazy — the libcurl functions api.c uses, resolved with dlopen("libcurl.so.4") on first
 * use instead of being linked. libcurl pulls in ~30 shared libraries (TLS, Kerberos, LDAP, SSH,
 * IDN, ...); relocating them at every start cost ~20 ms of CPU and ~5 MiB of memory, which
 * commands that never talk to a server (`--version`, `config`, `-h`, the runner role) paid for
 * nothing. Programs link this file instead of -lcurl; behaviour is the same as linking, except
 * that a machine without libcurl fails at the first request ("libcurl failed to initialise")
 * rather than at start-up.
 *
 * The two variadic entry points take exactly one argument after the option, whose type libcurl
 * encodes in the option number (CURLOPTTYPE_*), so they are forwarded without va_list tricks.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

#define CURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded; /* 1 when every symbol was found */

/* dlsym returns void *; POSIX guarantees it holds a function pointer (copied, not cast). */
#define RESOLVE(h, field, name)                                                               \
	do {                                                                                  \
		void *sym_ = dlsym((h), (name));                                              \
		memcpy(&fn.field, &sym_, sizeof fn.field);                                    \
		if (sym_ == NULL)                                                             \
			ok = 0;                                                               \
	} while (0)

static void
load_curl(void)
{
	void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		log_error("cannot load %s: %s", CURL_SONAME, e ? e : "unknown error");
		return;
	}
	int ok = 1;
	RESOLVE(h, global_init, "curl_global_init");
	RESOLVE(h, easy_init, "curl_easy_init");
	RESOLVE(h, easy_cleanup, "curl_easy_cleanup");
	RESOLVE(h, easy_reset, "curl_easy_reset");
	RESOLVE(h, easy_setopt, "curl_easy_setopt");
	RESOLVE(h, easy_getinfo, "curl_easy_getinfo");
	RESOLVE(h, easy_strerror, "curl_easy_strerror");
	RESOLVE(h, multi_init, "curl_multi_init");
	RESOLVE(h, multi_cleanup, "curl_multi_cleanup");
	RESOLVE(h, multi_add_handle, "curl_multi_add_handle");
	RESOLVE(h, multi_remove_handle, "curl_multi_remove_handle");
	RESOLVE(h, multi_perform, "curl_multi_perform");
	RESOLVE(h, multi_poll, "curl_multi_poll");
	RESOLVE(h, multi_info_read, "curl_multi_info_read");
	RESOLVE(h, multi_strerror, "curl_multi_strerror");
	RESOLVE(h, slist_append, "curl_slist_append");
	RESOLVE(h, slist_free_all, "curl_slist_free_all");
	if (!ok) {
		log_error("%s lacks a function this program needs (libcurl older than 7.66?)",
		          CURL_SONAME);
		return;
	}
	/* The handle stays open for the life of the process, as a linked library would. */
	loaded = 1;
}

static int
curl_ready(void)
{
	pthread_once(&load_once, load_curl);
	return loaded;
}

CURLcode
curl_global_init(long flags)
{
	return curl_ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *
curl_easy_init(void)
{
	return curl_ready() ? fn.easy_init() : NULL;
}

void
curl_easy_cleanup(CURL *h)
{
	if (h != NULL && curl_ready())
		fn.easy_cleanup(h);
}

void
curl_easy_reset(CURL *h)
{
	if (h != NULL && curl_ready())
		fn.easy_reset(h);
}

CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	if (!curl_ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, opt);
	CURLcode rc;
	/* libcurl's own dispatch: the option number's range says the argument's type. */
	if (opt < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);
		rc = fn.easy_setopt(h, opt, v);
	} else if (opt < CURLOPTTYPE_FUNCTIONPOINT) {
		void *v = va_arg(ap, void *);
		rc = fn.easy_setopt(h, opt, v);
	} else if (opt < CURLOPTTYPE_OFF_T) {
		/* Function pointers travel as themselves; any function pointer type round-trips. */
		void (*v)(void) = va_arg(ap, void (*)(void));
		rc = fn.easy_setopt(h, opt, v);
	} else if (opt < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);
		rc = fn.easy_setopt(h, opt, v);
	} else {
		void *v = va_arg(ap, void *);
		rc = fn.easy_setopt(h, opt, v);
	}
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	if (!curl_ready())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	void *out = va_arg(ap, void *); /* every CURLINFO takes a pointer to the result */
	va_end(ap);
	return fn.easy_getinfo(h, info, out);
}

const char *
curl_easy_strerror(CURLcode rc)
{
	return curl_ready() ? fn.easy_strerror(rc) : "libcurl is not available";
}

CURLM *
curl_multi_init(void)
{
	return curl_ready() ? fn.multi_init() : NULL;
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
	return curl_ready() ? fn.multi_cleanup(m) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
	return curl_ready() ? fn.multi_add_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return curl_ready() ? fn.multi_remove_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_perform(CURLM *m, int *running)
{
	return curl_ready() ? fn.multi_perform(m, running) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_poll(CURLM *m, struct curl_waitfd *extra, unsigned int n, int timeout_ms, int *ret)
{
	return curl_ready() ? fn.multi_poll(m, extra, n, timeout_ms, ret) : CURLM_BAD_HANDLE;
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	if (!curl_ready()) {
		if (left)
			*left = 0;
		return NULL;
	}
	return fn.multi_info_read(m, left);
}

const char *
curl_multi_strerror(CURLMcode rc)
{
	return curl_ready() ? fn.multi_strerror(rc) : "libcurl is not available";
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	return curl_ready() ? fn.slist_append(l, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *l)
{
	if (l != NULL && curl_ready())
		fn.slist_free_all(l);
}
