#!/usr/bin/env bash
# Fuzzes the core (parse -> validate -> locate -> apply fixes) with cargo-fuzz on nightly.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60). Seeds the corpus with examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (once)" >&2
  cargo install -q cargo-fuzz --locked
fi
mkdir -p fuzz/corpus/check_json
cp -n examples/*.json fuzz/corpus/check_json/ 2>/dev/null || true
cd fuzz
cargo +nightly fuzz run check_json -- -max_total_time="$secs" -max_len=8192 2>&1 | tail -n 5
