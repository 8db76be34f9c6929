"""server-lite's status history (our addition): every status change of a task is stored with the
change, in the same transaction, and read back through tasks.get_status_history {task} →
{history: [...]}, oldest first — created → queued → in_progress → completed/stopped with who did
it; it survives a restart, keeps the newest 200 changes, goes with the task, and needs
credentials like every call."""
import datetime
import os
import sqlite3

from clearml_api import ApiError
from conftest import ServerLite

WORKER = "hist-worker:0"


def _history(api, tid):
    return api.call("tasks.get_status_history", task=tid)["history"]


def _pairs(hist):
    return [(e["from_status"], e["to_status"]) for e in hist]


def _as_worker(api, endpoint, **body):
    """A call as an agent makes it: Bearer token plus the X-ClearML-Worker header."""
    status, resp = api.raw(endpoint, body, method="POST", headers={"X-ClearML-Worker": WORKER})
    assert status == 200, resp
    return resp["data"]


def _rows(data_dir, tid):
    db = sqlite3.connect(os.path.join(data_dir, "server-lite.db"))
    try:
        return db.execute("SELECT count(*) FROM task_status_history WHERE task = ?",
                          (tid,)).fetchone()[0]
    finally:
        db.close()


def test_full_history_restart_delete_and_auth(tmp_path):
    s = ServerLite(tmp_path / "data")
    try:
        api = s.api()
        assert api.call("server.info")["clearml_lite"]["status_history_max"] == 200
        me = api.call("users.get_current_user")["user"]["id"]
        qid = api.call("queues.create", name="hist-q")["id"]

        done = api.call("tasks.create", name="hist-done", type="training")["id"]
        api.call("tasks.enqueue", task=done, queue=qid, status_reason="because")
        got = _as_worker(api, "queues.get_next_task", queue=qid)
        assert got["entry"]["task"] == done
        _as_worker(api, "tasks.started", task=done)
        _as_worker(api, "tasks.completed", task=done, status_message="all good")
        hist = _history(api, done)
        assert _pairs(hist) == [(None, "created"), ("created", "queued"),
                                ("queued", "in_progress"), ("in_progress", "completed")]
        assert hist[1]["status_reason"] == "because"
        assert hist[3]["status_message"] == "all good"
        assert [e["user"] for e in hist] == [me] * 4
        assert [e["worker"] for e in hist] == ["", "", WORKER, WORKER]
        times = [datetime.datetime.fromisoformat(e["time"]) for e in hist]
        assert times == sorted(times)
        # the task's own fields are the real server's: the history is not in its document
        assert "history" not in api.call("tasks.get_by_id", task=done)["task"]

        stopped = api.call("tasks.create", name="hist-stopped", type="training")["id"]
        api.call("tasks.enqueue", task=stopped, queue=qid)
        _as_worker(api, "queues.get_next_task", queue=qid)
        _as_worker(api, "tasks.started", task=stopped)
        api.call("tasks.stop", task=stopped)                  # no live worker: stopped at once
        api.call("tasks.reset", task=stopped)
        hist = _history(api, stopped)
        assert _pairs(hist) == [(None, "created"), ("created", "queued"),
                                ("queued", "in_progress"), ("in_progress", "stopped"),
                                ("stopped", "created")]
        assert hist[3]["status_message"].startswith("Stopped by")
        assert hist[4]["status_reason"] == "reset"

        # a dequeue and a queue's removal (forced status restores) are changes too
        back = api.call("tasks.create", name="hist-back", type="training")["id"]
        api.call("tasks.enqueue", task=back, queue=qid)
        api.call("queues.remove_task", queue=qid, task=back, update_task_status=True)
        assert _pairs(_history(api, back))[-2:] == [("created", "queued"), ("queued", "created")]

        # the newest 200 changes are kept
        many = api.call("tasks.create", name="hist-many", type="training")["id"]
        for _ in range(105):
            api.call("tasks.enqueue", task=many, queue=qid)
            api.call("tasks.dequeue", task=many)
        hist = _history(api, many)
        assert len(hist) == 200
        assert _pairs(hist)[-2:] == [("created", "queued"), ("queued", "created")]
        assert hist[0]["from_status"] is not None              # the oldest ones went

        # a restart keeps everything
        before = {t: _history(api, t) for t in (done, stopped, back, many)}
        s.restart()
        api = s.api()
        assert {t: _history(api, t) for t in before} == before

        # credentials are needed, and the input is bounded
        status, resp = api.raw("tasks.get_status_history", {"task": done}, method="POST", auth=False)
        assert status == 401 and resp["meta"]["result_code"] == 401
        status, resp = api.raw("tasks.get_status_history", {"task": done}, method="POST",
                               auth=False, headers={"Authorization": "Bearer not-a-token"})
        assert status == 401
        for bad, sub in (({}, 12), ({"task": 5}, 12), ({"task": "x" * 65}, 12),
                         ({"task": "0" * 32}, 101)):
            try:
                api.call("tasks.get_status_history", **bad)
                raise AssertionError(f"accepted {bad}")
            except ApiError as e:
                assert (e.code, e.subcode) == (400, sub), (bad, e)

        # deleting a task deletes its history
        assert _rows(s.data_dir, done) == 4
        api.call("tasks.delete", task=done, force=True)
        assert _rows(s.data_dir, done) == 0
        try:
            _history(api, done)
            raise AssertionError("history of a deleted task")
        except ApiError as e:
            assert (e.code, e.subcode) == (400, 101)
        assert _rows(s.data_dir, stopped) == 5                # the others keep theirs
    finally:
        s.stop()


def test_clone_and_edit_history(tmp_path):
    """A clone starts a history of its own; tasks.edit's status field is a change too."""
    s = ServerLite(tmp_path / "data")
    try:
        api = s.api()
        src = api.call("tasks.create", name="hist-src", type="training")["id"]
        api.call("tasks.enqueue", task=src)
        clone = api.call("tasks.clone", task=src)["id"]
        assert _pairs(_history(api, clone)) == [(None, "created")]
        assert _pairs(_history(api, src)) == [(None, "created"), ("created", "queued")]
        api.call("tasks.edit", task=clone, status="stopped", force=True)
        assert _pairs(_history(api, clone)) == [(None, "created"), ("created", "stopped")]
    finally:
        s.stop()
