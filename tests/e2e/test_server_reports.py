"""clearml-server-lite reports.*: a report is a hidden task of type report in a hidden
".reports" project (the root one or "<project>/.reports"); create, update (drafts only, except
name/tags/comment), move (the emptied .reports project goes), publish, archive/unarchive, delete
(force rules), get_all_ex by project (a project stands for its .reports child, null for the
root), get_tags, and get_task_data with scalar histograms, plots, debug images and single
values of tasks and models."""
import pytest

from clearml_api import ApiError


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as ei:
        fn(*a, **kw)
    return ei.value.code, ei.value.subcode


def report(api, name="Report one", **kw):
    return api.call("reports.create", name=name, **kw)


def task(api, tid):
    return api.call("tasks.get_by_id", task=tid)["task"]


def project_named(api, name):
    ps = api.call("projects.get_all", name=f"^{name}$", search_hidden=True)["projects"]
    return ps[0] if ps else None


def test_create_is_a_hidden_report_task_in_a_hidden_reports_project(api):
    r = report(api, comment="my report", tags=["b", "a"], report="text",
               report_assets=["file://x.png"])
    t = task(api, r["id"])
    assert t["type"] == "report" and t["status"] == "created"
    assert set(t["system_tags"]) == {"hidden", "reports"}
    assert t["tags"] == ["a", "b"] and t["comment"] == "my report"
    assert t["report"] == "text" and t["report_assets"] == ["file://x.png"]
    assert t["project"] == r["project_id"]
    p = project_named(api, r"\.reports")
    assert p["id"] == r["project_id"] and set(p["system_tags"]) == {"hidden", "reports"}
    assert api.call("projects.get_all", name=r"^\.reports$")["projects"] == []
    # hidden from the task listings unless asked for by id or with search_hidden
    assert r["id"] not in {x["id"] for x in api.call("tasks.get_all")["tasks"]}
    assert r["id"] not in {x["id"] for x in api.call("tasks.get_all_ex")["tasks"]}
    assert [x["id"] for x in api.call("tasks.get_all", id=[r["id"]])["tasks"]] == [r["id"]]
    # a second report lands in the same project
    assert report(api, name="Report two")["project_id"] == r["project_id"]


def test_create_under_a_project_and_bad_input(api):
    pid = api.call("projects.create", name="Team", description="")["id"]
    r = report(api, project=pid)
    p = project_named(api, r"Team/\.reports")
    assert p["id"] == r["project_id"] and p["parent"] == pid
    assert err(report, api, project="nosuchproject") == (400, 401)
    assert err(report, api, name="ab") == (400, 12)
    assert err(api.call, "reports.create") == (400, 12)
    assert err(report, api, tags="notalist") == (400, 12)


def test_update_draft_then_published(api):
    rid = report(api, tags=["x"])["id"]
    d = api.call("reports.update", task=rid, comment="c2", tags=["z", "y"],
                 report="hello   world", report_assets=["a"])
    assert d["updated"] == 1
    assert d["fields"] == {"comment": "c2", "tags": ["y", "z"], "report": "hello world",
                           "report_assets": ["a"]}
    t = task(api, rid)
    assert (t["comment"], t["tags"], t["report"], t["report_assets"]) == \
        ("c2", ["y", "z"], "hello   world", ["a"])
    assert api.call("reports.update", task=rid)["updated"] == 0
    # the echoed report text is shortened as textwrap.shorten(width=100) does
    long_text = " ".join(["word%02d" % i for i in range(40)])
    short = api.call("reports.update", task=rid, report=long_text)["fields"]["report"]
    assert short.endswith(" [...]") and len(short) <= 100 and long_text.startswith(short[:-6])
    assert task(api, rid)["report"] == long_text

    d = api.call("reports.publish", task=rid, message="done")
    assert d["updated"] == 1 and d["fields"]["status"] == "published"
    t = task(api, rid)
    assert t["status"] == "published" and t["status_message"] == "done" and t.get("published")
    assert err(api.call, "reports.update", task=rid, report="new") == (400, 110)
    assert err(api.call, "reports.update", task=rid, report_assets=[]) == (400, 110)
    api.call("reports.update", task=rid, name="New name", tags=["t"], comment="c3")
    t = task(api, rid)
    assert (t["name"], t["tags"], t["comment"]) == ("New name", ["t"], "c3")


