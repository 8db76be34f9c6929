"""clearml-server-lite plots / debug images navigation (svc_events_samples.c): events.plots and
events.debug_images pages (earlier / later from the scroll state, refresh, recycled image
names, variant filters), get/next_plot_sample and get/next_debug_image_sample (metric, variant
and iteration navigation), and the scroll_id errors (400/1104)."""
import json

import pytest

from clearml_api import ApiError


def new_task(api, name="samples-task"):
    return api.call("tasks.create", name=name, type="training")["id"]


def plot(task, it, metric, variant, ts=None):
    return dict(task=task, type="plot", iter=it, metric=metric, variant=variant,
                plot_str=json.dumps({"data": [metric, variant, it]}), timestamp=ts or 1000 + it)


def image(task, it, metric, variant, url=None):
    return dict(task=task, type="training_debug_image", iter=it, metric=metric, variant=variant,
                key=f"{metric}/{variant}", url=url or f"http://files/{metric}/{variant}/{it}.png",
                timestamp=1000 + it)


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as ei:
        fn(*a, **kw)
    return ei.value


def iters_of(res, i=0):
    return [it["iter"] for it in res["metrics"][i]["iterations"]]


def test_plots_pages_earlier_later_and_refresh(api):
    tid = new_task(api, "plots-pages")
    api.batch("events.add_batch", [plot(tid, n, "m", v) for n in range(7) for v in ("a", "b")])
    # a re-sent plot replaces the old one: still one event per variant and iteration
    api.batch("events.add_batch", [plot(tid, 6, "m", "a", ts=5000)])

    r = api.call("events.plots", metrics=[{"task": tid}], iters=3)
    sid = r["scroll_id"]
    assert iters_of(r) == [6, 5, 4] and r["metrics"][0]["task"] == tid
    top = r["metrics"][0]["iterations"][0]["events"]
    assert [(e["metric"], e["variant"]) for e in top] == [("m", "a"), ("m", "b")]
    assert top[0]["timestamp"] == 5000 and json.loads(top[1]["plot_str"]) == {
        "data": ["m", "b", 6]}
    assert iters_of(api.call("events.plots", metrics=[{"task": tid}], iters=3,
                             scroll_id=sid)) == [3, 2, 1]
    assert iters_of(api.call("events.plots", metrics=[{"task": tid}], iters=3,
                             scroll_id=sid)) == [0]
    # later from the last page: the iterations right after it, still newest first
    assert iters_of(api.call("events.plots", metrics=[{"task": tid}], iters=3, scroll_id=sid,
                             navigate_earlier=False)) == [3, 2, 1]

    # a new metric is not in the state until a refresh, which starts from the newest again
    api.batch("events.add_batch", [plot(tid, 9, "new", "x")])
    r = api.call("events.plots", metrics=[{"task": tid}], iters=2, scroll_id=sid,
                 navigate_earlier=False)
    assert iters_of(r) == [5, 4]
    r = api.call("events.plots", metrics=[{"task": tid}], iters=2, scroll_id=sid, refresh=True)
    assert iters_of(r) == [9, 6]
    assert [e["metric"] for e in r["metrics"][0]["iterations"][0]["events"]] == ["new"]

    # a metric/variant filter; an unknown scroll_id starts a new state
    r = api.call("events.plots", metrics=[{"task": tid, "metric": "m", "variants": ["b"]}],
                 iters=1, scroll_id="nosuchscroll")
    assert r["scroll_id"] != "nosuchscroll"
    assert [(e["variant"], e["iter"]) for e in r["metrics"][0]["iterations"][0]["events"]] == [
        ("b", 6)]


