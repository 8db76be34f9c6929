"""Helpers shared by the end-to-end tests of the agent: literal-script tasks, and a real
`clearml-agent daemon` process against a real server-lite.
"""
import os
import signal
import subprocess
import time

from conftest import binary, wait_for

FINAL = {"completed", "failed", "stopped", "closed", "published"}


def create_script_task(api, script, name="e2e task", project=None, binary_="python3",
                       entry_point="script.py", requirements=None, extra=None):
    """A task whose code is a literal script (script.diff holds the whole file)."""
    body = {
        "name": name,
        "type": "training",
        "script": {"diff": script, "entry_point": entry_point, "binary": binary_,
                   "working_dir": "."},
    }
    if project:
        body["project"] = project
    if requirements is not None:
        body["script"]["requirements"] = requirements
    if extra:
        body.update(extra)
    return api.call("tasks.create", **body)["id"]


def enqueue(api, task_id, queue_name=None, queue=None):
    body = {"task": task_id}
    if queue:
        body["queue"] = queue
    elif queue_name:
        body["queue_name"] = queue_name
    return api.call("tasks.enqueue", **body)


def task(api, task_id):
    return api.call("tasks.get_by_id", task=task_id)["task"]


def wait_status(api, task_id, statuses=FINAL, timeout=60):
    return wait_for(lambda: task(api, task_id)["status"] in statuses and task(api, task_id),
                    timeout=timeout, what=f"task {task_id} to reach {sorted(statuses)}")


def agent_env(tmp_path, extra=None):
    env = dict(os.environ)
    env["HOME"] = str(tmp_path / "home")
    os.makedirs(env["HOME"], exist_ok=True)
    env.pop("CLEARML_CONFIG_FILE", None)
    if extra:
        env.update(extra)
    return env


class AgentProcess:
    """`clearml-agent --config-file <server conf> daemon ...` as a real process."""

    def __init__(self, server, tmp_path, args=(), env=None, name="agent"):
        self.log_path = os.path.join(str(tmp_path), f"{name}.log")
        self.log = open(self.log_path, "ab")
        self.env = agent_env(tmp_path, env)
        argv = [binary("clearml-agent"), "--config-file", server.conf, "daemon", "--foreground"]
        argv += list(args)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        return open(self.log_path, errors="replace").read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=60):
        return self.proc.wait(timeout)

    def stop(self, sig=15, timeout=60):  # 15 = SIGTERM: the method `signal` shadows the module here
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


# ---- daemon / execute helpers (engineer "daemon") ----

FAST_POLL = "0.2"


def fast_env(tmp_path, extra=None):
    """Environment for a fast, isolated agent: polling minimum lowered (our config key
    agent.polling_interval_min_sec), quick abort polling, and a private temp dir so pid files
    (instance slots, --stop) never meet other tests' agents."""
    tmpdir = os.path.join(str(tmp_path), "agent-tmp")
    os.makedirs(tmpdir, exist_ok=True)
    env = {
        "CLEARML_AGENT__AGENT__POLLING_INTERVAL_MIN_SEC": "0.2",
        "CLEARML_AGENT__AGENT__ABORT_POLL_INTERVAL_SEC": "0.3",
        "TMPDIR": tmpdir,
    }
    if extra:
        env.update(extra)
    return env


def create_queue(api, name):
    return api.call("queues.create", name=name)["id"]


def marker_script(marker, path=None, sleep=0.0, exit_code=0, pid_file=None):
    """A literal task script: prints `marker`, optionally appends it to `path`, records its pid,
    sleeps, exits with `exit_code`."""
    lines = ["import os, sys, time",
             f"print({marker!r}, flush=True)"]
    if path:
        lines.append(f"open({path!r}, 'a').write({marker!r} + '\\n')")
    if pid_file:
        lines.append(f"open({pid_file!r}, 'w').write(str(os.getpid()))")
    if sleep:
        lines.append(f"time.sleep({sleep})")
    lines.append(f"sys.exit({exit_code})")
    return "\n".join(lines) + "\n"


def run_agent(server, tmp_path, args, env=None, timeout=60, input_=None):
    """`clearml-agent --config-file <conf> <args...>` to completion; returns CompletedProcess."""
    argv = [binary("clearml-agent"), "--config-file", server.conf] + list(args)
    return subprocess.run(argv, env=agent_env(tmp_path, env), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, input=input_)


def workers(api):
    return api.call("workers.get_all", last_seen=0)["workers"]


def read_lines(path):
    try:
        with open(path) as f:
            return [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        return []


# ---- task supervisor helpers (engineer "slot") ----

def log_lines(api, task_id, level=None):
    """The task's log as lines (events in server order, msg split on newlines); optionally only
    events of one level ("DEBUG" = task output)."""
    out = []
    for e in api.task_log(task_id):
        if level and (e.get("level") or "").lower() != level.lower():
            continue
        out.extend(e.get("msg", "").splitlines())
    return out


def read_pids(path):
    """Integers, one per line, from a file the task wrote (missing file → [])."""
    out = []
    for l in read_lines(path):
        try:
            out.append(int(l))
        except ValueError:
            pass
    return out


def supervisor_env(tmp_path, extra=None):
    """fast_env for tests about supervising the task (logs, abort, status), not about building
    its environment: no virtualenv (CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL), a short kill grace."""
    env = {"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
           "CLEARML_AGENT__AGENT__KILL_GRACE_SEC": "2"}
    env.update(extra or {})
    return fast_env(tmp_path, env)


def daemon_env(tmp_path, extra=None):
    """fast_env for tests about the daemon and execute, not about building environments: tasks
    run on the agent's python, and worker ids do not depend on the host's GPU variables (GPU
    hosts set them)."""
    env = {"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
           "NVIDIA_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": ""}
    env.update(extra or {})
    return fast_env(tmp_path, env)


def fast_daemon(server, tmp_path, args, name="agent", env=None):
    """A daemon polling fast with daemon_env."""
    return AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL] + list(args),
                        env=daemon_env(tmp_path, env), name=name)
