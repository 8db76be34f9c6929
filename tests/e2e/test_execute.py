"""clearml-agent execute end to end: in the foreground (task output on stdout and on the server),
by task name, --clone, --require-queue, and --disable-monitoring where the process becomes the
task and its exit code is ours."""
import os

from agent_helper import (create_queue, create_script_task, daemon_env as fast_env, enqueue,
                          marker_script, run_agent, task)


def execute(server, tmp_path, args, env=None, timeout=120):
    return run_agent(server, tmp_path, ["execute"] + list(args), env=fast_env(tmp_path, env),
                     timeout=timeout)


def test_execute_foreground(server, api, tmp_path):
    t = create_script_task(api, marker_script("hello-from-execute"), name="task fg")
    log_file = str(tmp_path / "task-output.txt")
    r = execute(server, tmp_path, ["--id", t, "--log-file", log_file])
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "hello-from-execute" in out
    assert task(api, t)["status"] == "completed"
    assert "hello-from-execute" in api.task_log_text(t)
    assert "hello-from-execute" in open(log_file).read()


def test_execute_full_monitoring(server, api, tmp_path):
    import subprocess
    from agent_helper import agent_env, workers
    from conftest import binary, wait_for
    pidf = str(tmp_path / "pid")
    t = create_script_task(api, marker_script("monitored", sleep=3, exit_code=5, pid_file=pidf),
                           name="task fm")
    env = fast_env(tmp_path, {"CLEARML_WORKER_ID": "fm-worker"})
    p = subprocess.Popen([binary("clearml-agent"), "--config-file", server.conf, "execute",
                          "--full-monitoring", "--id", t], env=agent_env(tmp_path, env),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        w = wait_for(lambda: [w for w in workers(api) if w["id"] == "fm-worker"
                              and (w.get("task") or {}).get("id") == t],
                     timeout=60, what="the full-monitoring worker reporting its task")
        assert w
        out, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = out.decode()
    assert p.returncode == 0, out  # full monitoring: 0 unless CLEARML_AGENT_PROPAGATE_EXITCODE
    assert task(api, t)["status"] == "failed"
    assert not [w for w in workers(api) if w["id"] == "fm-worker"]


def test_execute_failing_task_exit_code(server, api, tmp_path):
    t = create_script_task(api, marker_script("failing", exit_code=3), name="fails")
    r = execute(server, tmp_path, ["--id", t])
    assert r.returncode == 3, r.stdout.decode()
    assert task(api, t)["status"] == "failed"


def test_execute_by_name(server, api, tmp_path):
    t = create_script_task(api, marker_script("by-name"), name="unique task name.v1")
    create_script_task(api, marker_script("other"), name="unique task name.v10")
    r = execute(server, tmp_path, ["--id", "unique task name.v1"])
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert task(api, t)["status"] == "completed"
    assert "by-name" in out and "other" not in out


def test_execute_by_ambiguous_or_unknown_name(server, api, tmp_path):
    a = create_script_task(api, marker_script("x"), name="twin")
    b = create_script_task(api, marker_script("x"), name="twin")
    r = execute(server, tmp_path, ["--id", "twin"])
    out = r.stdout.decode()
    assert r.returncode == 1
    assert a in out and b in out
    r = execute(server, tmp_path, ["--id", "twi"])
    out = r.stdout.decode()
    assert r.returncode == 1
    assert "Could not find task" in out and a in out  # suggestions
    assert task(api, a)["status"] == "created"


def test_execute_clone(server, api, tmp_path):
    t = create_script_task(api, marker_script("cloned-run"), name="original")
    r = execute(server, tmp_path, ["--id", t, "--clone"])
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert task(api, t)["status"] == "created"
    clones = [x for x in api.call("tasks.get_all", name="^Clone of original$")["tasks"]]
    assert len(clones) == 1
    assert task(api, clones[0]["id"])["status"] == "completed"


def test_execute_require_queue(server, api, tmp_path):
    t = create_script_task(api, marker_script("not-queued"), name="task nq")
    r = execute(server, tmp_path, ["--id", t, "--require-queue"])
    out = r.stdout.decode()
    assert r.returncode == 1, out
    assert "not queued" in out
    assert task(api, t)["status"] == "created"
    # a queued task is dequeued and run
    q = create_queue(api, "rq-queue")
    enqueue(api, t, queue=q)
    r = execute(server, tmp_path, ["--id", t, "--require-queue"])
    assert r.returncode == 0, r.stdout.decode()
    assert task(api, t)["status"] == "completed"
    assert api.call("queues.get_by_id", queue=q)["queue"]["entries"] == []


def test_execute_disable_monitoring_becomes_task(server, api, tmp_path):
    pidf = str(tmp_path / "pid")
    t = create_script_task(api, marker_script("in-process", exit_code=7, pid_file=pidf),
                           name="task dm")
    import subprocess
    from agent_helper import agent_env
    from conftest import binary
    p = subprocess.Popen([binary("clearml-agent"), "--config-file", server.conf, "execute",
                          "--disable-monitoring", "--id", t], env=agent_env(tmp_path,
                          fast_env(tmp_path)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=120)
    out = out.decode()
    assert p.returncode == 7, out
    assert "in-process" in out
    assert int(open(pidf).read()) == p.pid  # the agent process became the task
    tk = task(api, t)
    assert tk["status"] == "in_progress"  # nobody supervises: status left to the caller
    assert tk["status_reason"] == "worker starting task execution"


def test_execute_sigterm_stops_task(server, api, tmp_path):
    import signal
    import subprocess
    from agent_helper import agent_env, wait_gone
    from conftest import binary, wait_for
    pidf = str(tmp_path / "pid")
    t = create_script_task(api, marker_script("long-execute", sleep=120, pid_file=pidf),
                           name="task long")
    p = subprocess.Popen([binary("clearml-agent"), "--config-file", server.conf, "execute",
                          "--id", t], env=agent_env(tmp_path, fast_env(tmp_path)),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        pid = int(wait_for(lambda: os.path.exists(pidf) and open(pidf).read(), timeout=60,
                           what="task running"))
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 254, out.decode()
    assert wait_gone([pid], timeout=10)
    assert task(api, t)["status"] == "stopped"
    assert "long-execute" in out.decode()


def test_execute_disable_monitoring_setup_failure_fails_task(server, api, tmp_path):
    t = create_script_task(api, "", name="task without code", entry_point="nope.py")
    r = execute(server, tmp_path, ["--disable-monitoring", "--id", t])
    out = r.stdout.decode()
    assert r.returncode == 86, out  # RUNNER_EXIT_SETUP_FAILED
    tk = task(api, t)
    assert tk["status"] == "failed", tk
    assert tk.get("status_reason"), tk


def test_execute_disable_monitoring_task_env_section(server, api, tmp_path):
    """agent.enable_task_env: the task's `Environment` hyper-parameters become its variables, also
    when `execute --disable-monitoring` runs the task in its own process."""
    t = create_script_task(api, "import os\nprint('ENV=' + os.environ.get('MY_TASK_VAR', 'unset'))\n",
                           name="task env section")
    api.call("tasks.edit_hyper_params", task=t, force=True, hyperparams=[
        {"section": "Environment", "name": "MY_TASK_VAR", "value": "from-hyperparams"}])
    r = execute(server, tmp_path, ["--disable-monitoring", "--id", t],
                env={"CLEARML_AGENT__AGENT__ENABLE_TASK_ENV": "true"})
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "ENV=from-hyperparams" in out
