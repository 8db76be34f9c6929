"""Issue 9: `daemon --status` prints the schedule and exits (status 1, as upstream) without side
effects — no background daemon, no task pulled, no worker registered, no config dump holding
credentials left behind; and a config dump left by a SIGKILLed agent is removed by the next."""
import glob
import os
import signal
import time

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          fast_env, run_agent, supervisor_env, task, workers)
from conftest import wait_for


def dumps(tmp_path):
    return glob.glob(os.path.join(str(tmp_path), "agent-tmp", ".clearml_agent.*.cfg"))


def test_daemon_status_prints_and_exits(server, api, tmp_path):
    q = create_queue(api, "statusq")
    api.call("queues.update", queue=q, tags=["force_workers:on"])
    t = create_script_task(api, "print('must not run')\n", name="not pulled")
    enqueue(api, t, queue=q)
    env = fast_env(tmp_path, {"CLEARML_AGENT__AGENT__UPTIME": '["17-20 TUE"]'})
    r = run_agent(server, tmp_path, ["daemon", "--status", "--queue", "statusq"], env=env,
                  timeout=30)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 1, out
    assert "Working hours uptime/downtime configurations" in out
    assert "Listening to queue 'statusq' (tagged 'force_workers:on')" in out
    time.sleep(1)
    assert task(api, t)["status"] == "queued"
    assert workers(api) == []
    assert dumps(tmp_path) == []
    assert not glob.glob(os.path.join(str(tmp_path), "agent-tmp", "*.pid"))


def test_config_dump_of_a_killed_agent_is_removed(server, api, tmp_path):
    create_queue(api, "dumpq")
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "dumpq"],
                     env=supervisor_env(tmp_path), name="a1")
    wait_for(lambda: dumps(tmp_path), timeout=30, what="the config dump")
    a.signal(signal.SIGKILL)
    a.wait(10)
    a.stop()
    left = dumps(tmp_path)
    assert len(left) == 1 and server.secret_key in open(left[0]).read()
    b = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "dumpq"],
                     env=supervisor_env(tmp_path), name="a2")
    try:
        wait_for(lambda: dumps(tmp_path) and dumps(tmp_path) != left, timeout=30,
                 what="the new agent's dump")
        assert not os.path.exists(left[0]), "the dead agent's credentials file is still there"
    finally:
        b.stop()
    assert dumps(tmp_path) == []
