/*
 * svc_txn — the caller's company and the write-transaction frame (begin; commit unless the reply
 * holds an error) used by every handler of the queue, worker and event services.
 */
#include "server/svc_txn.h"

const char *
sq_company(const struct req *q)
{
	return q->who ? q->who->company : SRV_DEFAULT_COMPANY;
}

int
sq_begin(struct req *q, struct reply *r)
{
	if (db_begin(q->db) != 0) {
		reply_err(r, 500, 100, "Database error (could not start a transaction)");
		return -1;
	}
	return 0;
}

void
sq_finish(struct req *q, struct reply *r)
{
	if (r->code && r->code != 200) {
		db_rollback(q->db);
		return;
	}
	if (db_commit(q->db) != 0) {
		db_rollback(q->db);
		reply_err(r, 500, 100, "Database error (commit failed)");
	}
}
