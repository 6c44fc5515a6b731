#!/usr/bin/env bash
# Everything issue 3 tests, quiet on success apart from the summaries:
#   1. the generated types are up to date (wasm schema from the Rust types, TS from the schemas)
#   2. native unit tests of the wasm layer
#   3. build www/dist (wasm, wasm-bindgen, wasm-opt, tsc, esbuild)
#   4. the size check
#   5. wasm-bindgen tests of the bindings in node and in headless Chromium
#   6. end-to-end tests of the pages in headless Chromium (playwright-core)
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own target dir by default (no lock contention with the other crates' builds).
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$PWD/target/wasm"
fi
export CARGO_TARGET_DIR
export CARGO_TERM_QUIET=true
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
step() {
  local name=$1
  shift
  if ! "$@" >"$LOG" 2>&1; then
    echo "test-www: $name FAILED" >&2
    cat "$LOG" >&2
    exit 1
  fi
}
summary() { grep -E "$1" "$LOG" | sed "s/^/test-www: $2: /" || true; }

[ -x node_modules/.bin/json2ts ] && command -v chromedriver >/dev/null && command -v wasm-bindgen-test-runner >/dev/null \
  || scripts/setup.sh

step "wasm schema (crates/wasm/schemas/wasm.schema.json) up to date; native unit tests" \
  cargo test -j2 -p embedgate-wasm --lib
summary '^test result' 'native unit tests'
step "TypeScript types (crates/wasm/ts/types.d.ts, packages/embed/src/api.ts) up to date" node scripts/gen-types.mjs --check
step "build (scripts/build-www.sh)" scripts/build-www.sh
step "size check" scripts/check-wasm-size.sh
sed 's/^/test-www: /' "$LOG"

# The runner takes no harness flags: CARGO_TERM_QUIET would hand it --quiet.
unset CARGO_TERM_QUIET
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"
step "wasm-bindgen tests in node" \
  cargo test -j2 --target wasm32-unknown-unknown -p embedgate-wasm --test bindings
summary '^test result' 'wasm-bindgen tests (node)'
step "wasm-bindgen tests in headless Chromium" env WASM_BINDGEN_USE_BROWSER=1 \
  CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
  WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/crates/wasm/webdriver.json" \
  cargo test -j2 --target wasm32-unknown-unknown -p embedgate-wasm --test bindings
summary '^test result' 'wasm-bindgen tests (Chromium)'

step "end-to-end tests (tests/e2e/www.test.mjs)" node --test --test-reporter=spec tests/e2e/www.test.mjs
summary '^ℹ (tests|pass|fail) ' 'e2e'
