"""projects.get_all(_ex) as the web app's Projects page asks it: shallow_search / parent /
basename, include_stats (over subprojects), check_own_contents, children_type with
children_tags(_filter), include_dataset_stats, active_users and search_hidden: real server-lite
over HTTP."""
import time

import pytest

from clearml_api import ApiError


def new_task(api, **kw):
    body = {"name": "task", "type": "testing"}
    body.update(kw)
    return api.call("tasks.create", **body)["id"]


def project(api, name, **kw):
    return api.call("projects.create", name=name, description="", **kw)["id"]


def run(api, *tasks):
    for t in tasks:
        api.call("tasks.started", task=t)
    time.sleep(1.1)
    for t in tasks:
        api.call("tasks.stopped", task=t)


def ids(res):
    return [p["id"] for p in res["projects"]]


def test_shallow_parent_and_basename(api):
    a = project(api, "alpha")
    b = project(api, "alpha/beta")
    c = project(api, "alpha/beta/alpha")
    d = project(api, "delta")
    got = ids(api.call("projects.get_all_ex", shallow_search=True))
    assert a in got and d in got and b not in got and c not in got
    assert ids(api.call("projects.get_all_ex", name="alpha", shallow_search=True)) == [a]
    assert ids(api.call("projects.get_all_ex", name="alpha", parent=[a])) == [b, c]
    assert ids(api.call("projects.get_all_ex", parent=[a], shallow_search=True)) == [b]
    assert ids(api.call("projects.get_all_ex", name="alpha", parent=[b])) == [c]
    assert ids(api.call("projects.get_all_ex", basename="beta", shallow_search=True)) == []
    assert ids(api.call("projects.get_all_ex", basename="beta")) == [b]
    # get_all knows shallow_search too, and keeps references as plain ids
    res = api.call("projects.get_all", shallow_search=True)["projects"]
    assert b not in [p["id"] for p in res]
    assert api.call("projects.get_all", id=[b])["projects"][0]["parent"] == a
    assert api.call("projects.get_all_ex", id=[b])["projects"][0]["parent"] == {"id": a}


def test_stats_cover_subprojects(api):
    top = project(api, "stats top")
    sub = project(api, "stats top/sub")
    other = project(api, "stats other")
    active = new_task(api, project=sub)
    archived = new_task(api, project=sub, system_tags=["archived"])
    run(api, active, archived)
    new_task(api, project=top)
    res = api.call("projects.get_all_ex", id=[top, other], include_stats=True)["projects"]
    p = next(x for x in res if x["id"] == top)
    assert set(p["stats"]) == {"active"}
    st = p["stats"]["active"]
    assert st["total_tasks"] == 2
    assert st["status_count"]["stopped"] == 1 and st["status_count"]["created"] == 1
    assert st["status_count"]["in_progress"] == 0 and "unknown" in st["status_count"]
    assert st["total_runtime"] == 1
    assert st["completed_tasks_24h"] == 1
    assert st["last_task_run"]
    assert p["sub_projects"] == [{"id": sub, "name": "stats top/sub"}]
    q = next(x for x in res if x["id"] == other)
    assert q["stats"]["active"]["total_tasks"] == 0 and q["stats"]["active"]["last_task_run"] is None
    assert q["sub_projects"] == []
    # stats_with_children false: the project's own tasks only
    p = api.call("projects.get_all_ex", id=[top], include_stats=True,
                 stats_with_children=False)["projects"][0]
    assert p["stats"]["active"]["total_tasks"] == 1 and p["sub_projects"] == []
    # include_stats_filter narrows the tasks counted
    p = api.call("projects.get_all_ex", id=[top], include_stats=True,
                 include_stats_filter={"status": ["stopped"]})["projects"][0]
    assert p["stats"]["active"]["total_tasks"] == 1
    # plain get_all has no stats
    assert "stats" not in api.call("projects.get_all", id=[top], include_stats=True)["projects"][0]


def test_check_own_contents(api):
    p1 = project(api, "own one")
    p2 = project(api, "own two")
    project(api, "own two/child")
    new_task(api, project=p1)
    new_task(api, project=p1, system_tags=["archived"])
    api.call("models.create", name="model one", uri="file:///m", project=p1)
    res = api.call("projects.get_all_ex", id=[p1, p2], check_own_contents=True)["projects"]
    r1 = next(x for x in res if x["id"] == p1)
    r2 = next(x for x in res if x["id"] == p2)
    assert (r1["own_tasks"], r1["own_models"]) == (1, 1)
    assert (r2["own_tasks"], r2["own_models"]) == (0, 0)


def report(api, name, project_id, tags=()):
    return api.call("reports.create", name=name, project=project_id, tags=list(tags))["id"]


