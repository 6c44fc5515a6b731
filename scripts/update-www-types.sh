#!/usr/bin/env bash
# Regenerates the browser module's TypeScript types after a Rust type changed (run it after
# `cargo run -p embedgate-cli -- docs`): crates/wasm/schemas/wasm.schema.json from this layer's shapes
# and the request bodies, then crates/wasm/ts/types.d.ts from all the JSON Schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$PWD/target/wasm"
fi
export CARGO_TARGET_DIR
EMBEDGATE_UPDATE_SCHEMAS=1 cargo test -q -j2 -p embedgate-wasm --lib schema_gen >/dev/null
node scripts/gen-types.mjs
git status --short crates/wasm/schemas crates/wasm/ts
