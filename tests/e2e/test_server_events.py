"""clearml-server-lite events.*: add / add_batch counting and errors (400/17, 400/131), the §6.1
normalization, task side effects (last_iteration, last_metrics), the get_task_log paging of §6.3
(both directions, order flip, equal timestamps across pages), the 1.7 log handler,
get_task_events paging, scalar listings, deletion, and persistence across a restart."""
import json
import time

import pytest

from clearml_api import ApiError


def new_task(api, name="ev-task"):
    return api.call("tasks.create", name=name, type="training")["id"]


def log(task, ts, msg, **kw):
    return dict(task=task, type="log", timestamp=ts, msg=msg, level="info", **kw)


def scalar(task, it, value, metric="loss", variant="train", **kw):
    return dict(task=task, type="training_stats_scalar", iter=it, value=value, metric=metric,
                variant=variant, timestamp=1000 + it, **kw)


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as ei:
        fn(*a, **kw)
    return ei.value


def test_add_batch_counts_and_errors(api):
    tid = new_task(api)
    r = api.batch("events.add_batch", [
        log(tid, 1, "a\n"), log(tid, 2, "b\n"), scalar(tid, 3, 0.5),
        {"task": tid, "msg": "no type"},
        {"type": "log", "task": "nosuchtask", "msg": "bad task"},
        {"type": "unknown_type", "task": tid},
    ])
    assert r["added"] == 3 and r["errors"] == 3
    assert sum(r["errors_info"].values()) == 3 and len(r["errors_info"]) == 3
    assert [e["msg"] for e in api.task_log(tid)] == ["a\n", "b\n"]

    e = err(api.batch, "events.add_batch", [{"type": "log", "task": "nosuchtask", "msg": "x"}])
    assert (e.code, e.subcode) == (400, 131)
    status, resp = api.raw("events.add_batch", data="", method="POST",
                           headers={"Content-Type": "application/json-lines"})
    assert (resp["meta"]["result_code"], resp["meta"]["result_subcode"]) == (400, 17)


def test_plain_object_is_a_batch_of_one_and_add(api):
    tid = new_task(api)
    r = api.call("events.add_batch", method="POST", **log(tid, 5, "one\n"))
    assert r["added"] == 1 and r["errors"] == 0
    r = api.call("events.add", **log(tid, 6, "two\n"))
    assert r == {"added": 1, "errors": 0, "errors_info": {}}
    assert [e["msg"] for e in api.task_log(tid)] == ["one\n", "two\n"]
    e = err(api.call, "events.add", task=tid, msg="typeless")
    assert (e.code, e.subcode) == (400, 131)


def test_normalization_worker_header_ts_and_defaults(api):
    tid = new_task(api)
    line = json.dumps({"task": tid, "type": "log", "ts": 4242, "msg": "legacy ts"})
    status, resp = api.raw("events.add_batch", data=line, method="POST",
                           headers={"Content-Type": "application/json-lines",
                                    "X-ClearML-Worker": "box-7"})
    assert status == 200 and resp["data"]["added"] == 1
    before = int(time.time() * 1000)
    api.batch("events.add_batch", [{"task": tid, "type": "log", "msg": "no ts", "worker": "w"}])
    ev = api.task_log(tid)
    assert ev[0]["timestamp"] == 4242 and ev[0]["worker"] == "box-7" and "ts" not in ev[0]
    assert ev[0]["metric"] == "" and ev[0]["variant"] == "" and ev[0]["model_event"] is False
    assert ev[1]["worker"] == "w" and ev[1]["timestamp"] >= before - 1000


