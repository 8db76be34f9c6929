"""Docker mode end to end through the real daemon and a real engine (issue 8): a repository task
with an uncommitted diff and requirements from the local index runs in a Debian image, built by
our static runner against the image's python; the SDK-visible environment inside; the second
task reuses the cached environment; an image without python runs a shell task and fails a
python task with a clear reason; `docker inspect` of a live container (labels, secrets by name
only, read-only runner, no tty, forbidden and template arguments); abort of a stubborn tree; a
killed agent's container is finalised at restart; a missing image; an OOM kill; the GPU flag as
the engine sees it; podman as a second engine."""
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from agent_helper import (AgentProcess, create_queue, create_script_task, enqueue, fast_env, task,
                          wait_status)
from conftest import wait_for
from docker_helper import (BOOKWORM, BUSYBOX, NOPYTHON, containers, docker, docker_conf, need_engine)
from gitfix import GitRepo
from pkgindex import pkg_index  # noqa: F401  (pytest fixture)


class Conf:
    """A server-lite clearml.conf extended for docker mode (docker_helper.docker_conf)."""

    def __init__(self, server, path):
        self.url = server.url
        self.conf = path
        self.access_key, self.secret_key = server.access_key, server.secret_key


def daemon(server, tmp_path, conf, args, name="agent", env=None):
    e = {"NVIDIA_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": ""}
    e.update(env or {})
    return AgentProcess(Conf(server, conf), tmp_path,
                        ["--polling-interval", "0.2"] + list(args), env=fast_env(tmp_path, e), name=name)


def log_text(api, t):
    return api.task_log_text(t)


SDK_ENV = ("import os, sys\n"
           "for k in ('CLEARML_TASK_ID', 'CLEARML_WORKER_ID', 'CLEARML_API_HOST', 'CLEARML_DOCKER_IMAGE',"
           " 'CLEARML_CONFIG_FILE'):\n"
           "    print('ENV', k, os.environ.get(k), flush=True)\n"
           "import hashlib\n"
           "sk = os.environ.get('CLEARML_API_SECRET_KEY', '')\n"
           "print('SECRET', hashlib.sha256(sk.encode()).hexdigest() == os.environ.get('EXPECT_SECRET_SHA'), flush=True)\n"
           "print('CONF_HAS_SECRET', bool(sk) and sk in open(os.environ['CLEARML_CONFIG_FILE']).read())\n"
           "print('EXE', sys.executable, flush=True)\n")


def test_repo_task_in_debian_image_and_cache_reuse(server, api, tmp_path, pkg_index):
    need_engine()
    repo = GitRepo(tmp_path / "git")
    repo.commit({"train.py": "import tinygamma\nprint('VERSION', 1)\n", "requirements.txt": "tinygamma\n"})
    repo.push()
    diff = repo.diff({"train.py": "import tinygamma, os\nprint('VERSION', 2, tinygamma.__name__)\n" + SDK_ENV})
    conf = docker_conf(server, tmp_path, index=pkg_index,
                       extra_args=["-e", "EXPECT_SECRET_SHA=" + hashlib.sha256(server.secret_key.encode()).hexdigest()])
    q = create_queue(api, "dockerq")
    body = {"repository": repo.file_url, "branch": "main", "entry_point": "train.py",
            "working_dir": ".", "diff": diff, "binary": "python3"}
    t1 = api.call("tasks.create", name="docker repo", type="training", script=body)["id"]
    enqueue(api, t1, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "dockerq", "--docker", BOOKWORM])
    try:
        t0 = time.monotonic()
        assert wait_status(api, t1, timeout=240)["status"] == "completed", log_text(api, t1) + a.output()
        first = time.monotonic() - t0
        log = log_text(api, t1)
        assert "VERSION 2 tinygamma" in log            # the diff was applied on the host
        assert f"ENV CLEARML_TASK_ID {t1}" in log
        assert f"ENV CLEARML_API_HOST {server.url}" in log
        assert f"ENV CLEARML_DOCKER_IMAGE {BOOKWORM}" in log
        assert "ENV CLEARML_WORKER_ID None" not in log
        assert "SECRET True" in log                     # the SDK inside gets the credentials
        assert "CONF_HAS_SECRET False" in log           # the mounted config has no credentials
        assert "EXE /root/.clearml/venvs-builds/" in log
        assert "Using python 3.11" in log               # the image's own python
        assert server.secret_key not in log
        assert "-e CLEARML_API_SECRET_KEY " in log       # passed by name only
        # the default image was written back to the task (§6.2)
        assert task(api, t1).get("container", {}).get("image") == BOOKWORM
        assert not containers(f"clearml-task-id={t1}")  # removed after the exit was read

        # a second task with the same requirements: the environment is reused, nothing installed
        t2 = api.call("tasks.create", name="docker repo 2", type="training", script=body)["id"]
        enqueue(api, t2, queue=q)
        t0 = time.monotonic()
        assert wait_status(api, t2, timeout=180)["status"] == "completed", log_text(api, t2)
        second = time.monotonic() - t0
        log2 = log_text(api, t2)
        assert "VERSION 2 tinygamma" in log2
        assert "reused as it is" in log2 or "Using Cached environment" in log2, log2
        assert " -m pip install" not in log2
        print(f"docker first task {first:.2f} s, second (cached env) {second:.2f} s")
    finally:
        a.stop()