def test_children_type(api):
    root = project(api, "kids")
    ds = project(api, "kids/Pr1/Data", system_tags=["dataset"], tags=["hello", "world"])
    new_task(api, name="ds task", type="data_processing", system_tags=["dataset"], project=ds)
    new_task(api, project=ds)
    pl = project(api, "kids/Pr2/Pipe", system_tags=["pipeline"])
    new_task(api, name="pl task", type="controller", system_tags=["pipeline"], project=pl)
    new_task(api, project=pl)
    p3 = project(api, "kids/Pr3")
    report(api, "rep", p3)
    new_task(api, project=p3)

    res = api.call("projects.get_all_ex", parent=[root], shallow_search=True,
                   include_stats=True)["projects"]
    assert {p["basename"]: p["stats"]["active"]["total_tasks"] for p in res} == \
        {"Pr1": 2, "Pr2": 2, "Pr3": 1}
    for i, kind in enumerate(("dataset", "pipeline", "report")):
        res = api.call("projects.get_all_ex", parent=[root], children_type=kind,
                       shallow_search=True, include_stats=True,
                       check_own_contents=True)["projects"]
        assert [p["basename"] for p in res] == ["Pr%d" % (i + 1)]
        p = res[0]
        if kind == "dataset":
            assert p["own_datasets"] == 1 and "own_tasks" not in p
            assert p["stats"]["datasets"] == {"count": 1, "tags": ["hello", "world"]}
        else:
            assert p["own_tasks"] == 0 and "own_datasets" not in p
            assert p["stats"]["active"]["total_tasks"] == 1


def test_children_tags(api):
    root = project(api, "tagged")
    p1 = project(api, "tagged/one")
    p2 = project(api, "tagged/two")
    report(api, "rep", p1)
    report(api, "rep", p2, ["t1", "t2"])
    report(api, "rep", p2, ["t1"])

    def query(**kw):
        res = api.call("projects.get_all_ex", parent=[root], children_type="report",
                       shallow_search=True, include_stats=True, **kw)["projects"]
        return sorted((p["basename"], p["stats"]["active"]["total_tasks"]) for p in res)

    assert query() == [("one", 1), ("two", 2)]
    assert query(children_tags=["t1", "t2"]) == [("two", 2)]
    assert query(children_tags=["__$all", "t1", "t2"]) == [("two", 1)]
    assert query(children_tags=["-t1", "-t2"]) == [("one", 1)]
    assert query(children_tags=["__$any", "__$not", "t1", "t2"]) == [("one", 1), ("two", 1)]
    assert query(children_tags_filter={"any": {"include": ["t1", "t2"]}}) == [("two", 2)]
    assert query(children_tags_filter={"all": {"include": ["t1", "t2"]}}) == [("two", 1)]
    assert query(children_tags_filter={"all": {"exclude": ["t1", "t2"]}}) == [("one", 1)]


def test_root_reports_project(api):
    report(api, "root rep", None)
    res = api.call("projects.get_all_ex", name=r"^\.reports$", children_type="report",
                   check_own_contents=True, search_hidden=True, allow_public=False)["projects"]
    assert [(p["name"], p["own_tasks"], p["hidden"]) for p in res] == [(".reports", 1, True)]
    # hidden projects stay out unless asked for
    assert api.call("projects.get_all_ex", name=r"^\.reports$")["projects"] == []


def test_dataset_stats(api):
    p = project(api, "ds stats", system_tags=["dataset"])
    t = new_task(api, project=p)
    got = api.call("projects.get_all_ex", id=[p], include_dataset_stats=True)["projects"][0]
    assert got["dataset_stats"] is None
    api.call("tasks.edit", task=t, runtime={"ds_file_count": 2, "ds_total_size": 1000})
    got = api.call("projects.get_all_ex", id=[p], include_dataset_stats=True)["projects"][0]
    assert got["dataset_stats"] == {"file_count": 2, "total_size": 1000}


def test_active_users(api):
    p = project(api, "busy")
    q = project(api, "idle")
    t = new_task(api, project=p)
    me = api.call("tasks.get_all", id=[t], only_fields=["user"])["tasks"][0]["user"]
    got = ids(api.call("projects.get_all_ex", id=[p, q], active_users=[me]))
    # a project the user created counts as activity too, as upstream
    assert got == [p, q]
    assert ids(api.call("projects.get_all_ex", id=[p, q], active_users=["nobody"])) == []
    # children_tags narrow only children of a children_type
    assert ids(api.call("projects.get_all_ex", id=[p, q], active_users=[me],
                        children_tags=["none such"])) == [p, q]


@pytest.mark.parametrize("body", [
    {"children_type": "bogus"},
    {"parent": "not-a-list"},
    {"active_users": "me"},
    {"include_stats": True, "include_stats_filter": {"tags": []}},
    {"children_type": "report", "children_tags_filter": {"op": "xor"}},
])
def test_bad_requests(api, body):
    with pytest.raises(ApiError) as e:
        api.call("projects.get_all_ex", **body)
    assert (e.value.code, e.value.subcode) == (400, 12)
