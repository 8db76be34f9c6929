"""The task's Python environment through the real `_runner`: pip / uv / poetry / conda installs
from a local package index on 127.0.0.1, the requirements.txt fallback, frozen requirements in
the result file, interpreter selection, skip modes, and hostile requirement text."""
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from pkgindex import find_uv, pkg_index  # noqa: F401  (pytest fixture)
from runner_helper import literal_task, run_runner, write_conf

SHOW = """\
import sys
import tinyalpha
print("ALPHA", tinyalpha.__version__)
try:
    import tinygamma
    print("GAMMA", tinygamma.__version__)
except ImportError:
    pass
print("EXE", sys.executable)
print("PYVER", "%d.%d.%d" % sys.version_info[:3])
"""


def index_env(idx, tmp_path, extra=None):
    """The package-tool variables of the index fixture for the runner's environment."""
    env = {k: v for k, v in idx.env(cache_dir=tmp_path / "toolcache").items()
           if k.startswith(("PIP_", "UV_", "POETRY_", "PYTHON_KEYRING"))}
    # runner_helper skips the python environment by default; these tests are about it
    env["CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL"] = ""
    env.update(extra or {})
    return env


def lines_with(output, prefix):
    return [ln[len(prefix):].strip() for ln in output.splitlines() if ln.startswith(prefix)]


def pyenv_python(version):
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for d in sorted(os.listdir(os.path.join(root, "versions"))) if os.path.isdir(
            os.path.join(root, "versions")) else []:
        if d == version or d.startswith(version + "."):
            p = os.path.join(root, "versions", d, "bin", "python" + version.split(".")[0])
            if os.access(p, os.X_OK):
                return p
    return None


def test_pip_installs_task_requirements_and_reports_freeze(tmp_path, pkg_index):
    """pip mode, cold: a venv under the build dir, pip pinned by pip_version (3.10-3.11: <22.3,
    served by the local index), the task imports what was installed, and the result carries
    the frozen list (clearml-agent lines removed)."""
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(tmp_path / "vcache")}})
    task = literal_task(SHOW, script_extra={"requirements": {"pip": "tinygamma\n# comment\n"}})
    run = run_runner(tmp_path, task, conf=conf, env=index_env(pkg_index, tmp_path), timeout=240)
    assert run.rc == 0, run
    assert lines_with(run.output, "ALPHA") == ["1.0"]  # tinygamma pins tinyalpha<2
    assert lines_with(run.output, "GAMMA") == ["0.1"]
    exe = lines_with(run.output, "EXE")[0]
    pyver = lines_with(run.output, "PYVER")[0]
    xy = ".".join(pyver.split(".")[:2])
    venv = os.path.join(run.build_dir, xy)
    assert exe == os.path.join(venv, "bin", "python")
    frozen = run.result["requirements"]["pip"]
    assert "tinygamma==0.1" in frozen and "tinyalpha==1.0" in frozen and "tinybeta==1.0" in frozen
    assert not any("clearml-agent" in f for f in frozen)
    assert run.result["cache_hit"] is False
    # the venv got a pip that honours agent.package_manager.pip_version for this python
    pips = [d for d in os.listdir(os.path.join(venv, "lib", f"python{xy}", "site-packages"))
            if d.startswith("pip-") and d.endswith(".dist-info")]
    assert len(pips) == 1
    pipver = tuple(int(x) for x in pips[0][4:-10].split(".")[:2])
    if xy in ("3.10", "3.11"):
        assert pipver < (22, 3), pips
    # the console script of an installed package runs
    out = subprocess.run([os.path.join(venv, "bin", "tinygamma")], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "tinygamma ok 1.0", out


def test_unsatisfiable_requirement_fails_with_pip_reason(tmp_path, pkg_index):
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(tmp_path / "vcache")}})
    task = literal_task(SHOW, script_extra={"requirements": {"pip": "tinyalpha\nnosuchpkg==9.9\n"}})
    run = run_runner(tmp_path, task, conf=conf, env=index_env(pkg_index, tmp_path), timeout=240)
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert "No matching distribution found for nosuchpkg==9.9" in run.result["status_reason"]
    assert run.result["status_reason"].startswith("pip install failed")
    # pip's own output is in the log
    assert "ERROR: No matching distribution found for nosuchpkg==9.9" in run.output
    # nothing was cached for the failed set
    vcache = tmp_path / "vcache"
    entries = [e for e in os.listdir(vcache) if not e.startswith(".")] if vcache.exists() else []
    assert entries == [], entries
    assert "ALPHA" not in run.output


