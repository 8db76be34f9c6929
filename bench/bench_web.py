"""clearml-server-lite statistics and web app: workers.get_stats / get_activity_report /
queues.get_queue_metrics over a week of status reports from 20 workers (goal < 50 ms); the
Experiments page with 10,000 tasks (goal < 200 ms to a rendered table) and a task's console with
a log of 1 M lines (agent-shaped events of ~1,000 lines), in headless chromium. Prints
`name value unit` lines; asserts nothing about speed.

The week of reports: every 5 minutes for 7 days, then every 30 s for the last hour (what the
agent sends), 8 metrics with 2 GPUs — 44k status reports through the API.

Run: CLEARML_BUILD_DIR=build /usr/bin/python3 bench/bench_web.py
Env: BENCH_WORKERS (20), BENCH_TASKS (10000), BENCH_LOG_LINES (1000000), BENCH_SKIP_BROWSER.
"""
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from conftest import ServerLite  # noqa: E402

N_WORKERS = int(os.environ.get("BENCH_WORKERS", "20"))
N_TASKS = int(os.environ.get("BENCH_TASKS", "10000"))
N_LINES = int(os.environ.get("BENCH_LOG_LINES", "1000000"))


def out(name, value, unit):
    print(f"{name} {value:.1f} {unit}", flush=True)


class Lean:
    """A keep-alive client that costs little, so the server is what is measured."""

    def __init__(self, url, token):
        host, port = url.replace("http://", "").split(":")
        self.c = http.client.HTTPConnection(host, int(port), timeout=120)
        self.h = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def call(self, endpoint, body, ctype=None):
        h = dict(self.h)
        if ctype:
            h["Content-Type"] = ctype
        self.c.request("POST", f"/{endpoint}", body if isinstance(body, (bytes, str)) else json.dumps(body), h)
        r = json.loads(self.c.getresponse().read())
        if r["meta"]["result_code"] != 200:
            raise RuntimeError(f"{endpoint}: {r['meta']['result_msg']}")
        return r["data"]


def stats(i, k):
    return {"cpu_usage": [10 + (i + k) % 80], "memory_used": 4000 + k % 500, "memory_free": 12000,
            "network_rx": 0.5, "network_tx": 0.25, "disk_free_home": 60.0,
            "gpu_usage": [50 + k % 40, 30], "gpu_memory_used": [8000, 2000]}


