"""Issue 9, abort leaves nothing without cgroups: with the cgroup path off (the normal case for a
non-root agent), a grandchild that calls setsid and execs with an EMPTY environment (so neither
the process group nor the CLEARML_TASK_ID environ sweep can find it) must still die on abort and
on the task's normal exit, and be reaped (the agent is a child subreaper)."""
from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          supervisor_env, log_lines, pid_alive, read_pids, wait_gone, wait_status)
from conftest import wait_for

NO_CGROUP = {"CLEARML_AGENT__AGENT__TASK_CGROUP": "false"}


def escaping_script(pid_file, then):
    return ("import os, sys, time\n"
            "r, w = os.pipe()\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        os.close(r)\n"
            "        os.dup2(w, 1)\n"  # tells the test it exists only once exec'd
            "        os.execve('/bin/sh', ['sh', '-c', 'echo $$; exec sleep 1000'], {})\n"
            "    os._exit(0)\n"
            "os.close(w)\n"
            "pid = int(os.read(r, 64).split()[0])\n"
            f"open({pid_file!r}, 'w').write('%d\\n' % pid)\n"
            "print('escaped', pid, flush=True)\n"
            + then)


def zombie_or_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def run(server, api, tmp_path, qname, then, stop=False):
    pid_file = str(tmp_path / "escaped.pid")
    q = create_queue(api, qname)
    t = create_script_task(api, escaping_script(pid_file, then), name="escaper")
    enqueue(api, t, queue=q)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", qname],
                     env=supervisor_env(tmp_path, NO_CGROUP))
    try:
        wait_for(lambda: read_pids(pid_file), timeout=60, what="the escaped grandchild")
        esc = read_pids(pid_file)[0]
        with open(f"/proc/{esc}/environ", "rb") as f:
            assert b"CLEARML_TASK_ID" not in f.read()  # the environ sweep cannot find it
        if stop:
            api.call("tasks.stop", task=t)
        final = wait_status(api, t, timeout=60)
        assert wait_gone([esc], timeout=20), f"escaped grandchild {esc} survived"
        # and it was reaped, not left a zombie
        wait_for(lambda: zombie_or_gone(esc) and not pid_alive(esc), timeout=10)
        wait_for(lambda: not __import__("os").path.exists(f"/proc/{esc}"), timeout=10,
                 what="the grandchild to be reaped")
        assert a.proc.poll() is None
        return final, log_lines(api, t)
    finally:
        a.stop()


def test_escaped_grandchild_killed_on_abort(server, api, tmp_path):
    final, lines = run(server, api, tmp_path, "esc-abort", "time.sleep(300)\n", stop=True)
    assert final["status"] == "stopped", final


def test_escaped_grandchild_killed_on_normal_exit(server, api, tmp_path):
    final, lines = run(server, api, tmp_path, "esc-exit", "time.sleep(3)\nsys.exit(0)\n")
    assert final["status"] == "completed", final
