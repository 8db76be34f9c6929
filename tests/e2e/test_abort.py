"""Abort (spec §4.5, with quirk 5 fixed): tasks.stop on a task that ignores SIGTERM and
double-forks out of its session → the task ends stopped and none of its processes is left."""
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          supervisor_env, log_lines, pid_alive, read_pids, task, wait_gone,
                          wait_status)
from conftest import wait_for

STUBBORN = """\
import os, signal, sys, time
PIDS = {pids!r}
def note():
    with open(PIDS, 'a') as f:
        f.write('%d\\n' % os.getpid())
signal.signal(signal.SIGTERM, signal.SIG_IGN)
note()
if os.fork() == 0:
    os.setsid()                      # out of the task's session and group
    if os.fork() == 0:
        note()
        while True:
            time.sleep(1)
    os._exit(0)
if os.fork() == 0:                   # a child that stays in the group
    note()
    while True:
        time.sleep(1)
print('ready', flush=True)
while True:
    time.sleep(1)
"""


def test_stop_kills_whole_tree(server, api, tmp_path):
    pids_file = str(tmp_path / "pids.txt")
    q = create_queue(api, "abort")
    t = create_script_task(api, STUBBORN.format(pids=pids_file), name="stubborn")
    enqueue(api, t, queue=q)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "abort"],
                     env=supervisor_env(tmp_path))
    try:
        wait_for(lambda: len(read_pids(pids_file)) >= 3, timeout=120, what="task pids")
        wait_for(lambda: "ready" in log_lines(api, t), timeout=30, what="'ready' on the server")
        pids = read_pids(pids_file)
        assert all(pid_alive(p) for p in pids)
        assert task(api, t)["status"] == "in_progress"
        api.call("tasks.stop", task=t)
        final = wait_status(api, t, {"stopped"}, timeout=60)
        assert wait_gone(pids, timeout=30), \
            f"left alive: {[p for p in pids if pid_alive(p)]}\n{a.output()[-3000:]}"
        wait_for(lambda: any(l.startswith("User aborted: stopping task (") for l in log_lines(api, t)),
                 timeout=30, what="the abort line")
        # a live worker reported the task, so tasks.stop only set "stopping": the agent noticed,
        # killed the tree, and set stopped itself with upstream's strings
        assert final.get("status_reason") == "task was stopped by tasks.stop", final
        assert final.get("status_message", "").startswith("Changed by clearml-agent "), final
        assert "Process aborted by user" in log_lines(api, t)
        # the agent keeps serving: a next task runs
        t2 = create_script_task(api, "print('after abort')\n", name="next")
        enqueue(api, t2, queue=q)
        assert wait_status(api, t2, timeout=120)["status"] == "completed", a.output()[-3000:]
    finally:
        a.stop()


def test_abort_callback_protocol(server, api, tmp_path):
    # The SDK's graceful path (§4.5): with runtime._abort_callback_timeout set, a stop request
    # keeps the task alive until _abort_callback_completed (or the capped timeout).
    pid_file = str(tmp_path / "pid.txt")
    script = ("import os, time\n"
              f"open({pid_file!r}, 'w').write('%d\\n' % os.getpid())\n"
              "print('ready', flush=True)\n"
              "while True:\n"
              "    time.sleep(0.2)\n")
    q = create_queue(api, "callback")
    t = create_script_task(api, script, name="callback")
    enqueue(api, t, queue=q)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "callback"],
                     env=supervisor_env(tmp_path))
    try:
        wait_for(lambda: "ready" in log_lines(api, t), timeout=120, what="'ready' on the server")
        pid = read_pids(pid_file)[0]
        runtime = dict(task(api, t).get("runtime") or {})
        runtime.update({"_abort_callback_timeout": "30", "_abort_poll_freq": "1"})
        api.call("tasks.edit", task=t, force=True, runtime=runtime)
        api.call("tasks.stop", task=t)
        wait_for(lambda: "### Task abort callback timeout set, waiting for max 31 sec ###"
                 in log_lines(api, t), timeout=30, what="the callback line")
        time.sleep(2)
        assert pid_alive(pid), "killed before the abort callback completed"
        assert task(api, t)["status"] == "in_progress"
        runtime["_abort_callback_completed"] = "1"
        api.call("tasks.edit", task=t, force=True, runtime=runtime)
        final = wait_status(api, t, {"stopped"}, timeout=60)
        assert final.get("status_reason") == "task was stopped by tasks.stop", final
        assert wait_gone([pid], timeout=20)
        assert any(l.startswith("### Task abort callback completed in ")
                   for l in log_lines(api, t)), log_lines(api, t)
    finally:
        a.stop()


