"""The generic get_all query language of clearml-server-lite, as tasks.get_all_ex answers it:
`filters` with any/all/op on list fields, datetime conditions and ranges, _any_/_all_ by
datetime, scroll_id paging with refresh_scroll, empty values last in ascending order, the joins
of project/user/parent when the projection reaches inside them (other references {id}), and
projects.get_hyperparam_values."""
import time
from datetime import datetime, timedelta, timezone

import pytest

from clearml_api import ApiError


def _task(api, name="getall", **kw):
    return api.call("tasks.create", name=name, type="training", **kw)["id"]


def _ids(api, **body):
    return {t["id"] for t in api.call("tasks.get_all_ex", **body)["tasks"]}


def test_list_filters_any_all_op(api):
    letters = ["a", "b", "c", "d"]
    tasks = [_task(api, tags=letters[:i]) for i in range(len(letters) + 1)]

    def q(flt):
        return _ids(api, id=tasks, filters={"tags": flt})

    assert q({"any": {"include": ["a", "b"]}}) == set(tasks[1:])
    assert q({"any": {"exclude": ["c", "d"]}}) == set(tasks[:-1])
    assert q({"all": {"include": ["a", "b"]}}) == set(tasks[2:])
    assert q({"all": {"exclude": ["c", "d"]}}) == set(tasks[:-2])
    assert q({"all": {"include": ["a", "b"], "exclude": ["c", "d"]}}) == {tasks[2]}
    assert q({"any": {"include": ["a", "b"]}, "all": {"exclude": ["c", "d"]}}) == set(tasks[1:-2])
    assert q({"any": {"include": ["d"]}, "all": {"include": ["a"]}, "op": "or"}) == set(tasks[1:])
    # no tags: a null stands for the empty list
    assert q({"any": {"include": [None]}}) == {tasks[0]}
    assert q({"all": {"exclude": [None]}}) == set(tasks[1:])
    assert q({"all": {"include": ["a", None]}}) == set()
    # a filter replaces the plain query of the same field
    assert _ids(api, id=tasks, tags=["d"], filters={"tags": {"any": {"include": ["a"]}}}) == \
        set(tasks[1:])


def test_list_operators(api):
    t = [_task(api, tags=tags) for tags in ([], ["a"], ["a", "b"], ["b", "c"], ["a", "b", "c"])]

    def q(*tags):
        return _ids(api, id=t, tags=list(tags))

    assert q("a") == {t[1], t[2], t[4]}
    assert q("-a") == {t[0], t[3]}
    assert q("a", "__$not", "b") == {t[1]}
    assert q("__$not", "a", "__$not", "b") == {t[0]}
    assert q("__$all", "b", "c") == {t[3], t[4]}
    # a leading __$any makes the parts alternatives
    assert q("__$any", "a", "__$all", "b", "c") == {t[1], t[2], t[3], t[4]}
    assert q("__$or", "c", "__$not", "a") == {t[0], t[3], t[4]}
    # null: or no tags at all
    assert q(None) == {t[0]}
    assert q("c", None) == {t[0], t[3], t[4]}
    assert q("__$all", "a", "b", None) == {t[0], t[2], t[4]}


@pytest.mark.parametrize("bad", [{"tags": {"test": ["1"]}}, {"tags": {"any": ["a"]}},
                                 {"tags": {"any": {"include": ["a"]}, "op": "xor"}},
                                 {"tags": {"any": {"includes": ["a"]}}}, ["tags"]])
def test_bad_list_filters_are_validation_errors(api, bad):
    with pytest.raises(ApiError) as e:
        api.call("tasks.get_all_ex", filters=bad)
    assert (e.value.code, e.value.subcode) == (400, 12)


def test_datetime_conditions_and_ranges(api):
    tasks = [_task(api) for _ in range(3)]
    time.sleep(0.05)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    time.sleep(0.05)
    for t in tasks:
        api.call("tasks.started", task=t)
    before = (now - timedelta(seconds=60)).isoformat()
    assert set(tasks) <= _ids(api, last_update=f">={now.isoformat()}")
    assert not set(tasks) & _ids(api, last_update=[f">={before}", f"<={now.isoformat()}"])
    assert not set(tasks) & _ids(api, last_update=f"<{now.isoformat()}Z")
    # the two-value form is a range, open ends allowed
    assert set(tasks) <= _ids(api, last_update=[now.isoformat(), None])
    assert not set(tasks) & _ids(api, last_update=[before, now.isoformat()])
    # a date alone is midnight UTC
    assert set(tasks) <= _ids(api, last_update=f">={now.date().isoformat()}")
    # range fields compare datetimes too
    assert set(tasks) <= _ids(api, started=[now.isoformat(), None])
    assert not set(tasks) & _ids(api, started=[before, now.isoformat()])
    # _any_/_all_ by datetime: status_changed moved but created did not
    fields = ["last_update", "created"]
    assert set(tasks) <= _ids(api, _any_={"datetime": f">={now.isoformat()}", "fields": fields})
    assert not set(tasks) & _ids(api, _all_={"datetime": f">={now.isoformat()}",
                                              "fields": fields})
    assert set(tasks) <= _ids(api, _all_={"datetime": [now.isoformat(), None],
                                          "fields": ["last_update", "status_changed"]})


