"""The `_runner` role with a git repository (§5.2, §5.3): file:// and smart-HTTP remotes with Basic
auth, commit / tag / branch / default-branch checkout, submodules, uncommitted diffs, literal
scripts inside a repo, the vcs cache, and credentials that never leak."""
import os
import shutil
import time

import pytest

from gitfix import GitRepo, SmartHttp, git
from runner_helper import run_runner, write_conf

SHOW = "import os, subprocess\nprint('VERSION', open('version.txt').read().strip())\n"


def repo_task(url, tid="vcs0001", **script):
    s = {"repository": url, "entry_point": "show.py", "binary": "python3", "working_dir": "."}
    s.update(script)
    return {"id": tid, "script": s}


@pytest.fixture
def repo(tmp_path):
    r = GitRepo(tmp_path / "git", "proj")
    r.c1 = r.commit({"show.py": SHOW, "version.txt": "one\n", "sub/dir/mod.py": "X = 1\n"}, "one")
    r.tag("v1")
    r.c2 = r.commit({"version.txt": "two\n"}, "two")
    r.branch("feature")
    r.c3 = r.commit({"version.txt": "feature\n"}, "feature")
    r.checkout("main")
    r.push()
    return r


def version_of(run):
    for line in run.output.splitlines():
        if line.startswith("VERSION "):
            return line.split(" ", 1)[1]
    raise AssertionError(f"task printed no version: {run}")


def test_default_branch_and_resolved_commit(tmp_path, repo):
    run = run_runner(tmp_path, repo_task(repo.file_url))
    assert run.rc == 0, run
    assert version_of(run) == "two"
    # the task had no commit: the resolved one is reported
    assert run.result["version_num"] == repo.c2
    assert f"commit = {repo.c2}" in run.output
    wc = os.path.join(run.build_dir, "task_repository", "proj.git")
    assert f"root = {wc}" in run.output
    # origin of the working copy is the real URL, not the cache
    assert git("remote", "get-url", "origin", cwd=wc) == repo.file_url


@pytest.mark.parametrize("field,value,want", [
    ("version_num", "c1", "one"), ("tag", "v1", "one"), ("branch", "feature", "feature"),
    ("branch", "main", "two")])
def test_checkout_of_commit_tag_branch(tmp_path, repo, field, value, want):
    if field == "version_num":
        value = repo.c1
    run = run_runner(tmp_path, repo_task(repo.bare, **{field: value}))
    assert run.rc == 0, run
    assert version_of(run) == want
    if field == "version_num":
        assert run.result["version_num"] is None  # the task had one: nothing to report


def test_unknown_commit_fails(tmp_path, repo):
    run = run_runner(tmp_path, repo_task(repo.file_url, version_num="0" * 40))
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert "checking out" in run.result["status_reason"]


def test_working_dir_and_entry_inside_repo(tmp_path, repo):
    repo.commit({"sub/dir/run.py": "import mod\nprint('MOD', mod.X)\n"}, "run")
    repo.push()
    run = run_runner(tmp_path, repo_task(repo.file_url, entry_point="run.py", working_dir="sub/dir"))
    assert run.rc == 0, run
    assert "MOD 1" in run.output
    run = run_runner(tmp_path, repo_task(repo.file_url, entry_point="run.py", working_dir="../.."),
                     tag="esc")
    assert run.rc == 86, run
    assert "working directory" in run.result["status_reason"]


def test_submodules(tmp_path, repo):
    lib = GitRepo(tmp_path / "git", "lib")
    lib.commit({"libmod.py": "NAME = 'from-submodule'\n"}, "lib")
    lib.push()
    repo.add_submodule(lib.file_url, "vendor/lib")
    repo.commit({"show.py": "import sys\nsys.path.insert(0, 'vendor/lib')\nimport libmod\n"
                            "print('VERSION', libmod.NAME)\n"}, "use lib")
    repo.push()
    run = run_runner(tmp_path, repo_task(repo.file_url))
    assert run.rc == 0, run
    assert version_of(run) == "from-submodule"
    # second run: from the cache, submodule still there
    run = run_runner(tmp_path, repo_task(repo.file_url), tag="second")
    assert run.rc == 0, run
    assert "Using cached repository" in run.output
    assert version_of(run) == "from-submodule"


