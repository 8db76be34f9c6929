/*
 * queue_sched — which queue the daemon asks next (spec §4.2), as a pure state machine.
 *
 * Priority (default): ask the queues in CLI order; a queue that hands out a task sends the next
 * question back to the first queue; a round through all queues with nothing means sleep.
 * Fairness (--order-fairness): round robin; after a queue was asked (task or not) the next one is
 * asked; a round that ran a task starts the next round at once (upstream always slept here,
 * §12 item 7); a round that found nothing means sleep. Owner: queue_sched.c.
 */
#ifndef CLEARML_QUEUE_SCHED_H
#define CLEARML_QUEUE_SCHED_H

#include <stddef.h>

struct queue_sched {
	size_t nq;
	int fairness;
	size_t pos;     /* next queue to ask */
	int round_got;  /* this round handed out a task */
};

void queue_sched_init(struct queue_sched *q, size_t nq, int fairness);
/* The queue to ask now, or -1: the round found nothing, sleep one polling interval (the
 * scheduler is then ready for a fresh round). */
long queue_sched_next(struct queue_sched *q);
/* The answer of the queue returned by queue_sched_next. */
void queue_sched_result(struct queue_sched *q, int got_task);

#endif
