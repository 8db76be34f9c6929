"""models.* as the ClearML SDK calls it (OutputModel / InputModel / Model.query_models /
Task.delete), and the task <-> model links: real server-lite, the SDK's HTTP calls."""
import pytest

from clearml_api import ApiError


def err_codes(fn, *a, **kw):
    with pytest.raises(ApiError) as e:
        fn(*a, **kw)
    return e.value.code, e.value.subcode


def new_task(api, **kw):
    body = {"name": "model task", "type": "training"}
    body.update(kw)
    return api.call("tasks.create", **body)["id"]


def test_output_model_flow(api):
    """OutputModel: models.create (draft), tasks.add_or_update_model, models.edit/update with
    the uploaded uri, set_ready publishes the task when asked."""
    tid = new_task(api)
    api.call("tasks.started", task=tid)
    mid = api.call("models.create", name="my model", uri="", task=tid, ready=False,
                   framework="PyTorch", labels={"cat": 1}, tags=["b", "a"])["id"]
    api.call("tasks.add_or_update_model", task=tid, name="my model", model=mid, type="output",
             iteration=3)
    d = api.call("models.edit", model=mid, uri="http://files/p/t/models/m.pt", iteration=5)
    assert d["updated"] == 1 and d["fields"]["uri"] == "http://files/p/t/models/m.pt"
    m = api.call("models.get_by_id", model=mid)["model"]
    assert m["ready"] is False and m["task"] == tid and m["tags"] == ["a", "b"]
    assert m["labels"] == {"cat": 1} and m["metadata"] == {}  # an object, not a list (2.17+)
    assert api.call("models.get_by_id", model=mid, version="2.13")["model"]["metadata"] == []
    assert api.call("tasks.get_by_id", task=tid)["task"]["last_iteration"] == 5
    api.call("tasks.stopped", task=tid)
    r = api.call("models.set_ready", model=mid)
    assert r["updated"] == 1 and r["published_task"]["id"] == tid
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "published"
    assert err_codes(api.call, "models.set_ready", model=mid) == (400, 203)


def test_query_and_metadata(api):
    ids = [api.call("models.create", name=f"model {i}", uri=f"file:///m{i}",
                    framework="Keras" if i % 2 else "PyTorch")["id"] for i in range(3)]
    got = api.call("models.get_all", framework=["Keras"], only_fields=["id", "name"])["models"]
    assert [m["id"] for m in got] == [ids[1]] and set(got[0]) == {"id", "name"}
    got = api.call("models.get_all_ex", id=ids, order_by=["-name"])["models"]
    assert [m["id"] for m in got] == ids[::-1]
    assert api.call("models.get_frameworks")["frameworks"] == ["Keras", "PyTorch"]
    api.call("models.add_or_update_metadata", model=ids[0],
             metadata=[{"key": "acc", "type": "float", "value": "0.9"}])
    m = api.call("models.get_by_id", model=ids[0])["model"]
    assert m["metadata"] == {"acc": {"key": "acc", "type": "float", "value": "0.9"}}
    api.call("models.delete_metadata", model=ids[0], keys=["acc"])
    assert api.call("models.get_by_id", model=ids[0])["model"]["metadata"] == {}
    r = api.call("models.archive_many", ids=[ids[0], "nope"])
    assert r["succeeded"] == [{"id": ids[0], "archived": 1}] and r["failed"][0]["id"] == "nope"
    live = api.call("models.get_all", system_tags=["-archived"])["models"]
    assert ids[0] not in [m["id"] for m in live] and ids[1] in [m["id"] for m in live]
    assert err_codes(api.call, "models.get_by_id", model="nope") == (400, 201)
    assert err_codes(api.call, "models.create", name="x", uri="u") == (400, 12)
    assert err_codes(api.call, "models.create", name="abc") == (400, 12)  # uri is required
    assert err_codes(api.call, "models.create", name="abc", uri="u", labels={"a": "b"}) == (400, 12)
    assert err_codes(api.call, "models.create", name="abc", uri="u", task="nope") == (400, 101)


def test_get_all_ex_include_stats(api):
    """models.get_all_ex include_stats adds stats.labels_count, counted on the stored model
    whatever only_fields keeps; without it there is no stats."""
    a = api.call("models.create", name="stats a", uri="file:///a", labels={"x": 1, "y": 2})["id"]
    b = api.call("models.create", name="stats b", uri="file:///b")["id"]
    got = api.call("models.get_all_ex", id=[a, b])["models"]
    assert len(got) == 2 and all("stats" not in m for m in got)
    got = api.call("models.get_all_ex", id=[a, b], include_stats=True,
                   only_fields=["id", "name"])["models"]
    assert {m["id"]: m["stats"]["labels_count"] for m in got} == {a: 2, b: 0}


