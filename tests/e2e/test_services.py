"""clearml-agent daemon --services-mode end to end: many long-idle tasks at once, each in its own
slot under its own worker id "<worker>:service:<task>", with its own log, abort and final status;
the cap (stored as the runtime property max_num_instances) and a slot freed by a service that
exits; the daemon stopped (SIGTERM, --stop --graceful) and killed -9 then restarted. Real
server-lite, real daemons, services as plain processes (literal-script tasks)."""
import os
import signal
import time

from agent_helper import (AgentProcess, FAST_POLL, create_script_task, enqueue, log_lines,
                          pid_alive, read_pids, run_agent, supervisor_env, task, wait_gone,
                          wait_status)
from conftest import wait_for


def service_script(marker, pid_file, ticks=100000, period=0.5):
    """A long-idle service: says who it is (worker id from the agent), records its pid, then
    prints a heartbeat every `period` seconds for `ticks` beats and exits 0."""
    return ("import os, sys, time\n"
            f"print('SERVICE {marker} as', os.environ.get('CLEARML_WORKER_ID'), flush=True)\n"
            f"open({pid_file!r}, 'a').write('%d\\n' % os.getpid())\n"
            f"for i in range({ticks}):\n"
            f"    print('beat {marker} %d' % i, flush=True)\n"
            f"    time.sleep({period})\n")


def services_daemon(server, tmp_path, extra=(), name="services", env=None):
    args = ["--polling-interval", FAST_POLL, "--queue", "services", "--create-queue",
            "--services-mode"] + list(extra)
    e = {"CLEARML_WORKER_ID": "svc-agent"}
    e.update(env or {})
    return AgentProcess(server, tmp_path, args, env=supervisor_env(tmp_path, e), name=name)


def queue_id(api, name):
    return [q for q in api.call("queues.get_all", name=f"^{name}$")["queues"]][0]["id"]


def live_workers(api):
    return {w["id"]: w for w in api.call("workers.get_all", last_seen=0)["workers"]}


def test_twenty_services_log_and_abort_individually(server, api, tmp_path):
    a = services_daemon(server, tmp_path)
    try:
        wait_for(lambda: "services" in [q["name"] for q in
                                        api.call("queues.get_all")["queues"]],
                 timeout=30, what="the services queue created")
        q = queue_id(api, "services")
        ids = []
        for i in range(20):
            t = create_script_task(api, service_script(f"S{i:02d}", str(tmp_path / f"s{i}.pid")),
                                   name=f"service {i}")
            enqueue(api, t, queue=q)
            ids.append(t)
        # all twenty run at once, each with its own worker id, each logging its own beats
        for i, t in enumerate(ids):
            wait_for(lambda: any(l.startswith(f"beat S{i:02d} 1") for l in log_lines(api, t)),
                     timeout=120, what=f"service {i} beating")
        for i, t in enumerate(ids):
            assert task(api, t)["status"] == "in_progress"
            lines = log_lines(api, t)
            assert f"SERVICE S{i:02d} as svc-agent:service:{t}" in lines, lines[:5]
            # its own log only
            assert not any(l.startswith("beat S") and not l.startswith(f"beat S{i:02d} ")
                           for l in lines)
        ws = live_workers(api)
        for t in ids:
            w = ws.get(f"svc-agent:service:{t}")
            assert w and (w.get("task") or {}).get("id") == t, sorted(ws)
        assert "svc-agent" in ws
        pids = {t: read_pids(str(tmp_path / f"s{i}.pid"))[0] for i, t in enumerate(ids)}
        # aborted one by one: each stops alone, the others keep running
        for k, t in enumerate(ids):
            api.call("tasks.stop", task=t)
            final = wait_status(api, t, timeout=60)
            assert final["status"] == "stopped", final
            assert wait_gone([pids[t]], timeout=20)
            if k % 5 == 0:
                for later in ids[k + 1:]:
                    assert task(api, later)["status"] == "in_progress"
                    assert pid_alive(pids[later])
            assert any("Process aborted by user" in l for l in log_lines(api, t))
        # each freed slot's worker id is gone
        wait_for(lambda: not any(w.startswith("svc-agent:service:") for w in live_workers(api)),
                 timeout=30, what="the service workers unregistered")
        assert a.proc.poll() is None, a.output()
    finally:
        a.stop()


