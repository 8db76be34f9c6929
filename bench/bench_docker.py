"""Docker-mode figures (issue 8), printed as `name value unit` lines, never asserted:

  local_dispatch_median        enqueue → first task line on the server, no docker, the slot's
                               venv already built (reused as it is), median of RUNS
  docker_dispatch_median       the same in docker mode: warm image (jobagent-test:bookworm), the
                               environment cached in the mounted build dir (goal: within 1 s of
                               the local figure)
  docker_minus_local           the difference of the two medians
  bare_container_python_pass   `docker run --rm IMAGE python3 -c pass`, median of RUNS
  runner_container             `docker run --rm` of our static runner on a prepared trivial task
                               (cached venv), which execs `python -c`-like `pass`, median of RUNS
  runner_container_overhead    runner_container − bare_container_python_pass
  agent_bytes_downloaded       bytes fetched into the container for the agent itself: the sum of
                               pip downloads naming clearml-agent/clearml_agent in the docker
                               task's log plus the image's size change (0: the runner is mounted)
  runner_binary_size           the static runner (mounted read-only, never copied or downloaded)

Needs a docker engine and the image (scripts/containers-up.sh); otherwise says so and exits 0.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from agent_helper import AgentProcess, create_queue, create_script_task, enqueue  # noqa: E402
from conftest import ServerLite, binary  # noqa: E402
from docker_helper import BOOKWORM, docker_conf, engine_ok  # noqa: E402

RUNS = 5


class Conf:
    def __init__(self, server, path):
        self.url, self.conf = server.url, path


def first_line_time(api, task_id, marker, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        ev = api.call("events.get_task_log", task=task_id, batch_size=200, navigate_earlier=False)["events"]
        if any(marker in e.get("msg", "") for e in ev):
            return time.time()
        time.sleep(0.02)
    raise RuntimeError(f"task {task_id} never printed")


def wait_final(api, t, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        st = api.call("tasks.get_by_id", task=t)["task"]["status"]
        if st in ("completed", "failed", "stopped"):
            return st
        time.sleep(0.05)
    return "timeout"


def dispatch(api, agent, q, n, tag):
    lat, logs = [], []
    for i in range(n + 1):  # the first run builds the environment: not counted
        t = create_script_task(api, f"print('bench-first-line-{tag}', flush=True)\n", name=f"{tag} bench {i}")
        t0 = time.time()
        enqueue(api, t, queue=q)
        t1 = first_line_time(api, t, f"bench-first-line-{tag}")
        st = wait_final(api, t)
        if st != "completed":
            raise RuntimeError(f"{tag} task {t} ended {st}: {api.task_log_text(t)[-2000:]}\n{agent.output()[-2000:]}")
        if i:
            lat.append(t1 - t0)
        logs.append(api.task_log_text(t))
    return lat, logs


def timed(argv, n):
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
        out.append(time.monotonic() - t0)
    return out


def runner_container_argv(tmp):
    """A prepared trivial task for the static runner alone (no server, no agent)."""
    io = tmp / "io"
    build = tmp / "rbuild"
    (build / "code").mkdir(parents=True, exist_ok=True)
    io.mkdir(exist_ok=True)
    (build / "code" / "script.py").write_text("pass\n")
    (io / "task.json").write_text(json.dumps({"id": "b" * 32, "script": {
        "binary": "python3", "entry_point": "script.py", "working_dir": ".", "diff": "pass\n"}}))
    (io / "code.json").write_text(json.dumps({"repo_root": None, "script_dir": "code", "entry": "script.py"}))
    (io / "clearml.conf").write_text(json.dumps({"agent": {"venvs_cache": {"path": "/root/.clearml/venvs-cache"}}}))
    (tmp / "rcache").mkdir(exist_ok=True)
    return ["docker", "run", "--rm", "--network", "none", "-v", f"{io}:/io",
            "-v", f"{tmp / 'rcache'}:/root/.clearml/venvs-cache",
            "-v", f"{binary('clearml-agent-runner')}:/r:ro", "-v", f"{build}:/root/.clearml/venvs-builds",
            BOOKWORM, "/r", "--config-file", "/io/clearml.conf", "--task-file", "/io/task.json",
            "--result-file", "/io/result.json", "--build-dir", "/root/.clearml/venvs-builds",
            "--code-file", "/io/code.json", "--in-container"]


def image_size(img):
    r = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", img], capture_output=True, text=True)
    return int(r.stdout.strip() or 0)


def agent_download_bytes(logs):
    total = 0
    for log in logs:
        for m in re.finditer(r"Downloading \S*clearml[-_]agent\S* \(([\d.]+) (kB|MB|bytes)\)", log):
            total += float(m.group(1)) * {"kB": 1e3, "MB": 1e6, "bytes": 1}[m.group(2)]
        if "pip install -U clearml-agent" in log or "install clearml-agent" in log:
            total += 1  # any attempt counts
    return int(total)


def main():
    why = engine_ok("docker")
    if why or subprocess.run(["docker", "image", "inspect", BOOKWORM], capture_output=True).returncode:
        print(f"bench_docker: skipped ({why or BOOKWORM + ' missing'}; run scripts/containers-up.sh)")
        return
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_docker."))
    srv = ServerLite(tmp / "server")
    env = {"CLEARML_AGENT__AGENT__POLLING_INTERVAL_MIN_SEC": "0.1", "TMPDIR": str(tmp),
           "NVIDIA_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": ""}
    try:
        api = srv.api()
        size0 = image_size(BOOKWORM)
        conf = docker_conf(srv, tmp)
        q = create_queue(api, "bench-local")
        a = AgentProcess(Conf(srv, conf), tmp, ["--queue", "bench-local", "--polling-interval", "0.1"],
                         env=env, name="local")
        try:
            local, _ = dispatch(api, a, q, RUNS, "local")
        finally:
            a.stop(signal.SIGTERM)
        q = create_queue(api, "bench-docker")
        a = AgentProcess(Conf(srv, conf), tmp, ["--queue", "bench-docker", "--polling-interval", "0.1",
                                                "--docker", BOOKWORM], env=env, name="docker")
        try:
            dock, logs = dispatch(api, a, q, RUNS, "docker")
        finally:
            a.stop(signal.SIGTERM)
        lm, dm = statistics.median(local), statistics.median(dock)
        print(f"local_dispatch_median {lm:.3f} s")
        print(f"docker_dispatch_median {dm:.3f} s")
        print(f"docker_minus_local {dm - lm:.3f} s")

        bare = ["docker", "run", "--rm", "--network", "none", BOOKWORM, "python3", "-c", "pass"]
        timed(bare, 1)
        bm = statistics.median(timed(bare, RUNS))
        rargv = runner_container_argv(tmp)
        timed(rargv, 1)  # builds the trivial venv once
        rm = statistics.median(timed(rargv, RUNS))
        print(f"bare_container_python_pass {bm:.3f} s")
        print(f"runner_container {rm:.3f} s")
        print(f"runner_container_overhead {rm - bm:.3f} s")
        print(f"agent_bytes_downloaded {agent_download_bytes(logs) + abs(image_size(BOOKWORM) - size0)} B")
        print(f"runner_binary_size {os.path.getsize(binary('clearml-agent-runner')) / 1048576:.2f} MiB")
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
