"""The environment cache through the real `_runner`: a second run of the same requirements is a
hit that installs nothing, restored by hard links into another slot's build dir with a working
console script; a slot's own venv is reused in place unless the task changed it; racing runners
both succeed and leave one complete entry; max_entries evicts; a disabled cache says so."""
import json
import os
import subprocess

import pytest

from pkgindex import find_uv, pkg_index  # noqa: F401  (pytest fixture)
from runner_helper import literal_task, run_runner, runner_env, write_conf
from conftest import binary
from test_pyenv import SHOW, index_env, lines_with

HIT = "::: Using Cached environment "


def entries(cache):
    if not os.path.isdir(cache):
        return []
    return sorted(e for e in os.listdir(cache) if not e.startswith("."))


def uv_or_skip():
    uv = find_uv()
    if not uv:
        pytest.skip("uv is not installed (scripts/install-python-tools.sh could not install it)")
    return uv


def test_second_run_is_a_hit_and_installs_nothing(tmp_path, pkg_index):
    cache = tmp_path / "vcache"
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(cache)}})
    task = literal_task(SHOW, script_extra={"requirements": {"pip": "tinygamma\n"}})
    env = index_env(pkg_index, tmp_path)
    first = run_runner(tmp_path, task, conf=conf, env=env, timeout=240, tag="first",
                       build_dir=str(tmp_path / "slot1"))
    assert first.rc == 0, first
    assert HIT not in first.output and first.result["cache_hit"] is False
    assert len(entries(cache)) == 1

    # another slot (another build dir): restored from the cache, pip never runs
    same = dict(task, script=dict(task["script"], requirements={"pip": "# same set\n TinyGamma \n"}))
    second = run_runner(tmp_path, same, conf=conf, env=env, timeout=120, tag="second",
                        build_dir=str(tmp_path / "slot2"))
    assert second.rc == 0, second
    assert HIT + str(cache / entries(cache)[0]) + " :::" in second.output
    assert " -m pip " not in second.output and " -m venv " not in second.output
    assert second.result["cache_hit"] is True
    assert lines_with(second.output, "GAMMA") == ["0.1"]
    assert second.result["requirements"] == first.result["requirements"]
    xy = os.path.basename(os.path.dirname(os.path.dirname(lines_with(second.output, "EXE")[0])))
    venv2 = tmp_path / "slot2" / xy
    assert lines_with(second.output, "EXE") == [str(venv2 / "bin" / "python")]
    # hard links, not copies: the restored module shares the cache entry's inode
    mod = f"lib/python{xy}/site-packages/tinygamma/__init__.py"
    cached = cache / entries(cache)[0] / "venv" / mod
    assert os.stat(venv2 / mod).st_ino == os.stat(cached).st_ino
    # the console script was relocated to the new path and runs
    out = subprocess.run([str(venv2 / "bin" / "tinygamma")], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "tinygamma ok 1.0", out
    assert open(venv2 / "bin" / "tinygamma").readline().strip() == f"#!{venv2}/bin/python"

    # the same slot again: the venv is reused as it is
    third = run_runner(tmp_path, same, conf=conf, env=env, timeout=120, tag="third",
                       build_dir=str(tmp_path / "slot2"))
    assert third.rc == 0, third
    assert HIT in third.output and " -m pip " not in third.output
    assert f"Virtual environment {venv2} is unchanged since the last task: reused as it is" \
        in third.output
    assert "reused as it is" not in second.output
    assert third.result["cache_hit"] is True
    assert len(entries(cache)) == 1


def test_changed_venv_is_restored_not_reused(tmp_path, pkg_index):
    """A task that installs into its own venv does not poison the next task of the slot."""
    uv = uv_or_skip()
    cache = tmp_path / "vcache"
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(cache)},
                                 "package_manager": {"type": "uv"}})
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    polluter = SHOW + ("import os, site\n"
                       "open(os.path.join(site.getsitepackages()[0], 'junk_added.py'), 'w').close()\n")
    task = literal_task(polluter, script_extra={"requirements": {"pip": "tinyalpha==2.0"}})
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120, tag="a")
    assert run.rc == 0, run
    probe = literal_task("import importlib.util as u\nprint('JUNK', u.find_spec('junk_added') is not None)\n",
                         script_extra={"requirements": {"pip": "tinyalpha==2.0"}})
    run = run_runner(tmp_path, probe, conf=conf, env=env, timeout=120, tag="b")
    assert run.rc == 0, run
    assert HIT in run.output
    assert "reused as it is" not in run.output
    assert lines_with(run.output, "JUNK") == ["False"]


