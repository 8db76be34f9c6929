"""clearml-server-lite queues.*: create/update/delete, get_all filters, entries and their order,
every move operation, get_next_task (FIFO, empty, head-only, task_info, the stopped-task race
fix), status restores on delete/clear/remove, the enqueue → get_next_task → started flow, and
persistence across a restart (spec clearml-api §2.3, §4)."""
import re

import pytest

from clearml_api import ApiError


def new_task(api, name="task-q"):
    return api.call("tasks.create", name=name, type="training")["id"]


def new_queue(api, name, **kw):
    return api.call("queues.create", name=name, **kw)["id"]


def entries(api, qid):
    return [e["task"] for e in api.call("queues.get_by_id", queue=qid)["queue"]["entries"]]


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as ei:
        fn(*a, **kw)
    return ei.value.code, ei.value.subcode


def test_default_queue_on_first_start(api):
    d = api.call("queues.get_default")
    assert d["name"] == "default" and re.fullmatch(r"[0-9a-f]{32}", d["id"])
    q = api.call("queues.get_by_id", queue=d["id"])["queue"]
    assert "default" in q["system_tags"]
    found = api.call("queues.get_all", name="^default$", only_fields=["id"])["queues"]
    assert [x["id"] for x in found] == [d["id"]]
    other = new_queue(api, "second-default", system_tags=["default"])
    assert err(api.call, "queues.get_default") == (400, 708)
    api.call("queues.update", queue=other, system_tags=[])
    api.call("queues.update", queue=d["id"], system_tags=[])
    assert err(api.call, "queues.get_default") == (400, 707)
    t = new_task(api, "no-default")
    assert err(api.call, "tasks.enqueue", task=t) == (400, 707)


def test_create_get_update_delete(api):
    qid = new_queue(api, "q-main", tags=["b", "a"], system_tags=["x"])
    assert re.fullmatch(r"[0-9a-f]{32}", qid)
    q = api.call("queues.get_by_id", queue=qid)["queue"]
    assert q["name"] == "q-main" and q["tags"] == ["a", "b"] and q["system_tags"] == ["x"]
    assert q["entries"] == []
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$", q["created"])
    assert err(api.call, "queues.create", name="q-main") == (400, 801)
    assert err(api.call, "queues.create", name="qq") == (400, 800)
    assert err(api.call, "queues.create", name="q-bad-tag", tags=["__$all"]) == (400, 16)
    assert err(api.call, "queues.create") == (400, 12)

    up = api.call("queues.update", queue=qid, name="q-renamed", tags=["z"])
    assert up["updated"] == 1 and up["fields"]["name"] == "q-renamed"
    q = api.call("queues.get_by_id", queue=qid)["queue"]
    assert q["name"] == "q-renamed" and q["tags"] == ["z"]
    other = new_queue(api, "q-other")
    assert err(api.call, "queues.update", queue=other, name="q-renamed") == (400, 801)
    assert err(api.call, "queues.update", queue="0" * 32, name="xyz") == (400, 701)

    assert api.call("queues.delete", queue=qid) == {"deleted": 1}
    assert err(api.call, "queues.get_by_id", queue=qid) == (400, 701)
    assert err(api.call, "queues.delete", queue=qid) == (400, 701)


def test_get_all_filters_and_hidden(api):
    a = new_queue(api, "alpha-1", tags=["gpu"])
    b = new_queue(api, "alpha-2", tags=["cpu"])
    h = new_queue(api, "hidden-glue", system_tags=["k8s-glue"])
    names = lambda **kw: sorted(x["name"] for x in api.call("queues.get_all", **kw)["queues"])
    assert names(name="alpha") == ["alpha-1", "alpha-2"]
    assert names(name="^alpha-1$") == ["alpha-1"]
    assert names(name=re.escape("alpha-2")) == ["alpha-2"]      # the agent's form
    assert names(id=[a, b]) == ["alpha-1", "alpha-2"]
    assert names(tags=["gpu"]) == ["alpha-1"]
    assert names(tags=["-gpu"], name="alpha") == ["alpha-2"]
    # k8s-glue queues are hidden unless asked for by id, name or search_hidden
    assert "hidden-glue" not in names()
    assert "hidden-glue" in names(search_hidden=True)
    assert names(id=[h]) == ["hidden-glue"]
    assert names(name="hidden") == ["hidden-glue"]
    only = api.call("queues.get_all", id=[a], only_fields=["name"])["queues"]
    assert only == [{"id": a, "name": "alpha-1"}]


