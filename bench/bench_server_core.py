#!/usr/bin/env python3
"""clearml-server-lite core throughput: N keep-alive clients hammer tasks.get_by_id.

Starts a server on a free port with a temporary data dir, logs in, creates one task, records the
server's resident memory while idle, then runs CLIENTS client processes (raw sockets, one
keep-alive connection each, so the client side is cheap) for SECONDS seconds. Prints
`name value unit` lines:
  server_idle_rss <MiB> MiB
  server_get_by_id_rps <n> req/s
  server_get_by_id_p50 <ms> ms
  server_get_by_id_p99 <ms> ms
  server_busy_rss <MiB> MiB
Environment: CLEARML_BUILD_DIR (default build/), BENCH_CLIENTS (4), BENCH_SECONDS (5).
"""
import base64
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("CLEARML_BUILD_DIR", os.path.join(ROOT, "build"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def read_response(sock, buf):
    """One HTTP/1.1 response with Content-Length from a keep-alive socket; returns (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        rest += chunk
    return status, rest[:n], rest[n:]


def request(sock, method, path, body, headers, buf=b""):
    data = json.dumps(body).encode()
    h = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n{h}\r\n".encode() + data)
    return read_response(sock, buf)


def client(port, token, task_id, seconds, q):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = json.dumps({"task": task_id}).encode()
    req = (f"GET /v2.23/tasks.get_by_id HTTP/1.1\r\nHost: bench\r\n"
           f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(data)}\r\n\r\n").encode() + data
    lat, errors, buf = [], 0, b""
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        sock.sendall(req)
        status, _, buf = read_response(sock, buf)
        lat.append(time.perf_counter() - t0)
        if status != 200:
            errors += 1
    sock.close()
    q.put((lat, errors))


def main():
    exe = os.path.join(BUILD, "clearml-server-lite")
    if not os.path.exists(exe):
        sys.exit(f"bench_server_core: {exe} not built")
    data_dir = tempfile.mkdtemp(prefix="bench-server-core-")
    proc = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not m:
            sys.exit(f"bench_server_core: server did not start: {line!r}")
        port = int(m.group(1))
        conf = open(os.path.join(data_dir, "clearml.conf")).read()
        ak = re.search(r'access_key:\s*"([^"]+)"', conf).group(1)
        sk = re.search(r'secret_key:\s*"([^"]+)"', conf).group(1)
        time.sleep(0.5)
        idle = rss_mib(proc.pid)
        sock = socket.create_connection(("127.0.0.1", port))
        basic = base64.b64encode(f"{ak}:{sk}".encode()).decode()
        st, body, _ = request(sock, "GET", "/auth.login", {}, {"Authorization": f"Basic {basic}"})
        token = json.loads(body)["data"]["token"]
        st, body, _ = request(sock, "POST", "/v2.23/tasks.create",
                              {"name": "bench task", "type": "training",
                               "script": {"repository": "https://example.invalid/r.git",
                                          "entry_point": "train.py",
                                          "requirements": {"pip": "numpy\ntorch\n"}},
                               "hyperparams": {"Args": {f"p{i}": {"value": str(i)}
                                                        for i in range(20)}}},
                              {"Authorization": f"Bearer {token}"})
        task_id = json.loads(body)["data"]["id"]
        sock.close()

        q = mp.Queue()
        procs = [mp.Process(target=client, args=(port, token, task_id, SECONDS, q))
                 for _ in range(CLIENTS)]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        results = [q.get(timeout=SECONDS + 60) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        wall = time.perf_counter() - t0
        busy = rss_mib(proc.pid)
        lat = sorted(x for r in results for x in r[0])
        errors = sum(r[1] for r in results)
        n = len(lat)
        pct = lambda p: lat[min(n - 1, int(p * n))] * 1000 if n else float("nan")
        print(f"server_idle_rss {idle:.1f} MiB")
        print(f"server_get_by_id_rps {n / min(wall, SECONDS + 0.001) if n else 0:.0f} req/s")
        print(f"server_get_by_id_p50 {pct(0.50):.3f} ms")
        print(f"server_get_by_id_p99 {pct(0.99):.3f} ms")
        print(f"server_busy_rss {busy:.1f} MiB")
        print(f"server_get_by_id_errors {errors} count")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
