#!/usr/bin/env bash
# Migration benchmark: `embedgate migrate apply` for 1000 customers against the release emulator at concurrency
# 1, 4 and 16, and with a 429 storm. Prints a markdown table (CUSTOMERS, BENCH_CONCURRENCY override).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
[ -d node_modules ] || scripts/setup.sh
cargo build -q --release -p embedgate-emulator -p embedgate-cli
EMULATOR_BIN="$CARGO_TARGET_DIR/release/pbi-emulator" node scripts/bench-migrate.mjs
