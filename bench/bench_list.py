"""`clearml-agent list` figures (DESIGN.md §7), printed as `name value unit` lines, never asserted:

  list_wall_median      one whole `clearml-agent list` run (start, config, login, workers.get_all,
                        YAML out) against a local server-lite with 200 registered workers, median
                        of 20 runs
  list_output_bytes     size of that YAML
  list_maxrss           peak RSS of one run
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from conftest import ServerLite, binary  # noqa: E402

WORKERS = 200
RUNS = 20


def main():
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerLite(os.path.join(tmp, "server"))
        try:
            api = server.api()
            qid = api.call("queues.get_default")["id"]
            for i in range(WORKERS):
                api.call("workers.register", worker=f"bench-host:{i}", queues=[qid],
                         tags=["bench"])
            env = dict(os.environ, HOME=tmp)
            argv = [binary("clearml-agent"), "--config-file", server.conf, "list"]
            times, size = [], 0
            for _ in range(RUNS):
                t0 = time.monotonic()
                r = subprocess.run(argv, capture_output=True, env=env, timeout=60)
                times.append(time.monotonic() - t0)
                if r.returncode != 0:
                    print(r.stderr.decode(errors="replace"), file=sys.stderr)
                    sys.exit(1)
                size = len(r.stdout)
            # peak RSS of the agent alone (a forked Python child's rusage would count the
            # interpreter's pages from before exec)
            r = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, capture_output=True,
                               env=env, timeout=60)
            rss_kb = int(r.stderr.decode().strip().splitlines()[-1])
            print(f"list_wall_median {statistics.median(times) * 1000:.1f} ms")
            print(f"list_output_bytes {size} bytes")
            print(f"list_maxrss {rss_kb} KiB")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
