"""Helpers for the docker-mode tests: a real engine (docker, or podman) and the offline images of
scripts/containers-up.sh. Tests skip, with the reason, only when no engine can run here."""
import json
import os
import shutil
import subprocess

import pytest

BOOKWORM = os.environ.get("CLEARML_TEST_IMAGE", "jobagent-test:bookworm")
BUSYBOX = os.environ.get("CLEARML_TEST_BUSYBOX_IMAGE", "jobagent-test:busybox")
NOPYTHON = os.environ.get("CLEARML_TEST_NOPYTHON_IMAGE", "jobagent-test:nopython")


def engine_ok(engine="docker"):
    if not shutil.which(engine):
        return f"{engine} is not installed"
    try:
        r = subprocess.run([engine, "info"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{engine} info failed: {e}"
    if r.returncode != 0:
        return f"{engine} engine not running: {r.stderr.decode(errors='replace').strip()[:200]}"
    return None


def need_engine(engine="docker", images=(BOOKWORM,)):
    why = engine_ok(engine)
    if why:
        pytest.skip(f"no container engine can run here ({why}); scripts/containers-up.sh starts one")
    for img in images:
        r = subprocess.run([engine, "image", "inspect", img], capture_output=True, timeout=30)
        if r.returncode != 0:
            pytest.skip(f"test image {img} missing in {engine}; scripts/containers-up.sh builds it")


def docker(*args, check=True, timeout=60):
    r = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {r.stderr}")
    return r


def containers(label_filter, engine="docker"):
    r = subprocess.run([engine, "ps", "-a", "--filter", f"label={label_filter}", "--format",
                        "{{.Names}}"], capture_output=True, text=True, timeout=30)
    return [l for l in r.stdout.split() if l]


def hocon_list(items):
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def docker_conf(server, tmp_path, extra_args=(), agent_extra="", index=None, name="docker.conf"):
    """The server's clearml.conf plus the agent settings docker tests need: host networking (the
    server and the package index listen on 127.0.0.1), no opencv apt step (offline), the caches
    in the test's own folder, and the local package index for pip inside the container."""
    args = ["--network", "host"]
    if index is not None:
        args += ["-e", f"PIP_INDEX_URL={index.url}", "-e", "PIP_CONFIG_FILE=/dev/null",
                 "-e", "PIP_RETRIES=0", "-e", "PIP_DEFAULT_TIMEOUT=5",
                 "-e", "PIP_DISABLE_PIP_VERSION_CHECK=1", "-e", "PIP_NO_INPUT=1"]
    args += list(extra_args)
    home = tmp_path / "home" / ".clearml"
    text = open(server.conf).read()
    text += f"""
agent {{
  docker_install_opencv_libs: false
  extra_docker_arguments: {hocon_list(args)}
  venvs_dir: {json.dumps(str(tmp_path / "builds"))}
  venvs_cache.path: {json.dumps(str(home / "venvs-cache"))}
  docker_pip_cache: {json.dumps(str(home / "pip-cache"))}
  docker_apt_cache: {json.dumps(str(home / "apt-cache"))}
  pip_download_cache.path: {json.dumps(str(home / "pip-download-cache"))}
  vcs_cache.path: {json.dumps(str(home / "vcs-cache"))}
  state_dir: {json.dumps(str(tmp_path / "state"))}
  {agent_extra}
}}
sdk.storage.cache.default_base_dir: {json.dumps(str(home / "cache"))}
"""
    path = tmp_path / name
    path.write_text(text)
    return str(path)