def test_hostile_requirement_text_runs_no_command(tmp_path, pkg_index):
    """Requirement text goes to a requirements file, never to a shell."""
    marker = tmp_path / "pwned"
    # both managers read the same requirements file; uv keeps this test fast
    uv = find_uv()
    pm = {"type": "uv"} if uv else {"pip_version": []}
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(tmp_path / "vcache")},
                                 "package_manager": pm})
    evil = (f"tinyalpha ; $(touch {marker})\n`touch {marker}`\n../../{marker.name}\n"
            f"tinybeta; touch {marker}\n")
    task = literal_task(SHOW, script_extra={"requirements": {"pip": evil}})
    env = index_env(pkg_index, tmp_path)
    if uv:
        env["PATH"] = os.path.dirname(uv) + ":" + os.environ["PATH"]
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=240)
    assert not marker.exists()
    assert run.rc == 86, run
    assert run.result["status_reason"].startswith(("pip install failed", "uv install failed"))


def test_requirements_txt_fallback_root_to_working_dir(tmp_path, pkg_index):
    """No task requirements: requirements.txt from the repository root down to the working dir
    are installed (root first); an empty-string pip suppresses the fallback (§5.5, §12.13)."""
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "requirements.txt").write_text("tinyalpha==1.0\n")
    (repo / "sub" / "requirements.txt").write_text("tinybeta\n")
    (repo / "sub" / "run.py").write_text(
        SHOW + "import tinybeta\nprint('BETA', tinybeta.__version__)\n")
    # the requirement collection is the same for every manager: uv keeps this test fast
    uv = find_uv()
    pm = {"type": "uv"} if uv else {}
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(tmp_path / "vcache")},
                                 "package_manager": pm})
    task = {"id": "fallback1", "script": {"entry_point": "run.py", "working_dir": "sub",
                                          "binary": "python3"}}
    env = index_env(pkg_index, tmp_path, {"CLEARML_AGENT_FORCE_CODE_DIR": str(repo)})
    if uv:
        env["PATH"] = os.path.dirname(uv) + ":" + os.environ["PATH"]
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=240)
    assert run.rc == 0, run
    tries = lines_with(run.output, "Trying pip install:")
    assert tries == [str(repo / "requirements.txt"), str(repo / "sub" / "requirements.txt")]
    assert lines_with(run.output, "ALPHA") == ["1.0"]
    assert lines_with(run.output, "BETA") == ["1.0"]
    assert "tinybeta==1.0" in run.result["requirements"]["pip"]

    task["script"]["requirements"] = {"pip": ""}
    run2 = run_runner(tmp_path, task, conf=conf, env=env, timeout=240, tag="empty",
                      build_dir=str(tmp_path / "build-empty"))
    assert "Trying pip install" not in run2.output
    assert run2.result["requirements"] == {"pip": []}
    assert "No module named 'tinyalpha'" in run2.output


