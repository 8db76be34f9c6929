"""clearml-server-lite throughput: queues.get_next_task claims/s with 20 racing clients (separate
processes, so the Python client's GIL is not what is measured), and log lines/s ingested through
events.add_batch in agent-shaped packets (1 MiB json-lines packets of 64 KiB log events, each
holding ~1,000 short lines). Prints `name value unit` lines; asserts nothing about speed.

Run: CLEARML_BUILD_DIR=build /usr/bin/python3 bench/bench_server_queues.py
Env: BENCH_TASKS (2000), BENCH_CLIENTS (20), BENCH_PACKETS (60), BENCH_SENDERS (4).
"""
import http.client
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from conftest import ServerLite  # noqa: E402
from clearml_api import ApiClient  # noqa: E402

N_TASKS = int(os.environ.get("BENCH_TASKS", "2000"))
N_CLIENTS = int(os.environ.get("BENCH_CLIENTS", "20"))
N_PACKETS = int(os.environ.get("BENCH_PACKETS", "60"))
N_SENDERS = int(os.environ.get("BENCH_SENDERS", "4"))
EVENT_MAX = 65536
PACKET_MAX = 1 << 20


def _client(url, key, secret):
    return ApiClient(url, key, secret)


def _create_tasks(args):
    url, key, secret, names = args
    api = _client(url, key, secret)
    return [api.call("tasks.create", name=n, type="training")["id"] for n in names]


def _claimer(args):
    """A lean keep-alive client (http.client): the measured cost should be the server's."""
    url, key, secret, qid, go = args
    token = _client(url, key, secret).token
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    body = json.dumps({"queue": qid}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    go.wait()
    got = 0
    while True:
        conn.request("POST", "/v2.14/queues.get_next_task", body=body, headers=headers)
        resp = conn.getresponse()
        data = json.loads(resp.read())
        if resp.status != 200:
            raise RuntimeError(f"get_next_task: {resp.status} {data['meta']['result_msg']}")
        if not data["data"]:
            break
        got += 1
    conn.close()
    return got


def bench_claims(srv):
    api = srv.api()
    qid = api.call("queues.create", name="bench-claims")["id"]
    names = [f"bench-{i:05d}" for i in range(N_TASKS)]
    with mp.Pool(4) as pool:
        parts = pool.map(_create_tasks, [(srv.url, srv.access_key, srv.secret_key, names[k::4])
                                         for k in range(4)])
    for tid in (t for p in parts for t in p):
        api.call("queues.add_task", queue=qid, task=tid)
    mgr = mp.Manager()
    go = mgr.Event()
    with mp.Pool(N_CLIENTS) as pool:
        res = pool.map_async(_claimer, [(srv.url, srv.access_key, srv.secret_key, qid, go)
                                        for _ in range(N_CLIENTS)])
        time.sleep(1.0)            # let every client log in before the start
        t0 = time.monotonic()
        go.set()
        counts = res.get(timeout=600)
        dt = time.monotonic() - t0
    mgr.shutdown()
    if sum(counts) != N_TASKS:
        raise SystemExit(f"claimed {sum(counts)} of {N_TASKS}")
    print(f"server_claims_per_s {N_TASKS / dt:.0f} claims/s")
    print(f"server_claim_clients {N_CLIENTS} clients")


def _packet(task_id, start_line, base_ms):
    """One 1 MiB json-lines packet of 64 KiB log events, as the agent builds it."""
    lines, events, n = [], [], start_line
    size = 0
    while True:
        msg, count = [], 0
        mlen = 0
        while True:
            line = f"step {n:09d} loss=0.{n % 9973:04d} lr=3e-4 throughput=1234.5 samples/s\n"
            if mlen + len(line) >= EVENT_MAX:
                break
            msg.append(line)
            mlen += len(line)
            n += 1
            count += 1
        ev = json.dumps({"type": "log", "level": "DEBUG", "task": task_id, "worker": "bench:0",
                         "msg": "".join(msg), "timestamp": base_ms + len(events)})
        if size + len(ev) + 1 > PACKET_MAX:
            n -= count
            break
        events.append(ev)
        size += len(ev) + 1
        lines.append(count)
    return "\n".join(events).encode(), sum(lines), n


def _sender(args):
    url, key, secret, task_id, packets = args
    api = _client(url, key, secret)
    sent = 0
    for body, nlines in packets:
        status, resp = api.raw("events.add_batch", data=body, method="POST",
                               headers={"Content-Type": "application/json-lines"}, timeout=120)
        if status != 200:
            raise RuntimeError(f"add_batch: {status} {str(resp)[:300]}")
        sent += nlines
    return sent


def bench_logs(srv):
    api = srv.api()
    per_sender = max(1, N_PACKETS // N_SENDERS)
    jobs = []
    for s in range(N_SENDERS):
        tid = api.call("tasks.create", name=f"bench-log-{s}", type="training")["id"]
        pk, line = [], 0
        for p in range(per_sender):
            body, nlines, line = _packet(tid, line, 1_700_000_000_000 + p * 100)
            pk.append((body, nlines))
        jobs.append((srv.url, srv.access_key, srv.secret_key, tid, pk))
    total_bytes = sum(len(b) for j in jobs for b, _ in j[4])
    with mp.Pool(N_SENDERS) as pool:
        t0 = time.monotonic()
        sent = sum(pool.map(_sender, jobs))
        dt = time.monotonic() - t0
    total = api.call("events.get_task_log", task=jobs[0][3], batch_size=1)["total"]
    if total <= 0:
        raise SystemExit("no log events stored")
    print(f"server_log_lines_per_s {sent / dt:.0f} lines/s")
    print(f"server_log_mib_per_s {total_bytes / dt / (1 << 20):.1f} MiB/s")
    print(f"server_log_packets {per_sender * N_SENDERS} packets")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        srv = ServerLite(os.path.join(tmp, "server"))
        try:
            bench_claims(srv)
            bench_logs(srv)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
