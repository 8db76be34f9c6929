"""`clearml-agent build --docker` with a real engine (spec §1.5, §9): a repository task with an
uncommitted diff and requirements from the local index becomes an image holding its code, a venv
built against the image's python and the agent; `docker run` of it with only a clearml.conf
mounted runs the task (reuse_task) or a new clone (clone_task) to completion on server-lite with
its log; with `--network none` it fails clearly; no credential is in the image (history, config,
file system); a base image (no entry point) then runs a docker-mode task that installs nothing;
errors (missing image, failed environment, no engine) tag nothing and leave no container."""
import json
import os
import subprocess

import pytest

from agent_helper import fast_env, run_agent, task
from conftest import wait_for
from docker_helper import BOOKWORM, docker, docker_conf, need_engine
from gitfix import FILE_PROTOCOL_ENV, GitRepo
from pkgindex import pkg_index  # noqa: F401  (pytest fixture)

TRAIN = """\
import sys
import tinygamma, tinyalpha
print("VERSION", open("version.txt").read().strip(), flush=True)
print("GAMMA", tinygamma.__version__, "ALPHA", tinyalpha.__version__, flush=True)
print("EXE", sys.executable, flush=True)
"""


class Built:
    """Images made by a test, removed at its end."""

    def __init__(self):
        self.names = []

    def name(self, tmp_path, what):
        # unique per run: parallel sessions (another checkout's suite) use the same tmp names
        n = f"clearml-build-test-{os.getpid()}-{os.urandom(3).hex()}-{what}"
        self.names.append(n)
        return n

    def remove(self):
        for n in self.names:
            subprocess.run(["docker", "rmi", "-f", n], capture_output=True, timeout=60)


@pytest.fixture
def built():
    b = Built()
    yield b
    b.remove()


def repo_task(api, tmp_path, requirements="tinygamma\n", name="build me", container=None):
    repo = GitRepo(tmp_path / "git" / name.replace(" ", "-"), "proj")
    repo.commit({"train.py": TRAIN, "version.txt": "committed\n"}, "first")
    repo.push()
    diff = repo.diff({"version.txt": "from-the-diff\n"})
    body = {"name": name, "type": "training",
            "script": {"repository": repo.file_url, "branch": "main", "entry_point": "train.py",
                       "working_dir": ".", "binary": "python3", "diff": diff,
                       "requirements": {"pip": requirements}}}
    if container:
        body["container"] = container
    return api.call("tasks.create", **body)["id"]


def build(server, tmp_path, pkg_index, args, env=None, timeout=600):
    conf = docker_conf(server, tmp_path, index=pkg_index)
    e = pkg_index.env(fast_env(tmp_path, FILE_PROTOCOL_ENV), cache_dir=tmp_path / "toolcache")
    e.update(env or {})
    argv = ["--config-file", conf, "build"] + list(args)
    r = subprocess.run([os.path.join(os.environ.get("CLEARML_BUILD_DIR", "build"), "clearml-agent")]
                       + argv, env=agent_env(tmp_path, e), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace")


def agent_env(tmp_path, extra):
    from agent_helper import agent_env as ae
    return ae(tmp_path, extra)


def image_exists(name):
    return docker("image", "inspect", name, check=False).returncode == 0


def build_containers(*task_ids):
    """Build containers of these tasks still there (by name: other tests may build meanwhile)."""
    r = docker("ps", "-a", "--format", "{{.Names}}")
    want = {f"clearml-build-{t}" for t in task_ids}
    return [l for l in r.stdout.split() if l in want]


def assert_no_secret(name, secrets):
    """Neither the image's config and history nor any file of its file system holds a secret."""
    inspect = docker("image", "inspect", name).stdout
    history = docker("history", "--no-trunc", name).stdout
    for s in secrets:
        assert s not in inspect and s not in history
    cid = docker("create", name).stdout.strip()
    try:
        p = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE)
        tail = b""
        pats = [s.encode() for s in secrets]
        seen = 0
        while True:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            seen += len(chunk)
            data = tail + chunk
            for pat in pats:
                assert pat not in data, f"secret found in the image file system of {name}"
            tail = data[-256:]
        assert p.wait(120) == 0 and seen > 10 << 20
    finally:
        docker("rm", "-f", cid, check=False)


