#!/bin/sh
# Checks the cairn CLI's exit codes: 0 for help and version, 2 for usage
# errors.  Usage: test_cli.sh PATH-TO-CAIRN
set -u
cairn=$1
failures=0

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
expect 2 demo --threads 0
expect 2 demo --threads many
expect 2 demo --txns
expect 2 demo --seed -1
expect 2 demo --no-such-option

[ "$failures" -eq 0 ]