def test_uv_installs_requirement_list(tmp_path, pkg_index):
    uv = find_uv()
    if not uv:
        pytest.skip("uv is not installed (scripts/install-python-tools.sh could not install it)")
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(tmp_path / "vcache")},
                                 "package_manager": {"type": "uv"}})
    task = literal_task(SHOW, script_extra={"requirements": {"pip": ["tinygamma", "tinyalpha<2"]}})
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120)
    assert run.rc == 0, run
    assert f"{uv} venv --python" in run.output and f"{uv} pip install" in run.output
    assert " -m pip " not in run.output
    assert lines_with(run.output, "GAMMA") == ["0.1"]
    assert lines_with(run.output, "EXE")[0].startswith(run.build_dir + "/")
    assert "tinygamma==0.1" in run.result["requirements"]["pip"]


def test_uv_sync_with_lock_file(tmp_path, pkg_index):
    """A repository with uv.lock: `uv sync --locked`, the task runs through `uv run`, the task's
    requirement list is ignored, and the freeze comes from `uv pip freeze`."""
    uv = find_uv()
    if not uv:
        pytest.skip("uv is not installed (scripts/install-python-tools.sh could not install it)")
    py = shutil.which("python3")
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(f"""\
[project]
name = "jobproj"
version = "0.1.0"
requires-python = ">=3.7"
dependencies = ["tinybeta"]

[tool.uv]
package = false

[[tool.uv.index]]
name = "local"
url = "{pkg_index.url}"
default = true
""")
    (repo / "main.py").write_text(SHOW + "import os\nprint('VENV', os.environ.get('VIRTUAL_ENV'))\n")
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    lock_env = dict(os.environ, **env)
    lock_env.pop("UV_INDEX_URL", None)
    lock_env.pop("UV_DEFAULT_INDEX", None)
    subprocess.run([uv, "lock", "-p", py], cwd=repo, env=lock_env, check=True, timeout=120,
                   capture_output=True)
    assert (repo / "uv.lock").exists()
    conf = write_conf(tmp_path)
    task = {"id": "uvsync1", "script": {"entry_point": "main.py", "working_dir": ".",
                                        "binary": "python3",
                                        "requirements": {"pip": "nosuchpkg==9.9\n"}}}
    env["CLEARML_AGENT_FORCE_CODE_DIR"] = str(repo)
    env["CLEARML_AGENT_FORCE_UV"] = "1"
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120)
    assert run.rc == 0, run
    assert "sync --locked" in run.output
    assert lines_with(run.output, "ALPHA") == ["2.0"]
    assert lines_with(run.output, "EXE")[0].startswith(str(repo / ".venv"))
    frozen = run.result["requirements"]["pip"]
    assert "tinybeta==1.0" in frozen and "tinyalpha==2.0" in frozen
    assert run.result["python"] == "python"

    # a lock that no longer matches pyproject.toml: --locked fails, then a plain sync (v3)
    pp = repo / "pyproject.toml"
    pp.write_text(pp.read_text().replace('dependencies = ["tinybeta"]',
                                         'dependencies = ["tinybeta", "tinydelta"]'))
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120, tag="relock")
    assert run.rc == 0, run
    assert "uv sync --locked failed" in run.output and "retrying without --locked" in run.output
    assert "tinydelta==1.0" in run.result["requirements"]["pip"]


