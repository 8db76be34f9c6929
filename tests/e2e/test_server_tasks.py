"""clearml-server-lite tasks.*: create/get/get_all/edit, the whole status state machine (every
allowed and forbidden transition, with and without force), enqueue/dequeue/stop/reset/delete/
clone semantics, hyper-parameters, configuration, artifacts, models, requirements, the
version-dependent view, and the in-progress watchdog."""
import re
import time

import pytest

from clearml_api import ApiError
from conftest import ServerLite, wait_for

STATUSES = ["created", "queued", "in_progress", "stopped", "published", "publishing", "closed",
            "failed", "completed", "unknown"]

# §3.3 allowed transitions without force (same status is always allowed)
ALLOWED = {
    "created": {"queued", "in_progress"},
    "queued": {"created", "in_progress", "stopped"},
    "in_progress": {"stopped", "failed", "created", "completed"},
    "stopped": {"closed", "created", "failed", "queued", "in_progress", "published", "publishing",
                "completed"},
    "closed": {"created", "failed", "published", "publishing", "stopped"},
    "failed": {"created", "stopped", "published", "queued"},
    "publishing": {"published"},
    "published": set(),
    "completed": {"published", "in_progress", "created"},
    "unknown": set(),
}

# endpoint → the status it moves to (each checks the state machine unless forced)
TARGETS = {
    "tasks.enqueue": "queued",
    "tasks.started": "in_progress",
    "tasks.stopped": "stopped",
    "tasks.failed": "failed",
    "tasks.completed": "completed",
    "tasks.close": "closed",
    "tasks.publish": "published",
}


def new_task(api, **kw):
    body = {"name": "task-" + str(time.monotonic_ns()), "type": "training"}
    body.update(kw)
    return api.call("tasks.create", **body)["id"]


def get(api, tid, version=None):
    return api.call("tasks.get_by_id", task=tid, version=version)["task"]


def task_in_status(api, status):
    tid = new_task(api)
    if status != "created":
        api.call("tasks.edit", task=tid, force=True, status=status)
    assert get(api, tid)["status"] == status
    return tid


def err_codes(fn, *a, **kw):
    with pytest.raises(ApiError) as e:
        fn(*a, **kw)
    return (e.value.code, e.value.subcode)


# ---------------------------------------------------------------- state machine

@pytest.mark.parametrize("src", STATUSES)
def test_transition_matrix_without_force(api, src):
    for endpoint, dst in TARGETS.items():
        tid = task_in_status(api, src)
        allowed = src == dst or dst in ALLOWED[src]
        if allowed:
            d = api.call(endpoint, task=tid)
            assert d["updated"] == 1, (src, endpoint)
            assert get(api, tid)["status"] == dst, (src, endpoint)
        else:
            assert err_codes(api.call, endpoint, task=tid) == (400, 110), (src, endpoint)
            assert get(api, tid)["status"] == src, (src, endpoint)


@pytest.mark.parametrize("src", STATUSES)
def test_transition_matrix_with_force(api, src):
    for endpoint, dst in TARGETS.items():
        tid = task_in_status(api, src)
        d = api.call(endpoint, task=tid, force=True)
        assert d["updated"] == 1, (src, endpoint)
        assert get(api, tid)["status"] == dst, (src, endpoint)


def test_status_change_reply_fields(api):
    tid = new_task(api)
    d = api.call("tasks.started", task=tid, status_reason="why", status_message="msg")
    f = d["fields"]
    assert d["started"] == 1 and f["status"] == "in_progress"
    assert (f["status_reason"], f["status_message"]) == ("why", "msg")
    for k in ("status_changed", "last_update", "last_change", "last_changed_by", "started"):
        assert k in f, k
    t = get(api, tid)
    assert t["started"] == f["started"] and t["status_reason"] == "why"
    assert re.search(r"\+00:00$", t["started"])
    # started again keeps the first `started`
    api.call("tasks.started", task=tid, force=True)
    assert get(api, tid)["started"] == f["started"]
    d = api.call("tasks.completed", task=tid)
    assert d["published"] == 0 and "completed" in d["fields"]
    assert get(api, tid)["status"] == "completed"


def test_completed_with_publish(api):
    tid = task_in_status(api, "in_progress")
    d = api.call("tasks.completed", task=tid, publish=True)
    assert d["published"] == 1
    t = get(api, tid)
    assert t["status"] == "published" and t["published"] and t["completed"]


