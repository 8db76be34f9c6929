"""A local PEP 503 package index on 127.0.0.1 for the environment tests (no internet here).

Wheels are built with the standard library only (the mkwheel approach of
spec/python-offline.md): byte-reproducible, about a millisecond each. The index also carries the
pip / setuptools / wheel wheels that ship with the installed interpreters (ensurepip's _bundled
folders and Debian's /usr/share/python-wheels), so the agent's pip_version pins (e.g. pip<22.3 on
Python 3.10-3.11) resolve offline.

Fixture packages:
  tinyalpha 1.0, 2.0           no dependencies
  tinybeta 1.0                 tinyalpha>=1
  tinygamma 0.1                tinybeta, tinyalpha<2; console script `tinygamma`
  tinydelta 1.0, tinyeps 1.0   no dependencies (priority / post package tests)

Use:  from pkgindex import pkg_index   (session fixture) and pkg_index.env() for the child
environment of any agent that installs packages.
"""
import base64
import glob
import hashlib
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile

import pytest

PACKAGES = [
    ("tinyalpha", "1.0", [], None),
    ("tinyalpha", "2.0", [], None),
    ("tinybeta", "1.0", ["tinyalpha>=1"], None),
    ("tinygamma", "0.1", ["tinybeta", "tinyalpha<2"], "tinygamma = tinygamma:main"),
    ("tinydelta", "1.0", [], None),
    ("tinyeps", "1.0", [], None),
]


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_line(name, data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={h},{len(data)}"


def make_wheel(out, name, version, requires=(), console_script=None, data_files=None, body=None):
    """A pure-Python py3-none-any wheel. data_files: {relative path in the package: bytes}."""
    mod = name.replace("-", "_")
    di = f"{mod}-{version}.dist-info"
    init = body if body is not None else f'__version__ = "{version}"\n'
    if console_script and body is None:
        init += ("def main():\n"
                 "    import tinyalpha\n"
                 f"    print('{name} ok', tinyalpha.__version__)\n")
    files = {f"{mod}/__init__.py": init.encode()}
    for rel, data in (data_files or {}).items():
        files[f"{mod}/{rel}"] = data
    files[f"{di}/METADATA"] = ("Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                               + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode()
    files[f"{di}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: pkgindex\nRoot-Is-Purelib: true\n"
                            b"Tag: py3-none-any\n")
    if console_script:
        files[f"{di}/entry_points.txt"] = f"[console_scripts]\n{console_script}\n".encode()
    record = [_record_line(n, d) for n, d in files.items()] + [f"{di}/RECORD,,"]
    files[f"{di}/RECORD"] = ("\n".join(record) + "\n").encode()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{mod}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED if data_files else zipfile.ZIP_DEFLATED) as z:
        for n, d in files.items():
            zi = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, d)
    return path


def bundled_tool_wheels():
    """pip/setuptools/wheel wheels already on this machine (pyenv ensurepip, Debian)."""
    roots = [os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")]
    pats = [os.path.join(r, "versions", "*", "lib", "python*", "ensurepip", "_bundled", "*.whl")
            for r in roots]
    pats.append("/usr/share/python-wheels/*.whl")
    seen = {}
    for pat in pats:
        for p in sorted(glob.glob(pat)):
            b = os.path.basename(p)
            # Debian's setuptools wheel breaks under pyenv pythons (python-offline.md)
            if p.startswith("/usr/share/") and b.startswith("setuptools"):
                continue
            if b.split("-")[0].lower() in ("pip", "setuptools", "wheel") and b not in seen:
                seen[b] = p
    return list(seen.values())


def build_index(dist, root):
    """PEP 503 layout: root/simple/<name>/{index.html, files}."""
    simple = os.path.join(root, "simple")
    projects = {}
    for fn in sorted(os.listdir(dist)):
        if fn.endswith(".whl"):
            projects.setdefault(normalize(fn.split("-")[0]), []).append(fn)
    os.makedirs(simple, exist_ok=True)
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write("<!DOCTYPE html>\n<html><body>\n")
        for p in sorted(projects):
            f.write(f'<a href="{p}/">{p}</a>\n')
        f.write("</body></html>\n")
    for p, files in projects.items():
        d = os.path.join(simple, p)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "index.html"), "w") as f:
            f.write(f"<!DOCTYPE html>\n<html><body><h1>Links for {p}</h1>\n")
            for fn in files:
                src = os.path.join(dist, fn)
                dst = os.path.join(d, fn)
                if not os.path.exists(dst):
                    try:
                        os.link(src, dst)
                    except OSError:
                        shutil.copy2(src, dst)
                h = hashlib.sha256(open(src, "rb").read()).hexdigest()
                f.write(f'<a href="{html.escape(fn)}#sha256={h}">{html.escape(fn)}</a><br/>\n')
            f.write("</body></html>\n")


class PackageIndex:
    """Builds the wheels and serves them with `python3 -m http.server` on 127.0.0.1."""

    def __init__(self, base):
        self.base = str(base)
        self.dist = os.path.join(self.base, "dist")
        self.root = os.path.join(self.base, "index")
        os.makedirs(self.dist, exist_ok=True)
        for name, ver, reqs, script in PACKAGES:
            make_wheel(self.dist, name, ver, reqs, script)
        for w in bundled_tool_wheels():
            shutil.copy2(w, self.dist)
        build_index(self.dist, self.root)
        self.log_path = os.path.join(self.base, "http.log")
        self.log = open(self.log_path, "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0",
             "--directory", self.root],
            stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
        line = self.proc.stdout.readline().decode()
        m = re.search(r"port (\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"package index did not start: {line!r}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}/simple"

    def add_wheel(self, *args, **kw):
        """Build one more wheel into the index (served at once: http.server reads the disk)."""
        path = make_wheel(self.dist, *args, **kw)
        build_index(self.dist, self.root)
        return path

    def env(self, base_env=None, cache_dir=None):
        """Child environment: the local index only, no pip config, no retries (DESIGN.md §6)."""
        env = dict(os.environ if base_env is None else base_env)
        for k in ("PIP_FIND_LINKS", "PIP_CERT", "PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL",
                  "PIP_NO_INDEX", "VIRTUAL_ENV", "PYTHONPATH"):
            env.pop(k, None)
        env.update({
            "PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INPUT": "1", "PIP_RETRIES": "0",
            "PIP_DEFAULT_TIMEOUT": "5", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_INDEX_URL": self.url, "UV_INDEX_URL": self.url, "UV_DEFAULT_INDEX": self.url,
            "UV_PYTHON_DOWNLOADS": "never", "UV_HTTP_TIMEOUT": "5",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "POETRY_NO_INTERACTION": "1",
        })
        if cache_dir:
            env["PIP_CACHE_DIR"] = os.path.join(str(cache_dir), "pip")
            env["UV_CACHE_DIR"] = os.path.join(str(cache_dir), "uv")
            env["POETRY_CACHE_DIR"] = os.path.join(str(cache_dir), "poetry")
        return env

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        self.proc = None


@pytest.fixture(scope="session")
def pkg_index(tmp_path_factory):
    idx = PackageIndex(tmp_path_factory.mktemp("pkgindex"))
    yield idx
    idx.stop()


def find_uv():
    """The uv binary scripts/install-python-tools.sh provides, or None."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    local = os.path.join(root, ".tools", "bin", "uv")
    if os.access(local, os.X_OK):
        return local
    return shutil.which("uv")
