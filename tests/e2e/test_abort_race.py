"""The abort race: a tasks.stop that lands between the agent's last look at the task and its
"worker starting task execution" update must not be lost. The agent looks again right after the
update, and server-lite keeps a pending "stopping" across a tasks.started that only re-confirms a
running task. Real server-lite, real daemon in services mode (several tasks starting at once make
the window likelier), tasks stopped the instant they run."""
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

from agent_helper import (AgentProcess, FAST_POLL, agent_env, create_queue, create_script_task,
                          enqueue, supervisor_env, task, wait_status)
from conftest import binary


def test_server_keeps_stopping_across_reconfirming_started(server, api):
    t = api.call("tasks.create", name="race task", type="training")["id"]
    api.call("tasks.started", task=t, force=True, status_message="launch by agent")
    api.call("workers.status_report", worker="race-w", timestamp=int(time.time() * 1000), task=t)
    api.call("tasks.stop", task=t)
    assert task(api, t)["status_message"] == "stopping"
    # the agent's update: a status_reason, no message of its own → the stop request stays
    api.call("tasks.started", task=t, force=True, status_reason="worker starting task execution")
    got = task(api, t)
    assert got["status"] == "in_progress"
    assert got["status_message"] == "stopping"
    assert got["status_reason"] == "worker starting task execution"
    # an explicit message still replaces it (as upstream)
    api.call("tasks.started", task=t, force=True, status_message="something else")
    assert task(api, t)["status_message"] == "something else"


def test_stop_the_instant_tasks_run_is_never_lost(server, api, tmp_path):
    q = create_queue(api, "race")
    n = 6
    pidfs = [str(tmp_path / f"race{i}.pid") for i in range(n)]
    ids = []
    for i in range(n):
        script = ("import os, time\n"
                  f"open({pidfs[i]!r}, 'w').write(str(os.getpid()))\n"
                  "time.sleep(60)\n")
        t = create_script_task(api, script, name=f"race {i}")
        enqueue(api, t, queue=q)
        ids.append(t)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "race",
                                        "--services-mode"],
                     env=supervisor_env(tmp_path, {"CLEARML_WORKER_ID": "race-agent"}),
                     name="race")
    try:
        stopped = set()
        end = time.time() + 90
        while len(stopped) < n and time.time() < end:
            for i, t in enumerate(ids):
                # stop as soon as the task itself runs: before or around the agent's update
                if t not in stopped and os.path.exists(pidfs[i]):
                    api.call("tasks.stop", task=t)
                    stopped.add(t)
            time.sleep(0.005)
        assert len(stopped) == n
        for t in ids:
            final = wait_status(api, t, timeout=30)
            assert final["status"] == "stopped", final
    finally:
        a.stop()


class StopInTheWindow:
    """An HTTP relay between the agent and server-lite that, when the agent's "worker starting
    task execution" update comes through, first sends tasks.stop for that task: the stop lands
    exactly in the window between the agent's last look and its update, every time."""

    def __init__(self, upstream, api):
        relay = self
        self.upstream, self.api, self.stopped = upstream, api, []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if self.path.endswith("tasks.started") and b"worker starting task execution" in body:
                    t = json.loads(body)["task"]
                    relay.api.call("tasks.stop", task=t)
                    relay.stopped.append(t)
                req = urllib.request.Request(relay.upstream + self.path, data=body or None,
                                             method=self.command)
                for k, v in self.headers.items():
                    if k.lower() not in ("host", "content-length", "connection"):
                        req.add_header(k, v)
                try:
                    r = urllib.request.urlopen(req, timeout=30)
                    code, data, ctype = r.status, r.read(), r.headers.get("Content-Type")
                except urllib.error.HTTPError as e:
                    code, data, ctype = e.code, e.read(), e.headers.get("Content-Type")
                self.send_response(code)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = handle_one

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_stop_between_last_look_and_update_is_kept(server, api, tmp_path):
    q = create_queue(api, "window")
    relay = StopInTheWindow(server.url, api)
    conf = tmp_path / "via-relay.conf"
    conf.write_text(f'include "{server.conf}"\napi.api_server: "{relay.url}"\n')
    ids = []
    for i in range(3):
        t = create_script_task(api, "import time\nprint('running', flush=True)\ntime.sleep(8)\n",
                               name=f"window {i}")
        enqueue(api, t, queue=q)
        ids.append(t)
    env = supervisor_env(tmp_path, {"CLEARML_WORKER_ID": "window-agent"})
    log = open(str(tmp_path / "window.log"), "ab")
    proc = subprocess.Popen([binary("clearml-agent"), "--config-file", str(conf), "daemon",
                             "--foreground", "--polling-interval", FAST_POLL, "--queue", "window",
                             "--services-mode"], stdout=log, stderr=subprocess.STDOUT,
                            env=agent_env(tmp_path, env), start_new_session=True)
    try:
        for t in ids:
            final = wait_status(api, t, timeout=60)
            assert final["status"] == "stopped", (final, open(str(tmp_path / "window.log")).read()[-3000:])
        assert sorted(relay.stopped) == sorted(ids)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        relay.close()
