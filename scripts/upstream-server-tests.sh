#!/bin/bash
# upstream-server-tests.sh — run clearml-server's own black-box API tests
# (apiserver/tests/automated in the clearml-server repository) against clearml-server-lite and
# print the pass count per file.
#
#   scripts/upstream-server-tests.sh --repo ~/src/clearml-server [--pyhocon DIR] [--pypath DIR]... \
#        [--target http://127.0.0.1:8008 --key K --secret S] [--all] [FILE.py ...]
#
# Without --target it starts build/clearml-server-lite (or $CLEARML_BUILD_DIR's) on a free port
# with a throw-away data dir and its own credentials. Without FILE arguments it runs the seven
# files that concern agents, tasks, queues, workers, events, edits, hyper-parameters and deletion;
# --all runs every test_*.py of the folder.
#
# Needs python3 with pytest, boltons, jinja2, rapidjson, future, elasticsearch (import only, no
# Elasticsearch server), requests, six, packaging, pyparsing — on Debian 12:
#   apt-get install python3-pytest python3-boltons python3-jinja2 python3-rapidjson \
#       python3-future python3-elasticsearch python3-requests python3-six python3-packaging \
#       python3-pyparsing
# and pyhocon, which Debian does not package. Provide it one of these ways:
#   - pip install pyhocon          (any venv or --user; pure Python, needs only pyparsing)
#   - --pyhocon DIR                a folder holding the `pyhocon/` package, e.g. from
#                                  git clone https://github.com/chimpler/pyhocon DIR
#   - PYTHONPATH already pointing at one.
#
# Five files (test_batch_operations, test_project_delete, test_projection, test_subprojects,
# test_tags) import the server's own database layer, which needs more: from Debian
#   apt-get install python3-mongoengine python3-furl python3-dateutil python3-redis \
#       python3-validators python3-humanfriendly python3-semantic-version
# and four pure-Python packages Debian lacks or has too old, each a checkout passed with --pypath
# (or pip-installed): jsonmodels (github.com/jazzband/jsonmodels), dpath
# (github.com/dpath-maintainers/dpath-python), elastic-transport
# (github.com/elastic/elastic-transport-python) and pymongo 4.6 (github.com/mongodb/
# mongo-python-driver at tag 4.6.3: the server wants 4.x, Debian's mongoengine 0.24 a 4.x that
# still has pymongo.database._check_name, which the newest lacks). Without
# them those five files report an import error and the rest run as usual.
# The upstream tree is never written to: it is copied into a temp dir first (its import
# generates apiserver/apierrors/errors/*.py). Nothing from it is part of this repository.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
repo= pyhocon= pypath= target= key= secret= all=0 files=()
while [ $# -gt 0 ]; do
	case "$1" in
	--repo) repo=$2; shift 2 ;;
	--pyhocon) pyhocon=$2; shift 2 ;;
	--pypath) pypath="$pypath:$2"; shift 2 ;;
	--target) target=${2%/}; shift 2 ;;
	--key) key=$2; shift 2 ;;
	--secret) secret=$2; shift 2 ;;
	--all) all=1; shift ;;
	-h|--help) sed -n '2,/^set -u/{/^#/p}' "$0"; exit 0 ;;
	-*) echo "upstream-server-tests: unknown option $1" >&2; exit 2 ;;
	*) files+=("$1"); shift ;;
	esac
done
repo=${repo:-${CLEARML_SERVER_REPO:-}}
if [ -z "$repo" ] || [ ! -d "$repo/apiserver/tests/automated" ]; then
	echo "upstream-server-tests: --repo DIR must be a clearml-server checkout" \
	     "(with apiserver/tests/automated)" >&2
	exit 2
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3

work=$(mktemp -d "${TMPDIR:-/tmp}/upstream-tests.XXXXXX")
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/tree" "$work/logs" "$work/plugin"
cp -a "$repo/apiserver" "$work/tree/"

pp="$work/tree:$work/plugin"
[ -n "$pyhocon" ] && pp="$pp:$pyhocon"
pp="$pp$pypath"
[ -n "${PYTHONPATH:-}" ] && pp="$pp:$PYTHONPATH"
if ! PYTHONPATH="$pp" "$py" -c 'import pyhocon' 2>/dev/null; then
	echo "upstream-server-tests: pyhocon is missing (not in Debian): pip install pyhocon," \
	     "or --pyhocon DIR with a checkout of https://github.com/chimpler/pyhocon" >&2
	exit 2
