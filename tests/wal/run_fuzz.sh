#!/usr/bin/env bash
# Builds the WAL/checkpoint libFuzzer targets with clang in build-fuzz and
# runs each for DURATION seconds (default 60) on a copy of the seed corpus
# in tests/wal/corpus.  Exits non-zero when a target finds a crash; the
# crashing inputs are left in build-fuzz/fuzz-artifacts/.
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
ninja -C "$build" tests/wal/fuzz_record tests/wal/fuzz_ckpt

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

status=0
for target in record ckpt; do
    cp -r "tests/wal/corpus/$target" "$work/$target"
    echo "== fuzz_$target for ${duration}s"
    if ! TMPDIR="$work" "$build/tests/wal/fuzz_$target" \
            -max_total_time="$duration" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
            "$work/$target" 2>"$work/$target.log"; then
        echo "fuzz_$target FAILED; log tail:"
        tail -40 "$work/$target.log"
        status=1
    else
        grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done)" "$work/$target.log" || true
        tail -1 "$work/$target.log"
    fi
done
exit $status