def test_image_runs_the_task_or_a_clone_with_credentials_given_at_run_time(server, api, tmp_path,
                                                                           pkg_index, built):  # noqa: F811
    need_engine()
    t = repo_task(api, tmp_path)
    reuse = built.name(tmp_path, "reuse")
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", f"{BOOKWORM} --pull=never",
                                                  "--target", reuse, "--entry-point", "reuse_task"])
    assert rc == 0, out[-5000:]
    assert "- tinygamma==0.1" in out and f"Image {reuse}:" in out and "layers" in out
    assert not build_containers(t)
    # the build changed nothing on the server
    assert task(api, t)["status"] == "created" and api.task_log(t) == []
    cfg = json.loads(docker("image", "inspect", reuse).stdout)[0]["Config"]
    assert cfg["Entrypoint"][:4] == ["/.clearml_agent/bin/clearml-agent", "execute", "--id", t]
    assert not any(e.startswith(("PIP_INDEX_URL", "CLEARML_API")) for e in cfg["Env"]), cfg["Env"]
    assert_no_secret(reuse, [server.secret_key, server.access_key])

    # the task runs from the image, reporting to the server named by the mounted clearml.conf
    r = subprocess.run(["docker", "run", "--rm", "--network", "host", "-v",
                        f"{server.conf}:/root/clearml.conf:ro", reuse],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out[-4000:]
    tk = task(api, t)
    assert tk["status"] == "completed", out[-4000:]
    log = api.task_log_text(t)
    assert "VERSION from-the-diff" in log and "GAMMA 0.1 ALPHA 1.0" in log, log[-3000:]
    assert "EXE /.clearml_agent/venv/bin/python" in log
    assert "Collecting" not in log  # nothing installed at run time

    # against nothing: a clear failure, quickly
    r = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v",
                        f"{server.conf}:/root/clearml.conf:ro", reuse],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = r.stdout.decode(errors="replace")
    assert r.returncode != 0
    assert "clearml_agent: ERROR" in out and server.url.split("//")[1] in out, out[-3000:]

    # clone_task: a new clone of the task runs; the original is left as it was
    clone = built.name(tmp_path, "clone")
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", f"{BOOKWORM} --pull=never",
                                                  "--target", clone, "--entry-point", "clone_task"])
    assert rc == 0, out[-5000:]
    r = subprocess.run(["docker", "run", "--rm", "--network", "host",
                        "-e", f"CLEARML_API_HOST={server.url}",
                        "-e", f"CLEARML_API_ACCESS_KEY={server.access_key}",
                        "-e", f"CLEARML_API_SECRET_KEY={server.secret_key}", clone],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out[-4000:]
    clones = api.call("tasks.get_all", name="^Clone of build me$")["tasks"]
    assert len(clones) == 1
    c = clones[0]["id"]
    assert task(api, c)["status"] == "completed"
    assert "VERSION from-the-diff" in api.task_log_text(c)
    assert api.call("tasks.get_by_id", task=t)["task"]["status"] == "completed"


def test_base_image_serves_a_docker_mode_task_with_nothing_to_install(server, api, tmp_path,
                                                                      pkg_index, built):  # noqa: F811
    need_engine()
    t = repo_task(api, tmp_path)
    base = built.name(tmp_path, "base")
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", f"{BOOKWORM} --pull=never",
                                                  "--target", base])
    assert rc == 0, out[-5000:]
    cfg = json.loads(docker("image", "inspect", base).stdout)[0]["Config"]
    assert cfg["Cmd"] == ["/bin/bash"] and not cfg.get("Entrypoint")
    # a task whose container names the image: docker mode finds everything installed
    t2 = repo_task(api, tmp_path, name="uses the base", container={"image": base,
                                                                   "arguments": "--pull=never"})
    conf = docker_conf(server, tmp_path, index=pkg_index, name="run.conf")
    env = pkg_index.env(fast_env(tmp_path, dict(FILE_PROTOCOL_ENV, NVIDIA_VISIBLE_DEVICES="",
                                                CUDA_VISIBLE_DEVICES="")))
    argv = [os.path.join(os.environ.get("CLEARML_BUILD_DIR", "build"), "clearml-agent"),
            "--config-file", conf, "execute", "--docker", "--id", t2]
    r = subprocess.run(argv, env=agent_env(tmp_path, env), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out[-4000:]
    assert task(api, t2)["status"] == "completed"
    log = api.task_log_text(t2)
    assert "GAMMA 0.1 ALPHA 1.0" in log and "EXE /.clearml_agent/venv/bin/python" in log, log[-3000:]
    assert "Requirement already satisfied: tinygamma" in log
    assert "Collecting" not in log and "Successfully installed" not in log


def test_build_docker_errors_tag_nothing(server, api, tmp_path, pkg_index, built):  # noqa: F811
    need_engine()
    # the task's own container wins (spec §6.2): here an image that does not exist
    t = repo_task(api, tmp_path, container={"image": "jobagent-test:no-such-tag",
                                            "arguments": "--pull=never"})
    name = built.name(tmp_path, "missing")
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", f"{BOOKWORM} --pull=never",
                                                  "--target", name])
    assert rc == 1 and "not found or could not be pulled" in out, out[-3000:]
    assert "jobagent-test:no-such-tag" in out
    assert not image_exists(name) and not build_containers(t)
    # --force-docker: the agent's image instead, and the task's container is not rewritten
    forced = built.name(tmp_path, "forced")
    rc, out = build(server, tmp_path, pkg_index,
                    ["--id", t, "--docker",
                     f"{BOOKWORM} --pull=never --add-host ${{CLEARML_TASK.id}}.build:127.0.0.1",
                     "--force-docker", "--target", forced])
    assert rc == 0, out[-3000:]
    assert image_exists(forced)
    assert f"--add-host {t}.build:127.0.0.1" in out  # v3 templates resolved in build too
    # without --target the image is task_id_<id>
    built.names.append(f"task_id_{t}")
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", f"{BOOKWORM} --pull=never",
                                                  "--force-docker"])
    assert rc == 0 and image_exists(f"task_id_{t}"), out[-3000:]
    assert task(api, t)["container"]["image"] == "jobagent-test:no-such-tag"
    # a failed environment: no image, no container left
    bad = repo_task(api, tmp_path, requirements="tinyalpha==9.9\n", name="unbuildable")
    name = built.name(tmp_path, "failed")
    rc, out = build(server, tmp_path, pkg_index, ["--id", bad, "--docker", f"{BOOKWORM} --pull=never",
                                                  "--target", name, "--entry-point", "reuse_task"])
    assert rc == 1, out[-3000:]
    assert "building the environment of task" in out and "tinyalpha" in out
    assert f"No image was tagged {name}" in out
    assert not image_exists(name) and not build_containers(bad)
    # no container engine
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", BOOKWORM, "--target", name],
                    env={"CLEARML_AGENT_DOCKER_BIN": "/nonexistent/docker"})
    assert rc == 1 and "/nonexistent/docker" in out, out[-3000:]
    # unknown task; a bad image name
    rc, out = build(server, tmp_path, pkg_index, ["--id", "f" * 32, "--docker", "--target", name])
    assert rc == 1 and "Could not find task" in out
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", "--target", "Bad Name"])
    assert rc == 2 and "not a valid image name" in out
    assert task(api, t)["status"] == "created" and api.task_log(t) == []


