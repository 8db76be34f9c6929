#!/usr/bin/env bash
# Start-up cost of the clearml-agent command line: wall time (mean over N runs) and peak RSS of
# `clearml-agent --version` and `clearml-agent config` (with a generated configuration file).
# Goal of the issue: under 5 ms and under 5 MiB each (the Python agent: ~0.7 s / 57 MiB).
# Prints `name value unit` lines. Env: CLEARML_BUILD_DIR (default build/), RUNS (default 200).
set -euo pipefail

BUILD=${CLEARML_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
AGENT=$BUILD/clearml-agent
RUNS=${RUNS:-200}
TIME=/usr/bin/time

[ -x "$AGENT" ] || { echo "bench_cli: $AGENT not built" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/clearml.conf" <<'EOF'
api {
    api_server: http://127.0.0.1:8008
    web_server: http://127.0.0.1:8080
    files_server: http://127.0.0.1:8081
    credentials { access_key: "BENCHACCESSKEY", secret_key: "BenchSecretValue" }
}
agent {
    git_user: "bench"
    git_pass: "BenchGitPass"
    package_manager.extra_index_url: ["https://u:p@pypi.example/simple"]
    default_docker.image: "nvidia/cuda:11.8.0-runtime-ubuntu22.04"
}
EOF

# Keep the developer's own configuration out of it.
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\(\(CLEARML\|TRAINS\)_[A-Za-z0-9_]*\)=.*/\1/p')
export HOME=$tmp

# mean wall microseconds of RUNS runs of "$@"
wall_us() {
	local start end i
	"$@" >/dev/null 2>&1 || { echo "bench_cli: '$*' failed" >&2; exit 1; }
	start=$(date +%s%N)
	for ((i = 0; i < RUNS; i++)); do "$@" >/dev/null 2>&1; done
	end=$(date +%s%N)
	echo $(((end - start) / RUNS / 1000))
}

# mean CPU microseconds (user + system) of RUNS runs of "$@": less sensitive to a loaded machine
cpu_us() {
	local t
	t=$(
		for ((i = 0; i < RUNS; i++)); do "$@" >/dev/null 2>&1; done
		times # its second line: the children's user and system time
	)
	t=${t##*$'\n'}
	# "XmY.YYYs XmY.YYYs" (children user, children system)
	awk -v t="$t" -v n="$RUNS" 'BEGIN {
		split(t, f, " "); s = 0
		for (k = 1; k <= 2; k++) { split(f[k], p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
		printf "%d", s * 1e6 / n }'
}

# the largest peak RSS (KiB) of 5 runs
peak_kib() {
	local max=0 kib i
	for ((i = 0; i < 5; i++)); do
		kib=$("$TIME" -f %M "$@" 2>&1 >/dev/null | tail -n 1)
		((kib > max)) && max=$kib
	done
	echo "$max"
}

fmt_ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
fmt_mib() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }

# The shell's own fork+exec of a do-nothing program, to read the figures against.
base=$(wall_us /bin/true)
echo "cli_baseline_true_wall $(fmt_ms "$base") ms"
echo "cli_baseline_true_cpu $(fmt_ms "$(cpu_us /bin/true)") ms"

us=$(wall_us "$AGENT" --version)
echo "cli_version_wall $(fmt_ms "$us") ms"
echo "cli_version_cpu $(fmt_ms "$(cpu_us "$AGENT" --version)") ms"
echo "cli_version_peak_rss $(fmt_mib "$(peak_kib "$AGENT" --version)") MiB"

us=$(wall_us "$AGENT" config)
echo "cli_config_wall $(fmt_ms "$us") ms"
echo "cli_config_cpu $(fmt_ms "$(cpu_us "$AGENT" config)") ms"
echo "cli_config_peak_rss $(fmt_mib "$(peak_kib "$AGENT" config)") MiB"

us=$(wall_us "$AGENT" --config-file "$tmp/clearml.conf" config)
echo "cli_config_file_option_wall $(fmt_ms "$us") ms"

echo "cli_shared_libraries $(ldd "$AGENT" | grep -c '=>') count"
