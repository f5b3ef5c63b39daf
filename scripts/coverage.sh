#!/usr/bin/env bash
# Line coverage of the library (engine/, wal/, primitives/) by the test suite.
#
#   scripts/coverage.sh
#
# Configures a coverage build in build-cov (debug, gcov instrumentation,
# no cairn-bench; the directory is reused when it exists), builds it, runs
# the whole meson test suite, then reads the counters with gcovr from the
# repository root.  It prints gcovr's per-file table, then one line per
# directory and the total, and exits non-zero when a test failed or when
# any of the three directories covers less than CAIRN_COVERAGE_MIN percent
# of its lines (default 90).
#
# To keep the run short the suite runs at a reduced size: CAIRN_TEST_SCALE
# (default here 0.1: concurrency, group-commit and power-loss iterations)
# and CAIRN_CRASH_POINTS (default here 20: kill -9 points of the crash
# tests).  Set either in the environment to run at another size; the
# defaults of scripts/test.sh (full size) are CAIRN_TEST_SCALE=1 and each
# crash test's own CAIRN_CRASH_POINTS default.
#
# Environment:
#   CAIRN_COVERAGE_JOBS   ninja and meson test parallelism (default 1)
#   CAIRN_COVERAGE_MIN    minimum line coverage per directory, percent (90)
#
# Reports are left in build-cov/coverage/: files.txt (per-file table) and
# summary.json (gcovr's JSON summary).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build-cov
jobs=${CAIRN_COVERAGE_JOBS:-1}
minimum=${CAIRN_COVERAGE_MIN:-90}
dirs=(engine wal primitives)

for tool in meson ninja gcovr python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "coverage: $tool not found (scripts/setup.sh installs it)" >&2
        exit 2
    fi
done

start=$(date +%s)

setup_args=(-Db_coverage=true -Dbench=false --buildtype=debug)
if [[ -f "$build/meson-private/coredata.dat" ]]; then
    meson setup --reconfigure "$build" "${setup_args[@]}" >/dev/null
else
    rm -rf "$build"
    meson setup "$build" "${setup_args[@]}"
fi
ninja -C "$build" -j"$jobs"

# Counters from an earlier run would add to this one's.
find "$build" -name '*.gcda' -delete

export CAIRN_TEST_SCALE=${CAIRN_TEST_SCALE:-0.1}
export CAIRN_CRASH_POINTS=${CAIRN_CRASH_POINTS:-20}
echo "coverage: meson test (CAIRN_TEST_SCALE=$CAIRN_TEST_SCALE CAIRN_CRASH_POINTS=$CAIRN_CRASH_POINTS)"
# An unoptimized, instrumented build runs much slower than the build the
# timeouts were set for, most of all the tests that start many short
# processes (each writes its counters at exit): "cli exit codes" takes
# about 5 s in a debugoptimized build and 90 s or more here.
tests_ok=1
meson test -C "$build" --print-errorlogs --num-processes "$jobs" --timeout-multiplier 10 ||
    tests_ok=0

out="$build/coverage"
mkdir -p "$out"
filters=()
for d in "${dirs[@]}"; do
    filters+=(--filter "$d/")
done
gcovr -r . "${filters[@]}" -j "$jobs" \
    --txt "$out/files.txt" --json-summary "$out/summary.json" "$build"
cat "$out/files.txt"

# Per-directory table from the JSON summary; exit 1 when one is below the
# minimum.
cov_ok=1
python3 - "$out/summary.json" "$minimum" "${dirs[@]}" <<'EOF' || cov_ok=0
import json, sys

path, minimum, dirs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
files = json.load(open(path))["files"]
rows = []
total_cov = total_all = 0
below = []
for d in dirs:
    cov = sum(f["line_covered"] for f in files if f["filename"].startswith(d + "/"))
    n = sum(f["line_total"] for f in files if f["filename"].startswith(d + "/"))
    total_cov += cov
    total_all += n
    pct = 100.0 * cov / n if n else 0.0
    rows.append((d + "/", cov, n, pct))
    if pct < minimum:
        below.append(d + "/")
rows.append(("total", total_cov, total_all, 100.0 * total_cov / total_all if total_all else 0.0))

print()
print(f"{'directory':<12} {'lines hit':>10} {'lines':>7} {'coverage':>9}")
for name, cov, n, pct in rows:
    print(f"{name:<12} {cov:>10} {n:>7} {pct:>8.1f}%")
if below:
    print(f"coverage: below {minimum:g}% of lines: {' '.join(below)}")
    sys.exit(1)
print(f"coverage: every directory at or above {minimum:g}% of lines")
EOF

echo "coverage: took $(( $(date +%s) - start )) s"
if ((tests_ok == 0)); then
    echo "coverage: some tests failed (see above)" >&2
fi
if ((tests_ok == 0 || cov_ok == 0)); then
    exit 1
fi