def test_diff_applied(tmp_path, repo):
    diff = repo.diff({"version.txt": "patched\n", "show.py": SHOW + "print('EXTRA line')\n"})
    assert diff.startswith("diff ")
    run = run_runner(tmp_path, repo_task(repo.file_url, diff=diff))
    assert run.rc == 0, run
    assert version_of(run) == "patched"
    assert "EXTRA line" in run.output


def test_diff_that_does_not_apply_fails(tmp_path, repo):
    diff = repo.diff({"version.txt": "patched\n"})
    # against the tag, version.txt says "one": the hunk's context does not match
    run = run_runner(tmp_path, repo_task(repo.file_url, tag="v1", diff=diff))
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert run.result["status_reason"].startswith("failed applying git diff")
    assert "version.txt" in run.result["error"]
    assert "version.txt" in run.output
    assert "Starting Task Execution:" not in run.output


def test_literal_script_inside_repo(tmp_path, repo):
    script = "print('LITERAL', open('version.txt').read().strip())\n"
    run = run_runner(tmp_path, repo_task(repo.file_url, entry_point="notebook_export.py", diff=script))
    assert run.rc == 0, run
    assert "LITERAL two" in run.output
    # an existing file in the repo is not overwritten by the literal script
    run = run_runner(tmp_path, repo_task(repo.file_url, diff="print('WRONG')\n"), tag="exist")
    assert run.rc == 0, run
    assert version_of(run) == "two" and "WRONG" not in run.output


def test_vcs_cache_reused_and_broken_entry_recloned(tmp_path, repo):
    conf = write_conf(tmp_path)
    run = run_runner(tmp_path, repo_task(repo.file_url), conf=conf)
    assert run.rc == 0, run
    assert "cloning: " in run.output and "Using cached repository" not in run.output
    cache = tmp_path / "vcs-cache"
    entries = [e for e in os.listdir(cache) if e.startswith("proj.git.")]
    assert len(entries) == 1
    entry = cache / entries[0] / "proj.git"
    inode = os.stat(entry).st_ino

    # a new commit upstream: the cached entry is fetched, not cloned again
    c4 = repo.commit({"version.txt": "four\n"}, "four")
    repo.push()
    run = run_runner(tmp_path, repo_task(repo.file_url), conf=conf, tag="second")
    assert run.rc == 0, run
    assert f'Using cached repository in "{entry}"' in run.output
    assert "cloning: " not in run.output
    assert os.stat(entry).st_ino == inode
    assert version_of(run) == "four" and run.result["version_num"] == c4

    # break the entry: it is cloned again and the task still runs
    for name in ("HEAD", "objects", "refs"):
        p = entry / ".git" / name
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    run = run_runner(tmp_path, repo_task(repo.file_url), conf=conf, tag="third")
    assert run.rc == 0, run
    assert "cloning: " in run.output
    assert version_of(run) == "four"


def test_cache_disabled_clones_directly(tmp_path, repo):
    conf = write_conf(tmp_path, agent={"vcs_cache": {"enabled": False}})
    run = run_runner(tmp_path, repo_task(repo.file_url), conf=conf)
    assert run.rc == 0, run
    assert version_of(run) == "two"
    assert not (tmp_path / "vcs-cache").exists()


def test_clone_failure(tmp_path):
    run = run_runner(tmp_path, repo_task("file://" + str(tmp_path / "no-such-repo.git")))
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert run.result["status_reason"] == "failed cloning repository"
    assert "Repository cloning failed:" in run.output


