"""The daemon's own signals and `--stop`: SIGTERM aborts the running task (stopped, never
completed, nothing left running, worker unregistered), SIGQUIT drains (the running task completes,
nothing new is taken, exit 0), `--detached` then `--stop` / `--stop --graceful`."""
import os
import re
import signal
import subprocess

from agent_helper import (FAST_POLL, agent_env, create_queue, create_script_task, enqueue,
                          daemon_env as fast_env, fast_daemon as daemon, marker_script, pid_alive,
                          run_agent, task, wait_gone, workers)
from conftest import binary, wait_for


def wait_pid_file(path, timeout=60):
    return int(wait_for(lambda: os.path.exists(path) and open(path).read().strip(),
                        timeout=timeout, what="task pid file"))


def test_sigterm_mid_task_stops_task(server, api, tmp_path):
    q = create_queue(api, "term")
    pidf = str(tmp_path / "task.pid")
    t = create_script_task(api, marker_script("running", sleep=120, pid_file=pidf), name="victim")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, ["--queue", "term"], env={"CLEARML_WORKER_ID": "term-worker"})
    task_pid = wait_pid_file(pidf)
    assert task(api, t)["status"] == "in_progress"
    rc = a.stop(signal.SIGTERM, timeout=90)
    assert rc == 254, a.output()
    final = task(api, t)
    assert final["status"] == "stopped", final
    assert "agent was stopped" in final.get("status_reason", ""), final
    assert wait_gone([task_pid], timeout=10), "task process survived the agent"
    assert not [w for w in workers(api) if w["id"] == "term-worker"]
    tmpdir = fast_env(tmp_path)["TMPDIR"]
    assert not [f for f in os.listdir(tmpdir) if f.startswith(".clearmlagent_")]


def test_sigquit_drains(server, api, tmp_path):
    q = create_queue(api, "drain")
    pidf = str(tmp_path / "task.pid")
    first = create_script_task(api, marker_script("first", sleep=3, pid_file=pidf), name="first")
    second = create_script_task(api, marker_script("second"), name="second")
    enqueue(api, first, queue=q)
    enqueue(api, second, queue=q)
    a = daemon(server, tmp_path, ["--queue", "drain"])
    wait_pid_file(pidf)
    a.signal(signal.SIGQUIT)
    assert a.wait(timeout=90) == 0, a.output()
    a.stop()
    assert task(api, first)["status"] == "completed"
    assert task(api, second)["status"] == "queued"  # never taken


def launch_detached(server, tmp_path, env, args=()):
    argv = [binary("clearml-agent"), "--config-file", server.conf, "daemon", "--detached",
            "--queue", "det", "--polling-interval", FAST_POLL] + list(args)
    r = subprocess.run(argv, env=agent_env(tmp_path, env), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    m = re.search(r"writing stdout/stderr to (\S+)", out)
    assert m, out
    return m.group(1)


def live_pidfiles(tmpdir):
    res = []
    for f in os.listdir(tmpdir):
        if f.startswith(".clearmlagent_"):
            pid = int(f.split("_")[1])
            if pid_alive(pid):
                res.append((pid, open(os.path.join(tmpdir, f)).read()))
    return res


def test_detached_then_stop(server, api, tmp_path):
    create_queue(api, "det")
    env = fast_env(tmp_path, {"CLEARML_WORKER_NAME": "dethost"})
    log = launch_detached(server, tmp_path, env)
    pf = wait_for(lambda: live_pidfiles(env["TMPDIR"]), what="daemon pid file")
    pid, content = pf[0]
    assert content == "dethost:0\n0"
    wait_for(lambda: [w for w in workers(api) if w["id"] == "dethost:0"], what="registered")
    assert os.path.exists(log)
    wait_for(lambda: "Listening to queues" in open(log).read(), what="daemon log")
    r = run_agent(server, tmp_path, ["daemon", "--stop"], env=env)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert f"Terminating clearml-agent worker_id=dethost:0 pid={pid}" in out
    assert wait_gone([pid], timeout=20)
    assert not live_pidfiles(env["TMPDIR"])
    assert not [w for w in workers(api) if w["id"] == "dethost:0"]
    # nothing left to stop
    r = run_agent(server, tmp_path, ["daemon", "--stop"], env=env)
    assert r.returncode == 1


def test_stop_graceful_finishes_task(server, api, tmp_path):
    q = create_queue(api, "det")
    env = fast_env(tmp_path, {"CLEARML_WORKER_ID": "grace-worker"})
    pidf = str(tmp_path / "task.pid")
    t = create_script_task(api, marker_script("graceful", sleep=3, pid_file=pidf), name="task g")
    launch_detached(server, tmp_path, env)
    enqueue(api, t, queue=q)
    wait_pid_file(pidf)
    r = run_agent(server, tmp_path, ["daemon", "--stop", "grace-worker", "--graceful"], env=env,
                  timeout=120)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "Terminating clearml-agent worker_id=grace-worker" in out
    assert task(api, t)["status"] == "completed"
    assert not live_pidfiles(env["TMPDIR"])


def test_stop_unknown_worker_id(server, api, tmp_path):
    r = run_agent(server, tmp_path, ["daemon", "--stop", "nobody-here"], env=fast_env(tmp_path))
    assert r.returncode == 1


STUBBORN = """import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open({pidf!r}, 'w').write(str(os.getpid()))
print('ignoring SIGTERM', flush=True)
time.sleep(300)
"""


def test_sigterm_task_ignoring_sigterm_is_killed_after_grace(server, api, tmp_path):
    q = create_queue(api, "stubborn")
    pidf = str(tmp_path / "task.pid")
    t = create_script_task(api, STUBBORN.format(pidf=pidf), name="stubborn task")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, ["--queue", "stubborn"],
               env={"CLEARML_AGENT__AGENT__KILL_GRACE_SEC": "2"})
    task_pid = wait_pid_file(pidf)
    assert a.stop(signal.SIGTERM, timeout=90) == 254, a.output()
    assert wait_gone([task_pid], timeout=10)
    assert task(api, t)["status"] == "stopped"


def test_second_sigterm_skips_the_grace(server, api, tmp_path):
    q = create_queue(api, "stubborn")
    pidf = str(tmp_path / "task.pid")
    t = create_script_task(api, STUBBORN.format(pidf=pidf), name="stubborn task")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, ["--queue", "stubborn"],
               env={"CLEARML_AGENT__AGENT__KILL_GRACE_SEC": "120"})
    task_pid = wait_pid_file(pidf)
    a.signal(signal.SIGTERM)
    wait_for(lambda: "stop requested" in a.output(), what="first SIGTERM handled")
    a.signal(signal.SIGTERM)
    # with a 120 s grace only the second SIGTERM can end it this soon
    assert a.wait(timeout=60) == 254, a.output()
    a.stop()
    assert wait_gone([task_pid], timeout=10)
    assert task(api, t)["status"] == "stopped"
