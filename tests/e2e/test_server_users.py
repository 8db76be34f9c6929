"""users.* and impersonation as the real server's own tests and the web app use them: an admin
creates users (auth.create_user), calls as one of them (X-ClearML-Impersonate-As / Act-As),
edits and deletes them; preferences change by dotted paths; users.get_all_ex narrows to the users
active in projects. Real server-lite over HTTP."""
import json

import pytest

from clearml_api import ApiError


def call_as(api, user, endpoint, header="X-ClearML-Impersonate-As", **body):
    """endpoint called by the admin's token with an impersonation header; returns data."""
    status, resp = api.raw(endpoint, body, method="POST", headers={header: user})
    m = resp["meta"]
    if m["result_code"] != 200:
        raise ApiError(status, m["result_code"], m["result_subcode"], m["result_msg"], resp)
    return resp["data"]


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as e:
        fn(*a, **kw)
    return e.value.code, e.value.subcode


def company(api):
    return api.call("users.get_current_user")["user"]["company"]["id"]


def new_user(api, name, role=None):
    body = {"company": company(api), "name": name, "email": f"{name}@example.com"}
    if role:
        body["role"] = role
    return api.call("auth.create_user", **body)["id"]


def test_create_user_and_impersonate(api):
    uid = new_user(api, "alice")
    u = api.call("users.get_by_id", user=uid)["user"]
    assert u["name"] == "alice" and u["email"] == "alice@example.com" and u["role"] == "user"
    # a task created while impersonating belongs to that user
    tid = call_as(api, uid, "tasks.create", name="as alice", type="testing")["id"]
    assert api.call("tasks.get_by_id", task=tid)["task"]["user"] == uid
    assert call_as(api, uid, "users.get_current_user")["user"]["id"] == uid
    # Impersonate-As takes the user's role: a plain user may not create users
    assert err(call_as, api, uid, "auth.create_user", company=company(api), name="eve",
               email="eve@example.com")[0] == 403
    # Act-As keeps the caller's (admin) role
    bob = call_as(api, uid, "auth.create_user", header="X-ClearML-Act-As",
                  company=company(api), name="bob", email="bob@example.com")["id"]
    assert api.call("users.get_by_id", user=bob)["user"]["name"] == "bob"
    # the email identifies a user: a second one is refused
    assert err(new_user, api, "alice") == (400, 12)
    # an unknown user, both headers at once, a role outside the enum
    assert err(call_as, api, "nobody", "users.get_current_user") == (400, 6)
    status, resp = api.raw("users.get_current_user", {}, method="POST",
                           headers={"X-ClearML-Impersonate-As": uid, "X-ClearML-Act-As": uid})
    assert resp["meta"]["result_code"] == 400 and resp["meta"]["result_subcode"] == 5
    assert err(api.call, "auth.create_user", company=company(api), name="x",
               email="x@example.com", role="god") == (400, 12)


def test_plain_user_may_not_impersonate(api, server):
    uid = new_user(api, "carol")
    other = new_user(api, "dave")
    # carol's own credentials: made by carol herself while impersonated
    cred = call_as(api, uid, "auth.create_credentials")["credentials"]
    from clearml_api import ApiClient
    carol = ApiClient(server.url, cred["access_key"], cred["secret_key"])
    assert carol.call("users.get_current_user")["user"]["id"] == uid
    assert err(call_as, carol, other, "users.get_current_user") == (400, 6)
    assert err(carol.call, "users.delete", user=other)[0] == 403
    # a user edits itself, not others
    assert carol.call("users.update", user=uid, given_name="Caroline")["updated"] == 1
    assert api.call("users.get_by_id", user=uid)["user"]["given_name"] == "Caroline"
    assert err(carol.call, "users.update", user=other, name="hacked")[0] == 403
    # deleting a user removes its credentials: it can no longer log in
    api.call("users.delete", user=uid)
    assert err(api.call, "users.get_by_id", user=uid) == (400, 12)
    with pytest.raises(ApiError):
        ApiClient(server.url, cred["access_key"], cred["secret_key"])
    me = api.call("users.get_current_user")["user"]["id"]
    assert err(api.call, "users.delete", user=me) == (400, 12)


def test_active_in_projects(api):
    u1, u2, u3 = new_user(api, "u1"), new_user(api, "u2"), new_user(api, "u3")
    pid = api.call("projects.create", name="users proj", description="")["id"]
    sub = api.call("projects.create", name="users proj/sub", description="")["id"]
    other = api.call("projects.create", name="users other", description="")["id"]
    call_as(api, u2, "models.create", name="model", uri="file:///m")
    call_as(api, u3, "tasks.create", name="task", type="testing", project=sub)
    ids = [u1, u2, u3]
    got = lambda **kw: {u["id"] for u in api.call("users.get_all_ex", id=ids, **kw)["users"]}
    assert got() == {u1, u2, u3}
    assert got(active_in_projects=[]) == {u2, u3}
    assert got(active_in_projects=[pid]) == {u3}      # a subproject's task counts
    assert got(active_in_projects=[other]) == set()
    only = api.call("users.get_all_ex", id=[u1], only_fields=["name"])["users"]
    assert only == [{"id": u1, "name": "u1"}]


def test_preferences_by_dotted_path(api):
    uid = new_user(api, "prefs")
    steps = [
        ({"a": 0}, {"a": 0}),
        ({"b": 1}, {"a": 0, "b": 1}),
        ({"section.a": 2}, {"a": 0, "b": 1, "section": {"a": 2}}),
        ({"section": {"x": None}}, {"a": 0, "b": 1, "section": {"x": None}}),
        ({"section": None}, {"a": 0, "b": 1, "section": None}),
    ]
    for update, expected in steps:
        call_as(api, uid, "users.set_preferences", preferences=update)
        assert call_as(api, uid, "users.get_preferences")["preferences"] == expected
    # the admin's own preferences are untouched
    assert api.call("users.get_preferences")["preferences"] == {}
    for bad in ({"$where": 1}, {"s": {"a.b": 1}}, {"a.": 1}, {"b.c": 1}):
        assert err(call_as, api, uid, "users.set_preferences", preferences=bad)[0] == 400
    deep = {}
    node = deep
    for _ in range(40):
        node["k"] = {}
        node = node["k"]
    assert err(call_as, api, uid, "users.set_preferences", preferences=deep) == (400, 12)
    assert call_as(api, uid, "users.get_preferences")["preferences"]["b"] == 1


def test_project_user_names(api):
    """projects.get_user_names: who created the tasks (or models) of projects and subprojects."""
    u1, u2 = new_user(api, "names one"), new_user(api, "names two")
    top = api.call("projects.create", name="names proj", description="")["id"]
    sub = api.call("projects.create", name="names proj/sub", description="")["id"]
    call_as(api, u2, "tasks.create", name="task two", type="testing", project=sub)
    call_as(api, u1, "models.create", name="model one", uri="file:///m", project=top)
    got = api.call("projects.get_user_names", projects=[top])["users"]
    assert got == [{"id": u2, "name": "names two"}]
    assert api.call("projects.get_user_names", projects=[top], include_subprojects=False)["users"] == []
    got = api.call("projects.get_user_names", projects=[top], entity="model")["users"]
    assert got == [{"id": u1, "name": "names one"}]
    assert err(api.call, "projects.get_user_names", entity="queue") == (400, 12)
