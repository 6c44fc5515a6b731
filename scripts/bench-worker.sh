#!/usr/bin/env bash
# Load test of the edge worker: tokens/s and p50/p99 latency at concurrency 1, 16 and 64 (wrk) against the
# emulator, and upstream calls per token; writes the "## Edge worker" section of docs/benchmarks.md.
# BENCH_SECONDS (15), BENCH_CONCURRENCY (1,16,64), BENCH_WRITE=0 to only print.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

if ! command -v wrk >/dev/null; then
  echo "bench-worker: installing wrk (Debian)" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null; }
fi
if [ ! -x node_modules/.bin/wrangler ] || ! command -v worker-build >/dev/null; then
  scripts/setup.sh
fi
cargo build -q --release -p embedgate-emulator
scripts/build-worker.sh
EMULATOR_BIN="$CARGO_TARGET_DIR/release/pbi-emulator" node scripts/bench-worker.mjs
