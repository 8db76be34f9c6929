"""Costs of issue 9's hardening (DESIGN.md §7). Prints `name value unit` lines; asserts nothing.

  * log shipping with the secret masking on (20 secret-looking variables in the agent's
    environment, so every spool byte is searched for 20+ values) vs off
    (agent.redact_task_output=false): time from task start to final status for 200,000 lines;
  * the agent's CPU while a task runs 10 s with 100 child processes (the descendant set is
    refreshed from /proc on every tick).

Run: CLEARML_BUILD_DIR=build /usr/bin/python3 bench/bench_hardening.py
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task,  # noqa: E402
                          enqueue, supervisor_env, wait_status)
from conftest import ServerLite  # noqa: E402

LINES = int(os.environ.get("BENCH_REDACT_LINES", "200000"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(server, api, tmp, name, script, extra):
    q = create_queue(api, name)
    env = supervisor_env(tmp, extra)
    a = AgentProcess(server, tmp, ["--polling-interval", FAST_POLL, "--queue", name], env=env,
                     name=name)
    try:
        time.sleep(1.0)
        c0 = cpu_seconds(a.pid)
        t = create_script_task(api, script, name=name)
        t0 = time.time()
        enqueue(api, t, queue=q)
        final = wait_status(api, t, timeout=900)
        return time.time() - t0, cpu_seconds(a.pid) - c0, final["status"]
    finally:
        a.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="bench-hard-") as tmp:
        server = ServerLite(os.path.join(tmp, "server"))
        try:
            api = server.api()
            script = ("import sys\nw = sys.stdout.write\n"
                      f"for i in range({LINES}):\n"
                      "    w('benchmark output line %07d with some text\\n' % i)\n")
            secrets = {f"BENCH_{i}_TOKEN": f"secret-value-{i:04d}-xyz" for i in range(20)}
            for mode, extra in (("on", secrets),
                                ("off", dict(secrets,
                                             CLEARML_AGENT__AGENT__REDACT_TASK_OUTPUT="false"))):
                d = os.path.join(tmp, mode)
                os.makedirs(d)
                wall, cpu, st = run(server, api, __import__("pathlib").Path(d), f"redact-{mode}",
                                    script, extra)
                print(f"logs_{LINES // 1000}k_lines_redact_{mode}_s {wall:.2f} s ({st})")
                print(f"logs_{LINES // 1000}k_lines_redact_{mode}_agent_cpu_s {cpu:.2f} s")
            fan = ("import subprocess, time\n"
                   "ps = [subprocess.Popen(['sleep', '12']) for _ in range(100)]\n"
                   "time.sleep(10)\n"
                   "for p in ps: p.kill()\n")
            d = os.path.join(tmp, "fan")
            os.makedirs(d)
            wall, cpu, st = run(server, api, __import__("pathlib").Path(d), "fan", fan, {})
            print(f"agent_cpu_per_s_task_with_100_children {cpu / wall * 1000:.1f} ms/s ({st})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
