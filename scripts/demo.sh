#!/usr/bin/env bash
# make demo: the main job on the embedded default. Starts clearml-server-lite on a temporary data
# dir, an agent on queue `default`, submits examples/hello_clearml.py with clearml-task, follows
# the task to the end printing its log, prints the final status, and stops both.
set -euo pipefail
BUILD="${1:-build}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/clearml-demo.XXXXXX)"
SERVER_PID="" AGENT_PID=""

cleanup() {
    [ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> starting clearml-server-lite (data dir $WORK/server)"
mkfifo "$WORK/server.out"
"$BUILD/clearml-server-lite" --host 127.0.0.1 --port 0 --data-dir "$WORK/server" \
    >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
exec 3<"$WORK/server.out"
read -r -t 20 line <&3 || { echo "server-lite did not start:"; cat "$WORK/server.log"; exit 1; }
echo "    $line"
CONF="$WORK/server/clearml.conf"

echo "==> starting clearml-agent daemon --queue default"
mkdir -p "$WORK/home"
HOME="$WORK/home" CLEARML_AGENT__AGENT__POLLING_INTERVAL_MIN_SEC=0.5 \
    "$BUILD/clearml-agent" --config-file "$CONF" daemon --queue default --foreground \
    --polling-interval 1 >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!

echo "==> submitting examples/hello_clearml.py with clearml-task"
out=$(CLEARML_CONFIG_FILE="$CONF" "$BUILD/clearml-task" --project demo --name "hello clearml" \
    --script "$ROOT/examples/hello_clearml.py" --queue default)
echo "$out" | sed 's/^/    /'
TASK_ID=$(echo "$out" | sed -n 's/.*id=\([0-9a-f]\{32\}\).*/\1/p' | head -n1)
[ -n "$TASK_ID" ] || { echo "could not read the task id"; exit 1; }

echo "==> following task $TASK_ID"
rc=0
/usr/bin/python3 "$ROOT/scripts/follow_task.py" "$CONF" "$TASK_ID" 300 || rc=$?
if [ $rc -ne 0 ]; then
    echo "==> agent log:"; tail -n 40 "$WORK/agent.log"
fi
exit $rc