fi
missing=$("$py" - <<'EOF'
import importlib
need = ["pytest", "boltons", "jinja2", "rapidjson", "future", "elasticsearch", "requests",
        "six", "packaging", "pyparsing"]
out = []
for m in need:
    try:
        importlib.import_module(m)
    except Exception:
        out.append(m)
print(" ".join(out))
EOF
)
if [ -n "$missing" ]; then
	echo "upstream-server-tests: python modules missing: $missing (see the apt-get line in $0)" >&2
	exit 2
fi

# The tests hard-code http://localhost:8008; this plugin sends them to the target instead.
cat >"$work/plugin/clearml_target.py" <<'EOF'
import os
_HARDCODED = "http://localhost:8008"
_TARGET = os.environ.get("CLEARML_TEST_TARGET", "").rstrip("/")
if _TARGET:
    from apiserver.tests import api_client
    _orig_init = api_client.APIClient.__init__
    def _init(self, *args, base_url=None, **kwargs):
        if base_url and base_url.startswith(_HARDCODED):
            base_url = _TARGET + base_url[len(_HARDCODED):]
        _orig_init(self, *args, base_url=base_url, **kwargs)
    api_client.APIClient.__init__ = _init
EOF

if [ -z "$target" ]; then
	bin="${CLEARML_BUILD_DIR:-$here/build}/clearml-server-lite"
	if [ ! -x "$bin" ]; then
		echo "upstream-server-tests: $bin not built (make)" >&2
		exit 2
	fi
	mkdir -p "$work/data"
	"$bin" --host 127.0.0.1 --port 0 --data-dir "$work/data" --worker-timeout-sec 600 \
		>"$work/server.out" 2>"$work/logs/server.log" &
	server_pid=$!
	for _ in $(seq 100); do
		grep -q '^listening on' "$work/server.out" 2>/dev/null && break
		sleep 0.1
	done
	target=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/server.out")
	if [ -z "$target" ]; then
		echo "upstream-server-tests: server-lite did not start:" >&2
		cat "$work/logs/server.log" >&2
		exit 1
	fi
	key=$(sed -n 's/.*access_key: *"\([^"]*\)".*/\1/p' "$work/data/clearml.conf")
	secret=$(sed -n 's/.*secret_key: *"\([^"]*\)".*/\1/p' "$work/data/clearml.conf")
fi
if [ -z "$key" ] || [ -z "$secret" ]; then
	echo "upstream-server-tests: --target needs --key and --secret" >&2
	exit 2
fi

cd "$work/tree" || exit 1
if [ ${#files[@]} -eq 0 ]; then
	if [ $all = 1 ]; then
		for f in apiserver/tests/automated/test_*.py; do files+=("$(basename "$f")"); done
	else
		files=(test_queues.py test_tasks_running.py test_workers.py test_task_events.py
		       test_tasks_edit.py test_task_hyperparams.py test_tasks_delete.py)
	fi
fi

export PYTHONPATH="$pp"
export CLEARML__LOGGING__HANDLERS__TEXT_FILE__FILENAME="\"$work/logs/apiserver-tests.log\""
export CLEARML__APICLIENT__RETRIES="${CLEARML__APICLIENT__RETRIES:-1}"
export CLEARML_TEST_TARGET="$target" SM_API_KEY="$key" SM_API_SECRET="$secret"
total_p=0 total_n=0
printf '%-34s %s\n' "file" "passed/total"
for f in "${files[@]}"; do
	f=$(basename "$f")
	out="$work/logs/${f%.py}.txt"
	"$py" -m pytest -p clearml_target -p no:cacheprovider -q -rfE \
		"apiserver/tests/automated/$f" >"$out" 2>&1
	summary=$(tail -n 1 "$out")
	p=$(grep -o '[0-9]* passed' <<<"$summary" | grep -o '[0-9]*'); p=${p:-0}
	fl=$(grep -o '[0-9]* failed' <<<"$summary" | grep -o '[0-9]*'); fl=${fl:-0}
	er=$(grep -o '[0-9]* error' <<<"$summary" | grep -o '[0-9]*'); er=${er:-0}
	n=$((p + fl + er))
	printf '%-34s %d/%d\n' "$f" "$p" "$n"
	if [ "${UPSTREAM_TESTS_VERBOSE:-0}" = 1 ] || [ -n "${UPSTREAM_TESTS_LOGDIR:-}" ]; then
		grep -E '^(FAILED|ERROR) apiserver' "$out" | sed 's/^/    /'
	fi
	[ -n "${UPSTREAM_TESTS_LOGDIR:-}" ] && cp "$out" "$UPSTREAM_TESTS_LOGDIR/"
	total_p=$((total_p + p)) total_n=$((total_n + n))
done
printf '%-34s %d/%d\n' "total" "$total_p" "$total_n"
[ "$total_p" = "$total_n" ]
