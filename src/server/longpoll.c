/*
 * longpoll — the parked-connection list and the one thread that resumes them (see longpoll.h).
 *
 * The list is a small array under one mutex; the thread sleeps on a condition variable until the
 * earliest deadline, the next re-check, a notify or the stop, then resumes what is due. A resumed
 * request is dispatched again by the HTTP front and either answers or parks once more.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <microhttpd.h>

#include "server/longpoll.h"
#include "util.h"

struct parked {
	struct MHD_Connection *c;
	int64_t until;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static struct parked *g_v;
static size_t g_n, g_cap;
static int g_open, g_stop, g_notified;
static pthread_t g_thread;

int
longpoll_open(void)
{
	pthread_mutex_lock(&g_lock);
	int open = g_open;
	pthread_mutex_unlock(&g_lock);
	return open;
}

void
longpoll_park(struct MHD_Connection *c, int64_t until_ms)
{
	pthread_mutex_lock(&g_lock);
	if (!g_open) {
		pthread_mutex_unlock(&g_lock);
		MHD_resume_connection(c);
		return;
	}
	if (g_n == g_cap) {
		g_cap = g_cap ? g_cap * 2 : 16;
		g_v = xreallocarray(g_v, g_cap, sizeof(*g_v));
	}
	g_v[g_n].c = c;
	g_v[g_n].until = until_ms;
	g_n++;
	pthread_cond_signal(&g_cond);
	pthread_mutex_unlock(&g_lock);
}

void
longpoll_notify(void)
{
	pthread_mutex_lock(&g_lock);
	if (g_n) {
		g_notified = 1;
		pthread_cond_signal(&g_cond);
	}
	pthread_mutex_unlock(&g_lock);
}

/* Resume entries due at now (all when everything is), under g_lock. */
static void
resume_due(int64_t now, int all)
{
	size_t k = 0;
	for (size_t i = 0; i < g_n; i++) {
		if (all || g_v[i].until <= now)
			MHD_resume_connection(g_v[i].c);
		else
			g_v[k++] = g_v[i];
	}
	g_n = k;
}

static void *
resumer_main(void *arg)
{
	(void)arg;
	int64_t next_recheck = now_ms() + LONGPOLL_RECHECK_MS;
	pthread_mutex_lock(&g_lock);
	while (!g_stop) {
		int64_t now = now_ms();
		if (g_notified || now >= next_recheck) {
			resume_due(now, 1);
			g_notified = 0;
			next_recheck = now + LONGPOLL_RECHECK_MS;
		} else {
			resume_due(now, 0);
		}
		int64_t wake = next_recheck;
		for (size_t i = 0; i < g_n; i++)
			if (g_v[i].until < wake)
				wake = g_v[i].until;
		if (!g_n)
			wake = now + 60000;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ms = wake - now;
		if (ms < 1)
			ms = 1;
		int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
		ts.tv_sec += ms / 1000 + ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		if (!g_notified && !g_stop)
			pthread_cond_timedwait(&g_cond, &g_lock, &ts);
		if (!g_n)
			next_recheck = now_ms() + LONGPOLL_RECHECK_MS;
	}
	resume_due(0, 1);
	pthread_mutex_unlock(&g_lock);
	return NULL;
}

int
longpoll_start(void)
{
	pthread_mutex_lock(&g_lock);
	g_stop = 0;
	g_open = pthread_create(&g_thread, NULL, resumer_main, NULL) == 0;
	int ok = g_open;
	pthread_mutex_unlock(&g_lock);
	return ok ? 0 : -1;
}

void
longpoll_stop(void)
{
	pthread_mutex_lock(&g_lock);
	int running = g_open;
	g_open = 0;
	g_stop = 1;
	resume_due(0, 1);
	pthread_cond_signal(&g_cond);
	pthread_mutex_unlock(&g_lock);
	if (running)
		pthread_join(g_thread, NULL);
	pthread_mutex_lock(&g_lock);
	free(g_v);
	g_v = NULL;
	g_n = g_cap = 0;
	pthread_mutex_unlock(&g_lock);
}