def test_interrupted_build_leaves_nothing(server, api, tmp_path, pkg_index, built):  # noqa: F811
    """SIGTERM while the build container works (here: the task's setup script sleeping): the
    container goes at once, nothing is tagged, the build's temporary files (build.env) go too."""
    import signal
    import time
    need_engine()
    t = repo_task(api, tmp_path, container={"image": "", "setup_shell_script": "sleep 120"},
                  name="slow")
    name = built.name(tmp_path, "interrupted")
    conf = docker_conf(server, tmp_path, index=pkg_index)
    env = pkg_index.env(fast_env(tmp_path, FILE_PROTOCOL_ENV))
    p = subprocess.Popen([os.path.join(os.environ.get("CLEARML_BUILD_DIR", "build"), "clearml-agent"),
                          "--config-file", conf, "build", "--id", t, "--docker",
                          f"{BOOKWORM} --pull=never", "--target", name],
                         env=agent_env(tmp_path, env), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: docker("ps", "--filter", f"name=clearml-build-{t}", "-q").stdout.strip(),
                 timeout=120, what="the build container running")
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = out.decode(errors="replace")
    assert p.returncode == 1, out[-3000:]
    assert "interrupted" in out
    assert not image_exists(name) and not build_containers(t)
    tmpdir = tmp_path / "agent-tmp"
    assert not [f for f in os.listdir(tmpdir) if f.startswith(".clearml_build")]


