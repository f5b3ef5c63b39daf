#!/usr/bin/env bash
# Installs the Debian 12 packages that building cairn, running its tests
# (including the sanitizer builds) and running cairn-bench need.
# Idempotent: when everything is installed it touches nothing, not even the
# package lists.
set -euo pipefail

packages=(
    build-essential     # gcc, make, libc headers
    gcc                 # default compiler; ships the ASan/UBSan/TSan runtimes
    clang               # second compiler the code must build clean with
    libclang-rt-14-dev  # clang's sanitizer and libFuzzer runtimes
    meson
    ninja-build
    pkg-config
    libxxhash-dev       # checksums and hashing
    libssl-dev          # libcrypto: SHA-256 for the event chain
    libcriterion-dev    # unit tests
    librocksdb-dev      # cairn-bench peers
    liblmdb-dev
    libsqlite3-dev
    gnuplot-nox         # benchmark charts
    python3             # JSON checks in tests and bench
    gcovr               # coverage reports
)

is_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup: dpkg-query not found; this script supports Debian 12 (bookworm)" >&2
    exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "setup: all ${#packages[@]} packages already installed"
    exit 0
fi

echo "setup: installing ${missing[*]}"

as_root=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "setup: missing packages (${missing[*]}) and not root, and sudo is not available;" >&2
        echo "setup: run this script as root or install them by hand" >&2
        exit 1
    fi
fi

"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still_missing+=("$pkg")
done
if ((${#still_missing[@]} > 0)); then
    echo "setup: still missing after install: ${still_missing[*]}" >&2
    exit 1
fi
echo "setup: done"
