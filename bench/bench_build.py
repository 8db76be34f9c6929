"""`build` figures (issue 12), printed as `name value unit` lines, never asserted. The test task:
a git repository with an uncommitted diff and `tinygamma` (3 packages) from a local index.

  build_folder_time            `build --id T --target DIR`, cold (empty caches)
  build_image_time             `build --docker IMAGE --entry-point reuse_task`, cold
  build_image_time_cached      the same again into a second image (venv cache warm)
  image_size / image_added     the built image, and what it adds to the base image
  image_layers                 layers of the built image (base image + 1)
  built_image_first_line       `docker run NAME` (clearml.conf mounted) → the task's first line on
                               its stdout, median of RUNS
  docker_mode_first_line_warm  `execute --docker --id T` of the same task in docker mode with
                               the environment cached (a run before not counted) → first line,
                               median of RUNS
Needs a docker engine and the image (scripts/containers-up.sh); otherwise says so and exits 0.
"""
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from agent_helper import agent_env, fast_env  # noqa: E402
from conftest import ServerLite, binary  # noqa: E402
from docker_helper import BOOKWORM, docker_conf, engine_ok  # noqa: E402
from gitfix import FILE_PROTOCOL_ENV, GitRepo  # noqa: E402
from pkgindex import PackageIndex  # noqa: E402

RUNS = 3
MARK = "VERSION"
TRAIN = ("import tinygamma\n"
         "print('VERSION', open('version.txt').read().strip(), tinygamma.__version__, flush=True)\n")


def make_task(api, tmp, name):
    repo = GitRepo(tmp / "git" / name, "proj")
    repo.commit({"train.py": TRAIN, "version.txt": "committed\n"}, "first")
    repo.push()
    diff = repo.diff({"version.txt": "bench\n"})
    return api.call("tasks.create", name=name, type="training",
                    script={"repository": repo.file_url, "branch": "main", "entry_point": "train.py",
                            "working_dir": ".", "binary": "python3", "diff": diff,
                            "requirements": {"pip": "tinygamma\n"}})["id"]


def run_timed(argv, env, timeout=900):
    t0 = time.monotonic()
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{argv[:6]} failed: {r.stdout.decode(errors='replace')[-3000:]}")
    return dt


def first_line(argv, env, timeout=300):
    """Seconds from start until a line with MARK appears on the process's stdout; waits for it."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen, tail = None, []
    try:
        for line in p.stdout:
            tail.append(line)
            if seen is None and MARK.encode() in line:
                seen = time.monotonic() - t0
        p.wait(timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if seen is None or p.returncode != 0:
        raise RuntimeError(f"{argv[:6]} gave no {MARK} line (rc {p.returncode}): "
                           f"{b''.join(tail[-40:]).decode(errors='replace')}")
    return seen


def image_figures(name):
    r = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}} {{len .RootFS.Layers}}", name],
                       capture_output=True, text=True, check=True)
    size, layers = r.stdout.split()
    return int(size), int(layers)


def main():
    why = engine_ok("docker")
    if why or subprocess.run(["docker", "image", "inspect", BOOKWORM], capture_output=True).returncode:
        print(f"bench_build: skipped ({why or BOOKWORM + ' missing'}; run scripts/containers-up.sh)")
        return
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_build."))
    srv = ServerLite(tmp / "server")
    idx = PackageIndex(tmp / "index")
    images = [f"bench-build-{os.getpid()}-{k}" for k in ("a", "b")]
    try:
        api = srv.api()
        conf = docker_conf(srv, tmp, index=idx)
        env = agent_env(tmp, idx.env(fast_env(tmp, dict(FILE_PROTOCOL_ENV, NVIDIA_VISIBLE_DEVICES="",
                                                         CUDA_VISIBLE_DEVICES="")),
                                     cache_dir=tmp / "toolcache"))
        agent = binary("clearml-agent")
        t = make_task(api, tmp, "bench-build")
        dt = run_timed([agent, "--config-file", conf, "build", "--id", t, "--target", str(tmp / "folder")], env)
        print(f"build_folder_time {dt:.2f} s")
        dock = [agent, "--config-file", conf, "build", "--id", t, "--docker", f"{BOOKWORM} --pull=never",
                "--entry-point", "reuse_task", "--target"]
        dt = run_timed(dock + [images[0]], env)
        print(f"build_image_time {dt:.2f} s")
        dt = run_timed(dock + [images[1]], env)
        print(f"build_image_time_cached {dt:.2f} s")
        size, layers = image_figures(images[0])
        base, _ = image_figures(BOOKWORM)
        print(f"image_size {size / 1e6:.1f} MB")
        print(f"image_added {(size - base) / 1e6:.1f} MB")
        print(f"image_layers {layers} layers")

        run = ["docker", "run", "--rm", "--network", "host", "-v", f"{srv.conf}:/root/clearml.conf:ro", images[0]]
        built = [first_line(run, env) for _ in range(RUNS)]
        print(f"built_image_first_line {statistics.median(built):.3f} s")
        t2 = make_task(api, tmp, "bench-docker-mode")
        ex = [agent, "--config-file", conf, "execute", "--docker", f"{BOOKWORM} --pull=never", "--id", t2]
        first_line(ex, env)  # builds and caches the environment: not counted
        warm = [first_line(ex, env) for _ in range(RUNS)]
        print(f"docker_mode_first_line_warm {statistics.median(warm):.3f} s")
    finally:
        for n in images:
            subprocess.run(["docker", "rmi", "-f", n], capture_output=True)
        idx.stop()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