def test_operations_refuse_plain_tasks_and_unknown_ids(api):
    tid = api.call("tasks.create", name="plain", type="training")["id"]
    for ep, extra in (("reports.update", {"comment": "x"}), ("reports.publish", {}),
                      ("reports.archive", {}), ("reports.unarchive", {}),
                      ("reports.delete", {}), ("reports.move", {"project": None})):
        assert err(api.call, ep, task=tid, **extra) == (400, 150), ep
        assert err(api.call, ep, task="nosuchtask", **extra) == (400, 101), ep
    assert task(api, tid)["status"] == "created"


def test_move_creates_target_and_drops_emptied_reports_project(api):
    r1, r2 = report(api, name="Rep1"), report(api, name="Rep2")
    root = r1["project_id"]
    assert err(api.call, "reports.move", task=r1["id"]) == (400, 11)
    target = api.call("reports.move", task=r1["id"], project_name="Moved")["project_id"]
    p = project_named(api, r"Moved/\.reports")
    assert p["id"] == target and set(p["system_tags"]) == {"hidden", "reports"}
    assert project_named(api, "Moved") is not None
    assert project_named(api, r"\.reports")["id"] == root  # Rep2 still there
    assert api.call("reports.move", task=r2["id"], project=target)["project_id"] == target
    assert project_named(api, r"\.reports") is None
    assert task(api, r2["id"])["project"] == target
    # project_name may name the .reports project itself; project null is the root
    assert api.call("reports.move", task=r2["id"],
                    project_name="Moved/.reports")["project_id"] == target
    back = api.call("reports.move", task=r2["id"], project=None)["project_id"]
    p = project_named(api, r"\.reports")
    assert p["id"] == back and "parent" not in p
    # moving to a plain project id means its .reports child
    pid = project_named(api, "Moved")["id"]
    assert api.call("reports.move", task=r2["id"], project=pid)["project_id"] == target
    assert err(api.call, "reports.move", task=r2["id"], project="nosuchproject") == (400, 401)


def test_archive_unarchive_delete(api):
    r = report(api)
    rid = r["id"]
    assert api.call("reports.archive", task=rid, message="old")["archived"] == 1
    t = task(api, rid)
    assert "archived" in t["system_tags"] and t["status_message"] == "old"
    assert api.call("reports.unarchive", task=rid)["unarchived"] == 1
    assert "archived" not in task(api, rid)["system_tags"]

    api.call("reports.publish", task=rid)
    assert err(api.call, "reports.delete", task=rid) == (400, 123)
    api.call("reports.archive", task=rid)
    assert api.call("reports.delete", task=rid) == {"deleted": 1}
    assert err(task, api, rid) == (400, 101)
    assert project_named(api, r"\.reports") is None

    r2 = report(api, name="Forced")
    api.call("reports.publish", task=r2["id"])
    assert api.call("reports.delete", task=r2["id"], force=True)["deleted"] == 1


def test_get_all_ex_by_project_and_search(api):
    root = report(api, name="Root report")["id"]
    pid = api.call("projects.create", name="Proj", description="")["id"]
    sub = api.call("projects.create", name="Proj/Sub", description="")["id"]
    inproj = report(api, name="Proj report", project=pid)["id"]
    insub = report(api, name="Sub report", project=sub)["id"]
    plain = api.call("tasks.create", name="Root report task", type="training")["id"]

    ids = {t["id"] for t in api.call("reports.get_all_ex")["tasks"]}
    assert {root, inproj, insub} <= ids and plain not in ids
    assert [t["id"] for t in api.call("reports.get_all_ex", project=pid)["tasks"]] == [inproj]
    reports_pid = task(api, inproj)["project"]
    assert [t["id"] for t in api.call("reports.get_all_ex",
                                      project=[reports_pid])["tasks"]] == [inproj]
    got = {t["id"] for t in api.call("reports.get_all_ex", project=[pid],
                                     include_subprojects=True)["tasks"]}
    assert got == {inproj, insub}
    got = {t["id"] for t in api.call("reports.get_all_ex", project=[None])["tasks"]}
    assert root in got and inproj not in got
    empty = api.call("projects.create", name="Empty", description="")["id"]
    assert api.call("reports.get_all_ex", project=empty)["tasks"] == []

    anyq = {"pattern": "needle", "fields": ["name", "id", "tags", "report"]}
    assert api.call("reports.get_all_ex", _any_=anyq)["tasks"] == []
    api.call("reports.update", task=root, report="a needle here")
    got = api.call("reports.get_all_ex", _any_=anyq, only_fields=["name"])["tasks"]
    assert [t["id"] for t in got] == [root] and got[0]["name"] == "Root report"


