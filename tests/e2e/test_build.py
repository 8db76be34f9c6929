"""`clearml-agent build --id T --target DIR` (spec §1.5, §9) through the real binaries against a
real server-lite: a git repository task with an uncommitted diff and requirements from the local
package index is reproduced into DIR (DIR is the virtual environment, the code is in
DIR/task_repository/), the frozen packages are printed, the task on the server is not touched,
and the built code runs through DIR/bin/python. Errors leave nothing that looks finished."""
import json
import os
import subprocess

from agent_helper import fast_env, run_agent, task
from gitfix import FILE_PROTOCOL_ENV, GitRepo
from pkgindex import pkg_index  # noqa: F401  (pytest fixture)

TRAIN = """\
import sys
import tinygamma, tinyalpha
print("VERSION", open("version.txt").read().strip())
print("GAMMA", tinygamma.__version__, "ALPHA", tinyalpha.__version__)
print("EXE", sys.executable)
"""


def build_env(idx, tmp_path, extra=None):
    env = idx.env(fast_env(tmp_path, FILE_PROTOCOL_ENV), cache_dir=tmp_path / "toolcache")
    env.update(extra or {})
    return env


def repo_task(api, tmp_path, requirements="tinygamma\n", name="build me"):
    repo = GitRepo(tmp_path / "git", "proj")
    commit = repo.commit({"train.py": TRAIN, "version.txt": "committed\n"}, "first")
    repo.push()
    diff = repo.diff({"version.txt": "from-the-diff\n"})
    t = api.call("tasks.create", name=name, type="training",
                 script={"repository": repo.file_url, "branch": "main", "entry_point": "train.py",
                         "working_dir": ".", "binary": "python3", "diff": diff,
                         "requirements": {"pip": requirements}})["id"]
    return t, commit


def snapshot(api, t):
    """What a build must not change on the server: the task and its log."""
    tk = task(api, t)
    keep = {k: tk.get(k) for k in ("status", "status_reason", "status_message", "status_changed",
                                   "last_update", "last_change",
                                   "started", "last_worker", "script", "execution", "runtime")}
    return keep, api.task_log(t)