def test_add_remove_peek_count(api):
    qid = new_queue(api, "q-add")
    t = [new_task(api, f"task-{i}") for i in range(3)]
    for x in t:
        assert api.call("queues.add_task", queue=qid, task=x) == {"added": 1}
    assert entries(api, qid) == t
    assert err(api.call, "queues.add_task", queue=qid, task=t[0]) == (400, 706)
    assert err(api.call, "queues.add_task", queue="f" * 32, task=t[0]) == (400, 701)
    assert err(api.call, "queues.add_task", queue=qid, task="nosuchtask") == (400, 101)
    task0 = api.call("tasks.get_by_id", task=t[0])["task"]
    assert task0["status"] == "created"            # add_task never changes the status
    assert task0["execution"]["queue"] == qid
    assert api.call("queues.get_num_entries", queue=qid) == {"num": 3}
    assert api.call("queues.peek_task", queue=qid) == {"task": t[0]}
    assert api.call("queues.remove_task", queue=qid, task=t[1]) == {"removed": 1}
    assert err(api.call, "queues.remove_task", queue=qid, task=t[1]) == (400, 703)
    assert err(api.call, "queues.remove_task", queue="e" * 32, task=t[0]) == (400, 703)
    assert entries(api, qid) == [t[0], t[2]]
    q = api.call("queues.get_by_id", queue=qid, max_task_entries=1)["queue"]
    assert [e["task"] for e in q["entries"]] == [t[0]]
    assert err(api.call, "queues.peek_task", queue="e" * 32) == (400, 701)


def test_every_move_operation(api):
    qid = new_queue(api, "q-move")
    t = [new_task(api, f"mv-{i}") for i in range(5)]
    for x in t:
        api.call("queues.add_task", queue=qid, task=x)
    assert api.call("queues.move_task_forward", queue=qid, task=t[3]) == {"position": 2}
    assert entries(api, qid) == [t[0], t[1], t[3], t[2], t[4]]
    assert api.call("queues.move_task_forward", queue=qid, task=t[4], count=10) == {"position": 0}
    assert entries(api, qid) == [t[4], t[0], t[1], t[3], t[2]]
    assert api.call("queues.move_task_backward", queue=qid, task=t[0], count=2) == {"position": 3}
    assert entries(api, qid) == [t[4], t[1], t[3], t[0], t[2]]
    assert api.call("queues.move_task_backward", queue=qid, task=t[1], count=99) == {"position": 4}
    assert entries(api, qid) == [t[4], t[3], t[0], t[2], t[1]]
    assert api.call("queues.move_task_to_front", queue=qid, task=t[2]) == {"position": 0}
    assert entries(api, qid) == [t[2], t[4], t[3], t[0], t[1]]
    assert api.call("queues.move_task_to_back", queue=qid, task=t[4]) == {"position": 4}
    assert entries(api, qid) == [t[2], t[3], t[0], t[1], t[4]]
    other = new_task(api, "not-queued")
    assert err(api.call, "queues.move_task_to_front", queue=qid, task=other) == (400, 703)
    # the order is what get_next_task hands out
    got = [api.call("queues.get_next_task", queue=qid)["entry"]["task"] for _ in range(5)]
    assert got == [t[2], t[3], t[0], t[1], t[4]]


