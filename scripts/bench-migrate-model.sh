#!/usr/bin/env bash
# The migration's model-based test at scale (crates/cli/tests/migrate_model.rs): SEQUENCES random sequences of
# apply (some killed), verify, rollout, rollback and cleanup with faults between, each checked against the
# invariants after every step. Prints the count, the steps, what they reached and the time.
#   scripts/bench-migrate-model.sh [SEQUENCES]   (default 300; seed from EMBEDGATE_MODEL_SEED, default 1000000)
#   scripts/bench-migrate-model.sh --smoke       (3 sequences: `make test` runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
n="${1:-300}"
[ "$n" = "--smoke" ] && n=3
seed="${EMBEDGATE_MODEL_SEED:-1000000}"
cargo test -q -p embedgate-cli --test migrate_model --no-run 2>/dev/null
start=$(date +%s.%N)
out=$(EMBEDGATE_MODEL_SEQUENCES="$n" EMBEDGATE_MODEL_SEED="$seed" \
  cargo test -q -p embedgate-cli --test migrate_model -- --nocapture 2>&1) || { echo "$out" | tail -40; exit 1; }
end=$(date +%s.%N)
line=$(echo "$out" | grep '^model:')
awk -v l="$line" -v s="$seed" -v a="$start" -v b="$end" 'BEGIN { printf "%s (seed %s, %.0f s)\n", l, s, b - a }'
