"""The `_runner` role without a repository: literal scripts, existing directories, -m modules,
bash tasks, the task environment (§5.10), the result file, and hostile task fields."""
import json
import os

from runner_helper import literal_task, run_runner, write_conf

ENV_DUMP = """\
import json, os, sys
print("TASKDUMP " + json.dumps({
    "argv": sys.argv, "pid": os.getpid(), "cwd": os.getcwd(),
    "env": {k: os.environ.get(k) for k in (
        "CLEARML_TASK_ID", "TRAINS_TASK_ID", "CLEARML_LOG_TASK_TO_BACKEND",
        "TRAINS_LOG_TASK_TO_BACKEND", "PYTHONPATH", "CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE",
        "CLEARML_LOG_LEVEL", "CLEARML_WORKER_ID", "TRAINS_WORKER_ID", "CUDA_DEVICE_ORDER",
        "MY_TASK_VAR", "OTHER_VAR")},
    "optimize": sys.flags.optimize,
}))
"""


def dump_of(run):
    for line in run.output.splitlines():
        if line.startswith("TASKDUMP "):
            return json.loads(line[len("TASKDUMP "):])
    raise AssertionError(f"task printed no dump: {run}")


def test_literal_script_env_argv_and_result(tmp_path):
    conf = write_conf(tmp_path)
    run = run_runner(tmp_path, literal_task(ENV_DUMP, entry_point="train.py", id="abc123"),
                     conf=conf, env={"CLEARML_WORKER_ID": "host:0", "PYTHONPATH": "/pre/existing"})
    assert run.rc == 0, run
    d = dump_of(run)
    code_dir = os.path.join(run.build_dir, "code")
    assert d["argv"] == ["train.py"]
    assert d["cwd"] == code_dir
    # the task replaced the runner: same pid (the supervisor's process group and exit code)
    assert d["pid"] == run.pid
    env = d["env"]
    assert env["CLEARML_TASK_ID"] == env["TRAINS_TASK_ID"] == "abc123"
    assert env["CLEARML_LOG_TASK_TO_BACKEND"] == env["TRAINS_LOG_TASK_TO_BACKEND"] == "0"
    assert env["CLEARML_CONFIG_FILE"] == env["TRAINS_CONFIG_FILE"] == os.path.realpath(conf)
    assert env["CLEARML_LOG_LEVEL"] == "INFO"
    assert env["CLEARML_WORKER_ID"] == env["TRAINS_WORKER_ID"] == "host:0"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    pp = env["PYTHONPATH"].split(":")
    assert pp[0] == "/pre/existing" and code_dir in pp
    assert d["optimize"] == 0
    # the literal script was written where upstream writes it
    assert open(os.path.join(code_dir, "train.py")).read() == ENV_DUMP
    # the result file was written before exec
    assert run.result["status"] == "ready"
    assert run.result["version_num"] is None
    assert "python" in run.result and run.result["python"]
    # upstream's printed lines, in order
    marks = ["Executing task id [abc123]:", "entry_point = train.py", "Running task id [abc123]:",
             f"[{code_dir}]$ ", "Summary - installed python packages:",
             "Environment setup completed successfully", "Starting Task Execution:", "TASKDUMP"]
    pos = [run.output.find(m) for m in marks]
    assert all(p >= 0 for p in pos) and pos == sorted(pos), run


def test_default_script_name_and_optimization(tmp_path):
    run = run_runner(tmp_path, literal_task(ENV_DUMP, entry_point=""), args=["-O", "-O"])
    assert run.rc == 0, run
    d = dump_of(run)
    assert d["argv"] == ["untitled.py"]
    assert d["optimize"] == 2
    assert "-u -OO untitled.py" in run.output


def test_exit_code_is_the_tasks(tmp_path):
    run = run_runner(tmp_path, literal_task("import sys\nprint('bye')\nsys.exit(7)\n"))
    assert run.rc == 7, run
    assert "bye" in run.output
    assert run.result["status"] == "ready"


def test_module_entry_point_in_existing_directory(tmp_path):
    proj = tmp_path / "proj"
    (proj / "pkg").mkdir(parents=True)
    (proj / "pkg" / "__init__.py").write_text("")
    (proj / "pkg" / "__main__.py").write_text(ENV_DUMP)
    task = {"id": "mod1", "script": {"entry_point": "-m pkg --flag 'two words' $MY_ARG",
                                     "binary": "python3", "working_dir": str(proj)}}
    run = run_runner(tmp_path, task, env={"MY_ARG": "expanded"})
    assert run.rc == 0, run
    d = dump_of(run)
    assert d["argv"][1:] == ["--flag", "two words", "expanded"]
    assert d["cwd"] == str(proj)
    assert str(proj) in d["env"]["PYTHONPATH"].split(":")