def test_poetry_install_with_lock_file(tmp_path, pkg_index):
    poetry = shutil.which("poetry")
    if not poetry:
        pytest.skip("poetry is not installed (scripts/install-python-tools.sh installs python3-poetry)")
    py = shutil.which("python3")
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(f"""\
[tool.poetry]
name = "jobproj"
version = "0.1.0"
description = ""
authors = ["t <t@example.invalid>"]

[tool.poetry.dependencies]
python = ">=3.7"
tinygamma = "*"

[[tool.poetry.source]]
name = "local"
url = "{pkg_index.url}"
default = true

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
""")
    (repo / "jobproj").mkdir()
    (repo / "jobproj" / "__init__.py").write_text("")
    (repo / "main.py").write_text(SHOW)
    env = index_env(pkg_index, tmp_path)
    tool_env = dict(os.environ, **env, HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir(exist_ok=True)
    r = subprocess.run([poetry, "lock", "-n"], cwd=repo, env=tool_env, timeout=180,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    conf = write_conf(tmp_path, {"package_manager": {"type": "poetry"}})
    task = {"id": "poetry1", "script": {"entry_point": "main.py", "working_dir": ".",
                                        "binary": "python3"}}
    env["CLEARML_AGENT_FORCE_CODE_DIR"] = str(repo)
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=300)
    assert run.rc == 0, run
    assert "poetry.lock found" in run.output and "install -n" in run.output
    assert lines_with(run.output, "GAMMA") == ["0.1"]
    exe = lines_with(run.output, "EXE")[0]
    assert exe.startswith(str(repo / ".venv")), exe
    # poetry env use pinned the agent's chosen interpreter, not poetry's own python
    real = subprocess.run([py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True).stdout.strip()
    assert lines_with(run.output, "PYVER")[0].startswith(real)
    assert "tinygamma==0.1" in run.result["requirements"]["pip"]


FAKE_CONDA = """#!/bin/sh
# Stand-in for conda (conda cannot be installed on this machine): records each call, and does
# the least a real conda would for the agent: `create --prefix DIR` makes a venv there with pip,
# `env update --file F` records F and pip-installs its dependencies into DIR.
printf '%s\\n' "$*" >> "{log}"
case "$1" in
create)
    prefix=""
    while [ $# -gt 0 ]; do [ "$1" = "--prefix" ] && prefix="$2"; shift; done
    exec "{python}" -m venv --without-pip "$prefix" ;;
env)
    prefix=""; file=""
    while [ $# -gt 0 ]; do
        [ "$1" = "-p" ] && prefix="$2"; [ "$1" = "--file" ] && file="$2"; shift
    done
    cp "$file" "{log}.yml"
    deps=$(awk '/^dependencies:/ {{d = 1; next}} d && /^  - / {{gsub(/^  - "|"$/, ""); print}}' "$file")
    exec "{python}" -m pip --python "$prefix/bin/python" install -q $deps ;;
esac
exit 1
"""


def test_conda_stand_in(tmp_path, pkg_index):
    """conda mode against a stand-in `conda` script that records its calls (no conda here)."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    log = tmp_path / "conda.log"
    py = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                        capture_output=True, text=True).stdout.strip()
    conda = bindir / "conda"
    conda.write_text(FAKE_CONDA.format(log=log, python=py))
    conda.chmod(conda.stat().st_mode | stat.S_IEXEC)
    conf = write_conf(tmp_path, {"package_manager": {"type": "conda",
                                                     "conda_channels": ["conda-forge"]}})
    task = literal_task(SHOW, script_extra={"requirements": {"pip": "tinyalpha==1.0\n"}})
    env = index_env(pkg_index, tmp_path, {"PATH": f"{bindir}:{os.environ['PATH']}"})
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=180)
    assert run.rc == 0, run
    calls = log.read_text().splitlines()
    pyver = lines_with(run.output, "PYVER")[0]
    xy = ".".join(pyver.split(".")[:2])
    venv = os.path.join(run.build_dir, xy)
    assert calls[0] == f"create --yes --mkdir --prefix {venv} python={xy}"
    assert calls[1].startswith(f"env update -p {venv} --file ") and calls[1].endswith("--quiet --json")
    yml = (tmp_path / "conda.log.yml").read_text()
    assert 'channels:\n  - "conda-forge"\n' in yml and '  - "tinyalpha==1.0"' in yml
    assert lines_with(run.output, "ALPHA") == ["1.0"]
    assert lines_with(run.output, "EXE") == [os.path.join(venv, "bin", "python")]


def test_requested_python_version_is_used(tmp_path, pkg_index):
    """script.binary python3.10 → pyenv's 3.10 (shims refuse it, so it must be found in
    $(pyenv root)/versions); python3.99 → a clear failure naming the version."""
    if not pyenv_python("3.10"):
        pytest.skip("no python 3.10 under $(pyenv root)/versions")
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(tmp_path / "vcache")}})
    script = "import sys\nprint('PYVER', '%d.%d.%d' % sys.version_info[:3])\nprint('EXE', sys.executable)\n"
    run = run_runner(tmp_path, literal_task(script, binary_="python3.10"), conf=conf,
                     env=index_env(pkg_index, tmp_path), timeout=120)
    assert run.rc == 0, run
    assert lines_with(run.output, "PYVER")[0].startswith("3.10.")
    assert lines_with(run.output, "EXE") == [os.path.join(run.build_dir, "3.10", "bin", "python")]
    assert run.result["requirements"] == {"pip": []}

    run = run_runner(tmp_path, literal_task(script, binary_="/usr/bin/python3.99"), conf=conf,
                     env=index_env(pkg_index, tmp_path), timeout=60, tag="v399")
    assert run.rc == 86, run
    assert "3.99" in run.result["status_reason"] and "not installed" in run.result["status_reason"]
    assert "PYVER" not in run.output


def test_skip_python_env_install(tmp_path):
    """CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL: no venv, no install, the agent's python."""
    conf = write_conf(tmp_path)
    task = literal_task(SHOW.replace("import tinyalpha\nprint(\"ALPHA\", tinyalpha.__version__)\n", ""),
                        script_extra={"requirements": {"pip": "nosuchpkg==9.9\n"}})
    run = run_runner(tmp_path, task, conf=conf, env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})
    assert run.rc == 0, run
    assert "no python environment installation" in run.output
    assert not lines_with(run.output, "EXE")[0].startswith(run.build_dir)
    assert not os.path.exists(os.path.join(run.build_dir, "3.11"))

    # a path instead of a boolean: that interpreter, packages installed into it (none here)
    py = sys.executable
    task2 = literal_task(SHOW.replace("import tinyalpha\nprint(\"ALPHA\", tinyalpha.__version__)\n", ""))
    run = run_runner(tmp_path, task2, conf=conf, tag="skipvenv",
                     env={"CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": py,
                          "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": ""})
    assert run.rc == 0, run
    assert lines_with(run.output, "EXE") == [os.path.realpath(py)] or \
        lines_with(run.output, "EXE") == [py]


