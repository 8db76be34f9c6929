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
            times, size, rss_kb = [], 0, 0
            out_path = os.path.join(tmp, "list.out")
            for _ in range(RUNS):
                t0 = time.monotonic()
                with open(out_path, "wb") as out:
                    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
                    _, status, ru = os.wait4(p.pid, 0)
                    p.returncode = os.waitstatus_to_exitcode(status)
                times.append(time.monotonic() - t0)
                if p.returncode != 0:
                    print(f"clearml-agent list exited {p.returncode}", file=sys.stderr)
                    sys.exit(1)
                size = os.path.getsize(out_path)
                rss_kb = max(rss_kb, ru.ru_maxrss)
            print(f"list_wall_median {statistics.median(times) * 1000:.1f} ms")
            print(f"list_output_bytes {size} bytes")
            print(f"list_maxrss {rss_kb} KiB")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