def test_get_tags(api):
    assert api.call("reports.get_tags")["tags"] == []
    a = report(api, name="Tagged1", tags=["b", "a"])["id"]
    report(api, name="Tagged2", tags=["c", "a"])
    api.call("tasks.create", name="plain", type="training", tags=["plain"])
    assert api.call("reports.get_tags")["tags"] == ["a", "b", "c"]
    api.call("reports.update", task=a, tags=[])
    assert api.call("reports.get_tags")["tags"] == ["a", "c"]


def send_events(api, tid, model=False):
    extra = {"model_event": True} if model else {}
    evs = []
    for m in range(2):
        for v in range(2):
            base = dict(task=tid, metric=f"M{m}", variant=f"V{v}", **extra)
            evs.append(dict(base, type="training_debug_image", iter=1, url=f"u{m}{v}"))
            evs.append(dict(base, type="plot", iter=1, plot_str="p"))
            evs.append(dict(base, type="training_stats_scalar", iter=1, value=m * v))
            evs.append(dict(base, type="training_stats_scalar", iter=-(2 ** 31), value=m + v))
    assert api.batch("events.add_batch", evs)["added"] == len(evs)


@pytest.mark.parametrize("model", [False, True])
def test_get_task_data_with_events(api, model):
    if model:
        tid = api.call("models.create", name="data model", uri="file:///m", labels={})["id"]
    else:
        tid = api.call("tasks.create", name="data task", type="training")["id"]
    send_events(api, tid, model)
    d = api.call("reports.get_task_data", id=[tid], only_fields=["name"], model_events=model)
    assert [t["id"] for t in d["tasks"]] == [tid] and d["tasks"][0]["name"].startswith("data")
    assert not {"plots", "debug_images", "scalar_metrics_iter_histogram",
                "single_value_metrics"} & set(d)

    d = api.call("reports.get_task_data", id=[tid], only_fields=["name"], model_events=model,
                 debug_images={"metrics": []}, plots={"metrics": [{"metric": "M1"}]},
                 scalar_metrics_iter_histogram={}, single_value_metrics={})
    [di] = d["debug_images"]
    assert di["task"] == tid and len(di["iterations"]) == 1
    assert len(di["iterations"][0]["events"]) == 4
    assert set(d["plots"]) == {"M1"}
    for v in ("V0", "V1"):
        iters = d["plots"]["M1"][v][tid]
        assert list(iters) == ["1"] and len(iters["1"]["plots"]) == 1
        assert iters["1"]["plots"][0]["variant"] == v
    for m in ("M0", "M1"):
        for v in ("V0", "V1"):
            assert list(d["scalar_metrics_iter_histogram"][m][v]) == [tid]
    [sv] = d["single_value_metrics"]
    assert sv["task"] == tid and sv["task_name"].startswith("data")
    assert {(x["metric"], x["variant"]) for x in sv["values"]} == \
        {(f"M{m}", f"V{v}") for m in range(2) for v in range(2)}

    # debug images of chosen metrics are merged per task
    d = api.call("reports.get_task_data", id=[tid], model_events=model,
                 debug_images={"metrics": [{"metric": "M0"}, {"metric": "M1",
                                                              "variants": ["V1"]}]})
    [di] = d["debug_images"]
    assert sorted((e["metric"], e["variant"]) for e in di["iterations"][0]["events"]) == \
        [("M0", "V0"), ("M0", "V1"), ("M1", "V1")]
    # no task matched: empty sections, no error
    d = api.call("reports.get_task_data", id=["nosuchtask"], model_events=model, plots={},
                 debug_images={}, scalar_metrics_iter_histogram={}, single_value_metrics={})
    assert d["tasks"] == [] and d["plots"] == {} and d["debug_images"] == []
    assert err(api.call, "reports.get_task_data", plots="x") == (400, 12)
