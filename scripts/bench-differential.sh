#!/usr/bin/env bash
# Generated differential run: examples mutated at random, each through the core's check and the
# emulator's GenerateToken (+ report load). Prints one table row per seed: cases, compared, disagreements.
#   scripts/bench-differential.sh [CASES] [SEEDS...]     (defaults: 1000 cases, seeds 1 2 3)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-1000}
shift || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
cargo test -q -p embedgate-emulator --test differential --no-run 2>/dev/null
echo "| seed | cases | compared | disagreements (first 20 kept) |"
echo "|---|---|---|---|"
for seed in "${seeds[@]}"; do
  out=$(DIFF_SEED=$seed DIFF_CASES=$cases cargo test -q -p embedgate-emulator --test differential generated -- --nocapture 2>&1 || true)
  line=$(grep -o "generated differential: .*" <<<"$out" | head -1)
  c=$(sed -E 's/.*: ([0-9]+) cases, ([0-9]+) compared, ([0-9]+) disagreements.*/\1 | \2 | \3/' <<<"$line")
  echo "| $seed | $c |"
  grep -E "^case " <<<"$out" | cut -c1-240 | sed 's/^/    /' >&2 || true
done