def test_repo_task_in_image_without_python(server, api, tmp_path, pkg_index):
    """The image has apt but no python: the runner installs one with the image's package manager
    (from the image's own apt source, a local file: repository here, so offline), then builds the
    environment with the task's requirements from the index and runs the diffed code."""
    need_engine(images=(NOPYTHON,))
    repo = GitRepo(tmp_path / "git")
    repo.commit({"train.py": "print('VERSION', 1)\n", "requirements.txt": "tinygamma\n"})
    repo.push()
    diff = repo.diff({"train.py": "import sys, tinygamma\nprint('NOPY-RUN', tinygamma.__name__, sys.executable)\n"})
    conf = docker_conf(server, tmp_path, index=pkg_index)
    q = create_queue(api, "nopyq")
    t = api.call("tasks.create", name="nopython repo", type="training", script={
        "repository": repo.file_url, "branch": "main", "entry_point": "train.py", "working_dir": ".",
        "diff": diff, "binary": "python3"})["id"]
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "nopyq", "--docker", NOPYTHON])
    try:
        assert wait_status(api, t, timeout=240)["status"] == "completed", log_text(api, t) + a.output()
        log = log_text(api, t)
        assert "The image has no usable python3: installing one" in log
        assert "+ /usr/bin/apt-get install -y --no-install-recommends python3 python3-venv" in log
        assert "NOPY-RUN tinygamma /root/.clearml/venvs-builds/3.11/bin/python" in log
    finally:
        a.stop()


def test_image_without_python(server, api, tmp_path):
    need_engine(images=(BUSYBOX,))
    conf = docker_conf(server, tmp_path)
    q = create_queue(api, "busyq")
    sh = create_script_task(api, "echo SHELL-IN-BUSYBOX $CLEARML_TASK_ID\n", name="shell task", binary_="/bin/sh",
                            entry_point="run.sh")
    py = create_script_task(api, "print('never')\n", name="python task")
    enqueue(api, sh, queue=q)
    enqueue(api, py, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "busyq", "--docker", BUSYBOX])
    try:
        assert wait_status(api, sh, timeout=60)["status"] == "completed", log_text(api, sh) + a.output()
        assert f"SHELL-IN-BUSYBOX {sh}" in log_text(api, sh)
        t = wait_status(api, py, timeout=60)
        assert t["status"] == "failed"
        assert "no usable python3" in t["status_reason"] and "no package manager" in t["status_reason"], t
    finally:
        a.stop()


