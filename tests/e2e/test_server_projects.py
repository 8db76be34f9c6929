"""projects.* beyond create/get/update: sharing (make_public / make_private), what lies in
projects (task parents, model metadata, tags), the delete rules, organization.get_tags,
tasks|models.update_tags, and the tags of pre-2.3 clients: real server-lite over HTTP."""
import pytest

from clearml_api import ApiError


def err_codes(fn, *a, **kw):
    with pytest.raises(ApiError) as e:
        fn(*a, **kw)
    return e.value.code, e.value.subcode


def new_task(api, **kw):
    body = {"name": "task", "type": "testing"}
    body.update(kw)
    return api.call("tasks.create", **body)["id"]


def new_model(api, **kw):
    body = {"name": "model", "uri": "file:///m"}
    body.update(kw)
    return api.call("models.create", **body)["id"]


def test_make_public_and_private(api):
    p = api.call("projects.create", name="shared one")["id"]
    # only a public project of the caller's own company can be made private
    assert err_codes(api.call, "projects.make_private", ids=[p]) == (400, 401)
    assert api.call("projects.make_public", ids=[p])["updated"] == 1
    assert [x["id"] for x in api.call("projects.get_all", id=[p])["projects"]] == [p]
    assert err_codes(api.call, "projects.update", project=p, name="renamed") == (403, 21)
    assert err_codes(api.call, "projects.make_public", ids=[p]) == (400, 401)
    assert api.call("projects.make_private", ids=[p])["updated"] == 1
    assert api.call("projects.update", project=p, name="renamed")["updated"] == 1
    assert err_codes(api.call, "projects.make_public", ids="nope") == (400, 12)


def test_task_parents(api):
    p = api.call("projects.create", name="parents")["id"]
    sub = api.call("projects.create", name="parents/sub")["id"]
    pa = new_task(api, name="Parent B", project=p)
    pb = new_task(api, name="parent a", project=sub)
    loose = new_task(api, name="Loose parent")
    new_task(api, name="child1", project=p, parent=pa)
    c2 = new_task(api, name="child2", project=sub, parent=pb)
    new_task(api, name="child3", parent=loose)
    api.call("tasks.archive", tasks=[c2])

    got = api.call("projects.get_task_parents", projects=[p])["parents"]
    assert got == [{"id": pa, "name": "Parent B", "project": {"id": p, "name": "parents"}},
                   {"id": pb, "name": "parent a", "project": {"id": sub, "name": "parents/sub"}}]
    got = api.call("projects.get_task_parents", projects=[p], include_subprojects=False)["parents"]
    assert [x["id"] for x in got] == [pa]
    got = api.call("projects.get_task_parents")["parents"]
    assert {"id": loose, "name": "Loose parent"} in got and len(got) == 3
    # null stands for "no project"
    got = api.call("projects.get_task_parents", projects=[None])["parents"]
    assert [x["id"] for x in got] == [loose]
    got = api.call("projects.get_task_parents", projects=[None, sub])["parents"]
    assert [x["id"] for x in got] == [loose, pb]
    got = api.call("projects.get_task_parents", projects=[p], tasks_state="archived")["parents"]
    assert [x["id"] for x in got] == [pb]
    got = api.call("projects.get_task_parents", projects=[p], tasks_state="active")["parents"]
    assert [x["id"] for x in got] == [pa]
    got = api.call("projects.get_task_parents", task_name="^parent")["parents"]
    assert [x["id"] for x in got] == [pa, pb]          # case-insensitive, sorted by name
    assert err_codes(api.call, "projects.get_task_parents", tasks_state="gone") == (400, 12)
    assert err_codes(api.call, "projects.get_task_parents", projects="x") == (400, 12)