def test_range_with_open_min_takes_missing_values(api):
    t1 = _task(api)
    t2 = _task(api)
    api.call("tasks.started", task=t2)
    assert t1 in _ids(api, id=[t1, t2], started=[None, "2999-01-01"])
    assert _ids(api, id=[t1, t2], started=["2000-01-01", None]) == {t2}


def test_scroll_and_refresh(api):
    tasks = [_task(api, name=f"scroll {i:02d}") for i in range(7)]
    body = dict(name="^scroll ", order_by=["name"], size=3)
    got, sid = [], None
    for _ in range(3):
        res = api.call("tasks.get_all_ex", scroll_id=sid, **body)
        assert res["scroll_id"]
        sid = res["scroll_id"]
        got.extend(t["id"] for t in res["tasks"])
    assert got == tasks
    assert api.call("tasks.get_all_ex", scroll_id=sid, **body)["tasks"] == []
    res = api.call("tasks.get_all_ex", scroll_id=sid, refresh_scroll=True, **body)
    assert [t["id"] for t in res["tasks"]] == tasks


def test_empty_values_last_in_ascending_order(api):
    tasks = [_task(api, name=f"ordering {i}") for i in range(6)]
    for t in tasks[:3]:
        api.call("tasks.started", task=t)
    only = ["id", "started"]
    asc = api.call("tasks.get_all_ex", id=tasks, order_by=["started"], only_fields=only)["tasks"]
    vals = [t.get("started") for t in asc]
    assert all(vals[:3]) and not any(vals[3:])
    assert vals[:3] == sorted(vals[:3])
    desc = api.call("tasks.get_all_ex", id=tasks, order_by=["-started"],
                    only_fields=only)["tasks"]
    vals = [t.get("started") for t in desc]
    assert all(vals[:3]) and not any(vals[3:])
    assert vals[:3] == sorted(vals[:3], reverse=True)
    # paging keeps that order
    pages = []
    for p in range(3):
        pages += api.call("tasks.get_all_ex", id=tasks, order_by=["started"], only_fields=only,
                          page=p, page_size=2)["tasks"]
    assert [t["id"] for t in pages] == [t["id"] for t in asc]


def test_get_all_ex_joins_project_user_parent(api):
    pid = api.call("projects.create", name="join me", description="")["id"]
    parent = _task(api, name="the parent", project=pid)
    child = _task(api, name="the child", project=pid, parent=parent)
    res = api.call("tasks.get_all_ex", id=[child],
                   only_fields=["name", "project.name", "user.name", "parent.name"])["tasks"][0]
    assert res["project"] == {"id": pid, "name": "join me"}
    assert res["parent"] == {"id": parent, "name": "the parent"}
    assert set(res["user"]) == {"id", "name"} and isinstance(res["user"]["name"], str)
    # get_all neither joins nor expands
    res = api.call("tasks.get_all", id=[child], only_fields=["project.name"])["tasks"][0]
    assert "name" not in (res.get("project") or {})
    res = api.call("tasks.get_all", id=[child])["tasks"][0]
    assert res["project"] == pid and res["parent"] == parent
    # get_all_ex: a reference not joined is {id}
    res = api.call("tasks.get_all_ex", id=[child], only_fields=["project"])["tasks"][0]
    assert res["project"] == {"id": pid}
    res = api.call("tasks.get_all_ex", id=[child])["tasks"][0]
    assert res["project"] == {"id": pid} and res["parent"] == {"id": parent}
    assert set(res["company"]) == {"id"} and set(res["user"]) == {"id"}
    # filters still see the stored id when the join is asked for
    assert _ids(api, project=[pid], only_fields=["project.name"]) == {parent, child}


def test_get_hyperparam_values(api):
    pid = api.call("projects.create", name="hp values", description="")["id"]
    sub = api.call("projects.create", name="hp values/sub", description="")["id"]
    other = api.call("projects.create", name="hp other", description="")["id"]
    for i, p in enumerate([pid, pid, sub, other, pid]):
        t = _task(api, project=p)
        value = ["10", "2", "1", "999", "2"][i]
        api.call("tasks.edit_hyper_params", task=t, hyperparams=[
            {"section": "Se$tion.1", "name": "lr", "type": "str", "value": value}])

    def values(**kw):
        return api.call("projects.get_hyperparam_values", section="Se$tion.1", name="lr", **kw)

    res = values(projects=[pid])
    assert res == {"total": 3, "values": ["1", "2", "10"]}
    assert values(projects=[pid], include_subprojects=False)["values"] == ["2", "10"]
    assert values()["values"] == ["1", "2", "10", "999"]
    assert values(projects=[pid], pattern="^1")["values"] == ["1", "10"]
    assert values(projects=[pid], pattern="^11")["total"] == 0
    assert values(projects=[pid], page=1, page_size=2) == {"total": 1, "values": ["10"]}
    res = api.call("projects.get_hyperparam_values", projects=[pid], section="x", name="y")
    assert res == {"total": 0, "values": []}
    with pytest.raises(ApiError) as e:
        api.call("projects.get_hyperparam_values", projects=[pid], section="x")
    assert e.value.code == 400
