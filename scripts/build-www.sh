#!/usr/bin/env bash
# Builds the browser validator into www/dist/: the wasm module (cargo, wasm-bindgen --target web,
# wasm-opt -Oz), its TypeScript types (from the JSON Schemas), the type-checked esbuild bundle and
# the static pages. Quiet on success.
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own target dir by default (no lock contention with the other crates' builds).
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$PWD/target/wasm"
fi
export CARGO_TARGET_DIR
export CARGO_TERM_QUIET=true
BIN=node_modules/.bin
DIST=www/dist
PKG=www/pkg
WASM_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
[ -x "$BIN/wasm-opt" ] && [ -x "$BIN/esbuild" ] && [ -x "$BIN/json2ts" ] || scripts/setup.sh

# TypeScript types of everything that crosses the boundary, generated from the Rust types' schemas.
node scripts/gen-types.mjs

# Keep the target_features section (wasm-bindgen reads it); wasm-opt drops the names afterwards.
CARGO_PROFILE_RELEASE_STRIP=debuginfo \
  cargo build -j2 --target wasm32-unknown-unknown --release -p embedgate-wasm
rm -rf "$PKG" && mkdir -p "$PKG"
wasm-bindgen --target web --out-dir "$PKG" \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/embedgate_wasm.wasm"

rm -rf "$DIST" && mkdir -p "$DIST"
"$BIN/wasm-opt" -Oz "${WASM_FEATURES[@]}" --strip-debug --strip-producers \
  "$PKG/embedgate_wasm_bg.wasm" -o "$DIST/embedgate_wasm_bg.wasm"

"$BIN/tsc" -p www/tsconfig.json
# One bundle per page (www/src/entries/*.ts): a page loads only its own code beside the module.
"$BIN/esbuild" www/src/entries/*.ts --bundle --format=esm --target=es2022 --minify --sourcemap \
  --log-level=warning --outdir="$DIST" --entry-names='[name]'
# The demo portal: powerbi-client and @embedgate/embed (packages/embed) in one bundle.
"$BIN/esbuild" www/src/portal.ts --bundle --format=esm --target=es2022 --minify --sourcemap \
  --log-level=warning --outfile="$DIST/portal.js"
cp www/static/* "$DIST/"
# The rules page reads the catalog with its docs (not in the module); the scenario schema for editors.
cp docs/rules.json docs/schemas/scenario.schema.json "$DIST/"
