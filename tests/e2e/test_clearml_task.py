"""clearml-task against a real server-lite: literal scripts, packages, args, tags, containers, the
queue, and bad input."""
import os
import subprocess

from conftest import binary


def run_task(server, *args, cwd=None):
    env = dict(os.environ, CLEARML_CONFIG_FILE=server.conf)
    return subprocess.run([binary("clearml-task"), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60)


def task_id_from(out):
    for line in out.splitlines():
        if line.startswith("New task created id="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"no task id in output:\n{out}")


def test_literal_script_task_with_everything(server, api, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("from __future__ import annotations\nprint('hi')\n")
    reqs = tmp_path / "req.txt"
    reqs.write_text("numpy==1.24.2\n")
    setup = tmp_path / "setup.sh"
    setup.write_text("#!/bin/bash\napt-get install -y foo\n")
    r = run_task(server, "--project", "proj one", "--name", "my task", "--script", str(script),
                 "--requirements", str(reqs), "--packages", "tqdm>=2.1", "scikit-learn",
                 "--args", "lr=0.003", "batch_size=64", "--tags", "a", "b",
                 "--docker", "python:3.11", "--docker_args", "--ipc=host -e X=1",
                 "--docker_bash_setup_script", str(setup), "--task-type", "testing",
                 "--output-uri", "file:///tmp/out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning: No queue was provided, leaving task in draft-mode." in r.stdout
    tid = task_id_from(r.stdout)
    t = api.call("tasks.get_by_id", task=tid)["task"]
    assert t["name"] == "my task"
    assert t["type"] == "testing"
    assert t["status"] == "created"
    assert sorted(t["tags"]) == ["a", "b"]
    proj = api.call("projects.get_by_id", project=t["project"])["project"]
    assert proj["name"] == "proj one"
    s = t["script"]
    assert s["entry_point"] == "train.py"
    assert s["binary"] == "python3"
    assert "print('hi')" in s["diff"]
    # Task.init call added after the __future__ import, guarded for tasks without the SDK
    assert s["diff"].index("from __future__") < s["diff"].index("Task.init()")
    assert "except ImportError" in s["diff"]
    assert s["requirements"]["pip"].splitlines() == ["numpy==1.24.2", "tqdm>=2.1", "scikit-learn"]
    args = {p["name"]: p["value"] for p in t["hyperparams"]["Args"].values()}
    assert args == {"lr": "0.003", "batch_size": "64"}
    assert t["container"]["image"] == "python:3.11"
    assert t["container"]["arguments"] == "--ipc=host -e X=1"
    assert t["container"]["setup_shell_script"] == "apt-get install -y foo\n"
    assert t["output"]["destination"] == "file:///tmp/out"


def test_queue_enqueues_and_reuses_project(server, api, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    ids = []
    for _ in range(2):
        r = run_task(server, "--project", "proj-two", "--name", "queued", "--script", str(script),
                     "--skip-task-init", "--queue", "default")
        assert r.returncode == 0, r.stdout + r.stderr
        tid = task_id_from(r.stdout)
        ids.append(tid)
        assert f"Task id={tid} sent for execution on queue default" in r.stdout
        assert f"/experiments/{tid}/output/log" in r.stdout
    tasks = [api.call("tasks.get_by_id", task=t)["task"] for t in ids]
    assert all(t["status"] == "queued" for t in tasks)
    assert tasks[0]["project"] == tasks[1]["project"]
    assert tasks[0]["script"]["diff"] == "print(1)\n"  # --skip-task-init: untouched
    q = api.call("queues.get_default")
    entries = api.call("queues.get_by_id", queue=q["id"])["queue"]["entries"]
    assert [e["task"] for e in entries] == ids


def test_repo_task(server, api):
    r = run_task(server, "--project", "proj-three", "--name", "from repo",
                 "--repo", "https://user:secret@example.com/org/repo.git", "--branch", "dev",
                 "--script", "src/train.py", "--cwd", "src", "--binary", "python3.10")
    assert r.returncode == 0, r.stdout + r.stderr
    t = api.call("tasks.get_by_id", task=task_id_from(r.stdout))["task"]
    s = t["script"]
    assert s["repository"] == "https://example.com/org/repo.git"  # no credential stored
    assert s["branch"] == "dev"
    assert s["entry_point"] == "src/train.py"
    assert s["working_dir"] == "src"
    assert s["binary"] == "python3.10"
    assert "secret" not in r.stdout + r.stderr


def test_bad_input(server, tmp_path):
    r = run_task(server, "--project", "proj-x", "--name", "xyz", "--script", str(tmp_path / "missing.py"))
    assert r.returncode == 1
    assert "Could not read script file" in r.stdout
    r = run_task(server, "--project", "proj-x", "--script", "a.py")
    assert r.returncode == 1 and "Task name must be provided" in r.stdout
    r = run_task(server, "--project", "proj-x", "--name", "xyz", "--script", "a.py", "--module", "m")
    assert r.returncode == 1 and "mutually exclusive" in r.stdout
    r = run_task(server, "--bogus")
    assert r.returncode == 2 and "unrecognized arguments: --bogus" in r.stderr
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    r = run_task(server, "--project", "proj-x", "--name", "xyz", "--script", str(script), "--queue", "nosuchq")
    assert r.returncode == 1 and "Could not find queue named 'nosuchq'" in r.stdout
    r = run_task(server, "--project", "proj-x", "--name", "xyz", "--script", str(script), "--task-type", "bogus")
    assert r.returncode == 1 and "Invalid task type" in r.stdout


def test_init_call_keeps_the_script_valid_python(server, api, tmp_path):
    script = tmp_path / "prelude.py"
    script.write_text("#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n\"\"\"Module doc.\"\"\"\n"
                      "from __future__ import (annotations,\n    division)\nimport os\nprint(os.name)\n")
    r = run_task(server, "--project", "proj-x", "--name", "prelude", "--script", str(script))
    assert r.returncode == 0, r.stdout + r.stderr
    diff = api.call("tasks.get_by_id", task=task_id_from(r.stdout))["task"]["script"]["diff"]
    compile(diff, "prelude.py", "exec")  # raises SyntaxError if the insertion broke it
    assert diff.index("division)") < diff.index("Task.init()") < diff.index("import os")


def test_unreadable_requirements_file_is_an_error(server, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    r = run_task(server, "--project", "proj-x", "--name", "xyz", "--script", str(script),
                 "--requirements", str(tmp_path / "nope.txt"))
    assert r.returncode == 1 and "Could not read requirements file" in r.stdout


def test_project_names_with_regex_characters_are_matched_exactly(server, api, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    projects = []
    for name in ("exp (v1)+a.b", "exp (v1)+a.b", "expXv1"):
        r = run_task(server, "--project", name, "--name", "regex names", "--script", str(script),
                     "--skip-task-init")
        assert r.returncode == 0, r.stdout + r.stderr
        projects.append(api.call("tasks.get_by_id", task=task_id_from(r.stdout))["task"]["project"])
    assert projects[0] == projects[1] != projects[2]
    assert api.call("projects.get_by_id", project=projects[0])["project"]["name"] == "exp (v1)+a.b"
