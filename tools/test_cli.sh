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
# Like expect, and the output (stdout and stderr) must match the extended
# regular expression PATTERN.  Usage: expect_out STATUS PATTERN ARGS...
expect_out() {
    want=$1
    pattern=$2
    shift 2
    out=$("$cairn" "$@" 2>&1)
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: cairn $* exited $got, expected $want"
        failures=$((failures + 1))
    elif ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
        echo "FAIL: cairn $* does not print /$pattern/; it printed:"
        printf '%s\n' "$out" | head -n 20
        failures=$((failures + 1))
    else
        echo "ok: cairn $* exited $got and prints /$pattern/"
    fi
}

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

# recover and checkpoint on a database prepared by a durable demo.
p="$tmp/prepared"
expect 0 demo "$p" --agents 2 --steps 100 --durability sync --seed 5
expect_out 0 'usage: cairn recover' recover --help
expect_out 0 'usage: cairn checkpoint' checkpoint --help
expect_out 0 'usage: cairn recover' help recover
expect 2 recover
expect 2 recover "$p" --no-such-option
expect 2 recover "$p" extra
expect 2 checkpoint
expect 2 checkpoint "$p" --dry-run
expect 3 recover "$tmp/missing"
expect 3 recover "$tmp/missing" --dry-run
expect 3 checkpoint "$tmp/missing"
if [ -e "$tmp/missing" ]; then
    echo "FAIL: recover or checkpoint created a database in a missing directory"
    failures=$((failures + 1))
fi
wal_before=$(ls -l "$p/wal")
expect_out 0 'dry run: nothing changed' recover "$p" --dry-run
expect_out 0 'checkpoint +none' recover "$p" --dry-run
expect_out 0 'records replayed +[1-9][0-9]*' recover "$p" --dry-run
expect_out 0 'torn tail +none' recover "$p" --dry-run
expect_out 0 'took +[0-9]+ us' recover "$p" --dry-run
if [ "$(ls -l "$p/wal")" != "$wal_before" ] || ls "$p" | grep -q '\.ckpt$'; then
    echo "FAIL: recover --dry-run changed the database"
    failures=$((failures + 1))
else
    echo "ok: recover --dry-run changes nothing"
fi
expect_out 0 '"records_replayed":[1-9]' recover "$p" --json
expect_out 0 'checkpoint version [1-9][0-9]* \(previous 0\)' checkpoint "$p"
if ls "$p" | grep -q '\.ckpt$'; then
    echo "ok: checkpoint wrote a checkpoint file"
else
    echo "FAIL: checkpoint wrote no checkpoint file"
    failures=$((failures + 1))
fi
expect_out 0 'wal after +[0-9]+ bytes' checkpoint "$p"
expect_out 0 '"checkpoint_version":[1-9]' checkpoint "$p" --json
# After the checkpoint, recovery starts from it and replays nothing.
expect_out 0 'checkpoint +.*\.ckpt \(version [1-9]' recover "$p"
expect_out 0 'records replayed +0$' recover "$p"
expect 0 verify "$p"

# runs: the table, its filters and paging.
expect_out 0 'usage: cairn runs' runs --help
expect 2 runs
expect 2 runs "$p" --status sometimes
expect 2 runs "$p" --status
expect 2 runs "$p" --tag ""
expect 2 runs "$p" --page 0
expect 2 runs "$p" --no-such-option
expect 3 runs "$tmp/missing"
expect_out 0 '^ID +NAME +STATUS +PARENT +CREATED +TAGS$' runs "$p"
expect_out 0 '^[0-9a-f-]{36} +- +(active|paused|completed|failed|cancelled) +- +20[0-9-]{8}T' runs "$p"
expect_out 0 ' agent-1$' runs "$p"
expect_out 0 '^[0-9a-f-]{36} +- +[a-z]+ +[0-9a-f-]{36} ' runs "$p"
total=$("$cairn" runs "$p" | sed -n 's/^\([0-9]*\) runs*$/\1/p')
json_total=$("$cairn" runs "$p" --json | grep -c '^{"id":"[0-9a-f-]\{36\}",.*"status":"[a-z]*".*"tags":\["agent-[01]"\]')
if [ -n "$total" ] && [ "$total" -ge 2 ] && [ "$json_total" -eq "$total" ]; then
    echo "ok: runs lists $total runs, as text and as JSON Lines"
else
    echo "FAIL: runs lists '$total' runs as text and $json_total as JSON Lines"
    failures=$((failures + 1))
fi
if [ "$("$cairn" runs "$p" --page 1)" = "$("$cairn" runs "$p")" ]; then
    echo "ok: runs pages through the run index"
else
    echo "FAIL: runs --page 1 lists other runs than one big page"
    failures=$((failures + 1))
fi
by_tag=0
for tag in agent-0 agent-1; do
    n=$("$cairn" runs "$p" --tag "$tag" --page 1 --json | grep -c "\"tags\":\[\"$tag\"\]")
    all=$("$cairn" runs "$p" --tag "$tag" --json | wc -l)
    [ "$n" -eq "$all" ] || by_tag=-1000
    by_tag=$((by_tag + n))
done
by_status=0
for st in active paused completed failed cancelled archived; do
    n=$("$cairn" runs "$p" --status "$st" --page 2 --json | grep -c "\"status\":\"$st\"")
    all=$("$cairn" runs "$p" --status "$st" --json | wc -l)
    [ "$n" -eq "$all" ] || by_status=-1000
    by_status=$((by_status + n))
    for tag in agent-0 agent-1; do
        both=$("$cairn" runs "$p" --status "$st" --tag "$tag" --json | wc -l)
        want=$("$cairn" runs "$p" --status "$st" --json | grep -c "\"$tag\"")
        [ "$both" -eq "$want" ] || by_status=-1000
    done
