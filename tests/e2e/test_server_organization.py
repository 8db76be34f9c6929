"""clearml-server-lite organization.*: get_user_companies (the company and its users, sorted by
name), get_entities_count (every kind counted through its own get_all, hidden handling, forced
task types, active_users, limit, paging past one page, per-kind errors) and get_project_usages
(run time per day by project / user / queue, weighted by the resources a worker declared for
its queue, development tasks, validation)."""
import time
from datetime import datetime, timedelta, timezone

import pytest

from clearml_api import ApiError


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as ei:
        fn(*a, **kw)
    return ei.value.code, ei.value.subcode


def me(api):
    return api.call("users.get_current_user")["user"]


def new_user(api, name):
    return api.call("auth.create_user", company=me(api)["company"]["id"], name=name,
                    email=f"{name}@example.com")["id"]


def call_as(api, user, endpoint, **body):
    status, resp = api.raw(endpoint, body, method="POST",
                           headers={"X-ClearML-Impersonate-As": user})
    m = resp["meta"]
    if m["result_code"] != 200:
        raise ApiError(status, m["result_code"], m["result_subcode"], m["result_msg"], resp)
    return resp["data"]


def test_get_user_companies(api):
    new_user(api, "zed")
    bob = new_user(api, "bob")
    api.call("users.update", user=bob, avatar="https://example.com/bob.png")
    comp = api.call("organization.get_user_companies")["companies"]
    assert len(comp) == 1
    c = comp[0]
    assert c["id"] == me(api)["company"]["id"] and c["name"]
    assert c["allocated"] == len(c["owners"]) == 3
    names = [u["name"] for u in c["owners"]]
    assert names == sorted(names) and {"bob", "zed"} <= set(names)
    by_id = {u["id"]: u for u in c["owners"]}
    assert by_id[bob]["avatar"] == "https://example.com/bob.png"
    assert all("avatar" in u and u["id"] for u in c["owners"])


def test_get_entities_count(api):
    p1 = api.call("projects.create", name="count-a", description="")["id"]
    api.call("projects.create", name="count-a/sub", description="")
    api.call("projects.create", name="count-hidden", description="", system_tags=["hidden"])
    # (its parent ".pipelines" is created visible)
    api.call("projects.create", name=".pipelines/pipe", description="",
             system_tags=["hidden", "pipeline"])
    for i in range(3):
        api.call("tasks.create", name=f"task{i}", type="training", project=p1)
    api.call("tasks.create", name="hidden-t", type="training", project=p1, system_tags=["hidden"])
    api.call("tasks.create", name="ctl-run", type="controller", project=p1)
    api.call("models.create", name="model-1", uri="s3://b/m1", project=p1)

    c = api.call("organization.get_entities_count", version="2.34", projects={}, tasks={},
                 models={}, reports={}, pipeline_runs={"project": [p1]},
                 pipelines={"system_tags": ["pipeline"]}, dataset_versions={})
    assert c == {"projects": 3, "tasks": 4, "models": 1, "reports": 0, "pipeline_runs": 1,
                 "pipelines": 1, "dataset_versions": 0}
    c = api.call("organization.get_entities_count", version="2.34", search_hidden=True,
                 projects={}, tasks={})
    assert c == {"projects": 5, "tasks": 5}
    # the filters are get_all's own
    c = api.call("organization.get_entities_count", version="2.34",
                 tasks={"name": "^task[01]$", "project": [p1]}, projects={"name": "count-a"})
    assert c == {"tasks": 2, "projects": 2}
    c = api.call("organization.get_entities_count", version="2.34", limit=2, tasks={})
    assert c == {"tasks": 2}

    # active_users: tasks/models by user; projects where they worked, with the parents
    alice = new_user(api, "alice")
    sub2 = call_as(api, alice, "projects.create", name="count-b/deep", description="")["id"]
    call_as(api, alice, "tasks.create", name="by-alice", type="training", project=sub2)
    c = api.call("organization.get_entities_count", version="2.34", active_users=[alice],
                 tasks={}, projects={})
    assert c == {"tasks": 1, "projects": 2}
    c = api.call("organization.get_entities_count", version="2.34", active_users=[alice],
                 projects={"id": [p1]})
    assert c == {"projects": 0}

    # a bad filter of one kind is reported for it, the others still count
    c = api.call("organization.get_entities_count", version="2.34", tasks={"page_size": 5},
                 models={"name": "["}, projects=[1])
    assert c["tasks"] == 5 and set(c["errors"]) == {"models", "projects"}


def test_get_entities_count_pages_past_one_page(api):
    p = api.call("projects.create", name="many", description="")["id"]
    for i in range(503):
        api.call("tasks.create", name=f"many{i}", type="testing", project=p)
    c = api.call("organization.get_entities_count", version="2.34", tasks={"project": [p]})
    assert c == {"tasks": 503}
    c = api.call("organization.get_entities_count", version="2.34", limit=501,
                 tasks={"project": [p]})
    assert c == {"tasks": 501}


def _iso(dt):
    return dt.isoformat()


