"""Pipelines as the web app runs them: pipelines.start_pipeline (a new run of a controller, with
its Args, named after the project and enqueued), pipelines.delete_runs, and include_pipeline_steps
on stop / archive / unarchive / delete. Real server-lite over HTTP."""
import pytest

from clearml_api import ApiError


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as e:
        fn(*a, **kw)
    return e.value.code, e.value.subcode


PROPS = {"properties": {"version": {"section": "properties", "name": "version", "type": "str",
                                    "value": "3.2"}}}


def controller(api, name):
    pid = api.call("projects.create", name=name, description="")["id"]
    tid = api.call("tasks.create", name=name, type="controller", project=pid,
                   system_tags=["pipeline"], hyperparams=PROPS)["id"]
    return pid, tid


def task(api, tid):
    return api.call("tasks.get_by_id", task=tid)["task"]


def queue(api, name):
    return api.call("queues.create", name=name)["id"]


def test_start_pipeline(api):
    pid, ctl = controller(api, "pipe one")
    qid = queue(api, "pipe-queue")
    r = api.call("pipelines.start_pipeline", task=ctl, queue=qid,
                 args=[{"name": "hello", "value": "test"}, {"name": "n", "value": "3"}])
    assert r["enqueued"] is True and r["pipeline"] != ctl
    run = task(api, r["pipeline"])
    assert run["status"] == "queued" and run["project"] == pid
    assert run["execution"]["queue"] == qid
    assert run["name"] == "pipe one #2"  # the controller and this run carry the project's name
    args = run["hyperparams"]["Args"]
    assert {k: (v["section"], v["value"]) for k, v in args.items()} == {
        "hello": ("Args", "test"), "n": ("Args", "3")}
    assert run["hyperparams"]["properties"] == PROPS["properties"]
    assert "Args" not in task(api, ctl).get("hyperparams", {})  # the controller is untouched
    second = api.call("pipelines.start_pipeline", task=ctl, queue=qid)["pipeline"]
    assert task(api, second)["name"] == "pipe one #3"
    # a watched queue: a worker listens on it
    r = api.call("pipelines.start_pipeline", task=ctl, queue=qid, verify_watched_queue=True)
    assert r["queue_watched"] is False
    api.call("workers.register", worker="pipe-worker", queues=[qid])
    r = api.call("pipelines.start_pipeline", task=ctl, queue=qid, verify_watched_queue=True)
    assert r["queue_watched"] is True
    assert err(api.call, "pipelines.start_pipeline", task="nope", queue=qid)[0] == 400
    assert err(api.call, "pipelines.start_pipeline", task=ctl, args="x") == (400, 12)


def test_delete_runs_keeps_one(api):
    pid, ctl = controller(api, "pipe two")
    qid = queue(api, "pipe-queue-2")
    runs = [api.call("pipelines.start_pipeline", task=ctl, queue=qid)["pipeline"]
            for _ in range(2)]
    step = api.call("tasks.create", name="a step", type="training", project=pid,
                    parent=runs[0])["id"]
    assert err(api.call, "pipelines.delete_runs", project=pid, ids=[ctl, *runs]) == (400, 160)
    r = api.call("pipelines.delete_runs", project=pid, ids=runs + [step])
    assert {s["id"] for s in r["succeeded"]} == set(runs) and r["failed"] == []
    left = {t["id"] for t in api.call("tasks.get_all", project=[pid])["tasks"]}
    assert left == {ctl}  # the run's step went with it; a non-controller id is not a run


def test_include_pipeline_steps(api):
    pid, ctl = controller(api, "pipe three")
    steps = [api.call("tasks.create", name=f"step {i}", type="training", project=pid,
                      system_tags=["pipeline"], parent=ctl)["id"] for i in range(2)]
    other = api.call("tasks.create", name="unrelated", type="training", project=pid)["id"]
    qid = queue(api, "pipe-queue-3")
    api.call("tasks.enqueue_many", ids=[ctl, steps[0]], queue=qid)
    api.call("tasks.stop", task=ctl, include_pipeline_steps=True)
    assert task(api, steps[0])["status"] == "stopped" and task(api, ctl)["status"] == "stopped"
    api.call("tasks.archive", tasks=[ctl], include_pipeline_steps=True)
    assert all("archived" in task(api, t)["system_tags"] for t in [ctl, *steps])
    assert "archived" not in task(api, other).get("system_tags", [])
    api.call("tasks.unarchive_many", ids=[ctl], include_pipeline_steps=True)
    assert not any("archived" in task(api, t)["system_tags"] for t in [ctl, *steps])
    # without the flag the steps stay
    api.call("tasks.archive_many", ids=[ctl])
    assert "archived" not in task(api, steps[0])["system_tags"]
    api.call("tasks.delete", task=ctl, force=True, include_pipeline_steps=True)
    left = {t["id"] for t in api.call("tasks.get_all", project=[pid])["tasks"]}
    assert left == {other}
