"""Services-mode and dynamic-GPU figures, printed as `name value unit` lines, never asserted:

  services_<N>_private        the daemon's private dirty memory (Private_Dirty: what it wrote
                              itself; clean private pages are library code the kernel may drop
                              and re-read, which made the figure jump either way) with N idle
                              services running (N = 1, 10, 50), default settings
  services_<N>_private_per_service
                              (that − the same daemon's idle figure before the services) / N
                              (goal: under 1 MiB)
  services_<N>_cpu            the daemon's CPU seconds per minute with N idle services, measured
                              over MEASURE_SEC and scaled to 60 s
  services_<N>_cpu_per_service
                              (that − the idle figure) / N (goal: under 0.05 s/min)
  services_<N>_rss            VmRSS for reference (shared library pages included)
  gpu_free_to_next_start_median / _max
                              --dynamic-gpus with the default 5 s polling interval: from a task
                              exiting (its own last timestamp) to the task that waited for its
                              GPUs running (its own first timestamp), 5 runs
"""
import os
import pathlib
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from agent_helper import AgentProcess, create_queue, create_script_task, enqueue  # noqa: E402
from conftest import ServerLite  # noqa: E402

MEASURE_SEC = 20
SETTLE_SEC = 4


def smaps_rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return out


def private_kib(pid):
    return smaps_rollup(pid).get("Private_Dirty", 0)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_min(pid, seconds):
    c0 = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) * 60 / seconds


def wait(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def bench_services(srv, api, tmp, n):
    q = create_queue(api, f"services{n}")
    env = {"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1", "TMPDIR": str(tmp),
           "CLEARML_WORKER_ID": f"bench-services-{n}"}
    agent = AgentProcess(srv, tmp, ["--queue", f"services{n}", "--services-mode"], env=env,
                         name=f"services{n}")
    try:
        time.sleep(SETTLE_SEC)
        idle_cpu = cpu_per_min(agent.pid, MEASURE_SEC / 2)
        idle_priv = private_kib(agent.pid)
        pidd = tmp / f"pids{n}"
        pidd.mkdir()
        for i in range(n):
            script = ("import os, time\n"
                      f"open(os.path.join({str(pidd)!r}, '{i}'), 'w').write(str(os.getpid()))\n"
                      "while True:\n    time.sleep(30)\n    print('still here', flush=True)\n")
            enqueue(api, create_script_task(api, script, name=f"idle service {i}"), queue=q)
        wait(lambda: len(os.listdir(pidd)) == n, 300, f"{n} services running")
        time.sleep(SETTLE_SEC)
        cpu = cpu_per_min(agent.pid, MEASURE_SEC)
        priv = private_kib(agent.pid)
        print(f"services_{n}_private {priv / 1024:.2f} MiB")
        print(f"services_{n}_private_per_service {(priv - idle_priv) / 1024 / n:.3f} MiB")
        print(f"services_{n}_cpu {cpu:.3f} s/min")
        print(f"services_{n}_cpu_per_service {(cpu - idle_cpu) / n:.4f} s/min")
        print(f"services_{n}_rss {rss_kib(agent.pid) / 1024:.2f} MiB")
        print(f"services_{n}_pss {smaps_rollup(agent.pid).get('Pss', 0) / 1024:.2f} MiB")
        sys.stdout.flush()
    finally:
        agent.stop(signal.SIGTERM, timeout=120)


def bench_gpu_handover(srv, api, tmp, runs=5):
    q = create_queue(api, "pair")
    d = tmp / "handover"
    d.mkdir()
    env = {"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1", "TMPDIR": str(tmp),
           "CLEARML_WORKER_ID": "bench-dgpu"}
    agent = AgentProcess(srv, tmp, ["--dynamic-gpus", "--gpus", "0-1", "--queue", "pair=2"],
                         env=env, name="dgpu")
    lat = []
    try:
        for r in range(runs + 1):
            # each task: stamp its start, wait for its release file, stamp its end
            script = ("import os, time\n"
                      f"d = {str(d)!r}\n"
                      f"open(os.path.join(d, 'start{r}'), 'w').write(repr(time.time()))\n"
                      f"while not os.path.exists(os.path.join(d, 'release{r}')):\n"
                      "    time.sleep(0.01)\n"
                      f"open(os.path.join(d, 'end{r}'), 'w').write(repr(time.time()))\n")
            enqueue(api, create_script_task(api, script, name=f"pair {r}"), queue=q)
        for r in range(runs):
            wait(lambda: (d / f"start{r}").exists(), 120, f"task {r} running")
            time.sleep(1.0)  # the next one is waiting in the queue for the GPUs
            (d / f"release{r}").touch()
            wait(lambda: (d / f"start{r + 1}").exists() and (d / f"end{r}").exists(), 120,
                 f"task {r + 1} running")
            time.sleep(0.05)
            lat.append(float((d / f"start{r + 1}").read_text()) -
                       float((d / f"end{r}").read_text()))
        (d / f"release{runs}").touch()
        print(f"gpu_free_to_next_start_median {statistics.median(lat):.3f} s")
        print(f"gpu_free_to_next_start_max {max(lat):.3f} s")
    finally:
        agent.stop(signal.SIGTERM)


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_services."))
    srv = ServerLite(tmp / "server")
    try:
        api = srv.api()
        only = os.environ.get("BENCH_SERVICES_N")
        for n in ([int(only)] if only else (1, 10, 50)):
            bench_services(srv, api, tmp, n)
        bench_gpu_handover(srv, api, tmp)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
