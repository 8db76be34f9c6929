/*
 * impersonate — the Impersonate-As / Act-As headers (X-ClearML-*, X-Trains-*): an admin (or a
 * system/root identity) makes a call as another user of its company, as the real server allows.
 * Impersonate-As takes the other user's identity whole, role included; Act-As takes its user and
 * company but keeps the caller's role. Anyone else sending either header gets 400, never a
 * silently ignored header.
 */
#include <stdio.h>
#include <string.h>

#include "server/auth.h"
#include "server/front.h"
#include "util.h"

static int
may_impersonate(const char *role)
{
	return !strcmp(role, "admin") || !strcmp(role, "system") || !strcmp(role, "root");
}

int
impersonate_apply(const struct req *q, struct reply *r, struct identity *who)
{
	const char *imp = q->impersonate_as, *act = q->act_as;
	if (!imp && !act)
		return 0;
	if (imp && act) {
		reply_err(r, 400, 5, "Invalid headers (only one allowed): headers=Impersonate-As,"
		          "Act-As");
		return -1;
	}
	if (!may_impersonate(who->role)) {
		reply_err(r, 400, 6, "Impersonation error (impersonation not allowed): role=%s",
		          who->role);
		return -1;
	}
	const char *user = imp ? imp : act;
	struct identity other;
	/* root may act across companies; everyone else only inside its own */
	if (strlen(user) >= sizeof(other.user) || user_identity(q->db, user, &other) != 0 ||
	    (strcmp(who->role, "root") != 0 && strcmp(other.company, who->company) != 0)) {
		reply_err(r, 400, 6, "Impersonation error (unknown user): id=%.64s", user);
		return -1;
	}
	if (act)
		snprintf(other.role, sizeof(other.role), "%s", who->role);
	*who = other;
	return 0;
}
