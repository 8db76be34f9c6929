"""A deliberately small ClearML REST client for the tests' assertions.

It speaks the wire protocol directly (Basic login, Bearer calls, the envelope) so the tests check
what the server stores, independently of the C client under test.
"""
import base64
import json

import requests


class ApiError(Exception):
    def __init__(self, status, code, subcode, msg, body=None):
        super().__init__(f"{code}/{subcode}: {msg}")
        self.status = status
        self.code = code
        self.subcode = subcode
        self.msg = msg
        self.body = body


class ApiClient:
    def __init__(self, url, access_key=None, secret_key=None, version=None):
        self.url = url.rstrip("/")
        self.access_key = access_key
        self.secret_key = secret_key
        self.version = version
        self.http = requests.Session()
        self.token = None
        if access_key:
            self.login()

    def _path(self, endpoint, version):
        v = version if version is not None else self.version
        return f"{self.url}/v{v}/{endpoint}" if v else f"{self.url}/{endpoint}"

    def login(self):
        basic = base64.b64encode(f"{self.access_key}:{self.secret_key}".encode()).decode()
        r = self.http.get(f"{self.url}/auth.login", headers={"Authorization": f"Basic {basic}"},
                          timeout=30)
        body = r.json()
        if r.status_code != 200:
            m = body.get("meta", {})
            raise ApiError(r.status_code, m.get("result_code"), m.get("result_subcode"),
                           m.get("result_msg"), body)
        self.token = body["data"]["token"]
        return self.token

    def raw(self, endpoint, body=None, method="GET", headers=None, version=None, data=None,
            auth=True, timeout=30):
        """Returns (http status, parsed JSON or text)."""
        h = {"Content-Type": "application/json"}
        if auth and self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if headers:
            h.update(headers)
        payload = data if data is not None else (json.dumps(body) if body is not None else None)
        r = self.http.request(method, self._path(endpoint, version), data=payload, headers=h,
                              timeout=timeout)
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, r.text

    def call(self, endpoint, version=None, method="GET", **body):
        """Calls endpoint with body; returns `data` or raises ApiError."""
        status, resp = self.raw(endpoint, body, method=method, version=version)
        if not isinstance(resp, dict) or "meta" not in resp:
            raise ApiError(status, status, 0, f"not an envelope: {resp!r}"[:500], resp)
        m = resp["meta"]
        if m.get("result_code") != 200:
            raise ApiError(status, m.get("result_code"), m.get("result_subcode"),
                           m.get("result_msg"), resp)
        return resp.get("data")

    def batch(self, endpoint, lines, version=None):
        data = "\n".join(json.dumps(x) for x in lines)
        status, resp = self.raw(endpoint, data=data, method="POST", version=version,
                                headers={"Content-Type": "application/json-lines"})
        m = resp["meta"] if isinstance(resp, dict) else {}
        if m.get("result_code") != 200:
            raise ApiError(status, m.get("result_code"), m.get("result_subcode"),
                           m.get("result_msg"), resp)
        return resp["data"]

    # conveniences used across test files
    def task_log(self, task_id, batch_size=10000):
        """All log events of a task, oldest first (pages through events.get_task_log)."""
        out, seen, last = [], set(), None
        while True:
            body = {"task": task_id, "batch_size": batch_size, "navigate_earlier": False}
            if last is not None:
                body["from_timestamp"] = last
            ev = self.call("events.get_task_log", **body)["events"]
            new = [e for e in ev if json.dumps(e, sort_keys=True) not in seen]
            if not new:
                return out
            for e in new:
                seen.add(json.dumps(e, sort_keys=True))
            out.extend(new)
            last = ev[-1]["timestamp"]

    def task_log_text(self, task_id):
        return "".join(e.get("msg", "") for e in self.task_log(task_id))