def test_frozen_requirements_survive_the_result_file(tmp_path, pkg_index):
    """The result file's requirements is exactly {"pip": [...]} as the supervisor reports it."""
    uv = find_uv()
    if not uv:
        pytest.skip("uv is not installed (scripts/install-python-tools.sh could not install it)")
    conf = write_conf(tmp_path, {"package_manager": {"type": "uv"}})
    task = literal_task(SHOW, script_extra={"requirements": {"pip": "tinyalpha==2.0"}})
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120)
    assert run.rc == 0, run
    assert json.loads(json.dumps(run.result["requirements"])) == {"pip": ["tinyalpha==2.0"]}
    assert "Summary - installed python packages:" in run.output


def test_priority_post_extra_index_and_extra_flags(tmp_path, pkg_index):
    """priority_packages go first one by one, post_packages after the main file; packages come
    from agent.package_manager.extra_index_url when the main index is down; and
    CLEARML_EXTRA_PIP_INSTALL_FLAGS reach every install (shlex-split)."""
    uv = find_uv()
    if not uv:
        pytest.skip("uv is not installed (scripts/install-python-tools.sh could not install it)")
    conf = write_conf(tmp_path, {"package_manager": {
        "type": "uv", "priority_packages": ["TinyDelta"], "post_packages": ["tinyeps"],
        "extra_index_url": [pkg_index.url]}})
    env = index_env(pkg_index, tmp_path, {
        "PATH": os.path.dirname(uv) + ":" + os.environ["PATH"],
        # the main index has nothing (404 for every project): all must come from the extra one
        "UV_INDEX_URL": pkg_index.url.replace("/simple", "/empty"),
        "UV_DEFAULT_INDEX": pkg_index.url.replace("/simple", "/empty"),
        "CLEARML_EXTRA_PIP_INSTALL_FLAGS": "--no-deps  '--index-strategy' unsafe-best-match"})
    task = literal_task("print('ok')", script_extra={"requirements": {
        "pip": "tinyeps\ntinybeta\ntinydelta==1.0\n"}})
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120)
    assert run.rc == 0, run
    installs = [ln for ln in run.output.splitlines() if f"{uv} pip install" in ln]
    assert len(installs) == 3, installs
    assert " tinydelta==1.0 " in installs[0]
    assert " -r " in installs[1]
    assert " tinyeps " in installs[2]
    for ln in installs:
        # the extra index reaches uv through UV_EXTRA_INDEX_URL, never argv (issue 9)
        assert "--extra-index-url" not in ln and pkg_index.url not in ln
        assert ln.endswith("--no-deps --index-strategy unsafe-best-match")
    frozen = run.result["requirements"]["pip"]
    assert sorted(frozen) == ["tinybeta==1.0", "tinydelta==1.0", "tinyeps==1.0"]  # --no-deps


