#!/bin/sh
# Checks the cairn CLI's exit codes: 0 for help, version and a verified
# database, 1 for a problem found, 2 for usage errors, 3 for a database that
# cannot be opened.  Usage: test_cli.sh PATH-TO-CAIRN [PATH-TO-TEST_TAMPER]
set -u
cairn=$1
tamper=${2:-}
failures=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

expect() {
    want=$1
    shift
    "$cairn" "$@" >/dev/null 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: cairn $* exited $got, expected $want"
        failures=$((failures + 1))
    else
        echo "ok: cairn $* exited $got"
    fi
}

expect 0 --help
expect 0 help
expect 0 help demo
expect 0 version
expect 0 version --help
expect 0 demo --help
expect 0 help --help
expect 2
expect 2 no-such-command
expect 2 help no-such-command
expect 2 version extra
expect 0 help verify
expect 0 help stats
expect 0 verify --help
expect 0 stats --help
expect 2 demo --agents 0
expect 2 demo --agents many
expect 2 demo --steps
expect 2 demo --seed -1
expect 2 demo --no-such-option
expect 2 demo --durability sometimes "$tmp/db"
expect 2 demo --durability sync
expect 2 demo "$tmp/db" "$tmp/other"
expect 2 verify
expect 2 verify "$tmp/db" --run not-a-run-id
expect 2 verify "$tmp/db" --no-such-option
expect 2 stats
expect 2 stats "$tmp/db" extra
expect 3 verify "$tmp/missing"
expect 3 stats "$tmp/missing"

# The demo without a directory runs in memory and verifies.
expect 0 demo --agents 2 --steps 50

# A durable demo, then the read-only tools on what it left.
expect 0 demo "$tmp/db" --agents 2 --steps 200 --durability sync --seed 3 \
    --ack-file "$tmp/acks"
expect 0 verify "$tmp/db"
expect 0 verify "$tmp/db" --json
expect 0 stats "$tmp/db"
expect 0 stats "$tmp/db" --json
first_run=$(head -n 1 "$tmp/acks" | cut -d ' ' -f 1)
expect 0 verify "$tmp/db" --run "$first_run"
acks=$(wc -l <"$tmp/acks")
if [ "$acks" -ne 800 ]; then
    echo "FAIL: the ack file holds $acks lines, expected 800 (2 agents x 200 steps x 2 events)"
    failures=$((failures + 1))
else
    echo "ok: the ack file holds one line per acknowledged event"
fi
# A second demo on the same directory adds to it.
expect 0 demo "$tmp/db" --agents 3 --steps 20 --durability async
expect 0 verify "$tmp/db"

# A damaged event: verify exits 1 and names the run and the event.
if [ -n "$tamper" ]; then
    if "$tamper" "$tmp/db" "$first_run" 2; then
        expect 1 verify "$tmp/db"
        expect 1 verify "$tmp/db" --run "$first_run" --json
        if "$cairn" verify "$tmp/db" 2>&1 | grep -q "problem: events: run $first_run at event 2"; then
            echo "ok: verify locates the damaged event"
        else
            echo "FAIL: verify does not name run $first_run, event 2"
            failures=$((failures + 1))
        fi
    else
        echo "FAIL: could not damage an event"
        failures=$((failures + 1))
    fi
fi

[ "$failures" -eq 0 ]
