"""clearml-server-lite serving.*: container register / status report / unregister, the endpoint
list and details, loading instances, expiry after the container's timeout, metric charts from
the stored samples, validation, and persistence across a restart."""
import time

import pytest

from clearml_api import ApiError

URL = "http://serving.example/infer"


def err(fn, *a, **kw):
    with pytest.raises(ApiError) as ei:
        fn(*a, **kw)
    return ei.value.code, ei.value.subcode


def info(cid, url=URL, **kw):
    d = {"container_id": cid, "endpoint_name": "ep", "model_name": "mdl",
         "model_version": "1.0", "input_size": 9000000, "tags": ["a"]}
    if url:
        d["endpoint_url"] = url
    d.update(kw)
    return d


def report(api, cid, mul, **kw):
    api.call("serving.container_status_report", **info(cid, **kw), uptime_sec=100 * mul,
             requests_num=10 * mul, requests_min=1.5 * mul, latency_ms=20 * mul,
             machine_stats={"cpu_usage": [10, 30], "gpu_usage": [50],
                            "memory_used": 1024 * mul, "memory_free": 1024})


def test_register_report_details_unregister(api, server):
    ref = [{"type": "model", "value": "m1"}, {"type": "app_id", "value": "x"}]
    api.call("serving.register_container", **info("c1", reference=ref), timeout=100)
    api.call("serving.register_container", **info("c2"))
    api.call("serving.register_container", **info("loading", url=None))
    report(api, "c1", 1, reference=ref)
    report(api, "c2", 3)

    eps = api.call("serving.get_endpoints")["endpoints"]
    assert len(eps) == 1
    e = eps[0]
    assert (e["url"], e["endpoint"], e["model"], e["instances"]) == (URL, "ep", "mdl", 2)
    assert e["uptime_sec"] == 300 and e["requests"] == 40
    assert e["requests_min"] == 3.0 and e["latency_ms"] == 40 and e["last_update"]

    d = api.call("serving.get_endpoint_details", endpoint_url=URL)
    assert d["url"] == URL and d["uptime_sec"] == 300 and d["input_size"] == "9000000"
    inst = {i["id"]: i for i in d["instances"]}
    assert set(inst) == {"c1", "c2"}
    assert inst["c1"]["reference"] == ref and inst["c2"]["reference"] == []
    assert [inst["c2"][k] for k in ("uptime_sec", "requests", "requests_min", "latency_ms",
                                    "cpu_count", "gpu_count")] == [300, 30, 4.5, 60, 2, 1]
    assert api.call("serving.get_endpoint_details", endpoint_url=URL) == d

    loading = api.call("serving.get_loading_instances")["instances"]
    assert [i["id"] for i in loading] == ["loading"]
    assert loading[0]["url"] is None and loading[0]["age_sec"] >= 0

    # containers and samples survive a restart
    server.restart()
    api = server.api()
    assert {i["id"] for i in
            api.call("serving.get_endpoint_details", endpoint_url=URL)["instances"]} == {"c1",
                                                                                        "c2"}
    for cid in ("c1", "c2", "loading", "never-registered"):
        api.call("serving.unregister_container", container_id=cid)
    assert api.call("serving.get_endpoints")["endpoints"] == []
    assert api.call("serving.get_loading_instances")["instances"] == []
    assert err(api.call, "serving.get_endpoint_details", endpoint_url=URL) == (400, 1052)


def test_container_expires_after_timeout(api):
    api.call("serving.register_container", **info("short", url=None), timeout=1)
    assert len(api.call("serving.get_loading_instances")["instances"]) == 1
    time.sleep(1.3)
    assert api.call("serving.get_loading_instances")["instances"] == []
    # a status report registers an unknown container by itself
    report(api, "auto", 1)
    assert api.call("serving.get_endpoints")["endpoints"][0]["instances"] == 1


def test_metrics_history(api):
    report(api, "c1", 1)
    report(api, "c2", 3)
    to = int(time.time()) + 40
    frm = to - 100
    for metric, value in ((None, 40), ("requests_min", 6), ("latency_ms", 40),
                          ("cpu_count", 4), ("cpu_util", 20), ("gpu_count", 2),
                          ("ram_used", 4.0), ("ram_total", 6.0)):
        body = dict(endpoint_url=URL, from_date=frm, to_date=to, interval=1)
        if metric:
            body["metric_type"] = metric
        res = api.call("serving.get_endpoint_metrics_history", **body)
        assert res["computed_interval"] == 40
        n = len(res["total"]["dates"])
        assert 1 <= n <= 3 and len(res["total"]["values"]) == n
        assert value in res["total"]["values"], (metric, res)
        assert set(res["instances"]) == {"c1", "c2"}
        for i in res["instances"].values():
            assert i["dates"] == res["total"]["dates"] and len(i["values"]) == n
        if metric:  # every bucket of the range, not only those with samples
            assert all(d % 40000 == 0 for d in res["total"]["dates"])
    res = api.call("serving.get_endpoint_metrics_history", endpoint_url=URL, from_date=frm,
                   to_date=to, interval=60, instance_charts=False)
    assert res["computed_interval"] == 60 and res["instances"] == {}
    none = api.call("serving.get_endpoint_metrics_history", endpoint_url="http://other",
                    from_date=frm, to_date=to, interval=1)
    assert none["total"]["dates"] == [] and none["instances"] == {}
    assert err(api.call, "serving.get_endpoint_metrics_history", endpoint_url=URL,
               from_date=to, to_date=frm, interval=1) == (400, 16)
    assert err(api.call, "serving.get_endpoint_metrics_history", endpoint_url=URL,
               from_date=frm, to_date=to, interval=1, metric_type="bogus") == (400, 12)


def test_validation(api):
    assert err(api.call, "serving.container_status_report", **info("x", url=None)) == (400, 12)
    assert err(api.call, "serving.register_container", container_id="x") == (400, 12)
    assert err(api.call, "serving.register_container",
               **info("x", reference=[{"type": "nope", "value": "v"}])) == (400, 12)
    assert err(api.call, "serving.register_container", **info("x"), timeout=0) == (400, 12)
    assert err(api.call, "serving.container_status_report", **info("x"),
               machine_stats={"cpu_usage": ["hot"]}) == (400, 12)
    assert err(api.call, "serving.register_container",
               **info("x", model_source="s" * 5000)) == (400, 12)
    assert err(api.call, "serving.get_endpoint_details") == (400, 12)
