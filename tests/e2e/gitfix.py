"""Git fixtures for the end-to-end tests: local bare repositories reached by path or file://, and
smart HTTP with optional Basic auth served by `git http-backend` behind a tiny stdlib CGI server
on 127.0.0.1 (see spec/python-offline.md §5).

    repo = GitRepo(tmp_path, "proj")            # bare remote + a work clone
    sha = repo.commit({"train.py": "print(1)"}, "first")
    repo.tag("v1"); repo.branch("feature"); repo.push()
    with SmartHttp(repo.remote_root, "alice:s3cret") as http:
        url = http.url("proj.git")

Run as a script (`python3 gitfix.py serve ROOT [USER:PASS]`) it is the HTTP server itself: the
first stdout line is the port.
"""
import base64
import http.server
import os
import subprocess
import sys

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}

# submodules over file:// need this since git 2.38 (given by environment, never by global config)
FILE_PROTOCOL_ENV = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow",
                     "GIT_CONFIG_VALUE_0": "always"}


def git(*args, cwd=None, env=None, check=True):
    e = dict(os.environ)
    e.update(GIT_ENV)
    e.update(FILE_PROTOCOL_ENV)
    if env:
        e.update(env)
    r = subprocess.run(["git", *args], cwd=cwd, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {r.stdout}")
    return r.stdout.strip()


class GitRepo:
    """A bare repository `<root>/remote/<name>.git` and a work clone to make commits in."""

    def __init__(self, root, name="proj", branch="main"):
        self.root = str(root)
        self.name = name
        self.remote_root = os.path.join(self.root, "remote")
        self.bare = os.path.join(self.remote_root, f"{name}.git")
        self.work = os.path.join(self.root, "work", name)
        os.makedirs(self.remote_root, exist_ok=True)
        git("init", "-q", "--bare", "-b", branch, self.bare)
        git("config", "http.receivepack", "true", cwd=self.bare)
        os.makedirs(os.path.dirname(self.work), exist_ok=True)
        git("init", "-q", "-b", branch, self.work)
        git("remote", "add", "origin", self.bare, cwd=self.work)
        self.default_branch = branch

    @property
    def file_url(self):
        return "file://" + self.bare

    def write(self, files):
        for rel, text in files.items():
            p = os.path.join(self.work, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)

    def commit(self, files, msg="change"):
        self.write(files)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", msg, cwd=self.work)
        return self.head()

    def head(self):
        return git("rev-parse", "HEAD", cwd=self.work)

    def tag(self, name):
        git("tag", name, cwd=self.work)

    def branch(self, name, checkout=True):
        git("checkout", "-q", "-b", name, cwd=self.work)

    def checkout(self, name):
        git("checkout", "-q", name, cwd=self.work)

    def add_submodule(self, url, path):
        git("submodule", "add", "-q", url, path, cwd=self.work)
        git("commit", "-q", "-m", f"submodule {path}", cwd=self.work)
        return self.head()

    def push(self):
        git("push", "-q", "--all", "origin", cwd=self.work)
        git("push", "-q", "--tags", "origin", cwd=self.work)

    def diff(self, files):
        """An uncommitted diff of files (as `git diff` shows it), the work tree left clean."""
        self.write(files)
        d = git("diff", cwd=self.work)
        git("checkout", "-q", "--", ".", cwd=self.work)
        return d + "\n"


class SmartHttp:
    """`git http-backend` on 127.0.0.1 behind this file's CGI server. url(name) → clone URL."""

    def __init__(self, project_root, auth=None):
        self.project_root = str(project_root)
        self.auth = auth
        self.proc = None
        self.port = None

    def __enter__(self):
        args = [sys.executable, os.path.abspath(__file__), "serve", self.project_root]
        if self.auth:
            args.append(self.auth)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"smart http server did not start: {line!r}")
        self.port = int(line)
        return self

    def url(self, repo, userinfo=None):
        cred = f"{userinfo}@" if userinfo else ""
        return f"http://{cred}127.0.0.1:{self.port}/git/{repo}"

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


def _serve(root, auth=None):
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    os.environ["GIT_PROJECT_ROOT"] = root
    os.environ["GIT_HTTP_EXPORT_ALL"] = "1"
    http.server.nobody_uid = os.getuid  # CGIHTTPRequestHandler would setuid(nobody) as root
    backend = os.path.join(subprocess.check_output(["git", "--exec-path"], text=True).strip(),
                           "git-http-backend")
    expected = "Basic " + base64.b64encode(auth.encode()).decode() if auth else None

    class Handler(http.server.CGIHTTPRequestHandler):
        cgi_directories = ["/git"]

        def is_cgi(self):  # /git/<repo>/... → backend with PATH_INFO=/<repo>/...
            if self.path.startswith("/git/"):
                self.cgi_info = ("/git", "git-http-backend" + self.path[4:])
                return True
            return False

        def translate_path(self, path):
            if path.startswith("/git/git-http-backend"):
                return backend
            return super().translate_path(path)

        def do_GET(self):
            if self._authorized():
                super().do_GET()

        def do_POST(self):
            if self._authorized():
                super().do_POST()

        def _authorized(self):
            if expected is None or self.headers.get("Authorization") == expected:
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        _serve(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        sys.exit("usage: gitfix.py serve ROOT [USER:PASS]")
