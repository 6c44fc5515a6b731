#!/usr/bin/env bash
# Builds the Power BI emulator and runs its end-to-end tests (real powerbi-client SDK in headless Chromium).
# The emulator's Rust tests run with the workspace's `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/powerbi-client ] || [ ! -d node_modules/playwright-core ] || ! command -v chromium >/dev/null; then
  bash scripts/setup.sh
fi
cargo build -q -p embedgate-emulator
export EMULATOR_BIN="${CARGO_TARGET_DIR:-target}/debug/pbi-emulator"
node --test tests/e2e/emulator-sdk.test.mjs
