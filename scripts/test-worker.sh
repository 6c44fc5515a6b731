#!/usr/bin/env bash
# Tests the edge worker: native unit tests of the pure edge and client crates (crates/edge, crates/client) and the worker's
# signature checks, then the end-to-end suites (tests/e2e/worker*.test.mjs) against real workerd
# (wrangler dev, local D1/KV in throwaway directories) and the real emulator binary. Builds what it needs.
# Extra arguments go to `node --test` (e.g. --test-name-pattern=CORS).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/worker-env.sh

echo "test-worker: unit tests (edge, client, worker crypto)" >&2
cargo test -q -p embedgate-edge -p embedgate-client --lib 2>&1 | grep -E "^test result|FAILED|panicked" >&2
cargo test -q -p embedgate-worker 2>&1 | grep -E "^test result|FAILED|panicked" >&2

echo "test-worker: building the emulator and the worker" >&2
cargo build -q --release -p embedgate-emulator
cargo build -q -p embedgate-cli   # `embedgate migrate` for worker-migrate.test.mjs
scripts/build-worker.sh
scripts/build-embed.sh   # the portal library builds on its own (declarations type-checked)
[ -f www/dist/portal.js ] || scripts/build-www.sh   # the demo portal for worker-portal.test.mjs
export EMULATOR_BIN="$CARGO_TARGET_DIR/release/pbi-emulator"

echo "test-worker: end-to-end suites in workerd" >&2
node --test --test-concurrency=1 "$@" tests/e2e/worker*.test.mjs
