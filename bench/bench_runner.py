"""Runner overhead: `clearml-agent _runner` of a trivial literal script (python environment
install skipped, as with a cached environment) vs plain `python3 script.py` on the same
interpreter; and a run from a cached git repository. Median of N runs each.
Prints `name value unit` lines."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from gitfix import FILE_PROTOCOL_ENV, GitRepo  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("CLEARML_BUILD_DIR", os.path.join(ROOT, "build"))
AGENT = os.path.join(BUILD, "clearml-agent")
N = int(os.environ.get("BENCH_RUNS", "20"))
SCRIPT = "print('ok')\n"


def timed(argv, env, cwd=None):
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=120)
    dt = (time.perf_counter() - t0) * 1000.0
    if r.returncode != 0:
        sys.exit(f"bench run failed ({r.returncode}): {' '.join(argv)}\n{r.stdout.decode()[-2000:]}")
    return dt


def main():
    tmp = tempfile.mkdtemp(prefix="bench_runner_")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
        env["HOME"] = os.path.join(tmp, "home")
        os.makedirs(env["HOME"])
        env["CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL"] = "1"
        env.update(FILE_PROTOCOL_ENV)
        conf = os.path.join(tmp, "clearml.conf")
        with open(conf, "w") as f:
            json.dump({"agent": {"vcs_cache": {"enabled": True, "path": os.path.join(tmp, "vcs")}}}, f)

        def runner_argv(task, tag):
            tf = os.path.join(tmp, f"{tag}.json")
            with open(tf, "w") as f:
                json.dump(task, f)
            return [AGENT, "--config-file", conf, "_runner", "--task-file", tf, "--result-file",
                    os.path.join(tmp, f"{tag}-result.json"), "--build-dir", os.path.join(tmp, "build")]

        literal = {"id": "bench", "script": {"diff": SCRIPT, "entry_point": "s.py",
                                             "binary": "python3", "working_dir": "."}}
        argv = runner_argv(literal, "lit")
        timed(argv, env)  # warm-up (and the interpreter probe cache)
        with open(os.path.join(tmp, "lit-result.json")) as f:
            python = json.load(f)["python"]
        plain_dir = os.path.join(tmp, "plain")
        os.makedirs(plain_dir)
        with open(os.path.join(plain_dir, "s.py"), "w") as f:
            f.write(SCRIPT)
        timed([python, "s.py"], env, cwd=plain_dir)

        runner = [timed(argv, env) for _ in range(N)]
        plain = [timed([python, "s.py"], env, cwd=plain_dir) for _ in range(N)]
        r_med, p_med = statistics.median(runner), statistics.median(plain)
        print(f"runner_literal_ms {r_med:.1f} ms")
        print(f"plain_python_ms {p_med:.1f} ms")
        print(f"runner_overhead_ms {r_med - p_med:.1f} ms")

        repo = GitRepo(os.path.join(tmp, "git"), "proj")
        repo.commit({"s.py": SCRIPT}, "one")
        repo.push()
        gtask = {"id": "benchgit", "script": {"repository": repo.file_url, "entry_point": "s.py",
                                              "binary": "python3", "working_dir": "."}}
        gargv = runner_argv(gtask, "git")
        timed(gargv, env)  # fills the vcs cache
        git_runs = [timed(gargv, env) for _ in range(max(5, N // 2))]
        print(f"runner_git_cached_ms {statistics.median(git_runs):.1f} ms")
        print(f"runner_git_cached_overhead_ms {statistics.median(git_runs) - p_med:.1f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