STUBBORN = ("import os, signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "    time.sleep(600)\n"
            "print('STUBBORN-UP', flush=True)\n"
            "time.sleep(600)\n")


def test_inspect_then_abort_stubborn_tree(server, api, tmp_path):
    need_engine()
    conf = docker_conf(server, tmp_path, agent_extra="kill_grace_sec: 1")
    q = create_queue(api, "inspq")
    t = create_script_task(api, STUBBORN, name="stubborn")
    api.call("tasks.edit", task=t, force=True, container={
        "image": BOOKWORM,
        "arguments": "--entrypoint /bin/false -l q=${CLEARML_QUEUE_NAME|upper} -e MY_PASS=hunter2",
        "setup_shell_script": "echo SETUP-RAN > /tmp/setup-marker"})
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "inspq", "--docker", "--cpu-only"],
               env={"CLEARML_AGENT__AGENT__HIDE_DOCKER_COMMAND_ENV_VARS__EXTRA_KEYS": "[\"MY_PASS\"]"})
    try:
        wait_for(lambda: "STUBBORN-UP" in log_text(api, t), timeout=120, what="the task to start")
        names = containers(f"clearml-task-id={t}")
        assert len(names) == 1
        import json
        info = json.loads(docker("inspect", names[0]).stdout)[0]
        labels = info["Config"]["Labels"]
        assert labels["clearml-task-id"] == t and labels["q"] == "INSPQ"
        assert labels["clearml-worker-id"] and labels["clearml-parent-worker-id"]
        assert not info["Config"]["Tty"]
        assert not info["Config"]["Entrypoint"]          # --entrypoint was stripped
        assert any(b.endswith(":/.clearml_agent/bin/clearml-agent-runner:ro") for b in info["HostConfig"]["Binds"])
        assert f"CLEARML_API_SECRET_KEY={server.secret_key}" in info["Config"]["Env"]
        assert not info["HostConfig"].get("DeviceRequests")  # --cpu-only: no GPUs
        log = log_text(api, t)
        assert "forbidden docker arguments removed" in log and "--entrypoint" in log
        assert "hunter2" not in log and "MY_PASS=********" in log
        # the docker client's argv never holds the secret
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert server.secret_key not in ps
        r = docker("exec", names[0], "cat", "/tmp/setup-marker", check=False)
        assert r.stdout.strip() == "SETUP-RAN"

        api.call("tasks.stop", task=t, force=False)
        assert wait_status(api, t, timeout=60)["status"] == "stopped"
        wait_for(lambda: not containers(f"clearml-task-id={t}"), timeout=30, what="the container to go")
    finally:
        a.stop()


def test_agent_kill9_restart_finalises_container(server, api, tmp_path):
    need_engine()
    conf = docker_conf(server, tmp_path)
    q = create_queue(api, "killq")
    t = create_script_task(api, "import time\nprint('LONG-UP', flush=True)\ntime.sleep(600)\n", name="long")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "killq", "--docker", BOOKWORM])
    try:
        wait_for(lambda: "LONG-UP" in log_text(api, t), timeout=120, what="the task to start")
        os.killpg(a.pid, signal.SIGKILL)
        a.wait(10)
        assert containers(f"clearml-task-id={t}")       # a dead agent's container keeps running
    finally:
        a.stop()
    b = daemon(server, tmp_path, conf, ["--queue", "killq", "--docker", BOOKWORM], name="agent2")
    try:
        got = wait_status(api, t, timeout=60)
        assert got["status"] == "failed" and "agent restarted" in got["status_reason"]
        wait_for(lambda: not containers(f"clearml-task-id={t}"), timeout=30, what="the orphan container to go")
    finally:
        b.stop()


