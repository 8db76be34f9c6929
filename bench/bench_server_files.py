#!/usr/bin/env python3
"""clearml-server-lite: files server throughput and long-poll dispatch latency.

Starts a server on free ports with a temporary data dir, then
  * uploads a SIZE_MB artifact the way the SDK does (one multipart part named by its target
    path, streamed from a file) and downloads it back, checking the bytes;
  * parks a queues.get_next_task with wait_sec, enqueues a task, and measures enqueue → claim
    (the claim's answer arriving) ROUNDS times;
  * reads the server's resident memory after both.
Prints `name value unit` lines:
  files_upload_mbps <MB/s> MB/s
  files_download_mbps <MB/s> MB/s
  longpoll_claim_p50 <ms> ms        (goal < 50 ms)
  longpoll_claim_max <ms> ms
  server_rss_after <MiB> MiB        (goal < 30 MiB)
Environment: CLEARML_BUILD_DIR (default build/), BENCH_SIZE_MB (100), BENCH_ROUNDS (20).
"""
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("CLEARML_BUILD_DIR", os.path.join(ROOT, "build"))
SIZE_MB = int(os.environ.get("BENCH_SIZE_MB", "100"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def conf_value(text, key):
    return re.search(key + r'\s*:\s*"([^"]+)"', text).group(1)


class Api:
    def __init__(self, url, key, secret):
        self.url = url
        self.http = requests.Session()
        r = self.http.get(url + "/auth.login", auth=(key, secret), timeout=30).json()
        self.token = r["data"]["token"]
        self.http.headers["Authorization"] = "Bearer " + self.token

    def call(self, endpoint, **body):
        r = self.http.post(f"{self.url}/{endpoint}", json=body, timeout=60).json()
        if r["meta"]["result_code"] != 200:
            raise RuntimeError(f"{endpoint}: {r['meta']['result_msg']}")
        return r["data"]


def main():
    tmp = tempfile.mkdtemp(prefix="bench-files-")
    proc = subprocess.Popen([os.path.join(BUILD, "clearml-server-lite"), "--port", "0",
                             "--data-dir", os.path.join(tmp, "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode()
        if not line.startswith("listening on"):
            sys.exit("server did not start: " + line)
        conf = open(os.path.join(tmp, "data", "clearml.conf")).read()
        api = Api(conf_value(conf, "api_server"), conf_value(conf, "access_key"),
                  conf_value(conf, "secret_key"))
        files = conf_value(conf, "files_server").rstrip("/")
        auth = {"Authorization": "Bearer " + api.token}

        src = os.path.join(tmp, "artifact.bin")
        with open(src, "wb") as f:
            for _ in range(SIZE_MB):
                f.write(os.urandom(1 << 20))
        digest = hashlib.sha256(open(src, "rb").read()).hexdigest()
        path = "bench/task.0000/artifacts/big/artifact.bin"
        with open(src, "rb") as f:
            t0 = time.monotonic()
            r = requests.post(files + "/", files={path: (path, f, "application/octet-stream")},
                              headers=auth, timeout=600)
            up = time.monotonic() - t0
        if r.status_code != 200:
            sys.exit(f"upload failed: {r.status_code} {r.text}")
        h = hashlib.sha256()
        t0 = time.monotonic()
        with requests.get(files + "/" + path, headers=auth, stream=True, timeout=600) as g:
            for chunk in g.iter_content(1 << 20):
                h.update(chunk)
        down = time.monotonic() - t0
        if h.hexdigest() != digest:
            sys.exit("download differs from the upload")
        print(f"files_upload_mbps {SIZE_MB / up:.1f} MB/s")
        print(f"files_download_mbps {SIZE_MB / down:.1f} MB/s")
        os.unlink(src)

        qid = api.call("queues.create", name="bench-longpoll")["id"]
        claimer = Api(api.url, conf_value(conf, "access_key"), conf_value(conf, "secret_key"))
        lat = []
        for i in range(ROUNDS):
            tid = api.call("tasks.create", name=f"bench task {i}", type="training")["id"]
            got = {}

            def claim():
                got["d"] = claimer.call("queues.get_next_task", queue=qid, wait_sec=10)
                got["t"] = time.monotonic()
            th = threading.Thread(target=claim)
            th.start()
            time.sleep(0.2)  # parked by now
            te = time.monotonic()
            api.call("tasks.enqueue", task=tid, queue=qid)
            th.join(30)
            if got.get("d", {}).get("entry", {}).get("task") != tid:
                sys.exit(f"round {i}: claimed {got.get('d')}")
            lat.append((got["t"] - te) * 1000)
        print(f"longpoll_claim_p50 {statistics.median(lat):.1f} ms")
        print(f"longpoll_claim_max {max(lat):.1f} ms")
        print(f"server_rss_after {rss_mib(proc.pid):.1f} MiB")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