def test_get_next_task_fifo_empty_and_options(api):
    qid = new_queue(api, "q-next")
    assert api.call("queues.get_next_task", queue=qid) == {}
    assert err(api.call, "queues.get_next_task", queue="d" * 32) == (400, 701)
    t = [new_task(api, f"nx-{i}") for i in range(3)]
    for x in t:
        api.call("queues.add_task", queue=qid, task=x)
    # `task` pops only when that task is the head
    assert api.call("queues.get_next_task", queue=qid, task=t[1]) == {}
    r = api.call("queues.get_next_task", queue=qid, get_task_info=True)
    assert r["entry"]["task"] == t[0] and "added" in r["entry"]
    me = api.call("tasks.get_by_id", task=t[0])["task"]
    assert r["task_info"] == {"company": me["company"], "user": me["user"]}
    assert api.call("queues.get_next_task", queue=qid, task=t[1])["entry"]["task"] == t[1]
    assert api.call("queues.get_next_task", queue=qid, version="2.5")["entry"]["task"] == t[2]
    assert api.call("queues.get_next_task", queue=qid) == {}


def test_enqueue_get_next_started_flow(api):
    qid = new_queue(api, "q-flow")
    tid = new_task(api, "flow-task")
    api.call("tasks.enqueue", task=tid, queue=qid)
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "queued"
    assert entries(api, qid) == [tid]
    assert api.call("tasks.enqueue", task=new_task(api, "x-other"), queue_name="q-auto")["queued"] == 1
    auto = api.call("queues.get_all", name="^q-auto$")["queues"]
    assert len(auto) == 1 and len(auto[0]["entries"]) == 1
    r = api.call("queues.get_next_task", queue=qid)
    assert r["entry"]["task"] == tid
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "queued"
    api.call("tasks.started", task=tid, force=True, status_message="pulled by agent")
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "in_progress"
    assert entries(api, qid) == []


def test_stopped_task_race_fix(api):
    qid = new_queue(api, "q-race-fix")
    tid = new_task(api, "stopped-in-queue")
    api.call("queues.add_task", queue=qid, task=tid)
    api.call("tasks.stopped", task=tid, force=True)
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "stopped"
    assert api.call("queues.get_next_task", queue=qid)["entry"]["task"] == tid
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "queued"


def test_delete_force_clear_and_remove_restore_status(api):
    qid = new_queue(api, "q-del")
    t = [new_task(api, f"del-{i}") for i in range(3)]
    for x in t:
        api.call("tasks.enqueue", task=x, queue=qid)
    assert err(api.call, "queues.delete", queue=qid) == (400, 702)
    assert api.call("queues.get_by_id", queue=qid)["queue"]["entries"]

    # remove_task with update_task_status restores one task
    assert api.call("queues.remove_task", queue=qid, task=t[0], update_task_status=True) == {"removed": 1}
    t0 = api.call("tasks.get_by_id", task=t[0])["task"]
    assert t0["status"] == "created" and "queue" not in t0.get("execution", {})

    # without update_task_status the task stays queued
    api.call("queues.remove_task", queue=qid, task=t[1])
    assert api.call("tasks.get_by_id", task=t[1])["task"]["status"] == "queued"
    api.call("queues.add_task", queue=qid, task=t[1])

    assert api.call("queues.delete", queue=qid, force=True) == {"deleted": 1}
    for x in t[1:]:
        tk = api.call("tasks.get_by_id", task=x)["task"]
        assert tk["status"] == "created", tk
        assert "queue" not in tk.get("execution", {})
    assert err(api.call, "queues.get_by_id", queue=qid) == (400, 701)

    q2 = new_queue(api, "q-clear")
    u = [new_task(api, f"clr-{i}") for i in range(2)]
    for x in u:
        api.call("tasks.enqueue", task=x, queue=q2)
    assert api.call("queues.clear_queue", queue=q2) == {"removed_tasks": u}
    assert entries(api, q2) == []
    assert all(api.call("tasks.get_by_id", task=x)["task"]["status"] == "created" for x in u)


