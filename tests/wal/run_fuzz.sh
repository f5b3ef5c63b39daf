#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz and runs each for
# DURATION seconds (default 60) on a copy of its seed corpus:
#
#   fuzz_record  WAL record decoder     tests/wal/corpus/record
#   fuzz_ckpt    checkpoint reader      tests/wal/corpus/ckpt
#   fuzz_api     the public API against a reference model
#                                       tests/fuzz/corpus/api
#
# Exits non-zero when a target finds a crash (or, for fuzz_api, a
# divergence from its model); the crashing inputs are left in
# build-fuzz/fuzz-artifacts/.  CAIRN_FUZZ_JOBS (default 2) is the build's
# parallelism.
#
#   tests/wal/run_fuzz.sh [DURATION]
set -euo pipefail

duration=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"
cd "$root"

if [[ ! -f "$build/build.ninja" ]]; then
    CC=clang meson setup "$build" -Dbench=false -Dtests=true
fi
ninja -C "$build" -j"${CAIRN_FUZZ_JOBS:-2}" tests/wal/fuzz_record tests/wal/fuzz_ckpt tests/fuzz/fuzz_api

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

status=0
# run_target NAME BINARY CORPUS
run_target() {
    local name=$1 binary=$2 corpus=$3
    cp -r "$corpus" "$work/$name"
    echo "== fuzz_$name for ${duration}s"
    if ! TMPDIR="$work" "$binary" \
            -max_total_time="$duration" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$artifacts/$name-" -print_final_stats=1 \
            "$work/$name" 2>"$work/$name.log"; then
        echo "fuzz_$name FAILED; log tail:"
        tail -40 "$work/$name.log"
        status=1
    else
        grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|Done)" \
            "$work/$name.log" || true
        tail -1 "$work/$name.log"
    fi
}

run_target record "$build/tests/wal/fuzz_record" tests/wal/corpus/record
run_target ckpt "$build/tests/wal/fuzz_ckpt" tests/wal/corpus/ckpt
run_target api "$build/tests/fuzz/fuzz_api" tests/fuzz/corpus/api
exit $status
