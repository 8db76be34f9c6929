/*
 * container_side — the runner's two docker-mode steps (DESIGN §3 "Docker mode"):
 *
 * On the host (`_runner … --docker-launch L`): after the runner placed the code (vcs cache, git
 * credentials and askpass stay on the host), runner_launch_exec prints the launch notes (stripped
 * arguments, the masked engine command), runs the preparatory engine commands (remove a stale
 * container of the same name, `pull` with agent.docker_force_pull) and execs the engine's `run`,
 * so the engine client keeps the runner's pid, session and spool. L is JSON written by
 * src/supervisor/container.c: {"notes": [str], "pre": [[argv]], "display": str, "exec": [argv]}.
 *
 * In the container (static `clearml-agent-runner … --in-container`): incontainer_prepare runs
 * agent.extra_docker_shell_script and the task's setup_shell_script, and installs a Python with the
 * image's package manager (apt-get, dnf, yum, apk) when the task needs one and the image has none;
 * incontainer_exec_init execs the task, staying PID 1 of the container as a minimal init when it
 * is PID 1 (signals forwarded to the task, orphans reaped), so a plain SIGTERM reaches the task.
 * The task's "_container" key (set by the supervisor) carries: {"image", "setup_shell_script",
 * "extra_shell_script": [str], "opencv_libs": bool}; code_dirs (NULL-terminated) are where a
 * requirements.txt may name OpenCV. Owner: container_side.c.
 */
#ifndef CLEARML_RUNNER_CONTAINER_SIDE_H
#define CLEARML_RUNNER_CONTAINER_SIDE_H

#include <jansson.h>
#include <stddef.h>

/* Host side. Returns only on failure: -1 with reason (short) filled. */
int runner_launch_exec(const char *launch_file, char *reason, size_t reasonlen);

/* Container side, before the Python environment. need_python: the task runs python. 0, or -1
 * with reason filled (the task fails with it). *have_python is set to whether python3 runs. */
int incontainer_prepare(const json_t *task, const char *const *code_dirs, int need_python,
                        int *have_python, char *reason, size_t reasonlen);

/* Exec argv with envp; as PID 1, fork it and act as init. Returns only on failure (errno). As
 * init it never returns: it exits with the task's status (128 + signal when killed). */
int incontainer_exec_init(char *const argv[], char *const envp[]);

#endif
