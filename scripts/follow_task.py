#!/usr/bin/env python3
"""Follow a task on a ClearML server until it ends: print its log lines as they arrive, then its
final status. Standard library only. Usage: follow_task.py CONFIG_FILE TASK_ID [TIMEOUT_SEC]

Exit status: 0 when the task completed, 1 otherwise (failed, stopped, or timed out)."""
import base64
import json
import re
import sys
import time
import urllib.request

FINAL = {"completed", "failed", "stopped", "closed", "published"}


def conf_value(text, key):
    m = re.search(key + r'\s*[:=]\s*"?([^"\s,}]+)"?', text)
    return m.group(1) if m else None


def main():
    conf, task_id = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 300
    text = open(conf).read()
    host = conf_value(text, "api_server").rstrip("/")
    key, secret = conf_value(text, "access_key"), conf_value(text, "secret_key")

    def call(endpoint, body, token=None, basic=None):
        req = urllib.request.Request(f"{host}/{endpoint}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        if basic:
            req.add_header("Authorization", "Basic " + base64.b64encode(basic.encode()).decode())
        else:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["data"]

    token = call("auth.login", {}, basic=f"{key}:{secret}")["token"]
    last_ts, printed, deadline = None, set(), time.time() + timeout
    status = None
    while time.time() < deadline:
        status = call("tasks.get_by_id", {"task": task_id}, token)["task"]["status"]
        while True:
            body = {"task": task_id, "batch_size": 1000, "navigate_earlier": False}
            if last_ts is not None:
                body["from_timestamp"] = last_ts
            events = call("events.get_task_log", body, token)["events"]
            new = [e for e in events if (e["timestamp"], e.get("msg")) not in printed]
            for e in new:
                printed.add((e["timestamp"], e.get("msg")))
                sys.stdout.write(e.get("msg", ""))
            sys.stdout.flush()
            if not new:
                break
            last_ts = events[-1]["timestamp"]
        if status in FINAL:
            break
        time.sleep(0.5)
    print(f"\n==> task {task_id} final status: {status}")
    return 0 if status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
