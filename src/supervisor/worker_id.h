/*
 * worker_id — who this agent is (spec §4.8, §4.9): the worker id rules, the per-instance pid files
 * `<tmp>/.clearmlagent_<pid>_<random>.tmp` holding "<worker_id>\n<slot>", the smallest free
 * instance slot, the global lock that serialises registration, and the pid-file matching behind
 * `daemon --stop`. The pid-file format is the Python agent's, so `--stop` and slot numbering work
 * across both. Pure parts are separate from the file-system parts for unit tests. Owner:
 * worker_id.c.
 */
#ifndef CLEARML_WORKER_ID_H
#define CLEARML_WORKER_ID_H

#include <stddef.h>
#include <sys/types.h>

#define PIDFILE_PREFIX ".clearmlagent_"
#define PIDFILE_SUFFIX ".tmp"
#define PIDFILE_LOCK "_.clearmlagent_global.lock"

/* The identity before an instance slot is known. */
struct worker_ident {
	char *worker_id;   /* explicit or GPU-derived id; NULL → "<worker_name>:<slot>" */
	char *worker_name; /* agent.worker_name (hostname), with ":cpu" when GPUs are "none" */
};

/* Pure (§4.8 `_generate_worker_id_name`): explicit_id (CLEARML_WORKER_ID / agent.worker_id) wins;
 * else a non-empty, non-"none" visible-devices value → "<name>:gpu<devices>" (":dgpu" with
 * dynamic GPUs); "none" → name "<name>:cpu". nvidia may be NULL (then cuda is consulted). */
void worker_ident_compute(struct worker_ident *wi, const char *explicit_id, const char *name,
                          const char *nvidia, const char *cuda, int dynamic_gpus);
void worker_ident_free(struct worker_ident *wi);
/* The final id for a slot: wi->worker_id, or "<worker_name>:<slot>". Caller frees. */
char *worker_ident_final(const struct worker_ident *wi, int slot);

/* Pure: parse a pid-file name (".clearmlagent_<pid>_<random>.tmp") → pid. 0 or -1. */
int pidfile_name_pid(const char *fname, pid_t *pid);
/* Pure: parse pid-file contents "<worker_id>\n<slot>". *worker_id is allocated. 0 or -1. */
int pidfile_parse(const char *text, char **worker_id, int *slot);
/* Pure: smallest slot number not in used[0..n). */
int pidfile_free_slot(const int *used, size_t n);
/* Pure (§4.9): does a running instance with id uid match `--stop` for worker_id / worker_name?
 * Either the ids are equal, or uid starts with "<worker_name>:". */
int pidfile_stop_match(const char *uid, const char *worker_id, const char *worker_name);

struct pidfile_entry {
	pid_t pid;
	int slot;
	char *worker_id;
	char *path;
};
struct pidfile_list {
	struct pidfile_entry *v;
	size_t n;
};

/* The directory holding pid files: $TMPDIR, $TEMP, $TMP, else /tmp. */
const char *pidfile_dir(void);
/* Read the live instances in dir (sorted by worker id); pid files of dead processes are deleted
 * when remove_stale. Unreadable files are skipped. 0 or -1. */
int pidfile_scan(const char *dir, int remove_stale, struct pidfile_list *out);
void pidfile_list_free(struct pidfile_list *l);

/* Register this process: under the global lock drop stale pid files, refuse a duplicate id
 * (returns 1 with *dup_id set; caller frees), take the smallest free slot and write our pid file.
 * 0 with *worker_id_out, *slot_out, *path_out (caller frees), or -1 with err. */
int instance_register(const char *dir, const struct worker_ident *wi, char **worker_id_out,
                      int *slot_out, char **path_out, char **dup_id, char *err, size_t errlen);
/* After a fork (--detached) the pid file must name the new pid: renames *path. 0 or -1. */
int pidfile_follow_pid(char **path, pid_t newpid);
void pidfile_remove(const char *path);

/* 1 when pid is alive (not a zombie). */
int pid_is_alive(pid_t pid);

#endif