def test_http_basic_auth_with_config_credentials(tmp_path, repo):
    secret = "s3cretPassw0rd"
    home = tmp_path / "home"
    home.mkdir()
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = someone\n")
    before = gitconfig.read_bytes()
    with SmartHttp(repo.remote_root, f"alice:{secret}") as srv:
        conf = write_conf(tmp_path, agent={"git_user": "alice", "git_pass": secret})
        run = run_runner(tmp_path, repo_task(srv.url("proj.git")), conf=conf)
        assert run.rc == 0, run
        assert version_of(run) == "two"
        assert secret not in run.output
        assert secret not in (tmp_path / "run-result.json").read_text()
        wc = os.path.join(run.build_dir, "task_repository", "proj.git")
        assert secret not in open(os.path.join(wc, ".git", "config")).read()
        for root, _, files in os.walk(tmp_path / "vcs-cache"):
            if "config" in files:
                assert secret not in open(os.path.join(root, "config")).read()
        # second run through the cache fetches over HTTP with the same credentials
        run = run_runner(tmp_path, repo_task(srv.url("proj.git")), conf=conf, tag="again")
        assert run.rc == 0, run
        assert "Using cached repository" in run.output
        assert secret not in run.output
        # credentials in the URL itself are moved to the helper, and masked when printed
        conf2 = write_conf(tmp_path, name="nocreds.conf")
        run = run_runner(tmp_path, repo_task(srv.url("proj.git", f"alice:{secret}")), conf=conf2,
                         tag="inurl")
        assert run.rc == 0, run
        assert secret not in run.output
        assert secret not in (tmp_path / "inurl-result.json").read_text()
    # the user's global git config is untouched
    assert gitconfig.read_bytes() == before


def test_http_wrong_password_fails_fast_without_leaking(tmp_path, repo):
    wrong = "WrongPassw0rdXYZ"
    with SmartHttp(repo.remote_root, "alice:right-one") as srv:
        conf = write_conf(tmp_path, agent={"git_user": "alice", "git_pass": wrong})
        t0 = time.monotonic()
        run = run_runner(tmp_path, repo_task(srv.url("proj.git")), conf=conf, timeout=60)
        elapsed = time.monotonic() - t0
        assert run.rc == 86, run
        assert run.result["status_reason"] == "failed cloning repository"
        assert wrong not in run.output
        assert wrong not in (tmp_path / "run-result.json").read_text()
        assert elapsed < 60
        # no credentials at all: git must not prompt (stdin is closed, prompts disabled)
        conf2 = write_conf(tmp_path, name="none.conf")
        run = run_runner(tmp_path, repo_task(srv.url("proj.git")), conf=conf2, tag="none", timeout=60)
        assert run.rc == 86, run
        assert "Repository cloning failed:" in run.output


def test_global_gitconfig_not_created(tmp_path, repo):
    run = run_runner(tmp_path, repo_task(repo.file_url))
    assert run.rc == 0, run
    home = tmp_path / "home"
    assert not (home / ".gitconfig").exists()
    assert not (home / ".config" / "git" / "config").exists()


def test_hostile_branch_and_url(tmp_path, repo):
    marker = tmp_path / "pwned"
    for i, (field, value) in enumerate([("branch", f"main;touch {marker}"),
                                        ("branch", f"$(touch {marker})"),
                                        ("version_num", "--upload-pack=touch " + str(marker)),
                                        ("tag", f"`touch {marker}`")]):
        run = run_runner(tmp_path, repo_task(repo.file_url, **{field: value}), tag=f"h{i}")
        assert run.rc == 86, run
        assert not marker.exists()
    run = run_runner(tmp_path, repo_task(f"--upload-pack=touch {marker}"), tag="url")
    assert run.rc == 86, run
    assert not marker.exists()


