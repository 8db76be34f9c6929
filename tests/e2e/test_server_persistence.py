"""clearml-server-lite persistence: a stop and restart keeps tasks, projects, credentials, the
token secret and the clearml.conf credentials; every start rewrites api_server to the actual
address; a crash (SIGKILL) loses nothing that was acknowledged."""
import os
import re
import signal

import requests

from clearml_api import ApiClient, ApiError
from conftest import ServerLite, read_conf_credentials


def test_restart_keeps_everything(tmp_path):
    s = ServerLite(tmp_path / "data")
    try:
        api = s.api()
        pid = api.call("projects.create", name="persist-proj")["id"]
        tid = api.call("tasks.create", name="persist-task", type="training", project=pid,
                       script={"repository": "r"})["id"]
        api.call("tasks.enqueue", task=tid)
        extra = api.call("auth.create_credentials", label="extra")["credentials"]
        old_token = api.token
        ak, sk = s.access_key, s.secret_key
        s.restart()
        assert (s.access_key, s.secret_key) == (ak, sk)       # the conf keeps its pair
        api2 = s.api()                                         # ... and it still logs in
        t = api2.call("tasks.get_by_id", task=tid)["task"]
        assert t["status"] == "queued" and t["project"] == pid
        assert api2.call("projects.get_by_id", project=pid)["project"]["name"] == "persist-proj"
        q = api2.call("queues.get_default")["id"]
        assert t["execution"]["queue"] == q
        assert ApiClient(s.url, extra["access_key"], extra["secret_key"]).token
        # tokens survive a restart: the signing secret is kept in the data dir
        r = requests.post(f"{s.url}/tasks.get_by_id", json={"task": tid},
                          headers={"Authorization": f"Bearer {old_token}"}, timeout=10)
        assert r.status_code == 200
        # only one default queue after several starts
        s.restart()
        qs = s.api().call("queues.get_all", name="^default$")["queues"]
        assert len(qs) == 1
    finally:
        s.stop()


def test_new_port_rewrites_conf(tmp_path):
    s = ServerLite(tmp_path / "data")
    try:
        ak, sk = s.access_key, s.secret_key
        s.stop()
        s.start(0)
        text = open(os.path.join(s.data_dir, "clearml.conf")).read()
        assert f'api_server: "http://127.0.0.1:{s.port}"' in text
        assert read_conf_credentials(s.conf) == (ak, sk)
        assert s.api().call("debug.ping")["msg"] == "ClearML server"
    finally:
        s.stop()


def test_revoked_conf_credentials_are_replaced_on_start(tmp_path):
    s = ServerLite(tmp_path / "data")
    try:
        api = s.api()
        old = s.access_key
        api.call("auth.revoke_credentials", access_key=old)
        s.restart()
        assert s.access_key != old                     # a fresh working pair was written
        assert s.api().call("debug.ping")
        try:
            ApiClient(s.url, old, "whatever")
            raise AssertionError("revoked key logged in")
        except ApiError as e:
            assert (e.code, e.subcode) == (401, 22)
    finally:
        s.stop()


def test_sigkill_loses_no_acknowledged_write(tmp_path):
    s = ServerLite(tmp_path / "data")
    try:
        api = s.api()
        ids = [api.call("tasks.create", name=f"crash-{i}", type="training")["id"]
               for i in range(20)]
        api.call("tasks.started", task=ids[0])
        s.stop(sig=signal.SIGKILL)
        s.start(s.port)
        api = s.api()
        got = api.call("tasks.get_all", id=ids, only_fields=["id", "status"])["tasks"]
        assert sorted(t["id"] for t in got) == sorted(ids)
        assert {t["id"]: t["status"] for t in got}[ids[0]] == "in_progress"
    finally:
        s.stop()


def test_data_dir_files_are_private(tmp_path):
    s = ServerLite(tmp_path / "data")
    try:
        for name in ("clearml.conf", "token_secret", "server-lite.db"):
            mode = os.stat(os.path.join(s.data_dir, name)).st_mode & 0o077
            assert mode == 0, name
        assert re.fullmatch(r"[0-9a-f]{64}\n?", open(os.path.join(s.data_dir, "token_secret")).read())
    finally:
        s.stop()
