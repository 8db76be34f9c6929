"""clearml-agent daemon --dynamic-gpus end to end with stand-in GPUs: the GPU ids come from
--gpus, so no NVIDIA device is needed to allocate them (a real GPU cannot exist here; the tasks
only see the ids). The documentation's example (quad=4 dual=2 opportunistic=1-4 on 0-7), a task
that waits in its queue while too few GPUs are free, the child worker id <name>:gpu<ids>, GPUs
freed when tasks end, two agents racing for the same GPUs, and the bad specs."""
import os
import re
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          run_agent, supervisor_env, task, wait_status)
from conftest import wait_for


def gpu_script(marker, d, hold_file=None, hold=0.0, inuse_dir=None):
    """Records what the agent gave it, then waits for its release file (or sleeps)."""
    lines = ["import os, sys, time",
             f"d = {str(d)!r}",
             "seen = ' '.join([os.environ.get('CUDA_VISIBLE_DEVICES', '-'),"
             " os.environ.get('NVIDIA_VISIBLE_DEVICES', '-'), os.environ.get('CLEARML_WORKER_ID', '-')])",
             f"print('GPUS {marker}', seen, flush=True)"]
    if inuse_dir:
        lines += [f"inuse = {str(inuse_dir)!r}",
                  "mine = []",
                  "for g in os.environ['CUDA_VISIBLE_DEVICES'].split(','):",
                  "    try:",
                  "        os.close(os.open(os.path.join(inuse, 'gpu-' + g), os.O_CREAT | os.O_EXCL | os.O_WRONLY))",
                  "        mine.append(g)",
                  "    except FileExistsError:",
                  f"        open(os.path.join(d, 'COLLISION'), 'a').write({marker!r} + ' ' + g + '\\n')"]
    lines.append(f"open(os.path.join(d, {marker!r} + '.gpus.tmp'), 'w').write(seen)")
    lines.append(f"os.replace(os.path.join(d, {marker!r} + '.gpus.tmp'), os.path.join(d, {marker!r} + '.gpus'))")
    if hold_file:
        lines += [f"while not os.path.exists({str(hold_file)!r}):", "    time.sleep(0.05)"]
    if hold:
        lines.append(f"time.sleep({hold})")
    if inuse_dir:
        lines += ["for g in mine:", "    os.unlink(os.path.join(inuse, 'gpu-' + g))"]
    return "\n".join(lines) + "\n"


def seen(d, marker):
    p = os.path.join(str(d), marker + ".gpus")
    return open(p).read().split() if os.path.exists(p) else None


def dyn_daemon(server, tmp_path, gpus, queues, name="dyn", env=None):
    args = ["--polling-interval", FAST_POLL, "--dynamic-gpus", "--gpus", gpus,
            "--queue"] + list(queues)
    return AgentProcess(server, tmp_path, args, env=supervisor_env(tmp_path, env), name=name)


def live_workers(api):
    return {w["id"]: w for w in api.call("workers.get_all", last_seen=0)["workers"]}


