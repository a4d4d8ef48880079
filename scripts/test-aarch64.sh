#!/usr/bin/env bash
# Builds and tests Trefoil for AArch64 (64-bit Arm) on an x86-64 machine, so that the paths
# taken off x86-64 (the portable GEMM kernel, the `aes` crate's keystream, every
# `cfg(not(target_arch = "x86_64"))` branch) are compiled warning-free and give the same results.
#
# The AArch64 standard library comes from `rustup target add` (rustup's download; if that host
# cannot be reached, the script stops and says so). Linking uses Debian's cross gcc and the tests
# run under qemu's user-mode emulation, both installed here from Debian's packages if missing.
# Emulation checks results, not speed. Not part of .ci/run, which must not depend on rustup's
# download host.
#
#   scripts/test-aarch64.sh                  clippy -D warnings, then the mpc-core unit tests
#   scripts/test-aarch64.sh --workspace      ... then every test of mpc-core, mpc-net, mpc-nn and
#                                            mpc-models (about 11 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
    echo "== installing the AArch64 cross gcc and qemu-user (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null
fi
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "== rustup target add aarch64-unknown-linux-gnu"
    if ! timeout 600 rustup target add aarch64-unknown-linux-gnu; then
        echo "error: could not install the AArch64 standard library (rustup target add failed)" >&2
        exit 1
    fi
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
target_dir="${AARCH64_TARGET_DIR:-target/aarch64-cross}"
args=(--target aarch64-unknown-linux-gnu --target-dir "$target_dir")
echo "== cargo clippy (aarch64)"
cargo clippy "${args[@]}" --workspace --all-targets -- -D warnings
if [[ "${1:-}" == "--workspace" ]]; then
    echo "== tests (aarch64, under qemu): mpc-core, mpc-net, mpc-nn, mpc-models"
    cargo test "${args[@]}" --release --workspace --exclude trefoil
else
    echo "== tests (aarch64, under qemu): mpc-core unit tests (PRG and GEMM paths)"
    cargo test "${args[@]}" --release -p mpc-core --lib
fi