def test_task_side_effects(api):
    tid = new_task(api)
    before = api.call("tasks.get_by_id", task=tid)["task"]["last_update"]
    time.sleep(0.01)
    api.batch("events.add_batch", [scalar(tid, 3, 1.0), scalar(tid, 7, 3.0), scalar(tid, 5, 2.0),
                                   dict(scalar(tid, -2147483648, 9.0), metric="single")])
    t = api.call("tasks.get_by_id", task=tid)["task"]
    assert t["last_iteration"] == 7
    assert t["last_update"] > before
    lm = [v for m in t["last_metrics"].values() for v in m.values() if v["metric"] == "loss"]
    assert len(lm) == 1
    assert lm[0]["min_value"] == 1.0 and lm[0]["max_value"] == 3.0 and lm[0]["count"] == 3
    assert lm[0]["max_value_iteration"] == 7
    api.batch("events.add_batch", [scalar(tid, 2, 0.0)])
    assert api.call("tasks.get_by_id", task=tid)["task"]["last_iteration"] == 7


def test_published_task_is_locked(api):
    tid = new_task(api)
    api.call("tasks.started", task=tid)
    api.call("tasks.completed", task=tid, force=True)
    api.call("tasks.publish", task=tid, force=True)
    assert api.call("tasks.get_by_id", task=tid)["task"]["status"] == "published"
    e = err(api.batch, "events.add_batch", [log(tid, 1, "late\n")])
    assert (e.code, e.subcode) == (400, 131)


def test_get_task_log_paging(api):
    tid = new_task(api)
    api.batch("events.add_batch", [log(tid, 100 + i, f"line {i}\n") for i in range(10)])
    # newest first by default, batch 5 → 5 + 5, total stays 10
    p1 = api.call("events.get_task_log", task=tid, batch_size=5)
    assert p1["returned"] == 5 and p1["total"] == 10
    assert [e["msg"] for e in p1["events"]] == [f"line {i}\n" for i in range(9, 4, -1)]
    p2 = api.call("events.get_task_log", task=tid, batch_size=5,
                  from_timestamp=p1["events"][-1]["timestamp"])
    assert p2["total"] == 10
    assert [e["msg"] for e in p2["events"]] == [f"line {i}\n" for i in range(4, -1, -1)]
    p3 = api.call("events.get_task_log", task=tid, batch_size=5,
                  from_timestamp=p2["events"][-1]["timestamp"])
    assert p3["events"] == [] and p3["total"] == 10
    # oldest first with navigate_earlier=false
    f1 = api.call("events.get_task_log", task=tid, batch_size=5, navigate_earlier=False)
    assert [e["timestamp"] for e in f1["events"]] == list(range(100, 105))
    f2 = api.call("events.get_task_log", task=tid, batch_size=5, navigate_earlier=False,
                  from_timestamp=104)
    assert [e["timestamp"] for e in f2["events"]] == list(range(105, 110))
    # `order` flips the page only
    a = api.call("events.get_task_log", task=tid, batch_size=5, order="asc")
    assert [e["timestamp"] for e in a["events"]] == list(range(105, 110))
    d = api.call("events.get_task_log", task=tid, batch_size=5, navigate_earlier=False,
                 order="desc")
    assert [e["timestamp"] for e in d["events"]] == list(range(104, 99, -1))


def test_get_task_log_equal_timestamps_not_lost(api):
    tid = new_task(api)
    # SDK-style collisions: 4 events share timestamp 203, in insertion order
    stamps = [200, 201, 202, 203, 203, 203, 203, 204, 205, 206]
    api.batch("events.add_batch", [log(tid, ts, f"m{i}") for i, ts in enumerate(stamps)])
    for earlier in (True, False):
        seen, last = [], None
        for _ in range(10):
            body = dict(task=tid, batch_size=4, navigate_earlier=earlier)
            if last is not None:
                body["from_timestamp"] = last
            page = api.call("events.get_task_log", **body)["events"]
            if not page:
                break
            seen += [e["msg"] for e in page]
            last = page[-1]["timestamp"]
        want = [f"m{i}" for i in range(10)]
        assert seen == (want if not earlier else want[::-1]), (earlier, seen)
    # a page can be longer than batch_size to keep the last timestamp whole
    p = api.call("events.get_task_log", task=tid, batch_size=4, navigate_earlier=False)
    assert [e["msg"] for e in p["events"]] == ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]


