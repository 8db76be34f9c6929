"""The web app in Firefox: Debian's firefox-esr driven over WebDriver BiDi by puppeteer-core
(tests/e2e/firefox/flow.mjs; there is no geckodriver in Debian and no browser download here),
against a real server-lite and a real `clearml-agent daemon`. Sign in; the agent on the Workers &
Queues page with a CPU chart that has points; a task's live console and the server's status
history created → queued → in_progress → completed; a running task aborted from its page.
Screenshots land in build/test-artifacts/web/firefox-*.png."""
import os
import shutil
import subprocess

import pytest

from agent_helper import AgentProcess, create_script_task, log_lines, supervisor_env, task
from conftest import ServerLite, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "firefox")
BUILD = os.environ.get("CLEARML_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
SHOTS = os.path.join(BUILD, "test-artifacts", "web")
FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")

MISSING = (not FIREFOX or not shutil.which("node") or
           not os.path.isdir(os.path.join(DRIVER, "node_modules", "puppeteer-core")))
WHY = "firefox-esr, node or tests/e2e/firefox/node_modules missing (scripts/install-deps.sh)"
# a developer's machine may lack them; in CI, where install-deps ran, their absence is a failure
if MISSING and os.environ.get("CI"):
    raise RuntimeError(WHY)
pytestmark = pytest.mark.skipif(MISSING, reason=WHY)

LIVE = """\
import time
for i in range(1, 9):
    print('ff-line-%d' % i, flush=True)
    time.sleep(0.7)
"""
FOREVER = "import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.2)\n"


def test_firefox_sign_in_workers_console_history_abort(tmp_path):
    os.makedirs(SHOTS, exist_ok=True)
    server = ServerLite(tmp_path / "server-data")
    api = server.api()
    qid = api.call("queues.create", name="ffq")["id"]
    # two slots: the abort task runs while the logged task is still shown
    agent = AgentProcess(server, tmp_path, ["--polling-interval", "2", "--queue", "ffq",
                                            "--services-mode", "2"],
                         env=supervisor_env(tmp_path), name="ff-agent")
    try:
        wait_for(lambda: api.call("workers.get_all")["workers"], timeout=30, what="the agent")
        worker = api.call("workers.get_all")["workers"][0]["id"]
        run = create_script_task(api, LIVE, name="firefox live log")
        api.call("tasks.enqueue", task=run, queue=qid)
        stop = create_script_task(api, FOREVER, name="firefox abort")
        api.call("tasks.enqueue", task=stop, queue=qid)
        wait_for(lambda: "ready" in log_lines(api, stop), timeout=90, what="the abort task to run")
        env = dict(os.environ, BASE=server.url, KEY=server.access_key, SECRET=server.secret_key,
                   WORKER=worker, RUN_TASK=run, ABORT_TASK=stop, SHOTS=SHOTS, FIREFOX=FIREFOX,
                   HOME=str(tmp_path), MOZ_CRASHREPORTER_DISABLE="1")
        p = subprocess.run(["node", os.path.join(DRIVER, "flow.mjs")], cwd=DRIVER, env=env,
                           capture_output=True, text=True, timeout=300)
        steps = [ln[3:] for ln in p.stdout.splitlines() if ln.startswith("ok ")]
        assert p.returncode == 0, (steps, p.stderr[-4000:], agent.output()[-2000:])
        assert steps == ["sign-in", "workers-chart", "console-and-history", "abort", "no-errors"]
        assert task(api, run)["status"] == "completed"
        assert task(api, stop)["status"] == "stopped"
        for name in ("01-signed-in", "02-workers-queues", "03-task-console", "04-task-info",
                     "05-abort-confirm", "06-aborted"):
            assert os.path.getsize(os.path.join(SHOTS, f"firefox-{name}.png")) > 1000, name
    finally:
        agent.stop()
        server.stop()
