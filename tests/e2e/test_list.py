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


class _FakeServer:
    """A tiny ClearML stand-in (auth.login + workers.get_all) that records what it was sent;
    over HTTPS with a self-signed cert (tls=True) to check api.verify_certificate /
    CLEARML_API_HOST_VERIFY_CERT and REQUESTS_CA_BUNDLE."""

    def __init__(self, tmp_path, tls=True, conf_extra=""):
        import base64
        import http.server
        import json
        import ssl
        import threading

        self.cert = str(tmp_path / "cert.pem")
        key = str(tmp_path / "key.pem")
        if tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                            key, "-out", self.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True, timeout=60)

        def b64(d):
            return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

        token = b64({"alg": "HS256"}) + "." + b64({"api_version": "2.31"}) + ".sig"
        self.requests = []
        self.methods = []
        self.headers = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                outer.requests.append(self.path)
                outer.methods.append(self.command)
                outer.headers.append(dict(self.headers))
                if self.path.startswith("/auth.login"):
                    data = {"token": token}
                else:
                    data = {"workers": [{"id": "tls-worker"}]}
                body = json.dumps({"meta": {"result_code": 200, "result_subcode": 0,
                                            "result_msg": "OK"}, "data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET
            do_PUT = do_GET

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.conf = str(tmp_path / "fake.conf")
        with open(self.conf, "w") as f:
            f.write('api { api_server: "%s"\n credentials { access_key: "AK", secret_key: "SK" }\n'
                    '%s }\n' % (self.url, conf_extra))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def test_list_tls_verification(tmp_path):
    srv = _FakeServer(tmp_path)
    try:
        # verification on (the default): a self-signed server is refused, clearly and at once
        r = run_list(srv.conf, tmp_path)
        assert r.returncode != 0
        assert "certificate" in r.stderr and f"{srv.url}/auth.login" in r.stderr, r.stderr
        assert srv.requests == []
        # the private CA given the way requests takes it: verified and accepted
        r = run_list(srv.conf, tmp_path, env={"REQUESTS_CA_BUNDLE": srv.cert})
        assert r.returncode == 0, r.stderr
        assert r.stdout == "workers:\n- id: tls-worker\n"
        assert "verification is disabled" not in r.stderr
        # or as a CA file path in api.verify_certificate (requests' verify=)
        conf2 = tmp_path / "ca.conf"
        conf2.write_text('api { api_server: "%s", verify_certificate: "%s"\n'
                         ' credentials { access_key: "AK", secret_key: "SK" } }\n'
                         % (srv.url, srv.cert))
        r = run_list(str(conf2), tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "workers:\n- id: tls-worker\n"
        # verification off: accepted, with a warning
        r = run_list(srv.conf, tmp_path, env={"CLEARML_API_HOST_VERIFY_CERT": "false"})
        assert r.returncode == 0, r.stderr
        assert r.stdout == "workers:\n- id: tls-worker\n"
        assert "verification is disabled" in r.stderr
        assert srv.requests.count("/auth.login") == 3
    finally:
        srv.close()


def test_list_request_method_and_headers(tmp_path):
    srv = _FakeServer(tmp_path, tls=False, conf_extra="http { default_method: put }")
    try:
        r = run_list(srv.conf, tmp_path)
        assert r.returncode == 0, r.stderr
        assert srv.methods == ["PUT", "PUT"]  # api.http.default_method
        assert srv.requests == ["/auth.login", "/workers.get_all"]
        login, call = srv.headers
        assert login["Authorization"] == "Basic QUs6U0s="  # base64("AK:SK")
        assert call["Authorization"].startswith("Bearer ")
        for h in (login, call):
            assert h["X-ClearML-Agent"] == h["X-Trains-Agent"] == "api-1.9.2"
            assert h["X-ClearML-Worker"] == h["X-Trains-Worker"] and h["X-ClearML-Worker"]
            assert h["Content-Type"] == "application/json"
        # the environment wins over the file
        r = run_list(srv.conf, tmp_path, env={"CLEARML_API_DEFAULT_REQ_METHOD": "POST"})
        assert r.returncode == 0, r.stderr
        assert srv.methods[2:] == ["POST", "POST"]
    finally:
        srv.close()


def test_list_without_server_configured(tmp_path):
    conf = tmp_path / "empty.conf"
    conf.write_text("agent { }\n")
    r = run_list(str(conf), tmp_path)
    assert r.returncode == 1
    assert "clearml_agent: ERROR: api.api_server is not configured" in r.stderr, r.stderr
    assert r.stdout == ""
