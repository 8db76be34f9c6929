"""Working hours end to end: --downtime/--uptime (and agent.uptime in the configuration), the
worker runtime property `force` (set with workers.set_runtime_properties as the documentation's
curl example) and the queue tags force_workers:on/off (set with queues.update), with the
documented precedence; outside working hours the worker stays registered and runs nothing new,
saying why once per change; `daemon --status` prints it all. The clock is the real one: the
schedules used cover the whole week (the hour ranges start at 0, which upstream ignores)."""
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          marker_script, run_agent, supervisor_env, task, wait_status)
from conftest import wait_for

WID = "sched-worker"


def sched_daemon(server, tmp_path, extra):
    args = ["--polling-interval", FAST_POLL, "--queue", "sched"] + list(extra)
    return AgentProcess(server, tmp_path, args,
                        env=supervisor_env(tmp_path, {"CLEARML_WORKER_ID": WID}), name="sched")


def set_force(api, value, expiry=86400):
    # the documentation's curl example, as a call
    api.call("workers.set_runtime_properties", worker=WID,
             runtime_properties=[{"key": "force", "value": value, "expiry": expiry}])


def status(server, tmp_path, extra=(), conf=None):
    # a later --config-file replaces the server's one that run_agent puts first
    argv = (["--config-file", conf] if conf else []) + ["daemon", "--queue", "sched", "--status"]
    argv += list(extra)
    r = run_agent(server, tmp_path, argv,
                  env=supervisor_env(tmp_path, {"CLEARML_WORKER_ID": WID}), timeout=60)
    return r.returncode, r.stdout.decode()


def test_downtime_runtime_property_and_queue_tags(server, api, tmp_path):
    q = create_queue(api, "sched")
    t1 = create_script_task(api, marker_script("one"), name="task one")
    enqueue(api, t1, queue=q)
    a = sched_daemon(server, tmp_path, ["--downtime", "0 SUN-SAT"])
    try:
        wait_for(lambda: "inside the downtime hours, not pulling new tasks" in a.output(),
                 timeout=30, what="the daemon saying it is in its downtime")
        time.sleep(1.5)
        assert task(api, t1)["status"] == "queued"
        # registered and reporting all the same
        assert WID in [w["id"] for w in api.call("workers.get_all", last_seen=0)["workers"]]
        assert a.output().count("inside the downtime hours") == 1, a.output()
        # runtime property over the schedule
        set_force(api, "on")
        assert wait_status(api, t1, timeout=60)["status"] == "completed"
        assert "the worker's runtime property force is on, pulling tasks" in a.output()
        # queue tag over the runtime property
        api.call("queues.update", queue=q, tags=["force_workers:off"])
        t2 = create_script_task(api, marker_script("two"), name="task two")
        enqueue(api, t2, queue=q)
        wait_for(lambda: "the queue is tagged force_workers:off, not pulling" in a.output(),
                 timeout=30, what="the tag seen")
        time.sleep(1.5)
        assert task(api, t2)["status"] == "queued"
        rc, out = status(server, tmp_path, ["--downtime", "0 SUN-SAT"])
        assert rc == 1, out  # as upstream
        assert "Working hours uptime/downtime configurations:\n  downtime:\n" in out
        assert "  - 00:00-23:59 on SUN" in out and "  - 00:00-23:59 on SAT" in out
        assert "Worker is forced on by its runtime property until" in out, out
        assert "  - Listening to queue 'sched' (tagged 'force_workers:off'): not pulling" in out
        set_force(api, "off")
        api.call("queues.update", queue=q, tags=["force_workers:on"])
        assert wait_status(api, t2, timeout=60)["status"] == "completed"
        # the property expires (expiry 0 deletes it) and the tag goes: the schedule rules again
        set_force(api, "off", expiry=0)
        api.call("queues.update", queue=q, tags=[])
        t3 = create_script_task(api, marker_script("three"), name="task three")
        enqueue(api, t3, queue=q)
        wait_for(lambda: a.output().count("inside the downtime hours") == 2, timeout=30,
                 what="the downtime again")
        time.sleep(1.0)
        assert task(api, t3)["status"] == "queued"
        assert a.proc.poll() is None, a.output()
    finally:
        a.stop()


def test_uptime_all_week_runs(server, api, tmp_path):
    q = create_queue(api, "sched")
    t = create_script_task(api, marker_script("up"), name="task up")
    enqueue(api, t, queue=q)
    a = sched_daemon(server, tmp_path, ["--uptime", "00-12 SUN-SAT", "12-00 SUN-SAT"])
    try:
        assert wait_status(api, t, timeout=60)["status"] == "completed"
        assert "inside the uptime hours, pulling tasks" in a.output()
    finally:
        a.stop()


def test_status_from_configuration(server, api, tmp_path):
    create_queue(api, "sched")
    conf = tmp_path / "with-uptime.conf"
    conf.write_text(f'include "{server.conf}"\n'
                    'agent.uptime: ["17-20 SUN-TUE", "13-22 WED"]\n')
    rc, out = status(server, tmp_path, conf=str(conf))
    assert rc == 1, out
    assert "Working hours uptime/downtime configurations:\n  uptime:\n" in out
    for line in ("  - 17:00-19:59 on SUN", "  - 17:00-19:59 on MON", "  - 17:00-19:59 on TUE",
                 "  - 13:00-21:59 on WED"):
        assert line in out, out
    assert "No runtime property forces the worker on or off" in out
    assert "  - Listening to queue 'sched': " in out
    # nothing was registered by --status
    assert WID not in [w["id"] for w in api.call("workers.get_all", last_seen=0)["workers"]]


def test_bad_schedules_are_usage_errors(server, api, tmp_path):
    for args, frag in ((["--uptime", "17-20 SUN", "--downtime", "1-2 MON"], "use only one"),
                       (["--uptime", "22-02 SUN"], "runs backwards"),
                       (["--downtime", "17-20 SUNDAY"], "is not a day"),
                       (["--uptime", "17-20"], "want \"<hours> <days>\"")):
        r = run_agent(server, tmp_path, ["daemon", "--foreground", "--queue", "sched"] + args,
                      env=supervisor_env(tmp_path), timeout=30)
        out = r.stdout.decode()
        assert r.returncode == 2, out
        assert frag in out, out
