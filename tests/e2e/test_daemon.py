"""clearml-agent daemon end to end: queue resolution, priority and fairness order, many daemons
racing for tasks, start-up against a server that is not up yet, worker registration, duplicate
worker ids. Real server-lite, real daemons, literal-script tasks."""
import os
import re
import signal
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          daemon_env as fast_env, fast_daemon as daemon, marker_script, read_lines,
                          run_agent, task, wait_status, workers)
from conftest import ServerLite, wait_for


def test_priority_order_across_two_queues(server, api, tmp_path):
    hi, lo = create_queue(api, "high"), create_queue(api, "low")
    order = str(tmp_path / "order.txt")
    ids = {}
    for n in ("lo1", "lo2"):
        ids[n] = create_script_task(api, marker_script(n, order), name="task " + n)
        enqueue(api, ids[n], queue=lo)
    for n in ("hi1", "hi2"):
        ids[n] = create_script_task(api, marker_script(n, order), name="task " + n)
        enqueue(api, ids[n], queue=hi)
    a = daemon(server, tmp_path, ["--queue", "high", "low"])
    try:
        for t in ids.values():
            assert wait_status(api, t, timeout=90)["status"] == "completed"
    finally:
        a.stop()
    # the low-priority queue only ran once the high one was empty
    assert read_lines(order) == ["hi1", "hi2", "lo1", "lo2"], a.output()
    out = a.output()
    assert 'Listening to queues:' in out
    assert re.search(r"\|\s*" + hi + r"\s*\|\s*high\s*\|", out), out


def test_order_fairness_round_robin(server, api, tmp_path):
    qa, qb = create_queue(api, "queue-a"), create_queue(api, "queue-b")
    order = str(tmp_path / "order.txt")
    ids = []
    for n in ("a1", "a2", "a3"):
        t = create_script_task(api, marker_script(n, order), name="task " + n)
        enqueue(api, t, queue=qa)
        ids.append(t)
    for n in ("b1", "b2"):
        t = create_script_task(api, marker_script(n, order), name="task " + n)
        enqueue(api, t, queue=qb)
        ids.append(t)
    a = daemon(server, tmp_path, ["--queue", "queue-a", "queue-b", "--order-fairness"])
    try:
        for t in ids:
            assert wait_status(api, t, timeout=90)["status"] == "completed"
    finally:
        a.stop()
    assert read_lines(order) == ["a1", "b1", "a2", "b2", "a3"], a.output()


def test_three_daemons_thirty_tasks_each_runs_once(server, api, tmp_path):
    # thirty is enough for the three to race on most claims; the server's own race test hammers
    # get_next_task harder
    q = create_queue(api, "shared")
    marks = str(tmp_path / "marks.txt")
    ids = []
    for i in range(30):
        t = create_script_task(api, marker_script(f"MARK-{i:02d}", marks), name=f"t{i:02d}")
        enqueue(api, t, queue=q)
        ids.append(t)
    agents = [daemon(server, tmp_path, ["--queue", "shared"], name=f"agent{k}") for k in range(3)]
    try:
        deadline = time.time() + 300
        for t in ids:
            assert wait_status(api, t, timeout=max(5, deadline - time.time()))["status"] == \
                "completed"
    finally:
        for a in agents:
            a.stop()
    lines = read_lines(marks)
    assert sorted(lines) == [f"MARK-{i:02d}" for i in range(30)]
    for i, t in enumerate(ids):
        log = api.task_log_text(t)
        assert len(re.findall(r"task " + t + r" pulled from", log)) == 1, log
        assert log.count(f"MARK-{i:02d}") == 1, log
    # all three took part (instance slots 0, 1, 2 → three distinct worker ids)
    outs = [a.output() for a in agents]
    wids = {re.search(r'Worker "([^"]+)" - Listening', o).group(1) for o in outs}
    assert len(wids) == 3, wids


def test_unknown_queue_is_an_error(server, api, tmp_path):
    r = run_agent(server, tmp_path, ["daemon", "--foreground", "--queue", "no-such-queue"],
                  env=fast_env(tmp_path))
    out = r.stdout.decode()
    assert r.returncode == 1, out
    assert "no-such-queue" in out and "--create-queue" in out
    assert not any(q["name"] == "no-such-queue" for q in api.call("queues.get_all")["queues"])


def test_create_queue(server, api, tmp_path):
    a = daemon(server, tmp_path, ["--queue", "brand-new", "--create-queue"])
    try:
        q = wait_for(lambda: [q for q in api.call("queues.get_all")["queues"]
                              if q["name"] == "brand-new"], what="queue created")[0]
        wait_for(lambda: "Listening to queues" in a.output(), what="listening")
        t = create_script_task(api, marker_script("in-new-queue"), name="task nq")
        enqueue(api, t, queue=q["id"])
        assert wait_status(api, t, timeout=60)["status"] == "completed"
    finally:
        a.stop()
    assert q["id"] in a.output()


