"""Issue 9, logs and status across long outages: the server is away for longer than the flush wait
(agent.log_flush_wait_sec, lowered here so the test is short). The running daemon must ship every
line once the server is back, in order and once, then set the status the exit code earned — with
no restart; and an agent restarted meanwhile must set that same earned status."""
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          supervisor_env, log_lines, wait_status)
from conftest import wait_for

FLUSH = {"CLEARML_AGENT__AGENT__LOG_FLUSH_WAIT_SEC": "2"}
SCRIPT = ("import sys, time\n"
          "print('before', flush=True)\n"
          "time.sleep(2)\n"
          "for i in range(300):\n"
          "    print('late %03d' % i)\n"
          "sys.exit(EXIT)\n")


def start(server, api, tmp_path, qname, exit_code=0, name="agent"):
    q = create_queue(api, qname)
    t = create_script_task(api, SCRIPT.replace("EXIT", str(exit_code)), name="outage")
    enqueue(api, t, queue=q)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", qname],
                     env=supervisor_env(tmp_path, FLUSH), name=name)
    wait_for(lambda: "before" in log_lines(api, t), timeout=120, what="'before' on the server")
    return t, a


def check_log(api, t, final_line):
    lines = log_lines(api, t)
    late = [l for l in lines if l.startswith("late ")]
    assert late == ["late %03d" % i for i in range(300)], late[:5]
    assert lines.count("before") == 1
    assert lines.index(final_line) > lines.index("late 299")
    # lower-case levels, as the server's schema defines them
    levels = {e["level"] for e in api.task_log(t)}
    assert {"debug", "info"} <= levels <= {"debug", "info", "warning", "error"}, levels


def test_outage_longer_than_flush_wait_running_daemon_finishes(server, api, tmp_path):
    t, a = start(server, api, tmp_path, "outage1")
    try:
        port = server.port
        server.stop()
        time.sleep(9)  # task ends after ~2 s; flush wait (2 s) long over
        assert a.proc.poll() is None, a.output()[-2000:]
        server.start(port)
        api2 = server.api()
        final = wait_status(api2, t, timeout=90)
        assert final["status"] == "completed", a.output()[-3000:]
        assert final["status_reason"] == "worker execution done"
        check_log(api2, t, "Process completed successfully")
        assert a.proc.poll() is None, "the daemon must keep running"
        # the slot is free again: the next task runs
        t2 = create_script_task(api2, "print('second task')\n", name="after outage")
        enqueue(api2, t2, queue=api2.call("queues.get_all", name="outage1")["queues"][0]["id"])
        assert wait_status(api2, t2, timeout=60)["status"] == "completed"
    finally:
        a.stop()


def test_restart_during_outage_keeps_earned_status(server, api, tmp_path):
    # exit 3 earns `failed` with "worker execution exit code 3", not "agent restarted"
    t, a = start(server, api, tmp_path, "outage2", exit_code=3, name="agent1")
    port = server.port
    server.stop()
    time.sleep(5)  # the task has ended
    assert a.stop() == 254, a.output()[-3000:]
    server.start(port)
    api2 = server.api()
    assert api2.call("tasks.get_by_id", task=t)["task"]["status"] == "in_progress"
    b = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "outage2"],
                     env=supervisor_env(tmp_path, FLUSH), name="agent2")
    try:
        final = wait_status(api2, t, timeout=90)
        assert final["status"] == "failed", b.output()[-3000:]
        assert final["status_reason"] == "worker execution exit code 3", final
        check_log(api2, t, "Process failed, exit code 3")
        assert not any("restarted while the task was running" in l for l in log_lines(api2, t))
    finally:
        b.stop()


def test_execute_waits_for_the_log_and_leaves_it_when_stopped(server, api, tmp_path):
    import os
    import signal
    import subprocess

    from agent_helper import agent_env
    from conftest import binary
    t = create_script_task(api, SCRIPT.replace("EXIT", "0"), name="execute outage")
    env = agent_env(tmp_path, supervisor_env(tmp_path, FLUSH))
    p = subprocess.Popen([binary("clearml-agent"), "--config-file", server.conf, "execute",
                          "--id", t], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        wait_for(lambda: "before" in log_lines(api, t), timeout=60, what="'before'")
        port = server.port
        server.stop()
        time.sleep(6)  # the task ended; flush wait (2 s) is over: execute keeps waiting
        assert p.poll() is None, "execute gave up on the log"
        p.send_signal(signal.SIGTERM)
        p.wait(30)  # leaves after min(20 s, flush wait)
        state = os.path.join(env["HOME"], ".clearml", "agent-state")
        assert any(f.endswith(".state.json") for f in os.listdir(state)), os.listdir(state)
        server.start(port)
        api2 = server.api()
        assert api2.call("tasks.get_by_id", task=t)["task"]["status"] == "in_progress"
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
