/*
 * slot_orphans — every slot of this process, and who owns a re-parented orphan (slot_internal.h,
 * descendants.h). The agent is a child subreaper: a descendant whose parent exits comes to us.
 */
#include "supervisor/slot_internal.h"

#include <stdlib.h>
#include <unistd.h>

/* Every slot of this process: a re-parented orphan is claimed by the task being killed only
 * when no other running task could own it. */
#define MAX_SLOTS 1024
static struct slot *g_slots[MAX_SLOTS];

void
slot_registry_add(struct slot *s)
{
	for (size_t i = 0; i < MAX_SLOTS; i++) {
		if (!g_slots[i]) {
			g_slots[i] = s;
			return;
		}
	}
}

void
slot_registry_remove(struct slot *s)
{
	for (size_t i = 0; i < MAX_SLOTS; i++)
		if (g_slots[i] == s)
			g_slots[i] = NULL;
}

/* Children of the agent that are not a slot's own process: orphans of some task, re-parented to
 * us (we are a subreaper). They are this task's when no other running task may own them. A child
 * in the agent's own session is one of the agent's helpers (tasks run in sessions of their own,
 * and so does everything they start), never an orphan of a task. */
void
slot_claim_orphans(struct slot *s)
{
	struct proc_ent *tab;
	long n = desc_read_table(&tab);
	pid_t self = getpid(), own_sid = getsid(0);
	for (long j = 0; j < n; j++) {
		if (tab[j].ppid != self || tab[j].state == 'Z' || tab[j].sid == own_sid)
			continue;
		int other = 0;
		for (size_t i = 0; i < MAX_SLOTS && !other; i++) {
			struct slot *o = g_slots[i];
			if (!o)
				continue;
			if (o->pid == tab[j].pid && slot_task_alive(o))
				other = 1; /* a task itself, ours or not */
			else if (o != s && (slot_task_alive(o) || desc_contains(&o->desc, tab[j].pid, tab[j].start)))
				other = 1;
		}
		if (!other)
			desc_add(&s->desc, &tab[j]);
	}
	if (n >= 0)
		desc_close(&s->desc, tab, (size_t)n, 0);
	free(tab);
}
