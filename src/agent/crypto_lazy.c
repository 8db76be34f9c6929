/*
 * crypto_lazy — the three libcrypto functions the agent uses (one-shot MD5 for VCS cache names,
 * SHA-256 for requirement hashes), resolved with dlopen("libcrypto.so.3") on first use instead of
 * being linked: relocating libcrypto at every start cost ~8 ms of CPU and ~2 MiB for commands
 * that never hash anything (`--version`, `config`). Only clearml-agent links without -lcrypto;
 * where a program also links libcrypto (server-lite, the unit tests), dlopen returns the already
 * loaded library and these forward to the very same functions.
 */
#include <openssl/evp.h>

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "util.h"

#define CRYPTO_SONAME "libcrypto.so.3"

static struct {
	int (*digest)(const void *, size_t, unsigned char *, unsigned int *, const EVP_MD *, ENGINE *);
	const EVP_MD *(*md5)(void);
	const EVP_MD *(*sha256)(void);
} fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;

static int
resolve(void *h, const char *name, void *dst, size_t size)
{
	void *sym = dlsym(h, name);
	memcpy(dst, &sym, size); /* POSIX: a dlsym result holds a function pointer */
	return sym != NULL;
}

static void
load_crypto(void)
{
	void *h = dlopen(CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		log_error("cannot load %s: %s", CRYPTO_SONAME, e ? e : "unknown error");
		return;
	}
	int ok = resolve(h, "EVP_Digest", &fn.digest, sizeof fn.digest);
	ok &= resolve(h, "EVP_md5", &fn.md5, sizeof fn.md5);
	ok &= resolve(h, "EVP_sha256", &fn.sha256, sizeof fn.sha256);
	if (!ok) {
		log_error("%s lacks EVP_Digest/EVP_md5/EVP_sha256", CRYPTO_SONAME);
		return;
	}
	loaded = 1; /* the handle stays open, as a linked library would */
}

static int
crypto_ready(void)
{
	pthread_once(&load_once, load_crypto);
	return loaded;
}

int
EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
           const EVP_MD *type, ENGINE *impl)
{
	if (!crypto_ready() || type == NULL)
		return 0;
	return fn.digest(data, count, md, size, type, impl);
}

const EVP_MD *
EVP_md5(void)
{
	return crypto_ready() ? fn.md5() : NULL;
}

const EVP_MD *
EVP_sha256(void)
{
	return crypto_ready() ? fn.sha256() : NULL;
}
