"""Run the hidden `_runner` role of the real clearml-agent binary directly, with a hand-written
task JSON (no server needed):

    clearml-agent --config-file <conf> _runner --task-file F --result-file R --build-dir D
"""
import json
import os
import subprocess

from conftest import binary
from gitfix import FILE_PROTOCOL_ENV


class RunnerRun:
    def __init__(self, rc, output, result, pid, build_dir):
        self.rc = rc
        self.output = output
        self.result = result
        self.pid = pid
        self.build_dir = build_dir

    def __repr__(self):
        return f"RunnerRun(rc={self.rc}, result={self.result}, output=...{self.output[-3000:]})"


def write_conf(tmp_path, agent=None, name="clearml.conf"):
    """A config file (JSON is valid HOCON) with the vcs cache inside tmp_path."""
    conf = {"agent": {"vcs_cache": {"enabled": True, "path": str(tmp_path / "vcs-cache")},
                      "venvs_dir": str(tmp_path / "venvs-builds")}}
    for k, v in (agent or {}).items():
        if isinstance(v, dict) and isinstance(conf["agent"].get(k), dict):
            conf["agent"][k].update(v)
        else:
            conf["agent"][k] = v
    path = tmp_path / name
    path.write_text(json.dumps(conf, indent=2))
    return str(path)


def runner_env(tmp_path, extra=None):
    env = dict(os.environ)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env.update(FILE_PROTOCOL_ENV)
    env.pop("CLEARML_CONFIG_FILE", None)
    # These tests are about code placement and the task process; the python environment has its
    # own tests. A test that wants pyenv's full flow passes CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL="".
    env["CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL"] = "1"
    if extra:
        env.update(extra)
    return env


def run_runner(tmp_path, task, conf=None, env=None, args=(), timeout=90, build_dir=None,
               tag="run"):
    """Write the task, run `_runner`, return RunnerRun(rc, output, result, pid, build_dir)."""
    conf = conf or write_conf(tmp_path)
    task = dict(task)
    task.setdefault("id", "task0123456789")
    task_file = tmp_path / f"{tag}-task.json"
    task_file.write_text(json.dumps(task))
    result_file = tmp_path / f"{tag}-result.json"
    if result_file.exists():
        result_file.unlink()
    build_dir = build_dir or str(tmp_path / "build")
    argv = [binary("clearml-agent"), "--config-file", conf, "_runner", "--task-file", str(task_file),
            "--result-file", str(result_file), "--build-dir", build_dir, *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=runner_env(tmp_path, env),
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        raise AssertionError(f"runner did not finish in {timeout}s: {out.decode(errors='replace')[-3000:]}")
    result = None
    if result_file.exists():
        result = json.loads(result_file.read_text())
    return RunnerRun(proc.returncode, out.decode(errors="replace"), result, proc.pid, build_dir)


def literal_task(text, entry_point="script.py", binary_="python3", working_dir=".",
                 script_extra=None, **extra):
    t = {"id": extra.pop("id", "task0123456789"),
         "script": {"diff": text, "entry_point": entry_point, "binary": binary_,
                    "working_dir": working_dir}}
    t["script"].update(script_extra or {})
    t.update(extra)
    return t
