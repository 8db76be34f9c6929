#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c with clang + libFuzzer (+ASan/UBSan) and runs each for the given
# number of seconds. A crash fails the run.
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")/.."
shopt -s nullglob
targets=(tests/fuzz/fuzz_*.c)
if [ ${#targets[@]} -eq 0 ]; then echo "fuzz: no targets"; exit 0; fi
out=build-fuzz
mkdir -p "$out"
common=$(ls src/common/*.c)
for t in "${targets[@]}"; do
    name=$(basename "$t" .c)
    # A target names the extra sources it needs in a line: "// fuzz-sources: src/server/x.c ..."
    extra=$(sed -n 's#^// fuzz-sources: ##p' "$t")
    clang -std=c17 -g -O1 -D_GNU_SOURCE -Isrc/common -Isrc -fsanitize=fuzzer,address,undefined \
        -o "$out/$name" "$t" $common $extra -ljansson -lcurl -lcrypto -lsqlite3 -lmicrohttpd -lm -ldl -pthread
    corpus="$out/$name.corpus"
    mkdir -p "$corpus"
    seeds="tests/fuzz/${name#fuzz_}.seeds"
    [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: $name for ${secs}s"
    "$out/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 "$corpus" 2>"$out/$name.log" \
        || { tail -50 "$out/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
    grep -E '^(#[0-9]+ *DONE|Done)' "$out/$name.log" | tail -1 || true
done