def test_parallel_runners_share_the_cache(tmp_path, repo):
    """Two runners on the same repository at once: the cache lock serialises them, both tasks
    get a correct working copy of their own revision, and there is one cache entry."""
    import threading
    conf = write_conf(tmp_path)
    results = {}

    def one(name, **script):
        results[name] = run_runner(tmp_path, repo_task(repo.file_url, tid=name, **script), conf=conf,
                                   tag=name, build_dir=str(tmp_path / f"build-{name}"))

    threads = [threading.Thread(target=one, args=("a",), kwargs={"tag": "v1"}),
               threading.Thread(target=one, args=("b",), kwargs={"branch": "feature"})]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results["a"].rc == 0, results["a"]
    assert results["b"].rc == 0, results["b"]
    assert version_of(results["a"]) == "one"
    assert version_of(results["b"]) == "feature"
    entries = [e for e in os.listdir(tmp_path / "vcs-cache") if not e.endswith(".lock")]
    assert len(entries) == 1, entries


def test_ssh_remote_fails_fast_without_prompt(tmp_path):
    # nothing listens on port 1: ssh in batch mode fails at once instead of asking anything
    t0 = time.monotonic()
    run = run_runner(tmp_path, repo_task("ssh://git@127.0.0.1:1/nothing.git"), timeout=60)
    assert run.rc == 86, run
    assert run.result["status_reason"] == "failed cloning repository"
    assert time.monotonic() - t0 < 60


def test_standalone_mode_uses_code_in_place(tmp_path, repo):
    build = tmp_path / "build"
    wc = build / "task_repository" / "proj.git"
    wc.parent.mkdir(parents=True)
    git("clone", "-q", repo.bare, str(wc))
    (wc / "version.txt").write_text("local edit\n")
    run = run_runner(tmp_path, repo_task(repo.file_url), args=["--standalone-mode"],
                     build_dir=str(build))
    assert run.rc == 0, run
    assert version_of(run) == "local edit"  # no clone, no checkout over the code
    assert "cloning: " not in run.output
    # nothing there: a clear failure
    run = run_runner(tmp_path, repo_task(repo.file_url), args=["--standalone-mode"],
                     build_dir=str(tmp_path / "empty-build"), tag="none")
    assert run.rc == 86, run
    assert "standalone" in run.result["error"]


def test_stalled_http_remote_is_bounded(tmp_path):
    """A remote that accepts connections and never answers: the clone is aborted by the HTTP
    low-speed limit (the agent's default is 300 s; the test shortens it) instead of hanging."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        port = srv.getsockname()[1]
        t0 = time.monotonic()
        run = run_runner(tmp_path, repo_task(f"http://127.0.0.1:{port}/stall.git"), timeout=60,
                         env={"GIT_HTTP_LOW_SPEED_TIME": "2"})
        assert run.rc == 86, run
        assert run.result["status_reason"] == "failed cloning repository"
        assert time.monotonic() - t0 < 60
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        srv.close()


def test_daemon_runs_a_repository_task(server, api, tmp_path, repo):
    """Through the real supervisor: the daemon spawns the runner, which checks out the repository
    and applies the diff; the resolved commit goes back to the server (tasks.edit) and a clone
    failure marks the task failed with upstream's status_reason."""
    from agent_helper import (AgentProcess, FAST_POLL, create_queue, enqueue, fast_env, log_lines,
                              task, wait_status)
    q = create_queue(api, "vcs-queue")
    diff = repo.diff({"version.txt": "via-daemon\n"})
    ok = api.call("tasks.create", name="repo task", type="training",
                  script={"repository": repo.file_url, "branch": "main", "entry_point": "show.py",
                          "working_dir": ".", "binary": "python3", "diff": diff})["id"]
    bad = api.call("tasks.create", name="bad repo", type="training",
                   script={"repository": "file://" + str(tmp_path / "missing.git"),
                           "entry_point": "x.py", "binary": "python3"})["id"]
    enqueue(api, ok, queue=q)
    enqueue(api, bad, queue=q)
    env = fast_env(tmp_path, {"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "vcs-queue"],
                     env=env)
    try:
        t = wait_status(api, ok, timeout=120)
        assert t["status"] == "completed", a.output()
        assert "VERSION via-daemon" in log_lines(api, ok)
        assert task(api, ok)["script"]["version_num"] == repo.c2
        t = wait_status(api, bad, timeout=120)
        assert t["status"] == "failed", a.output()
        assert t["status_reason"] == "failed cloning repository"
        assert any("Repository cloning failed" in line for line in log_lines(api, bad))
    finally:
        a.stop()


def test_commit_only_reachable_by_id(tmp_path, repo):
    """A commit on a branch that was deleted upstream (still in the object store, advertised by no
    ref) is fetched by its id."""
    repo.branch("gone")
    lost = repo.commit({"version.txt": "lost\n"}, "lost")
    git("push", "-q", "origin", "gone", cwd=repo.work)
    repo.checkout("main")
    git("push", "-q", "origin", "--delete", "gone", cwd=repo.work)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=repo.bare)
    run = run_runner(tmp_path, repo_task(repo.file_url, version_num=lost))
    assert run.rc == 0, run
    assert version_of(run) == "lost"


