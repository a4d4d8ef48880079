#!/usr/bin/env bash
# Coverage-guided fuzzing of Trefoil's input parsers with libFuzzer, on stable Rust.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (SECONDS_PER_TARGET 0: build only)
#
# Builds the targets of fuzz/ (a package outside the workspace) with sanitizer-coverage
# instrumentation through the libfuzzer-sys crate (it compiles libFuzzer from its bundled source:
# no nightly toolchain, no cargo-fuzz needed), runs each target for SECONDS_PER_TARGET (default
# 60) from its committed seeds (fuzz/seeds/<target>) plus a working corpus
# ($FUZZ_WORK/corpus/<target>, kept between runs), and prints per target: executions, exec/s,
# coverage (libFuzzer's cov: edges, ft: features), corpus size and crashes. Crash inputs are
# saved as $FUZZ_WORK/artifacts/<target>/crash-* (or leak-, oom-, timeout-). Exits non-zero if any
# target found a crash, an out-of-memory, a timeout or a leak.
#
# Environment: FUZZ_WORK (default /tmp/trefoil-fuzz), FUZZ_TARGET_DIR (default
# target-fuzzbuild next to the repository), FUZZ_JOBS (cargo -j, default 1: a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=${1:-60}
shift || true
ALL_TARGETS=(frame control party_config job_toml csv idx safetensors shares)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
WORK=${FUZZ_WORK:-/tmp/trefoil-fuzz}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/../target-fuzzbuild}
JOBS=${FUZZ_JOBS:-1}
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')

# What the build needs: a C++ compiler for libFuzzer's sources (Debian's g++), nothing else.
if ! command -v c++ >/dev/null 2>&1; then
    echo "== installing g++ (libFuzzer is compiled from the libfuzzer-sys crate's sources)"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq g++; else sudo apt-get install -y -qq g++; fi
fi

# The flags cargo-fuzz passes, minus the nightly-only ones (-Zsanitizer): sanitizer coverage
# (8-bit counters, PC table, comparison tracing) for libFuzzer, and debug assertions and
# overflow checks so that an arithmetic overflow on hostile input is found too.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers"
echo "== building ${#TARGETS[@]} fuzz targets (target dir $CARGO_TARGET_DIR, -j$JOBS)"
bins=()
for t in "${TARGETS[@]}"; do bins+=(--bin "$t"); done
# --target keeps the flags off build scripts and proc macros
(cd fuzz && nice -n 10 cargo build --release --locked -j"$JOBS" --target "$TRIPLE" "${bins[@]}")
BIN="$CARGO_TARGET_DIR/$TRIPLE/release"
if [ "$SECS" = 0 ]; then echo "built in $BIN"; exit 0; fi

mkdir -p "$WORK"
failed=0
rows=()
for t in "${TARGETS[@]}"; do
    corpus="$WORK/corpus/$t"
    art="$WORK/artifacts/$t"
    log="$WORK/$t.log"
    mkdir -p "$corpus" "$art"
    echo "== fuzzing $t for ${SECS}s (log $log)"
    # One allocation above FUZZ_MAX_ALLOC_MB is a finding (fuzz/src/lib.rs; inputs are at most
    # 64 KiB), -rss_limit_mb bounds the whole process, and one input taking over 10 s is a hang.
    # The IDX loader legitimately inflates gzip: 64 KiB can hold about 64 MiB of pixels, which
    # become 8-byte features, so its limits are higher.
    alloc_mb=64 rss_mb=1024
    if [ "$t" = idx ]; then alloc_mb=1024 rss_mb=2560; fi
    set +e
    FUZZ_MAX_ALLOC_MB=$alloc_mb "$BIN/$t" "$corpus" "$ROOT/fuzz/seeds/$t" \
        -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb="$rss_mb" \
        -artifact_prefix="$art/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    crashes=$(find "$art" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        echo "!! $t: libFuzzer exited with $rc; findings in $art:"
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -8 || true
    fi
    rows+=("$(printf '%-13s %12s %8s %6s %7s %7s %8s' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes")")
done

echo
printf '%-13s %12s %8s %6s %7s %7s %8s\n' target executions exec/s cov ft corpus crashes
for r in "${rows[@]}"; do echo "$r"; done
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found problems (see above)"
    exit 1
fi
echo "no crashes"
