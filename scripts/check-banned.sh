#!/bin/sh
# Fails when a banned libc call appears in src/ (the project's rule, as in curl's checksrc):
# unbounded writers (sprintf, vsprintf, strcpy, strcat, gets), stateful or error-blind parsers
# (strtok, atoi, sscanf). Bounded replacements: snprintf/xasprintf, struct buf, strtol + end check.
# Usage: scripts/check-banned.sh [DIR...]   (default: src)
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- src
pattern='(^|[^A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|sscanf|gets)[[:space:]]*\('
# Drop // comments and whole-line /* */ comment lines before matching, so prose may name them.
hits=$(find "$@" -type f \( -name '*.c' -o -name '*.h' \) -print | sort | while read -r f; do
    sed -e 's://.*$::' -e 's:^[[:space:]]*/\?\*.*$::' "$f" | grep -nE "$pattern" | sed "s|^|$f:|" || true
done)
if [ -n "$hits" ]; then
    printf '%s\n' "$hits"
    echo "check-banned: banned functions found (see above)" >&2
    exit 1
fi
echo "check-banned: ok"
