"""Long-poll dispatch, server-lite's addition: server.info offers clearml_lite.long_poll_max_sec,
queues.get_next_task with wait_sec parks until a task is enqueued (or the wait ends), and an
idle agent uses it, so it starts a task enqueued long before its polling interval would end.
Real server-lite, real daemon."""
import threading
import time

from agent_helper import (AgentProcess, create_queue, create_script_task, enqueue, marker_script,
                          wait_status)


def test_server_offers_and_honours_wait(api):
    assert api.call("server.info")["clearml_lite"]["long_poll_max_sec"] == 30
    q = create_queue(api, "lp-queue")
    t0 = time.monotonic()
    assert api.call("queues.get_next_task", queue=q, wait_sec=1) == {}
    assert time.monotonic() - t0 >= 0.9  # it waited, then answered empty
    assert api.call("queues.get_next_task", queue=q) == {}  # no wait_sec: at once, as upstream
    tid = api.call("tasks.create", name="lp-task", type="training")["id"]
    got = {}

    def claim():
        got["data"] = api.call("queues.get_next_task", queue=q, wait_sec=20)
    th = threading.Thread(target=claim)
    th.start()
    time.sleep(0.5)
    enqueue(api, tid, queue=q)
    th.join(30)
    assert got["data"]["entry"]["task"] == tid


def test_parked_claims_get_each_task_once(server, api):
    """Several parked callers, fewer tasks: each task goes to exactly one, the rest time out."""
    q = create_queue(api, "lp-race")
    results, lock = [], threading.Lock()

    def claim():
        a = server.api()
        d = a.call("queues.get_next_task", queue=q, wait_sec=3)
        with lock:
            results.append(d.get("entry", {}).get("task"))
    threads = [threading.Thread(target=claim) for _ in range(6)]
    for th in threads:
        th.start()
    time.sleep(0.5)
    ids = [api.call("tasks.create", name=f"race-{i}", type="training")["id"] for i in range(3)]
    for tid in ids:
        enqueue(api, tid, queue=q)
    for th in threads:
        th.join(30)
    claimed = [r for r in results if r]
    assert sorted(claimed) == sorted(ids) and results.count(None) == 3


def test_server_stops_with_parked_request(server, api):
    q = create_queue(api, "lp-stop")
    def parked():
        try:  # answered empty, or cut off as any in-flight call is when a server stops
            api.raw("queues.get_next_task", {"queue": q, "wait_sec": 30}, method="POST")
        except Exception:  # noqa: BLE001
            pass
    th = threading.Thread(target=parked)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - t0 < 10
    th.join(10)


def test_idle_agent_long_polls(server, api, tmp_path):
    """With a 300 s polling interval, only the long-poll can start this task within the test's
    patience: the agent went idle (an empty poll) before the task was enqueued."""
    q = create_queue(api, "lp-agent")
    a = AgentProcess(server, tmp_path, ["--queue", "lp-agent", "--polling-interval", "300"],
                     env={"CLEARML_AGENT__AGENT__POLLING_INTERVAL_MIN_SEC": "0.2",
                          "TMPDIR": str(tmp_path)})
    try:
        # the agent registered and has polled (the queue was empty then)
        time.sleep(3)
        tid = create_script_task(api, marker_script("long-polled"), name="lp agent task")
        enqueue(api, tid, queue=q)
        assert wait_status(api, tid, timeout=60)["status"] == "completed", a.output()
    finally:
        a.stop()


def test_parked_caller_that_left_claims_nothing(server, api):
    """A parked long-poll whose client is gone (a kill -9'd agent) must not take the next task:
    it would leave the queue with nobody to run it. Raw socket, closed while parked."""
    import json
    import socket
    from urllib.parse import urlparse
    q = create_queue(api, "lp-gone")
    u = urlparse(server.url)
    body = json.dumps({"queue": q, "wait_sec": 20}).encode()
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(b"POST /queues.get_next_task HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Authorization: Bearer {api.token or api.login()}\r\n".encode()
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    time.sleep(0.5)  # parked now
    s.close()
    time.sleep(0.3)
    tid = api.call("tasks.create", name="lp-gone-task", type="training")["id"]
    enqueue(api, tid, queue=q)
    time.sleep(1.0)  # the parked request is resumed by the enqueue and must see its client gone
    got = api.call("queues.get_next_task", queue=q)
    assert got.get("entry", {}).get("task") == tid


def test_stopped_agent_parked_poll_leaves_task_queued(server, api, tmp_path):
    """An agent stopped (SIGTERM) while its long-poll is parked must not take the task enqueued
    after it left: the next agent (or any caller) still finds it in the queue."""
    q = create_queue(api, "lp-stopped")
    a = AgentProcess(server, tmp_path, ["--queue", "lp-stopped", "--polling-interval", "300"],
                     env={"CLEARML_AGENT__AGENT__POLLING_INTERVAL_MIN_SEC": "0.2",
                          "TMPDIR": str(tmp_path)})
    try:
        time.sleep(3)  # registered, polled once, parked now
    finally:
        a.stop()
    tid = create_script_task(api, marker_script("after-stop"), name="lp after stop")
    enqueue(api, tid, queue=q)
    time.sleep(1.5)
    got = api.call("queues.get_next_task", queue=q)
    assert got.get("entry", {}).get("task") == tid, got
