"""Log shipping end to end (spec §4.4, with quirk 4 fixed): a real daemon runs literal-script
tasks against a real server-lite, and the test reads back what the server stored."""
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          supervisor_env, log_lines, wait_status)
from conftest import wait_for


def daemon(server, tmp_path, queue, env=None):
    return AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", queue],
                        env=supervisor_env(tmp_path, env))


def run_one(server, api, tmp_path, script, timeout=120):
    q = create_queue(api, "logs")
    t = create_script_task(api, script, name="log task")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, "logs")
    try:
        final = wait_status(api, t, timeout=timeout)
    finally:
        a.stop()
    return t, final, a


def test_100k_lines_all_arrive_in_order(server, api, tmp_path):
    script = ("import sys\n"
              "w = sys.stdout.write\n"
              "for i in range(100000):\n"
              "    w('line %06d\\n' % i)\n")
    t, final, a = run_one(server, api, tmp_path, script)
    assert final["status"] == "completed", a.output()
    got = [l for l in log_lines(api, t, "DEBUG") if l.startswith("line ")]
    assert len(got) == 100000
    assert got == ["line %06d" % i for i in range(100000)]
    # the agent's own lines are INFO and come after the output
    info = log_lines(api, t, "INFO")
    assert "Process completed successfully" in info
    every = log_lines(api, t)
    assert every.index("Process completed successfully") > every.index("line 099999")


def test_partial_lines_and_split_writes(server, api, tmp_path):
    # A line written in two halves 0.6 s apart (longer than a tick, shorter than the hold time)
    # must arrive whole; a last line without newline must arrive with one.
    script = ("import sys, time\n"
              "sys.stdout.write('first half ')\n"
              "sys.stdout.flush()\n"
              "time.sleep(0.6)\n"
              "sys.stdout.write('second half\\n')\n"
              "sys.stdout.write('no newline at the end')\n"
              "sys.stdout.flush()\n"
              "time.sleep(0.3)\n")
    t, final, a = run_one(server, api, tmp_path, script)
    assert final["status"] == "completed", a.output()
    lines = log_lines(api, t, "DEBUG")
    assert "first half second half" in lines, lines
    assert "no newline at the end" in lines, lines
    text = "".join(e["msg"] for e in api.task_log(t))
    assert "no newline at the end\n" in text


def test_progress_bars_collapsed_and_bad_utf8_replaced(server, api, tmp_path):
    script = ("import sys\n"
              "o = sys.stdout.buffer\n"
              "o.write(b'progress 10%\\rprogress 50%\\rprogress 100%\\r\\n')\n"
              "o.write(b'bad \\xff\\xfe bytes \\xe2\\x82 end\\n')\n"
              "o.write(b'\\x1b[0m\\n')\n"
              "o.write(b'ctl \\x01\\x1f \\x00 tab\\t\"quote\" back\\\\slash\\n')\n"
              "o.flush()\n")
    t, final, a = run_one(server, api, tmp_path, script)
    assert final["status"] == "completed", a.output()
    lines = log_lines(api, t, "DEBUG")
    assert "progress 100%" in lines, lines
    assert not any("progress 10%" in l or "progress 50%" in l for l in lines), lines
    assert "bad \ufffd\ufffd bytes \ufffd end" in lines, lines
    assert "\x1b[0m" not in lines
    assert "ctl \x01\x1f \ufffd tab\t\"quote\" back\\slash" in lines, lines


def test_server_away_20s_nothing_lost(server, api, tmp_path):
    # The task prints numbered lines for ~35 s; the server is down for 20 s in the middle. Every
    # line must be on the server afterwards, in order, once.
    n = 700
    script = ("import sys, time\n"
              f"for i in range({n}):\n"
              "    print('tick %04d' % i, flush=True)\n"
              "    time.sleep(0.05)\n")
    q = create_queue(api, "away")
    t = create_script_task(api, script, name="server away")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, "away")
    try:
        wait_for(lambda: any(l.startswith("tick 0020") for l in log_lines(api, t)), timeout=120,
                 what="the first lines on the server")
        port = server.port
        server.stop()
        time.sleep(20)
        server.start(port)
        api2 = server.api()
        final = wait_status(api2, t, timeout=180)
        assert final["status"] == "completed", a.output()
        got = [l for l in log_lines(api2, t, "DEBUG") if l.startswith("tick ")]
        assert got == ["tick %04d" % i for i in range(n)]
        assert a.proc.poll() is None, "the agent died while the server was away"
    finally:
        a.stop()


def test_huge_line_and_binary_garbage(server, api, tmp_path):
    # One 20 MB line and 1 MB of random bytes: every byte of the line arrives (in 64 KiB events;
    # a line still without newline after 4 MiB is cut there), the garbage arrives as valid JSON,
    # the task completes and the agent keeps going.
    script = ("import os, sys\n"
              "o = sys.stdout.buffer\n"
              "o.write(b'x' * 20000000 + b'\\n')\n"
              "o.write(os.urandom(1 << 20).replace(b'x', b'y') + b'\\n')\n"
              "o.write(b'end of garbage\\n')\n"
              "o.flush()\n")
    t, final, a = run_one(server, api, tmp_path, script)
    assert final["status"] == "completed", a.output()[-3000:]
    events = [e for e in api.task_log(t) if e.get("level") == "debug"]
    assert all(len(e["msg"].encode()) < 65536 for e in events)
    text = "".join(e["msg"] for e in events)
    xs = [l for l in text.splitlines() if l and set(l) == {"x"}]
    assert sum(len(l) for l in xs) == 20000000
    assert "end of garbage" in text.splitlines()


def test_task_ends_while_server_away(server, api, tmp_path):
    # The task finishes while the server is down: the agent keeps its output, ships it when the
    # server is back, and only then sets the final status.
    script = ("import time\n"
              "print('before', flush=True)\n"
              "time.sleep(3)\n"
              "for i in range(300):\n"
              "    print('late %03d' % i)\n")
    q = create_queue(api, "late")
    t = create_script_task(api, script, name="ends while away")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, "late")
    try:
        wait_for(lambda: "before" in log_lines(api, t), timeout=120, what="'before' on the server")
        port = server.port
        server.stop()
        time.sleep(12)  # the task ends meanwhile
        server.start(port)
        api2 = server.api()
        final = wait_status(api2, t, timeout=120)
        assert final["status"] == "completed", a.output()[-3000:]
        lines = log_lines(api2, t)
        assert [l for l in lines if l.startswith("late ")] == ["late %03d" % i for i in range(300)]
        # the status was set after the last line was stored
        assert lines.index("Process completed successfully") > lines.index("late 299")
    finally:
        a.stop()