def test_metadata_and_old_version_shape(api):
    qid = new_queue(api, "q-meta", metadata=[{"key": "k1", "type": "str", "value": "v1"}])
    md = api.call("queues.get_by_id", queue=qid)["queue"]["metadata"]
    assert md == {"k1": {"key": "k1", "type": "str", "value": "v1"}}
    api.call("queues.add_or_update_metadata", queue=qid,
             metadata=[{"key": "k2", "type": "int", "value": "2"}])
    md = api.call("queues.get_by_id", queue=qid)["queue"]["metadata"]
    assert set(md) == {"k1", "k2"}
    assert api.call("queues.delete_metadata", queue=qid, keys=["k1"]) == {"updated": 1}
    assert set(api.call("queues.get_by_id", queue=qid)["queue"]["metadata"]) == {"k2"}
    # v <= 2.16 returns metadata as []
    assert api.call("queues.get_by_id", queue=qid, version="2.16")["queue"]["metadata"] == []
    # handler versions: peek_task needs 2.15
    assert err(api.call, "queues.peek_task", queue=qid, version="2.14") == (404, 0)


def test_queues_persist_across_restart(server):
    api = server.api()
    qid = new_queue(api, "q-persist", tags=["keep"])
    t = [new_task(api, f"p-{i}") for i in range(4)]
    for x in t:
        api.call("queues.add_task", queue=qid, task=x)
    api.call("queues.move_task_to_front", queue=qid, task=t[3])
    server.restart()
    api = server.api()
    q = api.call("queues.get_by_id", queue=qid)["queue"]
    assert q["tags"] == ["keep"]
    assert [e["task"] for e in q["entries"]] == [t[3], t[0], t[1], t[2]]
    assert api.call("queues.get_next_task", queue=qid)["entry"]["task"] == t[3]
    # the default queue is not duplicated by the restart
    assert len(api.call("queues.get_all", name="^default$")["queues"]) == 1


def test_get_all_ex_names_entries_and_workers(api):
    qid = new_queue(api, "q-ex")
    waiting = new_task(api, "waiting-ex")
    running = new_task(api, "running-ex")
    api.call("queues.add_task", queue=qid, task=waiting)
    api.call("workers.register", worker="ex-worker:0", queues=[qid])
    api.call("workers.status_report", worker="ex-worker:0", timestamp=1, task=running)
    api.call("workers.register", worker="elsewhere:0")
    q = api.call("queues.get_all_ex", id=[qid])["queues"][0]
    assert q["entries"][0]["task"] == {"id": waiting, "name": "waiting-ex"}
    assert [w["name"] for w in q["workers"]] == ["ex-worker:0"]
    assert q["workers"][0]["task"] == {"id": running, "name": "running-ex"}
    assert q["workers"][0]["key"].endswith("_ex-worker:0")
    # plain get_all keeps entries as ids and has no workers
    q = api.call("queues.get_all", id=[qid])["queues"][0]
    assert q["entries"][0]["task"] == waiting and "workers" not in q


def test_delete_restores_only_tasks_that_came_from_the_queue(api):
    home = new_queue(api, "q-home")
    extra = new_queue(api, "q-extra")
    tid = new_task(api, "two-queues")
    api.call("tasks.enqueue", task=tid, queue=home)
    # also listed in `extra`, but its execution.queue stays `home`
    api.call("queues.add_task", queue=extra, task=tid, update_execution_queue=False)
    assert api.call("queues.clear_queue", queue=extra) == {"removed_tasks": []}
    t = api.call("tasks.get_by_id", task=tid)["task"]
    assert t["status"] == "queued" and t["execution"]["queue"] == home
    api.call("queues.delete", queue=home, force=True)            # test_dequeue_from_deleted_queue
    t = api.call("tasks.get_by_id", task=tid)["task"]
    assert t["status"] == "created" and "queue" not in t["execution"]
    assert t["status_reason"] == f"Queue {home} was deleted"
