"""Issue 9, secrets: an extra index URL with user:password never appears on any process's argv
(sampled from /proc/*/cmdline during the whole run: venv, pip, the task), and known secrets
(API secret, git password, index password, *_TOKEN values) are masked in the task's log on the
server, also when the task writes one in two pieces with a pause between them."""
import os
import threading
import types

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          fast_env, log_lines, wait_status)
from pkgindex import pkg_index  # noqa: F401  (pytest fixture)

INDEX_PW = "IdxS3cretPw"
GIT_PW = "GitS3cretPw"
TOKEN = "tok-E2eDeployValue"


class CmdlineSampler(threading.Thread):
    def __init__(self, needles):
        super().__init__(daemon=True)
        self.needles = [n.encode() for n in needles]
        self.seen = []
        self.samples = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read()
                except OSError:
                    continue
                for n in self.needles:
                    if n in cmd:
                        self.seen.append(cmd.replace(b"\0", b" ").decode(errors="replace"))
            self.samples += 1
            self.halt.wait(0.01)


def test_no_secret_on_argv_or_in_the_log(server, api, tmp_path, pkg_index):
    conf = tmp_path / "agent.conf"
    idx = pkg_index.url.replace("http://", f"http://idxuser:{INDEX_PW}@")
    conf.write_text(open(server.conf).read() +
                    "\nagent.package_manager.type: pip\n"
                    f"agent.package_manager.extra_index_url: [\"{idx}\"]\n"
                    f"agent.git_pass: \"{GIT_PW}\"\n"
                    f"agent.venvs_dir: \"{tmp_path / 'venvs'}\"\n"
                    "agent.venvs_cache.path: \"\"\n")
    sk = server.secret_key
    script = ("import os, sys, time\n"
              "import tinyalpha\n"
              f"print('api secret:', {sk!r})\n"
              f"print('git:', {GIT_PW!r}, 'index:', {INDEX_PW!r})\n"
              "print('token:', os.environ['E2E_DEPLOY_TOKEN'])\n"
              f"sys.stdout.write('split: ' + {TOKEN[:6]!r}); sys.stdout.flush()\n"
              "time.sleep(1.6)\n"  # longer than the 1 s partial-line hold
              f"sys.stdout.write({TOKEN[6:]!r} + ' end\\n'); sys.stdout.flush()\n")
    q = create_queue(api, "secrets")
    t = create_script_task(api, script, name="secrets", requirements={"pip": "tinyalpha\n"})
    enqueue(api, t, queue=q)
    env = {k: v for k, v in pkg_index.env(cache_dir=tmp_path / "toolcache").items()
           if k.startswith(("PIP_", "UV_", "PYTHON_KEYRING"))}
    env["E2E_DEPLOY_TOKEN"] = TOKEN
    sampler = CmdlineSampler([INDEX_PW, GIT_PW, TOKEN, sk])
    sampler.start()
    a = AgentProcess(types.SimpleNamespace(conf=str(conf)), tmp_path,
                     ["--polling-interval", FAST_POLL, "--queue", "secrets"],
                     env=fast_env(tmp_path, env))
    try:
        final = wait_status(api, t, timeout=240)
    finally:
        sampler.halt.set()
        sampler.join()
        a.stop()
    assert final["status"] == "completed", a.output()[-4000:]
    assert sampler.samples > 20
    assert sampler.seen == [], sampler.seen
    text = "\n".join(log_lines(api, t))
    for secret in (INDEX_PW, GIT_PW, TOKEN, sk, TOKEN[6:]):
        assert secret not in text, secret
    assert "api secret: " + "*" * len(sk) in text
    assert "token: " + "*" * len(TOKEN) in text
    assert "split: " in text and "*" * len(TOKEN) + " end" in text.replace("\n", "")
    assert "index: " + "*" * len(INDEX_PW) in text
    assert any(" install" in l and "tinyalpha" in l for l in text.splitlines()), text[:3000]