def test_racing_runners_share_one_consistent_entry(tmp_path, pkg_index):
    uv = uv_or_skip()
    cache = tmp_path / "vcache"
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(cache)},
                                 "package_manager": {"type": "uv"}})
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    task = literal_task(SHOW, script_extra={"requirements": {"pip": "tinygamma"}})
    procs = []
    for i in range(2):
        (tmp_path / f"race{i}-task.json").write_text(json.dumps(task))
        argv = [binary("clearml-agent"), "--config-file", conf, "_runner",
                "--task-file", str(tmp_path / f"race{i}-task.json"),
                "--result-file", str(tmp_path / f"race{i}-result.json"),
                "--build-dir", str(tmp_path / f"slot{i}")]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=runner_env(tmp_path, env)))
    outs = [p.communicate(timeout=180)[0].decode(errors="replace") for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out
        assert lines_with(out, "GAMMA") == ["0.1"]
    ents = entries(cache)
    assert len(ents) == 1, ents
    assert not [e for e in os.listdir(cache) if e.startswith("_")]
    entry = cache / ents[0]
    meta = json.loads((entry / "meta.json").read_text())
    assert "tinygamma==0.1" in meta["frozen"]["pip"]
    assert (entry / "venv" / "pyvenv.cfg").exists()
    # and it serves a third slot
    run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120, tag="after",
                     build_dir=str(tmp_path / "slot3"))
    assert run.rc == 0, run
    assert HIT + str(entry) in run.output
    assert f"{uv} pip install" not in run.output


def test_max_entries_evicts_oldest(tmp_path, pkg_index):
    uv = uv_or_skip()
    cache = tmp_path / "vcache"
    conf = write_conf(tmp_path, {"venvs_cache": {"path": str(cache), "max_entries": 2},
                                 "package_manager": {"type": "uv"}})
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    seen = []
    for i, req in enumerate(["tinyalpha==1.0", "tinyalpha==2.0", "tinydelta"]):
        run = run_runner(tmp_path, literal_task("print('ok')", script_extra={
            "requirements": {"pip": req}}), conf=conf, env=env, timeout=120, tag=f"e{i}")
        assert run.rc == 0, run
        new = [e for e in entries(cache) if e not in seen]
        assert len(new) == 1
        seen += new
    assert entries(cache) == sorted(seen[1:])  # the first (oldest) was evicted


def test_disabled_cache_says_so(tmp_path, pkg_index):
    uv = uv_or_skip()
    conf = write_conf(tmp_path, {"venvs_cache": {"path": ""}, "package_manager": {"type": "uv"}})
    env = index_env(pkg_index, tmp_path, {"PATH": os.path.dirname(uv) + ":" + os.environ["PATH"]})
    task = literal_task("print('ok')", script_extra={"requirements": {"pip": "tinyalpha"}})
    for tag in ("d1", "d2"):
        run = run_runner(tmp_path, task, conf=conf, env=env, timeout=120, tag=tag)
        assert run.rc == 0, run
        assert "::: Python virtual environment cache is DISABLED" in run.output
        assert HIT not in run.output and f"{uv} pip install" in run.output


def test_vcs_requirement_follows_its_branch_on_a_hit_with_askpass_credentials(tmp_path, pkg_index):
    """A `git+http://` requirement behind Basic auth: the configured git credentials reach git
    through the askpass helper (never the URL, argv or log); on a cache hit only that package is
    reinstalled, at the branch's new commit (§5.6)."""
    from gitfix import GitRepo, SmartHttp
    uv = find_uv()
    repo = GitRepo(tmp_path / "git", "tinyvcs")
    pyproject = ('[build-system]\nrequires = ["setuptools>=61"]\n'
                 'build-backend = "setuptools.build_meta"\n'
                 '[project]\nname = "tinyvcs"\nversion = "1.0"\n')
    repo.commit({"pyproject.toml": pyproject, "tinyvcs/__init__.py": "VALUE = 'one'\n"}, "one")
    repo.push()
    cache = tmp_path / "vcache"
    agent = {"venvs_cache": {"path": str(cache)}, "git_user": "alice", "git_pass": "s3cret"}
    env = index_env(pkg_index, tmp_path)
    if uv:
        agent["package_manager"] = {"type": "uv"}
        env["PATH"] = os.path.dirname(uv) + ":" + os.environ["PATH"]
    conf = write_conf(tmp_path, agent)
    script = "import tinyvcs, tinyalpha\nprint('VALUE', tinyvcs.VALUE)\n"
    with SmartHttp(repo.remote_root, "alice:s3cret") as http:
        req = f"tinyalpha\ngit+{http.url('tinyvcs.git')}@main#egg=tinyvcs\n"
        task = literal_task(script, script_extra={"requirements": {"pip": req}})
        first = run_runner(tmp_path, task, conf=conf, env=env, timeout=300, tag="v1")
        assert first.rc == 0, first
        assert lines_with(first.output, "VALUE") == ["one"]
        assert "s3cret" not in first.output
        assert any(f.startswith("tinyvcs @ git+http") for f in first.result["requirements"]["pip"])
        assert not any("s3cret" in f for f in first.result["requirements"]["pip"])

        repo.commit({"tinyvcs/__init__.py": "VALUE = 'two'\n"}, "two")
        repo.push()
        second = run_runner(tmp_path, task, conf=conf, env=env, timeout=300, tag="v2",
                            build_dir=str(tmp_path / "slot2"))
    assert second.rc == 0, second
    assert HIT in second.output
    assert lines_with(second.output, "VALUE") == ["two"]
    assert "s3cret" not in second.output
    # only the VCS package was reinstalled
    installs = [ln for ln in second.output.splitlines() if " install " in ln and "$ " in ln]
    assert len(installs) == 1 and "tinyvcs" in installs[0], installs
