"""An agent SIGKILLed mid-task: the next agent on the same machine finishes the orphan — kills
what is left, ships the rest of the spool, marks the task failed with the reason."""
import signal
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          supervisor_env, log_lines, pid_alive, read_pids, wait_gone, wait_status)
from conftest import wait_for


def test_agent_killed_then_restarted_finishes_task(server, api, tmp_path):
    pid_file = str(tmp_path / "task.pid")
    done_file = str(tmp_path / "done.txt")
    script = ("import os, time\n"
              f"open({pid_file!r}, 'w').write('%d\\n' % os.getpid())\n"
              "for i in range(100000):\n"
              "    print('rec %05d' % i, flush=True)\n"
              f"    open({done_file!r} + '.tmp', 'w').write('%d\\n' % i)\n"
              f"    os.replace({done_file!r} + '.tmp', {done_file!r})  # never seen empty\n"
              "    time.sleep(0.02)\n")
    q = create_queue(api, "recover")
    t = create_script_task(api, script, name="orphan")
    enqueue(api, t, queue=q)
    args = ["--polling-interval", FAST_POLL, "--queue", "recover"]
    a = AgentProcess(server, tmp_path, args, env=supervisor_env(tmp_path), name="agent1")
    try:
        wait_for(lambda: any(l.startswith("rec 00020") for l in log_lines(api, t)), timeout=120,
                 what="the first lines on the server")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
    finally:
        a.stop()
    task_pid = read_pids(pid_file)[0]
    time.sleep(1.5)
    assert pid_alive(task_pid), "the task should outlive a SIGKILLed agent until recovery"
    b = AgentProcess(server, tmp_path, args, env=supervisor_env(tmp_path), name="agent2")
    try:
        final = wait_status(api, t, {"failed", "stopped"}, timeout=60)
        assert final.get("status_reason") == "agent restarted while the task was running", final
        assert wait_gone([task_pid], timeout=20), "the orphaned task is still running"
        last = read_pids(done_file)[0]
        got = [l for l in log_lines(api, t, "DEBUG") if l.startswith("rec ")]
        # complete and in order, up to at least the last line the task recorded
        assert got == ["rec %05d" % i for i in range(len(got))]
        assert len(got) >= last + 1, (len(got), last)
        assert any("restarted while the task was running" in l for l in log_lines(api, t))
        assert b.proc.poll() is None, b.output()
    finally:
        b.stop()