def test_reset(api):
    tid = new_task(api)
    api.call("tasks.edit_hyper_params", task=tid,
             hyperparams=[{"section": "Args", "name": "lr", "value": "0.1"}])
    api.call("tasks.add_or_update_artifacts", task=tid,
             artifacts=[{"key": "in", "type": "x", "mode": "input"},
                        {"key": "out", "type": "x", "mode": "output"}])
    api.call("tasks.enqueue", task=tid)
    api.call("tasks.started", task=tid)
    api.call("tasks.edit", task=tid, force=True, runtime={"a": "b"})
    api.call("tasks.completed", task=tid)
    d = api.call("tasks.reset", task=tid)
    assert d["updated"] == 1 and d["fields"]["status"] == "created"
    t = get(api, tid)
    assert (t["status"], t["status_reason"], t["status_message"]) == ("created", "reset", "reset")
    assert "started" not in t and "completed" not in t and t["runtime"] == {}
    assert t["last_iteration"] == 0 and "queue" not in t["execution"]
    assert [a["key"] for a in t["execution"]["artifacts"]] == ["in"]
    assert t["hyperparams"]["Args"]["lr"]["value"] == "0.1"
    # published: refused without force, allowed with it
    pub = task_in_status(api, "published")
    assert err_codes(api.call, "tasks.reset", task=pub) == (400, 110)
    assert api.call("tasks.reset", task=pub, force=True)["updated"] == 1
    # a queued task is taken out of its queue
    q = api.call("tasks.enqueue", task=tid)["fields"]["execution.queue"]
    d = api.call("tasks.reset", task=tid)
    assert d["dequeued"] == {"removed": 1}
    assert tid not in [e["task"] for e in api.call("queues.get_by_id", queue=q)["queue"]["entries"]]
    # clear_all drops the script
    api.call("tasks.edit", task=tid, script={"repository": "r"})
    api.call("tasks.reset", task=tid, clear_all=True)
    assert "script" not in get(api, tid)


# ---------------------------------------------------------------- enqueue / dequeue / stop

def test_enqueue_semantics(api):
    tid = new_task(api, system_tags=["development", "keep"])
    default = api.call("queues.get_default")["id"]
    d = api.call("tasks.enqueue", task=tid, status_reason="r", status_message="m")
    assert d["queued"] == 1 and d["updated"] == 1
    f = d["fields"]
    assert f["status"] == "queued" and f["enqueue_status"] == "created"
    assert f["execution.queue"] == default
    t = get(api, tid)
    assert t["status"] == "queued" and t["execution"]["queue"] == default
    assert "development" not in t["system_tags"] and "keep" in t["system_tags"]
    assert "enqueue_status" not in t            # excluded from replies by default
    got = api.call("tasks.get_all", id=[tid], only_fields=["enqueue_status"])["tasks"][0]
    assert got["enqueue_status"] == "created"
    # same queue again → 706, state unchanged
    assert err_codes(api.call, "tasks.enqueue", task=tid) == (400, 706)
    assert get(api, tid)["status"] == "queued"
    # into another queue by name (auto-created): moved, not copied
    d = api.call("tasks.enqueue", task=tid, queue_name="other-q", version="2.19")
    other = d["fields"]["execution.queue"]
    assert other != default
    assert api.call("queues.get_by_id", queue=other)["queue"]["name"] == "other-q"
    entries = lambda q: [e["task"] for e in api.call("queues.get_by_id", queue=q)["queue"]["entries"]]
    assert entries(other) == [tid] and tid not in entries(default)
    assert get(api, tid)["execution"]["queue"] == other
    # both queue and queue_name → 400
    assert err_codes(api.call, "tasks.enqueue", task=tid, queue=other, queue_name="x")[0] == 400
    # bad queue id → 701 and the status is restored
    t2 = new_task(api)
    assert err_codes(api.call, "tasks.enqueue", task=t2, queue="nope") == (400, 701)
    assert get(api, t2)["status"] == "created"
    # unknown task
    assert err_codes(api.call, "tasks.enqueue", task="nope") == (400, 101)


def test_enqueue_needs_force_from_in_progress(api):
    tid = task_in_status(api, "in_progress")
    assert err_codes(api.call, "tasks.enqueue", task=tid) == (400, 110)
    d = api.call("tasks.enqueue", task=tid, force=True)
    assert d["fields"]["enqueue_status"] == "in_progress"


def test_dequeue_semantics(api):
    tid = new_task(api)
    q = api.call("tasks.enqueue", task=tid)["fields"]["execution.queue"]
    d = api.call("tasks.dequeue", task=tid)
    assert d["dequeued"] == 1 and d["updated"] == 1
    t = get(api, tid)
    assert t["status"] == "created" and t["execution"]["queue"] == q   # queue is kept
    assert api.call("queues.get_by_id", queue=q)["queue"]["entries"] == []
    # remembered status: stopped → enqueue → dequeue → stopped
    t2 = task_in_status(api, "stopped")
    api.call("tasks.enqueue", task=t2)
    api.call("tasks.dequeue", task=t2)
    assert get(api, t2)["status"] == "stopped"
    # new_status (the agent's execute path)
    api.call("tasks.enqueue", task=t2)
    d = api.call("tasks.dequeue", task=t2, new_status="in_progress", version="2.26")
    assert d["updated"] == 1 and get(api, t2)["status"] == "in_progress"
    assert err_codes(api.call, "tasks.dequeue", task=t2, new_status="bogus", version="2.26") == \
        (400, 12)
    # not queued: nothing to update
    t3 = new_task(api)
    assert api.call("tasks.dequeue", task=t3)["updated"] == 0
    # unknown task: still "dequeued"
    assert api.call("tasks.dequeue", task="nope") == {"dequeued": 1, "updated": 0}