def test_build_folder_reproduces_code_and_env_without_touching_the_task(server, api, tmp_path,
                                                                        pkg_index):  # noqa: F811
    t, commit = repo_task(api, tmp_path)
    before = snapshot(api, t)
    target = tmp_path / "out"
    env = build_env(pkg_index, tmp_path)
    r = run_agent(server, tmp_path, ["build", "--id", t, "--target", str(target)], env=env,
                  timeout=300)
    out = r.stdout.decode()
    assert r.returncode == 0, out[-4000:]
    assert f"Restoring running environment of task id [{t}]:" in out
    # the frozen packages are printed
    assert "Summary - installed python packages:" in out
    assert "- tinygamma==0.1" in out and "- tinyalpha==1.0" in out, out[-3000:]
    # the summary says how to run it
    code = target / "task_repository" / "proj.git"
    assert f"Virtual environment: {target}/bin" in out
    assert f"Source code: {code}" in out
    assert "Entry point: train.py" in out
    assert f"cd {code} && {target}/bin/python -u train.py" in out
    # nothing changed on the server: no status, no requirements report, no log
    assert snapshot(api, t) == before
    assert task(api, t)["status"] == "created"
    # the code is the commit plus the diff, and it runs through DIR/bin/python
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=code, stdout=subprocess.PIPE,
                          text=True).stdout.strip()
    assert head == commit
    run = subprocess.run([str(target / "bin" / "python"), "train.py"], cwd=code,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
                         env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stdout
    assert "VERSION from-the-diff" in run.stdout
    assert "GAMMA 0.1 ALPHA 1.0" in run.stdout
    assert f"EXE {target}/bin/python" in run.stdout
    marker = json.loads((target / ".clearml-build.json").read_text())
    assert marker["task_id"] == t and marker["result"]["status"] == "ready"

    # an earlier build is replaced in place; the result runs the same
    r = run_agent(server, tmp_path, ["build", "--id", t, "--target", str(target)], env=env,
                  timeout=300)
    assert r.returncode == 0, r.stdout.decode()[-3000:]
    assert "Replacing the earlier build" in r.stdout.decode()
    run = subprocess.run([str(target / "bin" / "python"), "train.py"], cwd=code,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert "VERSION from-the-diff" in run.stdout, run.stdout
    assert snapshot(api, t) == before


def test_build_errors_are_clear_and_leave_nothing_half_built(server, api, tmp_path,
                                                             pkg_index):  # noqa: F811
    env = build_env(pkg_index, tmp_path)
    # unknown task
    missing = tmp_path / "missing"
    r = run_agent(server, tmp_path, ["build", "--id", "f" * 32, "--target", str(missing)], env=env)
    assert r.returncode == 1
    assert "Could not find task" in r.stdout.decode()
    assert not missing.exists()
    # --id is required; --target is required without --docker
    r = run_agent(server, tmp_path, ["build", "--target", str(missing)], env=env)
    assert r.returncode == 2 and "--id" in r.stdout.decode()
    t, _ = repo_task(api, tmp_path, requirements="tinyalpha==9.9\n", name="unbuildable")
    r = run_agent(server, tmp_path, ["build", "--id", t], env=env)
    assert r.returncode == 2 and "--target" in r.stdout.decode()
    # a non-empty folder that is not an earlier build is refused and kept as it was
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "precious.txt").write_text("keep me")
    r = run_agent(server, tmp_path, ["build", "--id", t, "--target", str(busy)], env=env)
    assert r.returncode == 1 and "is not empty" in r.stdout.decode()
    assert (busy / "precious.txt").read_text() == "keep me"
    # a failed environment: a clear error and no folder left behind
    failed = tmp_path / "failed"
    r = run_agent(server, tmp_path, ["build", "--id", t, "--target", str(failed)], env=env,
                  timeout=300)
    out = r.stdout.decode()
    assert r.returncode == 1, out[-3000:]
    assert "building the environment of task" in out and "tinyalpha" in out
    assert not failed.exists()
    # an interpreter the machine lacks (--python-version) fails the same way
    r = run_agent(server, tmp_path, ["build", "--id", t, "--target", str(failed),
                                     "--python-version", "3.99"], env=env, timeout=120)
    out = r.stdout.decode()
    assert r.returncode == 1 and "3.99" in out, out[-3000:]
    assert not failed.exists()
    assert task(api, t)["status"] == "created"
    assert api.task_log(t) == []


def test_build_install_globally(server, api, tmp_path, pkg_index):  # noqa: F811
    """--install-globally: no venv in DIR, the packages go into the interpreter itself (here a
    throwaway venv standing in for a system python, named by agent.python_binary)."""
    system = tmp_path / "system-python"
    subprocess.run(["python3", "-m", "venv", str(system)], check=True, timeout=120)
    py = str(system / "bin" / "python")
    t, _ = repo_task(api, tmp_path)
    target = tmp_path / "global"
    env = build_env(pkg_index, tmp_path, {"CLEARML_AGENT__AGENT__PYTHON_BINARY": py})
    r = run_agent(server, tmp_path, ["build", "--id", t, "--target", str(target),
                                     "--install-globally"], env=env, timeout=300)
    out = r.stdout.decode()
    assert r.returncode == 0, out[-4000:]
    assert "--install-globally" in out and "- tinygamma==0.1" in out
    assert not (target / "bin").exists()
    code = target / "task_repository" / "proj.git"
    run = subprocess.run([py, "train.py"], cwd=code, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=60)
    assert "GAMMA 0.1 ALPHA 1.0" in run.stdout, run.stdout


def test_build_literal_script_task(server, api, tmp_path, pkg_index):  # noqa: F811
    """A task whose code is a literal script (no repository): the script in DIR/code."""
    from agent_helper import create_script_task
    t = create_script_task(api, "import tinyalpha\nprint('LITERAL', tinyalpha.__version__)\n",
                           name="literal", requirements={"pip": "tinyalpha==2.0\n"})
    target = tmp_path / "lit"
    r = run_agent(server, tmp_path, ["build", "--id", t, "--target", str(target)],
                  env=build_env(pkg_index, tmp_path), timeout=300)
    out = r.stdout.decode()
    assert r.returncode == 0, out[-3000:]
    assert f"Source code: {target}/code" in out and "Entry point: script.py" in out
    run = subprocess.run([str(target / "bin" / "python"), "script.py"], cwd=target / "code",
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert "LITERAL 2.0" in run.stdout, run.stdout
    assert task(api, t)["status"] == "created"
