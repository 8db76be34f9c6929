"""`--gpus` / `--cpu-only` on a machine with an NVIDIA GPU: what the task's CUDA driver sees.
Skipped where there is no GPU (nvidia-smi missing or listing nothing)."""
import json
import shutil
import subprocess

import pytest

from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          fast_env as _fast_env, wait_status)


def _gpu_count():
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], stdout=subprocess.PIPE, timeout=30).stdout
    except Exception:
        return 0
    return sum(1 for l in out.decode(errors="replace").splitlines() if l.startswith("GPU "))


pytestmark = pytest.mark.skipif(_gpu_count() == 0, reason="no NVIDIA GPU here")

# The CUDA driver API honours CUDA_VISIBLE_DEVICES like every CUDA program does.
PROBE = """import ctypes, json, os
n = -1
try:
    cuda = ctypes.CDLL("libcuda.so.1")
    c = ctypes.c_int(0)
    rc = cuda.cuInit(0)
    n = c.value if rc != 0 else (cuda.cuDeviceGetCount(ctypes.byref(c)) or c.value)
except OSError as e:
    n = repr(e)
print("GPU=" + json.dumps({"n": n, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                           "nvidia": os.environ.get("NVIDIA_VISIBLE_DEVICES")}), flush=True)
"""


@pytest.mark.parametrize("args,want_n,want_cuda,want_suffix", [
    (["--gpus", "0"], 1, "0", ":gpu0"),
    (["--gpus", "all"], None, None, ":gpuall"),
    (["--cpu-only"], 0, "none", ":cpu:0"),
])
def test_task_sees_the_chosen_gpus(server, api, tmp_path, args, want_n, want_cuda, want_suffix):
    create_queue(api, "gpu-queue")
    t = create_script_task(api, PROBE, name="gpu probe")
    enqueue(api, t, queue_name="gpu-queue")
    env = _fast_env(tmp_path, {"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
                               "CLEARML_WORKER_NAME": "gpubox"})
    a = AgentProcess(server, tmp_path, ["--queue", "gpu-queue", "--polling-interval", FAST_POLL]
                     + args, env=env)
    try:
        assert wait_status(api, t, timeout=120)["status"] == "completed"
    finally:
        a.stop()
    assert f'Worker "gpubox{want_suffix}"' in a.output()
    line = [l for l in api.task_log_text(t).splitlines() if l.startswith("GPU=")][0]
    got = json.loads(line[4:])
    assert got["cuda"] == want_cuda
    assert got["nvidia"] == ("all" if want_cuda is None else want_cuda)
    if want_n is None:
        assert got["n"] == _gpu_count()
    else:
        assert got["n"] == want_n
