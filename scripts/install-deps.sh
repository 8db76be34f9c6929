#!/bin/sh
# libjs-dygraphs: the web app's charting library (served by server-lite, copied by make install);
# chromium, chromium-driver, python3-selenium: the web app's browser tests; firefox-esr with
# puppeteer-core (npm, pinned in tests/e2e/firefox) for the same flow in Firefox.
# Installs the Debian packages that building, testing and running need. Idempotent and quiet when
# everything is present; says what is missing and how to get it when not root.
set -eu

PKGS="build-essential pkg-config libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev
libssl-dev libcmocka-dev python3 python3-venv python3-pytest python3-requests git clang
libclang-rt-dev procps python3-pytest-timeout time python3-yaml openssl podman
libjs-dygraphs chromium chromium-driver python3-selenium firefox-esr"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# The Firefox test's driver: puppeteer-core from the npm registry (it downloads no browser).
ff="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/firefox"
if [ ! -d "$ff/node_modules/puppeteer-core" ] && command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm ci in tests/e2e/firefox (puppeteer-core)"
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix "$ff" --no-audit --no-fund --loglevel=error >/dev/null ||
        echo "install-deps: npm ci failed; the Firefox web test will be skipped" >&2
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=sudo
    else
        echo "install-deps: missing Debian packages:$missing" >&2
        echo "install-deps: run as root: apt-get install -y$missing" >&2
        exit 1
    fi
else
    SUDO=
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
