"""clearml-server-lite worker and queue statistics: machine_stats of workers.status_report kept
in time buckets and read back by workers.get_stats (aggregations, GPU split by variant and by
resource), workers.get_metric_keys, workers.get_activity_report; queues.get_queue_metrics with
real length / wait-time samples. Shapes and numbers follow clearml-server's own
tests/automated/test_workers.py (two simulated workers, reports 60 s apart)."""
import statistics
import time
import uuid

import pytest

from clearml_api import ApiError


def simulate(api, start, with_gpu=False):
    tid = api.call("tasks.create", name="stats-task", type="testing")["id"]
    api.call("tasks.started", task=tid)
    workers = [f"test_{uuid.uuid4().hex}", f"test_{uuid.uuid4().hex}"]
    gpu = [dict(gpu_usage=[60, 70]), dict(gpu_usage=[40])] if with_gpu else [{}, {}]
    stats = (dict(cpu_usage=[10, 20], memory_used=50, **gpu[0]),
             dict(cpu_usage=[5], memory_used=30, **gpu[1]))
    activity = [(0, 1), (0, 1), (0,), (0,)]
    ts = start * 1000
    for who in activity:
        for w in who:
            body = dict(worker=workers[w], timestamp=ts, machine_stats=stats[w])
            if w == 0:
                body["task"] = tid
            api.call("workers.status_report", **body)
            ts += 60 * 1000
    return dict(zip(workers, stats))


def test_metric_keys(api):
    with pytest.raises(ApiError) as ei:
        api.call("workers.get_metric_keys")
    assert (ei.value.code, ei.value.subcode) == (400, 1005)
    workers = simulate(api, int(time.time()))
    res = api.call("workers.get_metric_keys", worker_ids=list(workers))
    cats = {c["name"]: c["metric_keys"] for c in res["categories"]}
    assert cats == {"cpu": ["cpu_usage"], "memory": ["memory_used"]}
    with pytest.raises(ApiError) as ei:
        api.call("workers.get_metric_keys", worker_ids=["Non existing worker id"])
    assert ei.value.subcode == 1005


def test_get_stats_aggregations_and_split(api):
    start = int(time.time())
    workers = simulate(api, start, with_gpu=True)
    res = api.call("workers.get_stats", from_date=start, to_date=start + 400, interval=1,
                   worker_ids=list(workers),
                   items=[dict(key="cpu_usage", aggregation="avg"),
                          dict(key="cpu_usage", aggregation="max"),
                          dict(key="gpu_usage", aggregation="avg"),
                          dict(key="gpu_usage", aggregation="max"),
                          dict(key="memory_used", aggregation="max")])
    assert {w["worker"] for w in res["workers"]} == set(workers)
    for w in res["workers"]:
        expected = workers[w["worker"]]
        by_metric = {m["metric"]: m for m in w["metrics"]}
        assert set(by_metric) == {"cpu_usage", "gpu_usage", "memory_used"}
        assert {s["aggregation"] for s in by_metric["cpu_usage"]["stats"]} == {"avg", "max"}
        assert {s["aggregation"] for s in by_metric["memory_used"]["stats"]} == {"max"}
        for name, m in by_metric.items():
            for s in m["stats"]:
                assert 11 >= len(s["dates"]) >= 10       # 400 s at the 40 s minimum interval
                assert len(s["values"]) == len(s["dates"])
                assert all(d % 40000 == 0 for d in s["dates"])
                assert not s["resource_series"]
                e = expected[name]
                if isinstance(e, list):
                    e = statistics.mean(e) if s["aggregation"] == "avg" else max(e)
                assert set(s["values"]) == {e, 0}

    res = api.call("workers.get_stats", from_date=start, to_date=start + 400, interval=1,
                   worker_ids=list(workers), split_by_resource=True,
                   items=[dict(key="gpu_usage", aggregation="avg")])
    for w in res["workers"]:
        expected = workers[w["worker"]]["gpu_usage"]
        (stat,) = w["metrics"][0]["stats"]
        if len(expected) > 1:
            assert [rs["name"] for rs in stat["resource_series"]] == ["0", "1"]
            for rs, value in zip(stat["resource_series"], expected):
                assert set(rs["values"]) == {value, 0}
        else:
            assert stat["resource_series"] == []

    res = api.call("workers.get_stats", from_date=start, to_date=start + 400, interval=60,
                   worker_ids=list(workers), split_by_variant=True,
                   items=[dict(key="gpu_usage", aggregation="max")])
    multi = next(w for w in res["workers"] if len(workers[w["worker"]]["gpu_usage"]) == 2)
    assert sorted(m["variant"] for m in multi["metrics"]) == ["0", "1"]
    for m in multi["metrics"]:
        assert max(m["stats"][0]["values"]) == workers[multi["worker"]]["gpu_usage"][int(m["variant"])]

    res = api.call("workers.get_stats", from_date=start, to_date=start + 400, interval=1,
                   worker_ids=["Non existing worker id"],
                   items=[dict(key="cpu_usage", aggregation="avg")])
    assert res["workers"] == []


