/*
 * router — finds the handler for (endpoint name, requested version) across every service table,
 * authenticates the caller, and calls it.
 *
 * Handler choice follows the real server: among the handlers registered for a name, the one with
 * the highest min_version that is <= the requested version; none → 404 "Unable to find endpoint
 * for name X and version Y". Authentication: endpoints marked EP_NO_AUTH need nothing; auth.login
 * (EP_LOGIN) checks Basic/Bearer itself; all others need a valid Bearer JWT, whose claims carry
 * the identity (no database read per call).
 */
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/front.h"
#include "server/models.h"
#include "server/organization.h"
#include "server/projects.h"
#include "server/reports.h"
#include "server/serving.h"
#include "server/tags_compat.h"
#include "server/worker_stats.h"
#include "util.h"

static const struct endpoint *const g_tables[] = {
	svc_auth_endpoints,  svc_server_endpoints, svc_users_endpoints,  svc_projects_endpoints,
	svc_projects_meta_endpoints, svc_projects_delete_endpoints, svc_tags_endpoints,
	svc_projects_move_endpoints,
	svc_tasks_endpoints, svc_queues_endpoints, svc_workers_endpoints, svc_events_endpoints,
	svc_models_endpoints, svc_events_multi_endpoints, worker_stats_endpoints,
	svc_move_endpoints, svc_pipelines_endpoints, svc_events_samples_endpoints,
	svc_reports_endpoints, svc_organization_endpoints, svc_serving_endpoints,
	svc_projects_hyperparams_endpoints,
};

void
router_init(void)
{
}

static void
parse_ver(const char *v, int *maj, int *min)
{
	long a = 0, b = 0;
	const char *p = v;
	while (*p >= '0' && *p <= '9' && a < 100000)
		a = a * 10 + (*p++ - '0');
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9' && b < 100000)
			b = b * 10 + (*p++ - '0');
	}
	*maj = (int)a;
	*min = (int)b;
}

static int
ver_cmp(int a1, int b1, int a2, int b2)
{
	if (a1 != a2)
		return a1 < a2 ? -1 : 1;
	if (b1 != b2)
		return b1 < b2 ? -1 : 1;
	return 0;
}

const struct endpoint *
router_find(const char *name, int maj, int min)
{
	const struct endpoint *best = NULL;
	int bmaj = -1, bmin = -1;
	for (size_t t = 0; t < ARRAY_LEN(g_tables); t++) {
		const struct endpoint *e = g_tables[t];
		for (; e && e->name; e++) {
			if (strcmp(e->name, name) != 0)
				continue;
			int emaj, emin;
			parse_ver(e->min_version ? e->min_version : "1.0", &emaj, &emin);
			if (ver_cmp(emaj, emin, maj, min) > 0)
				continue;
			if (!best || ver_cmp(emaj, emin, bmaj, bmin) > 0) {
				best = e;
				bmaj = emaj;
				bmin = emin;
			}
		}
	}
	return best;
}

/*
 * A few recently verified tokens per thread, so a keep-alive client does not pay for an HMAC and
 * a JSON parse on every call. An entry is only ever a token this server signed and that was
 * checked in full; it is dropped at its exp like the token itself.
 */
#define TOKEN_CACHE 8
#define TOKEN_CACHE_MAX_LEN 2048

struct token_entry {
	char token[TOKEN_CACHE_MAX_LEN];
	int64_t exp;              /* epoch seconds; INT64_MAX when the token has none */
	unsigned revoke_gen;      /* auth_revoke_generation() when checked */
	struct identity who;
};

static _Thread_local struct token_entry t_cache[TOKEN_CACHE];
static _Thread_local unsigned t_cache_next;

static const struct identity *
token_cache_get(const char *tok, int64_t now)
{
	unsigned gen = auth_revoke_generation();
	for (int i = 0; i < TOKEN_CACHE; i++) {
		struct token_entry *e = &t_cache[i];
		if (e->token[0] && e->exp > now && e->revoke_gen == gen && strcmp(e->token, tok) == 0)
			return &e->who;
	}
	return NULL;
}

static void
token_cache_put(const char *tok, const json_t *claims, const struct identity *who, unsigned gen)
{
	size_t n = strlen(tok);
	if (n >= TOKEN_CACHE_MAX_LEN)
		return;
	struct token_entry *e = &t_cache[t_cache_next++ % TOKEN_CACHE];
	json_t *exp = json_object_get(claims, "exp");
	e->exp = json_is_number(exp) ? (int64_t)json_number_value(exp) : INT64_MAX;
	e->revoke_gen = gen;
	memcpy(e->token, tok, n + 1);
	e->who = *who;
}

/* 0 and who filled, or -1 with r filled (401/…). */
static int
authenticate_bearer(const struct req *q, struct reply *r, struct identity *who)
{
	const char *h = q->authorization;
	if (!h || !*h) {
		reply_err(r, 401, 20, "Unauthorized (missing credentials)");
		return -1;
	}
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		if (strncasecmp(h, "Basic ", 6) == 0)
			reply_err(r, 401, 10, "Bad authorization type (Basic is accepted by auth.login only, "
			                      "use the Bearer token it returns)");
		else
			reply_err(r, 401, 10, "Bad authorization type (expected Bearer)");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	int64_t now = now_ms() / 1000;
	const struct identity *cached = token_cache_get(h, now);
	if (cached) {
		*who = *cached;
		return 0;
	}
	json_t *claims = NULL;
	unsigned gen = auth_revoke_generation(); /* read before the check: a racing logout wins */
	if (jwt_verify(q->srv->jwt_secret, sizeof(q->srv->jwt_secret), h, now, &claims) != 0) {
		reply_err(r, 401, 30, "Invalid token");
		return -1;
	}
	int revoked = q->db ? auth_revoked(q->db, json_string_value(json_object_get(claims,
	                                                                            "session_id"))) : -1;
	if (revoked != 0) {
		json_decref(claims);
		if (revoked < 0)
			reply_err(r, 500, 100, "General data error (session check failed)");
		else
			reply_err(r, 401, 30, "Invalid token (revoked)");
		return -1;
	}
	int rc = identity_from_claims(claims, who);
	if (rc == 0)
		token_cache_put(h, claims, who, gen);
	json_decref(claims);
	if (rc != 0) {
		reply_err(r, 401, 30, "Invalid token (no identity)");
		return -1;
	}
	return 0;
}

void
router_dispatch(struct req *q, struct reply *r)
{
	const struct endpoint *ep = router_find(q->endpoint, q->ver_major, q->ver_minor);
	if (!ep) {
		reply_err(r, 404, 0, "Unable to find endpoint for name %s and version %s", q->endpoint,
		          q->version);
		return;
	}
	r->actual_version = ep->min_version ? ep->min_version : "1.0";
	struct identity who;
	if (!(ep->flags & (EP_NO_AUTH | EP_LOGIN))) {
		if (authenticate_bearer(q, r, &who) != 0 || impersonate_apply(q, r, &who) != 0)
			return;
		q->who = &who;
	}
	if (!q->db) {
		reply_err(r, 500, 100, "General data error (database unavailable)");
		return;
	}
	int old_tags = tags_compat_applies(q);
	if (old_tags)
		tags_compat_request(q);
	ep->fn(q, r);
	if (old_tags)
		tags_compat_reply(q, r);
	if (q->who == &who)
		q->who = NULL;
	if (sqlite3_get_autocommit(q->db) == 0) {
		/* A handler must never leave a transaction open; undo rather than leak it. */
		log_error("%s left a transaction open; rolled back", q->endpoint);
		db_rollback(q->db);
	}
}
