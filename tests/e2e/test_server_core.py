"""clearml-server-lite core: the wire (paths, versions, methods, bodies, envelope), auth and
tokens, limits, server/debug/users/projects endpoints, start-up contract and clean shutdown."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import stat
import subprocess
import time

import requests

from clearml_api import ApiClient, ApiError
from conftest import ServerLite, binary, read_conf_credentials


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_jwt(claims, secret=b"not-the-server-secret", alg="HS256"):
    h = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    p = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(sig)}"


def decode_jwt(tok):
    p = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def meta_of(resp):
    assert isinstance(resp, dict) and "meta" in resp, resp
    return resp["meta"]


def expect_err(api, endpoint, code, subcode, body=None, **kw):
    status, resp = api.raw(endpoint, body if body is not None else {}, **kw)
    m = meta_of(resp)
    assert (status, m["result_code"], m["result_subcode"]) == (code, code, subcode), resp
    assert resp["data"] == {}
    return m


# ---------------------------------------------------------------- start-up contract

def test_fresh_data_dir_has_conf_db_and_secret_modes(server):
    conf = os.path.join(server.data_dir, "clearml.conf")
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
    text = open(conf).read()
    assert f'api_server: "{server.url}"' in text
    assert "web_server" in text and "files_server" in text
    ak, sk = read_conf_credentials(conf)
    assert re.fullmatch(r"[A-Z0-9]{30}", ak)
    assert re.fullmatch(r"[A-Za-z0-9_\-]{60,80}", sk)
    db = os.path.join(server.data_dir, "server-lite.db")
    raw = open(db, "rb").read()
    for suffix in ("-wal",):
        if os.path.exists(db + suffix):
            raw += open(db + suffix, "rb").read()
    # the clear secret is only in the 0600 conf file, never in the database
    assert sk.encode() not in raw
    assert ak.encode() in raw


def test_default_queue_exists_on_first_start(api):
    d = api.call("queues.get_default")
    assert d["name"] == "default"
    q = api.call("queues.get_all", name="^default$")["queues"]
    assert len(q) == 1 and "default" in q[0]["system_tags"]


def test_help_and_bad_args():
    out = subprocess.run([binary("clearml-server-lite"), "--help"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0 and "--data-dir" in out.stdout and "--port" in out.stdout
    bad = subprocess.run([binary("clearml-server-lite"), "--port", "notaport"],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2
    bad = subprocess.run([binary("clearml-server-lite"), "--bogus"], capture_output=True,
                         text=True, timeout=10)
    assert bad.returncode == 2


def test_sigterm_and_sigint_exit_zero(tmp_path):
    import signal
    s = ServerLite(tmp_path / "d1")
    assert s.api().call("debug.ping")["msg"] == "ClearML server"
    assert s.stop(signal.SIGTERM) == 0
    s = ServerLite(tmp_path / "d2")
    assert s.stop(signal.SIGINT) == 0


def test_credentials_create_cli(server):
    out = subprocess.run([binary("clearml-server-lite"), "credentials", "create", "--data-dir",
                          server.data_dir], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    ak = re.search(r'access_key:\s*"([A-Z0-9]+)"', out.stdout).group(1)
    sk = re.search(r'secret_key:\s*"([A-Za-z0-9_\-]+)"', out.stdout).group(1)
    assert len(ak) == 30 and len(sk) >= 60
    api = ApiClient(server.url, ak, sk)     # the running server accepts the new pair
    assert api.call("users.get_current_user")["user"]["id"]


# ---------------------------------------------------------------- paths, versions, envelope

def test_envelope_shape(api, server):
    r = requests.post(f"{server.url}/v2.23/debug.ping", json={"x": 1},
                      headers={"X-ClearML-Trx": "trx-123"}, timeout=10)
    assert r.status_code == 200
    assert r.headers.get("server") == "clearml"
    body = r.json()
    assert list(body.keys()) == ["meta", "data"]
    m = body["meta"]
    assert re.fullmatch(r"[0-9a-f]{32}", m["id"])
    assert m["trx"] == "trx-123"
    assert m["endpoint"] == {"name": "debug.ping", "requested_version": "2.23",
                             "actual_version": "1.0"}
    assert (m["result_code"], m["result_subcode"], m["result_msg"]) == (200, 0, "OK")
    assert m["error_stack"] == "" and m["error_data"] == {}
    assert body["data"] == {"msg": "ClearML server", "x": 1}
    # no trx header: trx is the call id
    m2 = requests.get(f"{server.url}/debug.ping", timeout=10).json()["meta"]
    assert m2["trx"] == m2["id"] and m2["endpoint"]["requested_version"] == "2.31"


def test_error_envelope_has_null_stack_and_empty_data(api):
    m = expect_err(api, "tasks.get_by_id", 400, 101, {"task": "nope"})
    assert m["error_stack"] is None and m["error_data"] == {}
    assert m["result_msg"] == "Invalid task id: id=nope"


def test_versions_and_paths(api, server):
    for v in ("2.5", "2.13", "999.0"):
        st, resp = api.raw("debug.ping", {}, version=v)
        assert st == 200 and resp["meta"]["endpoint"]["requested_version"] == v
    # below 2.1 versions are floats
    st, resp = api.raw("debug.ping", {}, version="1.5")
    assert resp["meta"]["endpoint"]["requested_version"] == 1.5
    # trailing slash, no leading version
    r = requests.get(f"{server.url}/debug.ping/", timeout=10)
    assert r.status_code == 200
    # "v2" has one digit: not a version, and the path does not parse
    r = requests.get(f"{server.url}/v2/debug.ping", timeout=10)
    assert r.status_code == 400
    m = r.json()["meta"]
    assert m["endpoint"]["name"] == "" and m["result_code"] == 400
    assert m["endpoint"]["requested_version"] == 1.0
    r = requests.get(f"{server.url}/", timeout=10)
    assert r.status_code == 400 and r.json()["meta"]["result_msg"] == "Invalid request path /"
    # unknown endpoint → 404 with the real server's message
    m = expect_err(api, "tasks.does_not_exist", 404, 0)
    assert m["result_msg"] == "Unable to find endpoint for name tasks.does_not_exist and version 2.31"


def test_handler_choice_by_min_version(api):
    # tasks.completed exists from 2.2; below that it is "not found"
    t = api.call("tasks.create", name="ver-task", type="training")["id"]
    m = expect_err(api, "tasks.completed", 404, 0, {"task": t}, version="2.1")
    assert "version 2.1" in m["result_msg"]
    # server.info: 2.8 handler adds uid, 2.12 drops it again
    st, r28 = api.raw("server.info", {}, version="2.8")
    st, r212 = api.raw("server.info", {}, version="2.12")
    assert "uid" in r28["data"] and "uid" not in r212["data"]
    assert r28["meta"]["endpoint"]["actual_version"] == "2.8"
    assert r212["meta"]["endpoint"]["actual_version"] == "2.12"
    assert r212["data"]["api_version"] == "2.31" and r212["data"]["version"] == "2.0.0"
    st, r5 = api.raw("tasks.get_by_id", {"task": t}, version="2.5")
    assert r5["meta"]["endpoint"]["actual_version"] == "1.0"


def test_get_with_body_post_put_and_options(api, server):
    t = api.call("tasks.create", name="methods", type="training")["id"]
    for method in ("GET", "POST", "PUT"):
        st, resp = api.raw("tasks.get_by_id", {"task": t}, method=method)
        assert st == 200 and resp["data"]["task"]["id"] == t, method
    r = requests.options(f"{server.url}/tasks.get_by_id", timeout=10)
    assert r.status_code == 200 and r.text == ""


def test_query_string_merge(api, server):
    h = {"Authorization": f"Bearer {api.token}"}
    r = requests.get(f"{server.url}/debug.ping?a=1&b=2.5&c=true&d=False&e=text&f.g=x&l=1&l=2"
                     "&m[]=z&n=-3", headers=h, timeout=10)
    d = r.json()["data"]
    assert d["a"] == 1 and d["b"] == 2.5 and d["c"] is True and d["d"] is False
    assert d["e"] == "text" and d["f"] == {"g": "x"} and d["l"] == [1, 2] and d["m"] == ["z"]
    assert d["n"] == "-3"
    # query values merge into a JSON body
    r = requests.post(f"{server.url}/debug.ping?q=7", json={"b": 1}, timeout=10)
    assert r.json()["data"]["q"] == 7 and r.json()["data"]["b"] == 1
    # the SDK's login form
    r = requests.get(f"{server.url}/auth.login?expiration_sec=100",
                     auth=(server.access_key, server.secret_key), timeout=10)
    claims = decode_jwt(r.json()["data"]["token"])
    assert claims["exp"] - claims["iat"] == 100


def test_bad_bodies(api, server):
    h = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
    r = requests.post(f"{server.url}/tasks.get_by_id", data="{not json", headers=h, timeout=10)
    assert r.status_code == 400 and r.json()["meta"]["result_subcode"] == 0
    r = requests.post(f"{server.url}/tasks.get_by_id", data="[1,2]", headers=h, timeout=10)
    assert r.status_code == 400
    r = requests.post(f"{server.url}/debug.ping", data=b"\xff\xfe{}", headers=h, timeout=10)
    assert r.status_code == 400
    # an empty body is {} (→ missing required field, not a parse error)
    r = requests.post(f"{server.url}/tasks.get_by_id", data="", headers=h, timeout=10)
    assert r.status_code == 400 and r.json()["meta"]["result_subcode"] == 12
    # compressed bodies are refused outside the envelope
    r = requests.post(f"{server.url}/debug.ping", data=b"x",
                      headers={"Content-Encoding": "gzip"}, timeout=10)
    assert r.status_code == 415 and "Content encoding is not supported" in r.text


def test_json_lines_bad_item_names_it(api, server):
    lines = '{"a": 1}\n\n{"b": 2}\n{oops}\n'
    h = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json-lines"}
    r = requests.post(f"{server.url}/debug.ping", data=lines, headers=h, timeout=10)
    assert r.status_code == 400
    assert "batch item #2" in r.json()["meta"]["result_msg"]


def test_body_limits(api, server):
    # above 16 MiB: refused from Content-Length before the body is read
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"POST /debug.ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n{" % (17 << 20))
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 400"), data[:200]
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert "too large" in body["meta"]["result_msg"]
    # chunked upload that grows past the limit while receiving
    def gen():
        block = b" " * (1 << 20)
        for _ in range(17):
            yield block
    r = requests.post(f"{server.url}/debug.ping", data=gen(), timeout=60)
    assert r.status_code == 400 and "too large" in r.json()["meta"]["result_msg"]
    # a single string above 1 MiB
    m = expect_err(api, "tasks.create", 400, 12,
                   {"name": "big", "type": "training", "comment": "x" * ((1 << 20) + 1)})
    assert "longer than" in m["result_msg"]
    # the server is still fine
    assert api.call("debug.ping")["msg"] == "ClearML server"


# ---------------------------------------------------------------- auth

def test_login_token_claims(server):
    r = requests.get(f"{server.url}/auth.login", auth=(server.access_key, server.secret_key),
                     timeout=10)
    assert r.status_code == 200
    c = decode_jwt(r.json()["data"]["token"])
    assert c["api_version"] == "2.31" and c["server_version"] == "2.0.0"
    assert c["feature_set"] == "basic" and c["auth_type"] == "Bearer" and c["env"] == "<unknown>"
    assert "server_build" in c and re.fullmatch(r"[0-9a-f]{32}", c["session_id"])
    assert c["exp"] - c["iat"] == 30 * 24 * 3600
    ident = c["identity"]
    assert ident["company"] == "d1bd92a3b039400cbafc60a7a5b1e52b" and ident["company_name"] == "clearml"
    assert ident["user"] and ident["role"] and "user_name" in ident
    hdr = json.loads(base64.urlsafe_b64decode(r.json()["data"]["token"].split(".")[0] + "=="))
    assert hdr["alg"] == "HS256"


def test_login_errors(server):
    url = f"{server.url}/auth.login"
    def meta(**kw):
        r = requests.get(url, timeout=10, **kw)
        m = r.json()["meta"]
        assert r.status_code == m["result_code"]
        return (m["result_code"], m["result_subcode"])
    assert meta() == (401, 20)
    assert meta(headers={"Authorization": "Digest abc"}) == (401, 10)
    assert meta(headers={"Authorization": "Basic !!!notbase64"}) == (401, 21)
    assert meta(auth=("NOSUCHKEY", server.secret_key)) == (401, 22)
    assert meta(auth=(server.access_key, server.secret_key + "x")) == (401, 22)
    assert meta(auth=(server.access_key, server.secret_key),
                params={"expiration_sec": 31536001}) == (400, 12)
    # Bearer refresh gives a new, valid token
    tok = ApiClient(server.url, server.access_key, server.secret_key).token
    r = requests.get(url, headers={"Authorization": f"Bearer {tok}"}, timeout=10)
    assert r.status_code == 200
    new = r.json()["data"]["token"]
    assert decode_jwt(new)["session_id"] != decode_jwt(tok)["session_id"]
    assert meta(headers={"Authorization": "Bearer garbage"}) == (401, 30)


def test_bearer_checks(server, api):
    def call(headers):
        r = requests.post(f"{server.url}/tasks.get_all", json={}, headers=headers, timeout=10)
        m = r.json()["meta"]
        assert r.status_code == m["result_code"]
        return (m["result_code"], m["result_subcode"])
    assert call({}) == (401, 20)
    assert call({"Authorization": "Token abc"}) == (401, 10)
    basic = base64.b64encode(f"{server.access_key}:{server.secret_key}".encode()).decode()
    assert call({"Authorization": f"Basic {basic}"}) == (401, 10)
    assert call({"Authorization": "Bearer not.a.token"}) == (401, 30)
    claims = decode_jwt(api.token)
    forged = make_jwt(claims)                          # right claims, wrong secret
    assert call({"Authorization": f"Bearer {forged}"}) == (401, 30)
    none_alg = make_jwt(claims, alg="none")
    assert call({"Authorization": f"Bearer {none_alg}"}) == (401, 30)
    # a tampered payload with the original signature
    h, p, s = api.token.split(".")
    claims["identity"]["role"] = "root"
    tampered = f"{h}.{b64url(json.dumps(claims).encode())}.{s}"
    assert call({"Authorization": f"Bearer {tampered}"}) == (401, 30)
    assert call({"Authorization": f"Bearer {api.token}"}) == (200, 0)
    # the browser cookie works like a Bearer token
    r = requests.post(f"{server.url}/tasks.get_all", json={}, timeout=10,
                      cookies={"clearml_token_basic": api.token})
    assert r.status_code == 200


def test_expired_token(server):
    r = requests.get(f"{server.url}/auth.login?expiration_sec=1",
                     auth=(server.access_key, server.secret_key), timeout=10)
    tok = r.json()["data"]["token"]
    h = {"Authorization": f"Bearer {tok}"}
    assert requests.post(f"{server.url}/tasks.get_all", json={}, headers=h,
                         timeout=10).status_code == 200
    time.sleep(2.2)
    r = requests.post(f"{server.url}/tasks.get_all", json={}, headers=h, timeout=10)
    m = r.json()["meta"]
    assert (r.status_code, m["result_subcode"]) == (401, 30)


def test_no_auth_endpoints(server):
    for ep in ("server.info", "debug.ping", "auth.fixed_users_mode"):
        r = requests.get(f"{server.url}/{ep}", timeout=10)
        assert r.status_code == 200, ep
    assert requests.get(f"{server.url}/users.get_current_user", timeout=10).status_code == 401


def test_credentials_lifecycle(server, api):
    c = api.call("auth.create_credentials", label="ci")["credentials"]
    assert re.fullmatch(r"[A-Z0-9]{30}", c["access_key"]) and len(c["secret_key"]) >= 60
    assert c["label"] == "ci"
    other = ApiClient(server.url, c["access_key"], c["secret_key"])
    listed = api.call("auth.get_credentials")["credentials"]
    keys = {x["access_key"]: x for x in listed}
    assert c["access_key"] in keys and server.access_key in keys
    assert "secret_key" not in keys[c["access_key"]]
    assert keys[c["access_key"]].get("last_used")
    assert api.call("auth.edit_credentials", access_key=c["access_key"], label="ci2",
                    version="2.19")["updated"] == 1
    assert api.call("auth.revoke_credentials", access_key=c["access_key"])["revoked"] == 1
    assert api.call("auth.revoke_credentials", access_key=c["access_key"])["revoked"] == 0
    try:
        other.login()
        raise AssertionError("revoked key still logs in")
    except ApiError as e:
        assert (e.code, e.subcode) == (401, 22)
    expect_err(api, "auth.revoke_credentials", 400, 12)


# ---------------------------------------------------------------- users, projects

def test_users(api):
    d = api.call("users.get_current_user")
    u = d["user"]
    assert re.fullmatch(r"[0-9a-f]{32}", u["id"]) and u["company"]["id"] == \
        "d1bd92a3b039400cbafc60a7a5b1e52b"
    assert u["role"] and "getting_started" in d and d["settings"]["max_download_items"] > 0
    assert api.call("users.get_by_id", user=u["id"])["user"]["id"] == u["id"]
    expect_err(api, "users.get_by_id", 400, 12, {"user": "nobody"})
    assert [x["id"] for x in api.call("users.get_all")["users"]] == [u["id"]]
    api.call("users.set_preferences", preferences={"a": {"b": 1}})
    assert api.call("users.get_preferences")["preferences"] == {"a": {"b": 1}}


def test_projects(api):
    pid = api.call("projects.create", name="alpha/beta", description="d",
                   tags=["t2", "t1"])["id"]
    p = api.call("projects.get_by_id", project=pid)["project"]
    assert p["name"] == "alpha/beta" and p["basename"] == "beta" and p["description"] == "d"
    parent = api.call("projects.get_all", name="^alpha$")["projects"]
    assert len(parent) == 1 and p["parent"] == parent[0]["id"]
    m = expect_err(api, "projects.create", 400, 801, {"name": "alpha/beta"})
    assert "already exists" in m["result_msg"]
    expect_err(api, "projects.create", 400, 11, {})
    expect_err(api, "projects.create", 400, 800, {"name": "ab"})
    expect_err(api, "projects.get_by_id", 400, 401, {"project": "nope"})
    # SDK and agent lookups: anchored and unanchored regex
    assert [x["id"] for x in api.call("projects.get_all", name="^alpha/beta$",
                                      only_fields=["id"], search_hidden=True)["projects"]] == [pid]
    assert len(api.call("projects.get_all", name="alpha")["projects"]) == 2
    only = api.call("projects.get_all", id=[pid], only_fields=["name"])["projects"]
    assert only == [{"id": pid, "name": "alpha/beta"}]
    up = api.call("projects.update", project=pid, description="new", name="alpha/gamma")
    assert up["updated"] == 1 and up["fields"]["description"] == "new"
    p = api.call("projects.get_by_id", project=pid)["project"]
    assert (p["name"], p["basename"], p["description"]) == ("alpha/gamma", "gamma", "new")
    hid = api.call("projects.create", name="hidden-one", system_tags=["hidden"])["id"]
    names = [x["id"] for x in api.call("projects.get_all")["projects"]]
    assert hid not in names
    assert hid in [x["id"] for x in api.call("projects.get_all", search_hidden=True)["projects"]]
    assert hid in [x["id"] for x in api.call("projects.get_all", id=[hid])["projects"]]


def test_logout_revokes_only_that_session(server):
    a = ApiClient(server.url, server.access_key, server.secret_key)
    b = ApiClient(server.url, server.access_key, server.secret_key)
    for _ in range(3):                       # warm every server thread's token cache
        assert a.call("tasks.get_all", only_fields=["id"]) is not None
    assert a.call("auth.logout", version="2.2") == {}
    for _ in range(6):
        st, resp = a.raw("tasks.get_all", {})
        assert (st, resp["meta"]["result_subcode"]) == (401, 30)
    assert b.call("tasks.get_all", only_fields=["id"]) is not None
    # a revoked token cannot mint a new one either
    r = requests.get(f"{server.url}/auth.login", headers={"Authorization": f"Bearer {a.token}"},
                     timeout=10)
    assert r.status_code == 401
    a.login()                                # but the credentials still work
    assert a.call("tasks.get_all", only_fields=["id"]) is not None


def test_project_delete(api):
    top = api.call("projects.create", name="del-top")["id"]
    sub = api.call("projects.create", name="del-top/sub")["id"]
    keep = api.call("projects.create", name="del-topper")["id"]
    t1 = api.call("tasks.create", name="in-sub", type="training", project=sub)["id"]
    m = expect_err(api, "projects.delete", 400, 402, {"project": top})
    assert "tasks" in m["result_msg"]
    d = api.call("projects.delete", project=top, force=True)
    assert (d["deleted"], d["disassociated_tasks"]) == (2, 1)  # with its subproject
    expect_err(api, "projects.get_by_id", 400, 401, {"project": sub})
    assert api.call("projects.get_by_id", project=keep)["project"]["name"] == "del-topper"
    assert "project" not in api.call("tasks.get_by_id", task=t1)["task"]
    p2 = api.call("projects.create", name="del-two")["id"]
    t2 = api.call("tasks.create", name="in-two", type="training", project=p2)["id"]
    d = api.call("projects.delete", project=p2, force=True, delete_contents=True)
    assert d["deleted_tasks"] == 1
    expect_err(api, "tasks.get_by_id", 400, 101, {"task": t2})
    expect_err(api, "projects.delete", 400, 401, {"project": p2})
