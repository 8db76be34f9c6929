"""The web app in a real browser (headless chromium through selenium) against a real
server-lite and a real `clearml-agent daemon`: sign-in with a credential pair and the session
cookie; the agent on the Workers & Queues page with a machine-statistics chart that has points;
a draft enqueued from its page going queued → running → completed with its log arriving live
and the server's status history on its page;
a running task aborted from the page; clone → edit a parameter → enqueue, and the new value
reaching the task. Screenshots of each page land in build/test-artifacts/web/."""
import os
import time

import pytest
import requests

from agent_helper import AgentProcess, create_script_task, log_lines, supervisor_env, task, wait_status
from conftest import ServerLite, wait_for

web_helper = pytest.importorskip("web_helper", reason="python3-selenium is not installed")

QUEUE = "webq"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    server = ServerLite(tmp / "server-data")
    api = server.api()
    qid = api.call("queues.create", name=QUEUE)["id"]
    # agent.enable_task_env: the task's Environment hyper-parameters become its variables,
    # which is how the clone's edited parameter reaches the task without the SDK.
    agent = AgentProcess(server, tmp, ["--polling-interval", "2", "--queue", QUEUE],
                         env=supervisor_env(tmp, {"CLEARML_AGENT__AGENT__ENABLE_TASK_ENV": "1"}),
                         name="web-agent")
    browser = web_helper.Browser(server.url)
    try:
        browser.sign_in(server.access_key, server.secret_key)
        yield dict(server=server, api=api, qid=qid, agent=agent, b=browser)
    finally:
        browser.close()
        agent.stop()
        server.stop()


def test_sign_in_cookie_and_headers(tmp_path):
    server = ServerLite(tmp_path / "server-data")
    b = web_helper.Browser(server.url)
    try:
        b.go("/ui/")
        b.one("#access_key").send_keys(server.access_key)
        b.one("#secret_key").send_keys("wrong-secret")
        b.shot("01-sign-in")
        b.click("#signin")
        b.wait(lambda: "Invalid credentials" in b.text("form.login"), 10, "the refusal")
        assert not b.css("#signout")
        b.one("#secret_key").clear()
        b.one("#secret_key").send_keys(server.secret_key)
        b.click("#signin")
        b.wait(lambda: b.css("#signout"), 10, "signed in")
        cookie = b.d.get_cookie("clearml_web_session")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["secure"]
        assert b.d.execute_script("return document.cookie").find("clearml_web_session") < 0
        # the session survives a reload, and signing out ends it (the token is revoked)
        b.go("/ui/experiments")
        b.one("#tasks-table table")
        token = cookie["value"]
        b.click("#signout")
        b.one("#access_key")
        r = requests.post(f"{server.url}/queues.get_all", json={}, timeout=10,
                          headers={"X-ClearML-Web": "1"}, cookies={"clearml_web_session": token})
        assert r.json()["meta"]["result_code"] == 401
    finally:
        b.close()
        server.stop()
    # the static files: strict CSP, caching, SPA fallback, nothing outside the web folder
    server = ServerLite(tmp_path / "server-data")
    try:
        r = requests.get(f"{server.url}/ui/projects/p/experiments/abc/output/log", timeout=10)
        assert r.status_code == 200 and "<script type=\"module\"" in r.text
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["Cache-Control"] == "no-cache" and r.headers["X-Content-Type-Options"] == "nosniff"
        r2 = requests.get(f"{server.url}/ui/js/main.js", timeout=10,
                          headers={"If-None-Match": requests.get(f"{server.url}/ui/js/main.js").headers["ETag"]})
        assert r2.status_code == 304
        v = requests.get(f"{server.url}/ui/vendor/dygraph.min.js", timeout=10)
        assert v.status_code == 200 and "max-age" in v.headers["Cache-Control"]
        for bad in ("/ui/js/../../etc/passwd", "/ui/.hidden.js", "/ui/js/%2e%2e/x.js", "/ui/x.exe"):
            assert requests.get(f"{server.url}{bad}", timeout=10).status_code in (400, 404), bad
        # a browser asking for / is sent to the app; an API client still gets the envelope
        r = requests.get(f"{server.url}/", headers={"Accept": "text/html"}, allow_redirects=False)
        assert r.status_code == 302 and r.headers["Location"] == "/ui/"
        # the cookie alone (without the app's header) authorises nothing
        creds = {"access_key": server.access_key, "secret_key": server.secret_key}
        assert requests.post(f"{server.url}/ui/session", json=creds).status_code == 403
        r = requests.post(f"{server.url}/ui/session", json=creds, headers={"X-ClearML-Web": "1"})
        assert r.ok and "HttpOnly" in r.headers["Set-Cookie"]
        jar = {"clearml_web_session": r.cookies["clearml_web_session"]}
        assert requests.post(f"{server.url}/queues.get_all", json={},
                             cookies=jar).json()["meta"]["result_code"] == 401
        assert requests.post(f"{server.url}/queues.get_all", json={}, cookies=jar,
                             headers={"X-ClearML-Web": "1"}).json()["meta"]["result_code"] == 200
        bad = requests.post(f"{server.url}/ui/session", headers={"X-ClearML-Web": "1"},
                            json={"access_key": server.access_key, "secret_key": "nope"})
        assert bad.status_code == 401 and "Set-Cookie" not in bad.headers
        assert 'web_server: "%s/ui"' % server.url in open(server.conf).read()
    finally:
        server.stop()


