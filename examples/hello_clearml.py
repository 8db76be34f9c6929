"""A small sample task for `make demo`: prints its environment as seen under the agent, does a bit
of work with progress output, and exits 0."""
import os
import platform
import sys
import time

print(f"hello from task {os.environ.get('CLEARML_TASK_ID')} on worker {os.environ.get('CLEARML_WORKER_ID')}")
print(f"python {platform.python_version()} at {sys.executable}")
print(f"CLEARML_LOG_TASK_TO_BACKEND={os.environ.get('CLEARML_LOG_TASK_TO_BACKEND')}")
total = 0
for step in range(1, 6):
    total += sum(i * i for i in range(200_000))
    print(f"step {step}/5: running total {total}", flush=True)
    time.sleep(0.2)
print("done")
