"""`clearml-agent list` against a real clearml-server-lite: the workers the server knows, printed
as the Python agent prints them (yaml.safe_dump(data, indent=1)); login failures that name the
URL and the cause, without the secret (spec clearml-agent §1.6, §3.3-3.4)."""
import re
import subprocess

from agent_helper import agent_env
from conftest import binary

try:
    import yaml  # python3-yaml: lets us check the text is exactly PyYAML's
except ImportError:  # pragma: no cover - the id checks below still run
    yaml = None


def run_list(conf, tmp_path, env=None, timeout=60):
    argv = [binary("clearml-agent"), "--config-file", conf, "list"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=agent_env(tmp_path, env))


def test_list_shows_registered_workers(server, api, tmp_path):
    qid = api.call("queues.get_default")["id"]
    api.call("workers.register", worker="e2e-host:0", queues=[qid], tags=["b", "a"])
    api.call("workers.register", worker="e2e-host:gpu0,1")
    r = run_list(server.conf, tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^(- |  )id: e2e-host:0$", out, re.M), out
    assert re.search(r"^(- |  )id: e2e-host:gpu0,1$", out, re.M), out
    assert out.startswith("workers:\n"), out
    # timestamps would read back as dates: PyYAML quotes them
    assert re.search(r"^  register_time: '\d{4}-\d\d-\d\dT[^']+'$", out, re.M), out

    stored = {w["id"]: w for w in api.call("workers.get_all", last_seen=0)["workers"]}
    assert set(stored) == {"e2e-host:0", "e2e-host:gpu0,1"}
    if yaml is not None:
        listed = yaml.safe_load(out)
        assert {w["id"] for w in listed["workers"]} == set(stored)
        # byte-for-byte what the Python agent would print for this data
        assert yaml.safe_dump(listed, indent=1) == out
        for w in listed["workers"]:
            want = stored[w["id"]]
            for k in ("key", "queues", "tags", "user", "company", "register_time",
                      "register_timeout"):
                assert w.get(k) == want.get(k), k


def test_list_without_workers(server, tmp_path):
    r = run_list(server.conf, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "workers: []\n"


def test_list_wrong_credentials_fail_fast(server, tmp_path):
    text = open(server.conf).read()
    assert server.secret_key in text
    bad = tmp_path / "bad.conf"
    bad.write_text(text.replace(server.secret_key, "WRONG-SECRET-xyz"))
    r = run_list(str(bad), tmp_path)
    assert r.returncode != 0
    err = r.stdout + r.stderr
    assert f"{server.url}/auth.login" in err, err
    assert "401" in err and "invalid credentials" in err, err
    assert "WRONG-SECRET-xyz" not in err
    assert r.stdout == ""


def test_list_server_down_fails_fast(server, tmp_path):
    conf = server.conf
    url = server.url
    server.stop()
    r = run_list(conf, tmp_path, env={"CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE": "1"})
    assert r.returncode != 0
    err = r.stderr
    assert f"{url}/auth.login" in err, err
    assert "connection refused" in err, err