def test_cap_exit_frees_slot_and_sigterm_stops_all(server, api, tmp_path):
    a = services_daemon(server, tmp_path, ["2"])
    try:
        wait_for(lambda: "services" in [q["name"] for q in api.call("queues.get_all")["queues"]],
                 timeout=30, what="the services queue created")
        q = queue_id(api, "services")
        short = create_script_task(api, service_script("SHORT", str(tmp_path / "short.pid"),
                                                       ticks=6, period=0.5), name="short")
        long1 = create_script_task(api, service_script("L1", str(tmp_path / "l1.pid")), name="svc l1")
        long2 = create_script_task(api, service_script("L2", str(tmp_path / "l2.pid")), name="svc l2")
        for t in (short, long1, long2):
            enqueue(api, t, queue=q)
        props = api.call("workers.get_runtime_properties", worker="svc-agent")["runtime_properties"]
        assert {"key": "max_num_instances", "value": "2"} in \
            [{"key": p["key"], "value": p["value"]} for p in props], props
        wait_for(lambda: task(api, long1)["status"] == "in_progress", timeout=60, what="l1 runs")
        # at the cap: the third waits in the queue while the short one runs
        assert task(api, short)["status"] == "in_progress"
        assert task(api, long2)["status"] == "queued"
        # the short one exits: its slot is free at once and the third starts
        assert wait_status(api, short, timeout=60)["status"] == "completed"
        wait_for(lambda: task(api, long2)["status"] == "in_progress", timeout=30,
                 what="the waiting service started")
        wait_for(lambda: read_pids(str(tmp_path / "l2.pid")), timeout=30, what="l2's pid")
        pids = read_pids(str(tmp_path / "l1.pid")) + read_pids(str(tmp_path / "l2.pid"))
        assert a.stop(signal.SIGTERM) == 254
        for t in (long1, long2):
            final = task(api, t)
            assert final["status"] == "stopped", final
            assert final["status_reason"] == "task was stopped because the agent was stopped"
        assert wait_gone(pids, timeout=20)
    finally:
        a.stop()


def test_stop_graceful_waits_for_services(server, api, tmp_path):
    env = {"CLEARML_WORKER_ID": "svc-grace"}
    a = services_daemon(server, tmp_path, env=env)
    try:
        wait_for(lambda: "services" in [q["name"] for q in api.call("queues.get_all")["queues"]],
                 timeout=30, what="the services queue created")
        q = queue_id(api, "services")
        ts = [create_script_task(api, service_script(f"G{i}", str(tmp_path / f"g{i}.pid"),
                                                     ticks=8, period=0.5), name=f"svc g{i}")
              for i in range(3)]
        for t in ts:
            enqueue(api, t, queue=q)
        for t in ts:
            wait_for(lambda: task(api, t)["status"] == "in_progress", timeout=60, what="running")
        r = run_agent(server, tmp_path, ["daemon", "--stop", "svc-grace", "--graceful"],
                      env=supervisor_env(tmp_path, env), timeout=120)
        assert r.returncode == 0, r.stdout.decode()
        for t in ts:
            assert task(api, t)["status"] == "completed"
        a.proc.wait(10)
    finally:
        a.stop()


def test_killed_services_daemon_restarted_finalises_every_orphan(server, api, tmp_path):
    a = services_daemon(server, tmp_path, name="first")
    ids = []
    try:
        wait_for(lambda: "services" in [q["name"] for q in api.call("queues.get_all")["queues"]],
                 timeout=30, what="the services queue created")
        q = queue_id(api, "services")
        for i in range(4):
            t = create_script_task(api, service_script(f"K{i}", str(tmp_path / f"k{i}.pid")),
                                   name=f"svc k{i}")
            enqueue(api, t, queue=q)
            ids.append(t)
        for i, t in enumerate(ids):
            wait_for(lambda: any(l.startswith(f"beat K{i} 2") for l in log_lines(api, t)),
                     timeout=90, what=f"service {i} beating")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
    finally:
        a.stop()
    pids = [read_pids(str(tmp_path / f"k{i}.pid"))[0] for i in range(4)]
    time.sleep(1)
    assert all(pid_alive(p) for p in pids), "services outlive a SIGKILLed daemon until recovery"
    b = services_daemon(server, tmp_path, name="second")
    try:
        for t in ids:
            final = wait_status(api, t, timeout=60)
            assert final["status"] == "failed", final
            assert final["status_reason"] == "agent restarted while the task was running"
            assert any("restarted while the task was running" in l for l in log_lines(api, t))
        assert wait_gone(pids, timeout=20), "an orphaned service still runs"
        # the orphans' worker ids are gone too; the new daemon takes new services
        wait_for(lambda: not any(w.startswith("svc-agent:service:") for w in live_workers(api)),
                 timeout=30, what="the orphans' worker ids unregistered")
        t = create_script_task(api, service_script("NEW", str(tmp_path / "new.pid"), ticks=2,
                                                   period=0.1), name="new")
        enqueue(api, t, queue=queue_id(api, "services"))
        assert wait_status(api, t, timeout=60)["status"] == "completed"
    finally:
        b.stop()
