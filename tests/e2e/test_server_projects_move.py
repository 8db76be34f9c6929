"""Where a project sits: projects.update renames in place (subprojects follow; the location only
changes through projects.move), projects.move (under a location, created when missing), and
projects.merge (live contents and subprojects into another project). Names are cleaned up as the
real server does. Real server-lite over HTTP."""
import pytest

from clearml_api import ApiError


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as e:
        fn(*a, **kw)
    return e.value.code, e.value.subcode


def proj(api, pid):
    return api.call("projects.get_by_id", project=pid)["project"]


def create(api, name, **kw):
    return api.call("projects.create", name=name, description="", **kw)["id"]


def test_names_are_cleaned_up(api):
    pid = create(api, " Clean // up /  here ")
    assert proj(api, pid)["name"] == "Clean/up/here" and proj(api, pid)["basename"] == "here"
    assert err(create, api, "/") == (400, 407)
    assert err(create, api, " / / ") == (400, 407)
    assert err(create, api, "Clean/up/here") == (400, 801)
    assert err(create, api, "Clean/ab") == (400, 800)  # a name part of at least 3 characters


def test_rename_move_merge(api):
    p1 = create(api, "Root1/Pr1")
    child = create(api, "Root1/Pr1/Pr2")
    root1 = proj(api, p1)["parent"]
    # rename in place: the subproject follows; the location may not change this way
    assert err(api.call, "projects.update", project=p1, name="Root2/Pr2") == (400, 408)
    assert api.call("projects.update", project=p1, name="Root1/Renamed")["updated"] == 1
    assert proj(api, p1)["basename"] == "Renamed"
    assert proj(api, child)["name"] == "Root1/Renamed/Pr2"
    # move under a new location (created), then the same place again is refused
    assert api.call("projects.move", project=p1, new_location="Root2")["moved"] == 2
    root2 = proj(api, p1)["parent"]
    assert root2 != root1 and proj(api, root2)["name"] == "Root2"
    assert proj(api, child)["name"] == "Root2/Renamed/Pr2" and proj(api, child)["parent"] == p1
    assert err(api.call, "projects.move", project=p1, new_location="Root2") == (400, 410)
    assert err(api.call, "projects.move", project=p1, new_location="Root2/Renamed/x") == (400, 411)
    # to the root
    assert api.call("projects.move", project=child)["moved"] == 1
    assert proj(api, child)["name"] == "Pr2" and "parent" not in proj(api, child)
    # a clash with an existing name moves nothing
    create(api, "Root1/Pr2")
    assert err(api.call, "projects.move", project=child, new_location="Root1") == (400, 801)
    assert proj(api, child)["name"] == "Pr2"

    # merge: live tasks and models and the subprojects go; archived ones stay; the source goes
    src = create(api, "Root3/Source")
    sub = create(api, "Root3/Source/Inner")
    live = api.call("tasks.create", name="live task", type="testing", project=src)["id"]
    old = api.call("tasks.create", name="old task", type="testing", project=src,
                   system_tags=["archived"])["id"]
    model = api.call("models.create", name="src model", uri="file:///m", project=src)["id"]
    assert err(api.call, "projects.merge", project=src, destination_project=sub) == (400, 412)
    assert err(api.call, "projects.merge", project=src, destination_project=src) == (400, 410)
    r = api.call("projects.merge", project=src, destination_project=p1)
    assert (r["moved_entities"], r["moved_projects"]) == (2, 1)
    assert api.call("tasks.get_by_id", task=live)["task"]["project"] == p1
    assert api.call("tasks.get_by_id", task=old)["task"]["project"] == src
    assert api.call("models.get_by_id", model=model)["model"]["project"] == p1
    assert proj(api, sub)["name"] == "Root2/Renamed/Inner" and proj(api, sub)["parent"] == p1
    assert err(api.call, "projects.get_by_id", project=src) == (400, 401)
    # deleting counts the projects removed, subprojects included
    d = api.call("projects.delete", project=root2, force=True)
    assert d["deleted"] == 3