def test_debug_images_pages_recycled_urls_and_tasks(api):
    tid = new_task(api, "images-pages")
    other = new_task(api, "images-other")
    # "a" keeps 3 files (a0..a2), "b" a file per iteration: only the iterations after the last
    # reuse of a variant's newest file show it
    api.batch("events.add_batch",
              [image(tid, n, "img", "a", url=f"http://files/a{n % 3}.png") for n in range(8)] +
              [image(tid, n, "img", "b") for n in range(8)] +
              [image(other, 1, "x", "y")])
    r = api.call("events.debug_images", metrics=[{"task": tid, "metric": "img"},
                                                 {"task": other}], iters=4)
    assert [m["task"] for m in r["metrics"]] == [tid, other]
    its = r["metrics"][0]["iterations"]
    assert [it["iter"] for it in its] == [7, 6, 5, 4]
    assert [len(it["events"]) for it in its] == [2, 2, 2, 1]
    assert its[0]["events"][0]["url"] == "http://files/a1.png"
    assert iters_of(r, 1) == [1]
    r = api.call("events.debug_images", metrics=[{"task": tid, "metric": "img"}], iters=4,
                 scroll_id=r["scroll_id"])
    assert iters_of(r) == [3, 2, 1, 0]
    assert all(len(it["events"]) == 1 and it["events"][0]["variant"] == "b"
               for it in r["metrics"][0]["iterations"])
    # the second task had one iteration: nothing earlier
    assert iters_of(r, 1) == []

    # a page whose iterations hold only overwritten images comes back empty
    recycled = new_task(api, "images-recycled")
    api.batch("events.add_batch", [image(recycled, n, "img", "r", url=f"http://files/r{n % 2}")
                                   for n in range(6)])
    r = api.call("events.debug_images", metrics=[{"task": recycled}], iters=2)
    assert iters_of(r) == [5, 4]
    r = api.call("events.debug_images", metrics=[{"task": recycled}], iters=2,
                 scroll_id=r["scroll_id"])
    assert iters_of(r) == []

    empty = new_task(api, "images-empty")
    r = api.call("events.debug_images", metrics=[{"task": empty}], iters=5)
    assert r["metrics"] == [{"task": empty, "iterations": []}] and r["scroll_id"]


def test_pages_errors(api):
    e = err(api.call, "events.plots", metrics=[{"task": "nosuchtask"}], iters=1)
    assert (e.code, e.subcode) == (400, 101)
    e = err(api.call, "events.debug_images", metrics=[], iters=1)
    assert (e.code, e.subcode) == (400, 12)
    tid = new_task(api, "pages-errors")
    e = err(api.call, "events.plots", metrics=[{"task": tid}], iters=0)
    assert (e.code, e.subcode) == (400, 12)


def test_plot_sample_navigation(api):
    tid = new_task(api, "plot-sample")
    evs = [plot(tid, n, m, v) for n in range(3) for m, v in
           (("m1", "a"), ("m1", "b"), ("m2", "c"))]
    api.batch("events.add_batch", evs)

    r = api.call("events.get_plot_sample", task=tid, metric="m1")
    assert [(e["iter"], e["variant"]) for e in r["events"]] == [(2, "a"), (2, "b")]
    assert (r["min_iteration"], r["max_iteration"]) == (0, 2)
    sid = r["scroll_id"]
    r = api.call("events.get_plot_sample", task=tid, metric="m1", iteration=1, scroll_id=sid)
    assert r["scroll_id"] == sid and {e["iter"] for e in r["events"]} == {1}
    nxt = dict(task=tid, scroll_id=sid)
    assert [e["iter"] for e in api.call("events.next_plot_sample", **nxt)["events"]] == [0, 0]
    r = api.call("events.next_plot_sample", **nxt)
    assert r["events"] == [] and r["min_iteration"] is None
    r = api.call("events.next_plot_sample", navigate_earlier=False, **nxt)
    assert [e["iter"] for e in r["events"]] == [1, 1]

    # across metrics: m2 comes after m1 in the same iteration, then the next iteration
    r = api.call("events.get_plot_sample", task=tid, metric="m1", iteration=1,
                 navigate_current_metric=False)
    nxt = dict(task=tid, scroll_id=r["scroll_id"])
    seen = []
    for _ in range(4):
        r = api.call("events.next_plot_sample", navigate_earlier=False, **nxt)
        seen.append((r["events"][0]["iter"], r["events"][0]["metric"]) if r["events"] else None)
    assert seen == [(1, "m2"), (2, "m1"), (2, "m2"), None]
    r = api.call("events.next_plot_sample", next_iteration=True, **nxt)
    assert [(e["iter"], e["metric"]) for e in r["events"]] == [(1, "m2")]

    # an unknown metric: a state, no events, no range
    r = api.call("events.get_plot_sample", task=tid, metric="nosuchmetric")
    assert r["events"] == [] and r["max_iteration"] is None and r["scroll_id"]


