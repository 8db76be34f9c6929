/*
 * longpoll — parking of requests that wait for something to happen (server-lite's long-poll
 * dispatch: queues.get_next_task with wait_sec). A handler that wants to wait sets
 * reply.suspend_until_ms; the HTTP front suspends the connection (libmicrohttpd suspend/resume,
 * no thread is held) and parks it here; it is resumed — and the request dispatched again — when
 * a queue gains an entry (longpoll_notify), at its deadline, and every LONGPOLL_RECHECK_MS so a
 * task enqueued by another process on the same database is found too. Owner: srvcore.
 */
#ifndef CLEARML_SERVER_LONGPOLL_H
#define CLEARML_SERVER_LONGPOLL_H

#include <stdint.h>

#define LONGPOLL_MAX_WAIT_SEC 30   /* a request's wait_sec is capped at this */
#define LONGPOLL_RECHECK_MS 2000

struct MHD_Connection;

/* Start the resumer thread. 0 or -1 (long-polling then stays off: handlers answer at once). */
int longpoll_start(void);
/* Resume every parked connection, refuse new parks, stop the thread (before MHD_stop_daemon). */
void longpoll_stop(void);
/* 1 while requests may be parked. */
int longpoll_open(void);
/* Park a connection the caller just suspended, until until_ms (now_ms clock) at the latest.
 * When parking is closed it is resumed at once. */
void longpoll_park(struct MHD_Connection *c, int64_t until_ms);
/* Something a parked request may want happened (a queue entry was added): resume them all. */
void longpoll_notify(void);

#endif