def fill_stats(url, token, now):
    week = [now - 7 * 86400 + k * 300 for k in range(7 * 86400 // 300)]
    hour = [now - 3600 + k * 30 for k in range(120)]
    stamps = week + hour

    def one(ws):
        c = Lean(url, token)
        for i in ws:
            for k, t in enumerate(stamps):
                c.call("workers.status_report", {"worker": f"bench-worker-{i:02d}",
                                                 "timestamp": int(t * 1000), "machine_stats": stats(i, k)})
    threads = [threading.Thread(target=one, args=(list(range(j, N_WORKERS, 4)),)) for j in range(4)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(stamps) * N_WORKERS, time.time() - t0


def timed(c, endpoint, body, n=7):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.call(endpoint, body)
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


def bench_stats(server, token):
    now = time.time()
    n, sec = fill_stats(server.url, token, now)
    out("stats_status_reports_per_s", n / sec, "reports/s")
    c = Lean(server.url, token)
    items = [{"key": k, "aggregation": a} for k in ("cpu_usage", "memory_used", "memory_free",
                                                    "network_rx", "network_tx", "disk_free_home",
                                                    "gpu_usage", "gpu_memory_used")
             for a in ("avg",)]
    for label, span, interval in (("hour", 3600, 40), ("day", 86400, 600), ("week", 7 * 86400, 3600)):
        body = {"from_date": now - span, "to_date": now, "interval": interval, "items": items,
                "split_by_resource": True}
        out(f"stats_get_stats_{label}_{N_WORKERS}_workers_ms", timed(c, "workers.get_stats", body), "ms")
        one = dict(body, worker_ids=["bench-worker-00"])
        out(f"stats_get_stats_{label}_1_worker_ms", timed(c, "workers.get_stats", one), "ms")
    out("stats_get_activity_report_week_ms", timed(c, "workers.get_activity_report", {
        "from_date": now - 7 * 86400, "to_date": now, "interval": 3600}), "ms")
    out("stats_get_metric_keys_ms", timed(c, "workers.get_metric_keys", {}), "ms")
    qid = c.call("queues.get_default", {})["id"]
    out("stats_get_queue_metrics_week_ms", timed(c, "queues.get_queue_metrics", {
        "from_date": now - 7 * 86400, "to_date": now, "interval": 3600, "queue_ids": [qid]}), "ms")
    db = os.path.join(server.data_dir, "server-lite.db")
    out("stats_database_size", os.path.getsize(db) / 1e6, "MB")


def fill_tasks(server, token):
    def one(rng):
        c = Lean(server.url, token)
        for i in rng:
            c.call("tasks.create", {"name": f"bench task {i:05d}", "type": "training",
                                    "tags": ["bench"], "script": {"entry_point": "train.py"}})
    step = (N_TASKS + 3) // 4
    threads = [threading.Thread(target=one, args=(range(j * step, min(N_TASKS, (j + 1) * step)),))
               for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def fill_log(server, token, task_id):
    c = Lean(server.url, token)
    per_event = 1000
    base = int(time.time() * 1000) - N_LINES
    lines_done = 0
    k = 0
    while lines_done < N_LINES:
        packet = []
        size = 0
        while size < (1 << 20) - 70000 and lines_done < N_LINES:
            n = min(per_event, N_LINES - lines_done)
            msg = "\n".join(f"{lines_done + j + 1:07d} epoch {k} step {j} loss 0.{(j * 7919) % 10000:04d}"
                            for j in range(n))
            packet.append(json.dumps({"type": "log", "task": task_id, "timestamp": base + k,
                                      "level": "info", "worker": "bench", "msg": msg}))
            size += len(msg) + 100
            lines_done += n
            k += 1
        c.call("events.add_batch", "\n".join(packet), ctype="application/json-lines")
    return k


def bench_browser(server, token):
    import web_helper  # noqa: E402  (needs python3-selenium and chromium)
    c = Lean(server.url, token)
    t0 = time.time()
    fill_tasks(server, token)
    out("web_fill_tasks_s", time.time() - t0, "s")
    api_ms = timed(c, "tasks.get_all_ex", {
        "only_fields": ["id", "name", "status", "type", "project", "execution.queue", "last_worker",
                        "started", "completed", "active_duration", "last_update", "tags"],
        "order_by": ["-last_update", "-id"], "page": 0, "page_size": 50,
        "system_tags": ["-archived"]}, n=5)
    out(f"web_tasks_get_all_ex_page_{N_TASKS}_tasks_ms", api_ms, "ms")
    tid = c.call("tasks.create", {"name": "bench log", "type": "training"})["id"]
    t0 = time.time()
    events = fill_log(server, token, tid)
    out("web_fill_log_s", time.time() - t0, "s")
    b = web_helper.Browser(server.url)
    try:
        b.sign_in(server.access_key, server.secret_key)
        loads = []
        for _ in range(3):
            b.go("/ui/experiments")
            b.wait(lambda: b.d.execute_script("return document.documentElement.dataset.tableReady"), 30)
            loads.append(float(b.d.execute_script("return document.documentElement.dataset.tableReady")))
        out(f"web_experiments_page_load_{N_TASKS}_tasks_ms", statistics.median(loads), "ms")
        sorts = []
        for _ in range(3):
            t0 = time.perf_counter()
            n = b.attr("#main", "data-loads")
            b.d.execute_script("document.querySelector('button[data-sort=name]').click()")
            b.wait(lambda: b.attr("#main", "data-loads") != n, 30)
            sorts.append((time.perf_counter() - t0) * 1000)
        out(f"web_experiments_sort_{N_TASKS}_tasks_ms", statistics.median(sorts), "ms")
        loads = []
        for _ in range(3):
            b.go(f"/ui/tasks/{tid}/console")
            b.wait(lambda: b.d.execute_script("return document.documentElement.dataset.logReady"), 60)
            b.wait(lambda: int(b.attr("#console-log", "data-lines") or 0) >= 3000, 60)
            loads.append(float(b.d.execute_script("return document.documentElement.dataset.logReady")))
        out(f"web_console_page_load_{N_LINES}_lines_{events}_events_ms", statistics.median(loads), "ms")
        # scrolling up: each page of earlier lines, fetched and painted
        t0 = time.perf_counter()
        pages = 0
        for _ in range(10):
            before = b.attr("#console-log", "data-pages")
            b.d.execute_script("document.getElementById('console-log').scrollTop = 0")
            b.wait(lambda: b.attr("#console-log", "data-pages") != before, 30)
            pages += 1
        out("web_console_scroll_up_page_ms", (time.perf_counter() - t0) * 1000 / pages, "ms")
        frame = b.d.execute_script("""
            const box = document.getElementById('console-log'); const t0 = performance.now();
            for (let i = 0; i < 200; i++) { box.scrollTop = (i * 997) % box.scrollHeight; box.dispatchEvent(new Event('scroll')); }
            return (performance.now() - t0) / 200;""")
        out("web_console_repaint_per_scroll_ms", frame, "ms")
        b.shot("bench-console-1M")
    finally:
        b.close()


def main():
    tmp = tempfile.mkdtemp(prefix="bench-web-")
    server = ServerLite(os.path.join(tmp, "data"))
    try:
        token = server.api().token
        bench_stats(server, token)
        if not os.environ.get("BENCH_SKIP_BROWSER"):
            bench_browser(server, token)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