def test_system_site_packages(tmp_path, pkg_index):
    """agent.package_manager.system_site_packages: the venv sees the interpreter's own packages
    (the base python's pip here); without it, it does not."""
    uv = find_uv()
    if not uv:
        pytest.skip("uv is not installed (scripts/install-python-tools.sh could not install it)")
    script = ("import importlib.util as u\n"
              "print('BASEPIP', u.find_spec('pip') is not None)\n")
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    seen = {}
    for flag in (True, False):
        conf = write_conf(tmp_path, {"package_manager": {"type": "uv",
                                                         "system_site_packages": flag}},
                          name=f"c{flag}.conf")
        run = run_runner(tmp_path, literal_task(script, script_extra={
            "requirements": {"pip": "tinyalpha"}}), conf=conf, env=env, timeout=120,
            tag=f"s{flag}", build_dir=str(tmp_path / f"b{flag}"))
        assert run.rc == 0, run
        seen[flag] = lines_with(run.output, "BASEPIP")
    assert seen == {True: ["True"], False: ["False"]}


def test_python_choice_config_keys(tmp_path, pkg_index):
    """agent.ignore_requested_python_version, agent.python_binary and agent.default_python
    (§5.4): an unusable default falls back to python3 with a warning instead of failing."""
    py310 = pyenv_python("3.10")
    if not py310:
        pytest.skip("no python 3.10 under $(pyenv root)/versions")
    script = "import sys\nprint('PYVER', '%d.%d.%d' % sys.version_info[:3])\n"
    env = index_env(pkg_index, tmp_path)
    default = subprocess.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()

    conf = write_conf(tmp_path, {"ignore_requested_python_version": True}, name="ign.conf")
    run = run_runner(tmp_path, literal_task(script, binary_="python3.99"), conf=conf, env=env,
                     tag="ign", build_dir=str(tmp_path / "b1"))
    assert run.rc == 0, run
    assert "Ignoring the requested python version 3.99" in run.output
    assert lines_with(run.output, "PYVER")[0].startswith(default + ".")

    conf = write_conf(tmp_path, {"python_binary": py310}, name="pb.conf")
    run = run_runner(tmp_path, literal_task(script), conf=conf, env=env, tag="pb",
                     build_dir=str(tmp_path / "b2"))
    assert run.rc == 0, run
    assert lines_with(run.output, "PYVER")[0].startswith("3.10.")

    conf = write_conf(tmp_path, {"default_python": "3.99"}, name="dp.conf")
    run = run_runner(tmp_path, literal_task(script), conf=conf, env=env, tag="dp",
                     build_dir=str(tmp_path / "b3"))
    assert run.rc == 0, run
    assert "WARNING: agent.default_python 3.99 is not installed" in run.output
    assert lines_with(run.output, "PYVER")[0].startswith(default + ".")