def test_orphan_container_found_by_label(server, api, tmp_path):
    """Even with its state file gone, a dead agent's container is found by its labels and removed."""
    need_engine()
    conf = docker_conf(server, tmp_path)
    q = create_queue(api, "labelq")
    t = create_script_task(api, "import time\nprint('LABEL-UP', flush=True)\ntime.sleep(600)\n", name="labelled")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "labelq", "--docker", BOOKWORM])
    try:
        wait_for(lambda: "LABEL-UP" in log_text(api, t), timeout=120, what="the task to start")
        os.killpg(a.pid, signal.SIGKILL)
        a.wait(10)
    finally:
        a.stop()
    state = tmp_path / "state"
    for f in os.listdir(state):
        if f.endswith(".state.json"):
            os.unlink(state / f)
    assert containers(f"clearml-task-id={t}")
    b = daemon(server, tmp_path, conf, ["--queue", "labelq", "--docker", BOOKWORM], name="agent2")
    try:
        wait_for(lambda: not containers(f"clearml-task-id={t}"), timeout=60, what="the labelled container to go")
        assert f"removing container clearml-id-{t} of task {t}" in b.output()
    finally:
        b.stop()


def test_missing_image_oom_and_gpu_flag(server, api, tmp_path):
    need_engine()
    conf = docker_conf(server, tmp_path)
    q = create_queue(api, "failq")
    missing = create_script_task(api, "print(1)\n", name="missing")
    api.call("tasks.edit", task=missing, force=True,
             container={"image": "jobagent-test:does-not-exist", "arguments": "--pull=never"})
    oom = create_script_task(api, "x = bytearray(400 * 1024 * 1024)\nprint('survived')\n", name="oom task")
    api.call("tasks.edit", task=oom, force=True,
             container={"image": BOOKWORM, "arguments": "--memory 64m --memory-swap 64m"})
    for x in (missing, oom):
        enqueue(api, x, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "failq", "--docker", BOOKWORM])
    try:
        t = wait_status(api, missing, timeout=60)
        assert t["status"] == "failed" and "image not found" in t["status_reason"], t
        t = wait_status(api, oom, timeout=120)
        assert t["status"] == "failed" and "OOMKilled" in t["status_reason"], (t, log_text(api, oom))
        assert "survived" not in log_text(api, oom)
    finally:
        a.stop()
    # an explicit GPU list reaches the engine as --gpus "device=0": this host has no NVIDIA
    # runtime (none exists here), so the real engine refuses to start it, and says why
    g = create_script_task(api, "print(1)\n", name="gpu task")
    gq = create_queue(api, "gpuq")  # a fresh queue: no long-poll of the stopped agent waits on it
    enqueue(api, g, queue=gq)
    b = daemon(server, tmp_path, conf, ["--queue", "gpuq", "--docker", BOOKWORM, "--gpus", "0"], name="gpu task")
    try:
        t = wait_status(api, g, timeout=60)
        log = log_text(api, g)
        assert '--gpus \'"device=0"\'' in log, log
        # the engine's own reason, from the container it created but could not start
        assert t["status"] == "failed" and "could not be started" in t["status_reason"], t
        assert "capabilities: [[gpu]]" in t["status_reason"], t
    finally:
        b.stop()