def test_workers_page_shows_agent_with_chart(env):
    b, api = env["b"], env["api"]
    wait_for(lambda: api.call("workers.get_all")["workers"], timeout=30, what="the agent to register")
    worker = api.call("workers.get_all")["workers"][0]["id"]
    wait_for(lambda: _has_stats(api, worker), timeout=30, what="the agent's first machine statistics")
    b.go("/ui/workers")
    row = b.one(f'tr[data-worker="{worker}"]')
    assert QUEUE in row.text
    b.wait(lambda: int(b.attr('#worker-stats [data-chart="CPU usage"]', "data-points") or 0) > 0,
           20, "a CPU chart with points")
    b.wait(lambda: b.css('#worker-stats [data-chart="Memory"] canvas'), 10, "the memory chart drawn")
    assert int(b.attr('#worker-stats [data-chart="Memory"]', "data-points")) > 0
    b.one(f'#queues tr[data-queue="{QUEUE}"]')
    time.sleep(0.5)
    b.shot("02-workers-queues")
    assert not b.errors()


def _has_stats(api, worker):
    now = time.time()
    res = api.call("workers.get_stats", worker_ids=[worker], from_date=now - 3600, to_date=now + 60,
                   interval=40, items=[{"key": "cpu_usage"}])
    return res["workers"]


LIVE = """\
import time
for i in range(1, 9):
    print('web-line-%d' % i, flush=True)
    time.sleep(0.7)
"""


def _statuses_seen(b, seen, until):
    end = time.time() + 120
    while time.time() < end:
        s = b.attr("#task-header [data-status]", "data-status")
        if s and (not seen or seen[-1] != s):
            seen.append(s)
        if s in until:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"statuses seen {seen}")


def test_enqueue_draft_watch_it_run_with_live_log(env):
    b, api = env["b"], env["api"]
    tid = create_script_task(api, LIVE, name="web live log")
    b.go(f"/ui/tasks/{tid}/console")
    b.one("#console-log")
    assert b.text("#task-header [data-status]") == "created"
    b.one("#enqueue-queue").send_keys(QUEUE)
    b.click("#btn-enqueue")
    seen = ["created"]
    _statuses_seen(b, seen, {"in_progress"})
    # the log arrives while the task still runs
    b.wait(lambda: "web-line-2" in b.text("#console-log"), 60, "log lines while running")
    assert task(api, tid)["status"] == "in_progress"
    b.shot("03-task-console-live")
    _statuses_seen(b, seen, {"completed", "failed", "stopped"})
    # an idle agent long-polls, so it may claim the task before the page's next refresh shows
    # "queued"; the order is checked here and "queued" itself in the status history below
    assert seen[0] == "created" and "in_progress" in seen and seen[-1] == "completed", seen
    assert seen.index("in_progress") > seen.index("queued") if "queued" in seen else True, seen
    b.wait(lambda: "web-line-8" in b.text("#console-log"), 20, "the whole log")
    # the server's status history shows every change, "queued" included, even though the
    # agent claimed the task before the page could see it queued
    b.click("#tab-info")
    b.wait(lambda: history_shown(b) == ["created", "queued", "in_progress", "completed"], 20,
           "the status history created → queued → in_progress → completed")
    # "by" names the caller's X-ClearML-Worker header: the agent sends its host name, as upstream
    worker = api.call("workers.get_all")["workers"][0]["id"]
    assert worker.split(":")[0] in b.text("#status-history tr[data-to=in_progress]")
    b.shot("04-task-info")
    b.click("#tab-execution")
    b.wait(lambda: "web-line" in b.text("#task-diff"), 10, "the script in the execution tab")
    b.shot("05-task-execution")
    b.go("/ui/experiments")
    b.wait(lambda: b.attr(f'#tasks-table tr[data-task="{tid}"]', "data-task"), 10, "the task in the table")
    b.shot("06-experiments")
    assert not b.errors()