def test_get_task_log_old_handler_and_errors(api):
    tid = new_task(api)
    api.batch("events.add_batch", [log(tid, 10 + i, f"x{i}") for i in range(5)])
    r = api.call("events.get_task_log", version="2.5", task=tid, batch_size=3, order="asc")
    assert [e["msg"] for e in r["events"]] == ["x0", "x1", "x2"] and r["total"] == 5
    r2 = api.call("events.get_task_log", version="2.5", task=tid, batch_size=3, order="asc",
                  scroll_id=r["scroll_id"])
    assert [e["msg"] for e in r2["events"]] == ["x3", "x4"]
    e = err(api.call, "events.get_task_log", task="nosuchtask")
    assert (e.code, e.subcode) == (400, 101)
    e = err(api.call, "events.get_task_log")
    assert (e.code, e.subcode) == (400, 12)


def test_get_task_events_scroll(api):
    tid = new_task(api)
    api.batch("events.add_batch", [scalar(tid, i, float(i)) for i in range(7)] +
              [log(tid, 1, "log line")])
    got, scroll = [], None
    for _ in range(10):
        body = dict(task=tid, event_type="training_stats_scalar", batch_size=3)
        if scroll:
            body["scroll_id"] = scroll
        r = api.call("events.get_task_events", **body)
        assert r["total"] == 7
        if not r["events"]:
            break
        got += [e["iter"] for e in r["events"]]
        scroll = r["scroll_id"]
    assert got == list(range(7))
    r = api.call("events.get_task_events", task=tid, order="desc", batch_size=2)
    assert r["total"] == 8 and [e["iter"] for e in r["events"]] == [6, 5]


def test_scalars_overwrite_and_listings(api):
    tid = new_task(api)
    api.batch("events.add_batch", [scalar(tid, 1, 1.0), scalar(tid, 2, 2.0),
                                   scalar(tid, 1, 1.0, variant="val"),
                                   scalar(tid, 1, 5.0, metric="acc", variant="top1")])
    # the same task/iter/metric/variant overwrites
    api.batch("events.add_batch", [scalar(tid, 2, 4.0)])
    mv = api.call("events.get_scalar_metrics_and_variants", task=tid)["metrics"]
    assert mv == {"loss": {"train": {"name": "train"}, "val": {"name": "val"}},
                  "acc": {"top1": {"name": "top1"}}}
    h = api.call("events.scalar_metrics_iter_histogram", task=tid)
    assert h["loss"]["train"] == {"name": "train", "x": [1, 2], "y": [1.0, 4.0]}
    assert h["acc"]["top1"]["y"] == [5.0]
    h = api.call("events.scalar_metrics_iter_histogram", task=tid, metrics=[{"metric": "acc"}])
    assert list(h) == ["acc"]
    lv = api.call("events.get_task_latest_scalar_values", task=tid)
    assert lv["last_iter"] == 2 and lv["status"] == "created"
    loss = {v["name"]: v for m in lv["metrics"] if m["name"] == "loss" for v in m["variants"]}
    assert loss["train"]["last_value"] == 4.0 and loss["train"]["last_100_value"] == 2.5
    ev = api.call("events.get_task_events", task=tid, event_type="training_stats_scalar")
    assert ev["total"] == 4


def test_delete_for_task_and_persistence(server):
    api = server.api()
    keep, drop = new_task(api, "keep-logs"), new_task(api, "drop-logs")
    api.batch("events.add_batch", [log(keep, 1 + i, f"k{i}") for i in range(3)] +
              [log(drop, 1, "d0"), scalar(drop, 1, 1.0)])
    assert api.call("events.delete_for_task", task=drop) == {"deleted": 2}
    assert api.task_log(drop) == []
    e = err(api.call, "events.delete_for_task", task="nosuchtask")
    assert (e.code, e.subcode) == (400, 101)
    server.restart()
    api = server.api()
    assert [e["msg"] for e in api.task_log(keep)] == ["k0", "k1", "k2"]


