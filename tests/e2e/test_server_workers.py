"""clearml-server-lite workers.*: register/unregister, status_report (auto-register, task and
queue bookkeeping, errors), get_all entry shape and filters (last_seen, tags, worker_pattern),
get_count, runtime properties with expiry, and expiry of silent workers with a short
--worker-timeout-sec (spec clearml-api §2.5, §5)."""
import base64
import json
import re
import time

import pytest

from clearml_api import ApiError
from conftest import ServerLite, wait_for

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def identity(api):
    payload = api.token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))["identity"]


def workers(api, **kw):
    return {w["id"]: w for w in api.call("workers.get_all", **kw)["workers"]}


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as ei:
        fn(*a, **kw)
    return ei.value.code, ei.value.subcode


def test_register_get_all_unregister(api):
    ident = identity(api)
    qid = api.call("queues.get_default")["id"]
    assert api.call("workers.register", worker="host:0", queues=[qid], tags=["t2", "t1"]) == {}
    w = workers(api)["host:0"]
    assert w["key"] == f"worker_{ident['company']}_{ident['user']}_host:0"
    assert w["user"]["id"] == ident["user"] and w["company"]["id"] == ident["company"]
    assert w["register_timeout"] == 600
    assert w["ip"] == "127.0.0.1"
    assert ISO.match(w["register_time"]) and ISO.match(w["last_activity_time"])
    assert w["tags"] == ["t1", "t2"]
    assert w["queues"] == [{"id": qid, "name": "default", "num_tasks": 0}]
    assert "task" not in w and "project" not in w
    assert api.call("workers.get_count") == {"count": 1}
    assert api.call("workers.unregister", worker="host:0") == {}
    assert "host:0" not in workers(api)
    assert api.call("workers.unregister", worker="never-registered") == {}


def test_register_errors(api):
    assert err(api.call, "workers.register", worker="w1", queues=["0" * 32]) == (400, 701)
    assert err(api.call, "workers.register", worker="w1", timeout=0) == (400, 1002)
    assert err(api.call, "workers.register") == (400, 12)
    assert err(api.call, "workers.status_report", worker="w1") == (400, 12)  # timestamp*
    assert workers(api) == {}


def test_status_report_task_queue_and_auto_register(api):
    q1 = api.call("queues.get_default")["id"]
    q2 = api.call("queues.create", name="second")["id"]
    pid = api.call("projects.create", name="proj-w")["id"]
    tid = api.call("tasks.create", name="reported", type="training", project=pid)["id"]
    waiting = api.call("tasks.create", name="waiting-task", type="training")["id"]
    api.call("queues.add_task", queue=q2, task=waiting)
    now_ms = int(time.time()) * 1000
    # an unknown worker is registered by its first report
    api.call("workers.status_report", worker="agent:gpu0", timestamp=now_ms, queues=[q1, q2],
             machine_stats={"cpu_usage": [12.5], "memory_used": 1000})
    w = workers(api)["agent:gpu0"]
    assert [q["id"] for q in w["queues"]] == [q1, q2]
    assert w["queues"][1]["num_tasks"] == 1
    assert w["queues"][1]["next_task"] == {"id": waiting, "name": "waiting-task"}
    assert ISO.match(w["last_report_time"])

    api.call("workers.status_report", worker="agent:gpu0", timestamp=now_ms, task=tid, queue=q2,
             queues=[])
    w = workers(api)["agent:gpu0"]
    assert [q["id"] for q in w["queues"]] == [q1, q2]          # empty list does not replace
    assert w["queue"]["id"] == q2 and w["queue"]["name"] == "second"
    assert w["task"]["id"] == tid and w["task"]["name"] == "reported"
    assert isinstance(w["task"]["running_time"], int) and w["task"]["last_iteration"] == 0
    assert w["project"] == {"id": pid, "name": "proj-w"}
    task = api.call("tasks.get_by_id", task=tid)["task"]
    assert task["last_worker"] == "agent:gpu0" and ISO.match(task["last_worker_report"])

    api.call("workers.status_report", worker="agent:gpu0", timestamp=now_ms, queues=[q2])
    w = workers(api)["agent:gpu0"]
    assert "task" not in w and "project" not in w and "queue" not in w
    assert [q["id"] for q in w["queues"]] == [q2]
    # a current queue that is not among the worker's queues is not shown (upstream)
    api.call("workers.status_report", worker="agent:gpu0", timestamp=now_ms, queue=q1)
    assert "queue" not in workers(api)["agent:gpu0"]
    assert err(api.call, "workers.status_report", worker="agent:gpu0", timestamp=now_ms,
               task="nosuchtask") == (400, 101)


