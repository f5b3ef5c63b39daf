#!/bin/sh
# Smoke test for cairn-bench: a --quick run must finish and write a JSON
# file that parses back with the expected shape.  Nothing here looks at
# the numbers.
#   usage: smoke.sh CAIRN_BENCH OUT.json
set -eu
bench=$1
out=$2
rm -f "$out"
"$bench" --quick --json "$out"
"$bench" --check-json "$out"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and d, "expected a non-empty JSON array"
keys = {"workload", "engine", "durability", "threads", "ops", "seconds",
        "ops_per_sec", "p50_us", "p99_us", "p999_us", "rss_bytes"}
for r in d:
    assert keys <= set(r), "missing fields: %s" % (keys - set(r))
print("python3: %d records" % len(d))
PY
fi