def _running_task(server, api, tmp_path, qname):
    pid_file = str(tmp_path / f"{qname}.pid")
    script = ("import os, time\n"
              f"open({pid_file!r}, 'w').write('%d\\n' % os.getpid())\n"
              "print('ready', flush=True)\n"
              "while True:\n"
              "    time.sleep(0.2)\n")
    q = create_queue(api, qname)
    t = create_script_task(api, script, name=qname)
    enqueue(api, t, queue=q)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", qname],
                     env=supervisor_env(tmp_path), name=qname)
    wait_for(lambda: "ready" in log_lines(api, t), timeout=120, what="'ready' on the server")
    return t, q, a, read_pids(pid_file)[0]


def test_status_changed_server_side_kills_without_touching_status(server, api, tmp_path):
    t, q, a, pid = _running_task(server, api, tmp_path, "changed")
    try:
        api.call("tasks.stopped", task=t, force=True, status_reason="someone else")
        assert wait_gone([pid], timeout=30)
        wait_for(lambda: "User aborted: stopping task (3) status_changed" in log_lines(api, t),
                 timeout=30, what="the abort line")
        final = task(api, t)
        assert final["status"] == "stopped" and final["status_reason"] == "someone else", final
    finally:
        a.stop()


def test_reset_while_running(server, api, tmp_path):
    t, q, a, pid = _running_task(server, api, tmp_path, "resetq")
    try:
        api.call("tasks.reset", task=t, force=True)
        assert wait_gone([pid], timeout=30)
        lines = wait_for(lambda: (lambda ls: any("(3/4)" in l for l in ls) and ls)(log_lines(api, t)),
                         timeout=30, what="the reset warnings")
        for k in (1, 2, 3):
            assert (f"Warning: Task {t} was reset! if state is consistent we shall terminate "
                    f"({k}/4).") in lines, lines
        assert [e for e in api.task_log(t) if "was reset!" in e["msg"]][0]["level"] == "warning"
        assert task(api, t)["status"] == "created"
        # and the agent keeps serving
        t2 = create_script_task(api, "print('next')\n", name="after reset")
        enqueue(api, t2, queue=q)
        assert wait_status(api, t2, timeout=120)["status"] == "completed"
    finally:
        a.stop()


def test_task_deleted_while_running(server, api, tmp_path):
    t, q, a, pid = _running_task(server, api, tmp_path, "deleted")
    try:
        api.call("tasks.delete", task=t, force=True)
        assert wait_gone([pid], timeout=30)
        t2 = create_script_task(api, "print('next')\n", name="after delete")
        enqueue(api, t2, queue=q)
        assert wait_status(api, t2, timeout=120)["status"] == "completed"
        assert "Process terminated, task was not found" in a.output()
    finally:
        a.stop()


def test_stop_during_environment_setup_is_not_lost(server, api, tmp_path):
    """A tasks.stop that arrives while the runner is still building the environment lives only in
    status_message ("stopping"); the agent's "worker starting task execution" update must not
    overwrite it (upstream loses such a stop). The regular abort poll is made rare here, so only
    the look the agent takes right before that update can catch the stop."""
    slow_setup = tmp_path / "slow-setup.sh"
    slow_setup.write_text("#!/bin/sh\nsleep 3\n")  # no output file: the standard flow follows
    slow_setup.chmod(0o755)
    q = create_queue(api, "setup-stop")
    t = create_script_task(api, "import time\nprint('body ran', flush=True)\ntime.sleep(60)\n",
                           name="stopped in setup")
    enqueue(api, t, queue=q)
    env = supervisor_env(tmp_path, {"CLEARML_AGENT__AGENT__ABORT_POLL_INTERVAL_SEC": "120",
                                    "CLEARML_AGENT_CUSTOM_BUILD_SCRIPT": str(slow_setup)})
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "setup-stop"],
                     env=env)
    try:
        wait_status(api, t, {"in_progress"}, timeout=60)
        api.call("tasks.stop", task=t)
        # a live worker runs it: "stopping" — unless (slow sanitizer builds) the agent already
        # noticed and stopped it, which the checks below cover
        msg = task(api, t)["status_message"]
        assert msg == "stopping" or msg.startswith("Stopped by"), msg
        final = wait_status(api, t, {"stopped", "completed", "failed"}, timeout=50)
        assert final["status"] == "stopped", (final, a.output()[-3000:])
        assert final.get("status_reason") == "task was stopped by tasks.stop"
    finally:
        a.stop()
