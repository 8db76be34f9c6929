"""Exit code → final task status with the exact upstream strings (spec §4.7)."""
import socket

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          supervisor_env, log_lines, wait_status)

CASES = {
    # name: (script body, status, status_reason, agent line)
    "exit0": ("import sys\nprint('bye')\nsys.exit(0)\n", "completed", "worker execution done",
              "Process completed successfully"),
    "exit1": ("import sys\nprint('oops')\nsys.exit(1)\n", "failed",
              "worker execution exit code 1", "Process failed, exit code 1"),
    "sigint": ("import os, signal\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n"
               "os.kill(os.getpid(), signal.SIGINT)\n", "stopped", "user abort",
               "Process terminated by user"),
    "exit254": ("import sys\nsys.exit(254)\n", "stopped", "user abort",
                "Process terminated by user"),
    "sigkill": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "failed",
                "worker execution exit code -9", "Process failed, exit code -9"),
}


def test_exit_codes_map_to_status(server, api, tmp_path):
    q = create_queue(api, "exits")
    ids = {}
    for name, (script, *_rest) in CASES.items():
        ids[name] = create_script_task(api, script, name=name)
        enqueue(api, ids[name], queue=q)
    # a runner setup failure (no such interpreter): failed with the runner's own reason
    setup = create_script_task(api, "print('never')\n", name="setup", binary_="python3.99")
    enqueue(api, setup, queue=q)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "exits"],
                     env=supervisor_env(tmp_path))
    try:
        for name, (_s, status, reason, line) in CASES.items():
            final = wait_status(api, ids[name], timeout=120)
            assert final["status"] == status, (name, final, a.output()[-3000:])
            assert final.get("status_reason") == reason, (name, final)
            assert final.get("status_message", "").startswith("Changed by clearml-agent "), final
            assert line in log_lines(api, ids[name], "INFO"), (name, log_lines(api, ids[name]))
            # §4.3: the agent's host name is written to the task's runtime
            assert final.get("runtime", {}).get("_exec_agent_hostname") == socket.gethostname()
            # §4.3/§11: the pulled line comes first, as INFO
            first = log_lines(api, ids[name])[0]
            assert first.startswith(f"task {ids[name]} pulled from {q} by worker "), first
        final = wait_status(api, setup, timeout=120)
        assert final["status"] == "failed", final
        assert "3.99" in final.get("status_reason", ""), final
        assert "exit code" not in final.get("status_reason", ""), final
        assert "never" not in log_lines(api, setup)
    finally:
        a.stop()
    # an interrupted task is never completed
    assert all(wait_status(api, ids[n])["status"] != "completed" for n in CASES if n != "exit0")


def test_task_sees_worker_variables(server, api, tmp_path):
    # §4.3 step 7: the child gets the worker id (and its TRAINS twin), the child report tags
    # (shell-quoted, space-joined) and the task id the kill sweep looks for.
    script = ("import os\n"
              "for k in ('CLEARML_WORKER_ID', 'TRAINS_WORKER_ID', 'CLEARML_WORKER_TAGS',\n"
              "          'CLEARML_TASK_ID'):\n"
              "    print('%s=%s' % (k, os.environ.get(k)))\n")
    q = create_queue(api, "envq")
    t = create_script_task(api, script, name="env vars")
    enqueue(api, t, queue=q)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "envq",
                                        "--child-report-tags", "gpu box", "fast"],
                     env=supervisor_env(tmp_path, {"CLEARML_WORKER_ID": "env-worker"}))
    try:
        assert wait_status(api, t, timeout=120)["status"] == "completed", a.output()[-3000:]
    finally:
        a.stop()
    lines = log_lines(api, t, "DEBUG")
    assert "CLEARML_WORKER_ID=env-worker" in lines, lines
    assert "TRAINS_WORKER_ID=env-worker" in lines, lines
    assert "CLEARML_WORKER_TAGS='gpu box' fast" in lines, lines
    assert f"CLEARML_TASK_ID={t}" in lines, lines