def test_big_log_event_roundtrip(api):
    tid = new_task(api)
    text = "".join(f"{i:06d} \u00e9 \"quoted\" \\ tab\t\n" for i in range(3000))[:65536]
    api.batch("events.add_batch", [log(tid, 1, text)])
    assert api.task_log_text(tid) == text


def test_reset_and_delete_of_a_task_drop_its_events(api):
    reset, deleted, other = new_task(api, "ev-reset"), new_task(api, "ev-deleted"), new_task(api, "ev-other")
    api.batch("events.add_batch", [log(t, 1, f"{t} line") for t in (reset, deleted, other)] +
              [scalar(reset, 4, 1.0)])
    api.call("tasks.reset", task=reset, force=True)
    assert api.task_log(reset) == []
    assert api.call("events.get_task_events", task=reset)["total"] == 0
    api.call("tasks.delete", task=deleted, force=True)
    assert api.call("events.get_task_log", task=other)["total"] == 1
    # deleting (or resetting) one task leaves the other tasks' events alone
    assert [e["msg"] for e in api.task_log(other)] == [f"{other} line"]


def test_plots_and_debug_images_latest_iterations(api):
    tid = new_task(api, "ev-media")
    evs = []
    for it in (1, 2, 3):
        evs.append(dict(task=tid, type="plot", iter=it, metric="pr", variant="curve",
                        plot_str=json.dumps({"data": [it]}), timestamp=it))
        for v in ("a", "b"):
            evs.append(dict(task=tid, type="training_debug_image", iter=it, metric="img",
                            variant=v, key=f"img/{v}", url=f"http://files/{v}/{it}.png",
                            timestamp=it))
    api.batch("events.add_batch", evs)
    p = api.call("events.get_task_plots", task=tid, iters=2)
    assert [e["iter"] for e in p["plots"]] == [3, 2] and p["returned"] == 2
    assert json.loads(p["plots"][0]["plot_str"]) == {"data": [3]}
    d = api.call("events.debug_images", metrics=[{"task": tid, "metric": "img"}], iters=2)
    (m,) = d["metrics"]
    assert m["task"] == tid and d["scroll_id"]  # upstream shape: {task, iterations}
    assert [x["iter"] for x in m["iterations"]] == [3, 2]
    assert sorted(e["url"] for e in m["iterations"][0]["events"]) == [
        "http://files/a/3.png", "http://files/b/3.png"]


def test_task_log_metrics_filter_and_clear(api):
    """Upstream test_task_logs' second half: log events may carry metric/variant (2.30)."""
    tid = new_task(api, "ev-log-metrics")
    api.batch("events.add_batch", [log(tid, 100 + i, f"plain {i}") for i in range(10)] +
              [log(tid, 200 + i, f"tagged {i}", metric="metric", variant="variant")
               for i in range(2)])
    assert api.call("events.get_task_log", task=tid)["total"] == 12
    r = api.call("events.get_task_log", task=tid, metrics=[{"metric": "metric"}])
    assert r["total"] == 2 and [e["msg"] for e in r["events"]] == ["tagged 1", "tagged 0"]
    r = api.call("events.get_task_log", task=tid,
                 metrics=[{"metric": "metric", "variants": ["other"]}])
    assert r["total"] == 0 and r["events"] == []
    assert api.call("events.clear_task_log", task=tid, exclude_metrics=["metric"]) == {"deleted": 10}
    assert api.call("events.get_task_log", task=tid)["total"] == 2
    assert api.call("events.clear_task_log", task=tid) == {"deleted": 2}
    assert api.call("events.get_task_log", task=tid)["total"] == 0
