"""Issue 9, bounded everything: (1) a server answering with hundreds of MB makes the call fail
clearly while the agent's memory stays small — the hostile server is a stand-in (server-lite
never sends such replies); (2) thousands of idle connections do not lock a real server-lite
out for a legitimate client."""
import base64
import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agent_helper import agent_env
from conftest import binary

HUGE = 300 << 20


def b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


TOKEN = b64({"alg": "HS256"}) + "." + b64({"api_version": "2.31", "exp": 4102444800}) + ".x"


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if "auth.login" in self.path:
            body = json.dumps({"meta": {"result_code": 200, "result_msg": "OK"},
                               "data": {"token": TOKEN}}).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.end_headers()  # no length: close-delimited, endless-looking
        chunk = b'{"id": "' + b"w" * 65000 + b'"},'
        try:
            self.wfile.write(b'{"meta": {"result_code": 200}, "data": {"workers": [')
            sent = 0
            while sent < HUGE:
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.write(b'{}]}}')
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST


MEASURE = ("import resource, subprocess, sys\n"
           "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
           "print(p.returncode)\n"
           "sys.stdout.write(p.stdout + p.stderr)\n")


def test_huge_reply_fails_clearly_with_bounded_memory(tmp_path):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        conf = tmp_path / "c.conf"
        conf.write_text(f'api.api_server: "http://127.0.0.1:{srv.server_port}"\n'
                        'api.credentials.access_key: "k"\napi.credentials.secret_key: "s"\n')
        r = subprocess.run([sys.executable, "-c", MEASURE, binary("clearml-agent"),
                            "--config-file", str(conf), "list"],
                           capture_output=True, text=True, timeout=120,
                           env=agent_env(tmp_path))
        rss_kb, rc, out = r.stdout.split("\n", 2)
        assert int(rc) != 0, out
        assert "larger than" in out and "MiB" in out, out
        assert int(rss_kb) < 200 * 1024, f"agent peaked at {int(rss_kb) // 1024} MiB"
    finally:
        srv.shutdown()
        srv.server_close()


def fresh_call(server):
    """One authenticated call on a new connection, no retry (a new client arriving)."""
    import requests
    r = requests.post(server.url + "/auth.login", auth=(server.access_key, server.secret_key),
                      timeout=10, headers={"Connection": "close"})
    tok = r.json()["data"]["token"]
    r = requests.post(server.url + "/queues.get_default", json={}, timeout=10,
                      headers={"Authorization": "Bearer " + tok, "Connection": "close"})
    return r.json()["data"]["id"]


def test_idle_connections_do_not_lock_out_a_client(server):
    # the flood comes from another address (127.0.0.2) than the legitimate client (127.0.0.1)
    socks = []
    try:
        for _ in range(3000):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", server.port))
            socks.append(s)
        time.sleep(1)
        for s in socks[:1000]:  # slow clients: half a request, never finished
            try:
                s.send(b"POST /auth.login HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass
        time.sleep(0.5)
        for _ in range(5):
            assert fresh_call(server)
    finally:
        for s in socks:
            s.close()