def test_podman_builds_and_runs_the_image(server, api, tmp_path, pkg_index):  # noqa: F811
    """The same with podman as the engine (`build --podman`, then `podman run`)."""
    from docker_helper import engine_ok
    why = engine_ok("podman")
    if why:
        pytest.skip(f"podman cannot run here: {why}")
    image = "localhost/" + BOOKWORM
    if subprocess.run(["podman", "image", "exists", image]).returncode != 0:
        need_engine()
        subprocess.run(f"docker save {BOOKWORM} | podman load -q", shell=True, check=True, timeout=300)
    # as in test_docker: without CAP_SYS_RESOURCE podman's default rlimits are refused
    extra = []
    for attempt in ([], ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]):
        probe = subprocess.run(["podman", "run", "--rm"] + attempt + [image, "true"],
                               capture_output=True, text=True, timeout=120)
        if probe.returncode == 0:
            extra = attempt
            break
    else:
        pytest.skip("podman cannot start containers here: " + probe.stderr.strip()[-300:])
    t = repo_task(api, tmp_path)
    name = f"localhost/clearml-build-test-{os.getpid()}-{os.urandom(3).hex()}"
    try:
        rc, out = build(server, tmp_path, pkg_index,
                        ["--id", t, "--podman", " ".join([image, "--pull=never"] + extra),
                         "--target", name, "--entry-point", "reuse_task"])
        assert rc == 0, out[-5000:]
        assert f"Image {name}:" in out
        r = subprocess.run(["podman", "run", "--rm", "--network", "host"] + extra
                           + ["-v", f"{server.conf}:/root/clearml.conf:ro", name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        assert r.returncode == 0, r.stdout.decode(errors="replace")[-4000:]
        assert task(api, t)["status"] == "completed"
        assert "VERSION from-the-diff" in api.task_log_text(t)
    finally:
        subprocess.run(["podman", "rmi", "-f", name], capture_output=True, timeout=120)


def test_private_repository_credentials_stay_out_of_the_image(server, api, tmp_path, pkg_index,
                                                               built):  # noqa: F811
    """The code of a private repository (smart HTTP with Basic auth, credentials from
    agent.git_user/git_pass) is cloned on the host; neither the git password nor the API secret
    is anywhere in the image."""
    from gitfix import SmartHttp
    need_engine()
    secret = "git-pass-Zq81xW"
    repo = GitRepo(tmp_path / "private", "proj")
    repo.commit({"train.py": TRAIN, "version.txt": "private\n"}, "first")
    repo.push()
    with SmartHttp(repo.remote_root, f"alice:{secret}") as http:
        t = api.call("tasks.create", name="private", type="training",
                     script={"repository": http.url("proj.git"), "branch": "main",
                             "entry_point": "train.py", "working_dir": ".", "binary": "python3",
                             "requirements": {"pip": "tinygamma\n"}})["id"]
        name = built.name(tmp_path, "private")
        conf = docker_conf(server, tmp_path, index=pkg_index,
                           agent_extra=f'git_user: "alice"\n  git_pass: "{secret}"')
        e = pkg_index.env(fast_env(tmp_path, FILE_PROTOCOL_ENV))
        r = subprocess.run([os.path.join(os.environ.get("CLEARML_BUILD_DIR", "build"), "clearml-agent"),
                            "--config-file", conf, "build", "--id", t, "--docker",
                            f"{BOOKWORM} --pull=never", "--target", name, "--entry-point", "reuse_task"],
                           env=agent_env(tmp_path, e), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=600)
        out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out[-4000:]
    assert secret not in out
    assert_no_secret(name, [secret, server.secret_key])
    # and the image still runs the private code
    r = subprocess.run(["docker", "run", "--rm", "--network", "host", "-v",
                        f"{server.conf}:/root/clearml.conf:ro", name],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert r.returncode == 0, r.stdout.decode(errors="replace")[-3000:]
    assert "VERSION private" in api.task_log_text(t)


def test_literal_script_task_image(server, api, tmp_path, pkg_index, built):  # noqa: F811
    """A literal-script task (no repository) in an image: the script is baked at
    /.clearml_agent/build/code and runs from there."""
    from agent_helper import create_script_task
    need_engine()
    t = create_script_task(api, "import tinyalpha\nprint('LITERAL', tinyalpha.__version__, flush=True)\n",
                           name="literal", requirements={"pip": "tinyalpha==2.0\n"})
    name = built.name(tmp_path, "literal")
    rc, out = build(server, tmp_path, pkg_index, ["--id", t, "--docker", f"{BOOKWORM} --pull=never",
                                                  "--target", name, "--entry-point", "reuse_task"])
    assert rc == 0, out[-4000:]
    r = subprocess.run(["docker", "run", "--rm", "--network", "host", "-v",
                        f"{server.conf}:/root/clearml.conf:ro", name],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert r.returncode == 0, r.stdout.decode(errors="replace")[-3000:]
    assert task(api, t)["status"] == "completed"
    assert "LITERAL 2.0" in api.task_log_text(t)
