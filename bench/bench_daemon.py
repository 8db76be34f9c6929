"""Daemon figures (DESIGN.md §7), printed as `name value unit` lines, never asserted:

  dispatch_latency_median   enqueue → first output line of the task on the server, median of 10,
                            with the smallest polling interval the agent allows
                            (agent.polling_interval_min_sec lowered to 0.1 s)
  daemon_idle_rss / _hwm    VmRSS / VmHWM of the idle daemon with the default 5 s polling
                            interval (goal: RSS under 5 MiB)
  daemon_idle_pss / daemon_idle_private_dirty
                            the daemon's share of those pages / its own dirty memory
  daemon_idle_cpu           CPU seconds used per minute while idle, measured over 20 s (not a
                            full minute, to keep the bench short) and scaled to 60 s
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

IDLE_SEC = 20
RUNS = 10


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def smaps_rollup(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    out[parts[0][:-1]] = int(parts[1])
    except OSError:
        pass
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck  # utime + stime


def first_line_time(api, task_id, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        ev = api.call("events.get_task_log", task=task_id, batch_size=100,
                      navigate_earlier=False)["events"]
        if any("bench-first-line" in e.get("msg", "") for e in ev):
            return time.time()
        time.sleep(0.02)
    raise RuntimeError(f"task {task_id} never printed")


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_daemon."))
    srv = ServerLite(tmp / "server")
    try:
        api = srv.api()
        q = create_queue(api, "bench")
        # the task runs on the agent's python (no venv): this measures dispatch, not pip
        env = {"CLEARML_AGENT__AGENT__POLLING_INTERVAL_MIN_SEC": "0.1",
               "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1", "TMPDIR": str(tmp)}
        agent = AgentProcess(srv, tmp, ["--queue", "bench", "--polling-interval", "0.1"],
                             env=env, name="bench-agent")
        try:
            lat = []
            for i in range(RUNS):
                t = create_script_task(api, "print('bench-first-line', flush=True)\n",
                                       name=f"bench {i}")
                t0 = time.time()
                enqueue(api, t, queue=q)
                lat.append(first_line_time(api, t) - t0)
                end = time.time() + 60
                while api.call("tasks.get_by_id", task=t)["task"]["status"] not in (
                        "completed", "failed", "stopped") and time.time() < end:
                    time.sleep(0.05)
            print(f"dispatch_latency_median {statistics.median(lat):.3f} s")
            print(f"dispatch_latency_max {max(lat):.3f} s")

        finally:
            agent.stop(signal.SIGTERM)
        # idle footprint with the default polling interval (5 s)
        agent = AgentProcess(srv, tmp, ["--queue", "bench"], env={"TMPDIR": str(tmp)},
                             name="idle-agent")
        try:
            time.sleep(3)  # past start-up and the first status report
            c0 = cpu_seconds(agent.pid)
            time.sleep(IDLE_SEC)
            c1 = cpu_seconds(agent.pid)
            print(f"daemon_idle_rss {proc_status(agent.pid, 'VmRSS') / 1024:.2f} MiB")
            print(f"daemon_idle_hwm {proc_status(agent.pid, 'VmHWM') / 1024:.2f} MiB")
            print(f"daemon_idle_cpu {(c1 - c0) * 60 / IDLE_SEC:.3f} s/min")
            roll = smaps_rollup(agent.pid)
            # RSS counts every resident page of the shared libraries (libcurl pulls in libcrypto,
            # gnutls, krb5, ldap ...); PSS and private dirty say what this daemon really costs
            print(f"daemon_idle_pss {roll.get('Pss', 0) / 1024:.2f} MiB")
            print(f"daemon_idle_private_dirty {roll.get('Private_Dirty', 0) / 1024:.2f} MiB")
        finally:
            agent.stop(signal.SIGTERM)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