def test_password_never_in_any_git_argv(tmp_path, repo):
    """Every git process the runner starts is logged by a PATH shim: the password appears in no
    command line (it reaches git only through the GIT_ASKPASS helper's environment)."""
    secret = "ArgvLeakCheck9"
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "git-argv.log"
    real_git = shutil.which("git")
    (shim_dir / "git").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real_git} "$@"\n')
    (shim_dir / "git").chmod(0o755)
    with SmartHttp(repo.remote_root, f"alice:{secret}") as srv:
        conf = write_conf(tmp_path, agent={"git_user": "alice", "git_pass": secret})
        env = {"PATH": f"{shim_dir}:{os.environ['PATH']}"}
        run = run_runner(tmp_path, repo_task(srv.url("proj.git")), conf=conf, env=env)
        assert run.rc == 0, run
        run = run_runner(tmp_path, repo_task(srv.url("proj.git", f"alice:{secret}")), conf=conf,
                         env=env, tag="inurl")
        assert run.rc == 0, run
    logged = log.read_text()
    assert "clone" in logged and "fetch" in logged
    assert secret not in logged


@pytest.mark.parametrize("clone_on_fail", [False, True])
def test_cache_fetch_failure(tmp_path, repo, clone_on_fail):
    """A cached entry that cannot be fetched fails the task, unless vcs_cache.clone_on_pull_fail
    asks for a fresh clone."""
    conf = write_conf(tmp_path, agent={"vcs_cache": {"clone_on_pull_fail": clone_on_fail}})
    run = run_runner(tmp_path, repo_task(repo.file_url), conf=conf)
    assert run.rc == 0, run
    cache = tmp_path / "vcs-cache"
    entry = next(cache / e / "proj.git" for e in os.listdir(cache) if not e.endswith(".lock"))
    git("remote", "set-url", "origin", str(tmp_path / "gone.git"), cwd=str(entry))
    run = run_runner(tmp_path, repo_task(repo.file_url), conf=conf, tag="second")
    if clone_on_fail:
        assert run.rc == 0, run
        assert "cloning the repository again" in run.output
        assert version_of(run) == "two"
    else:
        assert run.rc == 86, run
        assert run.result["status_reason"] == "failed cloning repository"
        assert "git fetch failed" in run.output


def test_cache_lock_held_too_long_uses_private_entry(tmp_path, repo):
    """Another holder keeps the entry's flock: after agent.vcs_cache.lock_timeout the runner uses a
    private cache entry instead of waiting forever."""
    import fcntl
    import hashlib
    conf = write_conf(tmp_path, agent={"vcs_cache": {"lock_timeout": 1}})
    cache = tmp_path / "vcs-cache"
    cache.mkdir()
    md5 = hashlib.md5(repo.file_url.encode()).hexdigest()
    with open(cache / f"{md5}.lock", "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        run = run_runner(tmp_path, repo_task(repo.file_url), conf=conf, timeout=60)
    assert run.rc == 0, run
    assert "using a private cache entry" in run.output
    assert version_of(run) == "two"
