"""Log throughput and abort latency of the task supervisor (DESIGN.md §7). Prints `name value
unit` lines; asserts nothing.

  * a task printing 1,000,000 lines: time from its first line until the task is final (the final
    status is set only after every line was confirmed by the server), the agent's CPU time over
    that run (/proc/<agent>/stat utime+stime) against the task's own;
  * line latency: a line printed by a running task → visible on the server;
  * abort latency: tasks.stop → the whole process tree gone, for a task that exits on SIGTERM and
    for one that ignores it (kill grace 2 s) and double-forks out of its session.

Run: make bench (or CLEARML_BUILD_DIR=build /usr/bin/python3 bench/bench_logs.py).
"""
import os
import pathlib
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task,  # noqa: E402
                          enqueue, read_pids, supervisor_env, task, wait_gone, wait_status)
from conftest import ServerLite, wait_for  # noqa: E402

LINES = int(os.environ.get("BENCH_LOG_LINES", "1000000"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_throughput(server, api, tmp):
    times_file = os.path.join(tmp, "task-times.txt")
    script = ("import os, sys, time\n"
              f"open({times_file + '.start'!r}, 'w').write(repr(time.time()))\n"
              "w = sys.stdout.write\n"
              f"for i in range({LINES}):\n"
              "    w('benchmark output line %07d\\n' % i)\n"
              "sys.stdout.flush()\n"
              "t = os.times()\n"
              f"open({times_file!r}, 'w').write(repr(t.user + t.system))\n")
    q = create_queue(api, "bench-logs")
    a = AgentProcess(server, tmp, ["--polling-interval", FAST_POLL, "--queue", "bench-logs"],
                     env=supervisor_env(tmp), name="bench-agent")
    try:
        time.sleep(1.0)
        cpu0 = cpu_seconds(a.pid)
        t = create_script_task(api, script, name="bench 1M lines")
        enqueue(api, t, queue=q)
        final = wait_status(api, t, timeout=1800)
        t_end = time.time()
        cpu1 = cpu_seconds(a.pid)
        start = float(wait_for(lambda: os.path.exists(times_file + ".start") and
                               open(times_file + ".start").read(), timeout=10, what="start"))
        task_cpu = float(open(times_file).read())
        total = api.call("events.get_task_log", task=t, batch_size=1)["total"]
    finally:
        a.stop()
    agent_cpu = cpu1 - cpu0
    print(f"logs_{LINES}_lines_status {1 if final['status'] == 'completed' else 0} ok")
    print(f"logs_{LINES}_lines_time_to_server {t_end - start:.2f} s")
    print(f"logs_{LINES}_lines_agent_cpu {agent_cpu:.2f} s")
    print(f"logs_{LINES}_lines_task_cpu {task_cpu:.2f} s")
    if task_cpu > 0:
        print(f"logs_{LINES}_lines_agent_cpu_vs_task {agent_cpu / task_cpu:.3f} ratio")
    print(f"logs_{LINES}_lines_events_stored {total} events")


def bench_line_latency(server, api, tmp):
    """A line printed by the task → the line on the server (ticks + partial-line hold)."""
    script = ("import time\n"
              "for i in range(12):\n"
              "    print('stamp %d %.6f' % (i, time.time()), flush=True)\n"
              "    time.sleep(0.5)\n")
    q = create_queue(api, "bench-latency")
    a = AgentProcess(server, tmp, ["--polling-interval", FAST_POLL, "--queue", "bench-latency"],
                     env=supervisor_env(tmp), name="bench-latency")
    seen = {}
    try:
        t = create_script_task(api, script, name="latency")
        enqueue(api, t, queue=q)
        end = time.time() + 120
        while len(seen) < 12 and time.time() < end:
            now = time.time()
            for e in api.call("events.get_task_log", task=t, batch_size=500,
                              navigate_earlier=False)["events"]:
                for line in e.get("msg", "").splitlines():
                    parts = line.split()
                    if len(parts) == 3 and parts[0] == "stamp" and parts[1] not in seen:
                        seen[parts[1]] = now - float(parts[2])
            time.sleep(0.05)
        wait_status(api, t, timeout=60)
    finally:
        a.stop()
    lat = sorted(seen.values())
    if lat:
        print(f"log_line_latency_p50 {lat[len(lat) // 2]:.3f} s")
        print(f"log_line_latency_max {lat[-1]:.3f} s")


STUBBORN = """\
import os, signal, time
PIDS = {pids!r}
def note():
    with open(PIDS, 'a') as f:
        f.write('%d\\n' % os.getpid())
if {stubborn}:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
note()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        note()
        while True:
            time.sleep(1)
    os._exit(0)
while True:
    time.sleep(1)
"""


def bench_abort(server, api, tmp, stubborn):
    name = "stubborn" if stubborn else "polite"
    pids_file = os.path.join(tmp, f"pids-{name}.txt")
    q = create_queue(api, f"bench-abort-{name}")
    a = AgentProcess(server, tmp, ["--polling-interval", FAST_POLL, "--queue",
                                   f"bench-abort-{name}"],
                     env=supervisor_env(tmp), name=f"bench-abort-{name}")
    try:
        t = create_script_task(api, STUBBORN.format(pids=pids_file, stubborn=stubborn), name=name)
        enqueue(api, t, queue=q)
        wait_for(lambda: len(read_pids(pids_file)) >= 2, timeout=120, what="task pids")
        # Measure a stop of a running task, not the known race of a stop that lands within
        # milliseconds of the agent's "worker starting task execution" update (which overwrites
        # the server's "stopping" message; see the closing notes).
        wait_for(lambda: task(api, t).get("status_reason") == "worker starting task execution",
                 timeout=60, what="the agent's start update")
        pids = read_pids(pids_file)
        t0 = time.time()
        api.call("tasks.stop", task=t)
        gone = wait_gone(pids, timeout=60)
        t1 = time.time()
        wait_status(api, t, {"stopped"}, timeout=60)
    finally:
        a.stop()
    print(f"abort_latency_{name} {t1 - t0:.2f} s" if gone else f"abort_latency_{name} -1 s")


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-logs-"))
    server = ServerLite(os.path.join(tmp, "server-data"))
    try:
        api = server.api()
        bench_throughput(server, api, tmp)
        bench_line_latency(server, api, tmp)
        bench_abort(server, api, tmp, stubborn=False)
        bench_abort(server, api, tmp, stubborn=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
