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
# The primitive workloads --quick leaves out, briefly, on every engine.
events=${out%.json}-event.json
rm -f "$events"
"$bench" --workload event-append,event-append-runs,event-read-range,event-read-type,event-verify \
    --durability none --threads 1,2 --seconds 0.1 --warmup 0.02 --keys 2000 --json "$events"
"$bench" --check-json "$events"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$out" "$events" <<'PY'
import json, sys
keys = {"workload", "engine", "durability", "threads", "ops", "seconds",
        "ops_per_sec", "p50_us", "p99_us", "p999_us", "rss_bytes"}
for path in sys.argv[1:]:
    d = json.load(open(path))
    assert isinstance(d, list) and d, "expected a non-empty JSON array"
    for r in d:
        assert keys <= set(r), "missing fields: %s" % (keys - set(r))
    print("python3: %s: %d records" % (path, len(d)))
PY
fi