def test_stop(api, server):
    user_name = api.call("users.get_current_user")["user"]["name"]
    # queued: dequeued and stopped
    tid = new_task(api)
    q = api.call("tasks.enqueue", task=tid)["fields"]["execution.queue"]
    api.call("tasks.stop", task=tid)
    t = get(api, tid)
    assert t["status"] == "stopped" and t["status_message"] == f"Stopped by {user_name}"
    assert api.call("queues.get_by_id", queue=q)["queue"]["entries"] == []
    # in_progress, no worker: stopped
    t2 = task_in_status(api, "in_progress")
    api.call("tasks.stop", task=t2)
    assert get(api, t2)["status"] == "stopped"
    # in_progress with a live worker reporting it: only "stopping"
    t3 = task_in_status(api, "in_progress")
    api.call("workers.register", worker="w-stop", queues=[])
    api.call("workers.status_report", worker="w-stop", timestamp=int(time.time() * 1000), task=t3)
    assert get(api, t3)["last_worker"] == "w-stop"
    d = api.call("tasks.stop", task=t3)
    assert d["fields"]["status_message"] == "stopping"
    t = get(api, t3)
    assert t["status"] == "in_progress" and t["status_message"] == "stopping"
    # the worker then reports it stopped
    api.call("tasks.stopped", task=t3, status_reason="task was stopped by tasks.stop")
    assert get(api, t3)["status"] == "stopped"
    # a development task is stopped at once even with a live worker
    t4 = task_in_status(api, "in_progress")
    api.call("tasks.edit", task=t4, force=True, system_tags=["development"])
    api.call("workers.status_report", worker="w-stop", timestamp=int(time.time() * 1000), task=t4)
    api.call("tasks.stop", task=t4)
    assert get(api, t4)["status"] == "stopped"
    # created → stopped is not allowed without force
    t5 = new_task(api)
    assert err_codes(api.call, "tasks.stop", task=t5) == (400, 110)
    api.call("tasks.stop", task=t5, force=True)
    assert get(api, t5)["status"] == "stopped"


# ---------------------------------------------------------------- create / get / get_all

def test_create_validation(api):
    assert err_codes(api.call, "tasks.create", type="training") == (400, 12)
    assert err_codes(api.call, "tasks.create", name="abc") == (400, 12)
    assert err_codes(api.call, "tasks.create", name="abc", type="report") == (400, 12)
    assert err_codes(api.call, "tasks.create", name="  ab  ", type="training") == (400, 800)
    assert err_codes(api.call, "tasks.create", name="abc", type="training",
                     project="nope") == (400, 16)
    assert err_codes(api.call, "tasks.create", name="abc", type="training",
                     parent="nope") == (400, 16)
    assert err_codes(api.call, "tasks.create", name="abc", type="training", tags="x") == (400, 12)
    assert err_codes(api.call, "tasks.get_by_id") == (400, 12)
    assert err_codes(api.call, "tasks.get_by_id", task="nope") == (400, 101)