def test_get_stats_validation(api):
    for body in (dict(from_date=1, to_date=2, interval=1),                  # no items
                 dict(from_date=1, to_date=2, interval=1, items=[]),
                 dict(from_date=1, to_date=2, interval=1, items=[dict(key="cpu_usage",
                                                                     aggregation="median")]),
                 dict(to_date=2, interval=1, items=[dict(key="cpu_usage")]),
                 dict(from_date=1, to_date=2, interval=0, items=[dict(key="cpu_usage")])):
        with pytest.raises(ApiError) as ei:
            api.call("workers.get_stats", **body)
        assert (ei.value.code, ei.value.subcode) == (400, 12), body
    with pytest.raises(ApiError) as ei:
        api.call("workers.get_stats", from_date=5, to_date=5, interval=1,
                 items=[dict(key="cpu_usage")])
    assert ei.value.code == 400


def test_activity_report(api):
    # buckets are aligned to the epoch (as upstream's histograms) and the last one, which always
    # reaches past to_date, is dropped: a 400 s range gives ten 40 s buckets whatever second it
    # starts on. Start 37 s past a boundary, where a cutoff with 10 % tolerance would keep 11.
    start = int(time.time()) // 40 * 40 - 40 + 37
    simulate(api, start)
    res = api.call("workers.get_activity_report", from_date=start, to_date=start + 400,
                   interval=2)
    # six reports 60 s apart land in six 40 s buckets; four of them came with a task
    for series, reports in ((res["total"], 6), (res["active"], 4)):
        assert len(series["dates"]) == 10 and len(series["counts"]) == 10
        assert all(d % 40000 == 0 for d in series["dates"])
        assert sum(series["counts"]) == reports and max(series["counts"]) == 1


def test_queue_metrics_series(api):
    qid = api.call("queues.create", name="metrics-q")["id"]
    t0 = time.time()
    empty = api.call("queues.get_queue_metrics", from_date=t0 - 60, to_date=t0 + 60, interval=10,
                     queue_ids=[qid], refresh=True)
    (q,) = empty["queues"]
    assert q["queue"] == qid and q["queue_lengths"][-1] == 0
    tasks = [api.call("tasks.create", name=f"queued-{i}", type="testing")["id"] for i in range(3)]
    for t in tasks:
        api.call("tasks.enqueue", task=t, queue=qid)
    time.sleep(1.2)
    res = api.call("queues.get_queue_metrics", from_date=t0 - 60, to_date=time.time() + 60,
                   interval=10, queue_ids=[qid], refresh=True)
    (q,) = res["queues"]
    assert len(q["dates"]) == len(q["queue_lengths"]) == len(q["avg_waiting_times"])
    assert q["queue_lengths"][-1] == 3
    assert q["avg_waiting_times"][-1] >= 1.0
    assert all(d % 10000 == 0 for d in q["dates"])
    # all queues: one weighted series called "total"
    res = api.call("queues.get_queue_metrics", from_date=t0 - 60, to_date=time.time() + 60,
                   interval=10)
    (tot,) = res["queues"]
    assert tot["queue"] == "total" and tot["queue_lengths"][-1] >= 3
    with pytest.raises(ApiError):
        api.call("queues.get_queue_metrics", from_date=10, to_date=5, interval=10)


def test_queue_metrics_point_at_every_change(api):
    # upstream logs a queue-metrics point at every add/remove/dequeue: a queue changed a moment
    # ago has its points without waiting for the 10 s sampler or asking for refresh
    qid = api.call("queues.create", name=f"change-q-{uuid.uuid4().hex[:8]}")["id"]
    t0 = time.time()
    tasks = [api.call("tasks.create", name=f"chg-{i}", type="testing")["id"] for i in range(2)]
    for t in tasks:
        api.call("tasks.enqueue", task=t, queue=qid)
    res = api.call("queues.get_queue_metrics", from_date=t0 - 3600, to_date=time.time(),
                   interval=5, queue_ids=[qid])
    (q,) = res["queues"]
    assert q["queue"] == qid and 1 <= len(q["dates"]) <= 2
    assert q["queue_lengths"][-1] == 2
    assert q["dates"][0] / 1000 > t0 - 15 and all(d % 5000 == 0 for d in q["dates"])
