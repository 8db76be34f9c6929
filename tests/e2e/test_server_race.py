"""Exactly-once hand-out: 20 clients race queues.get_next_task on a queue of 1,000 tasks. Every
task must be claimed by exactly one client, and each client's claims must come in queue order
(the queue is one atomic pop per transaction, spec clearml-api §2.3)."""
import threading
from concurrent.futures import ThreadPoolExecutor

N_TASKS = 1000
N_CLIENTS = 20


def _fill_queue(server, qid, n):
    """Create n tasks and append them to qid in order; returns the ids in queue order."""
    def create(chunk):
        api = server.api()
        return [api.call("tasks.create", name=f"race-{i:04d}", type="training")["id"]
                for i in chunk]

    with ThreadPoolExecutor(4) as ex:
        ids = [t for part in ex.map(create, [range(k, n, 4) for k in range(4)]) for t in part]
    api = server.api()
    for tid in ids:                       # appends are serial so the order is known
        api.call("queues.add_task", queue=qid, task=tid)
    return ids


def test_get_next_task_hands_each_task_out_exactly_once(server):
    api = server.api()
    qid = api.call("queues.create", name="race-queue")["id"]
    order = _fill_queue(server, qid, N_TASKS)
    position = {tid: i for i, tid in enumerate(order)}
    clients = [server.api() for _ in range(N_CLIENTS)]
    claims = [[] for _ in range(N_CLIENTS)]
    errors = []
    start = threading.Barrier(N_CLIENTS)

    def worker(k):
        try:
            start.wait(timeout=30)
            while True:
                r = clients[k].call("queues.get_next_task", queue=qid)
                if not r:
                    return
                claims[k].append(r["entry"]["task"])
        except Exception as e:  # reported below, with the client number
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(N_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a client did not finish"
    assert errors == []
    everything = [tid for c in claims for tid in c]
    assert len(everything) == N_TASKS, "a task was lost or handed out twice"
    assert set(everything) == set(order)
    for k, c in enumerate(claims):
        pos = [position[t] for t in c]
        assert pos == sorted(pos), f"client {k} got tasks out of queue order"
    assert sum(1 for c in claims if c) > 1, "only one client ever won: no race was exercised"
    assert api.call("queues.get_num_entries", queue=qid) == {"num": 0}