def test_documented_example_quad_dual_opportunistic(server, api, tmp_path):
    qq, qd, qo = (create_queue(api, n) for n in ("quad", "dual", "opportunistic"))
    d = tmp_path / "seen"
    d.mkdir()
    rel = {m: tmp_path / f"release-{m}" for m in ("Q1", "D1", "O1", "Q2", "D2")}
    ids = {}
    for m, q in (("Q1", qq), ("D1", qd), ("O1", qo)):
        ids[m] = create_script_task(api, gpu_script(m, d, rel[m]), name=f"task {m}")
        enqueue(api, ids[m], queue=q)
    a = dyn_daemon(server, tmp_path, "0-7", ["quad=4", "dual=2", "opportunistic=1-4"])
    try:
        for m in ("Q1", "D1", "O1"):
            wait_for(lambda: seen(d, m), timeout=60, what=f"{m} running")
        out = a.output()
        wid = re.search(r'Worker "([^"]+)" - Listening', out).group(1)
        assert wid.endswith(":dgpu0,1,2,3,4,5,6,7"), wid
        name = wid[:-len(":dgpu0,1,2,3,4,5,6,7")]
        # queue priority by order: quad gets 0-3, dual then 4-5, opportunistic what is left
        assert seen(d, "Q1") == ["0,1,2,3", "0,1,2,3", f"{name}:gpu0,1,2,3"]
        assert seen(d, "D1") == ["4,5", "4,5", f"{name}:gpu4,5"]
        assert seen(d, "O1") == ["6,7", "6,7", f"{name}:gpu6,7"]
        ws = live_workers(api)
        assert (ws[f"{name}:gpu0,1,2,3"].get("task") or {}).get("id") == ids["Q1"], sorted(ws)
        # a second quad task waits in its queue: no 4 GPUs are free
        ids["Q2"] = create_script_task(api, gpu_script("Q2", d, rel["Q2"]), name="task Q2")
        enqueue(api, ids["Q2"], queue=qq)
        time.sleep(2)
        assert task(api, ids["Q2"])["status"] == "queued"
        assert "Queue 'quad' has a task needing 4 GPU(s); fewer are free: it waits" in a.output()
        # dual frees 4-5: still not 4 for quad, but a lower queue's dual task fits
        rel["D1"].touch()
        assert wait_status(api, ids["D1"], timeout=60)["status"] == "completed"
        ids["D2"] = create_script_task(api, gpu_script("D2", d, rel["D2"]), name="task D2")
        enqueue(api, ids["D2"], queue=qd)
        wait_for(lambda: seen(d, "D2"), timeout=60, what="D2 running")
        assert seen(d, "D2")[0] == "4,5"
        assert task(api, ids["Q2"])["status"] == "queued"
        # quad 0-3 freed (the task ends, however): the waiting quad task gets them
        rel["Q1"].touch()
        wait_for(lambda: seen(d, "Q2"), timeout=60, what="Q2 running")
        assert seen(d, "Q2")[0] == "0,1,2,3"
        # a stopped task frees its GPUs too
        api.call("tasks.stop", task=ids["O1"])
        assert wait_status(api, ids["O1"], timeout=60)["status"] == "stopped"
        for m in ("Q2", "D2"):
            rel[m].touch()
        for m in ("Q2", "D2"):
            assert wait_status(api, ids[m], timeout=60)["status"] == "completed"
        wait_for(lambda: not any(":gpu" in w for w in live_workers(api)), timeout=30,
                 what="the GPU workers unregistered")
        assert a.proc.poll() is None, a.output()
    finally:
        a.stop()


def test_two_agents_racing_for_the_same_gpus(server, api, tmp_path):
    q = create_queue(api, "dual")
    d = tmp_path / "seen"
    d.mkdir()
    inuse = tmp_path / "inuse"
    inuse.mkdir()
    ids = []
    for i in range(8):
        t = create_script_task(api, gpu_script(f"R{i}", d, hold=1.0, inuse_dir=inuse),
                               name=f"race {i}")
        enqueue(api, t, queue=q)
        ids.append(t)
    # same machine, same GPUs, same lock directory (the shared temp dir); different worker ids
    agents = [dyn_daemon(server, tmp_path, "0-3", ["dual=2"], name=f"racer{k}",
                         env={"CLEARML_WORKER_ID": f"racer-{k}"}) for k in range(2)]
    try:
        for t in ids:
            assert wait_status(api, t, timeout=120)["status"] == "completed"
    finally:
        for a in agents:
            a.stop()
    assert not (d / "COLLISION").exists(), (d / "COLLISION").read_text()
    for i in range(8):
        s = seen(d, f"R{i}")
        assert len(s[0].split(",")) == 2 and s[0] == s[1], s


def bad(server, tmp_path, args, fragment):
    r = run_agent(server, tmp_path, ["daemon", "--foreground"] + args,
                  env=supervisor_env(tmp_path), timeout=30)
    out = r.stdout.decode()
    assert r.returncode == 2, out
    assert fragment in out, out


def test_bad_specs_are_usage_errors(server, api, tmp_path):
    # refused before the server is asked: no queue needed
    bad(server, tmp_path, ["--dynamic-gpus", "--gpus", "0-3", "--queue", "q=0"],
        'queue "q": a task needs at least 1 GPU')
    bad(server, tmp_path, ["--dynamic-gpus", "--gpus", "0-3", "--queue", "q=5"],
        'queue "q" asks for 5 GPUs but --gpus names only 4')
    bad(server, tmp_path, ["--dynamic-gpus", "--gpus", "all", "--queue", "q=1"],
        "is not a range (0-3) or a list")
    bad(server, tmp_path, ["--dynamic-gpus", "--gpus", "0-3", "--queue", "q=0.5"],
        "fractional GPUs (0.5) need docker mode")
    bad(server, tmp_path, ["--dynamic-gpus", "--queue", "q=1"], "needs --gpus")
    bad(server, tmp_path, ["--dynamic-gpus", "--gpus", "0-3", "--queue", "q"],
        "needs a GPU count")
