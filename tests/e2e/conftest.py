"""Shared end-to-end fixtures: real binaries, a real clearml-server-lite per test on a free port
with a temporary data dir, and an API client for assertions.

Every program is taken from $CLEARML_BUILD_DIR (the Makefile sets it; build/ by default), so the
same tests run against the sanitizer build.
"""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from clearml_api import ApiClient  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("CLEARML_BUILD_DIR", os.path.join(ROOT, "build"))

# pip must never reach out of the machine from a test (DESIGN.md §6).
os.environ.pop("PIP_FIND_LINKS", None)
os.environ.setdefault("PIP_CONFIG_FILE", "/dev/null")
os.environ["PIP_RETRIES"] = "0"
os.environ["PIP_DEFAULT_TIMEOUT"] = "5"
os.environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
# The tests' own config must not leak in from the developer's home.
for k in list(os.environ):
    if k.startswith(("CLEARML_", "TRAINS_")) and k != "CLEARML_BUILD_DIR":
        del os.environ[k]


def binary(name):
    return os.path.join(BUILD, name)


def read_conf_credentials(path):
    text = open(path).read()
    ak = re.search(r'access_key\s*[:=]\s*"?([A-Za-z0-9_\-]+)"?', text).group(1)
    sk = re.search(r'secret_key\s*[:=]\s*"?([A-Za-z0-9_\-]+)"?', text).group(1)
    return ak, sk


class ServerLite:
    """A running clearml-server-lite on 127.0.0.1 (port chosen by the server with --port 0)."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = str(data_dir)
        self.extra_args = list(extra_args)
        self.port = 0
        self.proc = None
        self.url = None
        self.start()

    def start(self, port=None):
        port = self.port if port is None else port
        args = [binary("clearml-server-lite"), "--host", "127.0.0.1", "--port", str(port),
                "--data-dir", self.data_dir] + self.extra_args
        self.log_path = os.path.join(self.data_dir, "server.log")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"listening on (http://[^\s]+):(\d+)", line.strip())
        if not m:
            self.proc.kill()
            raise RuntimeError(f"server-lite did not start: {line!r}; log: "
                               + open(self.log_path, errors="replace").read()[-2000:])
        self.port = int(m.group(2))
        self.url = f"{m.group(1)}:{self.port}"
        self.conf = os.path.join(self.data_dir, "clearml.conf")
        self.access_key, self.secret_key = read_conf_credentials(self.conf)

    def api(self, version=None):
        return ApiClient(self.url, self.access_key, self.secret_key, version=version)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        self.proc = None
        return rc

    def restart(self):
        self.stop()
        self.start(self.port)


@pytest.fixture
def server(tmp_path):
    s = ServerLite(tmp_path / "server-data")
    yield s
    s.stop()


@pytest.fixture
def api(server):
    return server.api()


def wait_for(pred, timeout=30.0, interval=0.1, what="condition"):
    """Poll pred() until truthy; returns its value or fails the test with `what`."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