def test_model_metadata_keys_and_values(api):
    p = api.call("projects.create", name="meta")["id"]
    sub = api.call("projects.create", name="meta/sub")["id"]

    def meta(**kv):
        return {k: {"key": k, "type": "str", "value": v} for k, v in kv.items()}

    new_model(api, project=p, metadata=meta(b="1", a="x"))
    new_model(api, project=sub, metadata=meta(c="2", a="y"))
    new_model(api, metadata=meta(root="r", a="x"))

    r = api.call("projects.get_model_metadata_keys", project=p)
    assert (r["keys"], r["total"], r["remaining"]) == (["a", "b", "c"], 3, 0)
    r = api.call("projects.get_model_metadata_keys", project=p, include_subprojects=False)
    assert r["keys"] == ["a", "b"]
    r = api.call("projects.get_model_metadata_keys", project=p, page=0, page_size=2)
    assert (r["keys"], r["total"], r["remaining"]) == (["a", "b"], 3, 1)
    # no project: every model, or only those outside any project
    assert api.call("projects.get_model_metadata_keys")["keys"] == ["a", "b", "c", "root"]
    r = api.call("projects.get_model_metadata_keys", include_subprojects=False)
    assert r["keys"] == ["a", "root"]

    r = api.call("projects.get_model_metadata_values", key="a")
    assert (r["total"], r["values"]) == (2, ["x", "y"])
    r = api.call("projects.get_model_metadata_values", key="a", projects=[sub])
    assert r["values"] == ["y"]
    assert api.call("projects.get_model_metadata_values", key="none")["values"] == []
    assert err_codes(api.call, "projects.get_model_metadata_values") == (400, 12)


def test_validate_delete_and_delete_rules(api):
    p = api.call("projects.create", name="del rules")["id"]
    t = new_task(api, project=p)
    v = api.call("projects.validate_delete", project=p)
    assert (v["tasks"], v["non_archived_tasks"], v["models"], v["datasets"]) == (1, 1, 0, 0)
    assert err_codes(api.call, "projects.delete", project=p) == (400, 402)
    api.call("tasks.archive", tasks=[t])
    assert api.call("projects.validate_delete", project=p)["non_archived_tasks"] == 0
    m = new_model(api, project=p)
    assert api.call("projects.validate_delete", project=p)["non_archived_models"] == 1
    assert err_codes(api.call, "projects.delete", project=p) == (400, 405)
    api.call("models.archive_many", ids=[m])
    d = api.call("projects.delete", project=p)
    assert (d["deleted"], d["disassociated_tasks"]) == (1, 1)
    assert "project" not in api.call("tasks.get_by_id", task=t)["task"]
    assert "project" not in api.call("models.get_by_id", model=m)["model"]
    assert err_codes(api.call, "projects.validate_delete", project=p) == (400, 401)

    # datasets block while a version is live, pipelines while a controller is not archived
    top = api.call("projects.create", name="del top")["id"]
    ds = api.call("projects.create", name="del top/.datasets/dset", system_tags=["dataset"])["id"]
    pl = api.call("projects.create", name="del top/.pipelines/pipe", system_tags=["pipeline"])["id"]
    dt = new_task(api, project=ds, system_tags=["dataset"])
    ct = new_task(api, project=pl, type="controller", system_tags=["pipeline"])
    v = api.call("projects.validate_delete", project=top)
    assert (v["datasets"], v["pipelines"], v["tasks"]) == (1, 1, 0)
    assert err_codes(api.call, "projects.delete", project=top) == (400, 413)
    api.call("tasks.edit", task=ct, system_tags=["archived"])
    assert err_codes(api.call, "projects.delete", project=top) == (400, 406)
    api.call("tasks.delete", task=dt)
    d = api.call("projects.delete", project=top, delete_contents=True)
    assert d["deleted_tasks"] == 1
    assert err_codes(api.call, "tasks.get_by_id", task=ct) == (400, 101)
    assert err_codes(api.call, "projects.get_by_id", project=pl) == (400, 401)