def test_podman_engine(server, api, tmp_path):
    from docker_helper import engine_ok
    why = engine_ok("podman")
    if why:
        pytest.skip(f"podman cannot run here: {why}")
    if subprocess.run(["podman", "image", "exists", BUSYBOX]).returncode != 0:
        need_engine(images=(BUSYBOX,))
        subprocess.run(f"docker save {BUSYBOX} | podman load -q", shell=True, check=True, timeout=120)
    # Machines without CAP_SYS_RESOURCE (this CI VM) refuse podman's default rlimits: then the
    # user's own workaround, explicit --ulimit arguments, is what the agent config carries.
    extra = []
    for attempt in ([], ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]):
        probe = subprocess.run(["podman", "run", "--rm"] + attempt + [BUSYBOX, "true"], capture_output=True,
                               text=True, timeout=120)
        if probe.returncode == 0:
            extra = attempt
            break
    else:
        pytest.skip("podman cannot start containers on this machine: " + probe.stderr.strip()[-300:])
    conf = docker_conf(server, tmp_path, extra_args=extra)
    q = create_queue(api, "podq")
    t = create_script_task(api, "echo PODMAN-SHELL $CLEARML_WORKER_ID\n", name="podman", binary_="/bin/sh",
                           entry_point="run.sh")
    enqueue(api, t, queue=q)
    a = daemon(server, tmp_path, conf, ["--queue", "podq", "--podman", BUSYBOX])
    try:
        assert wait_status(api, t, timeout=120)["status"] == "completed", log_text(api, t) + a.output()
        log = log_text(api, t)
        assert "PODMAN-SHELL " in log and "Running in Docker mode: podman run " in log
        assert not containers(f"clearml-task-id={t}", engine="podman")
        # a dead agent's podman container is found by its labels (podman's template dialect)
        long_ = create_script_task(api, "echo PODMAN-LONG; sleep 600\n", name="podman long",
                                   binary_="/bin/sh", entry_point="long.sh")
        enqueue(api, long_, queue=q)
        wait_for(lambda: "PODMAN-LONG" in log_text(api, long_), timeout=60, what="the podman task")
        os.killpg(a.pid, signal.SIGKILL)
        a.wait(10)
    finally:
        a.stop()
    for f in os.listdir(tmp_path / "state"):
        if f.endswith(".state.json"):
            os.unlink(tmp_path / "state" / f)
    assert containers(f"clearml-task-id={long_}", engine="podman")
    b = daemon(server, tmp_path, conf, ["--queue", "podq", "--podman", BUSYBOX], name="agent2")
    try:
        wait_for(lambda: not containers(f"clearml-task-id={long_}", engine="podman"), timeout=60,
                 what="the podman orphan to go")
    finally:
        b.stop()


def test_execute_docker_and_filters(server, api, tmp_path):
    """`execute --id T --docker IMAGE` runs that one task in its container; the task's arguments
    pass agent.docker_args_filters, and an engine that cannot be reached fails the task saying so."""
    need_engine()
    from agent_helper import run_agent
    conf = docker_conf(server, tmp_path, agent_extra='docker_args_filters: ["^-e=ALLOWED", "^--label"]')
    t = create_script_task(api, "import os\nprint('EXEC-DOCKER', os.environ.get('ALLOWED'), "
                                "os.environ.get('DENIED'), flush=True)\n", name="execute docker")
    api.call("tasks.edit", task=t, force=True, container={
        "image": BOOKWORM, "arguments": "-e ALLOWED=yes -e DENIED=no --privileged --label x=1"})
    env = fast_env(tmp_path, {"NVIDIA_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": ""})
    r = run_agent(Conf(server, conf), tmp_path, ["execute", "--id", t, "--docker", BOOKWORM], env=env,
                  timeout=180)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert task(api, t)["status"] == "completed"
    log = log_text(api, t)
    assert "EXEC-DOCKER yes None" in log, log
    assert "not allowed by agent.docker_args_filters" in log and "--privileged" in log
    assert not containers(f"clearml-task-id={t}")

    down = create_script_task(api, "print(1)\n", name="engine down")
    env["DOCKER_HOST"] = "unix://" + str(tmp_path / "no-such-docker.sock")
    env["CLEARML_AGENT_PROPAGATE_EXITCODE"] = "1"   # docker mode returns 0 without it (§1.4)
    r = run_agent(Conf(server, conf), tmp_path, ["execute", "--id", down, "--docker", BOOKWORM], env=env,
                  timeout=120)
    assert r.returncode != 0
    got = task(api, down)
    assert got["status"] == "failed" and "not reachable" in got["status_reason"], (got, r.stdout.decode())


def test_help_says_force_current_version_is_moot(server, tmp_path):
    from agent_helper import run_agent
    r = run_agent(server, tmp_path, ["daemon", "--help"])
    out = r.stdout.decode()
    assert "--force-current-version" in out and "moot" in out and "--podman" in out
