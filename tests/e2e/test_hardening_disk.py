"""Issue 9, the agent's own disk: the state/spool directory is a small tmpfs (needs root to
mount; skipped otherwise). (1) A task whose output fills it fails with a reason naming the full
disk and the directory, what it wrote is shipped, the agent stays up and runs the next task.
(2) Shipped spool bytes are given back while the task runs: a task printing three times the
tmpfs size slowly completes with every line on the server."""
import os
import re
import subprocess

import pytest

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          supervisor_env, log_lines, wait_status)


@pytest.fixture
def small_disk(tmp_path):
    d = tmp_path / "state"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the agent's state dir needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield str(d)
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def daemon(server, tmp_path, state, q):
    env = supervisor_env(tmp_path, {"CLEARML_AGENT__AGENT__STATE_DIR": state})
    return AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", q], env=env)


def test_disk_full_fails_task_with_reason_and_agent_stays_up(server, api, tmp_path, small_disk):
    script = ("import os, time\n"
              "line = b'f' * 1000 + b'\\n'\n"
              "os.write(1, b'first line\\n')\n"
              "n = 0\n"
              "try:\n"
              "    while True:\n"
              "        os.write(1, line)\n"
              "        n += 1\n"
              "except OSError as e:\n"
              "    open(os.environ['HOME'] + '/enospc', 'w').write('%d %s' % (n, e))\n"
              "time.sleep(30)\n")
    q = create_queue(api, "disk")
    t = create_script_task(api, script, name="fills the disk")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, small_disk, "disk")
    try:
        final = wait_status(api, t, timeout=60)
        assert final["status"] == "failed", a.output()[-3000:]
        reason = final["status_reason"]
        assert "disk full" in reason and small_disk in reason, reason
        lines = log_lines(api, t)
        assert "first line" in lines
        assert sum(1 for l in lines if l.startswith("ffff")) > 100
        assert any("disk full" in l for l in lines)
        assert a.proc.poll() is None, "the agent must stay up"
        t2 = create_script_task(api, "print('after the full disk')\n", name="next")
        enqueue(api, t2, queue=q)
        assert wait_status(api, t2, timeout=60)["status"] == "completed", a.output()[-3000:]
        assert "after the full disk" in log_lines(api, t2)
    finally:
        a.stop()


def test_shipped_spool_bytes_are_reclaimed(server, api, tmp_path, small_disk):
    # 12 MiB of output through a 4 MiB state dir, 1 MiB every 0.2 s
    script = ("import sys, time\n"
              "for i in range(12):\n"
              "    for j in range(1024):\n"
              "        sys.stdout.write('r%02d %04d ' % (i, j) + 'x' * 1013 + '\\n')\n"
              "    sys.stdout.flush()\n"
              "    time.sleep(0.2)\n"
              "print('all written')\n")
    q = create_queue(api, "reclaim")
    t = create_script_task(api, script, name="long log")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, small_disk, "reclaim")
    try:
        final = wait_status(api, t, timeout=120)
        assert final["status"] == "completed", (final.get("status_reason"), a.output()[-3000:])
        lines = log_lines(api, t, "debug")
        got = [l[:8] for l in lines if re.match(r"r\d\d \d{4} x", l)]
        assert got == ["r%02d %04d" % (i, j) for i in range(12) for j in range(1024)]
        assert "all written" in lines
    finally:
        a.stop()