done
if [ "$by_tag" -eq "$total" ] && [ "$by_status" -eq "$total" ]; then
    echo "ok: runs --status and --tag partition the runs"
else
    echo "FAIL: runs by tag ($by_tag) or by status ($by_status) do not add up to $total"
    failures=$((failures + 1))
fi

# dump: one run's contents, as text and JSON Lines.
run=$("$cairn" runs "$p" --json | head -n 1 | sed 's/^{"id":"\([0-9a-f-]*\)".*/\1/')
expect_out 0 'usage: cairn dump' dump --help
expect 2 dump
expect 2 dump "$p"
expect 2 dump "$p" --run
expect 2 dump "$p" --run not-a-run-id
expect 2 dump "$p" --run "$run" --no-such-option
expect 2 dump "$p" "$p" --run "$run"
expect 3 dump "$tmp/missing" --run "$run"
expect_out 1 "no run 00000000-0000-7000-8000-000000000000" \
    dump "$p" --run 00000000-0000-7000-8000-000000000000
expect_out 0 "^run $run status [a-z]+ parent - created 20" dump "$p" --run "$run"
expect_out 0 '^kv memory/topic-[0-9]+ = [a-z]+$' dump "$p" --run "$run" --kv
expect_out 0 '^event 0 20[^ ]+ tool_call_started [a-z]+ hash [0-9a-f]{16}$' \
    dump "$p" --run "$run" --events
expect_out 0 '^cell [^ ]+ v[1-9][0-9]* 20[^ ]+ = ' dump "$p" --run "$run" --cells
expect_out 0 '^trace [^ ]+ tool_call [a-z]+ [^ ]+ 20[^ ]+\.\.20[^ ]+ parent [^-]' \
    dump "$p" --run "$run" --traces
expect_out 0 '^tree [^ ]+ thought ' dump "$p" --run "$run" --tree
expect_out 0 '^tree   [^ ]+ tool_call ' dump "$p" --run "$run" --tree
expect_out 0 '^\{"kind":"event","run":"'"$run"'","seq":0,.*"hash":"[0-9a-f]{64}"\}$' \
    dump "$p" --run "$run" --events --json
expect_out 0 '^\{"kind":"tree",.*"depth":1,"type":"tool_call"' dump "$p" --run "$run" --tree --json
expect_out 0 '"id_encoding":"(utf8|base64)"' dump "$p" --run "$run" --traces --json
expect_out 0 '"value_encoding":"utf8"' dump "$p" --run "$run" --kv --json
# Everything by default; counts agree with verify's.
"$cairn" dump "$p" --run "$run" >"$tmp/dump.txt"
"$cairn" dump "$p" --run "$run" --json >"$tmp/dump.json"
want_events=$("$cairn" verify "$p" --run "$run" --json | sed 's/.*"events":\([0-9]*\).*/\1/')
want_traces=$("$cairn" verify "$p" --run "$run" --json | sed 's/.*"traces":\([0-9]*\).*/\1/')
ok=1
for kind in run kv event cell trace tree; do
    n=$(grep -c "^$kind " "$tmp/dump.txt")
    j=$(grep -c "^{\"kind\":\"$kind\"" "$tmp/dump.json")
    [ "$n" -ge 1 ] && [ "$n" -eq "$j" ] || ok=0
done
[ "$(grep -c '^event ' "$tmp/dump.txt")" -eq "$want_events" ] || ok=0
[ "$(grep -c '^trace ' "$tmp/dump.txt")" -eq "$want_traces" ] || ok=0
[ "$(grep -c '^tree ' "$tmp/dump.txt")" -eq "$want_traces" ] || ok=0
[ "$(grep -vc '^{"kind":"[a-z]*","run":"'"$run"'",.*}$' "$tmp/dump.json")" -eq 0 ] || ok=0
if [ "$ok" -eq 1 ]; then
    echo "ok: dump prints every section, $want_events events and $want_traces traces"
else
    echo "FAIL: dump's sections or counts are wrong (want $want_events events, $want_traces traces)"
    failures=$((failures + 1))
fi

# A torn record at the end of the log: recover --dry-run reports it and
# leaves it; recover cuts it off.
torn="$tmp/torn"
expect 0 demo "$torn" --agents 1 --steps 10 --durability sync --seed 9
cp -r "$torn" "$tmp/measure"
end=$("$cairn" checkpoint "$tmp/measure" --json | sed 's/.*"wal_bytes_before":\([0-9]*\).*/\1/')
seg=$(ls "$torn/wal" | tail -n 1)
printf '\060\000\000\000\253\253\253\253\253\253\253\253\253\253\253\253' |
    dd of="$torn/wal/$seg" bs=1 seek="$end" conv=notrunc 2>/dev/null
expect_out 0 'torn tail +[1-9][0-9]* bytes at .* \(left in place\)' recover "$torn" --dry-run
expect_out 0 'torn tail +[1-9][0-9]* bytes at .* \(left in place\)' recover "$torn" --dry-run
expect_out 0 'torn tail +[1-9][0-9]* bytes at .* \(truncated\)' recover "$torn"
expect_out 0 'bytes truncated +0$' recover "$torn"
expect_out 0 'torn tail +none' recover "$torn" --dry-run
expect 0 verify "$torn"

[ "$failures" -eq 0 ]