def test_queue_by_id_and_case_insensitive_name(server, api, tmp_path):
    q1 = create_queue(api, "MixedCase")
    q2 = create_queue(api, "other")
    a = daemon(server, tmp_path, ["--queue", "mixedcase", q2])
    try:
        t1 = create_script_task(api, marker_script("one"), name="one")
        enqueue(api, t1, queue=q1)
        t2 = create_script_task(api, marker_script("two"), name="two")
        enqueue(api, t2, queue=q2)
        assert wait_status(api, t1)["status"] == "completed"
        assert wait_status(api, t2)["status"] == "completed"
    finally:
        a.stop()


def test_default_queue_when_none_given(server, api, tmp_path):
    a = daemon(server, tmp_path, [])
    try:
        t = create_script_task(api, marker_script("default-q"), name="task dq")
        enqueue(api, t)  # no queue: the server's default queue
        assert wait_status(api, t)["status"] == "completed"
    finally:
        a.stop()


def test_server_unreachable_at_start_then_connects(tmp_path):
    srv = ServerLite(tmp_path / "late-server")
    api = srv.api()
    q = create_queue(api, "late")
    t = create_script_task(api, marker_script("late-task"), name="late")
    enqueue(api, t, queue=q)
    port = srv.port
    srv.stop()
    a = daemon(srv, tmp_path, ["--queue", "late"])
    try:
        wait_for(lambda: "server unreachable" in a.output(), timeout=30,
                 what="the unreachable message")
        out = a.output()
        assert f"127.0.0.1:{port}" in out, out
        assert a.proc.poll() is None  # still trying, not exited
        srv.start(port)
        api = srv.api()
        assert wait_status(api, t, timeout=90)["status"] == "completed"
    finally:
        a.stop()
        srv.stop()


def test_worker_registered_with_task_while_running(server, api, tmp_path):
    q = create_queue(api, "wq-queue")
    pidf = str(tmp_path / "pid")
    t = create_script_task(api, marker_script("long", sleep=60, pid_file=pidf), name="long")
    a = daemon(server, tmp_path, ["--queue", "wq-queue"], env={"CLEARML_WORKER_ID": "test-worker-7"})
    try:
        w = wait_for(lambda: [w for w in workers(api) if w["id"] == "test-worker-7"],
                     what="worker registered")[0]
        assert [x["id"] for x in w.get("queues", [])] == [q]
        enqueue(api, t, queue=q)
        w = wait_for(lambda: [w for w in workers(api) if w["id"] == "test-worker-7"
                              and (w.get("task") or {}).get("id") == t],
                     timeout=60, what="worker reporting the task")[0]
        assert task(api, t)["status"] == "in_progress"
        # stop once the task itself runs and the agent has said so (a stop that lands before the
        # "worker starting task execution" update is overwritten by it, as upstream; the task's
        # pid file alone can appear before the agent has read the runner's result)
        wait_for(lambda: os.path.exists(pidf), timeout=60, what="task running")
        wait_for(lambda: task(api, t).get("status_reason") == "worker starting task execution",
                 timeout=60, what="the agent reporting the task started")
        api.call("tasks.stop", task=t)
        assert wait_status(api, t, timeout=60)["status"] == "stopped"
    finally:
        a.stop()
    # unregistered at exit
    assert not [w for w in workers(api) if w["id"] == "test-worker-7"]


def test_duplicate_worker_id_refused(server, api, tmp_path):
    create_queue(api, "dup")
    env = {"CLEARML_WORKER_ID": "same-id"}
    a = daemon(server, tmp_path, ["--queue", "dup"], env=env)
    try:
        wait_for(lambda: "Listening to queues" in a.output(), what="first agent up")
        r = run_agent(server, tmp_path, ["daemon", "--foreground", "--queue", "dup",
                                         "--polling-interval", FAST_POLL],
                      env=fast_env(tmp_path, env))
        out = r.stdout.decode()
        assert r.returncode == 1, out
        assert "Instance with the same WORKER_ID [same-id] is already running" in out
        assert a.proc.poll() is None
    finally:
        a.stop()


def test_instance_slots_and_pid_files(server, api, tmp_path):
    create_queue(api, "slots")
    env = fast_env(tmp_path, {"CLEARML_WORKER_NAME": "slothost"})
    a = AgentProcess(server, tmp_path, ["--queue", "slots", "--polling-interval", FAST_POLL],
                     env=env, name="a0")
    b = AgentProcess(server, tmp_path, ["--queue", "slots", "--polling-interval", FAST_POLL],
                     env=env, name="a1")
    try:
        wait_for(lambda: "Listening" in a.output() and "Listening" in b.output(), what="both up")
        ids = sorted(re.search(r'Worker "([^"]+)"', x.output()).group(1) for x in (a, b))
        assert ids == ["slothost:0", "slothost:1"]
        tmpdir = env["TMPDIR"]
        pidfiles = [f for f in os.listdir(tmpdir) if f.startswith(".clearmlagent_")]
        contents = sorted(open(os.path.join(tmpdir, f)).read() for f in pidfiles)
        assert contents == ["slothost:0\n0", "slothost:1\n1"]
        assert sorted(int(f.split("_")[1]) for f in pidfiles) == sorted([a.pid, b.pid])
        # slot 1 builds in its own directory (§4.8)
        home = os.path.join(str(tmp_path), "home", ".clearml")
        assert os.path.isdir(os.path.join(home, "venvs-builds"))
        assert os.path.isdir(os.path.join(home, "venvs-builds.1"))
    finally:
        assert a.stop() == 254
        b.stop()
    assert not [f for f in os.listdir(env["TMPDIR"]) if f.startswith(".clearmlagent_")]