def test_publish_task_publishes_its_output_model(api):
    """tasks.publish sets the task's last output model ready (publish_model, default true)."""
    tid = new_task(api)
    mid = api.call("models.create", name="pub model", uri="file:///p", task=tid,
                    ready=False)["id"]
    api.call("tasks.add_or_update_model", task=tid, name="pub model", model=mid, type="output")
    api.call("tasks.started", task=tid)
    api.call("tasks.stopped", task=tid)
    assert api.call("models.get_by_id", model=mid)["model"]["ready"] is False
    assert api.call("tasks.publish", task=tid)["updated"] == 1
    assert api.call("models.get_by_id", model=mid)["model"]["ready"] is True
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "published"
    # publish_model=false leaves it a draft
    t2 = new_task(api)
    m2 = api.call("models.create", name="pub model 2", uri="file:///q", task=t2,
                   ready=False)["id"]
    api.call("tasks.add_or_update_model", task=t2, name="m2", model=m2, type="output")
    api.call("tasks.started", task=t2)
    api.call("tasks.stopped", task=t2)
    api.call("tasks.publish", task=t2, publish_model=False)
    assert api.call("models.get_by_id", model=m2)["model"]["ready"] is False


def test_delete_task_deletes_draft_output_models(api):
    """Task.delete() with its defaults: draft output models go with the task and their urls come
    back; a model another task uses as input stays (detached)."""
    tid = new_task(api)
    draft = api.call("models.create", name="draft", uri="file:///draft", task=tid, ready=False)["id"]
    shared = api.call("models.create", name="shared", uri="file:///shared", task=tid,
                      ready=False)["id"]
    new_task(api, models={"input": [{"name": "in", "model": shared}]})
    api.call("tasks.add_or_update_artifacts", task=tid,
             artifacts=[{"key": "a", "type": "str", "uri": "file:///art", "mode": "output"}])
    d = api.call("tasks.delete", task=tid, return_file_urls=True)
    assert d["deleted"] and d["deleted_models"] == 1
    assert d["urls"] == {"model_urls": ["file:///draft"], "event_urls": [],
                         "artifact_urls": ["file:///art"]}
    assert err_codes(api.call, "models.get_by_id", model=draft) == (400, 201)
    assert "task" not in api.call("models.get_by_id", model=shared)["model"]
    # a model in use is only deleted with force; its users then point at __DELETED__<id>
    assert err_codes(api.call, "models.delete", model=shared) == (400, 205)
    assert api.call("models.delete", model=shared, force=True) == {"deleted": True,
                                                                   "url": "file:///shared"}


def test_published_model_blocks_task_delete(api):
    tid = new_task(api)
    mid = api.call("models.create", name="ready one", uri="file:///r", task=tid)["id"]
    assert err_codes(api.call, "tasks.delete", task=tid) == (400, 123)
    d = api.call("tasks.delete", task=tid, force=True)
    assert d["updated_models"] == 1 and d["deleted_models"] == 0
    assert api.call("models.get_by_id", model=mid)["model"]["task"] == "__DELETED__" + tid


def test_update_for_task_and_reset(api):
    """The pre-2.13 flow: models.update_for_task makes the task's output model; a reset deletes
    it unless another task uses it."""
    tid = new_task(api)
    api.call("tasks.started", task=tid)
    d = api.call("models.update_for_task", task=tid, uri="file:///b", version="2.12")
    assert d["created"] is True
    mid = d["id"]
    t = api.call("tasks.get_by_id", task=tid, version="2.12")["task"]
    assert t["output"]["model"] == mid and t["models"]["output"][0]["name"] == "Output Model"
    d2 = api.call("models.update_for_task", task=tid, uri="file:///c", version="2.12")
    assert d2["id"] == mid and d2["created"] is False
    assert api.call("models.get_by_id", model=mid)["model"]["uri"] == "file:///c"
    api.call("tasks.reset", task=tid)
    assert err_codes(api.call, "models.get_by_id", model=mid) == (400, 201)
    assert err_codes(api.call, "models.update_for_task", task=tid, version="2.12") == (400, 11)


def test_task_defaults_for_dataset_create(api):
    """Dataset.create reads script and runtime of a task created without them: the real server
    defaults script and returns {} for an embedded document named by only_fields."""
    tid = new_task(api, type="data_processing")
    t = api.call("tasks.get_all_ex", id=[tid], only_fields=["script", "runtime", "hyperparams",
                                                            "name"])["tasks"][0]
    assert t["script"] == {"binary": "python", "repository": "", "entry_point": ""}
    assert t["runtime"] == {} and t["hyperparams"] == {}


def test_get_all_ex_references_are_objects(api):
    """As the real server: *_ex replies give unjoined references as {id}; get_all keeps ids."""
    pid = api.call("projects.create", name="refs proj", description="")["id"]
    tid = new_task(api, project=pid)
    mid = api.call("models.create", name="refs model", uri="file:///r", project=pid, task=tid)["id"]
    m = api.call("models.get_all_ex", id=[mid])["models"][0]
    assert m["project"] == {"id": pid} and m["task"] == {"id": tid}
    assert set(m["company"]) == {"id"} and set(m["user"]) == {"id"}
    assert api.call("models.get_all", id=[mid])["models"][0]["project"] == pid
    p = api.call("projects.get_all_ex", id=[api.call("projects.create", name="refs proj/kid",
                                                     description="")["id"]])["projects"][0]
    assert p["parent"] == {"id": pid}
