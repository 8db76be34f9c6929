/*
 * queue_sched — the daemon's queue order (priority or round robin) without any I/O, so the order
 * rules of §4.2 are unit-tested on their own. See queue_sched.h.
 */
#include "supervisor/queue_sched.h"

void
queue_sched_init(struct queue_sched *q, size_t nq, int fairness)
{
	q->nq = nq;
	q->fairness = fairness;
	q->pos = 0;
	q->round_got = 0;
}

long
queue_sched_next(struct queue_sched *q)
{
	if (q->nq == 0)
		return -1;
	if (q->pos >= q->nq) {
		if (!q->fairness || !q->round_got) {
			q->pos = 0;
			q->round_got = 0;
			return -1;
		}
		q->pos = 0; /* fairness: a round that ran something starts the next one at once */
		q->round_got = 0;
	}
	return (long)q->pos;
}

void
queue_sched_result(struct queue_sched *q, int got_task)
{
	if (got_task && !q->fairness) {
		q->pos = 0; /* priority: start over from the first queue */
		q->round_got = 0;
		return;
	}
	if (got_task)
		q->round_got = 1;
	q->pos++;
}
