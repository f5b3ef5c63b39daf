#!/usr/bin/env bash
# Sets up the machine, then builds and runs cairn's test suite three ways:
#
#   normal       build-test   debugoptimized, every test
#   asan+ubsan   build-asan   AddressSanitizer + UndefinedBehaviorSanitizer, every test
#   tsan         build-tsan   ThreadSanitizer, the concurrency suite
#   fuzz         build-fuzz   libFuzzer (clang): WAL record decoder,
#                             checkpoint reader and the public API against a
#                             reference model, CAIRN_FUZZ_SECONDS each (60)
#
# Build directories are reused when they exist, so a second run only rebuilds
# what changed.  Every stage runs even when an earlier one failed; the script
# exits non-zero when any did.  The last line totals the tests of all stages
# as "N passed, N failed" (expected failures count as passed, timeouts and
# unexpected passes as failed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh

jobs=2
total_passed=0
total_failed=0
failed=0
summaries=()

# configure DIR [meson options...]: a fresh setup, or a reconfigure that
# applies the options to an existing build directory.
configure() {
    local dir=$1
    shift
    if [[ -f "$dir/meson-private/coredata.dat" ]]; then
        meson setup --reconfigure "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# last_count LOG LABEL: the number on the last "LABEL: N" line of a meson
# test summary, or 0 when there is none.
last_count() {
    awk -v label="$2:" '
        index($0, label) == 1 { n = substr($0, length(label) + 1); gsub(/[^0-9]/, "", n); last = n }
        END { print (last == "" ? 0 : last) }' "$1"
}

# stage NAME DIR [meson setup options...] -- [meson test options...]
# Environment for the tests comes from the caller (env VAR=... stage ...
# does not work on functions, so callers export around the call).
stage() {
    local name=$1 dir=$2
    shift 2
    local setup_args=() test_args=()
    while (($# > 0)) && [[ $1 != -- ]]; do
        setup_args+=("$1")
        shift
    done
    (($# > 0)) && shift
    test_args=("$@")

    echo
    echo "=== $name: build $dir"
    if ! configure "$dir" "${setup_args[@]}" || ! ninja -C "$dir" -j"$jobs"; then
        summaries+=("$name: FAILED to build")
        failed=1
        return 0
    fi

    echo
    echo "=== $name: test $dir"
    local log="$dir/meson-logs/test-summary.txt"
    local rc=0
    meson test -C "$dir" --print-errorlogs --num-processes "$jobs" \
        "${test_args[@]}" 2>&1 | tee "$log" || rc=$?

    local ok expected_fail fail unexpected_pass timeout skipped passed failed_here
    ok=$(last_count "$log" "Ok")
    expected_fail=$(last_count "$log" "Expected Fail")
    fail=$(last_count "$log" "Fail")
    unexpected_pass=$(last_count "$log" "Unexpected Pass")
    timeout=$(last_count "$log" "Timeout")
    skipped=$(last_count "$log" "Skipped")
    passed=$((ok + expected_fail))
    failed_here=$((fail + unexpected_pass + timeout))
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed_here))

    local line="$name: $passed passed, $failed_here failed, $skipped skipped"
    if ((rc != 0 || failed_here > 0)); then
        line+=" -- FAILED (meson test exit $rc)"
        failed=1
    fi
    summaries+=("$line")
}

stage "normal" build-test --buildtype=debugoptimized

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
stage "asan+ubsan" build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbench=false -- --timeout-multiplier 3
unset ASAN_OPTIONS UBSAN_OPTIONS

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
stage "tsan" build-tsan --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false \
    -Dbench=false -- --suite concurrency --timeout-multiplier 5
unset TSAN_OPTIONS

# libFuzzer targets for the WAL record decoder, the checkpoint reader and
# the public API checked against a reference model (clang): a short run of
# each, CAIRN_FUZZ_SECONDS apiece (default 60).
echo
echo "=== fuzz: build-fuzz"
if tests/wal/run_fuzz.sh "${CAIRN_FUZZ_SECONDS:-60}"; then
    total_passed=$((total_passed + 3))
    summaries+=("fuzz: 3 passed, 0 failed (fuzz_record, fuzz_ckpt, fuzz_api, ${CAIRN_FUZZ_SECONDS:-60}s each)")
else
    total_failed=$((total_failed + 1))
    failed=1
    summaries+=("fuzz: FAILED (see build-fuzz/fuzz-artifacts)")
fi

echo
echo "=== summary"
for line in "${summaries[@]}"; do
    echo "$line"
done
echo "$total_passed passed, $total_failed failed"
exit "$failed"