ENV_PROBE = """import os, json
keys = ["CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CLEARML_WORKER_ID",
        "TRAINS_WORKER_ID", "FROM_ENV_SECTION"]
print("ENV=" + json.dumps({k: os.environ.get(k) for k in keys}), flush=True)
"""


def probe_env(api, t):
    import json
    for line in api.task_log_text(t).splitlines():
        if line.startswith("ENV="):
            return json.loads(line[4:])
    raise AssertionError(api.task_log_text(t))


def test_gpus_worker_id_and_task_env(server, api, tmp_path):
    create_queue(api, "gpuq")
    t = create_script_task(api, ENV_PROBE, name="gpu probe")
    enqueue(api, t, queue_name="gpuq")
    a = daemon(server, tmp_path, ["--queue", "gpuq", "--gpus", "0.1,1"],
               env={"CLEARML_WORKER_NAME": "gpuhost", "CUDA_DEVICE_ORDER": ""})
    try:
        assert wait_status(api, t)["status"] == "completed"
    finally:
        a.stop()
    assert 'Worker "gpuhost:gpu0:1,1"' in a.output()
    env = probe_env(api, t)
    assert env["CUDA_VISIBLE_DEVICES"] == "0:1,1"
    assert env["NVIDIA_VISIBLE_DEVICES"] == "0:1,1"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["CLEARML_WORKER_ID"] == env["TRAINS_WORKER_ID"] == "gpuhost:gpu0:1,1"


def test_cpu_only_and_environment_section(server, api, tmp_path):
    create_queue(api, "cpuq")
    conf = str(tmp_path / "with-env.conf")
    with open(conf, "w") as f:
        f.write(open(server.conf).read() + '\nenvironment {\n  FROM_ENV_SECTION: "yes it is"\n}\n')
    t = create_script_task(api, ENV_PROBE, name="cpu probe")
    enqueue(api, t, queue_name="cpuq")
    import subprocess
    from agent_helper import agent_env
    from conftest import binary
    log = open(str(tmp_path / "cpu-agent.log"), "wb")
    p = subprocess.Popen([binary("clearml-agent"), "--config-file", conf, "daemon", "--foreground",
                          "--queue", "cpuq", "--cpu-only", "--polling-interval", FAST_POLL],
                         env=agent_env(tmp_path, fast_env(tmp_path,
                                                          {"CLEARML_WORKER_NAME": "cpuhost"})),
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_status(api, t)["status"] == "completed"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(60)
        log.close()
    out = open(str(tmp_path / "cpu-agent.log")).read()
    assert 'Worker "cpuhost:cpu:0"' in out, out
    env = probe_env(api, t)
    assert env["CUDA_VISIBLE_DEVICES"] == "none" and env["NVIDIA_VISIBLE_DEVICES"] == "none"
    assert env["FROM_ENV_SECTION"] == "yes it is"
    assert "yes it is" not in out  # the environment section is masked in the print-out


def test_idle_daemon_sends_status_reports(server, api, tmp_path):
    create_queue(api, "reports")
    a = daemon(server, tmp_path, ["--queue", "reports", "--child-report-tags", "t1", "t 2"],
               env={"CLEARML_WORKER_ID": "reporter"})
    try:
        w = wait_for(lambda: [w for w in workers(api) if w["id"] == "reporter"],
                     what="registered")[0]
        assert "last_report_time" not in w  # register only
        # the first periodic report comes ~3 s after start (then every 30 s)
        w = wait_for(lambda: [w for w in workers(api) if w["id"] == "reporter"
                              and w.get("last_report_time")], timeout=20,
                     what="a periodic status report")[0]
        assert sorted(w.get("tags") or []) == ["t 2", "t1"]
        assert "task" not in w or not w["task"]
    finally:
        a.stop()


def test_server_restart_while_idle(server, api, tmp_path):
    q = create_queue(api, "restart")
    a = daemon(server, tmp_path, ["--queue", "restart"])
    try:
        wait_for(lambda: "Listening to queues" in a.output(), what="agent up")
        server.stop()
        wait_for(lambda: "could not get the next task" in a.output(), timeout=30,
                 what="the daemon noticing the server is gone")
        assert a.proc.poll() is None
        server.start(server.port)
        api = server.api()
        t = create_script_task(api, marker_script("after-restart"), name="after restart")
        enqueue(api, t, queue=q)
        assert wait_status(api, t, timeout=90)["status"] == "completed"
        assert "after-restart" in api.task_log_text(t)
    finally:
        a.stop()
