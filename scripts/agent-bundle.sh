#!/bin/sh
# agent-bundle.sh OUT AGENT RUNNER REF — the folder `clearml-agent build --docker` copies into an image
# at /.clearml_agent: bin/clearml-agent (linked with its loader and RPATH at /.clearml_agent/lib, so
# it runs in any Linux image of this architecture, glibc, musl or none), bin/clearml-agent-runner
# (static), and lib/: the loader, the C library and every library the agent loads, including the
# ones it dlopens (libcurl, libcrypto) and theirs. REF is the same agent linked normally (ldd cannot
# run AGENT itself: its loader path exists only in images). Written to OUT.tmp, then renamed.
set -eu
out=$1 agent=$2 runner=$3 ref=$4
tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/lib"
cp "$agent" "$tmp/bin/clearml-agent"
cp "$runner" "$tmp/bin/clearml-agent-runner"
soname_path() { ldconfig -p | awk -v n="$1" '$1 == n && /x86-64|AArch64|aarch64|64bit/ {print $NF; exit}'; }
objs="$ref"
for so in libcurl.so.4 libcrypto.so.3; do
	p=$(soname_path "$so")
	[ -n "$p" ] || p=$(ldconfig -p | awk -v n="$so" '$1 == n {print $NF; exit}')
	[ -n "$p" ] || { echo "agent-bundle: $so not found (ldconfig -p)" >&2; exit 1; }
	objs="$objs $p"
done
for o in $objs; do
	case $o in "$ref") ;; *) cp -L "$o" "$tmp/lib/" ;; esac
	ldd "$o" | awk '/=> \// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
		cp -L "$lib" "$tmp/lib/$(basename "$lib")"
	done
done
strip --strip-debug "$tmp/bin/clearml-agent" "$tmp/bin/clearml-agent-runner" 2>/dev/null || true
chmod 0755 "$tmp/bin/"* "$tmp/lib/"*
rm -rf "$out"
mv "$tmp" "$out"