def test_create_and_get(api):
    pid = api.call("projects.create", name="proj-create")["id"]
    parent = new_task(api)
    tid = api.call("tasks.create", name="full", type="data_processing", comment="c",
                   project=pid, parent=parent, tags=["b", "a"], system_tags=["development"],
                   output_dest="s3://bucket", script={"repository": " https://x/r.git ",
                                                      "entry_point": "train.py",
                                                      "requirements": {"pip": "numpy"}},
                   execution={"parameters": {"lr": 0.5}}, container={"image": "img"},
                   configuration={"cfg": {"value": "a=1"}},
                   hyperparams={"General": {"x": {"value": "1"}}},
                   runtime={"k": "v"}, unknown_field=1)["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", tid)
    t = get(api, tid)
    assert (t["name"], t["type"], t["status"], t["comment"]) == ("full", "data_processing",
                                                                 "created", "c")
    assert t["project"] == pid and t["parent"] == parent
    assert t["tags"] == ["a", "b"] and t["system_tags"] == ["development"]
    assert t["output"]["destination"] == "s3://bucket"
    assert t["script"]["repository"] == "https://x/r.git" and t["script"]["binary"] == "python"
    assert t["script"]["requirements"] == {"pip": "numpy"}
    assert t["hyperparams"]["Args"]["lr"] == {"section": "Args", "name": "lr", "value": "0.5",
                                              "type": "legacy"}
    assert t["hyperparams"]["General"]["x"]["section"] == "General"
    assert t["configuration"]["cfg"]["name"] == "cfg"
    assert t["container"] == {"image": "img"} and t["runtime"] == {"k": "v"}
    assert t["last_iteration"] == 0 and t["models"] == {"input": [], "output": []}
    for k in ("created", "last_update", "last_change"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", t[k]), k
    assert "unknown_field" not in t and "enqueue_status" not in t
    assert api.call("tasks.validate", name="okay", type="training") == {}


def test_version_dependent_view(api):
    tid = new_task(api, container={"image": "python:3.11", "arguments": "--ipc=host -e A=1"},
                   models={"input": [{"name": "m", "model": "mid"}], "output": []})
    old = get(api, tid, version="2.5")
    assert old["execution"]["docker_cmd"] == "python:3.11 --ipc=host -e A=1"
    assert old["execution"]["model"] == "mid"
    new = get(api, tid, version="2.13")
    assert "docker_cmd" not in new["execution"]
    # below 2.13 docker_cmd is split into the container on input
    api.call("tasks.edit", task=tid, force=True, execution={"docker_cmd": "ubuntu:22.04 -v /a:/b"},
             version="2.5")
    t = get(api, tid, version="2.23")
    assert t["container"] == {"image": "ubuntu:22.04", "arguments": "-v /a:/b"}
    assert "docker_cmd" not in t["execution"]
    # agent-style only_fields with a dotted path at 2.14
    got = api.call("tasks.get_all", id=[tid], only_fields=["container", "script.requirements"],
                   version="2.14")["tasks"]
    assert got[0]["container"]["image"] == "ubuntu:22.04" and set(got[0]) == {"id", "container"}


def test_get_all_filters(api):
    pa = api.call("projects.create", name="filter-a")["id"]
    pb = api.call("projects.create", name="filter-b")["id"]
    t1 = new_task(api, name="alpha one", project=pa, tags=["x", "y"], system_tags=["archived"])
    t2 = new_task(api, name="alpha two", project=pa, tags=["y"])
    t3 = new_task(api, name="beta", project=pb, type="testing")
    t4 = new_task(api, name="hidden alpha", project=pa, system_tags=["hidden"])
    api.call("tasks.started", task=t2)
    ids = lambda **kw: sorted(t["id"] for t in api.call("tasks.get_all", **kw)["tasks"])
    assert ids(id=[t1, t3]) == sorted([t1, t3])
    assert ids(id=t1) == [t1]
    assert ids(name="^alpha") == sorted([t1, t2])
    assert ids(name="alpha", search_hidden=True) == sorted([t1, t2, t4])
    assert ids(id=[t4]) == [t4]                       # an id list shows hidden tasks
    assert ids(project=[pa]) == sorted([t1, t2])
    assert ids(project=[pb], type=["testing"]) == [t3]
    assert ids(status=["in_progress"], project=[pa, pb]) == [t2]
    assert ids(tags=["x"]) == [t1]
    assert ids(tags=["y"], project=[pa]) == sorted([t1, t2])
    assert ids(tags=["-x"], project=[pa]) == [t2]
    assert ids(system_tags=["-archived"], project=[pa]) == [t2]
    assert ids(tags=["__$all", "x", "y"]) == [t1]
    assert ids(name="^alpha (one|two)$") == sorted([t1, t2])
    assert ids(name=r"^alpha\ one$") == [t1]          # re.escape() style
    assert ids(name="(?i)^ALPHA ONE$") == [t1]
    assert ids(search_text="BETA") == [t3]
    with pytest.raises(ApiError) as e:
        api.call("tasks.get_all", name="(unclosed")
    assert e.value.code == 400
    # projection
    got = api.call("tasks.get_all", id=[t1], only_fields=["name", "project", "tags"])["tasks"]
    assert got == [{"id": t1, "name": "alpha one", "project": pa, "tags": ["x", "y"]}]
    got = api.call("tasks.get_all", id=[t1], only_fields=["-script", "-execution"])["tasks"][0]
    assert "execution" not in got and got["name"] == "alpha one"
    # order_by
    names = [t["name"] for t in api.call("tasks.get_all", project=[pa], order_by=["-name"])["tasks"]]
    assert names == ["alpha two", "alpha one"]
    names = [t["name"] for t in api.call("tasks.get_all", project=[pa], order_by=["name"])["tasks"]]
    assert names == ["alpha one", "alpha two"]


def test_get_all_paging_and_cap(api):
    pid = api.call("projects.create", name="paging")["id"]
    made = [new_task(api, name=f"page-{i:02d}", project=pid) for i in range(7)]
    seen = []
    for page in range(4):
        got = api.call("tasks.get_all", project=[pid], order_by=["name"], page=page, page_size=2,
                       only_fields=["id"])["tasks"]
        seen += [t["id"] for t in got]
    assert seen == made
    # scroll
    d = api.call("tasks.get_all", project=[pid], size=5, order_by=["name"], version="2.15")
    assert len(d["tasks"]) == 5 and d["scroll_id"]
    d2 = api.call("tasks.get_all", project=[pid], size=5, scroll_id=d["scroll_id"],
                  order_by=["name"], version="2.15")
    assert [t["id"] for t in d2["tasks"]] == made[5:]
    # page_size above 500 is refused with a clear message
    with pytest.raises(ApiError) as e:
        api.call("tasks.get_all", page=0, page_size=10000)
    assert (e.value.code, e.value.subcode) == (400, 12) and "500" in e.value.msg
    with pytest.raises(ApiError) as e:
        api.call("tasks.get_all", page=-1, page_size=10)
    assert e.value.code == 400


def test_get_all_caps_at_500(api):
    pid = api.call("projects.create", name="cap")["id"]
    lines = []
    for i in range(510):
        lines.append(api.call("tasks.create", name=f"cap-{i}", type="training", project=pid)["id"])
    got = api.call("tasks.get_all", project=[pid], only_fields=["id"])["tasks"]
    assert len(got) == 500
    got = api.call("tasks.get_all", project=[pid], only_fields=["id"], page=1, page_size=500)["tasks"]
    assert len(got) == 10


# ---------------------------------------------------------------- edit / update

def test_edit_merge_rules(api):
    tid = new_task(api, script={"repository": "r", "branch": "main", "entry_point": "a.py"},
                   execution={"framework": "torch"}, hyperparams={"Args": {"a": {"value": "1"}}},
                   container={"image": "i", "arguments": "x"}, runtime={"k1": "v1"})
    d = api.call("tasks.edit", task=tid, script={"version_num": "abc", "branch": "dev"},
                 hyperparams={"General": {"b": {"value": "2"}}}, container={"image": "j"},
                 runtime={"k2": "v2"}, execution={"test_split": 1})
    assert d["updated"] == 1 and "script" in d["fields"] and "last_change" in d["fields"]
    t = get(api, tid)
    assert t["script"] == {"repository": "r", "branch": "dev", "entry_point": "a.py",
                           "version_num": "abc", "binary": "python"}
    assert t["execution"]["framework"] == "torch" and t["execution"]["test_split"] == 1
    assert list(t["hyperparams"]) == ["General"]          # maps are replaced whole
    assert t["container"] == {"image": "j"} and t["runtime"] == {"k2": "v2"}
    # not created → needs force
    api.call("tasks.started", task=tid)
    assert err_codes(api.call, "tasks.edit", task=tid, comment="x") == (400, 110)
    api.call("tasks.edit", task=tid, force=True, comment="x", output_dest="file:///o")
    t = get(api, tid)
    assert t["comment"] == "x" and t["output"]["destination"] == "file:///o"
    assert err_codes(api.call, "tasks.edit", task=tid, force=True, status="bogus") == (400, 12)
    assert err_codes(api.call, "tasks.edit", task="nope", force=True) == (400, 101)


def test_update_any_status(api):
    tid = task_in_status(api, "published")
    d = api.call("tasks.update", task=tid, name="renamed", tags=["z"], comment="cc",
                 output__error="boom")
    assert d["updated"] == 1 and d["fields"]["name"] == "renamed"
    t = get(api, tid)
    assert (t["name"], t["tags"], t["comment"], t["output"]["error"]) == ("renamed", ["z"], "cc",
                                                                          "boom")


# ---------------------------------------------------------------- clone / delete / ping

def test_clone(api):
    pid = api.call("projects.create", name="clone-src")["id"]
    src = new_task(api, project=pid, tags=["t"], system_tags=["development", "keep"],
                   script={"repository": "r"}, hyperparams={"Args": {"a": {"value": "1"}}},
                   container={"image": "i"}, output_dest="s3://o")
    api.call("tasks.add_or_update_artifacts", task=src,
             artifacts=[{"key": "in", "type": "x", "mode": "input"},
                        {"key": "out", "type": "x", "mode": "output"}])
    api.call("tasks.enqueue", task=src)
    d = api.call("tasks.clone", task=src, new_task_name="the clone")
    c = get(api, d["id"])
    assert c["status"] == "created" and c["name"] == "the clone" and c["parent"] == src
    assert c["script"] == {"repository": "r", "binary": "python", "entry_point": ""} and c["project"] == pid
    assert c["hyperparams"]["Args"]["a"]["value"] == "1" and c["container"] == {"image": "i"}
    assert c["system_tags"] == ["keep"] and c["tags"] == ["t"]
    assert "queue" not in c["execution"] and c["output"] == {"destination": "s3://o"}
    assert [a["key"] for a in c["execution"]["artifacts"]] == ["in"]
    # a clone of the clone keeps the original parent
    d2 = api.call("tasks.clone", task=d["id"], new_project_name="clone-dst", version="2.12")
    c2 = get(api, d2["id"])
    assert c2["parent"] == src and d2["new_project"]["name"] == "clone-dst"
    assert c2["project"] == d2["new_project"]["id"]
    assert err_codes(api.call, "tasks.clone", task="nope") == (400, 101)


def test_delete(api):
    tid = new_task(api)
    child = new_task(api, parent=tid)
    d = api.call("tasks.delete", task=tid)
    assert d["deleted"] is True and d["updated_children"] == 1
    assert err_codes(api.call, "tasks.get_by_id", task=tid) == (400, 101)
    assert get(api, child)["parent"] == f"__DELETED__{tid}"
    # only created or archived without force
    t2 = task_in_status(api, "completed")
    assert err_codes(api.call, "tasks.delete", task=t2) == (400, 123)
    api.call("tasks.edit", task=t2, force=True, system_tags=["archived"])
    assert api.call("tasks.delete", task=t2)["deleted"] is True
    t3 = new_task(api)
    q = api.call("tasks.enqueue", task=t3)["fields"]["execution.queue"]
    api.call("tasks.delete", task=t3, force=True)
    assert api.call("queues.get_by_id", queue=q)["queue"]["entries"] == []


def test_delete_and_reset_drop_events(api):
    tid = task_in_status(api, "in_progress")
    api.batch("events.add_batch", [{"task": tid, "type": "log", "msg": "hello", "level": "info",
                                    "timestamp": int(time.time() * 1000)}])
    assert "hello" in api.task_log_text(tid)
    api.call("tasks.reset", task=tid, force=True)
    assert api.task_log_text(tid) == ""


def test_ping(api):
    tid = task_in_status(api, "in_progress")
    api.call("tasks.started", task=tid, force=True)
    before = get(api, tid)["last_update"]
    time.sleep(0.01)
    assert api.call("tasks.ping", task=tid) == {}
    t = get(api, tid)
    assert t["last_update"] > before and isinstance(t.get("active_duration"), int)
    assert api.call("tasks.ping", task="nope") == {}


# ---------------------------------------------------------------- fine-grained writers

def test_set_requirements(api):
    tid = new_task(api, script={"repository": "r"})
    api.call("tasks.started", task=tid)
    d = api.call("tasks.set_requirements", task=tid, requirements={"pip": "a==1", "org_pip": "a"})
    assert d["updated"] == 1 and d["fields"]["script.requirements"]["pip"] == "a==1"
    assert get(api, tid)["script"]["requirements"] == {"pip": "a==1", "org_pip": "a"}
    bare = new_task(api)  # script is defaulted at create, as the real server does
    assert api.call("tasks.set_requirements", task=bare, requirements={"pip": "x"})["updated"] == 1
    assert get(api, bare)["script"] == {"binary": "python", "repository": "", "entry_point": "",
                                        "requirements": {"pip": "x"}}
    assert err_codes(api.call, "tasks.set_requirements", task=tid) == (400, 12)


def test_hyper_params(api):
    tid = new_task(api)
    api.call("tasks.edit_hyper_params", task=tid, hyperparams=[
        {"section": "Args", "name": "b", "value": "2"},
        {"section": "Args", "name": "a", "value": "1", "type": "int", "description": "d"},
        {"section": "Env", "name": "X", "value": "y"}])
    p = api.call("tasks.get_hyper_params", tasks=[tid])["params"]
    assert p[0]["task"] == tid
    assert [(h["section"], h["name"]) for h in p[0]["hyperparams"]] == [("Args", "a"), ("Args", "b"),
                                                                        ("Env", "X")]
    assert p[0]["hyperparams"][0]["type"] == "int"
    api.call("tasks.edit_hyper_params", task=tid, replace_hyperparams="section",
             hyperparams=[{"section": "Args", "name": "c", "value": "3"}])
    names = [h["name"] for h in api.call("tasks.get_hyper_params", tasks=[tid])["params"][0]["hyperparams"]]
    assert names == ["c", "X"]
    assert api.call("tasks.delete_hyper_params", task=tid,
                    hyperparams=[{"section": "Env"}])["deleted"] == 1
    # in_progress needs force; properties work in any status
    api.call("tasks.started", task=tid)
    assert err_codes(api.call, "tasks.edit_hyper_params", task=tid,
                     hyperparams=[{"section": "Args", "name": "c", "value": "4"}]) == (400, 110)
    api.call("tasks.edit_hyper_params", task=tid, force=True,
             hyperparams=[{"section": "Args", "name": "c", "value": "4"}])
    api.call("tasks.completed", task=tid)
    api.call("tasks.edit_hyper_params", task=tid,
             hyperparams=[{"section": "properties", "name": "p", "value": "v"}])
    hp = get(api, tid)["hyperparams"]
    assert hp["Args"]["c"]["value"] == "4" and hp["properties"]["p"]["value"] == "v"
    assert err_codes(api.call, "tasks.edit_hyper_params", task=tid, force=True,
                     hyperparams=[{"section": "Args", "name": "c", "value": "5"}]) == (400, 110)
    assert err_codes(api.call, "tasks.get_hyper_params", tasks=["nope"]) == (400, 101)
    assert err_codes(api.call, "tasks.get_hyper_params", tasks=[tid], version="2.8") == (404, 0)


def test_configuration(api):
    tid = new_task(api)
    api.call("tasks.edit_configuration", task=tid, configuration=[
        {"name": "cfg", "value": "a: 1", "type": "yaml"}, {"name": "empty", "value": ""}])
    got = api.call("tasks.get_configurations", tasks=[tid], names=["cfg"])["configurations"]
    assert got[0]["configuration"] == [{"name": "cfg", "value": "a: 1", "type": "yaml"}]
    names = api.call("tasks.get_configuration_names", tasks=[tid])["configurations"][0]["names"]
    assert names == ["cfg"]
    assert api.call("tasks.delete_configuration", task=tid, configuration=["cfg"])["deleted"] == 1


def test_artifacts_and_models(api):
    tid = new_task(api)
    api.call("tasks.add_or_update_artifacts", task=tid, artifacts=[
        {"key": "z", "type": "csv", "uri": "u1"}, {"key": "a", "type": "csv"}])
    api.call("tasks.add_or_update_artifacts", task=tid, artifacts=[
        {"key": "z", "type": "csv", "uri": "u2"}])
    arts = get(api, tid)["execution"]["artifacts"]
    assert [(a["key"], a.get("uri")) for a in arts] == [("a", None), ("z", "u2")]
    assert all(a["mode"] == "output" for a in arts)
    assert api.call("tasks.delete_artifacts", task=tid, artifacts=[{"key": "a"}])["deleted"] == 1
    assert err_codes(api.call, "tasks.add_or_update_artifacts", task=tid, artifacts=[]) == (400, 12)
    api.call("tasks.add_or_update_model", task=tid, name="best", model="m1", type="output")
    api.call("tasks.add_or_update_model", task=tid, name="best", model="m2", type="output")
    assert [m["model"] for m in get(api, tid)["models"]["output"]] == ["m2"]
    assert get(api, tid, version="2.5")["output"]["model"] == "m2"
    r = api.call("tasks.delete_models", task=tid, models=[{"name": "best", "type": "output"},
                                                          {"name": "nope", "type": "input"}])
    assert r["updated"] == 1  # tasks updated, as the real server counts, not links removed
    assert get(api, tid)["models"]["output"] == []
    r = api.call("tasks.delete_models", task=tid, models=[{"name": "nope", "type": "output"}])
    assert r["updated"] == 1
    api.call("tasks.started", task=tid)
    api.call("tasks.completed", task=tid)
    assert err_codes(api.call, "tasks.add_or_update_artifacts", task=tid,
                     artifacts=[{"key": "k", "type": "t"}]) == (400, 110)


def test_artifacts_come_back_in_key_order(api):
    """However they were given (create, edit), artifacts read back sorted by key, as the real
    server returns them."""
    tid = new_task(api, execution={"artifacts": [{"key": "b", "type": "str", "uri": "u1"},
                                                 {"key": "a", "type": "int", "uri": "u2"}]})
    assert [a["key"] for a in get(api, tid)["execution"]["artifacts"]] == ["a", "b"]
    api.call("tasks.edit", task=tid, execution={"artifacts": [
        {"key": "zz", "type": "str", "uri": "x", "mode": "output"},
        {"key": "aa", "type": "int", "uri": "y", "mode": "input"}]})
    arts = get(api, tid)["execution"]["artifacts"]
    assert [(a["key"], a["mode"]) for a in arts] == [("aa", "input"), ("zz", "output")]
    got = api.call("tasks.get_all_ex", id=[tid])["tasks"][0]["execution"]["artifacts"]
    assert [a["key"] for a in got] == ["aa", "zz"]


def test_get_types(api):
    """The types the company's tasks use (per project when asked), as the real server answers."""
    pid = api.call("projects.create", name="types-proj", description="")["id"]
    new_task(api, type="controller", project=pid)
    new_task(api, type="training")
    types = api.call("tasks.get_types", version="2.8")["types"]
    assert "training" in types and "controller" in types and "report" not in types
    assert api.call("tasks.get_types", version="2.8", projects=[pid])["types"] == ["controller"]


# ---------------------------------------------------------------- background watchdog

def test_watchdog_stops_silent_tasks(tmp_path):
    s = ServerLite(tmp_path / "wd", extra_args=["--task-watchdog-sec", "2"])
    try:
        api = s.api()
        silent = new_task(api)
        api.call("tasks.started", task=silent)
        alive = new_task(api)
        api.call("tasks.started", task=alive)
        created = new_task(api)
        end = time.time() + 30
        while time.time() < end:
            api.call("tasks.ping", task=alive)
            if get(api, silent)["status"] == "stopped":
                break
            time.sleep(0.3)
        t = get(api, silent)
        assert t["status"] == "stopped"
        assert t["status_reason"] == t["status_message"] == "Forced stop (non-responsive)"
        assert get(api, alive)["status"] == "in_progress"
        assert get(api, created)["status"] == "created"
    finally:
        s.stop()


# ---------------------------------------------------------------- batch calls

def test_update_batch_json_lines(api):
    a, b = new_task(api), new_task(api)
    d = api.batch("tasks.update_batch", [{"task": a, "name": "batch-a"},
                                         {"task": b, "comment": "cb"},
                                         {"task": "nope", "name": "xxx"}])
    assert d["updated"] == 2
    assert get(api, a)["name"] == "batch-a" and get(api, b)["comment"] == "cb"
    with pytest.raises(ApiError) as e:
        api.batch("tasks.update_batch", [])
    assert (e.value.code, e.value.subcode) == (400, 17)


def test_many_variants(api):
    ids = [new_task(api) for _ in range(3)]
    d = api.call("tasks.enqueue_many", ids=ids + ["nope"], version="2.13")
    assert sorted(x["id"] for x in d["succeeded"]) == sorted(ids)
    assert d["failed"][0]["id"] == "nope" and d["failed"][0]["error"]["codes"] == [400, 101]
    assert all(get(api, t)["status"] == "queued" for t in ids)
    d = api.call("tasks.stop_many", ids=ids[:2], version="2.13")
    assert len(d["succeeded"]) == 2 and all(get(api, t)["status"] == "stopped" for t in ids[:2])
    d = api.call("tasks.dequeue_many", ids=[ids[2]], version="2.13")
    assert get(api, ids[2])["status"] == "created"
    d = api.call("tasks.archive_many", ids=ids, version="2.13")
    assert len(d["succeeded"]) == 3
    assert all("archived" in get(api, t)["system_tags"] for t in ids)
    # archived tasks may be deleted without force
    d = api.call("tasks.delete_many", ids=ids[:1], version="2.13")
    assert d["succeeded"][0]["deleted"] is True
    d = api.call("tasks.unarchive_many", ids=ids[1:], version="2.13")
    assert all("archived" not in get(api, t)["system_tags"] for t in ids[1:])
    d = api.call("tasks.reset_many", ids=ids[1:2], version="2.13")
    assert get(api, ids[1])["status"] == "created"
    d = api.call("tasks.publish_many", ids=ids[2:], version="2.13")
    assert d["failed"][0]["error"]["codes"] == [400, 110]     # created → published not allowed
    assert api.call("tasks.archive", tasks=[ids[2]], version="2.12")["archived"] == 1
    assert err_codes(api.call, "tasks.stop_many", ids=[], version="2.13") == (400, 12)


def test_concurrent_writers_never_fail(api, server):
    """Parallel status changes and edits on the same task: every call is answered with a
    state-machine outcome (200 or 400/110/121), never a database error."""
    import threading
    tid = new_task(api)
    outcomes, lock = [], threading.Lock()

    def worker(n):
        c = server.api()
        for i in range(40):
            ep = ("tasks.started", "tasks.stopped", "tasks.edit", "tasks.ping")[(n + i) % 4]
            body = {"task": tid, "force": True}
            if ep == "tasks.edit":
                body["comment"] = f"{n}-{i}"
            st, resp = c.raw(ep, body)
            m = resp["meta"]
            with lock:
                outcomes.append((st, m["result_code"], m["result_subcode"]))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 240
    assert all(o[0] == o[1] for o in outcomes)
    assert {o[:2] for o in outcomes} <= {(200, 200), (400, 400)}, set(outcomes)
    assert get(api, tid)["status"] in ("in_progress", "stopped")


def test_get_by_id_ex_and_null_fields(api):
    tid = new_task(api, comment="c")
    api.call("tasks.update", task=tid, comment=None)
    t = get(api, tid)
    assert "comment" not in t                      # nulls are left out of replies
    got = api.call("tasks.get_by_id_ex", id=[tid])["tasks"]
    assert [x["id"] for x in got] == [tid]
    assert err_codes(api.call, "tasks.get_by_id_ex") == (400, 11)


def test_get_all_include_subprojects(api):
    top = api.call("projects.create", name="subs")["id"]
    mid = api.call("projects.create", name="subs/mid")["id"]
    low = api.call("projects.create", name="subs/mid/low")["id"]
    other = api.call("projects.create", name="subsidiary")["id"]   # same prefix, not a child
    t = {p: new_task(api, project=p) for p in (top, mid, low, other)}
    ids = lambda **kw: sorted(x["id"] for x in api.call("tasks.get_all", version="2.26", **kw)["tasks"])
    assert ids(project=[top]) == [t[top]]
    assert ids(project=[top], include_subprojects=True) == sorted([t[top], t[mid], t[low]])
    assert ids(project=[mid], include_subprojects=True) == sorted([t[mid], t[low]])


def test_get_all_scrolls_through_every_task_once(api):
    """tasks.get_all with size + scroll_id pages through all matches in order, each exactly once,
    and the reply carries the scroll_id to continue with."""
    ids = [api.call("tasks.create", name=f"scroll {i}", type="training")["id"] for i in range(5)]
    seen, scroll = [], None
    for _ in range(5):
        body = {"size": 2, "order_by": ["created"], "only_fields": ["id"], "id": ids}
        if scroll:
            body["scroll_id"] = scroll
        r = api.call("tasks.get_all", **body)
        assert "scroll_id" in r
        scroll = r["scroll_id"]
        if not r["tasks"]:
            break
        seen += [t["id"] for t in r["tasks"]]
    assert seen == ids


def test_move_tasks_and_models_under_projects(api):
    """tasks.move / models.move: into a project by name (created when missing, found when it
    exists), by id, and back to the root with project null; all or nothing."""
    t1, t2 = new_task(api), new_task(api)
    pid = api.call("tasks.move", ids=[t1, t2], project_name="moved here")["project_id"]
    assert [get(api, t)["project"] for t in (t1, t2)] == [pid, pid]
    got = api.call("projects.get_all", id=[pid])["projects"]
    assert got[0]["name"] == "moved here"
    mid = api.call("models.create", name="move model", uri="file:///m")["id"]
    assert api.call("models.move", ids=[mid], project_name="moved here")["project_id"] == pid
    assert api.call("models.get_by_id", model=mid)["model"]["project"] == pid
    other = api.call("projects.create", name="other place", description="")["id"]
    assert api.call("tasks.move", ids=[t1], project=other)["project_id"] == other
    assert get(api, t1)["project"] == other
    assert api.call("tasks.move", ids=[t1], project=None)["project_id"] is None
    assert "project" not in get(api, t1)
    # an unknown id anywhere in the batch moves nothing
    assert err_codes(api.call, "tasks.move", ids=[t2, "nope"], project=other) == (400, 101)
    assert get(api, t2)["project"] == pid
    assert err_codes(api.call, "tasks.move", ids=[t2], project="nope") == (400, 401)
    assert err_codes(api.call, "tasks.move", ids=[t2]) == (400, 11)
    assert err_codes(api.call, "models.move", ids=["nope"], project=other) == (400, 201)