def test_debug_image_sample_navigation(api):
    tid = new_task(api, "image-sample")
    api.batch("events.add_batch",
              [image(tid, n, "img", "a", url=f"http://files/a{n % 2}.png") for n in range(5)] +
              [image(tid, n, "img", v) for n in range(5) for v in ("b",)] +
              [image(tid, n, "zz", "c") for n in (3, 4)])
    r = api.call("events.get_debug_image_sample", task=tid, metric="img", variant="a")
    assert r["event"]["iter"] == 4 and r["event"]["url"] == "http://files/a0.png"
    # a's two files were last written at iterations 3 and 4: nothing valid before 3
    assert (r["min_iteration"], r["max_iteration"]) == (3, 4)
    sid = r["scroll_id"]
    r = api.call("events.get_debug_image_sample", task=tid, metric="img", variant="a",
                 iteration=1, scroll_id=sid)
    assert r["event"] is None and r["min_iteration"] == 3

    r = api.call("events.get_debug_image_sample", task=tid, metric="img", variant="b",
                 iteration=3, scroll_id=sid)
    assert r["event"]["iter"] == 3 and (r["min_iteration"], r["max_iteration"]) == (0, 4)
    nxt = dict(task=tid, scroll_id=sid)
    got = []
    for _ in range(4):
        ev = api.call("events.next_debug_image_sample", **nxt)["event"]
        got.append(ev and (ev["iter"], ev["variant"]))
    # earlier: a at 3, then b at 2 (a is not valid there), b at 1, b at 0
    assert got == [(3, "a"), (2, "b"), (1, "b"), (0, "b")]
    assert api.call("events.next_debug_image_sample", **nxt)["event"] is None
    r = api.call("events.next_debug_image_sample", navigate_earlier=False, next_iteration=True,
                 **nxt)
    assert (r["event"]["iter"], r["event"]["variant"]) == (1, "b")

    # every metric: from img/b at 4 the next one is zz/c at 4
    r = api.call("events.get_debug_image_sample", task=tid, metric="img", variant="b",
                 navigate_current_metric=False, version="2.20")
    r = api.call("events.next_debug_image_sample", task=tid, scroll_id=r["scroll_id"],
                 navigate_earlier=False)
    assert (r["event"]["metric"], r["event"]["iter"]) == ("zz", 4)
    assert (r["min_iteration"], r["max_iteration"]) == (3, 4)


def test_sample_scroll_errors(api):
    tid = new_task(api, "sample-errors")
    other = new_task(api, "sample-errors-other")
    api.batch("events.add_batch", [plot(tid, 1, "m", "v"), image(tid, 1, "i", "v")])
    e = err(api.call, "events.next_plot_sample", task=tid, scroll_id="nosuchscroll")
    assert (e.code, e.subcode) == (400, 1104)
    r = api.call("events.get_plot_sample", task=tid, metric="m")
    # the state belongs to a task and a metric, and to its kind of sample
    e = err(api.call, "events.next_plot_sample", task=other, scroll_id=r["scroll_id"])
    assert (e.code, e.subcode) == (400, 1104)
    e = err(api.call, "events.get_plot_sample", task=tid, metric="other",
            scroll_id=r["scroll_id"])
    assert (e.code, e.subcode) == (400, 1104)
    e = err(api.call, "events.next_debug_image_sample", task=tid, scroll_id=r["scroll_id"])
    assert (e.code, e.subcode) == (400, 1104)
    e = err(api.call, "events.get_debug_image_sample", task=tid, metric="i")
    assert (e.code, e.subcode) == (400, 12)
    e = err(api.call, "events.get_debug_image_sample", task="nosuchtask", metric="i",
            variant="v")
    assert (e.code, e.subcode) == (400, 101)