def history_shown(b):
    """The to-statuses of the task page's status history rows, in page order, repeats folded
    (a new status message on the same status, e.g. the agent's "launch", is a row of its own)."""
    rows = b.d.execute_script("return [...document.querySelectorAll('#status-history tr[data-to]')]"
                              ".map((e) => e.dataset.to)")
    return [s for i, s in enumerate(rows) if i == 0 or rows[i - 1] != s]


def test_abort_running_task_from_page(env):
    b, api = env["b"], env["api"]
    script = "import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.2)\n"
    tid = create_script_task(api, script, name="web abort")
    api.call("tasks.enqueue", task=tid, queue=env["qid"])
    wait_for(lambda: "ready" in log_lines(api, tid), timeout=60, what="the task to run")
    b.go(f"/ui/tasks/{tid}")
    b.wait(lambda: b.text("#task-header [data-status]") == "in_progress", 10, "running shown")
    b.click("#btn-abort")
    b.one("dialog [data-role=ok]")
    b.shot("07-abort-confirm")
    b.click("dialog [data-role=ok]")
    b.wait(lambda: b.text("#task-header [data-status]") == "stopped", 60, "stopped shown")
    assert task(api, tid)["status"] == "stopped"


PARAM = """\
import os
print('param=%s' % os.environ.get('WEB_PARAM'), flush=True)
"""


def test_clone_edit_parameter_enqueue(env):
    b, api = env["b"], env["api"]
    src = create_script_task(api, PARAM, name="web param source", extra={
        "hyperparams": {"Environment": {"WEB_PARAM": {"section": "Environment", "name": "WEB_PARAM",
                                                      "value": "old-value", "type": "str"}}}})
    b.go(f"/ui/tasks/{src}")
    b.click("#btn-clone")
    inp = b.one("dialog input")
    inp.clear()
    inp.send_keys("web param clone")
    b.click("dialog [data-role=ok]")
    b.wait(lambda: "web param clone" in b.text("#task-header h1"), 20, "the clone's page")
    clone = b.d.current_url.rstrip("/").split("/")[-2]
    assert clone != src and task(api, clone)["name"] == "web param clone"
    b.click("#btn-edit-hp")
    field = b.one('input[data-param="Environment/WEB_PARAM"]')
    field.clear()
    field.send_keys("new-value-42")
    b.shot("08-edit-hyperparams")
    b.click("#btn-save-hp")
    b.wait(lambda: "new-value-42" in b.text("#hyperparams") and not b.css("#btn-save-hp"), 20, "saved")
    hp = task(api, clone)["hyperparams"]["Environment"]["WEB_PARAM"]
    assert hp["value"] == "new-value-42"
    b.one("#enqueue-queue").send_keys(QUEUE)
    b.click("#btn-enqueue")
    wait_status(api, clone, timeout=90)
    assert task(api, clone)["status"] == "completed"
    assert "param=new-value-42" in log_lines(api, clone)
    assert task(api, src)["hyperparams"]["Environment"]["WEB_PARAM"]["value"] == "old-value"
    b.click("#tab-configuration")
    b.shot("09-task-configuration")
    # queue page: a queued task can be moved and removed (the agent does not serve this queue)
    q2 = api.call("queues.create", name="web-idle-q")["id"]
    ids = [create_script_task(api, "print(1)\n", name=f"queued {i}") for i in range(3)]
    for t in ids:
        api.call("tasks.enqueue", task=t, queue=q2)
    b.go("/ui/workers")
    b.click('#queues tr[data-queue="web-idle-q"] button')
    b.wait(lambda: b.d.execute_script("return document.querySelectorAll('#queue-tasks tr[data-task]').length") == 3,
           20, "three queued tasks")
    b.click(f'#queue-tasks tr[data-task="{ids[2]}"] button[title="Move to front"]')
    b.wait(lambda: b.attr("#queue-tasks tr[data-task]", "data-task") == ids[2], 20, "moved to the front")
    b.click(f'#queue-tasks tr[data-task="{ids[0]}"] button[title="Remove from queue"]')
    b.click("dialog [data-role=ok]")
    b.wait(lambda: b.d.execute_script("return document.querySelectorAll('#queue-tasks tr[data-task]').length") == 2,
           20, "removed")
    assert api.call("queues.get_by_id", queue=q2)["queue"]["entries"][0]["task"] == ids[2]
    assert task(api, ids[0])["status"] == "created"
    b.shot("10-queue")
    assert not b.errors()