def test_bash_task_file_and_dash_c(tmp_path):
    script = 'echo "bash-task $CLEARML_TASK_ID args:$#"\n'
    run = run_runner(tmp_path, literal_task(script, entry_point="run.sh", binary_="/bin/bash"),
                     env={"SHELL": "/bin/bash"})
    assert run.rc == 0, run
    assert "bash-task task0123456789 args:0" in run.output
    assert "/bin/bash run.sh" in run.output

    task = {"id": "c1", "script": {"entry_point": "-c echo dash-c-$CLEARML_TASK_ID",
                                   "binary": "bash", "working_dir": str(tmp_path)}}
    run = run_runner(tmp_path, task, env={"SHELL": "/bin/bash"}, tag="c")
    assert run.rc == 0, run
    assert "dash-c-c1" in run.output


def test_missing_entry_point_fails_with_reason(tmp_path):
    task = {"id": "m1", "script": {"entry_point": "nothere.py", "binary": "python3",
                                   "working_dir": str(tmp_path)}}
    run = run_runner(tmp_path, task)
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert run.result["status_reason"] == "entry point not found: nothere.py"
    assert "nothere.py" in run.result["error"]
    assert "nothere.py" in run.output
    assert "Starting Task Execution:" not in run.output


def test_bad_working_dir_fails(tmp_path):
    task = {"id": "w1", "script": {"entry_point": "a.py", "binary": "python3",
                                   "working_dir": str(tmp_path / "does-not-exist")}}
    run = run_runner(tmp_path, task)
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert "working directory" in run.result["status_reason"]


def test_path_escape_is_refused(tmp_path):
    outside = tmp_path / "outside.py"
    run = run_runner(tmp_path, literal_task("print('x')", entry_point="../../outside.py"))
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert "entry point" in run.result["status_reason"]
    assert not outside.exists()
    assert not os.path.exists(os.path.join(run.build_dir, "..", "outside.py"))


def test_hostile_fields_run_no_command(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker})"
    task = literal_task("print('still here')", entry_point=f"a;touch {marker};{evil}.py",
                        script_extra={"branch": f"main;touch {marker}", "tag": evil})
    run = run_runner(tmp_path, task)
    assert not marker.exists()
    assert run.rc == 0, run
    assert "still here" in run.output

    # requirement lines with shell syntax go through the real python environment flow: they are
    # refused or fail to install, and nothing runs
    task = literal_task("print('ran anyway')",
                        script_extra={"requirements": {"pip": f"x; touch {marker}\n{evil}\n"}})
    # no pip pin: the venv keeps the bundled pip instead of first asking the (empty) index for one
    conf = write_conf(tmp_path, agent={"package_manager": {"pip_version": []}}, name="req.conf")
    run = run_runner(tmp_path, task, tag="req", conf=conf,
                     env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "", "PIP_NO_INDEX": "1",
                          "PIP_CONFIG_FILE": "/dev/null", "PIP_RETRIES": "0",
                          "PIP_DEFAULT_TIMEOUT": "5"})
    assert not marker.exists()
    if run.rc != 0:
        assert run.rc == 86 and run.result["status"] == "failed", run

    # a repository URL and branch with shell syntax: cloning fails, nothing is executed
    task = {"id": "h2", "script": {"repository": f"file:///nonexistent;touch {marker}",
                                   "branch": evil, "entry_point": "x.py", "binary": "python3"}}
    run = run_runner(tmp_path, task, tag="h2")
    assert run.rc == 86, run
    assert not marker.exists()


def test_task_environment_section(tmp_path):
    task = literal_task(ENV_DUMP, _environment={"MY_TASK_VAR": "from-task", "BAD=NAME": "x"})
    conf = write_conf(tmp_path, agent={"enable_task_env": True})
    run = run_runner(tmp_path, task, conf=conf)
    assert run.rc == 0, run
    assert dump_of(run)["env"]["MY_TASK_VAR"] == "from-task"
    # off by default
    conf2 = write_conf(tmp_path, name="off.conf")
    run = run_runner(tmp_path, task, conf=conf2, tag="off")
    assert dump_of(run)["env"]["MY_TASK_VAR"] is None