def test_get_all_filters(api):
    for wid, tags in (("alpha:0", ["gpu"]), ("alpha:1", ["cpu"]), ("beta:0", ["gpu"])):
        api.call("workers.register", worker=wid, tags=tags, system_tags=["sys-" + tags[0]])
    assert sorted(workers(api, worker_pattern="alpha:*")) == ["alpha:0", "alpha:1"]
    assert sorted(workers(api, worker_pattern="?eta:0")) == ["beta:0"]
    assert sorted(workers(api, tags=["gpu"])) == ["alpha:0", "beta:0"]
    assert sorted(workers(api, tags=["-gpu"])) == ["alpha:1"]
    assert sorted(workers(api, system_tags=["sys-cpu"])) == ["alpha:1"]
    assert api.call("workers.get_count", tags=["gpu"]) == {"count": 2}
    assert api.call("workers.get_count", worker_pattern="beta*") == {"count": 1}


def test_last_seen_filter(api):
    api.call("workers.register", worker="quiet")
    time.sleep(3)
    api.call("workers.status_report", worker="chatty", timestamp=int(time.time() * 1000))
    assert sorted(workers(api, last_seen=2)) == ["chatty"]
    assert sorted(workers(api, last_seen=0)) == ["chatty", "quiet"]
    assert sorted(workers(api)) == ["chatty", "quiet"]            # default 3600


def test_runtime_properties(api):
    ident = identity(api)
    assert api.call("workers.get_runtime_properties", worker="w-rt") == {"runtime_properties": []}
    r = api.call("workers.set_runtime_properties", method="POST", worker="w-rt",
                 runtime_properties=[{"key": "available_gpus", "value": "0,1"},
                                     {"key": "max_num_instances", "value": "2"},
                                     {"key": "force", "value": "off", "expiry": 3}])
    prefix = f"worker_{ident['company']}_{ident['user']}_w-rt_prop_"
    assert r == {"added": [prefix + "available_gpus", prefix + "max_num_instances",
                           prefix + "force"], "removed": [], "errors": []}
    props = {p["key"]: p for p in
             api.call("workers.get_runtime_properties", worker="w-rt")["runtime_properties"]}
    assert props["available_gpus"]["value"] == "0,1"
    assert props["max_num_instances"] == {"key": "max_num_instances", "value": "2", "expiry": None}
    assert props["force"]["value"] == "off" and props["force"]["expiry"] in (1, 2, 3)
    # expiry 0 deletes (as upstream's Redis implementation does)
    r = api.call("workers.set_runtime_properties", worker="w-rt",
                 runtime_properties=[{"key": "available_gpus", "value": "2"},
                                     {"key": "max_num_instances", "value": "", "expiry": 0}])
    assert r["removed"] == [prefix + "max_num_instances"]
    wait_for(lambda: "force" not in {p["key"] for p in api.call(
        "workers.get_runtime_properties", worker="w-rt")["runtime_properties"]},
        timeout=10, what="the expiring runtime property to go")
    props = {p["key"]: p["value"] for p in
             api.call("workers.get_runtime_properties", worker="w-rt")["runtime_properties"]}
    assert props == {"available_gpus": "2"}
    assert err(api.call, "workers.set_runtime_properties", worker="w-rt",
               runtime_properties="nope") == (400, 12)
    # the agent calls them unversioned; like upstream there is no handler below 2.10
    assert err(api.call, "workers.get_runtime_properties", worker="w-rt", version="2.5") == (404, 0)


def test_worker_expiry_with_short_timeout(tmp_path):
    s = ServerLite(tmp_path / "srv", extra_args=["--worker-timeout-sec", "3"])
    try:
        api = s.api()
        api.call("workers.status_report", worker="short-lived", timestamp=int(time.time() * 1000))
        api.call("workers.register", worker="long-lived", timeout=300)
        assert workers(api)["short-lived"]["register_timeout"] == 3
        wait_for(lambda: "short-lived" not in workers(api), timeout=15,
                 what="the silent worker to expire")
        assert "long-lived" in workers(api)
    finally:
        s.stop()


def test_registered_timeout_expires(api):
    api.call("workers.register", worker="w-t", timeout=3)
    assert "w-t" in workers(api)
    wait_for(lambda: "w-t" not in workers(api), timeout=15, what="worker w-t to expire")


def test_stop_with_live_worker_is_graceful(api):
    tid = api.call("tasks.create", name="running-task", type="training")["id"]
    api.call("tasks.started", task=tid)
    api.call("workers.status_report", worker="runner:0", timestamp=int(time.time() * 1000),
             task=tid)
    api.call("tasks.stop", task=tid)
    t = api.call("tasks.get_by_id", task=tid)["task"]
    assert t["status"] == "in_progress" and t["status_message"] == "stopping"