def test_get_project_usages(api):
    q = api.call("queues.create", name="usage-q")["id"]
    q2 = api.call("queues.create", name="usage-q2")["id"]
    api.call("workers.register", worker="w-usage", queues=[q], resources={"gpu_usage": 2})
    root = api.call("projects.create", name="usage", description="")["id"]
    child = api.call("projects.create", name="usage/child", description="")["id"]
    api.call("projects.create", name="usage/child/deeper", description="")
    deeper = api.call("projects.get_all", name="^usage/child/deeper$")["projects"][0]["id"]

    def run(name, project, queue=None, dev=False):
        t = api.call("tasks.create", name=name, type="training", project=project,
                     system_tags=["development"] if dev else [])["id"]
        if queue:
            api.call("tasks.enqueue", task=t, queue=queue)
        api.call("tasks.started", task=t)
        return t

    t_root = run("root-run", root, q)
    t_deep = run("deep-run", deeper, q2)
    t_dev = run("dev-run", child, dev=True)
    never = api.call("tasks.create", name="never", type="training", project=child)["id"]
    api.call("tasks.enqueue", task=never, queue=q)
    time.sleep(2.2)
    api.call("tasks.failed", task=t_deep)
    api.call("tasks.stopped", task=t_dev)

    now = datetime.now(timezone.utc)
    body = dict(projects=[root], from_date=_iso(now - timedelta(days=2)), to_date=_iso(now))
    res = api.call("organization.get_project_usages", **body)
    assert set(res) == {"projects", "users", "queues"}
    proj = {t["id"]: t for t in res["projects"]["total"]}
    # one project asked: its direct children are the groups (deeper folds into child)
    assert set(proj) == {root, child}
    assert proj[child]["name"] == "usage/child"
    assert proj[root]["duration"] >= 2 and proj[child]["duration"] >= 2
    assert proj[root]["gpu_usage"] == pytest.approx(2 * proj[root]["duration"])
    assert proj[child]["gpu_usage"] == pytest.approx(proj[child]["duration"])
    assert proj[child].get("gpu_artificial_weights") is True
    assert "gpu_artificial_weights" not in proj[root]
    assert "cpu_usage" not in proj[root]
    series = {s["id"]: s for s in res["projects"]["series"]}
    assert len(series[root]["dates"]) == 3 == len(series[root]["duration"])
    assert sum(series[root]["duration"]) == proj[root]["duration"]
    assert series[root]["duration"][-1] == proj[root]["duration"]
    assert series[root]["dates"][1] - series[root]["dates"][0] == 86400
    queues = {t["id"]: t for t in res["queues"]["total"]}
    assert set(queues) == {q, q2} and queues[q]["name"] == "usage-q"
    users = res["users"]["total"]
    assert len(users) == 1 and users[0]["id"] == me(api)["id"]
    assert users[0]["duration"] == proj[root]["duration"] + proj[child]["duration"]

    # development tasks (no queue) count only when asked for
    res = api.call("organization.get_project_usages", include_development=True,
                   breakdown_keys=["queue"], usage_fields=["duration", "cpu_usage"], **body)
    assert set(res) == {"queues"}
    queues = {t["id"]: t for t in res["queues"]["total"]}
    assert set(queues) == {q, q2, None}
    assert queues[None]["name"] is None and queues[None]["duration"] >= 2
    assert queues[None]["cpu_usage"] == pytest.approx(queues[None]["duration"])
    assert "gpu_usage" not in queues[q]

    # several projects: each with all its sub-projects folded into it
    other = api.call("projects.create", name="usage-other", description="")["id"]
    res = api.call("organization.get_project_usages", **dict(body, projects=[root, other]))
    proj = {t["id"]: t for t in res["projects"]["total"]}
    assert set(proj) == {root}
    assert proj[root]["duration"] == users[0]["duration"]
    # one project without runs of its own: its children are the groups
    res = api.call("organization.get_project_usages", **dict(body, projects=[child]))
    assert {t["id"] for t in res["projects"]["total"]} == {deeper}

    # a range before the runs holds nothing; no projects, nothing
    old = dict(body, from_date=_iso(now - timedelta(days=9)),
               to_date=_iso(now - timedelta(days=8)))
    assert api.call("organization.get_project_usages", **old)["projects"]["total"] == []
    empty = api.call("organization.get_project_usages", **dict(body, projects=[]))
    assert empty == {k: {"total": [], "series": []} for k in ("projects", "users", "queues")}

    assert err(api.call, "organization.get_project_usages",
               **dict(body, from_date=body["to_date"], to_date=body["from_date"])) == (400, 12)
    assert err(api.call, "organization.get_project_usages",
               **dict(body, breakdown_keys=["task"])) == (400, 12)
    assert err(api.call, "organization.get_project_usages",
               **dict(body, from_date="yesterday")) == (400, 12)
    assert err(api.call, "organization.get_project_usages", from_date=body["from_date"],
               to_date=body["to_date"]) == (400, 12)
    assert err(api.call, "workers.register", worker="w-bad", queues=[q],
               resources={"gpu_usage": "two"}) == (400, 12)
    assert t_root