def test_force_exec_script_and_code_dir(tmp_path):
    code = tmp_path / "mycode"
    (code / "sub").mkdir(parents=True)
    (code / "sub" / "other.py").write_text(ENV_DUMP)
    task = literal_task("raise SystemExit('should not run')", entry_point="script.py")
    run = run_runner(tmp_path, task, env={"CLEARML_AGENT_FORCE_CODE_DIR": str(code),
                                          "CLEARML_AGENT_FORCE_EXEC_SCRIPT": "sub:other.py"})
    assert run.rc == 0, run
    d = dump_of(run)
    assert d["cwd"] == str(code / "sub")
    assert d["argv"] == ["other.py"]


def test_extra_python_path(tmp_path):
    run = run_runner(tmp_path, literal_task(ENV_DUMP),
                     env={"CLEARML_AGENT_EXTRA_PYTHON_PATH": "/extra/one"})
    assert run.rc == 0, run
    assert dump_of(run)["env"]["PYTHONPATH"].split(":")[-1] == "/extra/one"


def test_bad_task_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    import subprocess
    from conftest import binary
    from runner_helper import runner_env
    r = subprocess.run([binary("clearml-agent"), "--config-file", write_conf(tmp_path), "_runner",
                        "--task-file", str(bad), "--result-file", str(tmp_path / "r.json"),
                        "--build-dir", str(tmp_path / "b")], env=runner_env(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 86
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["status"] == "failed"


def test_custom_build_script(tmp_path):
    work = tmp_path / "custom"
    work.mkdir()
    (work / "real.py").write_text("import sys\nprint('CUSTOM-RUN', sys.argv[0], sys.executable)\n")
    seen = tmp_path / "seen.txt"
    script = tmp_path / "build.sh"
    script.write_text(f"""#!/bin/sh
{{ echo "entry=$CLEARML_TASK_SCRIPT_ENTRY"; echo "wd=$CLEARML_TASK_WORKING_DIR"
   echo "json=$CLEARML_CUSTOM_BUILD_TASK_CONFIG_JSON"; }} > {seen}
printf '{{"binary": "/usr/bin/python3", "entry_point": "real.py", "working_dir": "{work}"}}' \\
  > "$CLEARML_CUSTOM_BUILD_OUTPUT"
""")
    script.chmod(0o755)
    run = run_runner(tmp_path, literal_task("raise SystemExit('standard flow ran')", id="cb1"),
                     env={"CLEARML_AGENT_CUSTOM_BUILD_SCRIPT": str(script)})
    assert run.rc == 0, run
    assert "CUSTOM-RUN real.py /usr/bin/python3" in run.output
    text = seen.read_text()
    assert "entry=script.py" in text and '"cb1"' in text

    # a failing build script: the runner exits with its code
    script.write_text("#!/bin/sh\necho building; exit 5\n")
    run = run_runner(tmp_path, literal_task("print('no')"), tag="f",
                     env={"CLEARML_AGENT_CUSTOM_BUILD_SCRIPT": str(script)})
    assert run.rc == 5, run
    assert run.result["status"] == "failed"
    assert "custom build script" in run.result["status_reason"]

    # missing script: warning, standard flow
    run = run_runner(tmp_path, literal_task("print('STANDARD')"), tag="m",
                     env={"CLEARML_AGENT_CUSTOM_BUILD_SCRIPT": str(tmp_path / "nope.sh")})
    assert run.rc == 0, run
    assert "STANDARD" in run.output


def test_force_task_init(tmp_path):
    fake = tmp_path / "fakesdk" / "clearml"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "class Task:\n    @staticmethod\n    def init(*a, **k):\n        print('FAKE Task.init called')\n")
    script = "from __future__ import annotations\nprint('BODY')\n"
    run = run_runner(tmp_path, literal_task(script),
                     env={"CLEARML_AGENT_FORCE_TASK_INIT": "1",
                          "CLEARML_AGENT_EXTRA_PYTHON_PATH": str(tmp_path / "fakesdk")})
    assert run.rc == 0, run
    assert run.output.index("FAKE Task.init called") < run.output.index("BODY")
    text = open(os.path.join(run.build_dir, "code", "script.py")).read()
    assert text.startswith("from __future__ import annotations\nfrom clearml import Task\n")
