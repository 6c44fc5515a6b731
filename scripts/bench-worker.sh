#!/usr/bin/env bash
# Load test of the edge worker: tokens/s and p50/p99 latency at concurrency 1, 16 and 64 (wrk) against the
# emulator, and upstream calls per token; writes the "## Edge worker" section of docs/benchmarks.md.
# BENCH_SECONDS (15), BENCH_CONCURRENCY (1,16,64), BENCH_WRITE=0 to only print.
# --before REF: first benches the worker as of git ref REF (a throwaway worktree, same emulator, same machine),
# so the section can show the token/health ratio before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/worker-env.sh

if ! command -v wrk >/dev/null; then
  echo "bench-worker: installing wrk (Debian)" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null; }
fi
cargo build -q --release -p embedgate-emulator
export EMULATOR_BIN="$CARGO_TARGET_DIR/release/pbi-emulator"
if [ "${1:-}" = "--before" ]; then
  ref=${2:?--before needs a git ref}
  # An older checkout's harness always runs wrangler dev with its inspector: both runs do, to compare alike.
  export BENCH_INSPECTOR=1
  tmp=$(mktemp -d)
  wt="$tmp/before"
  git worktree add -q --detach "$wt" "$ref"
  trap 'git worktree remove --force "$wt" 2>/dev/null || true; rm -rf "$tmp"' EXIT
  ln -s "$ROOT/node_modules" "$wt/node_modules"
  cp scripts/bench-worker.mjs "$wt/scripts/bench-worker.mjs"
  echo "bench-worker: benching $ref first (before)" >&2
  # Its own target dir: path crates of two checkouts share cargo unit hashes, so mtimes would mix them up.
  (cd "$wt" && CARGO_TARGET_DIR="$ROOT/target/bench-before" scripts/build-worker.sh && BENCH_WRITE=0 BENCH_LABEL="$ref" BENCH_JSON="$tmp/before.json" node scripts/bench-worker.mjs >/dev/null)
  cp "$tmp/before.json" "$ROOT/target/bench-worker-before.json"
  export BENCH_BEFORE="$ROOT/target/bench-worker-before.json"
fi
scripts/build-worker.sh
BENCH_LABEL="${BENCH_LABEL:-$(git rev-parse --short HEAD)}" node scripts/bench-worker.mjs
