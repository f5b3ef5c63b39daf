#!/usr/bin/env bash
# Sets up the machine, builds cairn (release) in build/, and runs the demo.
# Extra arguments go to `cairn demo`, e.g. scripts/demo.sh --agents 8.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh

if [[ ! -f build/meson-private/coredata.dat ]]; then
    rm -rf build
    meson setup build --buildtype=release
fi
ninja -C build -j2

exec build/tools/cairn demo "$@"