def test_project_entity_and_org_tags(api):
    p1 = api.call("projects.create", name="tags one", tags=["p1", "shared"])["id"]
    p2 = api.call("projects.create", name="tags two", tags=["p2"], system_tags=["hidden"])["id"]
    t1 = new_task(api, project=p1, tags=["b", "a"], system_tags=["s1"])
    new_task(api, project=p2, tags=["c"])
    new_model(api, project=p1, tags=["m1"])
    pub = new_task(api, tags=["public only"])
    api.call("tasks.make_public", ids=[pub])

    assert api.call("projects.get_task_tags", projects=[p1]) == {"tags": ["a", "b"]}
    r = api.call("projects.get_task_tags", projects=[p1, p2], include_system=True)
    assert r == {"tags": ["a", "b", "c"], "system_tags": ["s1"]}
    assert api.call("projects.get_model_tags", projects=[p1])["tags"] == ["m1"]
    assert api.call("projects.get_model_tags", projects=[p2])["tags"] == []
    r = api.call("projects.get_task_tags", filter={"system_tags": ["__$not", "s1"]})
    assert r["tags"] == ["c"]                       # public tasks do not count either

    assert api.call("projects.get_project_tags")["tags"] == ["p1", "p2", "shared"]
    r = api.call("projects.get_project_tags", projects=[p1, p2],
                 filter={"system_tags": ["-hidden"]}, include_system=True)
    assert r == {"tags": ["p1", "shared"], "system_tags": []}

    r = api.call("organization.get_tags", include_system=True)
    assert r == {"tags": ["a", "b", "c", "m1"], "system_tags": ["s1"]}
    assert api.call("organization.get_tags", filter={"tags": ["c"]})["tags"] == ["c"]
    api.call("tasks.delete", task=t1, force=True)
    assert api.call("organization.get_tags")["tags"] == ["c", "m1"]
    assert err_codes(api.call, "organization.get_tags", filter="x") == (400, 12)
    assert err_codes(api.call, "projects.get_task_tags", filter={"tags": [1]}) == (400, 12)


def test_update_tags(api):
    t = new_task(api, tags=["old"])
    m = new_model(api, tags=["keep"])
    r = api.call("tasks.update_tags", ids=[t], add_tags=["new", "b"], remove_tags=["old"])
    assert r["updated"] == 2                        # each operation counts, as upstream
    assert api.call("tasks.get_by_id", task=t)["task"]["tags"] == ["b", "new"]
    assert api.call("models.update_tags", ids=[m], add_tags=["x"])["updated"] == 1
    assert api.call("models.get_by_id", model=m)["model"]["tags"] == ["keep", "x"]
    assert err_codes(api.call, "tasks.update_tags", ids=[t]) == (400, 12)
    assert err_codes(api.call, "tasks.update_tags", add_tags=["x"]) == (400, 12)
    assert err_codes(api.call, "tasks.update_tags", ids=["nope"], add_tags=["x"]) == (400, 101)
    assert err_codes(api.call, "tasks.update_tags", ids=[t], add_tags=[1]) == (400, 12)
    api.call("tasks.make_public", ids=[t])
    assert err_codes(api.call, "tasks.update_tags", ids=[t], add_tags=["x"]) == (403, 21)


def test_tags_of_old_clients(server, api):
    old = server.api(version="2.2")
    t = old.call("tasks.create", name="old tags", type="testing", tags=["development", "x"])["id"]
    p = old.call("projects.create", name="old project", tags=["public", "y"])["id"]
    assert sorted(old.call("tasks.get_by_id", task=t)["task"]["tags"]) == ["development", "x"]
    new = api.call("tasks.get_by_id", task=t)["task"]
    assert (new["tags"], new["system_tags"]) == (["x"], ["development"])
    got = old.call("tasks.get_all", tags=["-development"], name="old tags")["tasks"]
    assert t not in [x["id"] for x in got]
    old.call("projects.update", project=p, tags=["y"])
    pr = api.call("projects.get_by_id", project=p)["project"]
    assert (pr["tags"], pr["system_tags"]) == (["y"], [])
