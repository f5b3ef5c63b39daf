#!/bin/sh
# Crash loop: runs `cairn demo --durability sync --forever --ack-file F`,
# kills it with SIGKILL once it has acknowledged a varying number of event
# appends, then checks that `cairn verify` exits 0 and that every
# acknowledged "<run_id> <seq>" in F is still in the database.
# Usage: test_crash.sh PATH-TO-CAIRN [ROUNDS]   (default 20 rounds)
set -u
cairn=$1
rounds=${2:-20}
failures=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-crash.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

lines() {
    if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

round=1
while [ "$round" -le "$rounds" ]; do
    db="$tmp/db$round"
    acks="$tmp/acks$round"
    # Kill after 20..400 acknowledged appends, a different count each round.
    target=$(( (round * 7919) % 381 + 20 ))
    "$cairn" demo "$db" --agents 2 --durability sync --forever --seed "$round" \
        --ack-file "$acks" >/dev/null 2>&1 &
    pid=$!
    polls=0
    while [ "$(lines "$acks")" -lt "$target" ] && [ "$polls" -lt 600 ] &&
        kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
        polls=$((polls + 1))
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null

    if ! "$cairn" verify "$db" >"$tmp/verify.out" 2>&1; then
        echo "FAIL: round $round: cairn verify failed after the kill:"
        cat "$tmp/verify.out"
        failures=$((failures + 1))
        round=$((round + 1))
        continue
    fi
    # The highest acknowledged seq of each run must be within its chain
    # (which verify found contiguous and intact).
    lost=0
    for pair in $(sort -k1,1 -k2,2n "$acks" | awk '{m[$1] = $2} END {for (r in m) print r ":" m[r]}'); do
        run=${pair%%:*}
        seq=${pair#*:}
        have=$("$cairn" verify "$db" --run "$run" --json 2>/dev/null |
            sed -n 's/.*"events":\([0-9]*\).*/\1/p')
        if [ -z "$have" ] || [ "$have" -lt "$seq" ]; then
            echo "FAIL: round $round: run $run acknowledged event $seq, the log holds ${have:-none}"
            lost=1
        fi
    done
    if [ "$lost" -ne 0 ]; then
        failures=$((failures + 1))
    else
        echo "ok: round $round: killed after $(lines "$acks") acknowledged appends, verified"
    fi
    rm -rf "$db"
    round=$((round + 1))
done

[ "$failures" -eq 0 ]
